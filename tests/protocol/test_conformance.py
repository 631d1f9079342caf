"""violations(): a request's fields against its annotations (the stand-in for Kafka's request parsing)."""
from kafkalab.common.records import RecordBatch
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol import admin as cm
from kafkalab.protocol.conformance import violations
from kafkalab.protocol.produce import ProduceRequest


def test_well_formed_requests_conform():
    assert violations(cm.CreateTopicsRequest((cm.CreatableTopic("t", 3, 3, None, (("retention.ms", "1"),)),))) == []
    assert violations(ProduceRequest(-1, 1000, {TopicPartition("t", 0): RecordBatch(())}, transactional_id=None)) == []


def test_each_violation_names_the_field_path():
    assert violations(cm.CreateTopicsRequest((cm.CreatableTopic("t", "3", 1.5),))) == [
        "CreateTopicsRequest.topics[0].num_partitions: str '3' is not int",
        "CreateTopicsRequest.topics[0].replication_factor: float 1.5 is not int"]
    assert violations(ProduceRequest(True, 1000, {("t", "0"): 5}), limit=5) == [
        "ProduceRequest.acks: bool True is not int",
        "ProduceRequest.batches key: tuple ('t', '0') is not TopicPartition",
        "ProduceRequest.batches[('t', '0')]: int 5 is not RecordBatch"]
    assert violations(cm.CreateTopicsRequest((cm.CreatableTopic("t", 3, 3, None, (("k",),)),))) == [
        "CreateTopicsRequest.topics[0].configs[0]: 1 items, tuple[str, str] has 2"]
    assert violations(cm.DeleteTopicsRequest(("a", None))) == [
        "DeleteTopicsRequest.topic_names[1]: NoneType None is not str"]
