"""A word-count app on a simulated cluster, with an optional instance crash: the scenarios of the runtime tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import kafkalab as kl
from kafkalab import streams as ks
from kafkalab.sim import Tracer
from kafkalab.streams.serdes import serde

WORDS = [f"w{i:03d}" for i in range(40)]


def word_count_topology() -> ks.Topology:
    b = ks.StreamsBuilder()
    (b.stream("lines").flat_map_values(lambda line: line.split()).group_by(lambda k, w: w)
     .count(materialized="counts").to_stream().to("word-counts", value_serde="long"))
    return b.build()


@dataclass
class Run:
    cluster: Any
    app: Any
    reference: dict[str, int]
    outputs: list[tuple[str, int]] = field(default_factory=list)
    trace: str = ""

    def last_output(self) -> dict[str, int]:
        last: dict[str, int] = {}
        for k, v in self.outputs:
            last[k] = v
        return last

    def max_output(self) -> dict[str, int]:
        best: dict[str, int] = {}
        for k, v in self.outputs:
            best[k] = max(best.get(k, 0), v)
        return best


def lines(n: int, seed: int, words: list[str] = WORDS) -> list[str]:
    import random
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(3)) for _ in range(n)]


def run_word_count(seed: int = 0, *, instances: int = 2, threads: int = 1, standbys: int = 0,
                   cache_bytes: int = 10 * 1024 * 1024, commit_ms: int = 1000, n_lines: int = 600,
                   crashes: list[tuple[float, int, float | None]] = (), words: list[str] = WORDS,
                   settle_ms: float = 40_000, guarantee: str = "at_least_once", read_committed: bool = False
                   ) -> Run:
    """Produce ``n_lines`` lines (one every 20 ms) while the app runs; ``crashes``: (at ms after the first line,
    instance index, restart after ms or None). Then let it settle and read the whole output topic."""
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed)
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("lines", partitions=4)
    cluster.create_topic("word-counts", partitions=4)
    app = cluster.streams(word_count_topology(), {
        "application.id": "wc", "default.key.serde": "string", "default.value.serde": "string",
        "commit.interval.ms": commit_ms, "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
        "num.standby.replicas": standbys, "num.stream.threads": threads, "statestore.cache.max.bytes": cache_bytes,
        "processing.guarantee": guarantee,
    }, instances=instances)
    cluster.run_until(lambda: app.state() == "RUNNING", 60_000)
    producer = cluster.producer({"linger.ms": 5})
    reference: dict[str, int] = {}
    start = cluster.now
    pending = sorted(crashes)
    for i, line in enumerate(lines(n_lines, seed, words)):
        for w in line.split():
            reference[w] = reference.get(w, 0) + 1
        producer.send("lines", key=f"l{i}", value=line)
        cluster.run(20)
        while pending and cluster.now - start >= pending[0][0]:
            _at, idx, restart_after = pending.pop(0)
            node = app.instances[idx]
            if cluster.is_alive(node):
                cluster.crash(node)
                if restart_after is not None:
                    cluster.kernel.schedule(restart_after, lambda n=node: cluster.restart(n)
                                            if not cluster.is_alive(n) else None)
    producer.flush()
    cluster.run(settle_ms)
    run = Run(cluster, app, reference)
    consumer = cluster.consumer({"auto.offset.reset": "earliest",
                                 "isolation.level": "read_committed" if read_committed else "read_uncommitted"})
    consumer.assign([kl.TopicPartition("word-counts", p) for p in range(4)])
    long = serde("long")
    while True:
        batch = consumer.poll(2000)
        if not batch:
            break
        run.outputs.extend((r.key.decode(), long.deserialize(r.value)) for r in batch)
    run.trace = f"{tracer.digest()} {tracer.count}"
    return run
