"""Auto topic creation: a Metadata request naming a topic that does not exist creates it (Kafka's
``AutoTopicCreationManager``, driven by ``KafkaApis.handleTopicMetadataRequest``).

How it works. When ``auto.create.topics.enable`` is on (Kafka's default) and the request allows it
(``allow_auto_topic_creation``: the producer always, the consumer with ``allow.auto.create.topics``, never a request
for all topics), each missing topic with a valid name is sent to the active controller in one ``CreateTopics``
request, with the broker's ``num.partitions`` and ``default.replication.factor``. The Metadata answer does not wait:
the topic is ``UNKNOWN_TOPIC_OR_PARTITION`` (as Kafka's broker answers while its request is on its way) and the
client asks again after its backoff, until the topic and its leaders reach this broker's metadata image. A topic
already in flight is not sent again; an invalid name is ``INVALID_TOPIC_EXCEPTION`` and nothing is sent. A failed
creation (too few brokers for the replication factor, say) leaves the topic missing; the next Metadata request tries
again. ``__consumer_offsets`` is created by the group coordinator's own path, with its own partitions and configs.

Simplifications: with no active controller known, nothing is sent (the client's retry brings the request back),
where Kafka's controller channel queues it; an in-flight entry whose answer never came expires after
``controller.quorum.request.timeout.ms`` (checked lazily, on the next Metadata request for that topic), where Kafka's
channel retries against whichever controller is active for up to 60 s.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kafkalab.common.topic import validate_topic_name
from kafkalab.groups.hashing import OFFSETS_TOPIC
from kafkalab.protocol import admin as cm
from kafkalab.protocol.metadata import TopicMetadata

if TYPE_CHECKING:
    from kafkalab.broker.server import BrokerServer

__all__ = ["AutoTopicCreationManager", "is_valid_topic_name"]


def is_valid_topic_name(name: str) -> bool:
    """Whether Kafka's ``Topic.validate`` accepts ``name``."""
    return validate_topic_name(name) is None


class AutoTopicCreationManager:
    """One broker's auto topic creation: what it has asked the controller to create and not yet heard back about."""

    def __init__(self, server: BrokerServer) -> None:
        self.server = server
        config = server.config
        self.num_partitions = int(config["num.partitions"])
        self.replication_factor = int(config["default.replication.factor"])
        self.timeout_ms = float(config["controller.quorum.request.timeout.ms"])
        self.in_flight: dict[str, float] = {}        # topic -> when its CreateTopics went out
        self._correlation = 0

    def create_topics(self, names: Iterable[str]) -> dict[str, TopicMetadata]:
        """Ask the controller for the missing ``names``; the Metadata answer for each of them."""
        server = self.server
        now = server.ctx.now
        answers: dict[str, TopicMetadata] = {}
        creatable: list[cm.CreatableTopic] = []
        for name in names:
            if name in answers:
                continue
            if not is_valid_topic_name(name):
                answers[name] = TopicMetadata("INVALID_TOPIC_EXCEPTION", name, ())
                continue
            answers[name] = TopicMetadata("UNKNOWN_TOPIC_OR_PARTITION", name, (), name == OFFSETS_TOPIC)
            if name == OFFSETS_TOPIC:
                if server.groups is not None:
                    server.groups._create_offsets_topic()
                continue
            sent_at = self.in_flight.get(name)
            if sent_at is not None and now - sent_at < self.timeout_ms:
                continue
            creatable.append(cm.CreatableTopic(name, self.num_partitions, self.replication_factor))
        controller = server.active_controller_id
        if creatable and controller is not None:
            for topic in creatable:
                self.in_flight[topic.name] = now
            self._correlation += 1
            server.send(controller, cm.CreateTopicsRequest(tuple(creatable), correlation_id=self._correlation))
            server.ctx.record("broker.auto_topic_creation", len(creatable),
                              topics=",".join(t.name for t in creatable))
        return answers

    def on_create_topics_response(self, msg: cm.CreateTopicsResponse) -> None:
        """The controller answered: the topics may be asked for again (a failure is retried by the next request)."""
        for result in msg.topics:
            self.in_flight.pop(result.name, None)
