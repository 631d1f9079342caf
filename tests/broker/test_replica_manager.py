"""The sans-I/O ReplicaManager with a hand-made image and a fake port: messages out are asserted."""
from __future__ import annotations

from typing import Any

import pytest

from kafkalab.broker.partition import Role
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol.fetch import FetchPartition, FetchRequest, FetchResponse
from kafkalab.protocol.list_offsets import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    ListOffsetsRequest,
    ListOffsetsResponse,
)
from kafkalab.protocol.produce import ProduceResponse
from kafkalab.protocol.txn import InitProducerIdRequest, InitProducerIdResponse
from tests.broker.harness import TP, FakePort, Meta, batch, consumer_fetch, follower_fetch, make_rm, produce


def leader(config: dict[str, Any] | None = None, topic_config: dict[str, str] | None = None,
           replicas: tuple[int, ...] = (1, 2, 3)) -> tuple[Any, FakePort, Meta]:
    rm, port = make_rm(1, config)
    meta = Meta()
    rm.apply_change(meta.image, meta.create_topic("t", [replicas], topic_config), 0)
    return rm, port, meta


def produce_error(rm: Any, port: FakePort, req: Any) -> str:
    rm.handle_produce("c", req, 0)
    resp = port.only(ProduceResponse)
    return str(next(iter(resp.responses.values())).error)


def catch_up(rm: Any, port: FakePort, now: float = 0, followers: tuple[int, ...] = (2, 3)) -> None:
    leo = rm.partitions[TP].log_end_offset
    for f in followers:
        rm.handle_fetch(f, follower_fetch(f, leo, last_epoch=0, epoch=0), now)
    port.take()


# ---- roles ------------------------------------------------------------------------------------------------------
def test_the_image_makes_this_broker_leader_and_stamps_the_epoch_start() -> None:
    rm, _, meta = leader()
    p = rm.partitions[TP]
    assert p.role is Role.LEADER and p.leader_epoch == 0 and p.isr == (1, 2, 3)
    assert p.log.epoch_cache.entries() == [(0, 0)]
    assert p.leader_epoch_start_offset == 0


def test_a_follower_registers_with_the_fetcher_for_its_leader() -> None:
    rm, port = make_rm(2)
    meta = Meta()
    rm.apply_change(meta.image, meta.create_topic("t", [(1, 2, 3)]), 0)
    assert rm.partitions[TP].role is Role.FOLLOWER
    fetch = port.only(FetchRequest)
    assert fetch.replica_id == 2 and fetch.session_epoch == 0 and fetch.partitions[TP].fetch_offset == 0


def test_a_stale_leader_epoch_is_ignored() -> None:
    rm, _, meta = leader()
    p = rm.partitions[TP]
    newer = meta.image.partition("t", 0)
    assert newer is not None
    from dataclasses import replace
    assert not p.make_follower(replace(newer, leader=2, leader_epoch=-5))
    assert p.role is Role.LEADER


# ---- produce ----------------------------------------------------------------------------------------------------
def test_acks_1_is_answered_after_the_leader_append() -> None:
    rm, port, _ = leader()
    rm.handle_produce("c", produce(batch(3), acks=1), 0)
    (dst, resp), = port.take()
    assert dst == "c" and resp.responses[TP].error == "NONE" and resp.responses[TP].base_offset == 0
    assert rm.partitions[TP].high_watermark == 0


def test_acks_0_gets_no_response_even_on_error() -> None:
    rm, port, _ = leader()
    rm.handle_produce("c", produce(batch(1), acks=0), 0)
    rm.handle_produce("c", produce({TopicPartition("nope", 0): batch(1)}, acks=0), 0)
    assert [m for _, m in port.take() if isinstance(m, ProduceResponse)] == []
    assert rm.partitions[TP].log_end_offset == 1


def test_acks_all_waits_until_the_hw_passes_the_batch() -> None:
    rm, port, _ = leader()
    rm.handle_produce("c", produce(batch(2)), 0)
    assert [m for _, m in port.take() if isinstance(m, ProduceResponse)] == []
    rm.handle_fetch(2, follower_fetch(2, 2, last_epoch=0, epoch=0), 1)
    assert [m for _, m in port.take() if isinstance(m, ProduceResponse)] == []
    rm.handle_fetch(3, follower_fetch(3, 2, last_epoch=0, epoch=0), 2)
    resp = [m for _, m in port.take() if isinstance(m, ProduceResponse)]
    assert len(resp) == 1 and resp[0].responses[TP].error == "NONE" and rm.partitions[TP].high_watermark == 2


def test_acks_all_times_out_with_request_timed_out() -> None:
    rm, port, _ = leader()
    rm.handle_produce("c", produce(batch(1), timeout_ms=100), 0)
    assert port.timers["expiry"] == 100
    rm.on_timer("expiry", 100)
    resp = port.only(ProduceResponse)
    assert resp.responses[TP].error == "REQUEST_TIMED_OUT"


def test_not_enough_replicas_before_append() -> None:
    rm, port, meta = leader(topic_config={"min.insync.replicas": "2"})
    rm.apply_change(meta.image, meta.change("t", 0, isr=(1,)), 0)
    assert produce_error(rm, port, produce(batch(1))) == "NOT_ENOUGH_REPLICAS"
    assert rm.partitions[TP].log_end_offset == 0
    assert produce_error(rm, port, produce(batch(1), acks=1)) == "NONE"


def test_not_enough_replicas_after_append_when_the_isr_shrinks_while_waiting() -> None:
    rm, port, meta = leader(topic_config={"min.insync.replicas": "2"})
    rm.handle_produce("c", produce(batch(1)), 0)
    assert port.take() == []
    rm.apply_change(meta.image, meta.change("t", 0, isr=(1,)), 5)
    resp = port.only(ProduceResponse)
    assert resp.responses[TP].error == "NOT_ENOUGH_REPLICAS_AFTER_APPEND"
    assert rm.partitions[TP].high_watermark == 0      # held: ISR < min.insync.replicas


def test_message_too_large() -> None:
    rm, port, _ = leader(topic_config={"max.message.bytes": "200"})
    assert produce_error(rm, port, produce(batch(1, size=500))) == "MESSAGE_TOO_LARGE"


def test_not_leader_and_unknown_partition() -> None:
    rm, port = make_rm(2)
    meta = Meta()
    rm.apply_change(meta.image, meta.create_topic("t", [(1, 2, 3)]), 0)
    port.take()
    rm.handle_produce("c", produce(batch(1)), 0)
    r = port.only(ProduceResponse).responses[TP]
    assert r.error == "NOT_LEADER_OR_FOLLOWER" and r.current_leader == (1, 0)     # KIP-951 hint
    assert produce_error(rm, port, produce({TopicPartition("x", 0): batch(1)})) == "UNKNOWN_TOPIC_OR_PARTITION"


def test_invalid_required_acks() -> None:
    rm, port, _ = leader()
    assert produce_error(rm, port, produce(batch(1), acks=2)) == "INVALID_REQUIRED_ACKS"


def test_idempotent_duplicate_is_answered_with_the_original_offset_and_not_appended() -> None:
    rm, port, _ = leader(replicas=(1,))
    rm.handle_produce("c", produce(batch(2, pid=5, epoch=0, seq=0)), 0)
    rm.handle_produce("c", produce(batch(1)), 0)
    port.take()
    rm.handle_produce("c", produce(batch(2, pid=5, epoch=0, seq=0)), 0)
    resp = port.only(ProduceResponse)
    assert resp.responses[TP].error == "NONE" and resp.responses[TP].base_offset == 0
    assert rm.partitions[TP].log_end_offset == 3


def test_idempotent_out_of_order_and_fenced_epoch() -> None:
    rm, port, _ = leader(replicas=(1,))
    rm.handle_produce("c", produce(batch(2, pid=5, epoch=1, seq=0)), 0)
    port.take()
    assert produce_error(rm, port, produce(batch(1, pid=5, epoch=1, seq=7))) == "OUT_OF_ORDER_SEQUENCE_NUMBER"
    assert produce_error(rm, port, produce(batch(1, pid=5, epoch=0, seq=2))) == "INVALID_PRODUCER_EPOCH"


def test_losing_leadership_fails_waiting_produces() -> None:
    rm, port, meta = leader()
    rm.handle_produce("c", produce(batch(1)), 0)
    rm.apply_change(meta.image, meta.change("t", 0, leader=2), 1)
    resp = [m for _, m in port.take() if isinstance(m, ProduceResponse)]
    assert resp[0].responses[TP].error == "NOT_LEADER_OR_FOLLOWER"


# ---- fetch ------------------------------------------------------------------------------------------------------
def test_consumers_read_below_the_hw_only() -> None:
    rm, port, _ = leader()
    rm.handle_produce("c", produce(batch(2), acks=1), 0)
    rm.handle_fetch(2, follower_fetch(2, 2, last_epoch=0, epoch=0), 1)
    port.take()
    rm.handle_fetch("c", consumer_fetch(0), 2)
    assert port.only(FetchResponse).responses[TP].batches == ()      # HW is 0: node 3 has nothing
    rm.handle_fetch(3, follower_fetch(3, 2, last_epoch=0, epoch=0), 3)
    port.take()
    rm.handle_fetch("c", consumer_fetch(0), 4)
    r = port.only(FetchResponse).responses[TP]
    assert r.high_watermark == 2 and [b.base_offset for b in r.batches] == [0]


def test_followers_read_up_to_the_log_end() -> None:
    rm, port, _ = leader()
    rm.handle_produce("c", produce(batch(2), acks=1), 0)
    port.take()
    rm.handle_fetch(2, follower_fetch(2, 0, epoch=0), 1)
    r = port.only(FetchResponse).responses[TP]
    assert len(r.batches) == 1 and r.high_watermark == 0


@pytest.mark.parametrize(("epoch", "error"), [(-7, "NONE"), (0, "NONE")])
def test_fetch_without_or_with_the_current_epoch(epoch: int, error: str) -> None:
    rm, port, _ = leader()
    rm.handle_fetch("c", consumer_fetch(0, epoch=epoch if epoch >= 0 else -1), 0)
    assert port.only(FetchResponse).responses[TP].error == error


def test_fenced_and_unknown_leader_epoch() -> None:
    rm, port, meta = leader()
    rm.apply_change(meta.image, meta.change("t", 0, leader=2), 0)
    rm.apply_change(meta.image, meta.change("t", 0, leader=1), 0)     # epoch 2
    port.take()
    rm.handle_fetch("c", consumer_fetch(0, epoch=1), 0)
    assert port.only(FetchResponse).responses[TP].error == "FENCED_LEADER_EPOCH"
    rm.handle_fetch("c", consumer_fetch(0, epoch=3), 0)
    assert port.only(FetchResponse).responses[TP].error == "UNKNOWN_LEADER_EPOCH"


def test_offset_out_of_range() -> None:
    rm, port, _ = leader()
    rm.handle_fetch("c", consumer_fetch(5), 0)
    assert port.only(FetchResponse).responses[TP].error == "OFFSET_OUT_OF_RANGE"


def test_fetch_errors_for_unknown_and_not_leader() -> None:
    rm, port, _ = leader()
    rm.handle_fetch("c", consumer_fetch(0, tp=TopicPartition("x", 1)), 0)
    assert port.only(FetchResponse).responses[TopicPartition("x", 1)].error == "UNKNOWN_TOPIC_OR_PARTITION"
    rm2, port2 = make_rm(2)
    meta = Meta()
    rm2.apply_change(meta.image, meta.create_topic("t", [(1, 2, 3)]), 0)
    port2.take()
    rm2.handle_fetch("c", consumer_fetch(0), 0)
    assert port2.only(FetchResponse).responses[TP].error == "NOT_LEADER_OR_FOLLOWER"


def test_diverging_epoch_for_a_follower_with_a_stale_suffix() -> None:
    rm, port, meta = leader()
    rm.handle_produce("c", produce(batch(2), acks=1), 0)       # offsets 0-1 in epoch 0
    rm.apply_change(meta.image, meta.change("t", 0, leader=2), 0)
    rm.apply_change(meta.image, meta.change("t", 0, leader=1), 0)     # epoch 2 starts at offset 2
    port.take()
    # The follower has 5 records of epoch 0 (3 that the leader never had).
    rm.handle_fetch(2, follower_fetch(2, 5, last_epoch=0, epoch=2), 0)
    r = port.only(FetchResponse).responses[TP]
    assert r.diverging_epoch == (0, 2) and r.batches == ()


def test_long_poll_consumer_fetch_is_answered_when_the_hw_moves() -> None:
    rm, port, _ = leader(replicas=(1,))
    rm.handle_fetch("c", consumer_fetch(0, max_wait_ms=500, correlation_id=9), 0)
    assert port.take() == [] and port.timers["expiry"] == 500
    rm.handle_produce("p", produce(batch(1), acks=1), 10)
    sent = port.take()
    fetches = [m for _, m in sent if isinstance(m, FetchResponse)]
    assert len(fetches) == 1 and fetches[0].correlation_id == 9 and len(fetches[0].responses[TP].batches) == 1


def test_long_poll_consumer_fetch_is_answered_empty_at_max_wait() -> None:
    rm, port, _ = leader(replicas=(1,))
    rm.handle_fetch("c", consumer_fetch(0, max_wait_ms=500, correlation_id=9), 0)
    rm.on_timer("expiry", 500)
    resp = port.only(FetchResponse)
    assert resp.correlation_id == 9 and resp.responses[TP].batches == ()


def test_a_parked_follower_fetch_is_answered_on_append() -> None:
    rm, port, _ = leader()
    rm.handle_fetch(2, follower_fetch(2, 0, epoch=0, max_wait_ms=500, correlation_id=4), 0)
    assert port.take() == []                # nothing to read: parked, even the session's first fetch
    rm.on_timer("expiry", 500)
    first = port.only(FetchResponse)        # at max wait: the HW, and the session id
    assert first.correlation_id == 4 and first.session_id > 0 and first.responses[TP].high_watermark == 0
    req = FetchRequest(2, 500, 1, 1 << 20, {}, session_id=first.session_id, session_epoch=1, correlation_id=5)
    rm.handle_fetch(2, req, 1)
    assert port.take() == []
    rm.handle_produce("c", produce(batch(1), acks=1), 2)
    fetches = [m for _, m in port.take() if isinstance(m, FetchResponse)]
    assert len(fetches) == 1 and fetches[0].correlation_id == 5 and len(fetches[0].responses[TP].batches) == 1


def test_an_unknown_fetch_session_is_rejected() -> None:
    rm, port, _ = leader()
    rm.handle_fetch(2, FetchRequest(2, 0, 1, 1 << 20, {}, session_id=77, session_epoch=3), 0)
    assert port.only(FetchResponse).error == "FETCH_SESSION_ID_NOT_FOUND"


# ---- ISR --------------------------------------------------------------------------------------------------------
def test_isr_shrink_is_proposed_after_the_lag_time() -> None:
    rm, port, _ = leader({"replica.lag.time.max.ms": 1000})
    assert port.timers["isr-check"] == 500
    rm.handle_produce("c", produce(batch(1), acks=1), 0)
    rm.handle_fetch(2, follower_fetch(2, 1, last_epoch=0, epoch=0), 100)
    rm.on_timer("isr-check", 500)
    assert port.proposals == []
    rm.on_timer("isr-check", 1001)
    assert [(p.new_isr, p.leader_epoch, p.partition_epoch) for p in port.proposals] == [((1, 2), 0, 0)]
    rm.on_alter_partition_result("t", 0, "NONE", 0, (1, 2), 1)
    assert rm.partitions[TP].isr == (1, 2) and rm.partitions[TP].high_watermark == 1


def test_only_one_alter_partition_in_flight_and_maximal_isr_holds_the_hw() -> None:
    rm, port, _ = leader({"replica.lag.time.max.ms": 1000})
    rm.handle_produce("c", produce(batch(1), acks=1), 0)
    rm.on_timer("isr-check", 1500)
    assert len(port.proposals) == 1 and port.proposals[0].new_isr == (1,)
    p = rm.partitions[TP]
    assert p.pending_isr == (1,) and p.maximal_isr == (1, 2, 3) and p.high_watermark == 0
    rm.on_timer("isr-check", 1600)
    assert len(port.proposals) == 1


def test_isr_expand_when_the_follower_reaches_the_hw() -> None:
    rm, port, meta = leader()
    rm.apply_change(meta.image, meta.change("t", 0, isr=(1, 2)), 0)
    rm.handle_produce("c", produce(batch(2), acks=1), 0)
    rm.handle_fetch(2, follower_fetch(2, 2, last_epoch=0, epoch=0), 1)
    assert rm.partitions[TP].high_watermark == 2
    rm.handle_fetch(3, follower_fetch(3, 1, last_epoch=0, epoch=0), 2)
    assert port.proposals == []
    rm.handle_fetch(3, follower_fetch(3, 2, last_epoch=0, epoch=0), 3)
    assert [p.new_isr for p in port.proposals] == [(1, 2, 3)]


def test_a_fenced_broker_does_not_rejoin_the_isr() -> None:
    rm, port, meta = leader()
    rm.apply_change(meta.image, meta.change("t", 0, isr=(1, 2)), 0)
    rm.apply_change(meta.image, meta.fence(3), 0)
    rm.handle_fetch(3, follower_fetch(3, 0, epoch=0), 1)
    assert port.proposals == []


# ---- ListOffsets, InitProducerId --------------------------------------------------------------------------------
def test_list_offsets_earliest_and_latest_is_the_hw() -> None:
    rm, port, _ = leader()
    rm.handle_produce("c", produce(batch(3), acks=1), 0)
    port.take()
    rm.handle_list_offsets("c", ListOffsetsRequest({TP: EARLIEST_TIMESTAMP}), 0)
    assert port.only(ListOffsetsResponse).responses[TP].offset == 0
    rm.handle_list_offsets("c", ListOffsetsRequest({TP: LATEST_TIMESTAMP}), 0)
    assert port.only(ListOffsetsResponse).responses[TP].offset == 0
    catch_up(rm, port)
    rm.handle_list_offsets("c", ListOffsetsRequest({TP: LATEST_TIMESTAMP}), 0)
    assert port.only(ListOffsetsResponse).responses[TP].offset == 3
    rm.handle_list_offsets("c", ListOffsetsRequest({TopicPartition("x", 0): LATEST_TIMESTAMP}), 0)
    assert port.only(ListOffsetsResponse).responses[TopicPartition("x", 0)].error == "UNKNOWN_TOPIC_OR_PARTITION"


def test_init_producer_id_is_unique_and_bumps_the_epoch() -> None:
    rm, port, _ = leader()
    rm.handle_init_producer_id("c", InitProducerIdRequest(), 0)
    rm.handle_init_producer_id("c", InitProducerIdRequest(), 0)
    a, b = [m for _, m in port.take() if isinstance(m, InitProducerIdResponse)]
    assert a.error == b.error == "NONE" and a.producer_id != b.producer_id and a.producer_epoch == 0
    rm.handle_init_producer_id("c", InitProducerIdRequest(producer_id=a.producer_id, producer_epoch=0), 0)
    bumped = port.only(InitProducerIdResponse)
    assert (bumped.producer_id, bumped.producer_epoch) == (a.producer_id, 1)


def test_removed_topic_deletes_the_replica_and_its_log() -> None:
    from kafkalab.metadata.records import RemoveTopicRecord
    rm, port, meta = leader()
    rm.apply_change(meta.image, meta.replay(RemoveTopicRecord("id-t")), 0)
    assert TP not in rm.partitions and "t-0" not in port.logs


def test_min_isr_config_change_applies_to_the_leader() -> None:
    rm, port, meta = leader()
    rm.apply_change(meta.image, meta.change("t", 0, isr=(1,)), 0)
    assert produce_error(rm, port, produce(batch(1))) == "NONE"
    rm.apply_change(meta.image, meta.set_config("t", "min.insync.replicas", "2"), 0)
    assert produce_error(rm, port, produce(batch(1))) == "NOT_ENOUGH_REPLICAS"


def test_fetch_partition_defaults() -> None:
    assert FetchPartition(0).current_leader_epoch == -1


def test_a_restarted_broker_fetching_with_a_stale_broker_epoch_does_not_rejoin() -> None:
    rm, port, meta = leader()
    rm.apply_change(meta.image, meta.change("t", 0, isr=(1, 2)), 0)
    stale = follower_fetch(3, 0, epoch=0)
    from dataclasses import replace
    rm.handle_fetch(3, replace(stale, replica_epoch=999), 1)
    assert port.proposals == []
    rm.handle_fetch(3, replace(stale, replica_epoch=13), 2)        # Meta registers broker b with epoch 10 + b
    assert [p.new_isr for p in port.proposals] == [(1, 2, 3)]


def test_an_idle_caught_up_partition_is_not_checked_and_never_shrinks() -> None:
    rm, port, _ = leader({"replica.lag.time.max.ms": 1000})
    catch_up(rm, port)
    assert TP not in rm.lagging
    rm.on_timer("isr-check", 10_000)
    assert port.proposals == []
    rm.handle_produce("c", produce(batch(1), acks=1), 10_000)
    assert TP in rm.lagging


def test_expired_consumer_fetches_do_not_pile_up_on_an_idle_partition() -> None:
    rm, port, _ = leader(replicas=(1,))
    for i in range(10):
        rm.handle_fetch("c", consumer_fetch(0, max_wait_ms=500), i * 500)
        rm.on_timer("expiry", i * 500 + 500)
    assert rm.partitions[TP].consumer_waiters == []
    assert len([m for _, m in port.take() if isinstance(m, FetchResponse)]) == 10


def test_a_leadership_change_answers_parked_follower_fetches_at_once() -> None:
    rm, port, meta = leader()
    rm.handle_fetch(2, follower_fetch(2, 0, epoch=0, max_wait_ms=500, correlation_id=4), 0)
    assert port.take() == []
    rm.apply_change(meta.image, meta.change("t", 0, leader=2), 10)
    resp = port.only(FetchResponse)
    assert resp.correlation_id == 4
    assert resp.responses[TP].error == "FENCED_LEADER_EPOCH" and resp.responses[TP].current_leader == (2, 1)


def test_an_idle_caught_up_follower_rejoins_on_a_session_fetch_that_does_not_name_the_partition() -> None:
    rm, port, meta = leader()
    rm.apply_change(meta.image, meta.change("t", 0, isr=(1, 2)), 0)
    rm.apply_change(meta.image, meta.fence(3), 0)
    rm.handle_fetch(3, follower_fetch(3, 0, epoch=0), 1)            # caught up, but fenced: stays out
    session = port.only(FetchResponse).session_id
    assert port.proposals == []
    rm.apply_change(meta.image, meta.unfence(3), 2)
    assert port.proposals == []                                    # a fetch must show the follower is alive
    rm.handle_fetch(3, FetchRequest(3, 0, 1, 1 << 20, {}, session_id=session, session_epoch=1), 3)
    assert [p.new_isr for p in port.proposals] == [(1, 2, 3)]


def test_a_follower_session_learns_the_leaders_new_log_start_without_new_data() -> None:
    # Kafka's CachedPartition.maybeUpdateResponseData: an incremental fetch answer includes a partition whose log
    # start offset changed even with no data and the same HW, so the follower's log start follows the leader's.
    rm, port, _ = leader(topic_config={"retention.ms": "1000", "segment.ms": "10"})
    for i in range(3):
        rm.handle_produce("c", produce(batch(1), acks=1, correlation_id=i), 20 * i)
    catch_up(rm, port, 50)
    sessions = {f: rm.sessions[f].session_id for f in (2, 3)}
    for f in (2, 3):                                  # both followers have the HW 3 and the log start 0
        rm.handle_fetch(f, FetchRequest(f, 0, 1, 1 << 20, {}, session_id=sessions[f], session_epoch=1), 60)
    port.take()
    rm.handle_fetch(2, FetchRequest(2, 0, 1, 1 << 20, {}, session_id=sessions[2], session_epoch=2), 70)
    assert port.only(FetchResponse).responses == {}          # nothing new: the partition is left out
    rm.handle_fetch(3, FetchRequest(3, 500, 1, 1 << 20, {}, session_id=sessions[3], session_epoch=2), 29_900)
    assert port.take() == []                                 # follower 3 is parked
    rm.on_timer("log-retention", 30_000)                     # the leader's retention deletes offsets 0-2
    assert rm.partitions[TP].log.log_start_offset == 3
    assert port.take() == []                                 # a log start move does not complete a parked fetch
    rm.handle_fetch(2, FetchRequest(2, 0, 1, 1 << 20, {}, session_id=sessions[2], session_epoch=3), 30_001)
    r = port.only(FetchResponse).responses[TP]
    assert (r.batches, r.high_watermark, r.log_start_offset) == ((), 3, 3)
    rm.on_timer("expiry", 30_400)                            # the parked fetch, at its max wait
    r = port.only(FetchResponse).responses[TP]
    assert (r.batches, r.high_watermark, r.log_start_offset) == ((), 3, 3)
    rm.handle_fetch(2, FetchRequest(2, 0, 1, 1 << 20, {}, session_id=sessions[2], session_epoch=4), 30_002)
    assert port.only(FetchResponse).responses == {}          # sent once
