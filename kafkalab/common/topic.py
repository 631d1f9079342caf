"""Topic names as Kafka checks them (``org.apache.kafka.common.internals.Topic``): shared by the controller, which
refuses a CreateTopics with a bad name, and the broker, which must not auto-create one.
"""
from __future__ import annotations

__all__ = ["validate_topic_name", "collision_key", "MAX_TOPIC_NAME_LENGTH"]

_LEGAL_TOPIC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
MAX_TOPIC_NAME_LENGTH = 249


def validate_topic_name(name: str) -> str | None:
    """Kafka's ``Topic.validate``: the reason a topic name is invalid, or None. The wording is Kafka's since 3.4
    (``Topic.detectInvalidTopic``, prefixed "Topic name is invalid: ")."""
    if not isinstance(name, str) or not name:
        reason = "the empty string is not allowed"
    elif name in (".", ".."):
        reason = f"'{name}' is not allowed"
    elif len(name) > MAX_TOPIC_NAME_LENGTH:
        reason = f"the length of '{name}' is longer than the max allowed length {MAX_TOPIC_NAME_LENGTH}"
    elif any(c not in _LEGAL_TOPIC_CHARS for c in name):
        reason = f"'{name}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"
    else:
        return None
    return f"Topic name is invalid: {reason}"


def collision_key(name: str) -> str | None:
    """The name two topics may not share (Kafka's ``Topic.unifyCollisionChars``: '.' becomes '_', since metric names
    cannot tell them apart), or None when ``name`` has neither character and so collides with nothing
    (``Topic.hasCollisionChars``)."""
    if "." not in name and "_" not in name:
        return None
    return name.replace(".", "_")
