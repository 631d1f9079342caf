"""The group coordinator a broker runs for the ``__consumer_offsets`` partitions it leads (Kafka 4's
``group-coordinator`` module: ``GroupCoordinatorService``, ``CoordinatorRuntime``, ``GroupCoordinatorShard`` and the
classic-protocol half of ``GroupMetadataManager``).

How it works. A group belongs to partition ``abs(javaHashCode(group.id)) % offsets.topic.num.partitions``
(:func:`~kafkalab.groups.hashing.partition_for`); its coordinator is that partition's leader. Each led partition is a
*shard* holding its classic groups (:class:`~kafkalab.groups.classic.ClassicGroup`) and committed offsets
(:class:`~kafkalab.groups.offsets.OffsetStore`); KIP-848 groups live in the
:class:`~kafkalab.groups.consumer_group.ConsumerGroupManager`, which gets its heartbeats, its ``cg:`` timers and its
``C`` records from here.

- Loading: :meth:`GroupCoordinator.on_become_leader` reads the partition's log and, after a modelled time of
  ``bytes / LOAD_BYTES_PER_MS`` (Kafka's loader reads the log on a separate thread), replays it: the last value per key
  wins, a tombstone deletes; a classic group comes back Stable (or Empty) with its members' session timers restarted.
  Until then requests get COORDINATOR_LOAD_IN_PROGRESS; requests for a partition not led here get NOT_COORDINATOR.
- Writes: records are appended to the partition with acks=all through the port; the answer that depends on them
  (SyncGroup of a generation, OffsetCommit, a static member's replacement) goes out once the high watermark passed
  them. Offsets become visible (replayed) only then. A failed write maps to Kafka's coordinator errors
  (:data:`WRITE_ERRORS`). On resignation pending writes fail with NOT_COORDINATOR, parked JoinGroup/SyncGroup
  requests are answered NOT_COORDINATOR and every group of the partition becomes Dead and is dropped.
- Classic protocol: JoinGroup, SyncGroup, Heartbeat and LeaveGroup follow ``GroupMetadataManager``: MEMBER_ID_REQUIRED
  for a new dynamic member, the initial rebalance delay (``group.initial.rebalance.delay.ms``, extended while members
  keep arriving, capped by the rebalance timeout), the rebalance timeout (the largest ``rebalance_timeout_ms`` of the
  members) after which members that did not rejoin are removed, the pending-sync timeout, session expiry, static
  membership (a known ``group.instance.id`` joining with a new member id replaces the old member without a rebalance
  when the group is Stable and its protocol does not change).
- Offsets: OffsetCommit is validated against the group (generation, member, instance id, state; a consumer without
  group management commits with generation -1 and no member id while the group is empty or unknown), written one
  record per partition and answered once committed. A commit of a classic member in Stable or PreparingRebalance
  also keeps its session alive, as in Kafka.

Timer names: ``gc:heartbeat:<group>:<member>``, ``gc:join:<group>``, ``gc:sync:<group>``, ``gc:load:<partition>``;
names starting with ``cg:`` belong to the KIP-848 manager.

Simplifications (named): answers that write nothing go out at once (Kafka defers them until earlier writes of the
partition are committed); a new classic group is not persisted until its first generation completes (Kafka writes an
empty GroupMetadata record first, which changes nothing a new leader would rebuild); a JoinGroup for a group id that
has a KIP-848 group answers INCONSISTENT_GROUP_PROTOCOL (Kafka 4 lets classic members join consumer groups and
converts between the two; not modelled), and ConsumerGroupHeartbeat for a non-empty classic group answers
GROUP_ID_NOT_FOUND (an empty classic group is deleted, as Kafka does); offsets expire
(``offsets.retention.minutes``, checked every ``offsets.retention.check.interval.ms`` while a candidate exists) only
for Empty classic groups, not for KIP-848 groups nor per unsubscribed topic of a Stable group; offsets of deleted
topics are not removed; no OffsetDelete, DescribeGroups or ListGroups RPCs (``describe_group``/``group_ids`` serve the
cluster facade); write time-outs (``offsets.commit.timeout.ms``) are reported by the port as
REQUEST_TIMED_OUT. The port's append callback carries no time, so callbacks use ``port.now_ms()`` when the port has it
and otherwise the latest time the coordinator was told. JoinGroup carries no client id here: a generated member id is
``<client_id attribute of the request, or "consumer-<src>">-<uuid>`` (``<group.instance.id>-<uuid>`` when static),
the uuid derived from (broker, partition, leader epoch, counter) so runs repeat. An OffsetCommit with a generation for
a group that does not exist answers GROUP_ID_NOT_FOUND (OffsetCommit v9; older versions said ILLEGAL_GENERATION).
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from kafkalab.broker.messages import TopicPartition
from kafkalab.config import Config, resolve
from kafkalab.errors import InvariantViolation
from kafkalab.groups.classic import ClassicGroup, ClassicGroupMember
from kafkalab.groups.classic import ClassicGroupState as S
from kafkalab.groups.hashing import partition_for
from kafkalab.groups.messages import (
    GROUP_REQUESTS,
    Assignment,
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    OffsetAndMetadata,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    SyncGroupRequest,
    SyncGroupResponse,
)
from kafkalab.groups.offsets import OffsetStore, commit_records
from kafkalab.groups.records import (
    CONSUMER_GROUP_TAG,
    GROUP_TAG,
    OFFSET_TAG,
    group_key,
    parse_group_key,
    value_size_bytes,
)

__all__ = ["CoordinatorPort", "GroupCoordinator", "WRITE_ERRORS", "map_write_error", "LOAD_BYTES_PER_MS",
           "NEW_MEMBER_JOIN_TIMEOUT_MS", "EMPTY_ASSIGNMENT"]

#: modelled replay speed of a coordinator load (bytes of records per virtual millisecond, i.e. 50 MB/s)
LOAD_BYTES_PER_MS = 50_000.0
#: Kafka's ``group.classic.new.member.join.timeout.ms``-like constant (``classicGroupNewMemberJoinTimeoutMs``)
NEW_MEMBER_JOIN_TIMEOUT_MS = 300_000
#: what a member the leader gave nothing gets
EMPTY_ASSIGNMENT = Assignment(())

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


class CoordinatorPort(Protocol):
    """What the broker gives its coordinator (see the module docstring of :mod:`kafkalab.groups.coordinator`)."""

    def send(self, dst: Any, msg: Any) -> None: ...
    def set_timer(self, name: str, at_ms: float) -> None: ...
    def cancel_timer(self, name: str) -> None: ...
    def append(self, partition: int, records: Sequence[tuple[bytes, Any]],
               callback: Callable[[str], None]) -> None: ...
    def read(self, partition: int) -> Iterable[tuple[bytes, Any]]: ...
    def topic_partitions(self) -> Mapping[str, int]: ...
    def record(self, metric: str, value: Any, **labels: Any) -> None: ...


Respond = Callable[[Any], None]


class _Shard:
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


def _default_consumer_manager(port: Any, config: Mapping[str, Any]) -> Any:
    try:
        from kafkalab.groups.consumer_group import ConsumerGroupManager
    except ImportError:
        return None
    return ConsumerGroupManager(port, config)


class GroupCoordinator:
    """The coordinator of every group whose ``__consumer_offsets`` partition this broker leads.

    ``consumer_manager_factory(port, config)`` builds the KIP-848 manager (default: ``ConsumerGroupManager``, or none
    when that module is missing, in which case ConsumerGroupHeartbeat answers UNSUPPORTED_VERSION)."""

    def __init__(self, broker_id: int, port: CoordinatorPort, config: Mapping[str, Any], *,
                 consumer_manager_factory: Callable[[Any, Mapping[str, Any]], Any] | None = None) -> None:
        self.broker_id = broker_id
        self.port = port
        self.config: Mapping[str, Any] = config if isinstance(config, Config) else resolve("broker", dict(config))
        self.num_partitions = int(self.config["offsets.topic.num.partitions"])
        self._initial_delay_ms = int(self.config["group.initial.rebalance.delay.ms"])
        self._min_session_ms = int(self.config["group.min.session.timeout.ms"])
        self._max_session_ms = int(self.config["group.max.session.timeout.ms"])
        self._max_size = int(self.config["group.max.size"])
        self._retention_ms = float(self.config["offsets.retention.minutes"]) * 60_000
        self._retention_check_ms = float(self.config["offsets.retention.check.interval.ms"])
        self._protocols = tuple(self.config["group.coordinator.rebalance.protocols"])
        factory = consumer_manager_factory or _default_consumer_manager
        self.consumer_groups: Any = factory(port, self.config) if "consumer" in self._protocols else None
        self._shards: dict[int, _Shard] = {}
        self._timer_shard: dict[str, _Shard] = {}
        self._now_ms = 0.0

    # ==== the broker's entry points ===========================================================================
    def on_become_leader(self, partition: int, leader_epoch: int, now_ms: float) -> None:
        """Start loading ``partition``: read its log now, replay it after the modelled load time."""
        self._now_ms = now_ms
        current = self._shards.get(partition)
        if current is not None:
            if current.leader_epoch >= leader_epoch:
                return
            self._unload(current)
        shard = _Shard(partition, leader_epoch)
        self._shards[partition] = shard
        records = list(self.port.read(partition))
        size = sum(len(key) + value_size_bytes(value) for key, value in records)
        load_ms = size / LOAD_BYTES_PER_MS
        self.port.record("group_coordinator_load_bytes", size, partition=partition)
        if load_ms <= 0:
            self._complete_load(shard, records, now_ms)
        else:
            self._set_timer(shard, f"gc:load:{partition}", now_ms + load_ms,
                            lambda t: self._complete_load(shard, records, t))

    def on_resign(self, partition: int, leader_epoch: int, now_ms: float) -> None:
        """Stop coordinating ``partition``: its groups are dropped, parked and pending requests fail."""
        self._now_ms = now_ms
        shard = self._shards.get(partition)
        if shard is not None and leader_epoch >= shard.leader_epoch:
            self._unload(shard)

    def on_timer(self, name: str, now_ms: float) -> None:
        self._now_ms = now_ms
        if name.startswith("cg:"):
            if self.consumer_groups is not None:
                self.consumer_groups.on_timer(name, now_ms)
            return
        shard = self._timer_shard.pop(name, None)
        if shard is None or self._shards.get(shard.partition) is not shard:
            return
        fn = shard.timers.pop(name, None)
        if fn is not None:
            fn(now_ms)

    def on_metadata(self, topics: Mapping[str, int], now_ms: float) -> None:
        self._now_ms = now_ms
        if self.consumer_groups is not None:
            self.consumer_groups.on_metadata(topics, now_ms)

    def owns(self, group_id: str) -> bool:
        """True when this broker coordinates ``group_id`` and has loaded its partition."""
        shard = self._shards.get(partition_for(group_id, self.num_partitions))
        return shard is not None and not shard.loading

    def handle(self, src: Any, msg: Any, now_ms: float) -> None:
        """Answer one group request (any type of ``messages.GROUP_REQUESTS``) with ``port.send(src, ...)``."""
        self._now_ms = now_ms
        if not isinstance(msg, GROUP_REQUESTS):
            raise TypeError(f"the group coordinator does not handle {type(msg).__name__}")
        respond = self._responder(src, msg.correlation_id)
        error = self._precheck(msg)
        if error is None:
            shard = self._shards.get(partition_for(msg.group_id, self.num_partitions))
            error = "NOT_COORDINATOR" if shard is None else "COORDINATOR_LOAD_IN_PROGRESS" if shard.loading else None
        if error is not None:
            respond(_error_response(msg, error))
            return
        assert shard is not None
        if isinstance(msg, JoinGroupRequest):
            self._join(shard, src, msg, respond, now_ms)
        elif isinstance(msg, SyncGroupRequest):
            self._sync(shard, msg, respond, now_ms)
        elif isinstance(msg, HeartbeatRequest):
            self._heartbeat(shard, msg, respond, now_ms)
        elif isinstance(msg, LeaveGroupRequest):
            self._leave(shard, msg, respond, now_ms)
        elif isinstance(msg, OffsetCommitRequest):
            self._commit(shard, msg, respond, now_ms)
        elif isinstance(msg, OffsetFetchRequest):
            self._fetch(shard, msg, respond)
        else:
            self._consumer_heartbeat(shard, msg, respond, now_ms)

    # ==== views for the cluster facade =========================================================================
    def describe_group(self, group_id: str) -> dict[str, Any] | None:
        """The group as a dict (see the brief of ``describe_group``), or None when not coordinated here."""
        shard = self._shards.get(partition_for(group_id, self.num_partitions))
        if shard is None or shard.loading:
            return None
        group = shard.groups.get(group_id)
        if group is None:
            if self.consumer_groups is not None and self.consumer_groups.has_group(group_id):
                result: dict[str, Any] | None = self.consumer_groups.describe_group(group_id)
                return result
            return None
        return {
            "group_id": group_id, "protocol": "classic", "state": str(group.state),
            "generation": group.generation_id, "protocol_type": group.protocol_type,
            "protocol_name": group.protocol_name, "leader": group.leader_id,
            "members": [{"member_id": m.member_id, "instance_id": m.group_instance_id, "client_id": m.client_id,
                         "assignment": _partitions(m.assignment), "session_timeout_ms": m.session_timeout_ms,
                         "rebalance_timeout_ms": m.rebalance_timeout_ms}
                        for m in group.members.values()],
        }

    def group_ids(self) -> list[str]:
        """Every group (classic and KIP-848) of the loaded partitions, sorted."""
        ids = {gid for shard in self._shards.values() if not shard.loading for gid in shard.groups}
        if self.consumer_groups is not None:
            ids.update(self.consumer_groups.group_ids())
        return sorted(ids)

    def committed(self, group_id: str) -> dict[TopicPartition, OffsetAndMetadata]:
        """The committed offsets of ``group_id`` ({} when not coordinated here)."""
        shard = self._shards.get(partition_for(group_id, self.num_partitions))
        return {} if shard is None or shard.loading else shard.offsets.committed(group_id)

    # ==== runtime: timers, writes, loading ======================================================================
    def _clock(self) -> float:
        now = getattr(self.port, "now_ms", None)
        return float(now()) if callable(now) else self._now_ms

    def _responder(self, src: Any, correlation_id: int) -> Respond:
        answered = False

        def respond(response: Any) -> None:
            nonlocal answered
            if not answered:
                answered = True
                self.port.send(src, replace(response, correlation_id=correlation_id))
        return respond

    def _precheck(self, msg: Any) -> str | None:
        if not isinstance(msg, (OffsetFetchRequest, ConsumerGroupHeartbeatRequest)) and not msg.group_id:
            return "INVALID_GROUP_ID"       # (the KIP-848 manager answers INVALID_REQUEST itself, as Kafka does)
        if isinstance(msg, JoinGroupRequest) and not (
                self._min_session_ms <= msg.session_timeout_ms <= self._max_session_ms):
            return "INVALID_SESSION_TIMEOUT"
        if isinstance(msg, ConsumerGroupHeartbeatRequest) and self.consumer_groups is None:
            return "UNSUPPORTED_VERSION"
        return None

    def _set_timer(self, shard: _Shard, name: str, at_ms: float, fn: Callable[[float], None]) -> None:
        shard.timers[name] = fn
        self._timer_shard[name] = shard
        self.port.set_timer(name, at_ms)

    def _cancel_timer(self, shard: _Shard, name: str) -> None:
        if shard.timers.pop(name, None) is not None:
            self._timer_shard.pop(name, None)
            self.port.cancel_timer(name)

    def _write(self, shard: _Shard, records: list[tuple[bytes, Any]], done: Callable[[str], None]) -> None:
        """Append ``records``; ``done(error)`` once committed (NONE) or failed (already mapped), at most once."""
        shard.write_seq += 1
        seq = shard.write_seq
        shard.pending[seq] = done

        def callback(error: str) -> None:
            pending = shard.pending.pop(seq, None)
            if pending is not None and self._shards.get(shard.partition) is shard:
                pending(map_write_error(error))
        self.port.append(shard.partition, records, callback)

    def _complete_load(self, shard: _Shard, records: list[tuple[bytes, Any]], now_ms: float) -> None:
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
            if group_id not in shard.groups and not self._is_consumer_group(group_id):
                shard.groups[group_id] = ClassicGroup(group_id)      # a "simple" group holding offsets only
        for group_id in list(shard.groups):
            if shard.groups[group_id].is_simple() and self._is_consumer_group(group_id):
                del shard.groups[group_id]
        shard.loading = False
        on_loaded = getattr(self.consumer_groups, "on_loaded", None)
        if callable(on_loaded):
            on_loaded(shard.partition, now_ms)
        for group in shard.groups.values():
            for member in group.members.values():
                self._schedule_heartbeat(shard, group, member.member_id, now_ms + member.session_timeout_ms)
        self._maybe_schedule_expiration(shard, now_ms)
        self.port.record("group_coordinator_loaded_groups", len(shard.groups), partition=shard.partition)

    def _unload(self, shard: _Shard) -> None:
        """Kafka's ``onUnloaded``: every group becomes Dead, parked requests and pending writes get NOT_COORDINATOR."""
        del self._shards[shard.partition]
        for name in sorted(shard.timers):
            self._cancel_timer(shard, name)
        for group in shard.groups.values():
            previous = group.state
            group.transition_to(S.DEAD, self._now_ms)
            for member in group.members.values():
                if previous is S.PREPARING_REBALANCE:
                    self._complete_join(member, JoinGroupResponse(error="NOT_COORDINATOR", member_id=member.member_id))
                elif previous in (S.COMPLETING_REBALANCE, S.STABLE):
                    self._complete_sync(member, SyncGroupResponse(error="NOT_COORDINATOR"))
        pending, shard.pending = shard.pending, {}
        for seq in sorted(pending):
            pending[seq]("NOT_COORDINATOR")
        if self.consumer_groups is not None:
            self.consumer_groups.unload(shard.partition)

    def _is_consumer_group(self, group_id: str) -> bool:
        return self.consumer_groups is not None and bool(self.consumer_groups.has_group(group_id))

    # ==== classic protocol: JoinGroup ===========================================================================
    def _join(self, shard: _Shard, src: Any, msg: JoinGroupRequest, respond: Respond, now_ms: float) -> None:
        group_id, member_id = msg.group_id, msg.member_id
        if self._is_consumer_group(group_id):
            respond(JoinGroupResponse(error="INCONSISTENT_GROUP_PROTOCOL", member_id=member_id))
            return
        group = shard.groups.get(group_id)
        if group is None:
            if member_id:
                respond(JoinGroupResponse(error="UNKNOWN_MEMBER_ID", member_id=member_id))
                return
            group = shard.groups[group_id] = ClassicGroup(group_id, state_timestamp_ms=now_ms)
        client_id = str(getattr(msg, "client_id", "") or f"consumer-{src}")
        if not self._accept_joining_member(group, member_id):
            group.remove(member_id)
            respond(JoinGroupResponse(error="GROUP_MAX_SIZE_REACHED"))
        elif not member_id:
            self._join_new_member(shard, group, client_id, msg, respond, now_ms)
        else:
            self._join_existing_member(shard, group, client_id, msg, respond, now_ms)

    def _accept_joining_member(self, group: ClassicGroup, member_id: str) -> bool:
        if group.is_in(S.EMPTY, S.DEAD):
            return True
        if group.is_in(S.PREPARING_REBALANCE):
            member = group.members.get(member_id)
            return (member is not None and member.awaiting_join is not None) or \
                group.num_awaiting_join() < self._max_size
        return member_id in group.members or len(group.members) < self._max_size

    def _join_new_member(self, shard: _Shard, group: ClassicGroup, client_id: str, msg: JoinGroupRequest,
                         respond: Respond, now_ms: float) -> None:
        names = tuple(name for name, _ in msg.protocols)
        if group.is_in(S.DEAD):
            respond(JoinGroupResponse(error="COORDINATOR_NOT_AVAILABLE"))
            return
        if not group.supports_protocols(msg.protocol_type, names):
            respond(JoinGroupResponse(error="INCONSISTENT_GROUP_PROTOCOL"))
            return
        new_id = self._new_member_id(shard, msg.group_instance_id or client_id)
        if msg.group_instance_id is not None:
            existing = group.static_member_id(msg.group_instance_id)
            if existing is not None:
                self._replace_static_member(shard, group, msg, existing, new_id, respond, now_ms)
            else:
                self._add_member_then_rebalance(shard, group, msg, new_id, client_id, respond, now_ms)
        else:
            # Kafka 4 clients all use JoinGroup >= v4: a dynamic member first gets an id, then joins with it
            group.add_pending_member(new_id)
            self._schedule_heartbeat(shard, group, new_id, now_ms + msg.session_timeout_ms)
            respond(JoinGroupResponse(error="MEMBER_ID_REQUIRED", member_id=new_id))

    def _new_member_id(self, shard: _Shard, prefix: str) -> str:
        """``<client id or instance id>-<uuid>``, the uuid derived from (broker, partition, epoch, counter)."""
        shard.member_seq += 1
        seed = f"{self.broker_id}:{shard.partition}:{shard.leader_epoch}:{shard.member_seq}".encode()
        return f"{prefix}-{uuid.UUID(bytes=hashlib.sha256(seed).digest()[:16], version=4)}"

    def _join_existing_member(self, shard: _Shard, group: ClassicGroup, client_id: str, msg: JoinGroupRequest,
                              respond: Respond, now_ms: float) -> None:
        member_id = msg.member_id
        names = tuple(name for name, _ in msg.protocols)
        if group.is_in(S.DEAD):
            respond(JoinGroupResponse(error="COORDINATOR_NOT_AVAILABLE", member_id=member_id))
        elif not group.supports_protocols(msg.protocol_type, names):
            respond(JoinGroupResponse(error="INCONSISTENT_GROUP_PROTOCOL", member_id=member_id))
        elif group.is_pending_member(member_id):
            if msg.group_instance_id is not None:    # a pending member is never static: a client bug
                respond(JoinGroupResponse(error="UNKNOWN_SERVER_ERROR", member_id=member_id))
                return
            self._add_member_then_rebalance(shard, group, msg, member_id, client_id, respond, now_ms)
        else:
            error = group.validate_member(member_id, msg.group_instance_id)
            if error != "NONE":
                respond(JoinGroupResponse(error=error, member_id=member_id))
                return
            member = group.members[member_id]
            same = member.matches(msg.protocols)
            if group.is_in(S.PREPARING_REBALANCE):
                self._update_member_then_rebalance(shard, group, member, msg, respond, now_ms)
            elif group.is_in(S.COMPLETING_REBALANCE) and same:
                # the member lost its JoinGroup answer: give it the current generation again
                respond(group.join_response(member_id, with_members=group.is_leader(member_id)))
            elif group.is_in(S.STABLE) and same and not group.is_leader(member_id):
                respond(group.join_response(member_id, with_members=False))
            elif group.is_in(S.COMPLETING_REBALANCE, S.STABLE):
                # new metadata, or the leader asking for a rebalance
                self._update_member_then_rebalance(shard, group, member, msg, respond, now_ms)
            else:
                respond(JoinGroupResponse(error="UNKNOWN_MEMBER_ID", member_id=member_id))

    def _add_member_then_rebalance(self, shard: _Shard, group: ClassicGroup, msg: JoinGroupRequest, member_id: str,
                                   client_id: str, respond: Respond, now_ms: float) -> None:
        member = ClassicGroupMember(member_id, msg.group_instance_id, client_id, msg.rebalance_timeout_ms,
                                    msg.session_timeout_ms, msg.protocol_type, tuple(msg.protocols),
                                    awaiting_join=respond, is_new=True)
        if group.is_in(S.PREPARING_REBALANCE) and group.previous_state is S.EMPTY:
            group.new_member_added = True
        group.add(member)
        # a new member cannot heartbeat while its JoinGroup is parked: it is timed out after a longer, fixed time
        self._schedule_heartbeat(shard, group, member_id, now_ms + NEW_MEMBER_JOIN_TIMEOUT_MS)
        self._maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)

    def _update_member_then_rebalance(self, shard: _Shard, group: ClassicGroup, member: ClassicGroupMember,
                                      msg: JoinGroupRequest, respond: Respond, now_ms: float) -> None:
        group.update_member(member, tuple(msg.protocols), msg.rebalance_timeout_ms, msg.session_timeout_ms, respond)
        self._maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)

    def _replace_static_member(self, shard: _Shard, group: ClassicGroup, msg: JoinGroupRequest, old_id: str,
                               new_id: str, respond: Respond, now_ms: float) -> None:
        """Kafka's ``updateStaticMemberThenRebalanceOrCompleteJoin``."""
        instance_id = msg.group_instance_id
        assert instance_id is not None
        current_leader = group.leader_id
        self._cancel_timer(shard, _heartbeat_timer(group.group_id, old_id))
        member = group.replace_static_member(instance_id, old_id, new_id)
        self._schedule_heartbeat(shard, group, new_id, now_ms + member.session_timeout_ms)
        old_protocols, old_rebalance_ms, old_session_ms = (member.protocols, member.rebalance_timeout_ms,
                                                           member.session_timeout_ms)
        group.update_member(member, tuple(msg.protocols), msg.rebalance_timeout_ms, msg.session_timeout_ms, respond)
        if group.is_in(S.STABLE):
            if group.protocol_name != group.select_protocol():
                self._maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)
                return
            generation = group.generation_id

            def done(error: str) -> None:
                if error != "NONE":     # revert to the old member id; the joiner is told to retry
                    group.update_member(member, old_protocols, old_rebalance_ms, old_session_ms, None)
                    if group.static_member_id(instance_id) == new_id:
                        old = group.replace_static_member(instance_id, new_id, old_id)
                        if self._shards.get(shard.partition) is shard:
                            self._schedule_heartbeat(shard, group, old_id, self._clock() + old.session_timeout_ms)
                    respond(JoinGroupResponse(error=error, generation_id=generation,
                                              protocol_type=group.protocol_type, protocol_name=group.protocol_name,
                                              leader=current_leader or ""))
                    return
                is_leader = group.is_leader(new_id)
                with_members = is_leader and group.is_in(S.STABLE, S.COMPLETING_REBALANCE)
                self._complete_join(member, group.join_response(new_id, with_members=with_members,
                                                                skip_assignment=with_members))
            self._write(shard, [(group_key(group.group_id), group.to_record())], done)
        elif group.is_in(S.COMPLETING_REBALANCE):
            # the leader may already be assigning to the old member id: rebalance so the new id gets partitions
            self._prepare_rebalance(shard, group, now_ms)
        elif group.is_in(S.PREPARING_REBALANCE):
            self._maybe_complete_join_phase(shard, group, now_ms)
        else:
            raise InvariantViolation(f"static member {instance_id} rejoined group {group.group_id!r} in {group.state}")

    # ==== classic protocol: the rebalance ======================================================================
    def _maybe_prepare_rebalance_or_complete_join(self, shard: _Shard, group: ClassicGroup, now_ms: float) -> None:
        if group.can_rebalance():
            self._prepare_rebalance(shard, group, now_ms)
        else:
            self._maybe_complete_join_phase(shard, group, now_ms)

    def _prepare_rebalance(self, shard: _Shard, group: ClassicGroup, now_ms: float) -> None:
        if group.is_in(S.COMPLETING_REBALANCE):
            self._reset_and_propagate(shard, group, "REBALANCE_IN_PROGRESS", now_ms)
        group.pending_sync_members.clear()
        self._cancel_timer(shard, _sync_timer(group.group_id))
        initial = group.is_in(S.EMPTY)
        if initial:
            delay_ms = self._initial_delay_ms
            remaining_ms = max(group.rebalance_timeout_ms() - delay_ms, 0)
            self._schedule_initial_join(shard, group.group_id, now_ms + delay_ms, delay_ms, remaining_ms)
        group.transition_to(S.PREPARING_REBALANCE, now_ms)
        self.port.record("group_rebalance_started", 1, group=group.group_id)
        if not initial:
            if group.has_all_members_joined():
                self._complete_join_phase(shard, group, now_ms)
            else:
                self._schedule_join(shard, group, now_ms + group.rebalance_timeout_ms())

    def _schedule_initial_join(self, shard: _Shard, group_id: str, at_ms: float, delay_ms: int,
                               remaining_ms: int) -> None:
        """Kafka's InitialDelayedJoin: wait ``delay_ms``; if members kept arriving, wait again (capped)."""
        def fire(now_ms: float) -> None:
            group = shard.groups.get(group_id)
            if group is None or not group.is_in(S.PREPARING_REBALANCE):
                return
            if group.new_member_added and remaining_ms != 0:
                group.new_member_added = False
                new_delay = min(self._initial_delay_ms, remaining_ms)
                self._schedule_initial_join(shard, group_id, now_ms + new_delay, new_delay,
                                            max(remaining_ms - delay_ms, 0))
            else:
                self._complete_join_phase(shard, group, now_ms)
        self._set_timer(shard, _join_timer(group_id), at_ms, fire)

    def _schedule_join(self, shard: _Shard, group: ClassicGroup, at_ms: float) -> None:
        group_id = group.group_id

        def fire(now_ms: float) -> None:
            current = shard.groups.get(group_id)
            if current is not None and current.is_in(S.PREPARING_REBALANCE):
                self._complete_join_phase(shard, current, now_ms)
        self._set_timer(shard, _join_timer(group_id), at_ms, fire)

    def _maybe_complete_join_phase(self, shard: _Shard, group: ClassicGroup, now_ms: float) -> None:
        if (group.is_in(S.PREPARING_REBALANCE) and group.previous_state is not S.EMPTY
                and group.has_all_members_joined()):
            self._complete_join_phase(shard, group, now_ms)

    def _complete_join_phase(self, shard: _Shard, group: ClassicGroup, now_ms: float) -> None:
        """End PreparingRebalance: drop dynamic members that did not rejoin, start the next generation, answer every
        parked JoinGroup (the member list to the leader only) and wait for SyncGroup."""
        self._cancel_timer(shard, _join_timer(group.group_id))
        for member in group.not_yet_rejoined():
            if not member.is_static:
                group.remove(member.member_id)
                self._cancel_timer(shard, _heartbeat_timer(group.group_id, member.member_id))
        if group.is_in(S.DEAD):
            return
        if group.members and not group.maybe_elect_new_joined_leader():
            # nobody rejoined (only static members left): try again after another rebalance timeout
            self._schedule_join(shard, group, now_ms + group.rebalance_timeout_ms())
            return
        group.init_next_generation(now_ms)
        if group.is_in(S.EMPTY):
            self._write(shard, [(group_key(group.group_id), group.to_record({}))], lambda error: None)
            self._maybe_schedule_expiration(shard, now_ms)
            return
        for member in group.members.values():
            self._complete_join(member, group.join_response(member.member_id,
                                                            with_members=group.is_leader(member.member_id)))
            self._schedule_heartbeat(shard, group, member.member_id, now_ms + member.session_timeout_ms)
            member.is_new = False
            group.pending_sync_members[member.member_id] = None
        generation = group.generation_id
        group_id = group.group_id

        def expire_sync(t: float) -> None:
            current = shard.groups.get(group_id)
            if current is None or current.generation_id != generation:
                return
            if current.is_in(S.COMPLETING_REBALANCE, S.STABLE) and current.pending_sync_members:
                for member_id in list(current.pending_sync_members):
                    current.remove(member_id)
                    self._cancel_timer(shard, _heartbeat_timer(group_id, member_id))
                self._prepare_rebalance(shard, current, t)
        self._set_timer(shard, _sync_timer(group_id), now_ms + group.rebalance_timeout_ms(), expire_sync)

    def _complete_join(self, member: ClassicGroupMember, response: JoinGroupResponse) -> bool:
        respond, member.awaiting_join = member.awaiting_join, None
        if respond is None:
            return False
        respond(response)
        return True

    def _complete_sync(self, member: ClassicGroupMember, response: SyncGroupResponse) -> bool:
        respond, member.awaiting_sync = member.awaiting_sync, None
        if respond is None:
            return False
        respond(response)
        return True

    def _reset_and_propagate(self, shard: _Shard, group: ClassicGroup, error: str, now_ms: float) -> None:
        if not group.is_in(S.COMPLETING_REBALANCE):
            raise InvariantViolation(f"group {group.group_id!r} must be CompletingRebalance, is {group.state}")
        for member in group.members.values():
            member.assignment = EMPTY_ASSIGNMENT
        self._propagate(shard, group, error, now_ms)

    def _propagate(self, shard: _Shard, group: ClassicGroup, error: str, now_ms: float) -> None:
        ok = error == "NONE"
        for member in group.members.values():
            response = SyncGroupResponse(error=error, protocol_type=group.protocol_type if ok else None,
                                         protocol_name=group.protocol_name if ok else None,
                                         assignment=member.assignment)
            if self._complete_sync(member, response):
                # a session that expired while the member waited for the leader counted as alive: restart it
                self._schedule_heartbeat(shard, group, member.member_id, now_ms + member.session_timeout_ms)

    def _schedule_heartbeat(self, shard: _Shard, group: ClassicGroup, member_id: str, at_ms: float) -> None:
        group_id = group.group_id

        def expire(now_ms: float) -> None:
            current = shard.groups.get(group_id)
            if current is None or current.is_in(S.DEAD):
                return
            if current.is_pending_member(member_id):
                current.remove(member_id)
                if current.is_in(S.PREPARING_REBALANCE) and current.has_all_members_joined():
                    self._complete_join_phase(shard, current, now_ms)
                return
            member = current.members.get(member_id)
            if member is not None and not member.has_satisfied_heartbeat():
                self._remove_member_and_update(shard, current, member, now_ms)
        self._set_timer(shard, _heartbeat_timer(group_id, member_id), at_ms, expire)

    def _remove_member_and_update(self, shard: _Shard, group: ClassicGroup, member: ClassicGroupMember,
                                  now_ms: float) -> None:
        self._complete_join(member, JoinGroupResponse(error="UNKNOWN_MEMBER_ID"))
        group.remove(member.member_id)
        self.port.record("group_member_removed", 1, group=group.group_id, reason="session_timeout")
        if group.is_in(S.STABLE, S.COMPLETING_REBALANCE):
            self._maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)
        elif group.is_in(S.PREPARING_REBALANCE) and group.has_all_members_joined():
            self._complete_join_phase(shard, group, now_ms)

    # ==== classic protocol: SyncGroup, Heartbeat, LeaveGroup ===================================================
    def _sync(self, shard: _Shard, msg: SyncGroupRequest, respond: Respond, now_ms: float) -> None:
        group = shard.groups.get(msg.group_id)
        if group is None or group.is_empty():
            respond(SyncGroupResponse(error="UNKNOWN_MEMBER_ID"))
            return
        error = self._validate_sync(group, msg)
        if error != "NONE":
            respond(SyncGroupResponse(error=error))
        elif group.is_in(S.PREPARING_REBALANCE):
            respond(SyncGroupResponse(error="REBALANCE_IN_PROGRESS"))
        elif group.is_in(S.COMPLETING_REBALANCE):
            group.members[msg.member_id].awaiting_sync = respond
            self._remove_pending_sync_member(shard, group, msg.member_id)
            if group.is_leader(msg.member_id):
                self._store_assignment(shard, group, msg)
        elif group.is_in(S.STABLE):
            self._remove_pending_sync_member(shard, group, msg.member_id)
            member = group.members[msg.member_id]
            respond(SyncGroupResponse(error="NONE", protocol_type=group.protocol_type,
                                      protocol_name=group.protocol_name, assignment=member.assignment))

    @staticmethod
    def _validate_sync(group: ClassicGroup, msg: SyncGroupRequest) -> str:
        if group.is_in(S.DEAD):
            return "COORDINATOR_NOT_AVAILABLE"
        error = group.validate_member(msg.member_id, msg.group_instance_id)
        if error != "NONE":
            return error
        if msg.generation_id != group.generation_id:
            return "ILLEGAL_GENERATION"
        if (_inconsistent(msg.protocol_type, group.protocol_type)
                or _inconsistent(msg.protocol_name, group.protocol_name)):
            return "INCONSISTENT_GROUP_PROTOCOL"
        return "NONE"

    def _store_assignment(self, shard: _Shard, group: ClassicGroup, msg: SyncGroupRequest) -> None:
        """The leader's SyncGroup: write the generation with its assignment; answer everyone once committed."""
        assignment = {member_id: a for member_id, a in msg.assignments}
        for member_id in group.members:
            assignment.setdefault(member_id, EMPTY_ASSIGNMENT)
        generation = group.generation_id

        def done(error: str) -> None:
            if not (group.is_in(S.COMPLETING_REBALANCE) and group.generation_id == generation):
                return          # the group moved on (a member joined or left) while the write was in flight
            now_ms = self._clock()
            if error != "NONE":
                self._reset_and_propagate(shard, group, error, now_ms)
                self._maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)
                return
            for member in group.members.values():
                member.assignment = assignment.get(member.member_id, EMPTY_ASSIGNMENT)
            self._propagate(shard, group, "NONE", now_ms)
            group.transition_to(S.STABLE, now_ms)
            self.port.record("group_rebalance_completed", 1, group=group.group_id, generation=generation)
        self._write(shard, [(group_key(group.group_id), group.to_record(assignment))], done)

    def _remove_pending_sync_member(self, shard: _Shard, group: ClassicGroup, member_id: str) -> None:
        group.pending_sync_members.pop(member_id, None)
        if not group.pending_sync_members or group.is_in(S.DEAD, S.EMPTY, S.PREPARING_REBALANCE):
            self._cancel_timer(shard, _sync_timer(group.group_id))

    def _heartbeat(self, shard: _Shard, msg: HeartbeatRequest, respond: Respond, now_ms: float) -> None:
        group = shard.groups.get(msg.group_id)
        if group is None:
            respond(HeartbeatResponse(error="UNKNOWN_MEMBER_ID"))
            return
        if group.is_in(S.DEAD):
            respond(HeartbeatResponse(error="COORDINATOR_NOT_AVAILABLE"))
            return
        error = group.validate_member(msg.member_id, msg.group_instance_id)
        if error == "NONE" and msg.generation_id != group.generation_id:
            error = "ILLEGAL_GENERATION"
        if error != "NONE":
            respond(HeartbeatResponse(error=error))
        elif group.is_in(S.EMPTY):
            respond(HeartbeatResponse(error="UNKNOWN_MEMBER_ID"))
        else:
            member = group.members[msg.member_id]
            self._schedule_heartbeat(shard, group, member.member_id, now_ms + member.session_timeout_ms)
            respond(HeartbeatResponse(
                error="REBALANCE_IN_PROGRESS" if group.is_in(S.PREPARING_REBALANCE) else "NONE"))

    def _leave(self, shard: _Shard, msg: LeaveGroupRequest, respond: Respond, now_ms: float) -> None:
        group = shard.groups.get(msg.group_id)
        if group is None:
            respond(LeaveGroupResponse(error="UNKNOWN_MEMBER_ID"))
            return
        if group.is_in(S.DEAD):
            respond(LeaveGroupResponse(error="COORDINATOR_NOT_AVAILABLE"))
            return
        results: list[tuple[str, str]] = []
        for ident in msg.members:
            if not ident.member_id:     # an administrative removal by group instance id
                static_id = group.static_member_id(ident.group_instance_id) if ident.group_instance_id else None
                if static_id is not None:
                    self._remove_current_member(shard, group, static_id)
                    results.append((ident.member_id, "NONE"))
                else:
                    results.append((ident.member_id, "UNKNOWN_MEMBER_ID"))
            elif group.is_pending_member(ident.member_id):
                group.remove(ident.member_id)
                self._cancel_timer(shard, _heartbeat_timer(group.group_id, ident.member_id))
                results.append((ident.member_id, "NONE"))
            else:
                error = group.validate_member(ident.member_id, ident.group_instance_id)
                if error == "NONE":
                    self._remove_current_member(shard, group, ident.member_id)
                results.append((ident.member_id, error))
        if any(error == "NONE" for _, error in results):
            if group.is_in(S.STABLE, S.COMPLETING_REBALANCE):
                self._maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)
            elif group.is_in(S.PREPARING_REBALANCE):
                self._maybe_complete_join_phase(shard, group, now_ms)
        respond(LeaveGroupResponse(error="NONE", member_errors=tuple(results)))

    def _remove_current_member(self, shard: _Shard, group: ClassicGroup, member_id: str) -> None:
        self._cancel_timer(shard, _heartbeat_timer(group.group_id, member_id))
        self._complete_join(group.members[member_id], JoinGroupResponse(error="UNKNOWN_MEMBER_ID"))
        group.remove(member_id)
        self.port.record("group_member_removed", 1, group=group.group_id, reason="leave")

    # ==== offsets ==============================================================================================
    def _commit(self, shard: _Shard, msg: OffsetCommitRequest, respond: Respond, now_ms: float) -> None:
        error = self._validate_commit(shard, msg, now_ms)
        if error != "NONE":
            respond(OffsetCommitResponse(errors={tp: error for tp in msg.offsets}))
            return
        records, errors = commit_records(msg.group_id, msg.offsets, now_ms)
        if not records:
            respond(OffsetCommitResponse(errors=errors))
            return

        def done(write_error: str) -> None:
            if write_error == "NONE":
                for key, value in records:
                    shard.offsets.replay(key, value)
                respond(OffsetCommitResponse(errors=errors))
                self._maybe_schedule_expiration(shard, self._clock())
            else:
                respond(OffsetCommitResponse(errors={tp: write_error if e == "NONE" else e
                                                     for tp, e in errors.items()}))
        self._write(shard, records, done)

    def _validate_commit(self, shard: _Shard, msg: OffsetCommitRequest, now_ms: float) -> str:
        generation = msg.generation_id_or_member_epoch
        if self._is_consumer_group(msg.group_id):
            result: str = self.consumer_groups.validate_offset_commit(msg.group_id, msg.member_id, generation)
            return result
        group = shard.groups.get(msg.group_id)
        if group is None:
            if generation >= 0:
                return "GROUP_ID_NOT_FOUND"      # OffsetCommit v9 (older versions said ILLEGAL_GENERATION)
            group = shard.groups[msg.group_id] = ClassicGroup(msg.group_id, state_timestamp_ms=now_ms)
        error = group.validate_offset_commit(msg.member_id, msg.group_instance_id, generation)
        member = group.members.get(msg.member_id)
        if error == "NONE" and member is not None and group.is_in(S.STABLE, S.PREPARING_REBALANCE):
            self._schedule_heartbeat(shard, group, member.member_id, now_ms + member.session_timeout_ms)
        return error

    def _fetch(self, shard: _Shard, msg: OffsetFetchRequest, respond: Respond) -> None:
        partitions = msg.partitions
        if self._is_consumer_group(msg.group_id):
            error = self.consumer_groups.validate_offset_fetch(msg.group_id, msg.member_id, msg.member_epoch)
            if error not in ("NONE", "GROUP_ID_NOT_FOUND"):
                respond(OffsetFetchResponse(error=error))
                return
        respond(OffsetFetchResponse(error="NONE", offsets=shard.offsets.fetch(msg.group_id, partitions)))

    def _maybe_schedule_expiration(self, shard: _Shard, now_ms: float) -> None:
        """Arm the periodic offset expiration check (``offsets.retention.check.interval.ms``) while some Empty
        classic group of the partition holds offsets; an idle partition has no timer."""
        name = f"gc:expire:{shard.partition}"
        if name in shard.timers:
            return
        if any(g.is_in(S.EMPTY) and shard.offsets.has_offsets(gid) for gid, g in shard.groups.items()):
            self._set_timer(shard, name, now_ms + self._retention_check_ms, lambda t: self._expire_offsets(shard, t))

    def _expire_offsets(self, shard: _Shard, now_ms: float) -> None:
        """Kafka's ``cleanupGroupMetadata`` for classic groups: tombstone the offsets of Empty groups older than
        ``offsets.retention.minutes`` (from when the group emptied, or from the commit for a group without
        members ever), and the group itself once it has no offsets left."""
        records: list[tuple[bytes, Any]] = []
        emptied: list[str] = []
        for group_id, group in shard.groups.items():
            if not group.is_in(S.EMPTY) or not shard.offsets.has_offsets(group_id):
                continue
            base = group.state_timestamp_ms if group.protocol_type is not None else None
            keys = shard.offsets.expired(group_id, now_ms, self._retention_ms, base)
            records.extend((key, None) for key in keys)
            if len(keys) == len(shard.offsets.committed(group_id)):
                records.append((group_key(group_id), None))
                emptied.append(group_id)
        if records:
            def done(error: str) -> None:
                if error != "NONE":
                    return
                for key, value in records:
                    if key[:1] == OFFSET_TAG:
                        shard.offsets.replay(key, value)
                for group_id in emptied:
                    group = shard.groups.get(group_id)
                    if group is not None and group.is_in(S.EMPTY) and not shard.offsets.has_offsets(group_id):
                        group.transition_to(S.DEAD, self._clock())
                        del shard.groups[group_id]
                self.port.record("group_offsets_expired", sum(1 for k, _ in records if k[:1] == OFFSET_TAG),
                                 partition=shard.partition)
            self._write(shard, records, done)
        self._maybe_schedule_expiration(shard, now_ms)

    # ==== KIP-848 ==============================================================================================
    def _consumer_heartbeat(self, shard: _Shard, msg: ConsumerGroupHeartbeatRequest, respond: Respond,
                            now_ms: float) -> None:
        group = shard.groups.get(msg.group_id)
        if group is not None:
            if not group.is_empty() or msg.member_epoch != 0:
                respond(ConsumerGroupHeartbeatResponse(
                    error="GROUP_ID_NOT_FOUND", error_message=f"Group {msg.group_id} is not a consumer group."))
                return
            # an empty classic group gives way to the consumer group (Kafka's maybeDeleteEmptyClassicGroup)
            for name in (_join_timer(group.group_id), _sync_timer(group.group_id)):
                self._cancel_timer(shard, name)
            del shard.groups[msg.group_id]
            group.transition_to(S.DEAD, now_ms)
            self._write(shard, [(group_key(msg.group_id), None)], lambda error: None)
        self.consumer_groups.heartbeat(shard.partition, msg, now_ms, respond)


def _heartbeat_timer(group_id: str, member_id: str) -> str:
    return f"gc:heartbeat:{group_id}:{member_id}"


def _join_timer(group_id: str) -> str:
    return f"gc:join:{group_id}"


def _sync_timer(group_id: str) -> str:
    return f"gc:sync:{group_id}"


def _inconsistent(requested: str | None, current: str | None) -> bool:
    return requested is not None and current is not None and requested != current


def _partitions(assignment: Any) -> list[TopicPartition]:
    return sorted(assignment.partitions) if isinstance(assignment, Assignment) else []


def _error_response(msg: Any, error: str) -> Any:
    """The answer to ``msg`` that carries only ``error``."""
    if isinstance(msg, JoinGroupRequest):
        return JoinGroupResponse(error=error, member_id=msg.member_id)
    if isinstance(msg, SyncGroupRequest):
        return SyncGroupResponse(error=error)
    if isinstance(msg, HeartbeatRequest):
        return HeartbeatResponse(error=error)
    if isinstance(msg, LeaveGroupRequest):
        return LeaveGroupResponse(error=error)
    if isinstance(msg, OffsetCommitRequest):
        return OffsetCommitResponse(errors={tp: error for tp in msg.offsets})
    if isinstance(msg, OffsetFetchRequest):
        return OffsetFetchResponse(error=error)
    if isinstance(msg, ConsumerGroupHeartbeatRequest):
        return ConsumerGroupHeartbeatResponse(error=error)
    raise TypeError(f"the group coordinator does not handle {type(msg).__name__}")
