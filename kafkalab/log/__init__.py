"""The partitioned log: segments, offsets, the leader epoch cache, retention and compaction.

Mirrors Kafka's ``storage`` module (``UnifiedLog``, ``LocalLog``, ``LogSegment``, ``LeaderEpochFileCache``,
``LogCleaner``). The record batches it stores are :mod:`kafkalab.common.records` (Kafka's ``common.record``),
re-exported here. Time is always an argument (``now_ms``); nothing here reads a clock or draws random numbers.
"""
from kafkalab.common.records import (
    BATCH_OVERHEAD_BYTES,
    NO_OFFSET,
    CountedRecords,
    Header,
    Record,
    RecordBatch,
    RecordColumns,
    record_size_bytes,
    size_of_varint,
    size_of_varlong,
)
from kafkalab.log.cleaner import CleanerStats
from kafkalab.log.epoch_cache import UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET, LeaderEpochCache
from kafkalab.log.log_config import LogConfig
from kafkalab.log.manager import LogManager
from kafkalab.log.partition_log import PartitionLog, UnexpectedAppendOffsetError
from kafkalab.log.segment import LogSegment

__all__ = [
    "BATCH_OVERHEAD_BYTES",
    "NO_OFFSET",
    "UNDEFINED_EPOCH",
    "UNDEFINED_EPOCH_OFFSET",
    "CleanerStats",
    "CountedRecords",
    "Header",
    "LeaderEpochCache",
    "LogConfig",
    "LogManager",
    "LogSegment",
    "PartitionLog",
    "Record",
    "RecordBatch",
    "RecordColumns",
    "UnexpectedAppendOffsetError",
    "record_size_bytes",
    "size_of_varint",
    "size_of_varlong",
]
