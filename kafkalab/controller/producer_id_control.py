"""AllocateProducerIds on the active controller (KIP-730; Kafka's ``ProducerIdControlManager``).

How it works. The next free producer id is part of the metadata image (``next_producer_id``, set by replaying a
``ProducerIdsRecord``). A broker with a current registration (its broker epoch matches) gets the next block of
:data:`~kafkalab.protocol.controller.PRODUCER_ID_BLOCK_SIZE` (1000) ids: the controller writes one
``ProducerIdsRecord`` whose ``next_producer_id`` is the end of the block and answers once it is committed. A stale or
unknown broker epoch is answered STALE_BROKER_EPOCH at once, without a write.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from kafkalab.metadata.records import ProducerIdsRecord
from kafkalab.protocol.common import NONE
from kafkalab.protocol.controller import (
    PRODUCER_ID_BLOCK_SIZE,
    AllocateProducerIdsRequest,
    AllocateProducerIdsResponse,
)

if TYPE_CHECKING:       # the quorum controller builds its managers
    from kafkalab.controller.quorum_controller import QuorumController

__all__ = ["ProducerIdControlManager"]


class ProducerIdControlManager:
    """Producer id blocks of one :class:`~kafkalab.controller.quorum_controller.QuorumController`."""

    def __init__(self, controller: QuorumController) -> None:
        self.controller = controller

    def allocate_producer_ids(self, src: int, req: AllocateProducerIdsRequest, now_ms: float) -> None:
        """``generateNextProducerId``: the next block for a broker with a current broker epoch."""
        ctl = self.controller
        reg = ctl.working.brokers.get(req.broker_id)
        if reg is None or reg.broker_epoch != req.broker_epoch:
            ctl.port.send(src, AllocateProducerIdsResponse("STALE_BROKER_EPOCH", correlation_id=req.correlation_id))
            return
        start = ctl.working.next_producer_id
        size = PRODUCER_ID_BLOCK_SIZE
        if ctl._write([ProducerIdsRecord(req.broker_id, req.broker_epoch, start + size)], now_ms) is None:
            return
        ctl._respond_on_commit(src, req, AllocateProducerIdsResponse(NONE, start, size, req.correlation_id))
