"""OffsetDelete and DeleteGroups in the group coordinator (Kafka 4's ``OffsetMetadataManager.deleteOffsets``,
``GroupCoordinatorShard.deleteGroups``, ``ClassicGroup.validateOffsetDelete``/``validateDeleteGroup`` and
``ConsumerGroup.validateDeleteGroup``).

How it works. **OffsetDelete** finds the group (GROUP_ID_NOT_FOUND when the coordinator has none: Kafka's
``GroupMetadataManager.group``), validates it (a Dead classic group is GROUP_ID_NOT_FOUND; a classic group that is not
Empty and does not use the ``consumer`` protocol type, a Connect worker group for instance, is NON_EMPTY_GROUP) and
answers per partition: GROUP_SUBSCRIBED_TO_TOPIC for every partition of a topic the group is subscribed to (a classic
group's topics as of its last generation, :meth:`~kafkalab.groups.classic.ClassicGroup.is_subscribed_to_topic`; a
KIP-848 group's members' subscriptions), else NONE, with an offset tombstone written to ``__consumer_offsets`` for each
partition that has a committed offset. The answer goes out once the tombstones are committed, and only then are
they replayed into the offset store (as every write of this coordinator).

**DeleteGroups** answers per group: INVALID_GROUP_ID for an empty id, NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS
for a group whose partition is not led or still loading here, GROUP_ID_NOT_FOUND for an unknown or Dead group,
NON_EMPTY_GROUP while a classic group is Stable, PreparingRebalance or CompletingRebalance or a KIP-848 group has
members; otherwise one tombstone per committed offset and the group's metadata tombstone are written (one write per
``__consumer_offsets`` partition) and, once committed, the group is Dead and forgotten and its offsets gone. A
KIP-848 group's own tombstones (target assignment epoch, subscription metadata, group epoch: Kafka's
``createGroupTombstoneRecords`` for a group without members) go through its manager
(:meth:`~kafkalab.groups.consumer_group.ConsumerGroupManager.delete_group`), whose group epoch tombstone removes it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafkalab.groups.classic import ClassicGroupState as S
from kafkalab.groups.hashing import partition_for
from kafkalab.groups.records import OFFSET_TAG, group_key, offset_key
from kafkalab.groups.runtime import CoordinatorRuntime, Respond, Shard, map_write_error
from kafkalab.protocol.group_admin import (
    DeleteGroupsRequest,
    DeleteGroupsResponse,
    OffsetDeleteRequest,
    OffsetDeleteResponse,
)

__all__ = ["GroupAdminHandlers"]

_NON_EMPTY = (S.STABLE, S.PREPARING_REBALANCE, S.COMPLETING_REBALANCE)


class GroupAdminHandlers:
    """The coordinator's OffsetDelete and DeleteGroups."""

    def __init__(self, runtime: CoordinatorRuntime, num_partitions: int,
                 cancel_group_timers: Callable[[Shard, str], None]) -> None:
        self.runtime = runtime
        self.num_partitions = num_partitions
        self._cancel_group_timers = cancel_group_timers

    # ---- OffsetDelete -------------------------------------------------------------------------------------------
    def delete_offsets(self, shard: Shard, msg: OffsetDeleteRequest, respond: Respond) -> None:
        subscribed = self._subscription_check(shard, msg.group_id)
        if isinstance(subscribed, str):
            respond(OffsetDeleteResponse(error=subscribed))
            return
        committed = shard.offsets.committed(msg.group_id)
        errors: dict[Any, str] = {}
        records: list[tuple[bytes, Any]] = []
        for tp in msg.partitions:
            if subscribed(tp.topic):
                errors[tp] = "GROUP_SUBSCRIBED_TO_TOPIC"
                continue
            errors[tp] = "NONE"
            if tp in committed and offset_key(msg.group_id, tp) not in (k for k, _ in records):
                records.append((offset_key(msg.group_id, tp), None))
        self.runtime.port.record("group_offsets_deleted", len(records), group=msg.group_id)
        if not records:
            respond(OffsetDeleteResponse(error="NONE", errors=errors))
            return

        def on_commit() -> None:
            for key, value in records:
                shard.offsets.replay(key, value)

        def done(error: str) -> None:
            respond(OffsetDeleteResponse(error="NONE", errors=errors) if error == "NONE"
                    else OffsetDeleteResponse(error=error))
        self.runtime.write(shard, records, done, on_commit)

    def _subscription_check(self, shard: Shard, group_id: str) -> str | Callable[[str], bool]:
        """The group's error, or its "is subscribed to topic" test."""
        group = shard.groups.get(group_id)
        if group is not None:
            if group.is_in(S.DEAD):
                return "GROUP_ID_NOT_FOUND"
            if group.is_in(*_NON_EMPTY) and group.protocol_type != "consumer":
                return "NON_EMPTY_GROUP"
            return group.is_subscribed_to_topic
        manager = self.runtime.consumer_groups
        consumer_group = manager._find(group_id) if manager is not None else None
        if consumer_group is None:
            return "GROUP_ID_NOT_FOUND"
        topics = frozenset(consumer_group.subscribed_topics())
        return topics.__contains__

    # ---- DeleteGroups -------------------------------------------------------------------------------------------
    def delete_groups(self, msg: DeleteGroupsRequest, respond: Respond) -> None:
        results: dict[str, str] = {}
        writes: dict[int, tuple[Shard, list[tuple[bytes, Any]], list[str]]] = {}
        consumer_groups: list[str] = []             # KIP-848 groups: their own records go through their manager
        for group_id in msg.group_ids:
            if group_id in results:
                continue
            error = self._validate_delete(group_id)
            if error != "NONE":
                results[group_id] = error
                continue
            shard = self.runtime.shards[partition_for(group_id, self.num_partitions)]
            _, records, deleted = writes.setdefault(shard.partition, (shard, [], []))
            records.extend((offset_key(group_id, tp), None) for tp in shard.offsets.committed(group_id))
            if group_id in shard.groups:
                records.append((group_key(group_id), None))
            else:
                consumer_groups.append(group_id)
            deleted.append(group_id)
            results[group_id] = "NONE"
        pending = [sum(1 for _, records, _ in writes.values() if records) + len(consumer_groups)]
        if not pending[0]:
            respond(DeleteGroupsResponse(results=results))
            return

        def one_done(deleted: list[str], error: str) -> None:
            if error != "NONE":
                for group_id in deleted:
                    results[group_id] = error
            pending[0] -= 1
            if pending[0] == 0:
                respond(DeleteGroupsResponse(results=results))
        for partition in sorted(writes):
            shard, records, deleted = writes[partition]
            if records:
                self.runtime.write(shard, records, lambda error, d=deleted: one_done(d, error),  # type: ignore[misc]
                                   lambda s=shard, r=records, d=deleted: self._deleted(s, r, d))  # type: ignore[misc]
        now = self.runtime.clock()
        for group_id in consumer_groups:
            self.runtime.consumer_groups.delete_group(
                group_id, now, lambda error, g=group_id: one_done([g], map_write_error(error)))  # type: ignore[misc]

    def _validate_delete(self, group_id: str) -> str:
        if not group_id:
            return "INVALID_GROUP_ID"
        shard = self.runtime.shards.get(partition_for(group_id, self.num_partitions))
        if shard is None:
            return "NOT_COORDINATOR"
        if shard.loading:
            return "COORDINATOR_LOAD_IN_PROGRESS"
        group = shard.groups.get(group_id)
        if group is not None:
            if group.is_in(S.DEAD):
                return "GROUP_ID_NOT_FOUND"
            return "NON_EMPTY_GROUP" if group.is_in(*_NON_EMPTY) else "NONE"
        manager = self.runtime.consumer_groups
        consumer_group = manager._find(group_id) if manager is not None else None
        if consumer_group is None:
            return "GROUP_ID_NOT_FOUND"
        return "NON_EMPTY_GROUP" if consumer_group.members else "NONE"

    def _deleted(self, shard: Shard, records: list[tuple[bytes, Any]], group_ids: list[str]) -> None:
        """The tombstones committed: replay the offsets'; a classic group still Empty becomes Dead and is dropped
        (one that gained members meanwhile stays, as its new metadata record will follow)."""
        for key, value in records:
            if key[:1] == OFFSET_TAG:
                shard.offsets.replay(key, value)
        now = self.runtime.clock()
        for group_id in group_ids:
            group = shard.groups.get(group_id)
            if group is not None and group.is_in(S.EMPTY):
                self._cancel_group_timers(shard, group_id)
                group.transition_to(S.DEAD, now)
                del shard.groups[group_id]
