"""TxnOffsetCommit in the group coordinator: offsets committed inside a transaction (KIP-98, KIP-447; Kafka's
``OffsetMetadataManager.commitTransactionalOffset``, ``replayEndTransactionMarker`` and
``validateTransactionalOffsetCommit``).

How it works. A transactional producer commits its consumer's offsets through the group coordinator with the
consumer's group metadata (KIP-447): for a classic group the member id, instance id and generation are checked as an
OffsetCommit's are; for a KIP-848 group the member epoch, where a mismatch is ILLEGAL_GENERATION (Kafka's
``isTransactional`` case). A zombie that kept an old generation is therefore fenced by the group itself, so one
transactional producer per application instance suffices. A request without member id and generation (the pre-447
``sendOffsetsToTransaction(offsets, groupId)``) is not checked against the group.

The offsets are written to the group's ``__consumer_offsets`` partition as a *transactional* batch of the producer
(its id and epoch), answered once committed, and kept *pending* per producer: they are not visible to OffsetFetch.
The transaction coordinator's marker on that partition decides: COMMIT replays them into the offset store, ABORT
drops them (:meth:`TxnOffsets.on_marker`). After a failover, the broker's log reader hands committed transactions'
records to the normal replay at their marker and the still-open ones to :meth:`TxnOffsets.on_loaded`.

An OffsetFetch with ``require_stable`` (KIP-447; Kafka's consumer always sets it) for a partition whose offset a
transaction of the group still holds pending is answered UNSTABLE_OFFSET_COMMIT (:meth:`TxnOffsets.unstable`), and
the consumer retries until the marker decides, so a new owner never starts from an offset about to change.

Simplifications (named): the write has no ``offsets.commit.timeout.ms`` time-out; UNSTABLE_OFFSET_COMMIT is the
response's group-level error, not one per partition (Kafka's consumer fails and retries the whole fetch on it).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.groups.offsets import commit_records
from kafkalab.groups.records import parse_offset_key
from kafkalab.groups.runtime import CoordinatorRuntime, Respond, Shard, map_write_error
from kafkalab.protocol.txn import TxnOffsetCommitRequest, TxnOffsetCommitResponse

__all__ = ["TxnOffsets"]


class TxnOffsets:
    """Pending transactional offsets of every shard, by producer id."""

    def __init__(self, runtime: CoordinatorRuntime) -> None:
        self.runtime = runtime
        #: partition -> producer id -> offset records waiting for their marker
        self.pending: dict[int, dict[int, list[tuple[bytes, Any]]]] = {}

    def commit(self, shard: Shard, msg: TxnOffsetCommitRequest, respond: Respond, now_ms: float) -> None:
        error = self._validate(shard, msg)
        if error != "NONE":
            respond(TxnOffsetCommitResponse({tp: error for tp in msg.offsets}))
            return
        records, errors = commit_records(msg.group_id, msg.offsets, now_ms)
        if not records:
            respond(TxnOffsetCommitResponse(errors))
            return
        runtime = self.runtime

        def done(write_error: str) -> None:
            if not runtime.is_led(shard):
                respond(TxnOffsetCommitResponse({tp: "NOT_COORDINATOR" for tp in msg.offsets}))
                return
            mapped = map_write_error(write_error)
            if mapped == "NONE":
                self.pending.setdefault(shard.partition, {}).setdefault(msg.producer_id, []).extend(records)
                respond(TxnOffsetCommitResponse(errors))
            else:
                respond(TxnOffsetCommitResponse({tp: mapped if e == "NONE" else e for tp, e in errors.items()}))
        runtime.port.append_transactional(shard.partition, records, msg.producer_id,  # type: ignore[attr-defined]
                                          msg.producer_epoch, done)

    def _validate(self, shard: Shard, msg: TxnOffsetCommitRequest) -> str:
        if not msg.member_id and msg.generation_id < 0:
            return "NONE"
        runtime = self.runtime
        if runtime.is_consumer_group(msg.group_id):
            result = str(runtime.consumer_groups.validate_offset_commit(msg.group_id, msg.member_id,
                                                                        msg.generation_id))
            return "ILLEGAL_GENERATION" if result == "STALE_MEMBER_EPOCH" else result
        group = shard.groups.get(msg.group_id)
        if group is None:
            return "ILLEGAL_GENERATION"
        return str(group.validate_offset_commit(msg.member_id, msg.group_instance_id, msg.generation_id))

    def on_marker(self, partition: int, producer_id: int, committed: bool) -> None:
        """A marker of ``producer_id`` was written on ``partition``: publish or drop its offsets."""
        records = self.pending.get(partition, {}).pop(producer_id, None)
        shard = self.runtime.shards.get(partition)
        if not records or shard is None or not committed:
            return
        for key, value in records:
            shard.offsets.replay(key, value)
        self.runtime.port.record("group_txn_offsets_committed", len(records), partition=partition)

    def unstable(self, partition: int, group_id: str, partitions: tuple[TopicPartition, ...] | None) -> bool:
        """Whether a transaction holds a pending offset of ``group_id`` for one of ``partitions`` (None: any)."""
        pending = self.pending.get(partition)
        if not pending:
            return False
        wanted = None if partitions is None else set(partitions)
        for records in pending.values():
            for key, _value in records:
                gid, tp = parse_offset_key(key)
                if gid == group_id and (wanted is None or tp in wanted):
                    return True
        return False

    def on_loaded(self, shard: Shard, open_transactions: Mapping[int, list[tuple[bytes, Any]]]) -> None:
        """A loaded partition's transactions still without a marker become pending again."""
        self.pending[shard.partition] = {pid: list(records) for pid, records in sorted(open_transactions.items())}

    def on_unloaded(self, partition: int) -> None:
        self.pending.pop(partition, None)
