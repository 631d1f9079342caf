"""An idle cluster costs per follower->leader pair, not per partition (DESIGN.md principle 4; issue 14, target 3).

Stories: an idle cluster of 3 brokers runs exactly the same events with 600 partitions as with 30 (every broker
follows every other in both, so the pairs are the same); while it idles, the leaders' handling of the followers'
empty incremental fetches and of their expiry reads no partition; and the fetch sizes the broker computes on its
replication fast path are the ones ``message_size_bytes`` computes.
"""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.broker import fetch_sessions
from kafkalab.broker.server import _fetch_size
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol.fetch import FetchPartition, FetchRequest, FetchResponse, PartitionFetchResponse
from kafkalab.protocol.sizes import message_size_bytes
from tests.broker.harness import batch


def idle_cluster(partitions: int, seed: int = 3) -> kl.Cluster:
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed)
    cluster.create_topic("idle", partitions=partitions, replication_factor=3)
    cluster.run(5_000)
    return cluster


def test_an_idle_minute_runs_the_same_events_with_600_partitions_as_with_30() -> None:
    counts = []
    for partitions in (30, 600):
        cluster = idle_cluster(partitions)
        before = cluster.kernel.events_processed
        cluster.run(10_000)
        counts.append(cluster.kernel.events_processed - before)
    assert counts[0] == counts[1]
    assert counts[0] > 0


def test_idle_follower_fetches_read_no_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = idle_cluster(200)
    touched: list[Any] = []

    def counting(name: str) -> Any:
        original = getattr(fetch_sessions, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            touched.append(name)
            return original(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(fetch_sessions, "read_partition", counting("read_partition"))
    monkeypatch.setattr(fetch_sessions, "leader_partition", counting("leader_partition"))
    servers = [cluster.broker(b) for b in cluster.brokers]
    fetches_before = sum(s.rm.fetch_requests for s in servers if s is not None)
    cluster.run(5_000)
    fetches = sum(s.rm.fetch_requests for s in servers if s is not None) - fetches_before
    # 6 follower->leader pairs, each long-polling replica.fetch.wait.max.ms = 500 ms: about 60 fetches in 5 s
    assert 50 <= fetches <= 70
    assert touched == []


def test_new_data_after_an_idle_spell_still_replicates() -> None:
    cluster = idle_cluster(50)
    cluster.run(3_000)
    producer = cluster.producer({"acks": "all"})
    for p in range(0, 50, 7):
        producer.send("idle", value=b"x", partition=p).result(timeout_ms=10_000)
    cluster.run(1_000)
    frame = cluster.describe_topic("idle")
    written = frame[frame.partition % 7 == 0]
    assert list(written.high_watermark) == [1] * len(written)
    assert all(len(isr) == 3 for isr in frame.isr)


_TPS = st.builds(TopicPartition, st.sampled_from(["a", "b"]), st.integers(0, 50))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_TPS, st.lists(st.integers(0, 300), max_size=3), max_size=6),
       st.dictionaries(_TPS, st.just(FetchPartition(0, 1024, 0, -1, 0)), max_size=6))
def test_fetch_sizes_on_the_fast_path_are_message_size_bytes(sizes: dict[TopicPartition, list[int]],
                                                              named: dict[TopicPartition, FetchPartition]) -> None:
    responses = {tp: PartitionFetchResponse("NONE", 0, 0, 0, tuple(batch(1, size=n) for n in ns))
                 for tp, ns in sizes.items()}
    response = FetchResponse("NONE", responses, 7, 1)
    request = FetchRequest(2, 500, 1, 1 << 20, named, 5, 0, 9, 1, 3, ())
    assert _fetch_size(response) == message_size_bytes(response)
    assert _fetch_size(request) == message_size_bytes(request)
