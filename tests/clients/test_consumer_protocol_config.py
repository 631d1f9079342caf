"""Keys the chosen ``group.protocol`` does not use, set explicitly, are refused as Kafka's
``ConsumerConfig.checkUnsupportedConfigsPostProcess`` refuses them (Kafka 4.0)."""
import re

import pytest

from kafkalab.clients.consumer import KafkaConsumer
from kafkalab.errors import ConfigError
from tests.clients.fake_broker import FakeCluster


def make_consumer(config):
    cluster = FakeCluster(3)
    return KafkaConsumer(config, world=cluster.world, bootstrap=cluster.broker_ids)


@pytest.mark.parametrize(("config", "message", "key"), [
    ({"group.protocol": "consumer", "session.timeout.ms": 10_000},
     "session.timeout.ms cannot be set when group.protocol=CONSUMER", "session.timeout.ms"),
    ({"group.protocol": "consumer", "heartbeat.interval.ms": 1_000, "partition.assignment.strategy": "range",
      "session.timeout.ms": "10000"},
     "partition.assignment.strategy, heartbeat.interval.ms, session.timeout.ms cannot be set when "
     "group.protocol=CONSUMER", "partition.assignment.strategy"),
    ({"group.protocol": "consumer", "partition.assignment.strategy": []},
     "partition.assignment.strategy cannot be set when group.protocol=CONSUMER", "partition.assignment.strategy"),
    ({"group.protocol": "classic", "group.remote.assignor": "uniform"},
     "group.remote.assignor cannot be set when group.protocol=CLASSIC", "group.remote.assignor"),
    ({"group.remote.assignor": "range"},            # classic is the default protocol
     "group.remote.assignor cannot be set when group.protocol=CLASSIC", "group.remote.assignor"),
])
def test_a_key_the_group_protocol_does_not_use_is_a_config_error(config, message, key):
    with pytest.raises(ConfigError, match="^" + re.escape(message) + "$") as info:
        make_consumer({"group.id": "g", **config})
    assert info.value.key == key


@pytest.mark.parametrize("config", [
    {"group.protocol": "consumer", "group.remote.assignor": "range"},
    {"group.protocol": "consumer", "partition.assignment.strategy": " "},      # blank counts as unset, as in Kafka
    {"group.protocol": "classic", "session.timeout.ms": 10_000, "heartbeat.interval.ms": 1_000,
     "partition.assignment.strategy": "cooperative-sticky", "group.remote.assignor": ""},
])
def test_the_keys_each_protocol_uses_and_blank_values_are_accepted(config):
    consumer = make_consumer({"group.id": "g", **config})
    assert consumer.config["group.protocol"] == config["group.protocol"]
