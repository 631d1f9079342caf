"""A metadata snapshot is the image written as records (Kafka's ``MetadataImage.write``): replaying the snapshot and
then the records after it must give the image that replaying the whole log gives, wherever the snapshot is cut."""
from hypothesis import given
from hypothesis import strategies as st

from kafkalab.metadata.image import MetadataImage
from kafkalab.metadata.records import (
    NO_CHANGE,
    BrokerRegistrationChangeRecord,
    ConfigRecord,
    FeatureLevelRecord,
    FenceBrokerRecord,
    NoOpRecord,
    PartitionChangeRecord,
    PartitionRecord,
    ProducerIdsRecord,
    RegisterBrokerRecord,
    RemoveTopicRecord,
    TopicRecord,
    UnfenceBrokerRecord,
    UnregisterBrokerRecord,
)

OPS = st.one_of(
    st.tuples(st.just("register"), st.integers(0, 4), st.sampled_from([None, "r1", "r2"])),
    st.tuples(st.just("fence"), st.integers(0, 9), st.sampled_from(["fence", "unfence", "change", "shutdown"])),
    st.tuples(st.just("unregister"), st.integers(0, 9)),
    st.tuples(st.just("create"), st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.just("change"), st.integers(0, 9), st.integers(0, 9), st.integers(-1, 4), st.booleans(),
              st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, 9)),
    st.tuples(st.just("config"), st.sampled_from(["topic", "broker"]), st.integers(0, 9),
              st.sampled_from(["retention.ms", "min.insync.replicas", "cleanup.policy"]),
              st.sampled_from([None, "1", "2", "compact"])),
    st.tuples(st.just("pids"), st.integers(1, 3)),
    st.tuples(st.just("feature"), st.sampled_from(["metadata.version", "group.version", "transaction.version"]),
              st.integers(0, 3)),
    st.tuples(st.just("noop")),
)


PRELUDE = [("register", 0, None), ("register", 1, "r1"), ("create", 3, 2)]


def records_for(ops: list[tuple]) -> list:
    """Turn random operations into a log a controller could have written (every record replays); a prelude of two
    brokers and a topic gives the first operations something to act on."""
    brokers: dict[int, int] = {}          # id -> epoch
    topics: dict[str, tuple[str, int]] = {}   # name -> (id, partitions)
    out: list = []
    counter = 0
    ops = PRELUDE + list(ops)
    next_pid = 0
    for op in ops:
        counter += 1
        kind = op[0]
        if kind == "register":
            brokers[op[1]] = counter
            out.append(RegisterBrokerRecord(op[1], counter, f"inc-{counter}", op[2]))
        elif kind == "fence" and brokers:
            b = sorted(brokers)[op[1] % len(brokers)]
            how = op[2]
            if how == "fence":
                out.append(FenceBrokerRecord(b, brokers[b]))
            elif how == "unfence":
                out.append(UnfenceBrokerRecord(b, brokers[b]))
            elif how == "change":
                out.append(BrokerRegistrationChangeRecord(b, brokers[b], fenced=counter % 2 == 0))
            else:
                out.append(BrokerRegistrationChangeRecord(b, brokers[b], in_controlled_shutdown=True))
        elif kind == "unregister" and brokers:
            b = sorted(brokers)[op[1] % len(brokers)]
            out.append(UnregisterBrokerRecord(b, brokers.pop(b)))
        elif kind == "create":
            name, topic_id = f"t{counter}", f"id-{counter}"
            topics[name] = (topic_id, op[1])
            out.append(TopicRecord(name, topic_id))
            for p in range(op[1]):
                replicas = tuple((p + i) % 5 for i in range(op[2]))
                out.append(PartitionRecord(topic_id, p, replicas, replicas, replicas[0]))
        elif kind == "change" and topics:
            name = sorted(topics)[op[1] % len(topics)]
            topic_id, partitions = topics[name]
            isr = (op[3],) if op[3] >= 0 else ()
            elr = (1, 2) if op[5] else None
            out.append(PartitionChangeRecord(topic_id, op[2] % partitions, leader=op[3] if op[4] else NO_CHANGE,
                                             isr=isr, eligible_leader_replicas=elr))
        elif kind == "delete" and topics:
            name = sorted(topics)[op[1] % len(topics)]
            out.append(RemoveTopicRecord(topics.pop(name)[0]))
        elif kind == "config":
            resource = sorted(topics)[op[2] % len(topics)] if op[1] == "topic" and topics else str(op[2] % 3)
            out.append(ConfigRecord(op[1], resource, op[3], op[4]))
        elif kind == "pids":
            next_pid += 1000 * op[1]
            out.append(ProducerIdsRecord(1, 1, next_pid))
        elif kind == "feature":
            out.append(FeatureLevelRecord(op[1], op[2]))
        else:
            out.append(NoOpRecord())
    return out


def replay(records: list, start: int = 0, image: MetadataImage | None = None) -> MetadataImage:
    image = image if image is not None else MetadataImage()
    for offset, record in enumerate(records[start:], start):
        image.replay(record, offset)
    return image


@given(st.lists(OPS, max_size=60), st.data())
def test_snapshot_plus_the_log_after_it_replays_to_the_image_of_the_whole_log(ops, data):
    log = records_for(ops)
    cut = data.draw(st.integers(0, len(log)), label="snapshot end offset")
    whole = replay(log)
    before = replay(log[:cut])
    restored = MetadataImage.from_records(before.write(), cut - 1)
    assert restored == before                                   # the snapshot alone is the image at its offset
    assert replay(log, cut, restored) == whole                  # ... and the log after it gives the same end state


@given(st.lists(OPS, max_size=60))
def test_an_image_written_twice_gives_the_same_records(ops):
    image = replay(records_for(ops))
    records = image.write()
    again = MetadataImage.from_records(records, image.offset).write()
    assert again == records
    assert not any(isinstance(r, (NoOpRecord, PartitionChangeRecord, RemoveTopicRecord)) for r in records)


def test_what_a_snapshot_holds_in_kafkas_order():
    log = [FeatureLevelRecord("group.version", 1), FeatureLevelRecord("metadata.version", 30),
           RegisterBrokerRecord(2, 10, "b2"), RegisterBrokerRecord(1, 11, "b1", "rack-a"),
           UnfenceBrokerRecord(1, 11), TopicRecord("orders", "id-o"),
           PartitionRecord("id-o", 1, (1, 2), (1, 2), 1), PartitionRecord("id-o", 0, (2, 1), (2, 1), 2),
           PartitionChangeRecord("id-o", 0, leader=1, isr=(1,)), ConfigRecord("topic", "orders", "retention.ms", "5"),
           ConfigRecord("topic", "orders", "cleanup.policy", "compact"),
           ConfigRecord("topic", "orders", "cleanup.policy", None), ProducerIdsRecord(1, 11, 2000), NoOpRecord()]
    image = replay(log)
    assert image.write() == [
        FeatureLevelRecord("metadata.version", 30), FeatureLevelRecord("group.version", 1),
        RegisterBrokerRecord(1, 11, "b1", "rack-a", fenced=False), RegisterBrokerRecord(2, 10, "b2"),
        TopicRecord("orders", "id-o"),
        PartitionRecord("id-o", 0, (2, 1), (1,), 1, leader_epoch=1, partition_epoch=1),
        PartitionRecord("id-o", 1, (1, 2), (1, 2), 1),
        ConfigRecord("topic", "orders", "retention.ms", "5"),
        ProducerIdsRecord(-1, -1, 2000)]


def test_a_config_resource_whose_last_override_is_deleted_leaves_the_image():
    image = replay([ConfigRecord("broker", "1", "log.retention.ms", "5"),
                    ConfigRecord("broker", "1", "log.retention.ms", None),
                    ConfigRecord("broker", "2", "log.retention.ms", None)])
    assert image.configs == {}
    assert image == MetadataImage.from_records(image.write(), image.offset)
