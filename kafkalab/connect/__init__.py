"""Kafka Connect in the simulation (``connect/runtime`` of Apache Kafka 4): distributed and standalone workers as
nodes of a :class:`~kafkalab.cluster.Cluster`, the worker group with incremental cooperative rebalancing (KIP-415),
the internal config/offset/status topics, source and sink tasks with converters, single message transforms and
KIP-298 error handling, exactly-once sources (KIP-618), the REST API, and connectors that move real data (files,
SQLite, datagen).

``connect = cluster.connect(workers=3, config={"group.id": "connect-cluster"})``; write connectors in Python with
:class:`SourceConnector`/:class:`SourceTask`/:class:`SinkConnector`/:class:`SinkTask` and :func:`register_plugin`.
"""
from kafkalab.connect.api import (
    ConnectException,
    ConnectorTaskId,
    ConnectorTransactionBoundaries,
    DataException,
    ExactlyOnceSupport,
    RetriableException,
    Schema,
    SchemaField,
    SinkConnector,
    SinkRecord,
    SinkTask,
    SourceConnector,
    SourceRecord,
    SourceTask,
    TransactionContext,
    struct_schema,
)
from kafkalab.connect.connect_cluster import ConnectCluster, ConnectRestError, RestResponse
from kafkalab.connect.plugins import register_plugin

__all__ = ["ConnectCluster", "RestResponse", "ConnectRestError", "SourceConnector", "SourceTask", "SinkConnector",
           "SinkTask", "SourceRecord", "SinkRecord", "ConnectorTaskId", "Schema", "SchemaField", "struct_schema",
           "ConnectException", "DataException", "RetriableException", "register_plugin", "ExactlyOnceSupport",
           "ConnectorTransactionBoundaries", "TransactionContext"]
