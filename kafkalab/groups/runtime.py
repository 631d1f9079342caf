"""The group coordinator's runtime: its led ``__consumer_offsets`` partitions (shards), their timers, their writes and
the replay of their logs (Kafka 4's ``CoordinatorRuntime`` with its ``CoordinatorPartitionWriter``, and the loader of
``GroupCoordinatorShard``).

How it works. Each led partition is a :class:`Shard` holding its classic groups
(:class:`~kafkalab.groups.classic.ClassicGroup`), its committed offsets (:class:`~kafkalab.groups.offsets.OffsetStore`),
its timers and its writes in flight; :class:`CoordinatorRuntime` keeps the shards of one broker and gives the protocol
handlers what they share:

- Timers: a timer belongs to a shard; :meth:`CoordinatorRuntime.fire` runs it only while that shard is still the one
  led (a timer of an unloaded shard, or of an older incarnation of it, does nothing).
- Writes: records are appended to the partition through the port (the broker appends with acks=1 and reports a
  write once the high watermark passed it, Kafka's ``CoordinatorPartitionWriter``); ``done(error)`` runs then, or
  once the write failed, with the error mapped to Kafka's coordinator errors
  (:data:`WRITE_ERRORS`), and at most once. A shard that is no longer led gets no callbacks from the port; its pending
  writes are failed with NOT_COORDINATOR by :meth:`CoordinatorRuntime.fail_pending_writes` on resignation.
- Write time-out: a write not committed ``offsets.commit.timeout.ms`` after its append (timer
  ``gc:write:<partition>:<seq>``) is answered REQUEST_TIMED_OUT, which clients see as COORDINATOR_NOT_AVAILABLE
  (``CoordinatorRuntime.OperationTimeout`` completes the write event with a ``TimeoutException``;
  ``CoordinatorOperationExceptionHelper.handleOperationException`` and ``appendGroupMetadataErrorToResponseError``
  map it). As in Kafka the time-out reverts nothing: the records stay in the log, and Kafka's reads see them only
  once the high watermark passes them (its timeline state is read at the last committed offset). Here that is the
  write's ``on_commit``, which runs when the high watermark passes the records even after ``done`` timed out, so
  the shard's state stays what a replay of its committed log gives. What a caller changed in memory for a write
  (a classic group's member or assignment) it undoes in ``done`` on any error, the time-out included, as
  Kafka's ``appendFuture`` handlers do.
- Loading: :meth:`CoordinatorRuntime.replay` rebuilds a shard from its log: the last value per key wins, a tombstone
  deletes; ``C`` records go to the KIP-848 manager. The coordinator reads the log when it becomes leader and replays
  it after ``bytes / LOAD_BYTES_PER_MS`` of modelled time (Kafka's loader reads the log on a separate thread).

The port's append callback carries no time, so callbacks use ``port.now_ms()`` when the port has it and otherwise the
latest time the coordinator was told (:meth:`CoordinatorRuntime.clock`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from kafkalab.groups.classic import ClassicGroup
from kafkalab.groups.offsets import OffsetStore
from kafkalab.groups.records import CONSUMER_GROUP_TAG, GROUP_TAG, OFFSET_TAG, parse_group_key

__all__ = ["CoordinatorPort", "CoordinatorRuntime", "Shard", "Respond", "WRITE_ERRORS", "map_write_error",
           "LOAD_BYTES_PER_MS", "DEFAULT_WRITE_TIMEOUT_MS", "write_timer"]

#: modelled replay speed of a coordinator load (bytes of records per virtual millisecond, i.e. 50 MB/s)
LOAD_BYTES_PER_MS = 50_000.0

#: ``offsets.commit.timeout.ms``: how long a write may wait for the high watermark (Kafka's default)
DEFAULT_WRITE_TIMEOUT_MS = 5000.0

#: append error -> the error a coordinator answers (``CoordinatorOperationExceptionHelper`` and the classic
#: ``appendGroupMetadataErrorToResponseError``; NOT_ENOUGH_REPLICAS_AFTER_APPEND as the pre-4.0 coordinator mapped it)
WRITE_ERRORS: Mapping[str, str] = {
    "UNKNOWN_TOPIC_OR_PARTITION": "COORDINATOR_NOT_AVAILABLE",
    "NOT_ENOUGH_REPLICAS": "COORDINATOR_NOT_AVAILABLE",
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND": "COORDINATOR_NOT_AVAILABLE",
    "REQUEST_TIMED_OUT": "COORDINATOR_NOT_AVAILABLE",
    "NOT_LEADER_OR_FOLLOWER": "NOT_COORDINATOR",
    "KAFKA_STORAGE_ERROR": "NOT_COORDINATOR",
    "MESSAGE_TOO_LARGE": "UNKNOWN_SERVER_ERROR",
    "RECORD_LIST_TOO_LARGE": "UNKNOWN_SERVER_ERROR",
    "INVALID_FETCH_SIZE": "UNKNOWN_SERVER_ERROR",
}


def map_write_error(error: str) -> str:
    """The error a client gets when the coordinator's write failed with ``error`` (NONE stays NONE)."""
    return WRITE_ERRORS.get(error, error)


def write_timer(partition: int, seq: int) -> str:
    """The name of the time-out timer of write ``seq`` of ``partition``."""
    return f"gc:write:{partition}:{seq}"


class CoordinatorPort(Protocol):
    """What the broker gives its coordinator (see the module docstrings of :mod:`kafkalab.groups.runtime` and
    :mod:`kafkalab.groups.coordinator`)."""

    def send(self, dst: Any, msg: Any) -> None: ...
    def set_timer(self, name: str, at_ms: float) -> None: ...
    def cancel_timer(self, name: str) -> None: ...
    def append(self, partition: int, records: Sequence[tuple[bytes, Any]],
               callback: Callable[[str], None]) -> None: ...
    def read(self, partition: int) -> Iterable[tuple[bytes, Any]]: ...
    def topic_partitions(self) -> Mapping[str, int]: ...
    def record(self, metric: str, value: Any, **labels: Any) -> None: ...


#: answers one request (at most once; later calls are ignored)
Respond = Callable[[Any], None]


class Shard:
    """One led ``__consumer_offsets`` partition: its groups, offsets, timers and writes in flight."""

    def __init__(self, partition: int, leader_epoch: int) -> None:
        self.partition = partition
        self.leader_epoch = leader_epoch
        self.loading = True
        self.groups: dict[str, ClassicGroup] = {}
        self.offsets = OffsetStore()
        self.timers: dict[str, Callable[[float], None]] = {}
        self.pending: dict[int, Callable[[str], None]] = {}
        self.write_seq = 0
        self.member_seq = 0


class CoordinatorRuntime:
    """The shards one broker leads, with their timers and writes; ``consumer_groups`` is the KIP-848 manager (or
    None), which gets the ``C`` records of a replayed log."""

    def __init__(self, port: CoordinatorPort, consumer_groups: Any, *,
                 write_timeout_ms: float = DEFAULT_WRITE_TIMEOUT_MS) -> None:
        self.port = port
        self.consumer_groups = consumer_groups
        self.write_timeout_ms = write_timeout_ms
        self.shards: dict[int, Shard] = {}
        self.timer_shard: dict[str, Shard] = {}
        #: the latest time the coordinator was told (see :meth:`clock`)
        self.now_ms = 0.0

    def clock(self) -> float:
        now = getattr(self.port, "now_ms", None)
        return float(now()) if callable(now) else self.now_ms

    def is_led(self, shard: Shard) -> bool:
        """True while ``shard`` is the current incarnation of its partition here."""
        return self.shards.get(shard.partition) is shard

    def is_consumer_group(self, group_id: str) -> bool:
        return self.consumer_groups is not None and bool(self.consumer_groups.has_group(group_id))

    def responder(self, src: Any, correlation_id: int) -> Respond:
        answered = False

        def respond(response: Any) -> None:
            nonlocal answered
            if not answered:
                answered = True
                self.port.send(src, replace(response, correlation_id=correlation_id))
        return respond

    # ---- timers -------------------------------------------------------------------------------------------------
    def set_timer(self, shard: Shard, name: str, at_ms: float, fn: Callable[[float], None]) -> None:
        shard.timers[name] = fn
        self.timer_shard[name] = shard
        self.port.set_timer(name, at_ms)

    def cancel_timer(self, shard: Shard, name: str) -> None:
        if shard.timers.pop(name, None) is not None:
            self.timer_shard.pop(name, None)
            self.port.cancel_timer(name)

    def fire(self, name: str, now_ms: float) -> None:
        """Run the shard timer ``name`` if its shard is still led here."""
        shard = self.timer_shard.pop(name, None)
        if shard is None or not self.is_led(shard):
            return
        fn = shard.timers.pop(name, None)
        if fn is not None:
            fn(now_ms)

    # ---- writes -------------------------------------------------------------------------------------------------
    def write(self, shard: Shard, records: list[tuple[bytes, Any]], done: Callable[[str], None],
              on_commit: Callable[[], None] | None = None) -> None:
        """Append ``records``; ``done(error)`` once committed (NONE), failed or timed out (already mapped), at most
        once. ``on_commit()`` runs (before ``done``, if that is still due) whenever the records commit while the
        shard is led, also after ``done`` timed out: the state that follows the log goes there."""
        shard.write_seq += 1
        seq = shard.write_seq
        shard.pending[seq] = done
        timer = write_timer(shard.partition, seq)

        def callback(error: str) -> None:
            if not self.is_led(shard):
                return
            if error == "NONE" and on_commit is not None:
                on_commit()
            pending = shard.pending.pop(seq, None)
            if pending is not None:
                self.cancel_timer(shard, timer)
                pending(map_write_error(error))

        def timed_out(_now_ms: float) -> None:
            pending = shard.pending.pop(seq, None)
            if pending is not None:
                pending(map_write_error("REQUEST_TIMED_OUT"))
        self.port.append(shard.partition, records, callback)
        if seq in shard.pending:        # not answered at once (a failed append, or committed on the spot)
            self.set_timer(shard, timer, self.clock() + self.write_timeout_ms, timed_out)

    def fail_pending_writes(self, shard: Shard) -> None:
        """Every write of ``shard`` still in flight fails with NOT_COORDINATOR, oldest first."""
        pending, shard.pending = shard.pending, {}
        for seq in sorted(pending):
            pending[seq]("NOT_COORDINATOR")

    # ---- loading and unloading ----------------------------------------------------------------------------------
    def replay(self, shard: Shard, records: Iterable[tuple[bytes, Any]]) -> None:
        """Rebuild ``shard`` from its log: groups, offsets and (through the KIP-848 manager) consumer groups; a
        group id holding only offsets becomes a "simple" classic group unless it is a consumer group."""
        for key, value in records:
            tag = key[:1]
            if tag == OFFSET_TAG:
                shard.offsets.replay(key, value)
            elif tag == GROUP_TAG:
                group_id = parse_group_key(key)
                if value is None:
                    shard.groups.pop(group_id, None)
                else:
                    shard.groups[group_id] = ClassicGroup.from_record(group_id, value)
            elif tag == CONSUMER_GROUP_TAG and self.consumer_groups is not None:
                self.consumer_groups.replay(shard.partition, key, value)
        for group_id in shard.offsets.group_ids():
            if group_id not in shard.groups and not self.is_consumer_group(group_id):
                shard.groups[group_id] = ClassicGroup(group_id)      # a "simple" group holding offsets only
        for group_id in list(shard.groups):
            if shard.groups[group_id].is_simple() and self.is_consumer_group(group_id):
                del shard.groups[group_id]

    def detach(self, shard: Shard) -> None:
        """Stop leading ``shard``: forget it and cancel its timers (in name order, so runs repeat)."""
        del self.shards[shard.partition]
        for name in sorted(shard.timers):
            self.cancel_timer(shard, name)
