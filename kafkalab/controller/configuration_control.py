"""Dynamic topic configs on the active controller (Kafka's ``ConfigurationControlManager``).

How it works. Dynamic configs live in the metadata image as ``ConfigRecord`` rows keyed by (resource type, name):
a value sets a key, None deletes it. IncrementalAlterConfigs validates each SET by parsing it with
:func:`kafkalab.config.resolve` (scope ``topic``) and writes the parsed value in Kafka's text form (booleans
``true``/``false``, lists comma-separated); a DELETE of a key the topic scope does not know is rejected the same
way. A resource whose operations all pass gets its records; one failing operation fails the whole resource
(INVALID_CONFIG, or INVALID_REQUEST for an unknown operation) and nothing of it is written. ``validate_only`` checks
without writing. The records of all resources go in one write; the response waits for its commit.

Setting or deleting a topic's ``min.insync.replicas`` clears the ELR and last-known ELR of its partitions when KIP-966
is on (Kafka cleans the ELR state on any min ISR change).

``unclean.leader.election.enable`` is looked up per topic: the topic's override, else the controller's config
(``uncleanLeaderElectionEnabledForTopic``). Turning it on for a topic elects leaders for that topic's leaderless
partitions right after the config records are written (Kafka leaves it to its scheduled ``maybeElectUncleanLeaders``).

The creation configs of CreateTopics become ``ConfigRecord`` rows of the new topic
(:meth:`ConfigurationControlManager.topic_config_records`), written with its ``TopicRecord``.

Simplification: dynamic configs are topic configs only; any other resource type answers INVALID_REQUEST.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafkalab.config import Config, resolve
from kafkalab.config import keys as config_keys
from kafkalab.errors import ConfigError
from kafkalab.metadata.records import ConfigRecord, MetadataRecord
from kafkalab.protocol import admin as cm
from kafkalab.protocol.common import NONE

if TYPE_CHECKING:       # the quorum controller builds its managers
    from kafkalab.controller.quorum_controller import QuorumController

__all__ = ["ConfigurationControlManager"]


class ConfigurationControlManager:
    """Topic configs of one :class:`~kafkalab.controller.quorum_controller.QuorumController`."""

    def __init__(self, controller: QuorumController) -> None:
        self.controller = controller

    def unclean_leader_election_enabled(self, topic: str) -> bool:
        """``uncleanLeaderElectionEnabledForTopic``: the topic's override, else the controller's config."""
        ctl = self.controller
        override = ctl.working.configs.get(("topic", topic), {}).get("unclean.leader.election.enable")
        if override is not None:
            return bool(config_keys("topic")["unclean.leader.election.enable"].parse(override))
        return bool(ctl.config["unclean.leader.election.enable"])

    def topic_config_records(self, topic: str, topic_config: Config) -> list[MetadataRecord]:
        """The ``ConfigRecord`` rows of a new topic's explicitly set configs, by key."""
        overrides = topic_config.overrides
        return [ConfigRecord("topic", topic, key, _kafka_text(overrides[key])) for key in sorted(overrides)]

    def incremental_alter_configs(self, src: int, req: cm.IncrementalAlterConfigsRequest, now_ms: float) -> None:
        """``incrementalAlterConfigs`` for topics: SET and DELETE, checked per resource, all records in one write."""
        ctl = self.controller
        results = []
        records: list[MetadataRecord] = []
        unclean_topics: list[str] = []
        min_isr_topics: list[str] = []
        topic_keys = config_keys("topic")
        for res in req.resources:
            def result(error: str, message: str | None = None, res: cm.AlterConfigsResource = res
                       ) -> cm.AlterConfigsResourceResult:
                return cm.AlterConfigsResourceResult(res.resource_type, res.resource_name, error, message)

            if res.resource_type != "topic":
                results.append(result("INVALID_REQUEST", f"kafkalab models dynamic configs of topics only, not "
                                                         f"{res.resource_type!r}"))
                continue
            if res.resource_name not in ctl.working.topics:
                results.append(result("UNKNOWN_TOPIC_OR_PARTITION", "This server does not host this topic-partition."))
                continue
            res_records: list[MetadataRecord] = []
            problem: tuple[str, str] | None = None
            for op in res.configs:
                if op.op == "SET":
                    try:
                        parsed = resolve("topic", {op.name: op.value})
                    except ConfigError as exc:
                        problem = ("INVALID_CONFIG", str(exc))
                        break
                    res_records.append(ConfigRecord("topic", res.resource_name, op.name,
                                                    _kafka_text(parsed[op.name])))
                elif op.op == "DELETE":
                    if op.name not in topic_keys:
                        try:
                            resolve("topic", {op.name: None})
                        except ConfigError as exc:
                            problem = ("INVALID_CONFIG", str(exc))
                            break
                    res_records.append(ConfigRecord("topic", res.resource_name, op.name, None))
                else:
                    problem = ("INVALID_REQUEST", f"Unknown alter config operation {op.op!r}; use SET or DELETE")
                    break
            if problem is None:
                # Checks across keys (LogConfig.validateValues) run on the topic's configs as they would be after.
                merged = dict(ctl.working.configs.get(("topic", res.resource_name), {}))
                for r in res_records:
                    if isinstance(r, ConfigRecord):
                        if r.value is None:
                            merged.pop(r.name, None)
                        else:
                            merged[r.name] = r.value
                try:
                    resolve("topic", merged)
                except ConfigError as exc:
                    problem = ("INVALID_CONFIG", str(exc))
            if problem is not None:
                results.append(result(*problem))
                continue
            results.append(result(NONE))
            if not req.validate_only:
                records.extend(res_records)
                if any(getattr(r, "name", None) == "unclean.leader.election.enable" for r in res_records):
                    unclean_topics.append(res.resource_name)
                if any(getattr(r, "name", None) == "min.insync.replicas" for r in res_records):
                    min_isr_topics.append(res.resource_name)
        if records:
            if ctl._write(records, now_ms) is None:
                return
            # A new min.insync.replicas invalidates the ELRs computed against the old one (KIP-966).
            for name in min_isr_topics:
                if ctl._write(ctl.replication_control.clear_elr(name), now_ms) is None:
                    return
            # Enabling unclean election on a topic elects leaders for its offline partitions right away.
            for name in unclean_topics:
                if (self.unclean_leader_election_enabled(name)
                        and ctl._write(ctl.replication_control.elect_leaderless(name), now_ms) is None):
                    return
        ctl._respond_on_commit(src, req, cm.IncrementalAlterConfigsResponse(tuple(results), req.correlation_id))


def _kafka_text(value: Any) -> str:
    """A parsed config value as Kafka writes it in a ``ConfigRecord``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)
