"""Committed offsets of the groups of one ``__consumer_offsets`` partition (Kafka's ``OffsetMetadataManager``).

How it works. :class:`OffsetStore` maps group -> partition -> :class:`~kafkalab.groups.records.OffsetCommitValue`. It
changes only by replaying records (:meth:`OffsetStore.replay`): the coordinator replays a commit's records once the
write is committed (the high watermark passed it) and replays the whole partition when it becomes leader, so what a
fetch returns is always what a new coordinator would rebuild from the log. Kafka's new coordinator replays at write
time into timeline data structures and reads at the last committed offset; answering fetches from committed state is
the same thing without the snapshots.

:func:`commit_records` turns an OffsetCommit into one record per partition (or a per-partition error for metadata that
is too long); :meth:`OffsetStore.fetch` answers an OffsetFetch, -1 for partitions without a commit.
:meth:`OffsetStore.expired` finds offsets past ``offsets.retention.minutes`` (Kafka's ``cleanupExpiredOffsets``):
for an Empty classic group counted from when it became empty (or from the commit, if later known), for a group
without group management from the commit.

Simplifications: transactional offset commits are :mod:`kafkalab.groups.txn_offsets`' (UNSTABLE_OFFSET_COMMIT too);
no per-request retention time (OffsetDelete is :mod:`kafkalab.groups.group_admin`'s); the coordinator expires offsets of Empty classic groups only.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.groups.records import OffsetCommitValue, offset_key, parse_offset_key

__all__ = ["OffsetStore", "commit_records", "OFFSET_METADATA_MAX_BYTES", "NO_OFFSET"]

#: Kafka's ``offset.metadata.max.bytes`` default
OFFSET_METADATA_MAX_BYTES = 4096
#: offset of a partition without a commit in an OffsetFetch answer
NO_OFFSET = OffsetAndMetadata(-1, -1, "")


def commit_records(group_id: str, offsets: Mapping[TopicPartition, OffsetAndMetadata], now_ms: float
                   ) -> tuple[list[tuple[bytes, Any]], dict[TopicPartition, str]]:
    """The records of an accepted OffsetCommit and each partition's error (NONE, or OFFSET_METADATA_TOO_LARGE for
    a partition that gets no record), in the request's order."""
    records: list[tuple[bytes, Any]] = []
    errors: dict[TopicPartition, str] = {}
    for tp, om in offsets.items():
        if om.metadata is not None and len(om.metadata) > OFFSET_METADATA_MAX_BYTES:
            errors[tp] = "OFFSET_METADATA_TOO_LARGE"
            continue
        errors[tp] = "NONE"
        records.append((offset_key(group_id, tp),
                        OffsetCommitValue(om.offset, om.leader_epoch, om.metadata or "", now_ms)))
    return records, errors


class OffsetStore:
    """The committed offsets of one coordinator partition, by group."""

    def __init__(self) -> None:
        self._by_group: dict[str, dict[TopicPartition, OffsetCommitValue]] = {}

    def replay(self, key: bytes, value: OffsetCommitValue | None) -> str:
        """Apply one offset record (None deletes); returns the record's group id."""
        group_id, tp = parse_offset_key(key)
        if value is None:
            offsets = self._by_group.get(group_id)
            if offsets is not None:
                offsets.pop(tp, None)
                if not offsets:
                    del self._by_group[group_id]
        else:
            self._by_group.setdefault(group_id, {})[tp] = value
        return group_id

    def has_offsets(self, group_id: str) -> bool:
        return bool(self._by_group.get(group_id))

    def group_ids(self) -> list[str]:
        return sorted(self._by_group)

    def committed(self, group_id: str) -> dict[TopicPartition, OffsetAndMetadata]:
        """Every committed offset of ``group_id``, sorted by partition."""
        offsets = self._by_group.get(group_id, {})
        return {tp: OffsetAndMetadata(v.offset, v.leader_epoch, v.metadata) for tp, v in sorted(offsets.items())}

    def fetch(self, group_id: str, partitions: Iterable[TopicPartition] | None
              ) -> dict[TopicPartition, OffsetAndMetadata]:
        """OffsetFetch: the asked partitions (-1 where nothing is committed), or every committed one if None."""
        committed = self.committed(group_id)
        if partitions is None:
            return committed
        return {tp: committed.get(tp, NO_OFFSET) for tp in partitions}

    def expired(self, group_id: str, now_ms: float, retention_ms: float, base_ms: float | None) -> list[bytes]:
        """Keys of ``group_id``'s offsets older than the retention: counted from ``base_ms`` (when the group became
        empty) if given, else from each commit."""
        keys = []
        for tp, value in sorted(self._by_group.get(group_id, {}).items()):
            start = base_ms if base_ms is not None and base_ms >= 0 else value.commit_timestamp_ms
            if now_ms - start >= retention_ms:
                keys.append(offset_key(group_id, tp))
        return keys
