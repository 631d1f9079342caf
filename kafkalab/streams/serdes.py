"""Serdes: how keys and values of a topology become the bytes in a topic, and back (Kafka's ``Serdes``).

How it works. A :class:`Serde` pairs ``serialize(obj) -> bytes | None`` with ``deserialize(bytes) -> obj``; ``None``
stays ``None`` both ways (a tombstone). :func:`serde` accepts what a user writes: a built-in name, a ``(serialize,
deserialize)`` pair of functions, or a Serde. The built-ins follow Kafka's wire formats, so a record written by a
topology can be read by any consumer that knows the format:

- ``"string"``: UTF-8 (``StringSerializer``); ``"bytes"``: the bytes as they are (``ByteArraySerializer``);
- ``"long"``: 8 bytes big-endian two's complement (``LongSerializer``); ``"integer"``: 4 bytes (``IntegerSerializer``);
  ``"double"``: IEEE 754 big-endian (``DoubleSerializer``);
- ``"json"``: compact JSON with sorted keys (Kafka ships no JSON serde; this is the usual ``JsonSerializer`` layout).

A value of the wrong type for its serde is a ``TypeError`` naming the serde and the value, raised where the record
is written (a sink, a store's changelog, a repartition topic).
"""
from __future__ import annotations

import difflib
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Serde", "serde", "SERDE_NAMES", "SerdeLike", "change_serde"]


@dataclass(frozen=True, slots=True)
class Serde:
    """A named pair of functions; ``None`` passes through both unchanged."""

    name: str
    to_bytes: Callable[[Any], bytes]
    from_bytes: Callable[[bytes], Any]

    def serialize(self, obj: Any) -> bytes | None:
        if obj is None:
            return None
        try:
            data = self.to_bytes(obj)
        except (TypeError, ValueError, struct.error, OverflowError) as exc:
            raise TypeError(f"serde {self.name!r} cannot serialize {type(obj).__name__} {obj!r}: {exc}") from None
        if not isinstance(data, bytes):
            raise TypeError(f"serde {self.name!r}: its serializer returned {type(data).__name__}, not bytes")
        return data

    def deserialize(self, data: bytes | None) -> Any:
        return None if data is None else self.from_bytes(data)

    def __repr__(self) -> str:
        return f"Serde({self.name!r})"


def _string_to_bytes(obj: Any) -> bytes:
    if not isinstance(obj, str):
        raise TypeError("the string serde takes str")
    return obj.encode()


def _bytes_to_bytes(obj: Any) -> bytes:
    if not isinstance(obj, bytes | bytearray):
        raise TypeError("the bytes serde takes bytes")
    return bytes(obj)


def _int_to_bytes(fmt: str) -> Callable[[Any], bytes]:
    def to_bytes(obj: Any) -> bytes:
        if isinstance(obj, bool) or not isinstance(obj, int):
            raise TypeError("an integer serde takes int")
        return struct.pack(fmt, obj)
    return to_bytes


def _double_to_bytes(obj: Any) -> bytes:
    if isinstance(obj, bool) or not isinstance(obj, int | float):
        raise TypeError("the double serde takes float")
    return struct.pack(">d", float(obj))


def _json_to_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


_BUILTINS: dict[str, Serde] = {
    "string": Serde("string", _string_to_bytes, lambda b: b.decode()),
    "bytes": Serde("bytes", _bytes_to_bytes, bytes),
    "long": Serde("long", _int_to_bytes(">q"), lambda b: struct.unpack(">q", b)[0]),
    "integer": Serde("integer", _int_to_bytes(">i"), lambda b: struct.unpack(">i", b)[0]),
    "double": Serde("double", _double_to_bytes, lambda b: struct.unpack(">d", b)[0]),
    "json": Serde("json", _json_to_bytes, lambda b: json.loads(b.decode())),
}
#: The built-in serde names.
SERDE_NAMES: tuple[str, ...] = tuple(_BUILTINS)

SerdeLike = str | Serde | tuple[Callable[[Any], bytes], Callable[[bytes], Any]]


def serde(spec: Any, what: str = "serde") -> Serde:
    """The :class:`Serde` for ``spec``: a built-in name, a ``(serialize, deserialize)`` pair, or a Serde.

    ``what`` names the argument in errors (``"key_serde"``, ``"default.value.serde"`` ...)."""
    if isinstance(spec, Serde):
        return spec
    if isinstance(spec, str):
        found = _BUILTINS.get(spec.strip().lower())
        if found is not None:
            return found
        close = difflib.get_close_matches(spec.strip().lower(), SERDE_NAMES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown {what} {spec!r}: use one of {', '.join(SERDE_NAMES)} or a (serialize, "
                         f"deserialize) pair of functions{hint}")
    if isinstance(spec, tuple) and len(spec) == 2 and callable(spec[0]) and callable(spec[1]):
        ser, de = spec
        return Serde(getattr(ser, "__name__", "custom"), ser, de)
    raise TypeError(f"{what} must be a serde name ({', '.join(SERDE_NAMES)}), a (serialize, deserialize) pair of "
                    f"functions or a Serde, got {type(spec).__name__} {spec!r}")


def change_serde(inner: Serde) -> Serde:
    """How a KTable ``group_by`` writes ``Change(new, old)`` to its repartition topic (Kafka's
    ``ChangedSerializer``): a flags byte, the new value's length, the new value, the old value."""
    def to_bytes(change: Any) -> bytes:
        new = inner.serialize(change.new)
        old = inner.serialize(change.old)
        flags = (1 if new is not None else 0) | (2 if old is not None else 0)
        return struct.pack(">BI", flags, len(new or b"")) + (new or b"") + (old or b"")

    def from_bytes(data: bytes) -> Any:
        flags, n = struct.unpack(">BI", data[:5])
        new = inner.deserialize(data[5:5 + n]) if flags & 1 else None
        old = inner.deserialize(data[5 + n:]) if flags & 2 else None
        from kafkalab.streams.processor import Change
        return Change(new, old)
    return Serde(f"change({inner.name})", to_bytes, from_bytes)
