"""The iteration orders of the Java collections Kafka Connect's assignor walks, so kafkalab visits workers,
connectors and tasks in the order Kafka does (``java.util.HashMap``/``HashSet``; ``LinkedHashMap``/``LinkedHashSet``
and ``ArrayList`` keep insertion order, ``TreeSet`` sorts).

How it works. A ``HashMap`` of capacity ``cap`` (a power of two) puts a key with ``hashCode`` ``h`` in bucket
``(h ^ (h >>> 16)) & (cap - 1)`` (``HashMap.hash`` spreads the high bits) and iterates buckets in index order, the
keys of one bucket in insertion order (a resize splits each bucket keeping that order). So the order is a stable
sort of the insertion order by bucket index at the final capacity (:func:`hash_order`). The capacity depends on how
the map was made: ``new HashMap<>()``/``new HashSet<>()`` and ``Collectors.toMap``/``toSet`` start at 16 and double
whenever the size exceeds 0.75 x capacity (:func:`grown_capacity`); ``new HashSet<>(collection)`` sizes itself once to
``tableSizeFor(max((int) (n / .75f) + 1, 16))`` (:func:`copy_capacity`). Hash codes: ``String.hashCode`` over UTF-16
code units (:func:`~kafkalab.common.utils.java_string_hash`) and ``ConnectorTaskId.hashCode`` =
``31 * connector.hashCode() + task`` (:func:`task_hash`), both with 32-bit overflow.

Connect's assignments travel serialized (``ConnectProtocol.Assignment.asMap``, ``ExtendedAssignment.toStruct``): the
connectors go through a ``new HashSet<>(connectorIds)`` into a ``LinkedHashMap`` connector -> [task ids] (-1 for the
connector itself), tasks appended to their connector's entry, and the reader rebuilds two lists walking that map;
:func:`wire_order` and :func:`revoked_wire_order` give those lists as the receiver reads them.

Not modelled (named): treeified bins. Java turns a bucket of 8 or more keys into a tree (or, below capacity 64,
resizes the table instead); the maps here hold a few workers or a worker's connectors, far from 8 collisions in
one bucket, so the linked-bucket order is exact for them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from kafkalab.common.utils import java_string_hash

__all__ = ["spread", "bucket", "grown_capacity", "copy_capacity", "hash_order", "task_hash", "java_hash",
           "wire_order", "revoked_wire_order", "CONNECTOR_TASK"]

T = TypeVar("T")
#: the task id that stands for the connector itself in a serialized assignment (``ConnectProtocol.CONNECTOR_TASK``)
CONNECTOR_TASK = -1
_MASK = 0xFFFFFFFF


def _int32(value: int) -> int:
    value &= _MASK
    return value - (1 << 32) if value & 0x80000000 else value


def task_hash(connector: str, task: int) -> int:
    """``ConnectorTaskId.hashCode``: ``31 * connector.hashCode() + task`` as a signed int32."""
    return _int32(31 * java_string_hash(connector) + task)


def java_hash(key: Any) -> int:
    """``hashCode`` of a str or a ConnectorTaskId-like value (``connector``, ``task``)."""
    if isinstance(key, str):
        return java_string_hash(key)
    return task_hash(key.connector, key.task)


def spread(h: int) -> int:
    """``HashMap.hash``: ``h ^ (h >>> 16)`` on the int32 ``h`` (returned unsigned)."""
    u = h & _MASK
    return u ^ (u >> 16)


def bucket(h: int, capacity: int) -> int:
    """The bucket of hash code ``h`` in a table of ``capacity`` (a power of two)."""
    return spread(h) & (capacity - 1)


def grown_capacity(n: int) -> int:
    """Capacity of a HashMap/HashSet made empty (16) after ``n`` puts: doubled while ``n`` > 0.75 x capacity."""
    capacity = 16
    while n > capacity * 3 // 4:
        capacity *= 2
    return capacity


def copy_capacity(n: int) -> int:
    """Capacity of ``new HashSet<>(c)`` for ``n = c.size()``: ``tableSizeFor(max((int) (n / .75f) + 1, 16))``."""
    wanted = max(int(n / 0.75) + 1, 16)
    capacity = 1
    while capacity < wanted:
        capacity *= 2
    return capacity


def hash_order(keys: Iterable[T], capacity: int | None = None, hash_fn: Callable[[T], int] = java_hash) -> list[T]:
    """The iteration order of a HashMap/HashSet into which ``keys`` were put in this order (duplicates dropped;
    ``capacity`` defaults to :func:`grown_capacity` of the distinct count)."""
    distinct = list(dict.fromkeys(keys))
    cap = grown_capacity(len(distinct)) if capacity is None else capacity
    return sorted(distinct, key=lambda k: bucket(hash_fn(k), cap))      # sorted() is stable: insertion order ties


def _read_back(entries: dict[str, list[int]], make_task: Callable[[str, int], Any]) -> tuple[list[str], list[Any]]:
    connectors = [c for c, ids in entries.items() for i in ids if i == CONNECTOR_TASK]
    tasks = [make_task(c, i) for c, ids in entries.items() for i in ids if i != CONNECTOR_TASK]
    return connectors, tasks


def wire_order(connectors: Sequence[str], tasks: Sequence[Any], make_task: Callable[[str, int], Any]
               ) -> tuple[list[str], list[Any]]:
    """The (connectors, tasks) lists a worker reads back from an assignment serialized with
    ``ConnectProtocol.Assignment.asMap`` (connectors in ``new HashSet<>(connectors)`` order; tasks grouped by
    connector, the held connectors' first, then by first appearance)."""
    entries: dict[str, list[int]] = {}
    for c in hash_order(connectors, copy_capacity(len(connectors)), java_string_hash):
        entries.setdefault(c, []).append(CONNECTOR_TASK)
    for t in tasks:
        entries.setdefault(t.connector, []).append(t.task)
    return _read_back(entries, make_task)


def revoked_wire_order(connectors: Sequence[str], tasks: Sequence[Any], make_task: Callable[[str, int], Any]
                       ) -> tuple[list[str], list[Any]]:
    """The revoked lists as read back from ``ExtendedAssignment.revokedAsMap`` (a ``LinkedHashMap``: distinct
    connectors in order, tasks grouped by connector in order of first appearance)."""
    entries: dict[str, list[int]] = {}
    for c in dict.fromkeys(connectors):
        entries.setdefault(c, []).append(CONNECTOR_TASK)
    for t in tasks:
        entries.setdefault(t.connector, []).append(t.task)
    return _read_back(entries, make_task)
