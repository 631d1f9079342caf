"""Workloads under a nemesis (Maelstrom's kafka workload, a producer and a consumer group, skewed keys, and Jepsen's
transactional Kafka workload), each returning its history and the run's metadata for :func:`kafkalab.check.analyze`.
See :mod:`.queue` and :mod:`.transactional`."""
from collections.abc import Callable

from kafkalab.workloads.nemesis import NEMESIS_KINDS, start_nemesis
from kafkalab.workloads.queue import producer_group, queue, skewed
from kafkalab.workloads.result import WorkloadResult
from kafkalab.workloads.transactional import txn

#: Workloads by name, for sweeps and the command line (``kafkalab run txn``).
WORKLOADS: dict[str, Callable[..., WorkloadResult]] = {"queue": queue, "skewed": skewed,
                                                       "producer_group": producer_group, "txn": txn}

__all__ = ["queue", "skewed", "producer_group", "txn", "WORKLOADS", "WorkloadResult", "NEMESIS_KINDS",
           "start_nemesis"]
