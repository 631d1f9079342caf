"""A client's view of the cluster: brokers, topics, partition leaders and leader epochs (Kafka's ``Metadata``).

How it works. The client asks one broker for the topics it uses (a ``MetadataRequest`` naming them) and keeps the
answer. A refresh is due when somebody asked for one (a produce error such as NOT_LEADER_OR_FOLLOWER, a fetch with
FENCED_LEADER_EPOCH, a dropped connection, a topic seen for the first time) or when the view is older than
``metadata.max.age.ms``. Refreshes that keep failing back off exponentially from ``retry.backoff.ms`` to
``retry.backoff.max.ms`` (Kafka's ``Metadata.timeToNextUpdate``).

Leader epochs (KIP-320): an answer that carries an older leader epoch for a partition than the client already knows
comes from a broker that has not caught up with the metadata log; the newer knowledge is kept for that partition,
as ``Metadata.updateLatestMetadata`` does.

Broker ids in responses are Kafka's integer ids; ``broker_node`` maps one to the simulation node that serves it.
The first request goes to a ``bootstrap.servers`` node (all brokers unless the config names some); later ones to the
least loaded broker the metadata named.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import ConfigError
from kafkalab.protocol.common import NONE
from kafkalab.protocol.metadata import MetadataRequest, MetadataResponse

__all__ = ["PartitionInfo", "ClientMetadata", "bootstrap_nodes"]

NodeId = Hashable


def bootstrap_nodes(servers: Sequence[str], default: Sequence[NodeId], broker_node: Callable[[int], NodeId] | None,
                    known: Sequence[NodeId] | None) -> list[NodeId]:
    """The nodes to ask for metadata first: ``bootstrap.servers`` when set (broker ids such as ``"1,2"``, or node
    names), else ``default`` (every broker of the cluster). An unknown name is a ConfigError naming the brokers."""
    if not servers:
        return list(default)
    to_node = broker_node or (lambda broker_id: broker_id)
    nodes: list[NodeId] = []
    for server in servers:
        text = server.strip()
        host = text.rsplit(":", 1)[0] if ":" in text else text
        node: NodeId = to_node(int(host)) if host.isdigit() else host
        if known is not None and node not in known:
            choices = ", ".join(str(n) for n in default) or "none"
            raise ConfigError(f"bootstrap.servers names {text!r}, which is not a broker of this cluster; brokers: "
                              f"{choices}", key="bootstrap.servers", value=list(servers))
        nodes.append(node)
    return nodes


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    """One partition as the client knows it. ``leader`` is -1 when the partition has none."""

    topic: str
    partition: int
    leader: int
    leader_epoch: int
    replicas: tuple[int, ...] = ()
    isr: tuple[int, ...] = ()


class ClientMetadata:
    """Brokers, topics and leaders as last learnt, and when to learn them again."""

    def __init__(self, metadata_max_age_ms: float, retry_backoff_ms: float, retry_backoff_max_ms: float,
                 broker_node: Callable[[int], NodeId] | None = None) -> None:
        self.metadata_max_age_ms = metadata_max_age_ms
        self.retry_backoff_ms = retry_backoff_ms
        self.retry_backoff_max_ms = retry_backoff_max_ms
        self._broker_node = broker_node or (lambda broker_id: broker_id)
        self.topics: dict[str, list[PartitionInfo]] = {}
        self.topic_errors: dict[str, str] = {}
        self.brokers: dict[int, NodeId] = {}
        self.wanted: dict[str, None] = {}          # topics the client uses (an ordered set)
        self.need_update = True
        self.last_refresh_ms = -float("inf")
        self.last_attempt_ms = -float("inf")
        self.failed_attempts = 0
        self.version = 0
        self.in_flight = False
        self.blocked_until_ms = -float("inf")   # no broker reachable before then (all backing off)
        # Kafka's requestVersion: an answer settles only the refreshes asked for before its request left.
        self._want_version = 0
        self._sent_version = 0
        # Whether a broker may create a topic this client names and it lacks: always for the producer (Kafka's
        # ProducerMetadata), allow.auto.create.topics for the consumer (ConsumerMetadata).
        self.allow_auto_topic_creation = True

    # -- what the client uses -----------------------------------------------------------------------------------
    def add_topics(self, topics: Iterable[str]) -> None:
        """Track these topics; a topic seen for the first time triggers a refresh."""
        for topic in topics:
            if topic not in self.wanted:
                self.wanted[topic] = None
                self.request_update()

    def request_update(self) -> None:
        self.need_update = True
        self._want_version += 1

    def partition_count(self, topic: str) -> int | None:
        parts = self.topics.get(topic)
        return len(parts) if parts else None

    def partition(self, tp: TopicPartition | tuple[str, int]) -> PartitionInfo | None:
        parts = self.topics.get(tp[0])
        if parts is None or not 0 <= tp[1] < len(parts):
            return None
        return parts[tp[1]]

    def leader_node(self, tp: TopicPartition | tuple[str, int]) -> NodeId | None:
        """The simulation node leading ``tp``, or None when unknown or leaderless."""
        info = self.partition(tp)
        if info is None or info.leader < 0:
            return None
        node = self.brokers.get(info.leader)
        return self._broker_node(info.leader) if node is None else node

    def available_partitions(self, topic: str) -> list[int]:
        return [p.partition for p in self.topics.get(topic, ()) if p.leader >= 0]

    # -- when to refresh -----------------------------------------------------------------------------------------
    def time_to_next_update_ms(self, now_ms: float) -> float:
        """0 when a refresh is due now; the wait otherwise (backoff after a failed attempt)."""
        if self.in_flight:
            return float("inf")
        due = 0.0 if self.need_update else max(0.0, self.last_refresh_ms + self.metadata_max_age_ms - now_ms)
        if self.failed_attempts or self.need_update:
            backoff = self._backoff_ms()
            due = max(due, self.last_attempt_ms + backoff - now_ms)
        return max(0.0, due, self.blocked_until_ms - now_ms)

    def _backoff_ms(self) -> float:
        if self.failed_attempts == 0:
            return self.retry_backoff_ms if self.last_attempt_ms > -float("inf") else 0.0
        return min(self.retry_backoff_max_ms, self.retry_backoff_ms * 2 ** (self.failed_attempts - 1))

    def request(self, correlation_id: int, now_ms: float) -> MetadataRequest:
        self.in_flight = True
        self.last_attempt_ms = now_ms
        self._sent_version = self._want_version
        return MetadataRequest(tuple(self.wanted), correlation_id, self.allow_auto_topic_creation)

    def failed(self, now_ms: float) -> None:
        """The metadata request got no answer (connection dropped or timed out)."""
        self.in_flight = False
        self.failed_attempts += 1
        self.need_update = True

    def update(self, response: MetadataResponse, now_ms: float) -> None:
        """Take a metadata answer. Topics with errors (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE) keep the
        refresh due, with backoff."""
        self.in_flight = False
        self.last_refresh_ms = now_ms
        self.version += 1
        for broker in response.brokers:
            self.brokers[broker.node_id] = self._broker_node(broker.node_id)
        incomplete = False
        for topic in response.topics:
            if topic.error != NONE:
                self.topic_errors[topic.name] = topic.error
                incomplete = True
                continue
            self.topic_errors.pop(topic.name, None)
            old = self.topics.get(topic.name)
            parts: list[PartitionInfo] = []
            for pm in sorted(topic.partitions, key=lambda p: p.partition):
                info = PartitionInfo(topic.name, pm.partition, pm.leader if pm.error == NONE or pm.leader >= 0 else -1,
                                     pm.leader_epoch, pm.replicas, pm.isr)
                if old is not None and pm.partition < len(old) and old[pm.partition].leader_epoch > pm.leader_epoch:
                    info = old[pm.partition]  # KIP-320: this broker's view is stale for this partition
                if info.leader < 0:
                    incomplete = True
                parts.append(info)
            self.topics[topic.name] = parts
        if incomplete:
            self.failed_attempts += 1
            self.need_update = True
        else:
            self.failed_attempts = 0
            self.need_update = self._want_version > self._sent_version

    def update_leader(self, tp: TopicPartition, leader: int, leader_epoch: int) -> bool:
        """A new-leader hint from an error answer (KIP-951): taken when its epoch is newer than the one known."""
        parts = self.topics.get(tp[0])
        if parts is None or not 0 <= tp[1] < len(parts) or leader < 0:
            return False
        old = parts[tp[1]]
        if leader_epoch <= old.leader_epoch:
            return False
        parts[tp[1]] = PartitionInfo(old.topic, old.partition, leader, leader_epoch, old.replicas, old.isr)
        return True

    def forget(self, topic: str) -> None:
        """Stop tracking ``topic`` (a producer that stopped producing to it)."""
        self.wanted.pop(topic, None)
        self.topics.pop(topic, None)
