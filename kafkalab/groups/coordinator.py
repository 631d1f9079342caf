"""The group coordinator a broker runs for the ``__consumer_offsets`` partitions it leads (Kafka 4's
``group-coordinator`` module: ``GroupCoordinatorService`` and ``GroupCoordinatorShard``; the pieces it is made of
follow ``CoordinatorRuntime`` and ``GroupMetadataManager``/``OffsetMetadataManager``).

How it works. A group belongs to partition ``abs(javaHashCode(group.id)) % offsets.topic.num.partitions``
(:func:`~kafkalab.groups.hashing.partition_for`); its coordinator is that partition's leader. Each led partition is a
*shard* holding its classic groups (:class:`~kafkalab.groups.classic.ClassicGroup`) and committed offsets
(:class:`~kafkalab.groups.offsets.OffsetStore`); KIP-848 groups live in the
:class:`~kafkalab.groups.consumer_group.ConsumerGroupManager`, which gets its heartbeats, its ``cg:`` timers and its
``C`` records from here. :class:`GroupCoordinator` is the facade the broker calls; it checks a request, finds its
shard and hands it to the piece that serves it:

- :mod:`kafkalab.groups.runtime`: shards, timers, writes (complete once the high watermark passed them, errors
  mapped by :data:`WRITE_ERRORS`, time out after ``offsets.commit.timeout.ms``) and the replay of a partition's log.
- :mod:`kafkalab.groups.classic_protocol` (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) over
  :mod:`kafkalab.groups.classic_rebalance` (the rebalance, the pending-sync and session timers).
- :mod:`kafkalab.groups.offset_handlers`: OffsetCommit, OffsetFetch and offset expiration.
- :mod:`kafkalab.groups.group_admin`: OffsetDelete and DeleteGroups (the admin client's).
- :mod:`kafkalab.groups.txn_offsets`: TxnOffsetCommit (KIP-447) and the transaction markers that publish its offsets
  (:meth:`GroupCoordinator.on_txn_marker`).

Loading: :meth:`GroupCoordinator.on_become_leader` reads the partition's log and, after a modelled time of
``bytes / LOAD_BYTES_PER_MS`` (Kafka's loader reads the log on a separate thread), replays it; a classic group comes
back Stable (or Empty) with its members' session timers restarted. Until then requests get
COORDINATOR_LOAD_IN_PROGRESS; requests for a partition not led here get NOT_COORDINATOR. On resignation pending
writes fail with NOT_COORDINATOR, parked JoinGroup/SyncGroup requests are answered NOT_COORDINATOR and every group of
the partition becomes Dead and is dropped.

Timer names: ``gc:heartbeat:<group>:<member>``, ``gc:join:<group>``, ``gc:sync:<group>``, ``gc:load:<partition>``,
``gc:expire:<partition>``, ``gc:write:<partition>:<seq>``; names starting with ``cg:`` belong to the KIP-848 manager
(whose writes time out on ``cg:write:<partition>:<n>``, after the same ``offsets.commit.timeout.ms``).

Simplifications (named): answers that write nothing go out at once (Kafka defers them until earlier writes of the
partition are committed); a JoinGroup for a group id that has a KIP-848 group answers INCONSISTENT_GROUP_PROTOCOL
(Kafka 4 lets classic members join consumer groups and converts between the two; not modelled), and
ConsumerGroupHeartbeat for a non-empty classic group answers GROUP_ID_NOT_FOUND (an empty classic group is deleted,
as Kafka does); no DescribeGroups or ListGroups RPCs (``describe_group``/``group_ids`` serve the cluster facade).
The other named simplifications are in the docstrings of the modules above.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.config import Config, resolve
from kafkalab.groups.classic import ClassicGroupState as S
from kafkalab.groups.classic_protocol import NEW_MEMBER_JOIN_TIMEOUT_MS, ClassicProtocol
from kafkalab.groups.classic_rebalance import EMPTY_ASSIGNMENT, ClassicRebalance, join_timer, sync_timer
from kafkalab.groups.group_admin import GroupAdminHandlers
from kafkalab.groups.hashing import partition_for
from kafkalab.groups.offset_handlers import OffsetExpiration, OffsetHandlers
from kafkalab.groups.records import group_key, value_size_bytes
from kafkalab.groups.runtime import (
    LOAD_BYTES_PER_MS,
    WRITE_ERRORS,
    CoordinatorPort,
    CoordinatorRuntime,
    Respond,
    Shard,
    map_write_error,
)
from kafkalab.groups.txn_offsets import TxnOffsets
from kafkalab.protocol.consumer_group import ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse
from kafkalab.protocol.group import (
    GROUP_REQUESTS,
    Assignment,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    SyncGroupRequest,
    SyncGroupResponse,
)
from kafkalab.protocol.group_admin import (
    DeleteGroupsRequest,
    DeleteGroupsResponse,
    OffsetDeleteRequest,
    OffsetDeleteResponse,
)
from kafkalab.protocol.txn import TxnOffsetCommitRequest, TxnOffsetCommitResponse

__all__ = ["CoordinatorPort", "GroupCoordinator", "WRITE_ERRORS", "map_write_error", "LOAD_BYTES_PER_MS",
           "NEW_MEMBER_JOIN_TIMEOUT_MS", "EMPTY_ASSIGNMENT"]


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
        self._min_session_ms = int(self.config["group.min.session.timeout.ms"])
        self._max_session_ms = int(self.config["group.max.session.timeout.ms"])
        self._protocols = tuple(self.config["group.coordinator.rebalance.protocols"])
        factory = consumer_manager_factory or _default_consumer_manager
        self.consumer_groups: Any = factory(port, self.config) if "consumer" in self._protocols else None
        self._runtime = CoordinatorRuntime(port, self.consumer_groups,
                                           write_timeout_ms=float(self.config["offsets.commit.timeout.ms"]))
        expiration = OffsetExpiration(self._runtime, float(self.config["offsets.retention.minutes"]) * 60_000,
                                      float(self.config["offsets.retention.check.interval.ms"]))
        self._rebalance = ClassicRebalance(self._runtime, expiration,
                                           int(self.config["group.initial.rebalance.delay.ms"]))
        self._classic = ClassicProtocol(broker_id, self._runtime, self._rebalance, int(self.config["group.max.size"]))
        self._offsets = OffsetHandlers(self._runtime, self._rebalance, expiration)
        self._expiration = expiration
        self._txn_offsets = TxnOffsets(self._runtime)
        self._admin = GroupAdminHandlers(self._runtime, self.num_partitions, self._cancel_group_timers)

    @property
    def _shards(self) -> dict[int, Shard]:
        """The led partitions (tests look at their groups)."""
        return self._runtime.shards

    # ==== the broker's entry points ===========================================================================
    def on_become_leader(self, partition: int, leader_epoch: int, now_ms: float) -> None:
        """Start loading ``partition``: read its log now, replay it after the modelled load time."""
        runtime = self._runtime
        runtime.now_ms = now_ms
        current = runtime.shards.get(partition)
        if current is not None:
            if current.leader_epoch >= leader_epoch:
                return
            self._unload(current)
        shard = Shard(partition, leader_epoch)
        runtime.shards[partition] = shard
        records = list(self.port.read(partition))
        size = sum(len(key) + value_size_bytes(value) for key, value in records)
        load_ms = size / LOAD_BYTES_PER_MS
        self.port.record("group_coordinator_load_bytes", size, partition=partition)
        if load_ms <= 0:
            self._complete_load(shard, records, now_ms)
        else:
            runtime.set_timer(shard, f"gc:load:{partition}", now_ms + load_ms,
                              lambda t: self._complete_load(shard, records, t))

    def on_resign(self, partition: int, leader_epoch: int, now_ms: float) -> None:
        """Stop coordinating ``partition``: its groups are dropped, parked and pending requests fail."""
        self._runtime.now_ms = now_ms
        shard = self._runtime.shards.get(partition)
        if shard is not None and leader_epoch >= shard.leader_epoch:
            self._unload(shard)

    def on_timer(self, name: str, now_ms: float) -> None:
        self._runtime.now_ms = now_ms
        if name.startswith("cg:"):
            if self.consumer_groups is not None:
                self.consumer_groups.on_timer(name, now_ms)
            return
        self._runtime.fire(name, now_ms)

    def on_metadata(self, topics: Mapping[str, int], now_ms: float, version: int | None = None) -> None:
        """Topics that changed (partition counts, 0 when deleted); ``version`` is the metadata image's offset (KIP-848
        regex resolution compares it with the version a regex was resolved at)."""
        self._runtime.now_ms = now_ms
        if self.consumer_groups is not None:
            if version is None:
                self.consumer_groups.on_metadata(topics, now_ms)
            else:
                self.consumer_groups.on_metadata(topics, now_ms, version=version)

    def owns(self, group_id: str) -> bool:
        """True when this broker coordinates ``group_id`` and has loaded its partition."""
        shard = self._runtime.shards.get(partition_for(group_id, self.num_partitions))
        return shard is not None and not shard.loading

    def handle(self, src: Any, msg: Any, now_ms: float) -> None:
        """Answer one group request (any type of ``messages.GROUP_REQUESTS``) with ``port.send(src, ...)``."""
        self._runtime.now_ms = now_ms
        if not isinstance(msg, (*GROUP_REQUESTS, TxnOffsetCommitRequest)):
            raise TypeError(f"the group coordinator does not handle {type(msg).__name__}")
        respond = self._runtime.responder(src, msg.correlation_id)
        if isinstance(msg, DeleteGroupsRequest):        # per group: each names its own partition
            self._admin.delete_groups(msg, respond)
            return
        error = self._precheck(msg)
        if error is None:
            shard = self._runtime.shards.get(partition_for(msg.group_id, self.num_partitions))
            error = "NOT_COORDINATOR" if shard is None else "COORDINATOR_LOAD_IN_PROGRESS" if shard.loading else None
        if error is not None:
            response = _error_response(msg, error)
            if error == "INVALID_SESSION_TIMEOUT" and isinstance(msg, JoinGroupRequest):
                response = replace(response, error_message=(
                    f"session.timeout.ms={msg.session_timeout_ms} is outside the broker's group.min.session.timeout.ms"
                    f"..group.max.session.timeout.ms ({self._min_session_ms}..{self._max_session_ms})"))
            respond(response)
            return
        assert shard is not None
        if isinstance(msg, JoinGroupRequest):
            self._classic.join(shard, src, msg, respond, now_ms)
        elif isinstance(msg, SyncGroupRequest):
            self._classic.sync(shard, msg, respond, now_ms)
        elif isinstance(msg, HeartbeatRequest):
            self._classic.heartbeat(shard, msg, respond, now_ms)
        elif isinstance(msg, LeaveGroupRequest):
            self._classic.leave(shard, msg, respond, now_ms)
        elif isinstance(msg, OffsetCommitRequest):
            self._offsets.commit(shard, msg, respond, now_ms)
        elif isinstance(msg, OffsetFetchRequest):
            if msg.require_stable and self._txn_offsets.unstable(shard.partition, msg.group_id, msg.partitions):
                respond(OffsetFetchResponse(error="UNSTABLE_OFFSET_COMMIT"))
            else:
                self._offsets.fetch(shard, msg, respond)
        elif isinstance(msg, TxnOffsetCommitRequest):
            self._txn_offsets.commit(shard, msg, respond, now_ms)
        elif isinstance(msg, OffsetDeleteRequest):
            self._admin.delete_offsets(shard, msg, respond)
        else:
            self._consumer_heartbeat(shard, msg, respond, now_ms)

    def on_txn_marker(self, partition: int, producer_id: int, committed: bool) -> None:
        """A transaction marker was written on ``partition`` (``onTransactionCompleted``)."""
        self._txn_offsets.on_marker(partition, producer_id, committed)

    # ==== views for the cluster facade =========================================================================
    def describe_group(self, group_id: str) -> dict[str, Any] | None:
        """The group as a dict (see the brief of ``describe_group``), or None when not coordinated here."""
        shard = self._runtime.shards.get(partition_for(group_id, self.num_partitions))
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
        ids = {gid for shard in self._runtime.shards.values() if not shard.loading for gid in shard.groups}
        if self.consumer_groups is not None:
            ids.update(self.consumer_groups.group_ids())
        return sorted(ids)

    def committed(self, group_id: str) -> dict[TopicPartition, OffsetAndMetadata]:
        """The committed offsets of ``group_id`` ({} when not coordinated here)."""
        shard = self._runtime.shards.get(partition_for(group_id, self.num_partitions))
        return {} if shard is None or shard.loading else shard.offsets.committed(group_id)

    # ==== checks, loading, unloading ============================================================================
    def _precheck(self, msg: Any) -> str | None:
        if not isinstance(msg, (OffsetFetchRequest, ConsumerGroupHeartbeatRequest)) and not msg.group_id:
            return "INVALID_GROUP_ID"       # (the KIP-848 manager answers INVALID_REQUEST itself, as Kafka does)
        if isinstance(msg, JoinGroupRequest) and not (
                self._min_session_ms <= msg.session_timeout_ms <= self._max_session_ms):
            return "INVALID_SESSION_TIMEOUT"
        if isinstance(msg, ConsumerGroupHeartbeatRequest) and self.consumer_groups is None:
            return "UNSUPPORTED_VERSION"
        return None

    def _complete_load(self, shard: Shard, records: list[tuple[bytes, Any]], now_ms: float) -> None:
        self._runtime.replay(shard, records)
        shard.loading = False
        on_loaded = getattr(self.consumer_groups, "on_loaded", None)
        if callable(on_loaded):
            on_loaded(shard.partition, now_ms)
        self._classic.on_loaded(shard, now_ms)
        self._expiration.maybe_schedule(shard, now_ms)
        open_txns = getattr(self.port, "open_transactions", None)
        self._txn_offsets.on_loaded(shard, open_txns(shard.partition) if callable(open_txns) else {})
        self.port.record("group_coordinator_loaded_groups", len(shard.groups), partition=shard.partition)

    def _cancel_group_timers(self, shard: Shard, group_id: str) -> None:
        for name in (join_timer(group_id), sync_timer(group_id)):
            self._runtime.cancel_timer(shard, name)

    def _unload(self, shard: Shard) -> None:
        """Kafka's ``onUnloaded``: every group becomes Dead, parked requests and pending writes get NOT_COORDINATOR."""
        self._runtime.detach(shard)
        self._classic.on_unloaded(shard, self._runtime.now_ms)
        self._runtime.fail_pending_writes(shard)
        self._txn_offsets.on_unloaded(shard.partition)
        if self.consumer_groups is not None:
            self.consumer_groups.unload(shard.partition)

    # ==== KIP-848 ==============================================================================================
    def _consumer_heartbeat(self, shard: Shard, msg: ConsumerGroupHeartbeatRequest, respond: Respond,
                            now_ms: float) -> None:
        group = shard.groups.get(msg.group_id)
        if group is not None:
            if not group.is_empty() or msg.member_epoch != 0:
                respond(ConsumerGroupHeartbeatResponse(
                    error="GROUP_ID_NOT_FOUND", error_message=f"Group {msg.group_id} is not a consumer group."))
                return
            # an empty classic group gives way to the consumer group (Kafka's maybeDeleteEmptyClassicGroup)
            for name in (join_timer(group.group_id), sync_timer(group.group_id)):
                self._runtime.cancel_timer(shard, name)
            del shard.groups[msg.group_id]
            group.transition_to(S.DEAD, now_ms)
            self._runtime.write(shard, [(group_key(msg.group_id), None)], lambda error: None)
        self.consumer_groups.heartbeat(shard.partition, msg, now_ms, respond)


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
    if isinstance(msg, TxnOffsetCommitRequest):
        return TxnOffsetCommitResponse({tp: error for tp in msg.offsets})
    if isinstance(msg, OffsetDeleteRequest):
        return OffsetDeleteResponse(error=error)
    if isinstance(msg, DeleteGroupsRequest):
        return DeleteGroupsResponse({group_id: error for group_id in msg.group_ids})
    raise TypeError(f"the group coordinator does not handle {type(msg).__name__}")
