"""The coordinators' internal topics on a broker: where a key's coordinator is, and creating the topic on first use.

Kafka's group and transaction coordinators both answer FindCoordinator the same way (``KafkaApis``
``getCoordinator``): the key hashes to a partition of the internal topic (``__consumer_offsets`` or
``__transaction_state``) and the coordinator is that partition's leader. While the topic does not exist the broker
asks the controller to create it (Kafka's ``AutoTopicCreationManager`` for internal topics) and answers
COORDINATOR_NOT_AVAILABLE, so the client retries. The replication factor is the configured one capped at the number
of unfenced brokers, as Kafka's creation of internal topics in a small cluster does.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kafkalab.metadata.image import MetadataImage
from kafkalab.protocol import admin as cm
from kafkalab.protocol.common import NONE
from kafkalab.protocol.group import FindCoordinatorResponse

if TYPE_CHECKING:
    from kafkalab.broker.server import BrokerServer

__all__ = ["CREATE_RETRY_MS", "InternalTopicCreation", "coordinator_for", "create_internal_topic"]

#: how often a broker asks the controller again while an internal topic it asked for does not exist yet
CREATE_RETRY_MS = 500.0


def coordinator_for(image: MetadataImage, topic_name: str, partition_of: Callable[[int], int], correlation_id: int,
                    create: Callable[[], None]) -> FindCoordinatorResponse:
    """FindCoordinator's answer for a key whose partition is ``partition_of(partition count)``; calls ``create`` when
    the internal topic does not exist yet."""
    topic = image.topics.get(topic_name)
    if topic is None:
        create()
        return FindCoordinatorResponse("COORDINATOR_NOT_AVAILABLE", correlation_id=correlation_id,
                                       error_message=f"{topic_name} is being created.")
    reg = topic.partitions.get(partition_of(len(topic.partitions)))
    if reg is None or reg.leader < 0:
        return FindCoordinatorResponse("COORDINATOR_NOT_AVAILABLE", correlation_id=correlation_id,
                                       error_message="The coordinator is not available.")
    return FindCoordinatorResponse(NONE, reg.leader, correlation_id)


class InternalTopicCreation:
    """When a broker may ask the controller to create an internal topic: once per :data:`CREATE_RETRY_MS`, and at
    once again after the controller refused (no controller yet, too few brokers)."""

    __slots__ = ("sent_at",)

    def __init__(self) -> None:
        self.sent_at = -float("inf")

    def controller_to_ask(self, server: BrokerServer) -> int | None:
        """The active controller to send the creation to now, or None (no controller, or asked too recently)."""
        controller = server.active_controller_id
        now = server.ctx.now
        if controller is None or now - self.sent_at < CREATE_RETRY_MS:
            return None
        self.sent_at = now
        return controller

    def on_response(self, msg: cm.CreateTopicsResponse) -> None:
        """A refused creation may be asked again by the next FindCoordinator."""
        if any(r.error not in (NONE, "TOPIC_ALREADY_EXISTS") for r in msg.topics):
            self.sent_at = -float("inf")


def create_internal_topic(server: BrokerServer, controller: int, name: str, num_partitions: int,
                          replication_factor: int, correlation_id: int,
                          configs: Callable[[int], tuple[tuple[str, str], ...]]) -> None:
    """Ask ``controller`` to create the internal topic; ``configs(rf)`` gives its configs for the chosen factor."""
    registered = sum(1 for reg in server.image.brokers.values() if not reg.fenced)
    rf = max(1, min(replication_factor, registered))
    topic = cm.CreatableTopic(name, num_partitions, rf, configs=configs(rf))
    server.send(controller, cm.CreateTopicsRequest((topic,), correlation_id=correlation_id))
