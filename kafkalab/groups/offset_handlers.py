"""OffsetCommit, OffsetFetch and offset expiration in the group coordinator (Kafka 4's ``OffsetMetadataManager`` and
the classic-group part of ``GroupMetadataManager.cleanupGroupMetadata``).

How it works. OffsetCommit is validated against the group (generation, member, instance id, state; a consumer without
group management commits with generation -1 and no member id while the group is empty or unknown; a KIP-848 group
validates the member epoch itself), written one record per partition and answered once committed; the offsets become
visible (replayed into the shard's :class:`~kafkalab.groups.offsets.OffsetStore`) only then. A commit not committed
within ``offsets.commit.timeout.ms`` is answered COORDINATOR_NOT_AVAILABLE, yet its offsets become visible if the high
watermark passes them later (Kafka does not revert a timed-out write: the records are in the log). A commit of a classic
member in Stable or PreparingRebalance also keeps its session alive, as in Kafka. OffsetFetch answers from the store.

Offsets expire (``offsets.retention.minutes``, checked every ``offsets.retention.check.interval.ms`` while a
candidate exists, timer ``gc:expire:<partition>``) only for Empty classic groups, counted from when the group emptied
(or from the commit for a group that never had members); a group whose offsets all expired is tombstoned too.

Simplifications (named): offsets do not expire for KIP-848 groups nor per unsubscribed topic of a Stable group;
offsets of deleted topics are not removed (OffsetDelete is :mod:`kafkalab.groups.group_admin`'s). An OffsetCommit with a generation for a group that does
not exist answers GROUP_ID_NOT_FOUND (OffsetCommit v9; older versions said ILLEGAL_GENERATION).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafkalab.groups.classic import ClassicGroup
from kafkalab.groups.classic import ClassicGroupState as S
from kafkalab.groups.offsets import commit_records
from kafkalab.groups.records import OFFSET_TAG, group_key
from kafkalab.groups.runtime import CoordinatorRuntime, Respond, Shard
from kafkalab.protocol.group import (
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
)

if TYPE_CHECKING:       # classic_rebalance imports this module (it arms the expiration check)
    from kafkalab.groups.classic_rebalance import ClassicRebalance

__all__ = ["OffsetExpiration", "OffsetHandlers"]


class OffsetExpiration:
    """The periodic offset expiration check of every shard of ``runtime``."""

    def __init__(self, runtime: CoordinatorRuntime, retention_ms: float, retention_check_ms: float) -> None:
        self.runtime = runtime
        self.retention_ms = retention_ms
        self.retention_check_ms = retention_check_ms

    def maybe_schedule(self, shard: Shard, now_ms: float) -> None:
        """Arm the periodic offset expiration check (``offsets.retention.check.interval.ms``) while some Empty
        classic group of the partition holds offsets; an idle partition has no timer."""
        name = f"gc:expire:{shard.partition}"
        if name in shard.timers:
            return
        if any(g.is_in(S.EMPTY) and shard.offsets.has_offsets(gid) for gid, g in shard.groups.items()):
            self.runtime.set_timer(shard, name, now_ms + self.retention_check_ms,
                                   lambda t: self._expire_offsets(shard, t))

    def _expire_offsets(self, shard: Shard, now_ms: float) -> None:
        """Kafka's ``cleanupGroupMetadata`` for classic groups: tombstone the offsets of Empty groups older than
        ``offsets.retention.minutes`` (from when the group emptied, or from the commit for a group without
        members ever), and the group itself once it has no offsets left."""
        runtime = self.runtime
        records: list[tuple[bytes, Any]] = []
        emptied: list[str] = []
        for group_id, group in shard.groups.items():
            if not group.is_in(S.EMPTY) or not shard.offsets.has_offsets(group_id):
                continue
            base = group.state_timestamp_ms if group.protocol_type is not None else None
            keys = shard.offsets.expired(group_id, now_ms, self.retention_ms, base)
            records.extend((key, None) for key in keys)
            if len(keys) == len(shard.offsets.committed(group_id)):
                records.append((group_key(group_id), None))
                emptied.append(group_id)
        if records:
            def on_commit() -> None:
                for key, value in records:
                    if key[:1] == OFFSET_TAG:
                        shard.offsets.replay(key, value)
                for group_id in emptied:
                    group = shard.groups.get(group_id)
                    if group is not None and group.is_in(S.EMPTY) and not shard.offsets.has_offsets(group_id):
                        group.transition_to(S.DEAD, runtime.clock())
                        del shard.groups[group_id]
                runtime.port.record("group_offsets_expired", sum(1 for k, _ in records if k[:1] == OFFSET_TAG),
                                    partition=shard.partition)
            runtime.write(shard, records, lambda error: None, on_commit)
        self.maybe_schedule(shard, now_ms)


class OffsetHandlers:
    """OffsetCommit and OffsetFetch for classic, simple and (validated by the KIP-848 manager) consumer groups."""

    def __init__(self, runtime: CoordinatorRuntime, rebalance: ClassicRebalance,
                 expiration: OffsetExpiration) -> None:
        self.runtime = runtime
        self.rebalance = rebalance
        self.expiration = expiration

    def commit(self, shard: Shard, msg: OffsetCommitRequest, respond: Respond, now_ms: float) -> None:
        error = self._validate_commit(shard, msg, now_ms)
        if error != "NONE":
            respond(OffsetCommitResponse(errors={tp: error for tp in msg.offsets}))
            return
        records, errors = commit_records(msg.group_id, msg.offsets, now_ms)
        if not records:
            respond(OffsetCommitResponse(errors=errors))
            return

        def on_commit() -> None:        # also after a time-out: the offsets are in the log (see the runtime)
            for key, value in records:
                shard.offsets.replay(key, value)
            self.expiration.maybe_schedule(shard, self.runtime.clock())

        def done(write_error: str) -> None:
            if write_error == "NONE":
                respond(OffsetCommitResponse(errors=errors))
            else:
                respond(OffsetCommitResponse(errors={tp: write_error if e == "NONE" else e
                                                     for tp, e in errors.items()}))
        self.runtime.write(shard, records, done, on_commit)

    def _validate_commit(self, shard: Shard, msg: OffsetCommitRequest, now_ms: float) -> str:
        generation = msg.generation_id_or_member_epoch
        if self.runtime.is_consumer_group(msg.group_id):
            result: str = self.runtime.consumer_groups.validate_offset_commit(msg.group_id, msg.member_id,
                                                                              generation)
            return result
        group = shard.groups.get(msg.group_id)
        if group is None:
            if generation >= 0:
                return "GROUP_ID_NOT_FOUND"      # OffsetCommit v9 (older versions said ILLEGAL_GENERATION)
            group = shard.groups[msg.group_id] = ClassicGroup(msg.group_id, state_timestamp_ms=now_ms)
        error = group.validate_offset_commit(msg.member_id, msg.group_instance_id, generation)
        member = group.members.get(msg.member_id)
        if error == "NONE" and member is not None and group.is_in(S.STABLE, S.PREPARING_REBALANCE):
            self.rebalance.schedule_heartbeat(shard, group, member.member_id, now_ms + member.session_timeout_ms)
        return error

    def fetch(self, shard: Shard, msg: OffsetFetchRequest, respond: Respond) -> None:
        partitions = msg.partitions
        if self.runtime.is_consumer_group(msg.group_id):
            error = self.runtime.consumer_groups.validate_offset_fetch(msg.group_id, msg.member_id,
                                                                       msg.member_epoch)
            if error not in ("NONE", "GROUP_ID_NOT_FOUND"):
                respond(OffsetFetchResponse(error=error))
                return
        respond(OffsetFetchResponse(error="NONE", offsets=shard.offsets.fetch(msg.group_id, partitions)))
