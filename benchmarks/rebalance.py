"""Benchmark: wall time to simulate a consumer group of 100 members forming over 1,000 partitions, per protocol.

Workload (issue 5): 3 brokers, 1 controller, one topic of 1,000 partitions (replication factor 1), no producer. 100
consumers subscribe at the same virtual instant, each with its poll loop running inside the simulation
(:class:`kafkalab.experiments.consumer_app.ConsumerApp`, an idle poll every 100 ms). The clock starts when all 100
have subscribed and stops when the group is stable: every partition is owned (by the rebalance listener's account)
and every member owns ten. Protocols: ``eager`` (classic, range), ``cooperative`` (classic, cooperative-sticky) and
``kip848`` (``group.protocol=consumer``, the broker's uniform assignor). The classic runs include the broker's
``group.initial.rebalance.delay.ms`` (3 s of virtual time), which costs little wall time.

Prints a table (wall seconds, virtual seconds to stable, simulation events), then one JSON line:
{"benchmark": "rebalance", "wall_s_eager": ..., "wall_s_cooperative": ..., "wall_s_kip848": ...}.
``--consumers``/``--partitions`` for other sizes. Wall-clock reads are fine here; the package never reads the clock.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

import kafkalab as kl
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.experiments.consumer_app import ConsumerApp, GroupRecorder
from kafkalab.experiments.rebalance import TOPIC, consumer_config

PROTOCOLS = ("eager", "cooperative", "kip848")


def form_group(protocol: str, consumers: int, partitions: int, seed: int = 0,
               timeout_ms: float = 300_000.0) -> dict[str, Any]:
    """Boot, create the topic, then time (wall and virtual) from every member subscribing to a stable group."""
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed)
    cluster.create_topic(TOPIC, partitions=partitions, replication_factor=1)
    recorder = GroupRecorder(cluster.kernel, [TopicPartition(TOPIC, p) for p in range(partitions)])
    wall0 = time.perf_counter()
    virtual0 = cluster.now
    events0 = cluster.kernel.events_processed
    apps = []
    for i in range(consumers):
        node = f"consumer-{i + 1}"
        app = ConsumerApp(cluster.consumer(consumer_config(protocol, node), node_id=node), recorder,
                          idle_poll_ms=100.0)
        app.subscribe([TOPIC])
        app.start()
        apps.append(app)
    share = partitions // consumers

    def stable() -> bool:
        return recorder.all_owned() and all(len(recorder.owned.get(a.name, ())) >= share for a in apps)

    ok = cluster.run_until(stable, timeout_ms)
    wall = time.perf_counter() - wall0
    if not ok:
        raise RuntimeError(f"{protocol}: the group was not stable after {timeout_ms:.0f} virtual ms "
                           f"({len(recorder.unowned())} partitions unowned)")
    return {"protocol": protocol, "wall_s": wall, "virtual_s": (cluster.now - virtual0) / 1000.0,
            "events": cluster.kernel.events_processed - events0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = [form_group(p, args.consumers, args.partitions, args.seed) for p in PROTOCOLS]
    print(f"{args.consumers} consumers subscribe to {args.partitions} partitions; time until the group is stable")
    print(f"{'protocol':<14}{'wall s':>9}{'virtual s':>11}{'events':>11}")
    for r in results:
        print(f"{r['protocol']:<14}{r['wall_s']:>9.2f}{r['virtual_s']:>11.2f}{r['events']:>11,}")
    print(json.dumps({"benchmark": "rebalance", **{f"wall_s_{r['protocol']}": round(r["wall_s"], 2)
                                                   for r in results}}))


if __name__ == "__main__":
    main()
