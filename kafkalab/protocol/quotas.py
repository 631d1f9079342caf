"""The client quota RPCs of KIP-546 (Kafka's ``AlterClientQuotas`` and ``DescribeClientQuotas`` request/response
schemas, in snake case), which the admin client sends to the active controller.

An entity is a tuple of (entity type, name) pairs sorted by type; a ``None`` name is the default entity. An op with
``remove=True`` deletes the key (its ``value`` is ignored). A describe filter component matches one entity type by
``match_type``: ``MATCH_EXACT`` (the name in ``match``), ``MATCH_DEFAULT`` (the default entity) or ``MATCH_ANY``
(any name, the default included); ``strict`` excludes entities with other types than the filter names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "MATCH_EXACT", "MATCH_DEFAULT", "MATCH_ANY", "ClientQuotaOp", "ClientQuotaAlteration",
    "AlterClientQuotasRequest", "AlterClientQuotasEntryResult", "AlterClientQuotasResponse",
    "ClientQuotaFilterComponent", "DescribeClientQuotasRequest", "DescribeClientQuotasEntry",
    "DescribeClientQuotasResponse", "QuotaEntity", "canonical_entity", "describe_entity",
]

#: DescribeClientQuotasRequest.json MatchType
MATCH_EXACT = 0
MATCH_DEFAULT = 1
MATCH_ANY = 2

#: ((entity type, name or None for the default), ...) sorted by entity type
QuotaEntity = tuple[tuple[str, "str | None"], ...]


def canonical_entity(entity: Any) -> QuotaEntity:
    """``entity`` (a mapping or pairs of entity type to name) as a tuple sorted by type. Raises TypeError when it is
    not shaped as one (the request could not be serialized); the controller judges the content."""
    pairs = list(entity.items()) if isinstance(entity, dict) else list(entity) if isinstance(entity, (list, tuple)) \
        else None
    if pairs is None:
        raise TypeError(f"a quota entity is a dict of entity type to name (None = the default entity), e.g. "
                        f"{{'client-id': 'app'}}, got {type(entity).__name__} {entity!r}")
    out = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
                and (pair[1] is None or isinstance(pair[1], str))):
            raise TypeError(f"a quota entity's entries are (entity type, name or None), got {pair!r}")
        out.append(pair)
    return tuple(sorted(out, key=lambda p: p[0]))


def describe_entity(entity: QuotaEntity) -> str:
    """``user 'alice' client-id <default>``: an entity as messages name it."""
    if not entity:
        return "an empty entity"
    return " ".join(f"{t} {'<default>' if n is None else repr(n)}" for t, n in entity)


@dataclass(frozen=True, slots=True)
class ClientQuotaOp:
    key: str
    value: float = 0.0
    remove: bool = False


@dataclass(frozen=True, slots=True)
class ClientQuotaAlteration:
    entity: tuple[tuple[str, str | None], ...]
    ops: tuple[ClientQuotaOp, ...]


@dataclass(frozen=True, slots=True)
class AlterClientQuotasRequest:
    entries: tuple[ClientQuotaAlteration, ...]
    validate_only: bool = False
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class AlterClientQuotasEntryResult:
    entity: tuple[tuple[str, str | None], ...]
    error: str
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class AlterClientQuotasResponse:
    entries: tuple[AlterClientQuotasEntryResult, ...]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class ClientQuotaFilterComponent:
    entity_type: str
    match_type: int = MATCH_ANY
    match: str | None = None


@dataclass(frozen=True, slots=True)
class DescribeClientQuotasRequest:
    components: tuple[ClientQuotaFilterComponent, ...]
    strict: bool = False
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class DescribeClientQuotasEntry:
    entity: tuple[tuple[str, str | None], ...]
    values: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class DescribeClientQuotasResponse:
    error: str
    entries: tuple[DescribeClientQuotasEntry, ...] = ()
    error_message: str | None = None
    correlation_id: int = 0
