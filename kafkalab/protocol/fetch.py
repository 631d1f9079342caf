"""The Fetch API (Kafka's ``FetchRequest.json``/``FetchResponse.json``), for consumers and follower replicas alike.

The same ``FetchRequest`` serves consumers (``replica_id = -1``) and follower replicas (``replica_id`` = the broker
id), as in Kafka. Record data travels as :class:`~kafkalab.common.records.RecordBatch` objects, shared, never copied.

Follower fetches use incremental fetch sessions (KIP-227): a full request (``session_epoch = 0``) names every
partition and opens a session on the leader; later requests carry only the partitions whose fetch state changed
(``forgotten`` lists those removed), and the leader answers only partitions with news. This is what keeps an idle
follower's parked fetch cheap with thousands of partitions. Consumers use sessions too (Kafka's
``FetchSessionHandler``); a request with ``session_epoch = -1`` and no id is sessionless.
"""
from __future__ import annotations

from dataclasses import dataclass

from kafkalab.common.records import RecordBatch
from kafkalab.common.topic_partition import TopicPartition

__all__ = [
    "CONSUMER_REPLICA_ID", "INVALID_SESSION_ID", "INITIAL_EPOCH", "FINAL_EPOCH", "FetchPartition", "FetchRequest",
    "FetchResponse", "PartitionFetchResponse",
]

CONSUMER_REPLICA_ID = -1

#: Fetch sessions (Kafka's FetchMetadata): no session; the epoch of a full request opening one; sessionless.
INVALID_SESSION_ID = 0
INITIAL_EPOCH = 0
FINAL_EPOCH = -1


@dataclass(frozen=True, slots=True)
class FetchPartition:
    """One partition of a fetch. ``current_leader_epoch`` fences stale leaders (KIP-320); ``last_fetched_epoch``
    lets the leader detect divergence (KIP-595/KIP-279; -1 = unknown)."""

    fetch_offset: int
    partition_max_bytes: int = 1_048_576
    current_leader_epoch: int = -1
    last_fetched_epoch: int = -1
    log_start_offset: int = -1


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """``replica_id``: -1 for consumers, the follower's broker id for replication (then ``replica_epoch`` is its
    broker epoch). ``max_wait_ms``/``min_bytes``: long polling (``fetch.max.wait.ms``, ``fetch.min.bytes``)."""

    replica_id: int
    max_wait_ms: int
    min_bytes: int
    max_bytes: int
    partitions: dict[TopicPartition, FetchPartition]
    replica_epoch: int = -1
    #: 0 = read_uncommitted (below the HW), 1 = read_committed (below the last stable offset, KIP-98)
    isolation_level: int = 0
    correlation_id: int = 0
    session_id: int = INVALID_SESSION_ID
    session_epoch: int = FINAL_EPOCH
    forgotten: tuple[TopicPartition, ...] = ()
    #: the request header's client id (``client.id``): what client quotas are keyed by (KIP-13)
    client_id: str = ""


@dataclass(frozen=True, slots=True)
class PartitionFetchResponse:
    """``diverging_epoch``: (epoch, end_offset) when the follower's log diverged; ``batches`` are the shared
    stored batch objects; ``last_stable_offset`` is the LSO (KIP-98; the HW for a log without transactions)."""

    error: str
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    batches: tuple[RecordBatch, ...] = ()
    diverging_epoch: tuple[int, int] | None = None
    current_leader: tuple[int, int] | None = None     # (leader id, leader epoch) hint on NOT_LEADER_OR_FOLLOWER
    #: read_committed only: the aborted transactions overlapping the batches, as (producer id, first offset)
    aborted_transactions: tuple[tuple[int, int], ...] = ()

    @property
    def records_size_bytes(self) -> int:
        batches = self.batches
        if not batches:
            return 0
        if len(batches) == 1:
            return batches[0].size_bytes
        return sum(b.size_bytes for b in batches)


@dataclass(frozen=True, slots=True)
class FetchResponse:
    error: str
    responses: dict[TopicPartition, PartitionFetchResponse]
    correlation_id: int = 0
    session_id: int = INVALID_SESSION_ID
    #: how long the client's fetch quota throttles it (KIP-219); a throttled consumer fetch carries no data
    throttle_time_ms: int = 0
