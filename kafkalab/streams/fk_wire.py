"""What a foreign-key join sends between its two sides (KIP-213; Kafka's ``SubscriptionWrapper``,
``SubscriptionResponseWrapper``, ``CombinedKeySchema`` and their serdes in ``kstream/internals/foreignkeyjoin``,
and ``state.internals.Murmur3.hash128``).

How it works. The left table's task sends a :class:`SubscriptionWrapper` to the partition of the *foreign* key: the
left row's primary key, an :class:`Instruction` saying what the right side should answer, the 128-bit Murmur3 hash
of the left value it was sent for, and the left row's partition. The right side keeps subscriptions in a store keyed
by the combined key ``{4-byte fk length}{fk bytes}{pk bytes}`` (:func:`combined_key`), so all subscribers of one
foreign key are a prefix scan. It answers with a :class:`SubscriptionResponseWrapper`: the hash it was given back and
the foreign value; the primary partition rides along (not serialized) for the response sink's partitioner.

The byte layouts are Kafka's: a subscription is ``{1 bit hash-is-null}{7 bits version}{instruction}{16-byte hash,
if any}{pk bytes}{4-byte primary partition}`` (version 1); a response is ``{1 bit hash-is-null}{7 bits version}
{16-byte hash, if any}{foreign value bytes}`` (version 0). Here the wrappers carry the primary key and the foreign
value already serialized (``primary_key_bytes``, ``foreign_value_bytes``): the processors serialize them with the
tables' serdes (or the app's defaults), so the wrapper serdes need no inner serde.
"""
from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafkalab.streams.serdes import Serde

__all__ = ["Instruction", "SubscriptionWrapper", "SubscriptionResponseWrapper", "SUBSCRIPTION_WRAPPER_SERDE",
           "SUBSCRIPTION_RESPONSE_SERDE", "combined_key", "split_combined_key", "fk_prefix",
           "murmur3_hash128", "MURMUR3_DEFAULT_SEED"]

MURMUR3_DEFAULT_SEED = 104729
_MASK = (1 << 64) - 1
_C1, _C2 = 0x87C37B91114253D5, 0x4CF5AD432745937F


class Instruction(enum.Enum):
    """What the right side does with a subscription (``SubscriptionWrapper.Instruction``); the value is the byte."""

    DELETE_KEY_NO_PROPAGATE = 0             # drop the subscription, answer nothing
    DELETE_KEY_AND_PROPAGATE = 1            # drop it, answer (pk, null)
    PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE = 2   # store it, answer with the foreign value or null
    PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE = 3      # store it, answer only if the foreign key has a value


@dataclass(frozen=True, slots=True)
class SubscriptionWrapper:
    """A subscription of one left row to one foreign key."""

    hash: tuple[int, int] | None
    instruction: Instruction
    primary_key_bytes: bytes
    primary_partition: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class SubscriptionResponseWrapper:
    """The right side's answer: the subscription's hash and the foreign value (None: no match or deleted)."""

    original_value_hash: tuple[int, int] | None
    foreign_value_bytes: bytes | None
    primary_partition: int | None = None    # not serialized: the response sink's partitioner reads it
    version: int = 0


def _to_long(u: int) -> int:
    return u - (1 << 64) if u >= 1 << 63 else u


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK


def _fmix(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK
    return h ^ (h >> 33)


def murmur3_hash128(data: bytes, seed: int = MURMUR3_DEFAULT_SEED) -> tuple[int, int]:
    """MurmurHash3 x64 128-bit as Kafka's ``Murmur3.hash128`` computes it: two signed 64-bit longs."""
    h1 = h2 = seed & _MASK
    n = len(data)
    nblocks = n >> 4
    for i in range(nblocks):
        k1, k2 = struct.unpack_from("<QQ", data, i << 4)
        k1 = (_rotl((k1 * _C1) & _MASK, 31) * _C2) & _MASK
        h1 = (_rotl(h1 ^ k1, 27) + h2) & _MASK
        h1 = (h1 * 5 + 0x52DCE729) & _MASK
        k2 = (_rotl((k2 * _C2) & _MASK, 33) * _C1) & _MASK
        h2 = (_rotl(h2 ^ k2, 31) + h1) & _MASK
        h2 = (h2 * 5 + 0x38495AB5) & _MASK
    tail = data[nblocks << 4:]
    if len(tail) > 8:
        k2 = int.from_bytes(tail[8:], "little")
        h2 ^= (_rotl((k2 * _C2) & _MASK, 33) * _C1) & _MASK
    if tail:
        k1 = int.from_bytes(tail[:8], "little")
        h1 ^= (_rotl((k1 * _C1) & _MASK, 31) * _C2) & _MASK
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    return _to_long(h1), _to_long(h2)


def _subscription_to_bytes(w: SubscriptionWrapper) -> bytes:
    head = bytes([w.version | (0x80 if w.hash is None else 0), w.instruction.value])
    hash_bytes = b"" if w.hash is None else struct.pack(">qq", *w.hash)
    return head + hash_bytes + w.primary_key_bytes + struct.pack(">i", w.primary_partition)


def _subscription_from_bytes(data: bytes) -> SubscriptionWrapper:
    version, hash_null = data[0] & 0x7F, bool(data[0] & 0x80)
    if version != 1:
        raise ValueError(f"SubscriptionWrapper version {version} is not supported (this model writes version 1)")
    instruction = Instruction(data[1])
    at = 2
    h: tuple[int, int] | None = None
    if not hash_null:
        h = struct.unpack_from(">qq", data, at)
        at += 16
    (partition,) = struct.unpack(">i", data[-4:])
    return SubscriptionWrapper(h, instruction, data[at:-4], partition, version)


def _response_to_bytes(r: SubscriptionResponseWrapper) -> bytes:
    head = bytes([r.version | (0x80 if r.original_value_hash is None else 0)])
    hash_bytes = b"" if r.original_value_hash is None else struct.pack(">qq", *r.original_value_hash)
    return head + hash_bytes + (r.foreign_value_bytes or b"")


def _response_from_bytes(data: bytes) -> SubscriptionResponseWrapper:
    version, hash_null = data[0] & 0x7F, bool(data[0] & 0x80)
    if version != 0:
        raise ValueError(f"SubscriptionResponseWrapper version {version} is not supported (this model writes 0)")
    at = 1
    h: tuple[int, int] | None = None
    if not hash_null:
        h = struct.unpack_from(">qq", data, at)
        at += 16
    rest = data[at:]
    return SubscriptionResponseWrapper(h, rest if rest else None, None, version)


def _typed(cls: type, fn: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    def to_bytes(obj: Any) -> bytes:
        if not isinstance(obj, cls):
            raise TypeError(f"takes a {cls.__name__}")
        return fn(obj)
    return to_bytes


#: The subscription topic's and the subscription store's value serde (``SubscriptionWrapperSerde``).
SUBSCRIPTION_WRAPPER_SERDE = Serde("subscription-wrapper", _typed(SubscriptionWrapper, _subscription_to_bytes),
                                   _subscription_from_bytes)
#: The response topic's value serde (``SubscriptionResponseWrapperSerde``).
SUBSCRIPTION_RESPONSE_SERDE = Serde("subscription-response-wrapper",
                                    _typed(SubscriptionResponseWrapper, _response_to_bytes),
                                    _response_from_bytes)


def fk_prefix(fk_bytes: bytes) -> bytes:
    """The combined-key prefix of every subscription to one foreign key (``CombinedKeySchema.prefixBytes``)."""
    return struct.pack(">i", len(fk_bytes)) + fk_bytes


def combined_key(fk_bytes: bytes, pk_bytes: bytes) -> bytes:
    """``{4-byte fk length}{fk}{pk}`` (``CombinedKeySchema.toBytes``)."""
    return fk_prefix(fk_bytes) + pk_bytes


def split_combined_key(key: bytes) -> tuple[bytes, bytes]:
    """(fk bytes, pk bytes) of a combined key (``CombinedKeySchema.fromBytes``)."""
    (n,) = struct.unpack_from(">i", key, 0)
    return key[4:4 + n], key[4 + n:]

