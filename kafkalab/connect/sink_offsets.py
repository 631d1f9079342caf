"""KIP-875 for sink connectors: their offsets are the committed offsets of their consumer group, read, altered and
reset over REST (Kafka's ``Worker.sinkConnectorOffsets``, ``modifySinkConnectorOffsets``,
``alterSinkConnectorOffsets``, ``resetSinkConnectorOffsets`` and ``SinkUtils``).

How it works. The group is ``connect-<connector>`` unless the worker's ``consumer.group.id`` or the connector's
``consumer.override.group.id`` names another (the precedence of ``Worker.baseConsumerConfigs``, as the sink task's
consumer uses it). The worker talks to the group's coordinator with an admin client
(:class:`~kafkalab.clients.admin.GroupAdminCore`, one per worker), in simulated time, and answers the REST request
when the coordinator has answered:

- ``GET`` lists the group's committed offsets as ``{"offsets": [{"partition": {"kafka_topic", "kafka_partition"},
  "offset": {"kafka_offset"}}]}`` (sorted by topic and partition; Kafka's order is its HashMap's).
- ``PATCH`` (the REST layer has checked the connector is STOPPED, as ``DistributedHerder`` does) parses the body
  as ``SinkUtils.parseSinkConnectorOffsets`` (400 with Kafka's messages for a missing or null partition, topic,
  partition or offset and for values that are not integers; ``"10"`` and ``10`` both parse), calls the connector's
  ``alter_offsets`` (Kafka's ``SinkConnector.alterOffsets``: False by default, True for ``FileStreamSink``), then
  commits the non-null offsets (``alterConsumerGroupOffsets``: an OffsetCommit without a member) and deletes the
  null ones (``deleteConsumerGroupOffsets``: OffsetDelete). UNKNOWN_MEMBER_ID or GROUP_SUBSCRIBED_TO_TOPIC (the
  group still has members: zombie tasks) answer 500 with Kafka's "either because its tasks haven't stopped
  completely yet" message; any other failure 500 ``Failed to alter consumer group offsets for connector <c>``.
- ``DELETE`` lists the group's offsets (500 ``Failed to list offsets prior to resetting offsets for sink connector
  <c>`` on failure), calls ``alter_offsets`` with every partition mapped to None, and deletes the group
  (``deleteConsumerGroups``); GROUP_ID_NOT_FOUND counts as done (a reset is idempotent), NON_EMPTY_GROUP answers 500
  with Kafka's "haven't stopped completely yet" message. A sink started again afterwards has no committed offsets,
  so its consumer starts where ``auto.offset.reset`` says (``earliest`` for Connect's consumers).

Success answers 200 ``{"message": ...}``: "The offsets for this connector have been altered|reset successfully" when
``alter_offsets`` returned True, else Kafka's "The Connect framework-managed offsets for this connector have been
... However, if this connector manages offsets externally, ..." text. The whole operation is bounded by Kafka's REST
request timeout (90 s).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.connect.api import ConnectException

if TYPE_CHECKING:
    from kafkalab.connect.worker import Worker

__all__ = ["sink_group_id", "parse_sink_offsets", "SinkOffsetsError", "get_sink_offsets", "modify_sink_offsets",
           "call_alter_offsets", "success_message",
           "KAFKA_TOPIC_KEY", "KAFKA_PARTITION_KEY", "KAFKA_OFFSET_KEY", "REST_REQUEST_TIMEOUT_MS"]

KAFKA_TOPIC_KEY = "kafka_topic"
KAFKA_PARTITION_KEY = "kafka_partition"
KAFKA_OFFSET_KEY = "kafka_offset"
#: Kafka's ``RestServer.DEFAULT_REST_REQUEST_TIMEOUT_MS``
REST_REQUEST_TIMEOUT_MS = 90_000.0

Reply = Callable[[int, Any], None]
_INT = re.compile(r"[+-]?[0-9]+")
_ZOMBIES = ("either because its tasks haven't stopped completely yet or the connector was resumed before the request "
            "to {verb} its offsets could be successfully completed. If the connector is in a stopped state, this "
            "operation can be safely retried. If it doesn't eventually succeed, the Connect cluster may need to be "
            "restarted to get rid of the zombie sink tasks.")


class SinkOffsetsError(ValueError):
    """A malformed offsets body (Kafka's ``BadRequestException``: answered 400 with this message)."""


def sink_group_id(worker_config: Mapping[str, Any], name: str, connector_config: Mapping[str, Any]) -> str:
    """The sink connector's consumer group: ``connect-<name>``, overridden by the worker's ``consumer.group.id`` and
    then by the connector's ``consumer.override.group.id``."""
    group = f"connect-{name}"
    group = str(worker_config.get("consumer.group.id", group) or group)
    return str(connector_config.get("consumer.override.group.id", group) or group)


def _java(value: Any) -> str:
    """``String.valueOf`` of a JSON value, as Kafka's parser sees it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse_int(value: Any, bits: int) -> int | None:
    text = _java(value)
    if not _INT.fullmatch(text):
        return None
    number = int(text)
    return number if -(1 << (bits - 1)) <= number < (1 << (bits - 1)) else None


def parse_sink_offsets(entries: Any) -> dict[TopicPartition, int | None]:
    """``SinkUtils.parseSinkConnectorOffsets`` over the body's ``offsets`` list: partition -> offset (None resets
    it); raises :class:`SinkOffsetsError` with Kafka's message for a malformed entry."""
    parsed: dict[TopicPartition, int | None] = {}
    for entry in entries:
        partition = entry.get("partition") if isinstance(entry, Mapping) else None
        if partition is None:
            raise SinkOffsetsError("The partition for a sink connector offset cannot be null or missing")
        if not isinstance(partition, Mapping) or KAFKA_TOPIC_KEY not in partition \
                or KAFKA_PARTITION_KEY not in partition:
            raise SinkOffsetsError(f"The partition for a sink connector offset must contain the keys "
                                   f"'{KAFKA_TOPIC_KEY}' and '{KAFKA_PARTITION_KEY}'")
        if partition[KAFKA_TOPIC_KEY] is None:
            raise SinkOffsetsError("Kafka topic names must be valid strings and may not be null")
        if partition[KAFKA_PARTITION_KEY] is None:
            raise SinkOffsetsError("Kafka partitions must be valid numbers and may not be null")
        index = _parse_int(partition[KAFKA_PARTITION_KEY], 32)
        if index is None:
            raise SinkOffsetsError(f"Failed to parse the following Kafka partition value in the provided offsets: "
                                   f"'{_java(partition[KAFKA_PARTITION_KEY])}'. Partition values for sink connectors "
                                   f"need to be integers.")
        tp = TopicPartition(_java(partition[KAFKA_TOPIC_KEY]), index)
        offset = entry.get("offset")
        if offset is None:
            parsed[tp] = None
            continue
        if not isinstance(offset, Mapping) or KAFKA_OFFSET_KEY not in offset:
            raise SinkOffsetsError(f"The offset for a sink connector should either be null or contain the key "
                                   f"'{KAFKA_OFFSET_KEY}'")
        value = _parse_int(offset[KAFKA_OFFSET_KEY], 64)
        if value is None:
            raise SinkOffsetsError(f"Failed to parse the following Kafka offset value in the provided offsets: "
                                   f"'{_java(offset[KAFKA_OFFSET_KEY])}'. Offset values for sink connectors need to "
                                   f"be integers.")
        parsed[tp] = value
    return parsed


def _error(status: int, message: str) -> dict[str, Any]:
    return {"error_code": status, "message": message}


def get_sink_offsets(worker: Worker, name: str, config: Mapping[str, Any], reply: Reply) -> None:
    """``Worker.sinkConnectorOffsets``: answer GET with the group's committed offsets."""
    group = sink_group_id(worker.worker_config, name, config)

    def listed(offsets: Any, error: str | None) -> None:
        if error is not None:
            reply(500, _error(500, f"Failed to retrieve consumer group offsets for sink connector {name}"))
            return
        reply(200, {"offsets": [{"partition": {KAFKA_TOPIC_KEY: tp.topic, KAFKA_PARTITION_KEY: tp.partition},
                                 "offset": {KAFKA_OFFSET_KEY: om.offset}} for tp, om in sorted(offsets.items())]})
    worker.group_admin().list_offsets(group, listed, REST_REQUEST_TIMEOUT_MS)


def call_alter_offsets(worker: Worker, name: str, config: Mapping[str, Any], offsets: Any, reply: Reply,
                       kind: str = "sink") -> bool | None:
    """The connector's ``alter_offsets`` (Kafka's ``SinkConnector``/``SourceConnector.alterOffsets``); None, with
    the 500 answered as Kafka answers it, when it raised."""
    try:
        connector = worker.spec.plugins.connector_class(config.get("connector.class", ""))()
        return bool(connector.alter_offsets(dict(config), offsets))
    except NotImplementedError:
        reply(500, _error(500, f"Failed to modify offsets for connector {name} because it doesn't support external "
                               f"modification of offsets"))
    except ConnectException as exc:
        reply(500, _error(500, str(exc)))
    except Exception:  # noqa: BLE001 - Kafka wraps whatever the connector threw (ConnectUtils.maybeWrap)
        reply(500, _error(500, f"Failed to modify offsets for {kind} connector {name}"))
    return None


def success_message(altered: bool, reset: bool) -> dict[str, str]:
    """``completeModifyOffsetsCallback``'s answer: plain when ``alter_offsets`` returned True, else the warning."""
    return _success(altered, reset)


def _success(altered: bool, reset: bool) -> dict[str, str]:
    kind = "reset" if reset else "altered"
    if altered:
        return {"message": f"The offsets for this connector have been {kind} successfully"}
    return {"message": f"The Connect framework-managed offsets for this connector have been {kind} successfully. "
                       f"However, if this connector manages offsets externally, they will need to be manually "
                       f"{kind} in the system that the connector uses."}


def modify_sink_offsets(worker: Worker, name: str, config: Mapping[str, Any],
                        offsets: dict[TopicPartition, int | None] | None, reply: Reply) -> None:
    """``Worker.modifySinkConnectorOffsets``: alter (``offsets``) or reset (None) the group's offsets, then reply."""
    group = sink_group_id(worker.worker_config, name, config)
    admin = worker.group_admin()
    deadline = worker.ctx.now + REST_REQUEST_TIMEOUT_MS

    def remaining() -> float:
        return max(deadline - worker.ctx.now, 1.0)

    if offsets is None:
        def listed(found: Any, error: str | None) -> None:
            if error is not None:
                reply(500, _error(500, f"Failed to list offsets prior to resetting offsets for sink connector {name}"))
                return
            altered = call_alter_offsets(worker, name, config, {tp: None for tp in found}, reply)
            if altered is not None:
                admin.delete_groups([group], lambda _r, e: _reset_done(name, altered, e, reply), remaining())
        admin.list_offsets(group, listed, remaining())
        return

    if any(v is not None and v < 0 for v in offsets.values()):
        reply(500, _error(500, f"Failed to modify offsets for sink connector {name}"))   # OffsetAndMetadata refuses
        return
    altered = call_alter_offsets(worker, name, config, dict(offsets), reply)
    if altered is None:
        return
    to_commit = {tp: OffsetAndMetadata(v) for tp, v in offsets.items() if v is not None}
    to_delete = [tp for tp, v in offsets.items() if v is None]
    outcomes: dict[int, str | None] = {}
    expected = int(bool(to_commit)) + int(bool(to_delete))

    def one(slot: int, error: str | None) -> None:
        outcomes[slot] = error
        if len(outcomes) < expected:
            return
        errors = [outcomes[k] for k in sorted(outcomes) if outcomes[k] is not None]
        if not errors:
            reply(200, _success(altered, reset=False))
        elif errors[0] in ("UNKNOWN_MEMBER_ID", "GROUP_SUBSCRIBED_TO_TOPIC"):
            reply(500, _error(500, f"Failed to alter consumer group offsets for connector {name} "
                                   + _ZOMBIES.format(verb="alter")))
        else:
            reply(500, _error(500, f"Failed to alter consumer group offsets for connector {name}"))
    if to_commit:
        admin.alter_offsets(group, to_commit, lambda _v, e: one(0, e), remaining())
    if to_delete:
        admin.delete_offsets(group, to_delete, lambda _v, e: one(1, e), remaining())


def _reset_done(name: str, altered: bool, error: str | None, reply: Reply) -> None:
    if error is None or error == "GROUP_ID_NOT_FOUND":   # a reset is idempotent: the group may be gone already
        reply(200, _success(altered, reset=True))
    elif error == "NON_EMPTY_GROUP":
        reply(500, _error(500, f"Failed to reset consumer group offsets for connector {name} "
                               + _ZOMBIES.format(verb="reset")))
    else:
        reply(500, _error(500, f"Failed to reset consumer group offsets for sink connector {name}"))
