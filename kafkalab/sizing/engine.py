"""The sizing engine: Kafka's data path for counted batches (no record objects) on the hardware model, in virtual time.

How it works. A small discrete-event loop (a heap of ``(time, seq, kind, args)``; ``seq`` breaks ties, so a run is a
pure function of the workload, the hardware and the seed) moves *batches that carry only a record count, a byte size
and their records' first and last creation times* through the hops of :mod:`kafkalab.broker` and
:mod:`kafkalab.clients`:

1. **Producers** (Kafka's ``RecordAccumulator`` and ``Sender``). Records are due at the producer's share of ``rate``
   (evenly spaced, or back to back with ``rate=None``; never faster than ``producer_us_per_record``). A batch opens
   with its first record and is ready when ``batch.size`` is full or ``linger.ms`` after it opened; the sticky
   partitioner (KIP-480/794) keeps a partition for ``batch.size`` bytes and then draws the next from the producer's
   random stream. Ready batches queue per leader; one request per leader carries everything queued, at most
   ``max.in.flight.requests.per.connection`` unanswered per leader. ``buffer.memory`` bounds unacknowledged bytes:
   when it is full the producer blocks, and records due meanwhile are created when it unblocks (the publish delay,
   as the OpenMessaging Benchmark reports it, measures how far behind schedule that leaves them).
2. **Leaders** (``SocketServer``, ``KafkaRequestHandlerPool``, ``UnifiedLog``). A produce request crosses the client's
   link and the leader's NIC-in (:mod:`kafkalab.sim.network`'s shared-NIC rule), takes a network thread and then a
   request-handler thread (:class:`~kafkalab.broker.hardware.ThreadPool`), then the page cache
   (:class:`~kafkalab.broker.hardware.DiskModel`: waits only beyond the dirty limit), and is appended. With acks=1
   it is answered then; with acks=all when the high watermark has passed it (``DelayedProduce``).
3. **Replication** (``ReplicaFetcherThread``, ``DelayedFetch``). One fetcher per (leader, follower) long-polls: a
   parked fetch is answered as soon as the leader has new data for the follower's partitions, with all of it (up to
   ``replica.fetch.response.max.bytes``, 10 MiB); the response crosses the leader's NIC-out and the follower's NIC-in,
   the follower's fetcher thread and its page cache; its next fetch tells the leader its log end, which advances the
   high watermark (the minimum over the in-sync replicas; no replica falls out of the ISR here).
4. **Consumers** (``Fetcher``, ``DelayedFetch``). Each consumer owns partitions (round robin) and long-polls every
   leader of them; a fetch is answered once the high watermark passes its position, with up to ``fetch.max.bytes``
   (50 MiB). Data more than ``page_cache_mb`` behind the broker's newest byte is read from disk. End-to-end latency is
   the time from a record's creation to its arrival at the consumer (after ``consumer_us_per_record`` each).

Partitions that share a leader, replica set and consumer move together as one *stream*, because every fetch carries
all of them: the engine's cost grows with batches and requests, not with partitions or records. Replica placement is
Kafka's round robin without racks: partition p on brokers p, p+1, ... (mod brokers), leader first.

Simplifications (named here): no per-partition fetch limits (``max.partition.fetch.bytes``), an idle long poll never
times out (it would carry no data), the ISR never shrinks, no request or response headers beyond a fixed 100 bytes
plus 40 per partition batch, clients have no NIC limit (the OMB clients are larger machines than the brokers), no
quotas, and with ``acks=0`` a batch counts as acknowledged when the leader appends it (Kafka's client completes it
when it is sent). A consumer fetches its next response only after handing out the last one (no prefetch), and the
NIC-in of a broker is booked when a message is sent, into the earliest free gap at or after its arrival
(:class:`~kafkalab.sim.network.NicInQueue`).
"""
from __future__ import annotations

import heapq
import random
from array import array
from collections import deque
from typing import Any

from kafkalab.broker.hardware import DiskModel, Hardware, ThreadPool
from kafkalab.sim.kernel import derive_seed
from kafkalab.sim.network import LinkSpec, NicInQueue
from kafkalab.sizing.workload import BATCH_OVERHEAD, SizingWorkload

__all__ = ["Engine"]

_HEADER = 100                # bytes of a request or response beyond its batches
_PER_BATCH = 40              # bytes per partition entry in a request or response
_REPLICA_FETCH_MAX = 10 * 1024 * 1024
_CONSUMER_FETCH_MAX = 50 * 1024 * 1024
_MAX_REQUEST = 1024 * 1024   # max.request.size

# event kinds
_FORM, _READY, _PRODUCE_AT_LEADER, _APPEND, _PRODUCE_RESPONSE = 0, 1, 2, 3, 4
_REPLICA_DATA, _REPLICA_APPENDED, _FETCH_AT_LEADER = 5, 6, 7
_CONSUMER_DATA, _CONSUMER_FETCH_AT_LEADER, _FETCH_HANDLED = 8, 9, 10


class _Stream:
    """The partitions of one (leader, replica set, consumer): appended bytes, replication and consumption."""

    __slots__ = ("leader", "followers", "consumer", "end", "end_records", "hw", "leo", "waiters", "chunks",
                 "consumed", "partitions")

    def __init__(self, leader: int, followers: tuple[int, ...], consumer: int) -> None:
        self.leader = leader
        self.followers = followers
        self.consumer = consumer
        self.end = 0                          # bytes appended at the leader
        self.end_records = 0
        self.hw = 0                           # high watermark, in bytes
        self.leo = {f: 0 for f in followers}  # the leader's view of each follower's log end
        self.waiters: deque[tuple[int, list[Any]]] = deque()   # (end bytes, request) waiting for the HW
        # (end bytes, records, first created, last created, broker bytes appended before it) per batch, kept for a
        # consumer until it has read them
        self.chunks: deque[tuple[int, int, float, float, float]] = deque()
        self.consumed = 0
        self.partitions = 0


class Engine:
    """One sizing run. Build, :meth:`run`, then read the recorded arrays (see :mod:`kafkalab.sizing.result`)."""

    def __init__(self, workload: SizingWorkload, brokers: int, hardware: dict[int, Hardware], network: LinkSpec,
                 seed: int) -> None:
        self.w = workload
        self.seed = seed
        self.brokers = list(range(brokers))
        self.hw = [hardware[b] for b in self.brokers]
        self.net = network
        self._heap: list[tuple[float, int, int, Any]] = []
        self._seq = 0
        self.now = 0.0
        self.events = 0
        self._jitter = random.Random(derive_seed(seed, "sizing/net"))
        self._links: dict[tuple[int, int], list[float]] = {}      # (src, dst) -> [free at, last arrival]
        self.nic_out = [[h.nic_bytes_per_ms or 0.0, 0.0] for h in self.hw]      # [bytes per ms (0: none), free at]
        self.nic_in = [NicInQueue(h.nic_bytes_per_ms) if h.nic_bytes_per_ms else None for h in self.hw]
        self.net_threads = [ThreadPool(h.network_threads) for h in self.hw]
        self.io_threads = [ThreadPool(h.io_threads) for h in self.hw]
        self.fetchers = [ThreadPool(1) for _ in self.hw]
        self.disks = [DiskModel(h) for h in self.hw]
        self.appended = [0.0] * brokers                          # bytes appended per broker (leader and follower)
        self._place()
        self._producers_init()
        # what the result reads: per acknowledged batch and per consumed batch
        self.ack_time, self.ack_first, self.ack_last, self.ack_n = array("d"), array("d"), array("d"), array("d")
        self.delay = array("d")                                    # publish delay of each batch's first record
        self.con_time, self.con_first, self.con_last, self.con_n = array("d"), array("d"), array("d"), array("d")
        self.requests = 0
        self.fetch_responses = 0
        self.created = 0

    # -- placement ---------------------------------------------------------------------------------------------------
    def _place(self) -> None:
        w, n = self.w, len(self.brokers)
        if w.replication_factor > n:
            raise ValueError(f"sizing: replication_factor {w.replication_factor} is larger than the number of "
                             f"brokers ({n})")
        self.streams: list[_Stream] = []
        self.partition_stream: list[int] = []
        index: dict[tuple[int, tuple[int, ...], int], int] = {}
        for p in range(w.partitions):
            replicas = tuple((p + i) % n for i in range(w.replication_factor))
            consumer = p % w.consumers if w.consumers else -1
            key = (replicas[0], replicas[1:], consumer)
            if key not in index:
                index[key] = len(self.streams)
                self.streams.append(_Stream(replicas[0], replicas[1:], consumer))
            self.streams[index[key]].partitions += 1
            self.partition_stream.append(index[key])
        # per (leader, follower): the streams it replicates; per (leader, consumer): the streams it reads
        self.replica_streams: dict[tuple[int, int], list[_Stream]] = {}
        self.consumer_streams: dict[tuple[int, int], list[_Stream]] = {}
        for s in self.streams:
            for f in s.followers:
                self.replica_streams.setdefault((s.leader, f), []).append(s)
            if s.consumer >= 0:
                self.consumer_streams.setdefault((s.leader, s.consumer), []).append(s)
        self.fetch_parked: dict[tuple[int, int], bool] = dict.fromkeys(self.replica_streams, False)
        self.follower_pos: dict[tuple[int, int], dict[int, int]] = {
            key: {id(s): 0 for s in ss} for key, ss in self.replica_streams.items()}
        self.consumer_parked: dict[tuple[int, int], bool] = dict.fromkeys(self.consumer_streams, False)
        self.c_free = [0.0] * max(w.consumers, 1)          # when each consumer's application thread is free

    # -- producers ---------------------------------------------------------------------------------------------------
    def _producers_init(self) -> None:
        w = self.w
        total = w.records
        if total is None:
            total = int(round(w.rate * w.duration_s)) if w.rate is not None else None
        share = [None if total is None else total // w.producers + (1 if i < total % w.producers else 0)
                 for i in range(w.producers)]
        per = w.rate / w.producers if w.rate is not None else None
        spacing = 1000.0 / per if per else 0.0
        self.spacing = max(spacing, w.producer_us_per_record / 1000.0)
        self.end_ms = w.duration_s * 1000.0
        self.p_left = share                                      # records still to create (None = until end_ms)
        self.p_next = [0.0] * w.producers                        # when the next record is due
        self.p_rng = [random.Random(derive_seed(self.seed, f"sizing/producer-{i}")) for i in range(w.producers)]
        self.p_partition = [r.randrange(w.partitions) for r in self.p_rng]
        self.p_stint = [0] * w.producers                         # bytes sent to the sticky partition so far
        self.p_buffered = [0] * w.producers
        self.p_blocked = [False] * w.producers
        self.p_open: list[list[Any] | None] = [None] * w.producers   # partition, first due, opened, cap, cap time
        self.p_token = [0] * w.producers
        self.p_waiting = [-1] * w.producers                          # leader whose free slot the open batch awaits
        self.p_done = [False] * w.producers
        self.p_inflight = [[0] * len(self.brokers) for _ in range(w.producers)]
        # per producer and leader: partition -> its closed batches waiting to be sent, oldest first
        self.p_queue: list[list[dict[int, deque[list[Any]]]]] = [[{} for _ in self.brokers]
                                                                  for _ in range(w.producers)]
        for i in range(w.producers):
            self._post(0.0, _FORM, i)
        for (leader, follower) in self.replica_streams:
            self._post(0.0, _FETCH_AT_LEADER, (leader, follower, None))
        for (leader, consumer) in self.consumer_streams:
            self._post(w.consumer_lag_s * 1000.0, _CONSUMER_FETCH_AT_LEADER, (leader, consumer))

    # -- the loop ----------------------------------------------------------------------------------------------------
    def _post(self, at: float, kind: int, args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, kind, args))

    def run(self, limit_ms: float | None = None) -> None:
        """Run until every record is acknowledged and consumed (or ``limit_ms`` of virtual time)."""
        heap = self._heap
        pop = heapq.heappop
        handlers = (self._form, self._ready, self._produce_at_leader, self._append, self._produce_response,
                    self._replica_data, self._replica_appended, self._fetch_at_leader, self._consumer_data,
                    self._consumer_fetch_at_leader, self._fetch_handled)
        events = 0
        while heap:
            at, _, kind, args = pop(heap)
            if limit_ms is not None and at > limit_ms:
                heapq.heappush(heap, (at, 0, kind, args))
                break
            self.now = at
            events += 1
            handlers[kind](args)
        self.events += events

    # -- network -----------------------------------------------------------------------------------------------------
    def _send(self, src: int, dst: int, size: int, at: float) -> float:
        """When ``size`` bytes sent from ``src`` at ``at`` arrive at ``dst`` (nodes >= len(brokers) are clients)."""
        spec = self.net
        link = self._links.get((src, dst))
        if link is None:
            link = self._links[(src, dst)] = [0.0, 0.0]
        start = link[0] if link[0] > at else at
        rate = spec.bandwidth_bytes_per_ms
        done = start + size / rate if rate else start
        link[0] = done
        nb = len(self.brokers)
        if src < nb:
            out = self.nic_out[src]
            if out[0]:
                begin = out[1] if out[1] > at else at
                out[1] = begin + size / out[0]
                if out[1] > done:
                    done = out[1]
        if dst < nb:
            inn = self.nic_in[dst]
            if inn is not None:
                done = inn.book(done + spec.latency_ms, size, at) - spec.latency_ms
        arrival = done + spec.latency_ms
        if spec.jitter_ms:
            arrival += self._jitter.random() * spec.jitter_ms
        if arrival < link[1]:
            arrival = link[1]
        link[1] = arrival
        return arrival

    def _request_cpu(self, broker: int, at: float, size: int, per_byte: bool) -> float:
        """A request through a network thread and a request-handler thread of ``broker``: when it is handled."""
        h = self.hw[broker]
        done = self.net_threads[broker].admit(at, (h.network_request_us + size * h.network_byte_ns * 1e-3) * 1e-3)
        return self.io_threads[broker].admit(done, (h.request_us + (size * h.byte_ns * 1e-3 if per_byte else 0.0))
                                             * 1e-3)

    # -- producers ---------------------------------------------------------------------------------------------------
    def _form(self, i: int) -> None:
        """Producer ``i`` opens its next batch (if it has records left and buffer memory) and plans when it closes."""
        w = self.w
        left = self.p_left[i]
        if self.p_done[i] or (left is not None and left <= 0):
            self.p_done[i] = True
            return
        now = self.now
        spacing = self.spacing
        due = self.p_next[i] if spacing > 0 else now
        t0 = due if due > now else now
        if left is None and t0 >= self.end_ms:
            self.p_done[i] = True
            return
        if self.p_buffered[i] + w.batch_size > w.buffer_memory and self.p_buffered[i] > 0:
            self.p_blocked[i] = True
            return
        cap = w.records_per_batch
        if left is not None and cap > left:
            cap = left
        if left is None and spacing > 0:
            remaining = int((self.end_ms - due) / spacing) + 1
            if cap > remaining:
                cap = max(1, remaining)
        cap_time = due + (cap - 1) * spacing                  # when the batch would hold ``cap`` records
        if cap_time < t0:
            cap_time = t0
        self.p_buffered[i] += w.batch_size
        self.p_token[i] += 1
        self.p_open[i] = [self.p_partition[i], due, t0, cap, cap_time]
        self.delay.append(t0 - due)
        ready = t0 + w.linger_ms
        if cap == w.records_per_batch and cap_time < ready:
            ready = cap_time
        self._post(ready, _READY, (i, self.p_token[i]))

    def _ready(self, args: tuple[int, int]) -> None:
        """The open batch's linger expired or it is full: close it, unless its leader has no free request slot and
        it can still take records (then it stays open, as the accumulator's batch does, until a slot frees)."""
        i, token = args
        batch = self.p_open[i]
        if token != self.p_token[i] or batch is None:
            return                                              # already closed
        partition, due, t0, cap, cap_time = batch
        leader = self.streams[self.partition_stream[partition]].leader
        if self.p_inflight[i][leader] >= self.w.max_in_flight and self.now < cap_time:
            self.p_waiting[i] = leader
            self._post(cap_time, _READY, (i, token))
            return
        self._close(i)
        self._maybe_send(i, leader)

    def _close(self, i: int) -> None:
        """Close producer ``i``'s open batch now, queue it for its leader and open the next."""
        w = self.w
        partition, due, t0, cap, cap_time = self.p_open[i]      # type: ignore[misc]
        self.p_open[i] = None
        self.p_waiting[i] = -1
        spacing = self.spacing
        n = cap if spacing <= 0 or self.now >= cap_time else min(cap, int((self.now - due) / spacing) + 1)
        last = due + (n - 1) * spacing
        if last < t0:
            last = t0
        if self.p_left[i] is not None:
            self.p_left[i] -= n
        self.p_next[i] = due + n * spacing
        self.created += n
        size = BATCH_OVERHEAD + n * w.record_wire_bytes
        self.p_stint[i] += size
        if self.p_stint[i] >= w.batch_size:
            self.p_stint[i] = 0
            self.p_partition[i] = self.p_rng[i].randrange(w.partitions)
        leader = self.streams[self.partition_stream[partition]].leader
        queues = self.p_queue[i][leader]
        queue = queues.get(partition)
        if queue is None:
            queue = queues[partition] = deque()
        queue.append([partition, n, size, t0, last, w.batch_size])
        self._form(i)

    def _maybe_send(self, i: int, leader: int) -> None:
        """Send one request to ``leader`` if a slot is free: at most one queued batch per partition (Kafka's
        ``RecordAccumulator.drain``), at most ``max.request.size`` (1 MiB) unless a single batch is larger."""
        queues = self.p_queue[i][leader]
        if not queues or self.p_inflight[i][leader] >= self.w.max_in_flight:
            return
        taken: list[list[Any]] = []
        size = _HEADER
        for partition in list(queues):
            queue = queues[partition]
            batch = queue[0]
            if taken and size + batch[2] + _PER_BATCH > _MAX_REQUEST:
                break
            queue.popleft()
            if not queue:
                del queues[partition]
            taken.append(batch)
            size += batch[2] + _PER_BATCH
        self.p_inflight[i][leader] += 1
        self.requests += 1
        arrival = self._send(len(self.brokers) + i, leader, size, self.now)
        self._post(arrival, _PRODUCE_AT_LEADER, (i, leader, taken, size))

    def _produce_at_leader(self, args: tuple[int, int, list[Any], int]) -> None:
        i, leader, batches, size = args
        done = self._request_cpu(leader, self.now, size, True)
        done = self.disks[leader].append(done, size)
        self._post(done, _APPEND, args)

    def _append(self, args: tuple[int, int, list[Any], int]) -> None:
        i, leader, batches, size = args
        request: list[Any] = [i, leader, batches, 0]       # the last field: streams still below the HW
        touched: dict[int, _Stream] = {}
        for partition, n, bsize, first, last, _ in batches:
            s = self.streams[self.partition_stream[partition]]
            if s.consumer >= 0:
                s.chunks.append((s.end + bsize, n, first, last, self.appended[leader]))
            s.end += bsize
            s.end_records += n
            self.appended[leader] += bsize
            touched[id(s)] = s
        acks = self.w.acks_level
        if acks == -1:
            for s in touched.values():
                if s.followers:
                    request[3] += 1
                    s.waiters.append((s.end, request))
                else:
                    s.hw = s.end
        else:
            for s in touched.values():
                if not s.followers:
                    s.hw = s.end
        if acks != -1 or request[3] == 0:
            self._respond_produce(request)
        for s in touched.values():
            if not s.followers:
                self._wake_consumer(s)
            for f in s.followers:
                if self.fetch_parked[(leader, f)]:
                    self.fetch_parked[(leader, f)] = False
                    self._replica_respond(leader, f)

    def _respond_produce(self, request: list[Any]) -> None:
        i, leader, batches = request[0], request[1], request[2]
        size = _HEADER + _PER_BATCH * len(batches)
        if self.w.acks_level == 0:
            arrival = self.now
        else:
            arrival = self._send(leader, len(self.brokers) + i, size, self.now)
        self._post(arrival, _PRODUCE_RESPONSE, request)

    def _produce_response(self, request: list[Any]) -> None:
        i, leader, batches = request[0], request[1], request[2]
        now = self.now
        for _, n, _, first, last, reserved in batches:
            self.ack_time.append(now)
            self.ack_first.append(first)
            self.ack_last.append(last)
            self.ack_n.append(n)
            self.p_buffered[i] -= reserved
        self.p_inflight[i][leader] -= 1
        if self.p_waiting[i] == leader:
            self._close(i)                      # the open batch waited for this slot
        self._maybe_send(i, leader)
        if self.p_blocked[i]:
            self.p_blocked[i] = False
            self._form(i)

    # -- replication -------------------------------------------------------------------------------------------------
    def _replica_respond(self, leader: int, follower: int) -> None:
        """Answer the follower's fetch with everything new for it (the caller knows there is something)."""
        pos = self.follower_pos[(leader, follower)]
        parts: list[tuple[_Stream, int]] = []
        size = _HEADER
        for s in self.replica_streams[(leader, follower)]:
            have = pos[id(s)]
            if s.end > have:
                take = s.end if s.end - have <= _REPLICA_FETCH_MAX - size else have + max(0, _REPLICA_FETCH_MAX - size)
                if take > have:
                    parts.append((s, take))
                    size += take - have + _PER_BATCH
        self.fetch_responses += 1
        arrival = self._send(leader, follower, size, self.now)
        self._post(arrival, _REPLICA_DATA, (leader, follower, parts, size))

    def _replica_data(self, args: tuple[int, int, list[tuple[_Stream, int]], int]) -> None:
        leader, follower, parts, size = args
        h = self.hw[follower]
        done = self.fetchers[follower].admit(self.now, (h.request_us + size * h.byte_ns * 1e-3) * 1e-3)
        done = self.disks[follower].append(done, size)
        self._post(done, _REPLICA_APPENDED, args)

    def _replica_appended(self, args: tuple[int, int, list[tuple[_Stream, int]], int]) -> None:
        leader, follower, parts, size = args
        pos = self.follower_pos[(leader, follower)]
        for s, take in parts:
            pos[id(s)] = take
        self.appended[follower] += size
        # the next fetch carries the follower's log ends to the leader
        arrival = self._send(follower, leader, _HEADER + _PER_BATCH * len(parts), self.now)
        self._post(arrival, _FETCH_AT_LEADER, (leader, follower, [(s, take) for s, take in parts]))

    def _fetch_at_leader(self, args: tuple[int, int, list[tuple[_Stream, int]] | None]) -> None:
        """A follower's fetch reaches the leader: a network thread and a request-handler thread, then handled."""
        leader, follower, leos = args
        if leos is None:                  # the fetcher's first fetch, at start-up
            self._fetch_handled(args)
            return
        done = self._request_cpu(leader, self.now, _HEADER + _PER_BATCH * len(leos), False)
        self._post(done, _FETCH_HANDLED, args)

    def _fetch_handled(self, args: tuple[int, int, list[tuple[_Stream, int]] | None]) -> None:
        leader, follower, leos = args
        for s, take in leos or ():
            s.leo[follower] = take
            self._advance_hw(s)
        pos = self.follower_pos[(leader, follower)]
        if any(s.end > pos[id(s)] for s in self.replica_streams[(leader, follower)]):
            self._replica_respond(leader, follower)
        else:
            self.fetch_parked[(leader, follower)] = True

    def _advance_hw(self, s: _Stream) -> None:
        hw = min(s.leo.values())
        if hw > s.end:
            hw = s.end
        if hw <= s.hw:
            return
        s.hw = hw
        waiters = s.waiters
        while waiters and waiters[0][0] <= hw:
            _, request = waiters.popleft()
            request[3] -= 1
            if request[3] == 0:
                self._respond_produce(request)
        self._wake_consumer(s)

    # -- consumers ---------------------------------------------------------------------------------------------------
    def _wake_consumer(self, s: _Stream) -> None:
        if s.consumer >= 0 and s.chunks and s.chunks[0][0] <= s.hw and self.consumer_parked.get((s.leader,
                                                                                                  s.consumer)):
            self.consumer_parked[(s.leader, s.consumer)] = False
            self._consumer_respond(s.leader, s.consumer)

    def _consumer_fetch_at_leader(self, args: tuple[int, int]) -> None:
        leader, consumer = args
        if any(s.chunks and s.chunks[0][0] <= s.hw for s in self.consumer_streams[(leader, consumer)]):
            self._consumer_respond(leader, consumer)
        else:
            self.consumer_parked[(leader, consumer)] = True

    def _consumer_respond(self, leader: int, consumer: int) -> None:
        now = self.now
        size = _HEADER
        taken: list[tuple[int, int, float, float]] = []
        oldest = self.appended[leader]
        for s in self.consumer_streams[(leader, consumer)]:
            chunks = s.chunks
            while chunks and chunks[0][0] <= s.hw and size + chunks[0][0] - s.consumed <= _CONSUMER_FETCH_MAX:
                end, n, first, last, at_broker = chunks.popleft()
                size += end - s.consumed + _PER_BATCH
                s.consumed = end
                taken.append((end, n, first, last))
                if at_broker < oldest:
                    oldest = at_broker
        done = self._request_cpu(leader, now, _HEADER, False)
        done = self.disks[leader].read(done, size, self.appended[leader] - oldest)
        self.fetch_responses += 1
        arrival = self._send(leader, len(self.brokers) + self.w.producers + consumer, size, done)
        self._post(arrival, _CONSUMER_DATA, (leader, consumer, taken))

    def _consumer_data(self, args: tuple[int, int, list[tuple[int, int, float, float]]]) -> None:
        leader, consumer, taken = args
        now = self.now
        us = self.w.consumer_us_per_record
        if us:                                   # one application thread per consumer handles every response
            free = self.c_free[consumer]
            if free > now:
                now = free
        for _, n, first, last in taken:
            if us:
                now += n * us * 1e-3
            self.con_time.append(now)
            self.con_first.append(first)
            self.con_last.append(last)
            self.con_n.append(n)
        if us:
            self.c_free[consumer] = now
        node = len(self.brokers) + self.w.producers + consumer
        arrival = self._send(node, leader, _HEADER, now)
        self._post(arrival, _CONSUMER_FETCH_AT_LEADER, (leader, consumer))
