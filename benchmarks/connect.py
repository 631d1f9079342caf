"""Benchmark: Kafka Connect's records per wall second through source, topic and sink, and rebalance time after a
worker joins and leaves with 20 connectors x 4 tasks (virtual and wall).

Workloads (:mod:`kafkalab.connect.scenarios`): (1) ``DatagenSource`` with 2 tasks, a record every ms each, into a
3-partition topic, read by a ``FileStreamSink`` writing to /dev/null, until the sink has put ``--records`` records
(worker producer as Kafka configures it: acks=all, linger.ms=0, one request in flight); (2) 20 idle source connectors
of 4 tasks on 3 workers with a fourth worker down; it joins (restarted) and, once the assignment is balanced, leaves
(crashed; ``scheduled.rebalance.max.delay.ms=0``, so its work moves as soon as the 10 s session timeout notices):
virtual and wall time until every connector and task runs balanced again, for the cooperative (sessioned) and the
eager protocol.

Prints a table, then one JSON line:
{"benchmark": "connect", "records_per_wall_s": ..., "join_virtual_s_sessioned": ..., ...}.
``--records``, ``--connectors``, ``--tasks`` for other sizes. Wall-clock reads are fine here; the package's runs never
depend on the clock.
"""
from __future__ import annotations

import argparse
import json

from kafkalab.connect.scenarios import join_and_leave, throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--connectors", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=4, help="tasks per connector")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    flow = throughput(args.records, seed=args.seed)
    print(f"source -> topic -> sink: {flow['records']:,} datagen records (2 tasks, 1 record/ms each)")
    print(f"{'records/wall s':>16}{'wall s':>9}{'virtual s':>11}{'streaming s':>13}{'events':>10}")
    print(f"{flow['records_per_wall_s']:>16,.0f}{flow['wall_s']:>9.2f}{flow['virtual_s']:>11.2f}"
          f"{flow['virtual_streaming_s']:>13.2f}{flow['events']:>10,}")
    out = {"benchmark": "connect", "records": flow["records"], "records_per_wall_s": flow["records_per_wall_s"],
           "throughput_wall_s": flow["wall_s"], "throughput_virtual_s": flow["virtual_s"]}
    print()
    print(f"rebalance with {args.connectors} connectors x {args.tasks} tasks on 3 workers, a 4th joins then leaves")
    print(f"{'protocol':<11}{'join virtual s':>15}{'join wall s':>13}{'leave virtual s':>17}{'leave wall s':>14}")
    for protocol in ("sessioned", "eager"):
        r = join_and_leave(args.connectors, args.tasks, seed=args.seed, protocol=protocol)
        print(f"{protocol:<11}{r['join_virtual_s']!s:>15}{r['join_wall_s']:>13.2f}{r['leave_virtual_s']!s:>17}"
              f"{r['leave_wall_s']:>14.2f}")
        for key in ("join_virtual_s", "join_wall_s", "leave_virtual_s", "leave_wall_s"):
            out[f"{key}_{protocol}"] = r[key]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
