"""Replica fetchers with a fake port: sessions, truncation on DivergingEpoch, errors, back-off, timeouts."""
from __future__ import annotations

from typing import Any

from kafkalab.broker.fetcher import ReplicaFetcherManager
from kafkalab.broker.partition import Partition
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.config import resolve
from kafkalab.log.partition_log import PartitionLog
from kafkalab.metadata.image import PartitionRegistration
from kafkalab.protocol.fetch import FetchRequest, FetchResponse, PartitionFetchResponse
from tests.broker.harness import TP, FakePort, batch

TP1 = TopicPartition("t", 1)


def follower(tp: TopicPartition = TP, leader: int = 1, epoch: int = 0) -> Partition:
    p = Partition(tp, 2, PartitionLog(name=str(tp)))
    p.make_follower(PartitionRegistration((1, 2, 3), (1, 2, 3), leader, epoch, 0))
    return p


def manager() -> tuple[ReplicaFetcherManager, FakePort]:
    port = FakePort()
    return ReplicaFetcherManager(2, port, resolve("broker")), port


def leader_batches(n: int, epoch: int = 0, start: int = 0) -> list[Any]:
    log = PartitionLog()
    if start:
        log.truncate_fully_and_start_at(start)
    return [log.append_as_leader(batch(1), epoch) for _ in range(n)]


def test_one_fetcher_per_leader_and_a_full_then_incremental_session() -> None:
    m, port = manager()
    a, b = follower(TP), follower(TP1)
    m.add_partition(a, 0)
    m.add_partition(b, 0)
    (dst, first), = port.take()
    assert dst == 1 and first.session_epoch == 0 and list(first.partitions) == [TP]   # b waits: one in flight
    m.on_fetch_response(1, FetchResponse("NONE", {}, first.correlation_id, session_id=9), 1)
    (_, second), = port.take()
    assert second.session_id == 9 and second.session_epoch == 1 and list(second.partitions) == [TP1]
    m.on_fetch_response(1, FetchResponse("NONE", {}, second.correlation_id, session_id=9), 2)
    (_, idle), = port.take()
    assert idle.partitions == {} and idle.session_epoch == 2       # nothing changed: an empty request
    assert len(m.threads) == 1


def test_records_are_appended_as_the_same_objects_and_the_hw_is_taken_from_the_leader() -> None:
    m, port = manager()
    p = follower()
    m.add_partition(p, 0)
    (_, req), = port.take()
    batches = tuple(leader_batches(2))
    m.on_fetch_response(1, FetchResponse("NONE", {TP: PartitionFetchResponse("NONE", 5, 5, 0, batches)},
                                         req.correlation_id, 3), 1)
    assert p.log.batches()[0] is batches[0] and p.log_end_offset == 2 and p.high_watermark == 2
    (_, nxt), = port.take()
    assert nxt.partitions[TP].fetch_offset == 2 and nxt.partitions[TP].last_fetched_epoch == 0


def test_diverging_epoch_truncates_to_the_leaders_end_of_that_epoch() -> None:
    m, port = manager()
    p = follower(epoch=1)
    for b in leader_batches(5):
        p.log.append_as_follower(b)
    m.add_partition(p, 0)
    (_, req), = port.take()
    assert req.partitions[TP].last_fetched_epoch == 0
    resp = PartitionFetchResponse("NONE", 2, 2, 0, diverging_epoch=(0, 3))
    m.on_fetch_response(1, FetchResponse("NONE", {TP: resp}, req.correlation_id, 3), 1)
    assert p.log_end_offset == 3 and m.truncations == 1
    (_, nxt), = port.take()
    assert nxt.partitions[TP].fetch_offset == 3


def test_a_partition_error_backs_the_partition_off_and_brings_it_back() -> None:
    m, port = manager()
    p = follower()
    m.add_partition(p, 0)
    (_, req), = port.take()
    m.on_fetch_response(1, FetchResponse("NONE", {TP: PartitionFetchResponse("FENCED_LEADER_EPOCH")},
                                         req.correlation_id, 3), 10)
    assert m.partition_errors == 1
    (_, nxt), = port.take()
    assert nxt.partitions == {} and nxt.forgotten == (TP,)
    m.on_fetch_response(1, FetchResponse("NONE", {}, nxt.correlation_id, 3), 20)
    port.take()
    assert port.timers["fetcher:1"] == 1010
    m.on_timer("fetcher:1", 1010)
    m.on_fetch_response(1, FetchResponse("NONE", {}, m.threads[1].in_flight or 0, 3), 1011)
    (_, back), = port.take()
    assert TP in back.partitions


def test_an_unknown_session_restarts_with_a_full_request() -> None:
    m, port = manager()
    m.add_partition(follower(), 0)
    (_, req), = port.take()
    m.on_fetch_response(1, FetchResponse("FETCH_SESSION_ID_NOT_FOUND", {}, req.correlation_id), 1)
    (_, again), = port.take()
    assert again.session_epoch == 0 and TP in again.partitions


def test_no_answer_within_the_socket_timeout_backs_off_and_restarts_the_session() -> None:
    m, port = manager()
    m.add_partition(follower(), 0)
    (_, req), = port.take()
    deadline = port.timers["fetcher:1"]
    assert deadline == 30_000 + 500
    m.on_timer("fetcher:1", deadline)
    assert port.take() == [] and port.timers["fetcher:1"] == deadline + 1000
    m.on_timer("fetcher:1", deadline + 1000)
    (_, again), = port.take()
    assert isinstance(again, FetchRequest) and again.session_epoch == 0


def test_moving_a_partition_to_another_leader() -> None:
    m, port = manager()
    p = follower()
    m.add_partition(p, 0)
    port.take()
    p.make_follower(PartitionRegistration((1, 2, 3), (2, 3), 3, 1, 1))
    m.add_partition(p, 1)
    (dst, req), = port.take()
    assert dst == 3 and req.partitions[TP].current_leader_epoch == 1
    assert list(m.threads) == [3] and port.timers.get("fetcher:1") is None


def test_a_deposed_leader_drops_the_epoch_it_stamped_but_never_wrote() -> None:
    m, port = manager()
    p = follower(epoch=2)
    for b in leader_batches(3):
        p.log.append_as_follower(b)
    p.log.epoch_cache.assign(1, 3)                  # it led epoch 1 from offset 3 and appended nothing
    m.add_partition(p, 0)
    (_, req), = port.take()
    assert req.partitions[TP].last_fetched_epoch == 1
    resp = PartitionFetchResponse("NONE", 3, 3, 0, diverging_epoch=(0, 3))
    m.on_fetch_response(1, FetchResponse("NONE", {TP: resp}, req.correlation_id, 3), 1)
    assert p.log_end_offset == 3 and p.log.epoch_cache.entries() == [(0, 0)]
    (_, nxt), = port.take()
    assert nxt.partitions[TP].last_fetched_epoch == 0


def test_a_restarted_leader_gets_a_new_session_at_once() -> None:
    m, port = manager()
    m.add_partition(follower(), 0)
    (_, first), = port.take()
    m.reconnect(1, 50)
    (_, again), = port.take()
    assert again.session_epoch == 0 and again.correlation_id != first.correlation_id
    m.on_fetch_response(1, FetchResponse("NONE", {}, first.correlation_id, 3), 51)   # the old answer is ignored
    assert port.take() == []
