"""A test double of a group coordinator, for the group-member tests only (never shipped).

:class:`GroupFakeCluster` is the fake brokers of :mod:`tests.clients.fake_broker` plus, on broker
``coordinator_id``, a small coordinator: a classic group (join window, leader election by first joiner, SyncGroup,
heartbeats with session timeouts, static members replaced without a rebalance), a KIP-848 group (member and group
epochs, round-robin target, a partition handed over only when no other member reports it) and offsets. Other brokers
answer NOT_COORDINATOR. Faults are queues the test fills: ``errors["JoinGroupRequest"] = ["NOT_COORDINATOR"]``
answers the next JoinGroup with that error. Every group request is logged in ``requests`` as (time, broker, message).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.protocol import group as gm
from kafkalab.protocol.consumer_group import (
    JOIN_EPOCH,
    LEAVE_EPOCH,
    STATIC_LEAVE_EPOCH,
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
)
from tests.clients.fake_broker import FakeCluster, _FakeBroker

_RESPONSES = {
    gm.JoinGroupRequest: lambda e, r: gm.JoinGroupResponse(e, correlation_id=r.correlation_id),
    gm.SyncGroupRequest: lambda e, r: gm.SyncGroupResponse(e, correlation_id=r.correlation_id),
    gm.HeartbeatRequest: lambda e, r: gm.HeartbeatResponse(e, correlation_id=r.correlation_id),
    gm.LeaveGroupRequest: lambda e, r: gm.LeaveGroupResponse(e, correlation_id=r.correlation_id),
    gm.OffsetCommitRequest: lambda e, r: gm.OffsetCommitResponse({tp: e for tp in r.offsets},
                                                                 correlation_id=r.correlation_id),
    gm.OffsetFetchRequest: lambda e, r: gm.OffsetFetchResponse(e, correlation_id=r.correlation_id),
    ConsumerGroupHeartbeatRequest: lambda e, r: ConsumerGroupHeartbeatResponse(e,
                                                                                     correlation_id=r.correlation_id),
    gm.FindCoordinatorRequest: lambda e, r: gm.FindCoordinatorResponse(e, correlation_id=r.correlation_id),
}


@dataclass
class _Member:
    member_id: str
    instance_id: str | None
    session_timeout_ms: float
    last_seen_ms: float
    protocols: tuple[tuple[str, Any], ...] = ()
    rebalance_timeout_ms: float = 300000.0
    # KIP-848
    epoch: int = 0
    topics: tuple[str, ...] = ()
    owned: tuple[TopicPartition, ...] = ()
    target: tuple[TopicPartition, ...] = ()
    sent: tuple[TopicPartition, ...] | None = None
    joined_at: int = 0


@dataclass
class _Group:
    state: str = "Empty"
    generation: int = 0
    members: dict[str, _Member] = field(default_factory=dict)
    leader: str = ""
    protocol: str | None = None
    pending_joins: dict[str, tuple[Any, gm.JoinGroupRequest]] = field(default_factory=dict)
    pending_syncs: dict[str, tuple[Any, gm.SyncGroupRequest]] = field(default_factory=dict)
    assignments: dict[str, Any] = field(default_factory=dict)
    join_timer: Any = None
    group_epoch: int = 0


class GroupFakeCluster(FakeCluster):
    """Fake brokers 1..n; broker ``coordinator_id`` coordinates every group."""

    def __init__(self, brokers: int = 3, seed: int = 0, coordinator_id: int = 1, join_window_ms: float = 300.0,
                 consumer_heartbeat_ms: int = 1000) -> None:
        self.coordinator_id = coordinator_id
        self.join_window_ms = join_window_ms
        self.consumer_heartbeat_ms = consumer_heartbeat_ms
        self.groups: dict[str, _Group] = {}
        self.offsets: dict[str, dict[TopicPartition, OffsetAndMetadata]] = defaultdict(dict)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.requests: list[tuple[float, int, Any]] = []
        self._next_member = 0
        super().__init__(brokers, seed)
        self._expiry_started = False

    def _factory(self, broker_id: int) -> Any:
        def start(ctx: Any) -> _FakeBroker:
            return _GroupBroker(self, broker_id, ctx)
        return start

    def group(self, group_id: str = "g") -> _Group:
        return self.groups.setdefault(group_id, _Group())

    def of_type(self, cls: type) -> list[Any]:
        return [m for _, _, m in self.requests if isinstance(m, cls)]


class _GroupBroker(_FakeBroker):
    cluster: GroupFakeCluster

    def on_message(self, src: Any, msg: Any) -> None:
        c = self.cluster
        kind = type(msg)
        if kind not in _RESPONSES:
            super().on_message(src, msg)
            return
        c.requests.append((self.ctx.now, self.id, msg))
        if c.errors[kind.__name__]:
            error = c.errors[kind.__name__].pop(0)
            self.reply(src, _RESPONSES[kind](error, msg))
            return
        if kind is gm.FindCoordinatorRequest:
            self.reply(src, gm.FindCoordinatorResponse("NONE", c.coordinator_id, msg.correlation_id))
            return
        if self.id != c.coordinator_id:
            self.reply(src, _RESPONSES[kind]("NOT_COORDINATOR", msg))
            return
        if not c._expiry_started:
            c._expiry_started = True
            self.ctx.set_timer(100, self._expire)
        getattr(self, "_" + kind.__name__)(src, msg)

    # -- sessions ------------------------------------------------------------------------------------------------------
    def _expire(self) -> None:
        now = self.ctx.now
        for group_id, group in sorted(self.cluster.groups.items()):
            for member in sorted(group.members.values(), key=lambda m: m.member_id):
                if now - member.last_seen_ms > member.session_timeout_ms and member.member_id not in group.pending_joins:
                    self._remove(group_id, group, member.member_id)
        self.ctx.set_timer(100, self._expire)

    def _remove(self, group_id: str, group: _Group, member_id: str) -> None:
        member = group.members.pop(member_id, None)
        if member is None:
            return
        if member.protocols:
            self._prepare_rebalance(group_id, group)
            if group.pending_joins and set(group.pending_joins) >= set(group.members):
                self._complete_join(group)
        else:
            group.group_epoch += 1
            self._compute_targets(group)

    # -- classic ---------------------------------------------------------------------------------------------------------
    def _JoinGroupRequest(self, src: Any, msg: gm.JoinGroupRequest) -> None:
        c = self.cluster
        group = c.group(msg.group_id)
        member_id = msg.member_id
        if not member_id:
            if msg.group_instance_id is not None:
                old = next((m for m in group.members.values() if m.instance_id == msg.group_instance_id), None)
                c._next_member += 1
                member_id = f"{msg.group_instance_id}-{c._next_member}"
                if old is not None and group.state == "Stable":
                    # KIP-345: a known static member comes back: new member id, same assignment, no rebalance
                    group.members.pop(old.member_id)
                    old.member_id = member_id
                    old.last_seen_ms = self.ctx.now
                    group.members[member_id] = old
                    if group.leader == msg.group_instance_id or group.leader not in group.members:
                        group.leader = member_id
                    group.assignments[member_id] = group.assignments.pop(next(
                        (k for k in list(group.assignments) if k not in group.members), member_id), None)
                    self.reply(src, gm.JoinGroupResponse("NONE", group.generation, "consumer", group.protocol,
                                                         group.leader, False, member_id,
                                                         correlation_id=msg.correlation_id))
                    return
            else:
                c._next_member += 1
                self.reply(src, gm.JoinGroupResponse("MEMBER_ID_REQUIRED", member_id=f"member-{c._next_member}",
                                                     correlation_id=msg.correlation_id))
                return
        member = group.members.get(member_id)
        if member is None:
            member = _Member(member_id, msg.group_instance_id, msg.session_timeout_ms, self.ctx.now)
            group.members[member_id] = member
        member.protocols = msg.protocols
        member.rebalance_timeout_ms = msg.rebalance_timeout_ms
        member.last_seen_ms = self.ctx.now
        group.pending_joins[member_id] = (src, msg)
        self._prepare_rebalance(msg.group_id, group)
        if set(group.pending_joins) >= set(group.members):
            self._complete_join(group)

    def _prepare_rebalance(self, group_id: str, group: _Group) -> None:
        if group.state == "PreparingRebalance":
            return
        window = self.cluster.join_window_ms if group.state == "Empty" else max(
            [j.rebalance_timeout_ms for _, j in group.pending_joins.values()] + [m.rebalance_timeout_ms for m in
                                                                                 group.members.values()],
            default=self.cluster.join_window_ms)
        group.state = "PreparingRebalance"
        for src, sync in group.pending_syncs.values():
            self.reply(src, gm.SyncGroupResponse("REBALANCE_IN_PROGRESS", correlation_id=sync.correlation_id))
        group.pending_syncs.clear()
        group.join_timer = self.ctx.set_timer(window, self._join_window_over, group)

    def _join_window_over(self, group: _Group) -> None:
        if group.state != "PreparingRebalance":
            return
        for member_id in sorted(group.members):
            if member_id not in group.pending_joins:
                group.members.pop(member_id)
        self._complete_join(group)

    def _complete_join(self, group: _Group) -> None:
        if group.join_timer is not None:
            group.join_timer.cancel()
            group.join_timer = None
        if not group.pending_joins:
            group.state = "Empty"
            return
        group.generation += 1
        group.state = "CompletingRebalance"
        joins = dict(group.pending_joins)
        group.pending_joins.clear()
        for member_id in joins:
            group.members[member_id].last_seen_ms = self.ctx.now
        if group.leader not in joins:
            group.leader = next(iter(joins))
        leader_protocols = [name for name, _ in joins[group.leader][1].protocols]
        group.protocol = next(p for p in leader_protocols
                              if all(p in [n for n, _ in j.protocols] for _, j in joins.values()))
        members = tuple(gm.JoinGroupMember(mid, j.group_instance_id, dict(j.protocols)[group.protocol])
                        for mid, (_, j) in sorted(joins.items()))
        for member_id, (src, join) in joins.items():
            self.reply(src, gm.JoinGroupResponse(
                "NONE", group.generation, "consumer", group.protocol, group.leader, False, member_id,
                members if member_id == group.leader else (), correlation_id=join.correlation_id))

    def _SyncGroupRequest(self, src: Any, msg: gm.SyncGroupRequest) -> None:
        group = self.cluster.group(msg.group_id)
        member = group.members.get(msg.member_id)
        if member is None:
            self.reply(src, gm.SyncGroupResponse("UNKNOWN_MEMBER_ID", correlation_id=msg.correlation_id))
            return
        if msg.generation_id != group.generation:
            self.reply(src, gm.SyncGroupResponse("ILLEGAL_GENERATION", correlation_id=msg.correlation_id))
            return
        if group.state == "PreparingRebalance":
            self.reply(src, gm.SyncGroupResponse("REBALANCE_IN_PROGRESS", correlation_id=msg.correlation_id))
            return
        member.last_seen_ms = self.ctx.now
        if group.state == "Stable":
            self.reply(src, gm.SyncGroupResponse("NONE", "consumer", group.protocol,
                                                 group.assignments.get(msg.member_id), msg.correlation_id))
            return
        group.pending_syncs[msg.member_id] = (src, msg)
        if msg.member_id == group.leader:
            group.assignments = dict(msg.assignments)
            group.state = "Stable"
            for member_id, (s, sync) in sorted(group.pending_syncs.items()):
                self.reply(s, gm.SyncGroupResponse("NONE", "consumer", group.protocol,
                                                   group.assignments.get(member_id), sync.correlation_id))
            group.pending_syncs.clear()

    def _HeartbeatRequest(self, src: Any, msg: gm.HeartbeatRequest) -> None:
        group = self.cluster.group(msg.group_id)
        member = group.members.get(msg.member_id)
        if member is None:
            error = "UNKNOWN_MEMBER_ID"
        elif msg.generation_id != group.generation:
            error = "ILLEGAL_GENERATION"
        else:
            member.last_seen_ms = self.ctx.now
            error = "REBALANCE_IN_PROGRESS" if group.state == "PreparingRebalance" else "NONE"
        self.reply(src, gm.HeartbeatResponse(error, msg.correlation_id))

    def _LeaveGroupRequest(self, src: Any, msg: gm.LeaveGroupRequest) -> None:
        group = self.cluster.group(msg.group_id)
        for identity in msg.members:
            if identity.member_id in group.members:
                group.pending_joins.pop(identity.member_id, None)
                self._remove(msg.group_id, group, identity.member_id)
        if group.state == "PreparingRebalance" and set(group.pending_joins) >= set(group.members):
            self._complete_join(group)
        self.reply(src, gm.LeaveGroupResponse("NONE", correlation_id=msg.correlation_id))

    # -- offsets -------------------------------------------------------------------------------------------------------
    def _OffsetCommitRequest(self, src: Any, msg: gm.OffsetCommitRequest) -> None:
        group = self.cluster.group(msg.group_id)
        error = "NONE"
        if msg.generation_id_or_member_epoch >= 0 or msg.member_id:
            member = group.members.get(msg.member_id)
            if member is None:
                error = "UNKNOWN_MEMBER_ID"
            elif member.topics or member.epoch:
                if msg.generation_id_or_member_epoch != member.epoch:
                    error = "STALE_MEMBER_EPOCH" if msg.generation_id_or_member_epoch < member.epoch \
                        else "FENCED_MEMBER_EPOCH"
            elif group.state == "CompletingRebalance":      # a PreparingRebalance group still takes commits
                error = "REBALANCE_IN_PROGRESS"
            elif msg.generation_id_or_member_epoch != group.generation:
                error = "ILLEGAL_GENERATION"
        if error == "NONE":
            self.cluster.offsets[msg.group_id].update(msg.offsets)
        self.reply(src, gm.OffsetCommitResponse({tp: error for tp in msg.offsets}, msg.correlation_id))

    def _OffsetFetchRequest(self, src: Any, msg: gm.OffsetFetchRequest) -> None:
        stored = self.cluster.offsets[msg.group_id]
        tps = msg.partitions if msg.partitions is not None else tuple(sorted(stored))
        out = {tp: stored.get(tp, OffsetAndMetadata(-1)) for tp in tps}
        self.reply(src, gm.OffsetFetchResponse("NONE", out, msg.correlation_id))

    # -- KIP-848 -------------------------------------------------------------------------------------------------------
    def _ConsumerGroupHeartbeatRequest(self, src: Any, msg: ConsumerGroupHeartbeatRequest) -> None:
        c = self.cluster
        group = c.group(msg.group_id)
        member = group.members.get(msg.member_id)

        def answer(error: str, **fields: Any) -> None:
            self.reply(src, ConsumerGroupHeartbeatResponse(error, correlation_id=msg.correlation_id, **fields))

        if msg.member_epoch in (LEAVE_EPOCH, STATIC_LEAVE_EPOCH):
            if member is not None:
                group.members.pop(msg.member_id)
                group.group_epoch += 1
                self._compute_targets(group)
            answer("NONE", member_id=msg.member_id, member_epoch=msg.member_epoch)
            return
        if msg.member_epoch == JOIN_EPOCH:
            if member is None:
                member = _Member(msg.member_id, msg.instance_id, 45000, self.ctx.now)
                group.members[msg.member_id] = member
            member.topics = tuple(msg.subscribed_topic_names or ())
            member.owned = tuple(msg.topic_partitions or ())
            member.sent = None
            group.group_epoch += 1
            self._compute_targets(group)
        elif member is None:
            answer("UNKNOWN_MEMBER_ID")
            return
        elif msg.member_epoch != member.epoch:
            answer("FENCED_MEMBER_EPOCH")
            return
        member.last_seen_ms = self.ctx.now
        if msg.topic_partitions is not None:
            member.owned = tuple(msg.topic_partitions)
        if msg.subscribed_topic_names is not None and tuple(msg.subscribed_topic_names) != member.topics:
            member.topics = tuple(msg.subscribed_topic_names)
            group.group_epoch += 1
            self._compute_targets(group)
        owned_by_others = {tp for m in group.members.values() if m is not member for tp in m.owned}
        give = tuple(tp for tp in member.target if tp not in owned_by_others or tp in member.owned)
        member.epoch = group.group_epoch
        assignment = None
        if give != member.sent:
            assignment = give
            member.sent = give
        answer("NONE", member_id=member.member_id, member_epoch=member.epoch,
               heartbeat_interval_ms=c.consumer_heartbeat_ms, assignment=assignment)

    def _compute_targets(self, group: _Group) -> None:
        members = sorted(group.members.values(), key=lambda m: m.member_id)
        topics = sorted({t for m in members for t in m.topics if t in self.cluster.topics})
        tps = [TopicPartition(t, p) for t in topics for p in range(self.cluster.topics[t])]
        targets: dict[str, list[TopicPartition]] = {m.member_id: [] for m in members}
        eligible = [m for m in members if m.topics]
        for i, tp in enumerate(tps):
            if eligible:
                targets[eligible[i % len(eligible)].member_id].append(tp)
        for m in members:
            m.target = tuple(targets[m.member_id])
