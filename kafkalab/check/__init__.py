"""Histories and independent checkers: they judge what clients were told and saw, never the system's counters."""
from kafkalab.check.history import OP_TYPES, History, Op, ReadRecord
from kafkalab.check.queue_checker import ANOMALY_KINDS, RESET_OPS, Anomaly, QueueCheck, check_queue

__all__ = ["OP_TYPES", "History", "Op", "ReadRecord", "ANOMALY_KINDS", "RESET_OPS", "Anomaly", "QueueCheck",
           "check_queue"]
