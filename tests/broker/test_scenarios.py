"""Scenario tests: three brokers as World processes over a hand-made metadata image (no controller; the harness
commits AlterPartition proposals as a controller would). Each test reads as a story."""
from __future__ import annotations

from kafkalab.broker.cost import CostModel
from kafkalab.metadata.image import Change
from kafkalab.protocol.fetch import FetchResponse
from kafkalab.protocol.produce import ProduceRequest
from kafkalab.protocol.txn import InitProducerIdRequest
from tests.broker.harness import TP, DataPlane, batch, consumer_fetch


def values(dp: DataPlane, b: int) -> list[bytes]:
    return [r.value for bt in dp.partition(b).log.batches() for r in bt.records]


def error(resp: object) -> str:
    return str(next(iter(resp.responses.values())).error)  # type: ignore[attr-defined]


def test_replication_moves_the_very_same_batches_and_the_hw_follows() -> None:
    dp = DataPlane()
    dp.create_topic("t", [(1, 2, 3)])
    resp = dp.produce(1, batch(3), acks=-1)
    assert error(resp) == "NONE"
    assert [dp.partition(b).log_end_offset for b in (1, 2, 3)] == [3, 3, 3]
    assert dp.partition(1).high_watermark == 3
    dp.run(600)                                      # followers learn the HW on their next (parked) fetch
    assert [dp.partition(b).high_watermark for b in (2, 3)] == [3, 3]
    leader_batch = dp.partition(1).log.batches()[0]
    assert all(dp.partition(b).log.batches()[0] is leader_batch for b in (2, 3))   # zero copy


def test_acks_all_waits_for_a_paused_follower_until_the_isr_shrinks() -> None:
    dp = DataPlane(config={"replica.lag.time.max.ms": 1000})
    dp.create_topic("t", [(1, 2, 3)])
    dp.run(100)
    dp.world.pause(3)
    start = dp.world.now
    resp = dp.produce(1, batch(1), acks=-1)
    assert error(resp) == "NONE"
    assert dp.world.now - start >= 1000                   # held until the ISR dropped broker 3
    assert dp.partition(1).isr == (1, 2)
    assert [(b, p.new_isr) for _, b, p in dp.proposals] == [(1, (1, 2))]


def test_min_insync_replicas_after_append_then_before_append() -> None:
    dp = DataPlane(config={"replica.lag.time.max.ms": 1000})
    dp.create_topic("t", [(1, 2, 3)], {"min.insync.replicas": "2"})
    dp.run(100)
    dp.world.pause(2)
    dp.world.pause(3)
    assert error(dp.produce(1, batch(1), acks=-1)) == "NOT_ENOUGH_REPLICAS_AFTER_APPEND"
    assert dp.partition(1).isr == (1,) and dp.partition(1).high_watermark == 0
    assert error(dp.produce(1, batch(1), acks=-1)) == "NOT_ENOUGH_REPLICAS"
    assert error(dp.produce(1, batch(1), acks=1)) == "NONE"


def test_a_follower_that_comes_back_rejoins_the_isr() -> None:
    dp = DataPlane(config={"replica.lag.time.max.ms": 1000})
    dp.create_topic("t", [(1, 2, 3)])
    dp.run(100)
    dp.world.pause(3)
    dp.produce(1, batch(2), acks=-1)
    assert dp.partition(1).isr == (1, 2)
    dp.world.resume(3)
    assert dp.world.run_until(lambda: dp.partition(1).isr == (1, 2, 3), 5_000)
    assert dp.partition(3).log_end_offset == 2
    assert [p.new_isr for _, _, p in dp.proposals] == [(1, 2), (1, 2, 3)]


def test_consumers_never_see_above_the_hw() -> None:
    dp = DataPlane()
    dp.create_topic("t", [(1, 2, 3)])
    dp.run(100)
    dp.world.pause(2)
    dp.produce(1, batch(2), acks=1)
    resp = dp.fetch(1, 0)
    assert resp.responses[TP].batches == () and resp.responses[TP].high_watermark == 0
    dp.world.resume(2)
    dp.run(100)
    resp = dp.fetch(1, 0)
    assert resp.responses[TP].high_watermark == 2 and len(resp.responses[TP].batches) == 1


def test_long_poll_fetch_is_answered_on_new_data_and_at_max_wait() -> None:
    dp = DataPlane()
    dp.create_topic("t", [(1, 2, 3)])
    dp.run(100)
    sent = dp.world.now
    cid = dp.request(1, lambda c: consumer_fetch(0, max_wait_ms=500, correlation_id=c))
    dp.run(100)
    assert cid not in dp.client.responses
    dp.produce(1, batch(1), acks=-1)
    assert dp.world.run_until(lambda: cid in dp.client.responses, 50)
    at, _, resp = dp.client.responses[cid]
    assert at - sent < 150 and len(resp.responses[TP].batches) == 1
    sent = dp.world.now
    cid = dp.request(1, lambda c: consumer_fetch(1, max_wait_ms=500, correlation_id=c))
    assert dp.world.run_until(lambda: cid in dp.client.responses, 1000)
    at, _, resp = dp.client.responses[cid]
    assert 500 <= at - sent < 510 and resp.responses[TP].batches == ()


def test_jepsen_acks_1_writes_on_an_isolated_leader_are_truncated_away() -> None:
    dp = DataPlane()
    dp.create_topic("t", [(1, 2, 3)])
    assert error(dp.produce(1, batch(2, b"committed"), acks=-1)) == "NONE"
    dp.world.isolate(1)                              # the client can still reach broker 1
    resp = dp.produce(1, batch(1, b"lost"), acks=1)
    assert error(resp) == "NONE" and resp.responses[TP].base_offset == 2
    # The controller (which cannot reach broker 1) elects broker 2; only 2 and 3 learn it.
    dp.elect("t", 0, leader=2, isr=(2, 3), to=(2, 3))
    assert error(dp.produce(2, batch(1, b"new-leader"), acks=-1)) == "NONE"
    dp.world.heal()
    dp.push(Change(partitions=(("t", 0),)), to=(1,))     # broker 1 catches up on metadata: it is a follower
    assert dp.world.run_until(lambda: values(dp, 1) == values(dp, 2), 40_000)
    assert b"lost" not in values(dp, 1)
    assert values(dp, 1) == [b"committed", b"committed", b"new-leader"]
    assert dp.server(1).rm.fetchers.truncations >= 1


def test_idempotent_retry_is_answered_with_the_original_offset() -> None:
    dp = DataPlane()
    dp.create_topic("t", [(1, 2, 3)])
    init = dp.call(1, lambda c: InitProducerIdRequest(correlation_id=c))
    pid = init.producer_id
    first = dp.produce(1, batch(2, pid=pid, epoch=0, seq=0))
    dp.produce(1, batch(1))
    retry = dp.produce(1, batch(2, pid=pid, epoch=0, seq=0))
    assert error(retry) == "NONE" and retry.responses[TP].base_offset == first.responses[TP].base_offset == 0
    assert dp.partition(1).log_end_offset == 3
    gap = dp.produce(1, batch(1, pid=pid, epoch=0, seq=5))
    assert error(gap) == "OUT_OF_ORDER_SEQUENCE_NUMBER"


def test_power_loss_drops_what_was_not_flushed() -> None:
    dp = DataPlane(brokers=(1,), writeback_interval_ms=None)
    dp.create_topic("t", [(1,)])
    dp.produce(1, batch(2, b"a"), acks=1)
    dp.world.disks[1].fsync_now()
    dp.produce(1, batch(1, b"b"), acks=1)
    dp.world.crash(1, lose_unflushed=True)
    dp.restart(1)
    dp.run(10)
    assert values(dp, 1) == [b"a", b"a"]


def test_a_process_crash_keeps_the_page_cache_and_a_restarted_follower_catches_up() -> None:
    dp = DataPlane(writeback_interval_ms=None)
    dp.create_topic("t", [(1, 2, 3)])
    dp.produce(1, batch(2), acks=-1)
    dp.world.crash(3)
    dp.produce(1, batch(1), acks=1)
    dp.restart(3)
    assert dp.partition(3).log_end_offset == 2            # the page cache survived the crash
    assert dp.world.run_until(lambda: dp.partition(3).log_end_offset == 3, 5_000)


def test_power_loss_of_a_follower_is_repaired_from_the_leader() -> None:
    dp = DataPlane(writeback_interval_ms=None)
    dp.create_topic("t", [(1, 2, 3)])
    dp.produce(1, batch(2), acks=-1)
    dp.world.crash(3, lose_unflushed=True)
    dp.restart(3)
    assert dp.partition(3).log_end_offset == 0
    assert dp.world.run_until(lambda: dp.partition(3).log_end_offset == 2, 5_000)
    assert dp.partition(3).log.batches()[0] is dp.partition(1).log.batches()[0]


def test_the_request_handler_queue_serialises_requests() -> None:
    cost = CostModel(request_ms=1.0, byte_ns=0.0)
    dp = DataPlane(brokers=(1,), cost=cost)
    dp.create_topic("t", [(1,)])
    dp.run(10)
    cids = [dp.request(1, lambda c: ProduceRequest(1, 1000, {TP: batch(1)}, c)) for _ in range(5)]
    dp.run(20)
    times = sorted(dp.client.responses[c][0] for c in cids)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(0.85 <= g <= 1.15 for g in gaps), gaps     # 1 ms of service each, plus the link's jitter
    assert dp.server(1).handler.jobs >= 5


def test_an_idle_cluster_costs_a_few_events_per_fetch_wait() -> None:
    dp = DataPlane()
    dp.create_topic("t", [(1, 2, 3)])
    dp.run(100)
    before = dp.world.kernel.events_processed
    dp.run(10_000)
    # two followers' fetches each wait 500 ms: about 2 x 20 deliveries, 2 x 20 expiries, a few ISR checks
    assert dp.world.kernel.events_processed - before < 200


def test_fetch_response_type() -> None:
    assert FetchResponse("NONE", {}).session_id == 0


def test_a_restarted_replica_starts_from_its_checkpointed_high_watermark() -> None:
    dp = DataPlane()
    dp.create_topic("t", [(1, 2, 3)])
    dp.produce(1, batch(4), acks=-1)
    dp.run(6_000)                                    # the checkpoint is written 5 s after the data flowed
    dp.world.crash(3)
    dp.restart(3)
    assert dp.partition(3).high_watermark == 4
