"""Converters and single message transforms as Kafka's: JsonConverter's envelope, SMT chains with $Key/$Value
variants, predicates with negate, and the errors (type and text) of bad data and bad configs."""
import json

import pytest

from kafkalab.connect.api import DataException, Schema, SinkRecord, SourceRecord, struct_schema
from kafkalab.connect.converters import (
    ByteArrayConverter,
    JsonConverter,
    StringConverter,
    converter_for,
    schema_to_json,
)
from kafkalab.connect.transforms import build_chain
from kafkalab.errors import ConfigError

T = "org.apache.kafka.connect.transforms."
P = T + "predicates."


def rec(value, key=None, topic="orders", schema=None, headers=()):
    return SourceRecord("orders" if topic is None else topic, 0, None, key, schema, value, 1_700_000_000_000,
                        tuple(headers), {"p": 1}, {"o": 1})


def test_json_converter_writes_and_reads_kafkas_schema_envelope():
    schema = struct_schema([("id", Schema("int32")), ("name", Schema("string", optional=True))], name="user")
    conv = converter_for("org.apache.kafka.connect.json.JsonConverter", {}, is_key=False)
    data = conv.from_connect_data("t", schema, {"id": 1, "name": "ann"})
    assert json.loads(data) == {"schema": {"type": "struct", "fields": [
        {"type": "int32", "optional": False, "field": "id"}, {"type": "string", "optional": True, "field": "name"}],
        "optional": False, "name": "user"}, "payload": {"id": 1, "name": "ann"}}
    back_schema, value = conv.to_connect_data("t", data)
    assert back_schema == schema and value == {"id": 1, "name": "ann"}
    assert conv.from_connect_data("t", None, None) is None                     # a tombstone stays null


def test_json_converter_without_schemas_and_its_envelope_error():
    plain = JsonConverter()
    plain.configure({"schemas.enable": "false"}, False)
    assert plain.from_connect_data("t", None, {"a": [1, 2]}) == b'{"a":[1,2]}'
    enveloped = JsonConverter()
    enveloped.configure({}, False)
    with pytest.raises(DataException, match='JsonConverter with schemas.enable requires "schema" and "payload" '
                                            'fields and may not contain additional fields'):
        enveloped.to_connect_data("t", b'{"a": 1}')
    with pytest.raises(DataException, match="Converting byte\\[\\] to Kafka Connect data failed due to "
                                            "serialization error of topic t"):
        enveloped.to_connect_data("t", b"not json")


def test_string_and_bytearray_converters():
    assert StringConverter().from_connect_data("t", None, 42) == b"42"
    assert StringConverter().to_connect_data("t", b"x")[1] == "x"
    with pytest.raises(DataException, match="ByteArrayConverter is not compatible with objects of type str"):
        ByteArrayConverter().from_connect_data("t", None, "text")
    with pytest.raises(LookupError, match="Class Avro could not be found"):
        converter_for("Avro", {}, False)


def test_an_smt_chain_inserts_masks_renames_and_routes():
    chain = build_chain({
        "transforms": "ins,mask,rename,route,hdr",
        "transforms.ins.type": T + "InsertField$Value", "transforms.ins.static.field": "source",
        "transforms.ins.static.value": "web", "transforms.ins.topic.field": "topic",
        "transforms.mask.type": T + "MaskField$Value", "transforms.mask.fields": "card",
        "transforms.rename.type": T + "ReplaceField$Value", "transforms.rename.renames": "amount:total",
        "transforms.rename.exclude": "debug",
        "transforms.route.type": T + "RegexRouter", "transforms.route.regex": "(.*)s",
        "transforms.route.replacement": "$1-v2",
        "transforms.hdr.type": T + "InsertHeader", "transforms.hdr.header": "via", "transforms.hdr.value.literal": "x"})
    out = chain.apply(rec({"amount": 5, "card": "4111", "debug": True}))
    assert out.topic == "order-v2"
    assert out.value == {"total": 5, "card": "", "source": "web", "topic": "orders"}
    assert out.headers == (("via", "x"),)


def test_key_variants_value_to_key_extract_hoist_flatten_and_cast():
    chain = build_chain({"transforms": "k,x,f,c",
                         "transforms.k.type": T + "ValueToKey", "transforms.k.fields": "id",
                         "transforms.x.type": T + "ExtractField$Key", "transforms.x.field": "id",
                         "transforms.f.type": T + "Flatten$Value", "transforms.f.delimiter": "_",
                         "transforms.c.type": T + "Cast$Value", "transforms.c.spec": "id:string,addr_zip:int32"})
    out = chain.apply(rec({"id": 7, "addr": {"zip": "12345", "city": "Oslo"}}))
    assert out.key == 7
    assert out.value == {"id": "7", "addr_zip": 12345, "addr_city": "Oslo"}
    hoisted = build_chain({"transforms": "h", "transforms.h.type": T + "HoistField$Key",
                           "transforms.h.field": "k"}).apply(rec(1, key="a"))
    assert hoisted.key == {"k": "a"}


def test_predicates_with_negate_filter_tombstones_and_topics():
    chain = build_chain({"transforms": "drop,tag", "predicates": "tomb,isorders",
                         "transforms.drop.type": T + "Filter", "transforms.drop.predicate": "tomb",
                         "transforms.tag.type": T + "InsertHeader", "transforms.tag.header": "other",
                         "transforms.tag.value.literal": "1", "transforms.tag.predicate": "isorders",
                         "transforms.tag.negate": "true",
                         "predicates.tomb.type": P + "RecordIsTombstone",
                         "predicates.isorders.type": P + "TopicNameMatches", "predicates.isorders.pattern": "ord.*"})
    assert chain.apply(rec(None)) is None
    assert chain.apply(rec({"a": 1})).headers == ()
    assert chain.apply(rec({"a": 1}, topic="users")).headers == (("other", "1"),)
    has = build_chain({"transforms": "d", "predicates": "h", "transforms.d.type": T + "DropHeaders",
                       "transforms.d.headers": "secret", "transforms.d.predicate": "h",
                       "predicates.h.type": P + "HasHeaderKey", "predicates.h.name": "secret"})
    assert has.apply(rec({"a": 1}, headers=[("secret", "s"), ("keep", "k")])).headers == (("keep", "k"),)


def test_timestamp_router_and_converter_header_from_and_schema_metadata():
    routed = build_chain({"transforms": "r", "transforms.r.type": T + "TimestampRouter",
                          "transforms.r.topic.format": "${topic}-${timestamp}",
                          "transforms.r.timestamp.format": "yyyy-MM-dd"}).apply(rec({"a": 1}))
    assert routed.topic == "orders-2023-11-14"
    conv = build_chain({"transforms": "t", "transforms.t.type": T + "TimestampConverter$Value",
                        "transforms.t.field": "ts", "transforms.t.target.type": "string",
                        "transforms.t.format": "yyyy-MM-dd HH:mm:ss.SSS"}).apply(rec({"ts": 1_700_000_000_123}))
    assert conv.value == {"ts": "2023-11-14 22:13:20.123"}
    moved = build_chain({"transforms": "h", "transforms.h.type": T + "HeaderFrom$Value", "transforms.h.fields": "id",
                         "transforms.h.headers": "record-id", "transforms.h.operation": "move"}).apply(rec({"id": 3}))
    assert moved.value == {} and moved.headers == (("record-id", 3),)
    schema = struct_schema([("a", Schema("int32"))])
    named = build_chain({"transforms": "s", "transforms.s.type": T + "SetSchemaMetadata$Value",
                         "transforms.s.schema.name": "com.x.A", "transforms.s.schema.version": "2"}
                        ).apply(rec({"a": 1}, schema=schema))
    assert (named.value_schema.name, named.value_schema.version) == ("com.x.A", 2)


def test_schemaless_field_transforms_need_a_map_and_say_so():
    chain = build_chain({"transforms": "i", "transforms.i.type": T + "InsertField$Value",
                         "transforms.i.static.field": "x", "transforms.i.static.value": "y"})
    with pytest.raises(DataException, match=r"Only Map objects supported in absence of schema for \[field insertion\], "
                                            r"found: str"):
        chain.apply(rec("a string"))


def test_offset_field_needs_a_sink_record():
    chain = build_chain({"transforms": "i", "transforms.i.type": T + "InsertField$Value",
                         "transforms.i.offset.field": "off"})
    sink = SinkRecord("t", 0, None, None, None, {"a": 1}, 0, (), 42)
    assert chain.apply(sink).value == {"a": 1, "off": 42}


@pytest.mark.parametrize("config, key, text", [
    ({"transforms": "a"}, "transforms.a.type", 'Missing required configuration "transforms.a.type" which has no '
                                               'default value.'),
    ({"transforms": "a", "transforms.a.type": T + "InsertFeld$Value"}, "transforms.a.type",
     "Class org.apache.kafka.connect.transforms.InsertFeld$Value could not be found"),
    ({"transforms": "a", "transforms.a.type": T + "Cast$Value", "transforms.a.spec": "x:decimal"}, "transforms.a.spec",
     "Invalid type found in casting spec: decimal"),
    ({"transforms": "a", "transforms.a.type": T + "Filter", "transforms.a.predicate": "nope"},
     "transforms.a.predicate", "Predicate 'nope' is not defined in 'predicates'"),
    ({"transforms": "a", "transforms.a.type": T + "ExtractField$Value"}, "transforms.a.field",
     'Missing required configuration "field"'),
])
def test_bad_transform_configs_name_the_key(config, key, text):
    with pytest.raises(ConfigError) as err:
        build_chain(config)
    assert err.value.key == key and text in str(err.value)


def test_json_converter_caches_schemas_both_ways_and_writes_the_same_bytes():
    schema = struct_schema([("id", Schema("int64")), ("name", Schema("string", optional=True))], name="row")
    conv = converter_for("JsonConverter", {"schemas.cache.size": 2}, False)
    data = conv.from_connect_data("t", schema, {"id": 7, "name": "x"})
    assert data == json.dumps({"schema": schema_to_json(schema), "payload": {"id": 7, "name": "x"}},
                              separators=(",", ":")).encode()
    assert conv.to_connect_data("t", data) == (schema, {"id": 7, "name": "x"})
    assert conv.to_connect_data("t", data)[0] is conv.to_connect_data("t", data)[0]     # parsed once
    for i in range(3):                                      # the cache keeps the newest schemas.cache.size
        conv.from_connect_data("t", Schema("int32", name=f"s{i}"), i)
    assert len(conv._json_of) == 2
    assert conv.from_connect_data("t", None, [1, b"a"]) == b'{"schema":null,"payload":[1,"YQ=="]}'


def test_a_polls_records_leave_in_a_few_produce_batches_not_one_request_each(tmp_path):
    from tests.connect.conftest import start
    path = tmp_path / "in.txt"
    path.write_text("".join(f"line {i}\n" for i in range(1000)))
    cluster, connect = start(workers=1, seed=12, topics={"lines": 1})
    connect.create_connector("src", {"connector.class": "FileStreamSource", "file": str(path), "topic": "lines"})
    assert cluster.run_until(lambda: len(connect.observer.source_acks) == 1000, 60_000)
    producer = connect.worker(connect.workers[0]).task_producer.core
    # Kafka's WorkerSourceTask hands the whole poll to the producer; with linger.ms=0 and one request in flight
    # the records still share batches (16 KiB each), so ~30 KB of lines are a handful of produce requests
    assert producer.records_sent == 1000
    assert producer.batches_sent <= 5
