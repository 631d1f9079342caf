"""Same seed, same trace: in this process and in fresh interpreters with different PYTHONHASHSEEDs."""
import os
import subprocess
import sys
from pathlib import Path

from kafkalab.raft import RaftCluster
from kafkalab.sim import Tracer

ROOT = Path(__file__).resolve().parents[2]


def scenario_digest(seed: int) -> str:
    """Elections, proposals, a crash with power loss, a partition, a snapshot, an observer: the trace digest."""
    rc = RaftCluster(voters=5, seed=seed, observers=1, trace_messages=True)
    tracer = Tracer(rc.kernel)
    rc.run_until(lambda: rc.leader() is not None, 20_000)
    for i in range(20):
        rc.propose_many([f"{seed}-{i}-{j}".encode() for j in range(3)])
        rc.run(13)
    leader = rc.leader()
    if leader is not None:
        rc.snapshot(leader)
        rc.crash(leader, lose_unflushed=True)
    rc.partition([1, 2], [3, 4, 5])
    rc.run(4_000)
    rc.heal()
    if leader is not None:
        rc.restart(leader)
    rc.run(4_000)
    return f"{tracer.digest()} {tracer.count} {len(rc.committed(3))}"


def test_same_seed_same_trace_in_process():
    assert scenario_digest(3) == scenario_digest(3)


def test_different_seeds_give_different_traces():
    assert scenario_digest(3) != scenario_digest(4)


def test_same_trace_in_subprocesses_with_different_hash_seeds():
    expected = scenario_digest(3)
    code = "from tests.raft.test_determinism import scenario_digest; print(scenario_digest(3))"
    for hash_seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True)
        assert out.stdout.strip() == expected
