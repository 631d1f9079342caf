"""Same seed => the same replication trace and the same logs, in any process under any PYTHONHASHSEED."""
from __future__ import annotations

import os
import subprocess
import sys

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.sim import Tracer
from tests.broker.harness import DataPlane, batch, produce


def scenario_digest(seed: int) -> str:
    dp = DataPlane(seed=seed, config={"replica.lag.time.max.ms": 1000})
    tracer = Tracer(dp.world.kernel)
    dp.create_topic("t", [(1, 2, 3), (2, 3, 1), (3, 1, 2)])
    rng = dp.world.kernel.rng("test/ops")
    for step in range(60):
        p = rng.randrange(3)
        dp.request(1 + p, lambda c, p=p: produce({TopicPartition("t", p): batch(1 + rng.randrange(3))},
                                                 rng.choice([1, -1]), 2_000, c))
        if step % 15 == 7:
            dp.world.pause(1 + rng.randrange(3))
        if step % 15 == 14:
            for b in (1, 2, 3):
                dp.world.resume(b)
        dp.run(rng.uniform(1, 300))
    dp.run(5_000)
    state = [(b, p, dp.partition(b, TopicPartition("t", p)).high_watermark,
              dp.partition(b, TopicPartition("t", p)).log_end_offset) for b in (1, 2, 3) for p in range(3)]
    return f"{tracer.digest()} {tracer.count} {state}"


def test_same_seed_same_trace_and_different_seeds_differ() -> None:
    assert scenario_digest(5) == scenario_digest(5)
    assert scenario_digest(5) != scenario_digest(6)


def test_same_trace_across_processes_with_different_hash_seeds() -> None:
    code = "import tests.broker.test_determinism as t; print(t.scenario_digest(5))"
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    outputs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                              env=dict(os.environ, PYTHONHASHSEED=h)).stdout.strip() for h in ("1", "4242")]
    assert outputs[0] == outputs[1] == scenario_digest(5)
