"""Does a request object match its schema? The simulation's stand-in for Kafka's request parsing.

How it works. On the wire, Kafka parses each request against its JSON schema (``RequestContext.parseRequest``); a
request that does not parse never reaches a handler, and the broker closes the connection
(``InvalidRequestException``). Here requests are Python objects, so a handler could be handed an object whose fields
have the wrong types (a test, a fuzzer, a notebook building requests by hand). Checking every field of every request
would cost time on the hot path, so servers check only when a handler raised: :func:`violations` then walks the
request's dataclass fields against their annotations. A request that violates its schema was malformed (answer as
Kafka does for an unparseable request); one that conforms exposed a bug of our own, which must still stop the run.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

__all__ = ["violations"]

_HINTS: dict[type, dict[str, Any]] = {}


def violations(msg: Any, limit: int = 3) -> list[str]:
    """Where ``msg`` (a dataclass request) breaks its field annotations: ``["topics[0].num_partitions: str '3'"]``;
    empty when it conforms (or is not a dataclass)."""
    out: list[str] = []
    _check_dataclass(msg, type(msg).__name__, out, limit)
    return out


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _check_dataclass(value: Any, where: str, out: list[str], limit: int) -> None:
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return
    hints = _hints(type(value))
    for field in dataclasses.fields(value):
        if len(out) >= limit:
            return
        _check(getattr(value, field.name), hints.get(field.name, Any), f"{where}.{field.name}", out, limit)


def _check(value: Any, hint: Any, where: str, out: list[str], limit: int) -> None:
    if len(out) >= limit or hint is Any:
        return
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        for option in args:
            probe: list[str] = []
            _check(value, option, where, probe, 1)
            if not probe:
                return
        out.append(f"{where}: {type(value).__name__} {_short(value)} is not {_name(hint)}")
        return
    if origin is typing.Literal:
        if value not in args:
            out.append(f"{where}: {_short(value)} is not one of {list(args)}")
        return
    if hint is type(None) or hint is None:
        if value is not None:
            out.append(f"{where}: {type(value).__name__} {_short(value)} is not None")
        return
    if origin is None:
        if not isinstance(hint, type):
            return                           # a TypeVar, a NewType...: not checked
        ok = isinstance(value, hint) and not (hint in (int, float) and isinstance(value, bool) and hint is not bool)
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True                        # an int is a float, as typing has it
        if not ok:
            out.append(f"{where}: {type(value).__name__} {_short(value)} is not {hint.__name__}")
        elif dataclasses.is_dataclass(hint):
            _check_dataclass(value, where, out, limit)
        return
    container = origin if isinstance(origin, type) else None
    if container is not None and not isinstance(value, container):
        out.append(f"{where}: {type(value).__name__} {_short(value)} is not {_name(hint)}")
        return
    if container is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            for i, item in enumerate(value):
                _check(item, args[0], f"{where}[{i}]", out, limit)
        elif args:
            if len(value) != len(args):
                out.append(f"{where}: {len(value)} items, {_name(hint)} has {len(args)}")
                return
            for i, (item, arg) in enumerate(zip(value, args, strict=True)):
                _check(item, arg, f"{where}[{i}]", out, limit)
    elif container is not None and issubclass(container, Mapping) and len(args) == 2:
        for k, v in value.items():
            _check(k, args[0], f"{where} key", out, limit)
            _check(v, args[1], f"{where}[{_short(k)}]", out, limit)
    elif container in (list, set, frozenset) and args:
        for i, item in enumerate(value):
            _check(item, args[0], f"{where}[{i}]", out, limit)


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) if typing.get_origin(hint) is None else str(hint)  # type: ignore[return-value]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
