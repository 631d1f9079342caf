"""Workloads under a nemesis (Maelstrom's kafka workload, a producer and a consumer group, skewed keys), each
returning its history and the run's metadata for :func:`kafkalab.check.analyze`. See :mod:`.queue`."""
from kafkalab.workloads.nemesis import NEMESIS_KINDS, start_nemesis
from kafkalab.workloads.queue import WORKLOADS, producer_group, queue, skewed
from kafkalab.workloads.result import WorkloadResult

__all__ = ["queue", "skewed", "producer_group", "WORKLOADS", "WorkloadResult", "NEMESIS_KINDS", "start_nemesis"]
