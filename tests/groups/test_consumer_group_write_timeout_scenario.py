"""A KIP-848 group whose ``__consumer_offsets`` partition cannot reach ``min.insync.replicas``: its coordinator's
writes hang, a joining member is answered COORDINATOR_NOT_AVAILABLE after ``offsets.commit.timeout.ms`` (Kafka's
``OperationTimeout``: REQUEST_TIMED_OUT, mapped by ``handleOperationException``), retries, and the group keeps what it
wrote: once the partition's followers are back and the high watermark passes the records, the member is in the group
and the committed log says so.

The story: with ``min.insync.replicas=2`` a consumer ``a`` owns the six partitions of ``t``. Both followers of the
group's ``__consumer_offsets`` partition crash; the controller fences them and the ISR shrinks to the coordinator
alone, below min ISR, so the high watermark of that partition stops. Member ``b`` joins: its heartbeat is answered
5 s later with COORDINATOR_NOT_AVAILABLE; its retry waits. The followers restart, catch up, rejoin the ISR; the high
watermark passes the join's records, the retry is answered with b's member epoch, and the committed group shows b.
"""
from __future__ import annotations

from typing import Any

import kafkalab as kl
from kafkalab.groups.hashing import OFFSETS_TOPIC, partition_for
from kafkalab.groups.records import CONSUMER_GROUP_TAG
from kafkalab.protocol.consumer_group import ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse


class Probe:
    """A client node that keeps every message it gets, with its arrival time."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.inbox: list[tuple[float, Any]] = []

    def on_message(self, src: Any, msg: Any) -> None:
        self.inbox.append((self.ctx.now, msg))

    def answers(self, correlation_id: int) -> list[tuple[float, Any]]:
        return [(t, m) for t, m in self.inbox if getattr(m, "correlation_id", None) == correlation_id]


def _join(probe: Probe, coordinator: int, correlation_id: int) -> None:
    probe.ctx.send(coordinator, ConsumerGroupHeartbeatRequest(
        "g", "member-b", 0, rebalance_timeout_ms=300_000, subscribed_topic_names=("t",), topic_partitions=(),
        correlation_id=correlation_id))


def _boot(seed: int) -> tuple[kl.Cluster, Any, int, list[int]]:
    cluster = kl.Cluster(seed=seed, config={"min.insync.replicas": 2})
    cluster.create_topic("t", partitions=6, replication_factor=3)
    a = cluster.consumer({"group.id": "g", "group.protocol": "consumer", "auto.offset.reset": "earliest"})
    a.subscribe(["t"])
    assert cluster.run_until(lambda: (a.poll(0) or True) and len(a.assignment()) == 6, 30_000)
    coordinator = cluster.group_coordinator("g")
    assert coordinator is not None
    replicas = cluster.replicas(OFFSETS_TOPIC, partition_for("g"))
    followers = sorted(int(b) for b in replicas["broker"] if int(b) != coordinator)
    assert len(followers) == 2
    return cluster, a, coordinator, followers


def _offsets_partition(cluster: kl.Cluster, broker: int) -> Any:
    return cluster.broker(broker).rm.partition(OFFSETS_TOPIC, partition_for("g"))


def _committed_member_keys(cluster: kl.Cluster, broker: int) -> set[bytes]:
    """Keys of the KIP-848 records below the high watermark of the group's partition."""
    p = _offsets_partition(cluster, broker)
    return {key for batch in p.log.batches() for i, (key, _v, _ts, _h) in enumerate(batch.rows)
            if batch.base_offset + i < p.high_watermark and key[:1] == CONSUMER_GROUP_TAG and b"member-b" in key}


def test_a_join_below_min_isr_times_out_after_5_s_then_lands_when_the_followers_return() -> None:
    cluster, a, coordinator, followers = _boot(seed=3)
    probes: list[Probe] = []
    cluster.add_node("probe", lambda ctx: probes.append(Probe(ctx)) or probes[-1], server=False)
    probe = probes[0]
    group_epoch = cluster.describe_group("g")["group_epoch"]

    for f in followers:
        cluster.crash(f)
    p = _offsets_partition(cluster, coordinator)
    assert cluster.run_until(lambda: sorted(p.isr) == [coordinator], 60_000)   # fenced: ISR 1 < min ISR 2
    hw = p.high_watermark

    sent_at = cluster.now
    _join(probe, coordinator, 1)
    cluster.run(4_990)
    assert probe.answers(1) == []                                  # the join's write waits for the HW
    assert cluster.run_until(lambda: bool(probe.answers(1)), 1_000)
    ((answered_at, answer),) = probe.answers(1)
    assert answer == ConsumerGroupHeartbeatResponse(error="COORDINATOR_NOT_AVAILABLE", correlation_id=1)
    assert sent_at + 5_000 <= answered_at < sent_at + 5_100          # offsets.commit.timeout.ms, plus the hops
    assert p.high_watermark == hw and p.log.log_end_offset > hw      # in the log, not committed
    # the committed view is unchanged; the coordinator kept the join (nothing is rolled back)
    described = cluster.describe_group("g")
    assert described["group_epoch"] == group_epoch
    assert "member-b" not in [m["member_id"] for m in described["members"]]
    assert not _committed_member_keys(cluster, coordinator)

    _join(probe, coordinator, 2)                                   # the member retries, as a client does
    cluster.run(1_000)
    assert probe.answers(2) == []                                  # waits for the writes in flight

    for f in followers:
        cluster.restart(f)
    assert cluster.run_until(lambda: bool(probe.answers(2)), 60_000)
    ((_, retried),) = probe.answers(2)
    assert retried.error == "NONE" and retried.member_id == "member-b"
    assert retried.member_epoch == group_epoch + 1                 # the epoch the timed-out join bumped to
    assert p.high_watermark == p.log.log_end_offset
    described = cluster.describe_group("g")
    assert described["group_epoch"] == group_epoch + 1
    assert "member-b" in [m["member_id"] for m in described["members"]]
    assert _committed_member_keys(cluster, coordinator)            # the join's records are committed
    assert len(probe.answers(1)) == 1                              # the first join was answered once


def test_a_consumer_that_joins_below_min_isr_keeps_retrying_and_gets_partitions_once_the_isr_recovers() -> None:
    cluster, a, coordinator, followers = _boot(seed=5)
    for f in followers:
        cluster.crash(f)
    p = _offsets_partition(cluster, coordinator)
    assert cluster.run_until(lambda: sorted(p.isr) == [coordinator], 60_000)
    b = cluster.consumer({"group.id": "g", "group.protocol": "consumer", "auto.offset.reset": "earliest"})
    b.subscribe(["t"])
    for _ in range(20):                                            # 20 s below min ISR: b gets nothing
        a.poll(500)
        b.poll(500)
    assert b.assignment() == set()
    timeouts = cluster.metrics().query("metric == 'consumer_group_write_timeouts'")
    assert len(timeouts) >= 2                                      # its join and retries timed out
    for f in followers:
        cluster.restart(f)

    def balanced() -> bool:
        a.poll(0)
        b.poll(0)
        return len(a.assignment()) == 3 and len(b.assignment()) == 3
    assert cluster.run_until(balanced, 120_000)
    assert not a.assignment() & b.assignment()
