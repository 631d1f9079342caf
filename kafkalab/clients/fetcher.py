"""The consumer inside the simulation: positions and the fetcher (Kafka's ``SubscriptionState`` and ``Fetcher``).

How it works. Each incarnation of a consumer's client node runs a :class:`ConsumerCore`, talking to brokers through a
:class:`~.network.ClientPort` only; the facade (:class:`~kafkalab.clients.consumer.KafkaConsumer`) drives the
simulation when ``poll``/``position`` wait.

Positions (``SubscriptionState``): every assigned partition has a position or needs one. A partition without one
first asks :meth:`ConsumerCore.committed_offset` (the group's commit, which the group client in ``core.group``
fetched before assigning it; None without a group), then resets by ``auto.offset.reset``: ``earliest``/``latest``
send a ``ListOffsets`` to the leader, ``none`` makes the next ``poll()``/``position()`` raise
:class:`~kafkalab.errors.NoOffsetForPartitionError`. Assignment changes go through one method,
:meth:`ConsumerCore.set_assignment`, which rebalances call too; a partition marked ``pending_revocation`` by the group
client hands out and fetches nothing until the rebalance takes it.

Fetching (``Fetcher``): one ``FetchRequest`` per partition leader covering every fetchable partition it leads,
``replica_id=-1``, with ``fetch.max.wait.ms``/``fetch.min.bytes`` (the broker long-polls), ``fetch.max.bytes`` and
``max.partition.fetch.bytes``, and the leader epoch the client knows (``current_leader_epoch``, KIP-320). A partition
is fetchable when it has a position, a known leader, no data buffered and no fetch in flight to its leader (one
fetch per broker at a time, as Kafka). No fetch goes to a leader of a partition whose data the application has not
polled yet (Kafka 4.0's ``AbstractFetch.prepareFetchRequests``, KAFKA-17182): such a fetch would leave that
partition out of the broker's fetch session and wait up to ``fetch.max.wait.ms`` for the leader's other partitions,
holding back the partition's next records. The answer's batches are buffered; ``poll()`` hands out at most
``max.poll.records`` and advances positions, and the next fetch goes out at once, so data arrives while the
application works on the last poll (prefetch). There is no timer while idle: the broker's long poll paces it.
A counted batch (:class:`~kafkalab.common.records.CountedRecords`) has no records to hand out: ``collect`` stops
before it and, when it has nothing else, raises ``CountedRecordsError``; :func:`kafkalab.clients.counted.collect_counts`
(``KafkaConsumer.poll_counts``) reads it.

Errors in a fetch answer: a NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH naming a newer leader (KIP-951's
``current_leader``) is taken at once; otherwise NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
FENCED_LEADER_EPOCH (and other invalid-metadata errors) refresh metadata and retry after ``retry.backoff.ms``;
OFFSET_OUT_OF_RANGE resets the position by ``auto.offset.reset`` or, with ``none``, raises
:class:`~kafkalab.errors.OffsetOutOfRangeError` from the next ``poll()``. A ``seek`` discards what was buffered or in flight for the partition.

Metadata (``ConsumerMetadata``): as Kafka's consumer, a consumer subscribed to a pattern asks for every topic on each
refresh (``MetadataRequest`` without names), keeps the topics it uses or that match the pattern, and forgets those an
all-topics answer no longer lists (deleted); internal topics never match while ``exclude.internal.topics`` is true.
The group client matches the pattern against :meth:`ConsumerMetadata.matching_topics` (the classic protocol; a
KIP-848 member sends its regex to the coordinator instead).

Transactions (KIP-98, Kafka's ``CompletedFetch.nextFetchedRecord``): control batches (COMMIT/ABORT markers) are never
handed out, under either isolation level. A ``read_committed`` consumer (``isolation.level``) fetches below the last
stable offset and drops the batches of aborted transactions: walking the fetched batches in order, an aborted
transaction of the answer's list whose first offset is at or below a batch's last offset marks its producer aborted;
that producer's transactional batches are skipped until its ABORT marker. The position moves past skipped batches, so
a fetch that returned only aborted data or markers still advances.

Fetch sessions (KIP-227, :mod:`kafkalab.clients.fetch_session`): one per broker; after a full request opens it,
a request names only the partitions added or changed since the last one and forgets those no longer fetched
(partitions with buffered data are not fetched, as in Kafka), and an answer carries only partitions with news.

Simplifications: no position validation with OffsetsForLeaderEpoch after a leader
change (KIP-320's truncation detection), no fetching from followers (KIP-392), no ``pause``/``resume``.
"""
from __future__ import annotations

import functools
import heapq
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from itertools import repeat
from typing import Any

from kafkalab.check.history import History
from kafkalab.clients.fetch_session import FetchSessionHandler
from kafkalab.clients.futures import Drive
from kafkalab.clients.metadata import ClientMetadata
from kafkalab.clients.network import ClientPort, NetworkClient
from kafkalab.common.records import ABORT_MARKER, CountedRecords, RecordBatch, RecordColumns, control_type
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.common.types import ConsumerRecord
from kafkalab.config import Config
from kafkalab.errors import (
    KafkaError,
    NoOffsetForPartitionError,
    OffsetOutOfRangeError,
    error_for_name,
)
from kafkalab.protocol.common import NONE
from kafkalab.protocol.fetch import FetchPartition, FetchRequest, FetchResponse
from kafkalab.protocol.list_offsets import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    ListOffsetsRequest,
    ListOffsetsResponse,
)
from kafkalab.protocol.metadata import MetadataRequest, MetadataResponse

__all__ = ["ConsumerCore", "PartitionState", "ConsumerMetadata"]

NodeId = Hashable
_OUT_OF_RANGE = "OFFSET_OUT_OF_RANGE"


class PartitionState:
    """One assigned partition (Kafka's ``TopicPartitionState``)."""

    __slots__ = ("position", "needs_reset", "reset_in_flight", "buffer", "buffer_index", "high_watermark",
                 "last_stable_offset", "retry_at_ms", "generation", "error", "log_start_offset", "pending_revocation",
                 "fetched_end", "fetch_part")

    def __init__(self) -> None:
        self.position: int | None = None
        self.needs_reset = False
        self.reset_in_flight = False
        self.buffer: list[RecordBatch] = []
        self.buffer_index = 0          # next batch of the buffer to hand out
        self.high_watermark = -1
        self.last_stable_offset = -1   # the LSO of the last fetch answer (read_committed's end offset)
        self.log_start_offset = -1
        self.retry_at_ms = 0.0
        self.generation = 0            # bumped by seek/reset: answers for an older generation are dropped
        self.error: KafkaError | None = None
        self.pending_revocation = False    # a group rebalance takes it soon: no records, no fetches (Kafka's too)
        self.fetched_end = -1          # offset after the last fetched batch (skipped markers/aborted data included)
        self.fetch_part: FetchPartition | None = None      # the last one sent, reused while nothing changed

    def clear_buffer(self) -> None:
        self.buffer = []
        self.buffer_index = 0
        self.fetched_end = -1

    @property
    def has_buffered(self) -> bool:
        return self.buffer_index < len(self.buffer)


def _consumer_records(topic: str, partition: int, base: int, columns: RecordColumns, start: int,
                      stop: int) -> list[ConsumerRecord]:
    """ConsumerRecords of rows ``start:stop`` of a batch whose records sit at consecutive offsets from ``base``, read
    off its columns (no row tuples built); ConsumerRecord without its Python-level __new__ (the hot path of poll)."""
    make = tuple.__new__
    cls = ConsumerRecord
    headers = columns.headers
    if start == 0 and stop == len(columns.keys):
        keys, values, stamps = columns.keys, columns.values, columns.timestamps
    else:
        keys, values, stamps = columns.keys[start:stop], columns.values[start:stop], columns.timestamps[start:stop]
        headers = None if headers is None else headers[start:stop]
    return [make(cls, (topic, partition, offset, ts, key, value, hdrs))
            for offset, key, value, ts, hdrs in zip(range(base + start, base + stop), keys, values, stamps,
                                                     repeat((), stop - start) if headers is None else headers,
                                                     strict=True)]


def _visible_batches(batches: Sequence[RecordBatch], aborted: Sequence[tuple[int, int]],
                     isolation_level: int) -> list[RecordBatch]:
    """The batches a consumer may hand out: no control batches; under read_committed (``isolation_level=1``) no
    batches of the aborted transactions ``aborted`` ((producer id, first offset) pairs)."""
    if isolation_level == 0 or not aborted:
        for b in batches:
            if b.is_control:
                return [b for b in batches if not b.is_control]
        return list(batches)
    pending = sorted(aborted, key=lambda a: (a[1], a[0]))
    index = 0
    aborted_pids: dict[int, None] = {}
    kept: list[RecordBatch] = []
    for b in batches:
        if b.producer_id >= 0:
            last = b.last_offset
            while index < len(pending) and pending[index][1] <= last:
                aborted_pids[pending[index][0]] = None
                index += 1
        if b.is_control:
            if control_type(b) == ABORT_MARKER:
                aborted_pids.pop(b.producer_id, None)
            continue
        if b.is_transactional and b.producer_id in aborted_pids:
            continue
        kept.append(b)
    return kept


class ConsumerMetadata(ClientMetadata):
    """Kafka's ``ConsumerMetadata``: the client metadata of a consumer, which asks for every topic while
    :attr:`pattern` is set (``newMetadataRequestBuilder`` returning ``allTopics`` for a pattern subscription)."""

    def __init__(self, metadata_max_age_ms: float, retry_backoff_ms: float, retry_backoff_max_ms: float,
                 broker_node: Callable[[int], NodeId] | None = None, exclude_internal_topics: bool = True) -> None:
        super().__init__(metadata_max_age_ms, retry_backoff_ms, retry_backoff_max_ms, broker_node)
        self.exclude_internal_topics = exclude_internal_topics
        #: the pattern subscription's regex (the classic protocol matches it here), else None
        self.pattern: re.Pattern[str] | None = None
        #: every topic of the last all-topics answer: name -> is_internal
        self.cluster_topics: dict[str, bool] = {}
        #: a regex the coordinator resolves (KIP-848's SubscriptionPattern): Kafka's consumer then asks for every
        #: topic too (``hasRe2JPatternSubscription``), so its metadata requests never auto-create a topic
        self.server_pattern = False
        self._asked_all = False

    @property
    def needs_metadata(self) -> bool:
        """Whether there is anything to refresh: topics in use, or a pattern to match."""
        return bool(self.wanted) or self.pattern is not None or self.server_pattern

    def request(self, correlation_id: int, now_ms: float) -> MetadataRequest:
        request = super().request(correlation_id, now_ms)
        self._asked_all = self.pattern is not None or self.server_pattern
        return MetadataRequest(None, correlation_id) if self._asked_all else request

    def update(self, response: MetadataResponse, now_ms: float) -> None:
        asked_all, self._asked_all = self._asked_all, False
        super().update(response, now_ms)
        if not asked_all:
            return
        listed = {t.name: t.is_internal for t in response.topics if t.error == NONE}
        self.cluster_topics = dict(sorted(listed.items()))
        # Kafka's retainTopic: keep what is used or matches; an all-topics answer that omits a topic means it is gone
        for name in [t for t in self.topics if t not in listed or (t not in self.wanted and not self._matches(t))]:
            del self.topics[name]

    def _matches(self, topic: str) -> bool:
        pattern = self.pattern
        if pattern is None or (self.exclude_internal_topics and self.cluster_topics.get(topic, False)):
            return False
        return pattern.fullmatch(topic) is not None

    def matching_topics(self) -> tuple[str, ...]:
        """The topics of the last all-topics answer the pattern matches in full (Java's ``Matcher.matches``),
        sorted; internal topics only with ``exclude.internal.topics=false``."""
        return tuple(t for t in self.cluster_topics if self._matches(t))


class ConsumerCore:
    """One incarnation of a consumer inside the simulation: positions, fetcher, offset resets."""

    def __init__(self, port: ClientPort, config: Config, *, bootstrap: Sequence[NodeId], drive: Drive,
                 history: History | None, broker_node: Callable[[int], NodeId] | None = None) -> None:
        self.port = port
        self.node_id = port.node_id
        self.config = config
        self.drive = drive
        self.history = history
        self.bootstrap = list(bootstrap)
        self.reset_strategy: str = config["auto.offset.reset"]
        self.max_poll_records = int(config["max.poll.records"])
        self.fetch_max_wait_ms = int(config["fetch.max.wait.ms"])
        self.fetch_min_bytes = int(config["fetch.min.bytes"])
        self.fetch_max_bytes = int(config["fetch.max.bytes"])
        self.max_partition_fetch_bytes = int(config["max.partition.fetch.bytes"])
        self.isolation_level = 1 if config["isolation.level"] == "read_committed" else 0
        self.client_id = str(config["client.id"] or port.node_id)      # the request header's client id (quotas)
        self.retry_backoff_ms = float(config["retry.backoff.ms"])
        self.request_timeout_ms = float(config["request.timeout.ms"])
        self.default_api_timeout_ms = float(config["default.api.timeout.ms"])
        self.metadata = ConsumerMetadata(float(config["metadata.max.age.ms"]), self.retry_backoff_ms,
                                         max(float(config["retry.backoff.max.ms"]), self.retry_backoff_ms), broker_node,
                                         exclude_internal_topics=bool(config["exclude.internal.topics"]))
        # A fetch waits up to fetch.max.wait.ms at the broker: its timeout covers that too (as Kafka's does).
        self.network = NetworkClient(port, request_timeout_ms=self.request_timeout_ms + self.fetch_max_wait_ms,
                                     reconnect_backoff_ms=float(config["reconnect.backoff.ms"]),
                                     max_in_flight=5, on_disconnect=lambda node: self.metadata.request_update())
        self.assignment: dict[TopicPartition, PartitionState] = {}
        # Indexes kept so a poll costs what it hands out, not the number of assigned partitions (issue 14): the
        # partitions that may have buffered data, and those that may hold an error for the application. Both may
        # hold stale entries (checked against the state and dropped when read); every place that buffers data or
        # sets an error adds to them. Read in assignment order (``_order``), as a walk of ``assignment`` would be.
        self._buffered: dict[TopicPartition, None] = {}
        self._buffered_heap: list[tuple[int, TopicPartition]] = []    # the same, by assignment order
        self._problems: dict[TopicPartition, None] = {}
        self._order: dict[TopicPartition, int] = {}
        self._fetching: dict[NodeId, None] = {}        # brokers with a fetch in flight
        self._sessions: dict[NodeId, FetchSessionHandler] = {}     # incremental fetch sessions (KIP-227)
        self._reset_override: dict[TopicPartition, str] = {}   # seek_to_beginning/end until the reset is done
        self._rng = port.rng("consumer")
        self._timer: Any = None
        self._timer_at = float("inf")
        self.records_fetched = 0
        self.fetches_sent = 0
        self.closed = False
        #: the group client (a :class:`~kafkalab.clients.group_common.GroupMembership`) when ``group.id`` is set
        self.group: Any = None

    # -- the port's side -------------------------------------------------------------------------------------------
    def on_message(self, src: Any, msg: Any) -> None:
        group = self.group
        if group is not None and group.on_message(src, msg):
            return        # an answer on the group client's own coordinator connection
        self.network.on_message(src, msg)

    # -- group hooks ---------------------------------------------------------------------------------------------------
    def committed_offset(self, tp: TopicPartition) -> int | None:
        """The group's committed offset for ``tp``; None without a group or commit (the position comes from the
        reset strategy). The group client fetches it before it assigns the partition."""
        group = self.group
        return group.committed_offset(tp) if group is not None else None

    def set_assignment(self, partitions: Iterable[TopicPartition]) -> None:
        """The one place assignment changes: kept partitions keep their state, new ones start without a position."""
        new: dict[TopicPartition, PartitionState] = {}
        for tp in partitions:
            state = self.assignment.get(tp)
            if state is None:
                state = PartitionState()
                committed = self.committed_offset(tp)
                if committed is not None:
                    state.position = committed
                else:
                    state.needs_reset = True
                    self._problems[tp] = None
            new[tp] = state
        self.assignment = new
        self._order = order = {tp: i for i, tp in enumerate(new)}
        self._buffered = {tp: None for tp in self._buffered if tp in new and new[tp].has_buffered}
        self._buffered_heap = sorted((order[tp], tp) for tp in self._buffered)
        self.metadata.add_topics(tp.topic for tp in new)
        self.wakeup()

    # -- positions ---------------------------------------------------------------------------------------------------
    def seek(self, tp: TopicPartition, offset: int) -> None:
        state = self._state(tp)
        state.position = offset
        state.needs_reset = False
        state.reset_in_flight = False
        state.error = None
        state.generation += 1
        state.clear_buffer()
        self.wakeup()

    def seek_to(self, tp: TopicPartition, strategy: str) -> None:
        """Reset ``tp`` by ``"earliest"``/``"latest"`` (``seekToBeginning``/``seekToEnd``)."""
        state = self._state(tp)
        state.position = None
        state.needs_reset = True
        state.reset_in_flight = False
        state.error = None
        state.generation += 1
        state.clear_buffer()
        self._reset_override[tp] = strategy
        self._problems[tp] = None
        self.wakeup()

    def _state(self, tp: TopicPartition) -> PartitionState:
        state = self.assignment.get(tp)
        if state is None:
            assigned = ", ".join(str(t) for t in self.assignment) or "nothing"
            raise ValueError(f"partition {tp} is not assigned to this consumer (assigned: {assigned})")
        return state

    def pending_error(self) -> KafkaError | None:
        """The first partition error the application must see (no offset and reset none, out of range)."""
        problems = self._problems
        if not problems:
            return None
        for tp in self._in_order(problems):
            state = self.assignment.get(tp)
            if state is None:
                del problems[tp]
                continue
            if state.error is not None:
                return state.error
            if state.needs_reset:
                if self._strategy(tp) == "none":
                    return NoOffsetForPartitionError(f"Undefined offset with no reset policy for partitions: [{tp}]")
            else:
                del problems[tp]
        return None

    def _in_order(self, tps: dict[TopicPartition, None]) -> list[TopicPartition]:
        """The partitions of an index in assignment order (unassigned ones last)."""
        order = self._order
        if len(tps) == 1:
            return list(tps)
        return sorted(tps, key=lambda tp: order.get(tp, len(order)))

    def _strategy(self, tp: TopicPartition) -> str:
        return self._reset_override.get(tp, self.reset_strategy)

    # -- collecting records ------------------------------------------------------------------------------------------
    def _note_buffered(self, tp: TopicPartition) -> None:
        if tp not in self._buffered:
            self._buffered[tp] = None
            heapq.heappush(self._buffered_heap, (self._order.get(tp, len(self._order)), tp))

    def has_records(self) -> bool:
        buffered = self._buffered
        if not buffered:
            return False
        heap = self._buffered_heap
        assignment = self.assignment
        while heap:
            tp = heap[0][1]
            state = assignment.get(tp)
            if state is not None and state.has_buffered:
                if not state.pending_revocation:
                    return True
                break
            heapq.heappop(heap)
            buffered.pop(tp, None)
        for tp in buffered:          # the first one is being revoked (rare): look at the others
            state = assignment.get(tp)
            if state is not None and state.has_buffered and not state.pending_revocation:
                return True
        return False

    def collect(self, max_records: int, reads: list[tuple[Any, ...]] | None = None) -> list[ConsumerRecord]:
        """Up to ``max_records`` buffered records, partition by partition; advances positions. ``reads`` (for the
        history) gets what was read: a whole batch as one (topic, partition, base offset, rows) entry, which costs
        nothing per record, part of a batch as the same with a slice of its rows, other records as (topic,
        partition, offset, key, value)."""
        out: list[ConsumerRecord] = []
        make = tuple.__new__            # ConsumerRecord without its Python-level __new__ (the hot path of poll)
        cls = ConsumerRecord
        buffered = self._buffered
        if not buffered:
            return out
        assignment = self.assignment
        heap = self._buffered_heap
        keep: list[tuple[int, TopicPartition]] = []      # visited and still buffered: back into the heap
        drained = False
        counted: CountedRecords | None = None
        while heap and len(out) < max_records:
            entry = heapq.heappop(heap)
            tp = entry[1]
            state = assignment.get(tp)
            if state is None or not state.has_buffered:
                buffered.pop(tp, None)
                continue
            if state.position is None or state.pending_revocation:
                keep.append(entry)
                continue
            topic, partition = tp
            position = state.position
            while state.buffer_index < len(state.buffer) and len(out) < max_records:
                batch = state.buffer[state.buffer_index]
                if batch.next_offset <= position:
                    state.buffer_index += 1
                    continue
                records = batch.columns
                if type(records) is CountedRecords:
                    counted = records          # no records to build: poll_counts() reads it (raised below)
                    break
                base = batch.base_offset
                if batch.offset_deltas is None and base >= position and len(records) <= max_records - len(out):
                    out.extend(_consumer_records(topic, partition, base, records, 0, len(records)))
                    if reads is not None:
                        reads.append((topic, partition, base, records))
                    position = batch.next_offset
                    state.buffer_index += 1
                    continue
                if batch.offset_deltas is None:
                    # Contiguous offsets, part of the batch wanted (a poll's max_records cut it, or the position is
                    # inside it): the same records, with the history's read entry a slice of the batch's rows.
                    start = max(0, position - base)
                    end = min(len(records), start + max_records - len(out))
                    if start < end:
                        out.extend(_consumer_records(topic, partition, base, records, start, end))
                        if reads is not None:
                            # a view of the batch's rows, not a copy of them: the history keeps it
                            reads.append((topic, partition, base + start, records.window(start, end)))
                        position = base + end
                    if end >= len(records):
                        position = max(position, batch.next_offset)
                        state.buffer_index += 1
                    continue
                offsets = batch.offsets()
                taken_all = True
                for i in range(len(records)):
                    offset = offsets[i]
                    if offset < position:
                        continue
                    if len(out) >= max_records:
                        taken_all = False
                        break
                    key, value, ts, headers = records[i]
                    out.append(make(cls, (topic, partition, offset, ts, key, value, headers)))
                    if reads is not None:
                        reads.append((topic, partition, offset, key, value))
                    position = offset + 1
                if taken_all:
                    position = max(position, batch.next_offset)
                    state.buffer_index += 1
            if not state.has_buffered:
                if state.fetched_end > position:
                    position = state.fetched_end       # skipped markers or aborted batches at the end
                state.clear_buffer()
                del buffered[tp]
                drained = True
            else:
                keep.append(entry)
            state.position = position
        for entry in keep:
            heapq.heappush(heap, entry)
        if out or drained:
            self.wakeup()        # fetch the next data while the application works (a drained buffer frees its leader)
        if counted is not None and not out:
            raise counted._refuse()
        return out

    # -- the fetcher -------------------------------------------------------------------------------------------------
    def wakeup(self) -> None:
        self._wakeup_at(self.port.now)

    def _wakeup_at(self, at_ms: float) -> None:
        if at_ms >= self._timer_at or self.closed:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at_ms
        self._timer = self.port.set_timer(max(0.0, at_ms - self.port.now), self._run_once, name="fetcher")

    def _run_once(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        if self.closed:
            return
        now = self.port.now
        md = self.metadata
        next_ms = float("inf")
        if md.needs_metadata and md.time_to_next_update_ms(now) <= 0:
            self._send_metadata(now)
        next_ms = min(next_ms, self._send_resets(now))
        next_ms = min(next_ms, self._send_fetches(now))
        if md.needs_metadata:
            next_ms = min(next_ms, md.time_to_next_update_ms(now))   # refreshes and metadata.max.age.ms
        if next_ms < float("inf"):
            self._wakeup_at(now + max(next_ms, 0.0))

    def _send_metadata(self, now: float) -> None:
        self.network.request_metadata(self.metadata, self.bootstrap, now, self._rng, self._on_metadata)

    def _on_metadata(self, response: Any, error: str | None) -> None:
        if error is not None or not isinstance(response, MetadataResponse):
            self.metadata.failed(self.port.now)
        else:
            self.metadata.update(response, self.port.now)
        self.wakeup()

    def _send_resets(self, now: float) -> float:
        by_node: dict[NodeId, dict[TopicPartition, int]] = {}
        wait = float("inf")
        for tp, state in self.assignment.items():
            if not state.needs_reset or state.reset_in_flight:
                continue
            strategy = self._strategy(tp)
            if strategy == "none":
                continue
            if state.retry_at_ms > now:
                wait = min(wait, state.retry_at_ms - now)
                continue
            leader = self.metadata.leader_node(tp)
            if leader is None:
                self.metadata.request_update()
                continue
            by_node.setdefault(leader, {})[tp] = EARLIEST_TIMESTAMP if strategy == "earliest" else LATEST_TIMESTAMP
        for node, parts in by_node.items():
            generations = {tp: self.assignment[tp].generation for tp in parts}
            for tp in parts:
                self.assignment[tp].reset_in_flight = True
            self.network.send(node, lambda cid, parts=parts: ListOffsetsRequest(  # type: ignore[misc]
                parts, isolation_level=self.isolation_level, correlation_id=cid),
                functools.partial(self._on_list_offsets, generations))
        return wait

    def _on_list_offsets(self, generations: dict[TopicPartition, int], response: Any, error: str | None) -> None:
        now = self.port.now
        for tp, generation in generations.items():
            state = self.assignment.get(tp)
            if state is None or state.generation != generation:
                continue
            state.reset_in_flight = False
            part = response.responses.get(tp) if isinstance(response, ListOffsetsResponse) else None
            if error is None and part is not None and part.error == NONE:
                state.position = part.offset
                state.needs_reset = False
                self._reset_override.pop(tp, None)
                self.port.record("consumer.offset_reset", part.offset, topic=tp.topic, partition=tp.partition,
                                 strategy=self._strategy(tp))
            else:
                self.metadata.request_update()
                state.retry_at_ms = now + self.retry_backoff_ms
        self.wakeup()

    def _send_fetches(self, now: float) -> float:
        by_node: dict[NodeId, dict[TopicPartition, FetchPartition]] = {}
        generations: dict[NodeId, dict[TopicPartition, int]] = {}
        wait = float("inf")
        md = self.metadata
        topics = md.topics
        brokers = md.brokers
        fetching = self._fetching
        ready: dict[NodeId, bool] = {}          # per leader: may a fetch go to it now (asked once per call)
        # A leader of a partition with data the application has not polled yet gets no fetch (KAFKA-17182): its
        # fetch would leave that partition out, and the wait for the others would hold back the partition's next
        # data until it ends. The poll that drains the data wakes the fetcher.
        blocked = self._leaders_with_buffered() if self._buffered else ()
        max_bytes = self.max_partition_fetch_bytes
        for tp, state in self.assignment.items():
            if state.position is None or state.needs_reset or state.buffer_index < len(state.buffer) \
                    or state.error is not None or state.pending_revocation:
                continue
            if state.retry_at_ms > now:
                wait = min(wait, state.retry_at_ms - now)
                continue
            # md.partition and md.leader_node, inlined (this loop runs over every assigned partition)
            infos = topics.get(tp[0])
            info = infos[tp[1]] if infos is not None and 0 <= tp[1] < len(infos) else None
            if info is None or info.leader < 0:
                leader = None
            else:
                leader = brokers.get(info.leader)
                if leader is None:
                    leader = md.leader_node(tp)
            if leader is None:
                md.request_update()
                continue
            if leader in blocked:
                continue
            ok = ready.get(leader)
            if ok is None:
                ok = ready[leader] = leader not in fetching and self.network.is_ready(leader, now)
            if not ok:
                if leader not in fetching:
                    wait = min(wait, max(self.network.backoff_remaining_ms(leader, now), 1.0))
                continue
            epoch = info.leader_epoch  # type: ignore[union-attr]
            fp = state.fetch_part
            if fp is None or fp.fetch_offset != state.position or fp.current_leader_epoch != epoch:
                fp = state.fetch_part = FetchPartition(state.position, max_bytes, epoch)
            node_parts = by_node.get(leader)
            if node_parts is None:
                node_parts = by_node[leader] = {}
                generations[leader] = {}
            node_parts[tp] = fp
            generations[leader][tp] = state.generation
        for node, parts in by_node.items():
            self._fetching[node] = None
            session = self._sessions.get(node)
            if session is None:
                session = self._sessions[node] = FetchSessionHandler()
            full = session.is_full
            session_id, epoch = session.session_id, session.epoch
            request_parts, forgotten = session.build(parts)
            self.network.send(node, lambda cid, p=request_parts, f=forgotten, i=session_id, e=epoch: FetchRequest(
                -1, self.fetch_max_wait_ms, self.fetch_min_bytes, self.fetch_max_bytes, p,  # type: ignore[misc]
                isolation_level=self.isolation_level, correlation_id=cid, session_id=i, session_epoch=e,
                forgotten=f, client_id=self.client_id),
                functools.partial(self._on_fetch, node, generations[node], full))
            self.fetches_sent += 1
        return wait

    def _leaders_with_buffered(self) -> set[NodeId]:
        """The leaders of the partitions holding fetched data the application has not polled yet (Kafka's
        ``AbstractFetch.nodesWithBufferedPartitions``). A partition about to be revoked does not count: it hands out
        nothing until the rebalance takes it (Kafka drops such data on the next poll, and skips paused ones)."""
        nodes: set[NodeId] = set()
        assignment = self.assignment
        for tp in self._buffered:
            state = assignment.get(tp)
            if state is None or not state.has_buffered or state.position is None or state.pending_revocation:
                continue
            leader = self.metadata.leader_node(tp)
            if leader is not None:
                nodes.add(leader)
        return nodes

    def _on_fetch(self, node: NodeId, generations: dict[TopicPartition, int], full: bool, response: Any,
                  error: str | None) -> None:
        self._fetching.pop(node, None)
        now = self.port.now
        fetched = 0
        size = 0
        session = self._sessions[node]
        if error is not None or not isinstance(response, FetchResponse):
            session.handle_error()
        elif not session.handle_response(response, full):
            self.port.record("consumer.fetch_session_errors", 1, error=response.error, broker=str(node))
            self.wakeup()         # start over with a full request at once (Kafka's next poll does)
            return
        elif not full:
            # An incremental answer carries only the partitions with news; the others have nothing new.
            generations = {tp: generations[tp] for tp in response.responses if tp in generations}
        resend = session.resend
        for tp, generation in generations.items():
            state = self.assignment.get(tp)
            if state is None or state.generation != generation:
                resend(tp)
                continue     # unassigned or sought meanwhile: this data is for an old position
            part = response.responses.get(tp) if isinstance(response, FetchResponse) and error is None else None
            if part is None:
                state.retry_at_ms = now + self.retry_backoff_ms
                continue
            if part.batches or part.error != NONE:
                resend(tp)        # used (or to retry): the broker reads it again only when named
            if part.error == NONE:
                state.high_watermark = part.high_watermark
                state.last_stable_offset = part.last_stable_offset
                state.log_start_offset = part.log_start_offset
                if part.batches:
                    batches = part.batches
                    kept = _visible_batches(batches, part.aborted_transactions, self.isolation_level)
                    state.buffer = kept
                    state.buffer_index = 0
                    if kept:
                        self._note_buffered(tp)
                    state.fetched_end = batches[-1].next_offset
                    if not kept and state.position is not None and state.fetched_end > state.position:
                        state.position = state.fetched_end
                    fetched += sum(b.record_count for b in kept)
                    size += part.records_size_bytes
                continue
            self.port.record("consumer.fetch_errors", 1, error=part.error, topic=tp.topic, partition=tp.partition)
            if part.error == _OUT_OF_RANGE:
                strategy = self._strategy(tp)
                if strategy == "none":
                    state.error = OffsetOutOfRangeError(
                        f"Fetch position FetchPosition{{offset={state.position}}} is out of range for partition "
                        f"{tp}")
                    self._problems[tp] = None
                else:
                    state.position = None
                    state.needs_reset = True
                    state.generation += 1
                    self._problems[tp] = None
                continue
            cls = error_for_name(part.error)
            hint = part.current_leader
            if hint is not None and self.metadata.update_leader(tp, hint[0], hint[1]):
                continue          # KIP-951: the answer named a newer leader; fetch from it at once
            if cls.invalid_metadata:
                self.metadata.request_update()
            state.retry_at_ms = now + self.retry_backoff_ms
        if fetched:
            self.records_fetched += fetched
            self.port.record("consumer.fetch", fetched, bytes=size, broker=str(node))
        self.wakeup()

    def abandon(self) -> None:
        self.closed = True
