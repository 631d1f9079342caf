"""Failover and durability experiments: documented columns, determinism per seed, the expected shapes, error paths."""
import math
import os
import subprocess
import sys

import pandas as pd
import pytest

import kafkalab as kl
from kafkalab.experiments import failover as fo


@pytest.fixture(scope="module")
def trials():
    """Two seeds of every failover scenario (about a second of wall time)."""
    return fo.failover(seeds=[0, 1])


# -- (a) failover ------------------------------------------------------------------------------------------------------
def test_failover_returns_the_documented_columns_and_parts_add_up(trials):
    assert list(trials.columns) == list(fo.FAILOVER_COLUMNS)
    assert list(trials["scenario"].unique()) == list(fo.SCENARIOS)
    assert trials["unavailable_ms"].notna().all()
    parts = trials[list(fo.PART_COLUMNS)]
    assert (parts >= 0).all().all()
    assert ((parts.sum(axis=1) - trials["unavailable_ms"]).abs() < 1e-6).all()
    assert (trials["new_leader"] != trials["old_leader"]).all()
    long = fo.failover_parts(trials)
    assert list(long.columns) == ["scenario", "seed", "part", "ms"]
    assert set(long["part"]) == {"before_fault", "detection", "election", "propagation", "client"}


def test_failover_is_deterministic_per_seed_and_seeds_differ():
    a = fo.failover_trial(3, fault="crash", session_timeout_ms=3000, heartbeat_interval_ms=1000)
    b = fo.failover_trial(3, fault="crash", session_timeout_ms=3000, heartbeat_interval_ms=1000)
    c = fo.failover_trial(4, fault="crash", session_timeout_ms=3000, heartbeat_interval_ms=1000)
    pd.testing.assert_frame_equal(a, b)
    assert a["unavailable_ms"][0] != c["unavailable_ms"][0]


def test_failover_and_durability_do_not_depend_on_pythonhashseed():
    script = ("from kafkalab.experiments import failover as fo; "
              "print(fo.failover_trial(2, fault='isolate', session_timeout_ms=3000, heartbeat_interval_ms=1000)"
              ".to_json()); print(fo.durability_trial('1', 1, True, 'isr_shrink', seed=2).to_json())")
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": hashseed}).stdout for hashseed in ("1", "2")}
    assert len(outputs) == 1


def test_detection_follows_the_session_timeout(trials):
    """The controller fences a silent broker between session - heartbeat and session ms after its last heartbeat."""
    for scenario, (low, high) in {"crash, default 9 s session": (7000, 9100),
                                  "crash, tuned 3 s session": (2000, 3100)}.items():
        detection = trials.loc[trials["scenario"] == scenario, "detection_ms"]
        assert detection.between(low, high).all(), (scenario, detection.tolist())


def test_tuned_session_timeout_shortens_the_window_and_controlled_shutdown_much_more(trials):
    median = trials.groupby("scenario")["unavailable_ms"].median()
    default, tuned = median["crash, default 9 s session"], median["crash, tuned 3 s session"]
    controlled = median["controlled shutdown"]
    assert tuned < default - 4000
    assert controlled < 1000 < tuned
    shutdown = trials[trials["scenario"] == "controlled shutdown"]
    assert (shutdown["detection_ms"] < 500).all()        # no session timeout: the broker asked to leave


def test_summary_has_one_row_per_scenario(trials):
    summary = fo.failover_summary(trials)
    assert list(summary["scenario"]) == list(fo.SCENARIOS)
    assert (summary["trials"] == 2).all()
    assert {"median_ms", "median_detection_ms", "median_client_ms"} <= set(summary.columns)


def test_replica_timeline_samples_every_replica():
    line_holder = {}

    def attach(cluster, line):
        line_holder["line"] = line
        cluster.kernel.repeat(100.0, lambda: (line.sample(cluster.now), 100.0)[1])

    fo.failover_trial(0, fault="crash", session_timeout_ms=3000, heartbeat_interval_ms=1000,
                      timeline=fo.ReplicaTimeline, on_cluster=attach)
    frame = line_holder["line"].to_frame()
    assert list(frame.columns) == ["time_ms", "broker", "log_end_offset", "high_watermark", "isr_size", "leader"]
    assert sorted(frame["broker"].unique()) == [1, 2, 3]
    assert frame["isr_size"].max() == 3 and frame["isr_size"].min() == 2   # the crashed leader leaves the ISR
    labels = [label for _, label in line_holder["line"].marks]
    assert labels[0].startswith("crash") and labels[1].endswith("elected")


@pytest.mark.parametrize("kwargs, error, message", [
    ({"fault": "reboot"}, ValueError, "fault must be one of 'crash', 'isolate', 'controlled_shutdown'; got 'reboot'"),
    ({"session_timeout_ms": 0}, ValueError, "session_timeout_ms must be a positive number of milliseconds, got 0"),
    ({"session_timeout_ms": 2000, "heartbeat_interval_ms": 2000}, ValueError,
     r"heartbeat_interval_ms \(2000\) must be below session_timeout_ms \(2000\)"),
    ({"request_timeout_ms": "1s"}, ValueError, "request_timeout_ms must be a positive number of milliseconds"),
])
def test_failover_bad_arguments_raise_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        fo.failover_trial(0, **kwargs)


def test_failover_sweep_bad_arguments():
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence of ints, got \\[\\]"):
        fo.failover(seeds=[])
    with pytest.raises(ValueError, match="scenarios must name at least one scenario"):
        fo.failover(seeds=[0], scenarios={})
    with pytest.raises(ValueError, match="not a failover frame: missing columns"):
        fo.failover_parts(pd.DataFrame({"scenario": ["x"]}))


# -- (b) durability ----------------------------------------------------------------------------------------------------
def test_durability_row_has_the_documented_columns_and_is_deterministic():
    a = fo.durability_trial("1", 2, False, "isolation", seed=0)
    b = fo.durability_trial(1, 2, False, "isolation", seed=0)
    assert list(a.columns) == list(fo.DURABILITY_COLUMNS)
    pd.testing.assert_frame_equal(a, b)
    assert a["acks"][0] == "1" and a["acknowledged"][0] > 0


def test_acks_1_loses_acknowledged_writes_under_leader_isolation():
    row = fo.durability_trial("1", 2, False, "isolation", seed=1).iloc[0]
    assert row["lost"] > 0
    assert row["lost_by_checker"] > 0           # the history checker agrees that acknowledged writes vanished


def test_acks_all_min_isr_2_without_unclean_election_loses_nothing_under_isolation_or_isr_shrink():
    for fault in ("isolation", "isr_shrink"):
        row = fo.durability_trial("all", 2, False, fault, seed=1).iloc[0]
        assert row["lost"] == 0 and row["duplicates"] == 0 and row["lost_by_checker"] == 0, fault
        assert row["acknowledged"] > 100


def test_unclean_election_after_isr_shrink_loses_acknowledged_writes_with_min_isr_1():
    """Jepsen 2013: the ISR shrinks to the leader alone, it dies, an out-of-sync replica is elected."""
    clean = fo.durability_trial("all", 1, False, "isr_shrink", seed=2).iloc[0]
    unclean = fo.durability_trial("all", 1, True, "isr_shrink", seed=2).iloc[0]
    assert clean["lost"] == 0 and unclean["lost"] > 0
    assert clean["unavailable_ms"] > unclean["unavailable_ms"]   # the price of waiting for the last ISR member


def test_power_loss_of_the_last_isr_members_loses_writes_even_with_acks_all_min_isr_2():
    row = fo.durability_trial("all", 2, False, "power_loss", seed=0).iloc[0]
    assert row["lost"] > 0 and row["duplicates"] == 0


def test_durability_matrix_and_summary_shapes():
    frame = fo.durability_matrix([0], acks=["1"], min_isr=[2], unclean=[False], faults=["isolation"], elr=[1])
    assert len(frame) == 1 and list(frame.columns) == list(fo.DURABILITY_COLUMNS)
    summary = fo.durability_summary(frame)
    assert summary.index.names == ["acks", "min_isr", "unclean"] and list(summary.columns) == [("isolation", 1)]
    old = frame.drop(columns=["elr"])                # data written before the ELR column: one column per fault
    assert list(fo.durability_summary(old).columns) == ["isolation"]


def test_elr_bad_level_raises_a_clear_error():
    with pytest.raises(ValueError, match="elr must be one of 0, 1; got 2"):
        fo.durability_trial("all", 2, False, "isolation", elr=2)


def test_kip_966_power_loss_of_the_last_isr_member_loses_acks_all_writes_only_without_elr():
    """The same seed and schedule: the leader alone is the ISR (below min ISR 2) when it loses power."""
    off = fo.durability_trial("all", 2, False, "last_isr_power_loss", seed=0, elr=0).iloc[0]
    on = fo.durability_trial("all", 2, False, "last_isr_power_loss", seed=0, elr=1).iloc[0]
    assert (off["lost"], off["lost_by_checker"]) == (68, 68)
    assert (on["lost"], on["lost_by_checker"], on["duplicates"]) == (0, 0, 0)


def test_acks_0_writes_are_counted_apart_from_acknowledged_ones():
    row = fo.durability_trial("0", 2, False, "isolation", seed=1).iloc[0]
    assert (row["acknowledged"], row["lost"], row["lost_by_checker"]) == (0, 0, 0)
    assert row["unacknowledged"] > 0 and row["unacknowledged_missing"] > 0
    assert row["unacknowledged"] - row["unacknowledged_missing"] <= row["final_log_size"]


@pytest.mark.parametrize("args, message", [
    (("2", 2, False, "isolation"), "acks must be one of '0', '1', 'all'; got '2'"),
    (("all", 3, False, "isolation"), "min_isr must be one of 1, 2; got 3"),
    (("all", 2, "yes", "isolation"), "unclean must be one of False, True; got 'yes'"),
    (("all", 2, False, "flood"), "fault must be one of 'isolation', 'isr_shrink', 'power_loss', "
                                 "'last_isr_power_loss'; got 'flood'"),
])
def test_durability_bad_arguments_raise_clear_errors(args, message):
    with pytest.raises(ValueError, match=message):
        fo.durability_trial(*args)


def test_durability_matrix_rejects_empty_axes():
    with pytest.raises(ValueError, match="needs at least one value"):
        fo.durability_matrix([0], faults=[])
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence of ints"):
        fo.durability_matrix(["0"])


# -- a fidelity gap found while building the matrix ---------------------------------------------------------------------
def test_acks_0_producer_follows_a_leader_change():
    """Kafka's KafkaApis.handleProduceRequest closes the connection when an acks=0 request had an error, which makes
    the client refresh metadata and find the new leader."""
    cluster = kl.Cluster(seed=0)
    cluster.create_topic("t", partitions=1, replication_factor=3)
    producer = cluster.producer({"acks": "0", "linger.ms": 0})
    producer.send("t", value="before").result()
    cluster.run(1_000)                                            # replicated everywhere
    old = cluster.leader_for("t", 0)
    cluster.isolate(old)
    assert cluster.run_until(lambda: cluster.leader_for("t", 0) not in (None, old), 30_000)
    cluster.heal()
    cluster.run(5_000)                                            # the old leader learns it follows now
    for i in range(20):
        producer.send("t", value=f"after-{i}")
        cluster.run(500)
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("t", 0)])
    values = []
    for _ in range(10):
        values += [r.value for r in consumer.poll(300)]
    assert values[:1] == [b"before"]                              # the reader works; the writes after are missing
    assert b"after-19" in values


def test_window_definition_on_a_hand_made_sequence():
    # acks every 10 ms, a straggler just after the fault at 100, then silence until 900
    acks = [0.0, 10.0, 20.0, 90.0, 100.5, 900.0, 910.0]
    assert fo._window(acks, 100.0) == (100.5, 900.0)
    start, end = fo._window([0.0, 10.0], 50.0)
    assert math.isnan(start) and math.isnan(end)


def test_a_retried_batch_goes_to_a_new_leader_without_waiting_its_backoff():
    """Kafka 3.7+ (KIP-951, RecordAccumulator.shouldBackoff(hasLeaderChanged, ...)) skips the rest of a retried
    batch's backoff once the partition's leader epoch changed, so the retry goes to the new leader at once."""
    holder = {}
    row = fo.failover_trial(0, fault="crash", on_cluster=lambda cluster, _line: holder.setdefault("c", cluster)).iloc[0]
    metrics = holder["c"].metrics()
    elected_ms = row["window_end_ms"] - row["client_ms"]             # the new leader acts from here on
    refreshes = metrics[(metrics["node"] == "producer-1") & (metrics["metric"] == "producer.metadata_refresh")
                        & (metrics["time_ms"] > elected_ms)]["time_ms"]
    learnt_ms = refreshes.min()                                        # the first metadata naming the new leader
    assert row["window_end_ms"] - learnt_ms < 50                       # a produce round trip, not a backoff
