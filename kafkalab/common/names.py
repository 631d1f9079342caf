"""Looking a name up the way Kafka's config parsing does for class-valued keys: a short name, the full class name or
the simple class name, case-insensitive; a miss is a :class:`~kafkalab.errors.ConfigError` that says what is allowed
and the closest name. Shared by the client-side and the server-side assignor registries.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from kafkalab.errors import ConfigError

__all__ = ["lookup_by_name"]


def lookup_by_name(name: str, table: Mapping[str, Any], class_names: Mapping[str, str], *, what: str, label: str,
                   key: str, scope: str | None = None) -> Any:
    """``table[name]`` for a short name, Kafka's full class name or its simple class name (case-insensitive);
    otherwise a ConfigError naming what is allowed and the closest name (shared by both assignor registries)."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}")
    folded = name.strip().lower()
    if folded in table:
        return table[folded]
    for class_name, short in class_names.items():
        if folded in (class_name, class_name.rsplit(".", 1)[-1]):
            return table[short]
    close = difflib.get_close_matches(folded, list(table), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    extra = {} if scope is None else {"scope": scope}
    raise ConfigError(f"unknown {label} {name!r}: allowed are {', '.join(table)}{hint}", key=key, value=name, **extra)
