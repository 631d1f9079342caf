"""Benchmark: wall time of the partition assignors on a large group, client-side and KIP-848 server-side.

Workload: 10 topics of 100 partitions (1,000 partitions), 100 members subscribed to all of them. Each assignor runs
twice, as a rebalance does: a fresh assignment, then one member leaves and the other 99 come back owning what they
were given (for the client assignors the owned partitions travel the way the member would send them: in
``Subscription.owned_partitions``, or in the user data of the eager ``sticky``). The server-side assignors also run a
heterogeneous group, in which member i subscribes to the first 10 - (i mod 3) topics. The two assignments are timed
together; the tests (tests/clients/test_assignors.py, tests/groups/test_server_assignors.py) check the same results
without a clock, and this took under 2 s per assignor when those tests timed it.

Prints a table (wall seconds per assignor), then one JSON line:
{"benchmark": "assignors", "wall_s_range": ..., ..., "wall_s_server_uniform": ..., ...}.
``--members``/``--topics``/``--partitions`` for other sizes. Wall-clock reads are fine here; the package never
reads the clock.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

from kafkalab.clients.assignors import ASSIGNORS, get_assignor
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.groups.server_assignors import SERVER_ASSIGNORS, MemberSpec
from kafkalab.protocol.group import Subscription


def subscription(name: str, topics: list[str], owned: list[TopicPartition], generation: int) -> Subscription:
    """What a member sends: an eager ``sticky`` member revoked everything, so its owned partitions are in user data."""
    user_data = get_assignor(name).subscription_user_data(topics, owned, generation)
    return Subscription(tuple(topics), user_data, () if name == "sticky" else tuple(owned), generation, None, None)


def time_client(name: str, members: int, counts: dict[str, int]) -> dict[str, Any]:
    topics = sorted(counts)
    assignor = ASSIGNORS[name]
    ids = [f"consumer-{i:03d}" for i in range(members)]
    start = time.perf_counter()
    first = assignor.assign(counts, {m: subscription(name, topics, [], 1) for m in ids})
    second = assignor.assign(counts, {m: subscription(name, topics, sorted(first[m].partitions), 2) for m in ids[1:]})
    wall = time.perf_counter() - start
    return {"assignor": name, "key": name.replace("-", "_"), "wall_s": wall,
            "assigned": sum(len(a.partitions) for a in second.values())}


def time_server(name: str, members: int, counts: dict[str, int], heterogeneous: bool) -> dict[str, Any]:
    names = list(counts)
    subscribed = {f"m{i:03d}": frozenset(names[: len(names) - (i % 3 if heterogeneous else 0)]) for i in range(members)}
    assignor = SERVER_ASSIGNORS[name]
    start = time.perf_counter()
    first = assignor({m: MemberSpec(ts, frozenset()) for m, ts in subscribed.items()}, counts)
    del subscribed["m000"]
    second = assignor({m: MemberSpec(ts, first[m]) for m, ts in subscribed.items()}, counts)
    wall = time.perf_counter() - start
    return {"assignor": f"server {name}" + (" (heterogeneous)" if heterogeneous else ""),
            "key": f"server_{name}" + ("_heterogeneous" if heterogeneous else ""), "wall_s": wall,
            "assigned": sum(len(ps) for ps in second.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--topics", type=int, default=10)
    parser.add_argument("--partitions", type=int, default=100, help="partitions per topic")
    args = parser.parse_args()
    counts = {f"topic-{i}": args.partitions for i in range(args.topics)}
    results = [time_client(name, args.members, counts) for name in sorted(ASSIGNORS)]
    results += [time_server(name, args.members, counts, h) for name in sorted(SERVER_ASSIGNORS) for h in (False, True)]
    print(f"{args.members} members over {args.topics} x {args.partitions} partitions: "
          "a fresh assignment, then one member leaves")
    print(f"{'assignor':<34}{'wall s':>9}{'assigned':>10}")
    for r in results:
        print(f"{r['assignor']:<34}{r['wall_s']:>9.3f}{r['assigned']:>10,}")
    print(json.dumps({"benchmark": "assignors", **{f"wall_s_{r['key']}": round(r["wall_s"], 3) for r in results}}))


if __name__ == "__main__":
    main()
