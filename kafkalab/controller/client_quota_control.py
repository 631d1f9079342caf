"""Client quotas on the active controller (Kafka's ``ClientQuotaControlManager``, KIP-546).

How it works. AlterClientQuotas names entities (user, client-id, or both; a ``None`` name is the default entity)
and per entity a list of ops: set a key to a value, or remove it. Each entity is checked on its own, as Kafka checks
it (:mod:`kafkalab.metadata.client_quotas`): a bad entity, an unknown or unsupported key, a value <= 0 or a
fractional byte rate fails that entity with INVALID_REQUEST and writes nothing for it; a key named twice fails the
entity, an entity named twice fails the later ones. A valid entity gets one ``ClientQuotaRecord`` per key whose
value changes (a set to the current value and a removal of an absent key write nothing), and every record of the
request goes in one write; the answer waits for its commit. ``validate_only`` checks without writing.
Brokers apply the records from the metadata log they replay (:mod:`kafkalab.broker.quotas`), so a restarted broker
has its quotas back from the log.

DescribeClientQuotas is answered here from the controller's committed image (Kafka's brokers answer it from their
metadata image; kafkalab's admin client talks to the controllers, KIP-919, so the controller answers it):
Kafka's ``ClientQuotaMetadataManager.describeClientQuotas`` filter semantics, exact, default and any matches per
entity type, with ``strict`` excluding entities that have types the filter does not name.

Deviation: a removal of a key kafkalab does not know is refused (Kafka silently writes nothing), so a typo is not
mistaken for success.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from kafkalab.metadata.client_quotas import (
    QUOTA_KEYS,
    QuotaEntity,
    describe_entity,
    entity_problem,
    quota_value_problem,
)
from kafkalab.metadata.records import ClientQuotaRecord, MetadataRecord
from kafkalab.protocol.common import NONE
from kafkalab.protocol.quotas import (
    MATCH_ANY,
    MATCH_DEFAULT,
    MATCH_EXACT,
    AlterClientQuotasEntryResult,
    AlterClientQuotasRequest,
    AlterClientQuotasResponse,
    DescribeClientQuotasEntry,
    DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
)

if TYPE_CHECKING:       # the quorum controller builds its managers
    from kafkalab.controller.quorum_controller import QuorumController

__all__ = ["ClientQuotaControlManager"]

INVALID_REQUEST = "INVALID_REQUEST"


class ClientQuotaControlManager:
    """Client quotas of one :class:`~kafkalab.controller.quorum_controller.QuorumController`."""

    def __init__(self, controller: QuorumController) -> None:
        self.controller = controller

    def alter_client_quotas(self, src: int, req: AlterClientQuotasRequest, now_ms: float) -> None:
        """Check each entity's ops, write the changed keys as ``ClientQuotaRecord`` rows, answer on commit."""
        ctl = self.controller
        results: list[AlterClientQuotasEntryResult] = []
        records: list[MetadataRecord] = []
        seen: set[QuotaEntity] = set()
        for alteration in req.entries:
            entity = alteration.entity
            if entity in seen:
                results.append(AlterClientQuotasEntryResult(entity, INVALID_REQUEST,
                                                            f"Ignoring duplicate entity {describe_entity(entity)}"))
                continue
            seen.add(entity)
            problem, entity_records = self._alter_one(entity, alteration.ops)
            if problem is not None:
                results.append(AlterClientQuotasEntryResult(entity, INVALID_REQUEST, problem))
                continue
            results.append(AlterClientQuotasEntryResult(entity, NONE))
            if not req.validate_only:
                records.extend(entity_records)
        if records and ctl._write(records, now_ms) is None:
            return
        ctl._respond_on_commit(src, req, AlterClientQuotasResponse(tuple(results), req.correlation_id))

    def _alter_one(self, entity: QuotaEntity, ops: tuple) -> tuple[str | None, list[MetadataRecord]]:
        problem = entity_problem(entity)
        if problem is not None:
            return problem, []
        current = self.controller.working.client_quotas.get(entity, {})
        keys: set[str] = set()
        out: list[MetadataRecord] = []
        for op in ops:
            if op.key in keys:
                return (f"Duplicate quota key {op.key!r}, not updating quota for this entity "
                        f"{describe_entity(entity)}"), []
            keys.add(op.key)
            if op.remove:
                if op.key not in QUOTA_KEYS:
                    return quota_value_problem(op.key, 1.0), []
                if op.key in current:
                    out.append(ClientQuotaRecord(entity, op.key, 0.0, True))
                continue
            problem = quota_value_problem(op.key, float(op.value))
            if problem is not None:
                return problem, []
            if current.get(op.key) != float(op.value):
                out.append(ClientQuotaRecord(entity, op.key, float(op.value)))
        return None, out

    def describe_client_quotas(self, src: int, req: DescribeClientQuotasRequest, now_ms: float) -> None:
        """The committed quotas of the entities matching ``req``'s filter (answered at once)."""
        ctl = self.controller
        components = req.components
        types = [c.entity_type for c in components]
        for c in components:
            problem = entity_problem(((c.entity_type, "x"),))
            if problem is None and len(set(types)) != len(types):
                problem = f"Duplicate filter component entity type {c.entity_type!r}"
            if problem is None and c.match_type not in (MATCH_EXACT, MATCH_DEFAULT, MATCH_ANY):
                problem = (f"Unknown match type {c.match_type!r}; allowed: {MATCH_EXACT} (exact), {MATCH_DEFAULT} "
                           f"(default), {MATCH_ANY} (any)")
            if problem is None and c.match_type == MATCH_EXACT and not c.match:
                problem = f"Exact match of {c.entity_type!r} needs a non-empty name in match"
            if problem is not None:
                ctl.port.send(src, DescribeClientQuotasResponse(INVALID_REQUEST, (), problem, req.correlation_id))
                return
        entries = []
        for entity, quotas in ctl.image.client_quotas.items():
            names = dict(entity)
            if req.strict and set(names) != set(types):
                continue
            if all(_matches(c.match_type, c.match, names, c.entity_type) for c in components):
                entries.append(DescribeClientQuotasEntry(entity, tuple(sorted(quotas.items()))))
        entries.sort(key=lambda e: tuple((t, "" if n is None else "\x00" + n) for t, n in e.entity))
        ctl.port.send(src, DescribeClientQuotasResponse(NONE, tuple(entries), None, req.correlation_id))


def _matches(match_type: int, match: str | None, names: dict[str, str | None], entity_type: str) -> bool:
    if entity_type not in names:
        return False
    name = names[entity_type]
    if match_type == MATCH_EXACT:
        return name == match
    if match_type == MATCH_DEFAULT:
        return name is None
    return True
