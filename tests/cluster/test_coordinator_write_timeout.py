"""A group coordinator whose writes cannot commit answers after ``offsets.commit.timeout.ms`` (Kafka 4's
``CoordinatorRuntime.OperationTimeout``: REQUEST_TIMED_OUT, which the coordinator maps to COORDINATOR_NOT_AVAILABLE)
and keeps serving the committed state; the timed-out offsets are in the log, so they show once the high watermark
passes them, as a replay of the log would show them.

The story: a simple group commits offset 5; the coordinator's followers of the group's ``__consumer_offsets``
partition are then cut off from it (the controller still hears everyone), so the high watermark is stuck until the
ISR shrinks (``replica.lag.time.max.ms``); an OffsetCommit of 7 sent now is answered 5 s later with
COORDINATOR_NOT_AVAILABLE, and an OffsetFetch still sees 5. After the cut heals, the followers catch up and 7 shows.
"""
from typing import Any

import pytest

import kafkalab as kl
from kafkalab.common.topic_partition import OffsetAndMetadata
from kafkalab.errors import KafkaTimeoutError
from kafkalab.groups.hashing import OFFSETS_TOPIC, partition_for
from kafkalab.groups.records import OFFSET_TAG
from kafkalab.protocol.group import (
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
)

TP = kl.TopicPartition("t", 0)


class Probe:
    """A client node that keeps every message it gets, with its arrival time."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.inbox: list[tuple[float, Any]] = []

    def on_message(self, src: Any, msg: Any) -> None:
        self.inbox.append((self.ctx.now, msg))


def _boot() -> tuple[kl.Cluster, Probe, int, list[int]]:
    cluster = kl.Cluster(seed=7)
    cluster.create_topic("t", partitions=1, replication_factor=3)
    consumer = cluster.consumer({"group.id": "g", "enable.auto.commit": False})
    consumer.assign([TP])
    consumer.commit({TP: 5})                      # creates __consumer_offsets and commits 5
    probes: list[Probe] = []
    cluster.add_node("probe", lambda ctx: probes.append(Probe(ctx)) or probes[-1], server=False)
    coordinator = cluster.group_coordinator("g")
    assert coordinator is not None
    replicas = cluster.replicas(OFFSETS_TOPIC, partition_for("g"))
    followers = sorted(int(b) for b in replicas["broker"] if int(b) != coordinator)
    assert len(followers) == 2
    return cluster, probes[0], coordinator, followers


def _fetch(cluster: kl.Cluster, probe: Probe, coordinator: int, correlation_id: int) -> int:
    probe.ctx.send(coordinator, OffsetFetchRequest("g", (TP,), require_stable=False, correlation_id=correlation_id))
    assert cluster.run_until(lambda: any(getattr(m, "correlation_id", None) == correlation_id
                                         for _, m in probe.inbox), 1_000)
    (answer,) = [m for _, m in probe.inbox if m.correlation_id == correlation_id]
    assert isinstance(answer, OffsetFetchResponse) and answer.error == "NONE"
    return int(answer.offsets[TP].offset)


def _committed_log_offsets(cluster: kl.Cluster, broker: int) -> dict[bytes, Any]:
    """The last value per offset key in the committed part (below the HW) of the coordinator's log."""
    p = cluster.broker(broker).rm.partition(OFFSETS_TOPIC, partition_for("g"))
    last: dict[bytes, Any] = {}
    for batch in p.log.batches():
        for i, (key, value, _ts, _headers) in enumerate(batch.rows):
            if batch.base_offset + i < p.high_watermark and key[:1] == OFFSET_TAG:
                last[key] = value
    return last


def test_a_commit_the_high_watermark_does_not_reach_times_out_after_5_s_and_the_old_offset_stays():
    cluster, probe, coordinator, followers = _boot()
    assert _fetch(cluster, probe, coordinator, 1) == 5

    cluster.partition([coordinator], followers)      # the followers cannot fetch: the HW is stuck
    sent_at = cluster.now
    probe.ctx.send(coordinator, OffsetCommitRequest("g", -1, "", None, {TP: OffsetAndMetadata(7)}, correlation_id=2))
    cluster.run(4_990)
    assert [m for _, m in probe.inbox if m.correlation_id == 2] == []    # parked while the write waits
    assert cluster.run_until(lambda: any(m.correlation_id == 2 for _, m in probe.inbox), 1_000)
    ((answered_at, answer),) = [(t, m) for t, m in probe.inbox if m.correlation_id == 2]
    assert answer == OffsetCommitResponse({TP: "COORDINATOR_NOT_AVAILABLE"}, correlation_id=2)
    # offsets.commit.timeout.ms after the append, plus the two network hops
    assert sent_at + 5_000 <= answered_at < sent_at + 5_100
    # the coordinator still serves the committed offset, and so does the cluster view
    assert _fetch(cluster, probe, coordinator, 3) == 5
    assert cluster.group_offsets("g").set_index("partition")["committed"].to_dict() == {0: 5}

    # the write is in the leader's log: once the followers catch up it commits and the offset shows, as a replay
    # of the committed log shows it
    cluster.heal()
    p = cluster.broker(coordinator).rm.partition(OFFSETS_TOPIC, partition_for("g"))
    # (a fetch lost in the cut is re-sent after the fetcher's request time-out; by then the ISR may have shrunk)
    assert cluster.run_until(lambda: p.high_watermark == p.log.log_end_offset, 40_000)
    assert _fetch(cluster, probe, coordinator, 4) == 7
    committed_log = _committed_log_offsets(cluster, coordinator)
    assert len(committed_log) == 1 and next(iter(committed_log.values())).offset == 7
    assert [m for _, m in probe.inbox if m.correlation_id == 2] == [answer]   # answered once


def test_the_consumer_retries_a_timed_out_commit_and_succeeds_once_the_partition_heals():
    cluster, probe, coordinator, followers = _boot()
    consumer = cluster.consumer({"group.id": "g", "enable.auto.commit": False})
    consumer.assign([TP])
    cluster.partition([coordinator], followers)
    cluster.kernel.schedule(8_000, cluster.heal)
    started = cluster.now
    consumer.commit({TP: 9})       # COORDINATOR_NOT_AVAILABLE is retriable (default.api.timeout.ms = 60 s)
    assert cluster.now - started >= 8_000
    assert consumer.committed([TP])[TP].offset == 9


def test_a_commit_that_keeps_timing_out_fails_at_the_api_timeout_naming_the_coordinator_error():
    cluster, probe, coordinator, followers = _boot()
    consumer = cluster.consumer({"group.id": "g", "enable.auto.commit": False})
    consumer.assign([TP])
    cluster.partition([coordinator], followers)
    started = cluster.now
    with pytest.raises(KafkaTimeoutError, match=r"before successfully committing offsets \{t-0=9\} "
                                                r"\(last error: COORDINATOR_NOT_AVAILABLE\)") as caught:
        consumer.commit({TP: 9}, timeout_ms=12_000)
    assert caught.value.retriable
    assert 12_000 <= cluster.now - started
    assert _fetch(cluster, probe, coordinator, 10) == 5      # nothing of it committed while the cut lasts
