"""Rebalancing experiments: what each protocol does to a consuming group, the ownership metrics, determinism, errors."""
import math

import pandas as pd
import pytest

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.experiments import rebalance as rb
from kafkalab.experiments.consumer_app import GroupRecorder

SMALL = {"consumers": 2, "partitions": 4, "send_interval_ms": 200.0}


def tps(*partitions):
    return [TopicPartition("t", p) for p in partitions]


class FakeKernel:
    now = 0.0


# -- the recorder's arithmetic, on a written-out story ------------------------------------------------------------------
def test_recorder_measures_gaps_stop_the_world_and_moves():
    kernel = FakeKernel()
    rec = GroupRecorder(kernel, tps(0, 1))

    def at(t, action, *args):
        kernel.now = t
        action(*args)
    at(0, rec.started, "a")
    at(0, rec.started, "b")
    at(0, rec.assigned, "a", tps(0, 1))
    assert rec.all_owned()
    at(100, rec.revoked, "a", tps(0, 1))       # eager: everything revoked ...
    assert not rec.all_owned() and rec.unowned() == tps(0, 1)
    at(150, rec.assigned, "a", tps(0))         # ... 50 ms with nothing consumed
    at(160, rec.assigned, "b", tps(1))         # partition 1 moved a -> b after 60 ms without an owner
    at(200, rec.stalled, "b", True)            # b stops polling: partition 1 is not consumed ...
    at(260, rec.stalled, "b", False)           # ... for 60 ms
    at(300, rec.crashed, "a")                  # partition 0 has no consuming owner from here to the end
    m = rec.metrics(50, 400)
    assert m.stop_the_world_ms == 50
    assert m.partitions_moved == 1
    assert m.no_owner_ms_max == 50 + 100        # partition 0: 100-150 and 300-400
    assert m.no_owner_ms_mean == (150 + (60 + 60)) / 2
    assert m.settle_ms == 300 - 50
    assert rec.unowned() == tps(0) and not rec.all_owned()
    rec.add_partitions(tps(2))
    assert rec.unowned() == tps(0, 2)


def test_recorder_counts_records_processed_twice():
    rec = GroupRecorder(FakeKernel(), tps(0))
    rec.process("a", [("t", 0, 0), ("t", 0, 1), ("t", 0, 2)])
    rec.process("b", [("t", 0, 1), ("t", 0, 2), ("t", 0, 3)])
    rec.process("b", [("t", 0, 2)])
    assert rec.duplicates() == 3
    assert rec.processed_count == 7
    assert rec.max_processed[TopicPartition("t", 0)] == 3


# -- the protocols, on a real cluster ---------------------------------------------------------------------------------
def test_static_rolling_restart_within_the_session_timeout_moves_nothing():
    run = rb.rebalance_trial("rolling_restart", "static", 0, horizon_ms=25_000, **SMALL)
    row = run.row.iloc[0]
    assert row.partitions_moved == 0
    assert row.rebalances == 0
    assert row.stop_the_world_ms == 0
    assert row.duplicates == 0              # a graceful stop commits first
    # each member's partitions wait for it: about restart_delay_ms, never more than a few seconds
    assert 2_000 < row.no_owner_ms_max < 4_000


def test_dynamic_rolling_restart_rebalances_twice_per_member():
    row = rb.rebalance_trial("rolling_restart", "eager", 0, horizon_ms=25_000, **SMALL).row.iloc[0]
    assert row.rebalances == 2 * SMALL["consumers"]     # LeaveGroup, then the JoinGroup of the new incarnation
    assert row.stop_the_world_ms > 0


def test_scale_out_eager_stops_the_world_cooperative_does_not_and_moves_only_what_it_must():
    kwargs = {"consumers": 3, "added": 3, "partitions": 12, "horizon_ms": 12_000}
    eager = rb.rebalance_trial("scale_out", "eager", 0, **kwargs).row.iloc[0]
    coop = rb.rebalance_trial("scale_out", "cooperative", 0, **kwargs).row.iloc[0]
    assert eager.stop_the_world_ms > 0
    assert eager.rebalances == 1
    assert coop.stop_the_world_ms == 0
    assert coop.rebalances == 2                          # KIP-429: revoke in the first, hand over in the second
    assert coop.partitions_moved == 6                    # 12 partitions over 6 members: each old member gives 2
    assert eager.partitions_moved >= coop.partitions_moved
    assert eager.duplicates == 0                         # the pre-rebalance commit covers what was processed


def test_kip848_scale_out_converges_without_stopping_anyone():
    run = rb.rebalance_trial("scale_out", "kip848", 0, consumers=3, added=3, partitions=12, horizon_ms=15_000)
    row = run.row.iloc[0]
    assert row.stop_the_world_ms == 0
    assert row.partitions_moved == 6
    members = run.cluster.describe_group(rb.GROUP)["members"]
    assert sorted(len(m["assignment"]) for m in members) == [2] * 6
    assert row.duplicates == 0                           # the new consumer commits before it revokes


@pytest.mark.parametrize("protocol", ["eager", "kip848"])
def test_a_crashed_members_partitions_are_owned_again_after_the_session_timeout(protocol):
    run = rb.rebalance_trial("crash", protocol, 0, horizon_ms=55_000, **SMALL)
    row = run.row.iloc[0]
    events = run.events
    fault = row.fault_ms
    crashed = events[(events.event == "crashed") & (events.time_ms >= fault)].iloc[0]
    lost = crashed.partitions.split(",")
    taken = events[(events.event == "assigned") & (events.time_ms > fault)
                   & events.partitions.apply(lambda p: set(lost) <= set(p.split(",")))]
    assert not taken.empty
    waited = taken.time_ms.iloc[0] - fault
    heartbeat = 3_000 if protocol == "eager" else 5_000
    assert 45_000 - heartbeat - 500 <= waited <= 45_000 + heartbeat + 1_000      # session.timeout.ms = 45 s
    assert row.no_owner_ms_max == pytest.approx(waited, abs=1.0)


def test_a_stuck_dynamic_member_is_thrown_out_and_a_static_one_is_waited_for():
    kwargs = {**SMALL, "horizon_ms": 40_000}
    eager = rb.rebalance_trial("stuck", "eager", 0, **kwargs).row.iloc[0]
    static = rb.rebalance_trial("stuck", "static", 0, **kwargs).row.iloc[0]
    assert eager.partitions_moved > 0
    assert 15_000 <= eager.no_owner_ms_max < 30_000      # max.poll.interval.ms (15 s) + a heartbeat + the rebalance
    assert static.partitions_moved == 0                  # no LeaveGroup from a static member, session not expired
    assert static.no_owner_ms_max == pytest.approx(30_000, abs=100)


def test_growth_kip848_takes_about_a_heartbeat_classic_waits_for_a_metadata_refresh():
    small = {"consumers": 3, "initial": 6, "added": 30, "phase_ms": 0.0}
    kip = rb.growth_trial("kip848", 0, **small).iloc[0]
    assert kip.all_owned_ms <= 5_000 + 1_000             # group.consumer.heartbeat.interval.ms = 5 s
    eager = rb.growth_trial("eager", 0, **small).iloc[0]
    assert eager.first_reaction_ms > 200_000             # the leader's metadata.max.age.ms (5 min) refresh
    assert eager.all_owned_ms - eager.first_reaction_ms < 2_000


# -- frames, determinism, errors ----------------------------------------------------------------------------------------
def test_frames_are_tidy_and_runs_are_deterministic_per_seed():
    kwargs = {**SMALL, "horizon_ms": 8_000}
    a = rb.rebalance_trial("scale_out", "cooperative", 3, **kwargs)
    b = rb.rebalance_trial("scale_out", "cooperative", 3, **kwargs)
    c = rb.rebalance_trial("scale_out", "cooperative", 4, **kwargs)
    assert list(a.row.columns) == list(rb.RUN_COLUMNS)
    assert list(a.lag.columns) == list(rb.LAG_COLUMNS)
    pd.testing.assert_frame_equal(a.row, b.row)
    pd.testing.assert_frame_equal(a.lag, b.lag)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert a.row.fault_ms[0] != c.row.fault_ms[0]        # the fault's phase comes from the seed
    assert (a.lag.committed_lag >= 0).all() and a.lag.time_ms.is_monotonic_increasing


def test_summary_has_one_row_per_scenario_and_protocol():
    runs = pd.DataFrame([{**dict.fromkeys(rb.RUN_COLUMNS, 1.0), "scenario": s, "protocol": p, "seed": seed}
                         for s in ("crash", "stuck") for p in ("eager", "kip848") for seed in (0, 1)])
    table = rb.rebalance_summary(runs)
    assert len(table) == 4 and (table.runs == 2).all()
    assert math.isclose(table.no_owner_s_mean[0], 0.001)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scenario": "scaleout"}, "scenario must be one of 'scale_out', 'rolling_restart', 'crash', 'stuck'; got "
                               "'scaleout'; did you mean 'scale_out'?"),
    ({"protocol": "coperative"}, "protocol must be one of 'eager', 'cooperative', 'static', 'kip848'; got "
                                 "'coperative'; did you mean 'cooperative'?"),
    ({"consumers": 0}, "consumers must be an int >= 1, got 0"),
    ({"partitions": 2.5}, "partitions must be an int >= 1, got 2.5"),
    ({"added": -1}, "added must be an int >= 0, got -1"),
])
def test_bad_arguments_say_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError) as info:
        rb.rebalance_trial(**kwargs)
    assert str(info.value) == message


def test_bad_growth_arguments_and_config_protocol():
    with pytest.raises(ValueError, match="protocol must be one of .*did you mean 'kip848'"):
        rb.growth_trial("kip-848")
    with pytest.raises(ValueError, match="added must be an int >= 1, got 0"):
        rb.growth_trial("kip848", added=0)
    with pytest.raises(ValueError, match="did you mean 'static'"):
        rb.consumer_config("statik", "consumer-1")
    assert rb.consumer_config("static", "consumer-7")["group.instance.id"] == "consumer-7"
    assert "group.instance.id" not in rb.consumer_config("eager", "consumer-7")
