"""Benchmark: memory per retained record with the client history on, and memory under log retention (issue 14, target 4).

Two measurements, each in a fresh child process (peak RSS, ``ru_maxrss``, only grows within a process):

* **retained**: ``throughput.py``'s workload (3 brokers, RF 3, 6 partitions, a group of three consumers reading
  everything, history on) with ``--records`` records; peak RSS growth from the booted cluster to the end, per record,
  and the history's own share (``History.memory_bytes``). Target: at most 120 bytes per record.
* **retention**: one producer at ``--rate`` records/s of virtual time (100-byte values, 10,000 keys) into a topic with
  ``retention.ms`` of one minute, for one virtual minute and for ``--minutes`` (10 by default); peak RSS of each
  and their ratio. Target: the long run within 1.3x of the one-minute run and under 1.5 GB at 100,000 records/s
  (``--full``). Settings a user would pick for a one-minute retention: ``segment.ms`` 10 s and ``segment.bytes``
  16 MiB (whichever rolls first: a deleted segment is at most ~10 s of data), ``log.retention.check.interval.ms``
  5 s, so a log keeps at most retention + one segment + one check interval (~75 s). Every broker runs retention.
  With history on the history spills to Parquet beyond ``--spill-events`` events in memory (by default the
  events of 10 virtual seconds, 20 x rate, at most 1,000,000: well inside the retention, so the history in memory
  holds only records the log still has; a temporary directory; ``kl.check.HistorySpill``), since its send rows
  reference the batches' record tuples and would keep them alive after the log deleted them. ``--history`` picks the runs: ``on`` (the cluster's history,
  as every Cluster client has), ``off`` (a producer built without a history: what the logs and the rest of the
  cluster cost) or ``both`` (default).

Prints a table, then one JSON line: {"benchmark": "memory", "bytes_per_record": ..., "history_bytes_per_record":
..., "retention_ratio": ..., ...}. Wall-clock and RSS reads are fine here; the package never reads the clock.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import kafkalab as kl
from kafkalab.clients.producer import KafkaProducer

HERE = Path(__file__).resolve().parent
TOPIC = "mem"
KEYS = 10_000
VALUE_BYTES = 100
STEP_MS = 100
SEGMENT_MS = 10_000
SEGMENT_BYTES = 16 * 2**20
CHECK_INTERVAL_MS = 5_000


def rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux reports KiB


def retained(n: int, seed: int) -> dict[str, Any]:
    """throughput.py's run with ``n`` records; RSS growth and history bytes per record."""
    sys.path.insert(0, str(HERE))
    import throughput  # noqa: PLC0415 - a sibling script, imported only in this child

    r = throughput.run(n, seed)
    grown = (r["peak_rss_mb"] - r["rss_before_mb"]) * 2**20
    return {"records": n, "peak_rss_mb": r["peak_rss_mb"], "rss_before_mb": r["rss_before_mb"],
            "bytes_per_record": grown / n, "history_bytes_per_record": r["history_mb"] * 2**20 / n}


def retention(minutes: float, rate: int, seed: int, history: bool = True,
              spill_events: int = 1_000_000) -> dict[str, Any]:
    """Produce at ``rate`` records per virtual second for ``minutes`` into a topic that keeps one minute
    (``history=False``: the producer records nothing in the cluster's history)."""
    keys = [f"k{i}".encode() for i in range(KEYS)]
    values = [(f"v{i:06d}-".encode() * 20)[:VALUE_BYTES] for i in range(KEYS)]
    spill = kl.check.HistorySpill(max_events=spill_events) if history else None
    cluster = kl.Cluster(brokers=3, controllers=3, seed=seed,
                         config={"log.retention.check.interval.ms": CHECK_INTERVAL_MS}, history_spill=spill)
    cluster.create_topic(TOPIC, partitions=6, replication_factor=3,
                         config={"min.insync.replicas": 2, "retention.ms": 60_000, "segment.ms": SEGMENT_MS,
                                 "segment.bytes": SEGMENT_BYTES},
                         timeout_ms=120_000)
    if history:
        producer = cluster.producer()
    else:
        producer = KafkaProducer({}, world=cluster, bootstrap=list(cluster.brokers), node_id="producer-nohistory",
                                    history=None)
    gc.collect()
    rss0 = rss_bytes()
    per_step = rate * STEP_MS // 1000
    steps = int(minutes * 60_000 // STEP_MS)
    sent = 0
    for _ in range(steps):
        idx = [(sent + i) % KEYS for i in range(per_step)]
        producer.send_many(TOPIC, [values[j] for j in idx], [keys[j] for j in idx])
        sent += per_step
        cluster.run(STEP_MS)
    producer.flush()
    described = cluster.describe_topic(TOPIC)
    spill_dir = cluster.history.spill_dir
    retained_records = 0
    for b in cluster.brokers:
        broker = cluster.broker(b)
        for p in range(6):
            part = broker.rm.partition(TOPIC, p) if broker is not None else None
            if part is not None and part.is_leader:
                retained_records += part.log.log_end_offset - part.log.log_start_offset
    deleted = sum(cluster.broker(b).rm.log_maintenance.segments_deleted for b in cluster.brokers
                  if cluster.broker(b) is not None)
    return {"minutes": minutes, "rate": rate, "history": history, "records": sent,
            "peak_rss_mb": rss_bytes() / 2**20, "rss_before_mb": rss0 / 2**20, "retained_in_log": retained_records,
            "segments_deleted": deleted, "metrics_rows": len(cluster.recorder),
            "high_watermarks": sum(described["high_watermark"]), "history_ops": len(cluster.history),
            "history_mb": cluster.history.memory_bytes() / 2**20,
            "spilled_mb": sum(f.stat().st_size for f in spill_dir.iterdir()) / 2**20 if spill_dir else 0.0,
            "metrics_mb": cluster.recorder.memory_bytes() / 2**20}


def child(args: list[str]) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (its own peak RSS); its JSON result."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000, help="records for the retained measurement")
    parser.add_argument("--rate", type=int, default=2_000, help="records per virtual second under retention")
    parser.add_argument("--minutes", type=float, default=10.0, help="virtual minutes of the long retention run")
    parser.add_argument("--full", action="store_true", help="issue 14's sizes: 1M records retained, 100,000/s")
    parser.add_argument("--history", choices=("on", "off", "both"), default="both",
                        help="retention runs with the producer's history on, off, or both")
    parser.add_argument("--skip-retained", action="store_true", help="only the retention runs")
    parser.add_argument("--spill-events", type=int, default=None,
                        help="history events kept in memory before spilling to Parquet (retention runs, history on; "
                             "default: 20 x rate, at most 1,000,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "retained":
            result = retained(int(rest[0]), args.seed)
        else:
            result = retention(float(rest[0]), int(rest[1]), args.seed, history=rest[2] == "on",
                               spill_events=args.spill_events or 1_000_000)
        print(json.dumps(result))
        return
    records, rate = (1_000_000, 100_000) if args.full else (args.records, args.rate)
    if args.spill_events is None:
        args.spill_events = min(1_000_000, 20 * rate)
    kept = None if args.skip_retained else child(["retained", str(records), "--seed", str(args.seed)])
    modes = ("on", "off") if args.history == "both" else (args.history,)
    runs = {}
    for mode in modes:
        opts = ["--seed", str(args.seed), "--spill-events", str(args.spill_events)]
        short = child(["retention", "1", str(rate), mode, *opts])
        long = child(["retention", str(args.minutes), str(rate), mode, *opts])
        runs[mode] = (short, long, long["peak_rss_mb"] / short["peak_rss_mb"])
    rows = []
    if kept is not None:
        rows += [
            ("retained: records", f"{kept['records']:,}"),
            ("retained: peak RSS MB", f"{kept['peak_rss_mb']:,.0f}"),
            ("retained: RSS growth bytes per record", f"{kept['bytes_per_record']:,.0f}"),
            ("retained: history bytes per record", f"{kept['history_bytes_per_record']:,.0f}"),
        ]
    rows.append((f"retention: records/s, 1 vs {args.minutes:g} virtual min", f"{rate:,}"))
    rows.append(("retention: retention.ms / segment.ms / segment.bytes", f"60,000 / {SEGMENT_MS:,} / {SEGMENT_BYTES:,}"))
    rows.append(("retention: log.retention.check.interval.ms", f"{CHECK_INTERVAL_MS:,}"))
    rows.append(("retention: history spill beyond (events in memory)", f"{args.spill_events:,}"))
    for mode, (short, long, ratio) in runs.items():
        rows += [
            (f"retention, history {mode}: records sent", f"{short['records']:,} / {long['records']:,}"),
            (f"retention, history {mode}: records left in the log", f"{short['retained_in_log']:,} / "
                                                                     f"{long['retained_in_log']:,}"),
            (f"retention, history {mode}: segments deleted", f"{short['segments_deleted']:,} / "
                                                              f"{long['segments_deleted']:,}"),
            (f"retention, history {mode}: history MB in memory", f"{short['history_mb']:,.0f} / "
                                                                  f"{long['history_mb']:,.0f}"),
            (f"retention, history {mode}: history MB spilled", f"{short['spilled_mb']:,.0f} / "
                                                                f"{long['spilled_mb']:,.0f}"),
            (f"retention, history {mode}: metrics rows / MB", f"{long['metrics_rows']:,} / {long['metrics_mb']:,.1f}"),
            (f"retention, history {mode}: peak RSS MB", f"{short['peak_rss_mb']:,.0f} / {long['peak_rss_mb']:,.0f}"),
            (f"retention, history {mode}: ratio long / 1 min", f"{ratio:.2f}"),
        ]
    for name, value in rows:
        print(f"{name:<58}{value:>24}")
    if kept is not None:
        print(f"target <= 120 bytes per retained record: {'met' if kept['bytes_per_record'] <= 120 else 'NOT met'}")
    scale = "" if args.full else " (at --rate " + format(rate, ",") + "/s, not the full 100,000/s)"
    for mode, (_, long, ratio) in runs.items():
        print(f"history {mode}: target ratio <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'}; target < 1.5 GB: "
              f"{'met' if long['peak_rss_mb'] < 1536 else 'NOT met'}{scale}")
    summary: dict[str, Any] = {"benchmark": "memory", "full": args.full, "retention_rate": rate,
                               "retention_minutes": args.minutes, "spill_events": args.spill_events}
    if kept is not None:
        summary.update(records=kept["records"], bytes_per_record=round(kept["bytes_per_record"], 1),
                       history_bytes_per_record=round(kept["history_bytes_per_record"], 1))
    for mode, (short, long, ratio) in runs.items():
        suffix = "" if mode == "on" else "_no_history"
        summary[f"retention_short_rss_mb{suffix}"] = round(short["peak_rss_mb"], 1)
        summary[f"retention_long_rss_mb{suffix}"] = round(long["peak_rss_mb"], 1)
        summary[f"retention_ratio{suffix}"] = round(ratio, 3)
    print(json.dumps(summary))

if __name__ == "__main__":
    main()
