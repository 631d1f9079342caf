"""Histories and independent checkers: they judge what clients were told and saw, never the system's counters.

Mirrors Jepsen's Kafka workload (``jepsen.tests.kafka``) rather than a Kafka module. :mod:`.history` is the recorder
clients write into (so it sits low: it imports only :mod:`kafkalab.common`); :func:`analyze` (:mod:`.analysis`,
:mod:`.txn_checks`) judges it into a :class:`Report`; :func:`check_queue` is the older summary view of the same
analysis. A :class:`HistorySpill` makes a long run's history write its older events to Parquet
(:mod:`.spill`).
"""
from kafkalab.check.analysis import analyze
from kafkalab.check.history import OP_TYPES, History, HistorySpill, Op, ReadRecord
from kafkalab.check.queue_checker import ANOMALY_KINDS, RESET_OPS, Anomaly, QueueCheck, check_queue
from kafkalab.check.report import KINDS, Report

__all__ = ["OP_TYPES", "History", "HistorySpill", "Op", "ReadRecord", "ANOMALY_KINDS", "RESET_OPS", "Anomaly", "QueueCheck",
           "check_queue", "analyze", "Report", "KINDS"]
