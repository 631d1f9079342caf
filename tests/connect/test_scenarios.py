"""The experiments notebook 08 and benchmarks/connect.py run (kafkalab.connect.scenarios), small."""
from kafkalab.connect import scenarios


def test_crash_timeline_delay_zero_moves_the_lost_tasks_and_eager_stops_the_survivors_too():
    timeline, summary = scenarios.crash_timeline("eager", 300_000, seed=1, tasks=3, horizon_ms=40_000)
    assert summary["tasks_lost"] == 1
    assert 10 <= summary["reassigned_after_s"] < 20           # eager ignores the scheduled delay
    assert summary["survivor_tasks_stopped"] == 2             # both survivors' tasks stopped for the rebalance
    assert set(timeline.columns) == {"time_s", "worker", "tasks"}
    assert timeline.groupby("time_s").tasks.sum().iloc[-1] == 3
    _, cooperative = scenarios.crash_timeline("sessioned", 20_000, seed=0)
    # the leader survives here: it keeps the departed worker's tasks unassigned for the delay after noticing
    assert 30 <= cooperative["reassigned_after_s"] < 40 and cooperative["survivor_tasks_stopped"] == 0


def test_join_and_leave_reports_virtual_times():
    r = scenarios.join_and_leave(3, 2, seed=2)
    assert r["tasks"] == 6
    assert r["join_virtual_s"] is not None and r["join_virtual_s"] > 0     # balanced again after the join
    assert 10 <= r["leave_virtual_s"] < 20                    # the session timeout notices the crash


def test_throughput_counts_every_record_through_the_sink():
    r = scenarios.throughput(500, seed=3, interval_ms=5)
    assert r["done"] and r["records"] == 500 and r["virtual_streaming_s"] >= 1.2
