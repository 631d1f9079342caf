"""The names DESIGN.md promises stay where it says (issue: module boundaries moved their definitions)."""
import kafkalab as kl
from kafkalab import common, ports
from kafkalab.sim.world import ProcessContext


def test_top_level_names_are_the_shared_vocabulary():
    assert kl.TopicPartition is common.TopicPartition
    assert kl.OffsetAndMetadata is common.OffsetAndMetadata
    assert kl.TopicPartition("orders", 3) == ("orders", 3) and str(kl.TopicPartition("orders", 3)) == "orders-3"
    assert kl.OffsetAndMetadata(42).offset == 42
    assert kl.raft.RaftCluster.__module__ == "kafkalab.raft.playground"
    assert issubclass(kl.errors.NotEnoughReplicasError, kl.errors.KafkaError)


def test_clients_hand_back_the_common_record_types():
    from kafkalab.clients import ConsumerRecord, RecordMetadata
    assert RecordMetadata is common.RecordMetadata and ConsumerRecord is common.ConsumerRecord


def test_a_batch_stores_its_records_by_column_and_reads_as_rows():
    from kafkalab.common.records import RecordColumns
    from kafkalab.log import Record, RecordBatch
    from kafkalab.log import RecordColumns as Reexported
    batch = RecordBatch((Record(b"k", b"v", 3),))
    assert Reexported is RecordColumns and type(batch.rows) is RecordColumns and batch.columns is batch.rows
    assert batch.rows == ((b"k", b"v", 3, ()),) and batch.records == (Record(b"k", b"v", 3),)


def test_protocol_families_are_importable_by_kafka_api_name():
    from kafkalab.protocol import (
        admin,
        consumer_group,
        controller,
        fetch,
        group,
        group_admin,
        list_offsets,
        metadata,
        produce,
        raft,
        txn,
    )
    names = {
        produce: "ProduceRequest", fetch: "FetchResponse", metadata: "MetadataRequest",
        list_offsets: "ListOffsetsRequest", group: "JoinGroupRequest",
        consumer_group: "ConsumerGroupHeartbeatRequest", raft: "VoteRequest", controller: "BrokerHeartbeatRequest",
        admin: "CreateTopicsRequest", txn: "InitProducerIdRequest", group_admin: "DeleteGroupsRequest",
    }
    for module, name in names.items():
        assert name in module.__all__ and getattr(module, name).__module__ == module.__name__


def test_the_simulator_context_is_a_process_port():
    members = [m for m in dir(ports.ProcessPort) if not m.startswith("_")]
    assert sorted(members) == ["alive", "disk", "halt", "incarnation", "node_id", "now", "post_at", "record", "rng",
                               "schedule_at", "send", "set_timer"]
    assert all(hasattr(ProcessContext, m) or m in ProcessContext.__slots__ for m in members)


def test_the_metadata_log_is_described_per_node():
    assert callable(kl.Cluster.describe_metadata_log)
    from kafkalab.metadata.image import MetadataImage
    from kafkalab.metadata.snapshot_generator import SnapshotGenerator
    assert callable(MetadataImage.write) and callable(MetadataImage.from_records)
    assert SnapshotGenerator.__module__ == "kafkalab.metadata.snapshot_generator"


def test_streams_names_of_the_design():
    from kafkalab import streams as ks
    for name in ("StreamsBuilder", "KStream", "KTable", "KGroupedStream", "KGroupedTable", "Topology",
                 "TopologyTestDriver", "Processor", "Record", "STREAM_TIME", "WALL_CLOCK_TIME", "TopologyException",
                 "TimeWindows", "SlidingWindows", "SessionWindows", "JoinWindows", "Windowed", "Suppressed",
                 "BufferConfig", "GlobalKTable"):
        assert name in ks.__all__ and hasattr(ks, name)

def test_the_workbench_names_design_promises():
    from kafkalab.check.analysis import analyze
    from kafkalab.check.report import Report
    assert kl.check.analyze is analyze and kl.check.Report is Report
    assert callable(kl.check.check_queue) and callable(kl.check.History.load) and callable(kl.check.History.save)

def test_the_control_room_is_kl_viz():
    assert kl.viz.ControlRoom.__module__ == "kafkalab.viz.control_room"
    assert kl.viz.replay.__module__ == "kafkalab.viz.room_model"

def test_kafka_connect_names_are_where_design_md_says():
    assert callable(kl.Cluster.connect)
    for name in ("SourceConnector", "SourceTask", "SinkConnector", "SinkTask", "SourceRecord", "SinkRecord",
                 "ConnectCluster", "RestResponse", "ConnectRestError", "register_plugin", "ConnectorTaskId",
                 "ExactlyOnceSupport", "ConnectorTransactionBoundaries", "TransactionContext"):
        assert name in kl.connect.__all__ and getattr(kl.connect, name) is not None
    assert kl.connect.RestResponse(200, []).status == 200
    for method in ("rest", "create_connector", "status", "describe", "pause", "resume", "stop", "restart", "delete",
                   "connectors", "offsets", "put_config", "wait_until_running", "assignments"):
        assert callable(getattr(kl.connect.ConnectCluster, method))


def test_the_hardware_model_and_sizing_mode_are_public():
    from kafkalab.broker.hardware import Hardware
    assert kl.Hardware is Hardware and "Hardware" in kl.__all__
    assert callable(kl.sizing.run) and kl.sizing.SizingWorkload.__module__ == "kafkalab.sizing.workload"


def test_counted_records_are_public_names_of_the_records_the_log_and_the_clients():
    from kafkalab.clients.counted import CountedFuture, CountedMetadata, PartitionCounts
    from kafkalab.common.records import CountedRecords, CountedRecordsError
    assert kl.log.CountedRecords is CountedRecords and "CountedRecords" in kl.log.__all__
    assert issubclass(CountedRecordsError, TypeError)
    assert (kl.clients.CountedFuture, kl.clients.CountedMetadata, kl.clients.PartitionCounts) == \
        (CountedFuture, CountedMetadata, PartitionCounts)
    assert callable(kl.clients.KafkaProducer.send_counted) and callable(kl.clients.KafkaConsumer.poll_counts)
    import inspect

    from kafkalab.sizing.faithful import run_faithful
    assert "counted" in inspect.signature(run_faithful).parameters


def test_history_spill_is_a_check_name():
    from kafkalab.check.spill import HistorySpill
    assert kl.check.HistorySpill is HistorySpill and "HistorySpill" in kl.check.__all__


def test_client_quotas_are_where_kafka_keeps_them():
    from kafkalab.broker.quotas import ClientQuotaManager, ClientQuotas
    from kafkalab.clients.admin import AdminClient
    from kafkalab.common.sampled_stats import Avg, Max, Rate
    from kafkalab.controller.client_quota_control import ClientQuotaControlManager
    from kafkalab.metadata.client_quotas import (
        CONSUMER_BYTE_RATE,
        PRODUCER_BYTE_RATE,
        QUOTA_KEYS,
        REQUEST_PERCENTAGE,
    )
    from kafkalab.metadata.records import ClientQuotaRecord
    from kafkalab.protocol import quotas
    assert ClientQuotaManager.__module__ == "kafkalab.broker.quotas" and ClientQuotas.__module__ == ClientQuotaManager.__module__
    assert ClientQuotaControlManager.__module__ == "kafkalab.controller.client_quota_control"
    assert {Rate.__module__, Avg.__module__, Max.__module__} == {"kafkalab.common.sampled_stats"}
    assert set(QUOTA_KEYS) == {PRODUCER_BYTE_RATE, CONSUMER_BYTE_RATE, REQUEST_PERCENTAGE}
    assert ClientQuotaRecord.__module__ == "kafkalab.metadata.records"
    for name in ("AlterClientQuotasRequest", "AlterClientQuotasResponse", "DescribeClientQuotasRequest",
                 "DescribeClientQuotasResponse"):
        assert name in quotas.__all__ and getattr(quotas, name).__module__ == "kafkalab.protocol.quotas"
    assert callable(AdminClient.alter_client_quotas) and callable(AdminClient.describe_client_quotas)
