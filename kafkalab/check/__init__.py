"""Histories and independent checkers: they judge what clients were told and saw, never the system's counters.

Mirrors Jepsen's Kafka workload (``jepsen.tests.kafka``) rather than a Kafka module. :mod:`.history` is the recorder
clients write into (so it sits low: it imports only :mod:`kafkalab.common`); :mod:`.queue_checker` judges it.
"""
from kafkalab.check.history import OP_TYPES, History, Op, ReadRecord
from kafkalab.check.queue_checker import ANOMALY_KINDS, RESET_OPS, Anomaly, QueueCheck, check_queue

__all__ = ["OP_TYPES", "History", "Op", "ReadRecord", "ANOMALY_KINDS", "RESET_OPS", "Anomaly", "QueueCheck",
           "check_queue"]
