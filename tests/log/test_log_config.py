"""LogConfig: Kafka 4.x defaults, dotted names through kafkalab.config.resolve, model-level validation."""
import pytest

from kafkalab.errors import ConfigError
from kafkalab.log import LogConfig


def test_defaults_are_kafkas():
    c = LogConfig()
    assert (c.segment_bytes, c.segment_ms, c.retention_ms, c.retention_bytes) == (
        1_073_741_824, 604_800_000, 604_800_000, -1)
    assert (c.cleanup_policy, c.delete_retention_ms, c.min_compaction_lag_ms, c.max_message_bytes) == (
        ("delete",), 86_400_000, 0, 1_048_588)
    assert c.min_cleanable_dirty_ratio == 0.5
    assert LogConfig.from_topic_config() == c


def test_from_topic_config_parses_kafka_strings():
    c = LogConfig.from_topic_config({"segment.bytes": "1048576", "cleanup.policy": "compact,delete",
                                     "retention.ms": "-1", "min.insync.replicas": 2})
    assert (c.segment_bytes, c.retention_ms, c.cleanup_policy) == (1_048_576, -1, ("compact", "delete"))
    assert c.compact and c.delete


def test_from_topic_config_uses_broker_synonyms():
    c = LogConfig.from_topic_config({}, broker={"log.retention.hours": 1})
    assert c.retention_ms == 3_600_000


def test_from_topic_config_rejects_unknown_keys_and_kafka_ranges():
    with pytest.raises(ConfigError, match="segment.bytes"):
        LogConfig.from_topic_config({"segment.bytes": 1000})  # Kafka's minimum is 1 MiB
    with pytest.raises(ConfigError, match="retention.mss"):
        LogConfig.from_topic_config({"retention.mss": 1})


def test_direct_construction_allows_small_segments_but_checks_sense():
    assert LogConfig(segment_bytes=200).segment_bytes == 200
    assert LogConfig(cleanup_policy="delete, compact").cleanup_policy == ("compact", "delete")
    with pytest.raises(ValueError, match="cleanup_policy: unknown policy 'purge'; allowed: 'delete', 'compact' or both"):
        LogConfig(cleanup_policy=("purge",))
    with pytest.raises(ValueError, match="segment_bytes must be >= 1, got 0"):
        LogConfig(segment_bytes=0)
    with pytest.raises(ValueError, match="delete_retention_ms must be >= 0, got -1"):
        LogConfig(delete_retention_ms=-1)
    with pytest.raises(ValueError, match=r"min_cleanable_dirty_ratio must be in \[0, 1\], got 2"):
        LogConfig(min_cleanable_dirty_ratio=2)
