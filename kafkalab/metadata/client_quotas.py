"""Client quota entities and keys, and the checks the controller applies to an AlterClientQuotas (KIP-546).

How it works. A quota entity is a set of (entity type, name) pairs; kafkalab spells it as a tuple sorted by type,
``(("client-id", "app"),)`` or ``(("client-id", None), ("user", "alice"))``, where a ``None`` name is the *default*
entity (``kafka-configs --entity-default``, Kafka's ``<default>``). Allowed combinations, as Kafka's
``ClientQuotaControlManager.configKeysForEntityType``: ``user``, ``client-id``, or both. Keys and types are
``QuotaConfig.userAndClientQuotaConfigs``: ``producer_byte_rate`` and ``consumer_byte_rate`` (bytes per second,
LONG: integral), ``request_percentage`` (KIP-124, percent of one request thread, DOUBLE). A value must be > 0
(Kafka: "Quota <key> must be greater than 0").

Kafka answers INVALID_REQUEST with a terse message; kafkalab's messages say what was wrong, what is allowed and the
closest valid name. Deliberately refused although Kafka knows them, because kafkalab does not enforce them: the
``ip`` entity type with ``connection_creation_rate`` (KIP-612: no connections are modelled) and
``controller_mutation_rate`` (KIP-599). The refusal says so.
"""
from __future__ import annotations

import difflib
import math
from collections.abc import Iterable

from kafkalab.protocol.quotas import QuotaEntity, canonical_entity, describe_entity

__all__ = [
    "USER", "CLIENT_ID", "ENTITY_TYPES", "PRODUCER_BYTE_RATE", "CONSUMER_BYTE_RATE", "REQUEST_PERCENTAGE",
    "QUOTA_KEYS",
    "QuotaEntity", "canonical_entity", "entity_problem", "quota_value_problem", "describe_entity",
]

USER = "user"
CLIENT_ID = "client-id"
#: the entity types kafkalab models (Kafka's ClientQuotaEntity.USER, CLIENT_ID; IP is not modelled)
ENTITY_TYPES = (CLIENT_ID, USER)
PRODUCER_BYTE_RATE = "producer_byte_rate"
CONSUMER_BYTE_RATE = "consumer_byte_rate"
REQUEST_PERCENTAGE = "request_percentage"
#: quota keys kafkalab enforces, with Kafka's type (QuotaConfig.userAndClientQuotaConfigs)
QUOTA_KEYS = {PRODUCER_BYTE_RATE: "LONG", CONSUMER_BYTE_RATE: "LONG", REQUEST_PERCENTAGE: "DOUBLE"}
#: Kafka quota keys kafkalab refuses because it does not enforce them, and why
_NOT_MODELLED_KEYS = {
    "controller_mutation_rate": "the controller mutation quota (KIP-599) is not modelled",
    "connection_creation_rate": "connection quotas (KIP-612) are not modelled: kafkalab has no connections",
}

def _closest(name: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""


def entity_problem(entity: QuotaEntity) -> str | None:
    """What is wrong with ``entity`` (Kafka's ``validateEntity`` and ``configKeysForEntityType``), or None."""
    if not entity:
        return "Invalid empty client quota entity: name at least one of the entity types 'client-id', 'user'"
    seen: set[str] = set()
    for entity_type, name in entity:
        if entity_type in seen:
            return f"Invalid client quota entity, duplicate entity entry {entity_type!r}"
        seen.add(entity_type)
        if entity_type == "ip":
            return ("Unsupported client quota entity type 'ip': connection quotas (KIP-612) are not modelled; "
                    "allowed entity types: 'client-id', 'user'")
        if entity_type not in ENTITY_TYPES:
            return (f"Unhandled client quota entity type {entity_type!r}; allowed entity types: 'client-id', 'user'"
                    f"{_closest(entity_type, ENTITY_TYPES)}")
        if name is not None and not name:
            return f"Empty {entity_type} not supported: name one, or None for the default {entity_type} entity"
    return None


def quota_value_problem(key: str, value: float) -> str | None:
    """What is wrong with setting ``key`` to ``value`` (Kafka's ``validateQuotaKeyValue``), or None."""
    kind = QUOTA_KEYS.get(key)
    if kind is None:
        why = _NOT_MODELLED_KEYS.get(key)
        if why is not None:
            return f"Unsupported quota key {key!r}: {why}; supported keys: {', '.join(map(repr, QUOTA_KEYS))}"
        return (f"Invalid configuration key {key!r}; supported keys: {', '.join(map(repr, QUOTA_KEYS))}"
                f"{_closest(key, [*QUOTA_KEYS, *_NOT_MODELLED_KEYS])}")
    if math.isnan(value) or value <= 0.0:
        return f"Quota {key} must be greater than 0, got {value!r}"
    if kind == "DOUBLE":
        return None
    if value > 2 ** 63 - 1:
        return f"Proposed value for {key} is too large for a LONG: {value!r}"
    if abs(value % 1.0) > 1e-6:
        return f"{key} cannot be a fractional value: {value!r} (bytes per second, an integer)"
    return None
