"""Auto topic creation at the broker (Kafka's ``AutoTopicCreationManager``): a Metadata request naming a missing topic
makes the broker ask the active controller to create it, answering UNKNOWN_TOPIC_OR_PARTITION meanwhile."""
from __future__ import annotations

from typing import Any

from kafkalab.protocol.admin import CreateTopicsRequest
from kafkalab.protocol.metadata import MetadataRequest
from tests.broker.test_with_controller import Lab


def metadata(lab: Lab, *topics: str, allow: bool = True, broker: int = 1) -> dict[str, Any]:
    resp = lab.call(broker, lambda c: MetadataRequest(topics, c, allow))
    return {t.name: t for t in resp.topics}


def create_requests(lab: Lab) -> list[CreateTopicsRequest]:
    """Every CreateTopics request a broker sends from now on (the server's send, wrapped)."""
    sent: list[CreateTopicsRequest] = []
    for b in (1, 2, 3):
        server = lab.server(b)
        original = server.send

        def send(dst: Any, msg: Any, original: Any = original) -> None:
            if isinstance(msg, CreateTopicsRequest):
                sent.append(msg)
            original(dst, msg)
        server.send = send  # type: ignore[method-assign]
    return sent


def exists(lab: Lab, name: str) -> bool:
    return all(name in lab.server(b).image.topics for b in (1, 2, 3))


def test_a_missing_topic_is_created_with_the_broker_defaults_and_answered_unknown_meanwhile() -> None:
    lab = Lab(config={"num.partitions": 4, "default.replication.factor": 3})
    sent = create_requests(lab)
    first = metadata(lab, "orders")["orders"]
    assert (first.error, first.partitions, first.is_internal) == ("UNKNOWN_TOPIC_OR_PARTITION", (), False)
    assert [(t.name, t.num_partitions, t.replication_factor) for r in sent for t in r.topics] == [("orders", 4, 3)]
    assert lab.world.run_until(lambda: exists(lab, "orders"), 5_000)
    answer = metadata(lab, "orders")["orders"]
    assert answer.error == "NONE"
    assert [len(p.replicas) for p in answer.partitions] == [3, 3, 3, 3]
    assert len(sent) == 1


def test_a_topic_already_asked_for_is_not_sent_to_the_controller_twice() -> None:
    lab = Lab()
    sent = create_requests(lab)
    server = lab.server(1)
    # two answers before the controller's reply: the second finds the topic in flight
    assert server.metadata_response(MetadataRequest(("a", "a", "b"))).topics[0].error == "UNKNOWN_TOPIC_OR_PARTITION"
    assert server.metadata_response(MetadataRequest(("a",))).topics[0].error == "UNKNOWN_TOPIC_OR_PARTITION"
    assert [[t.name for t in r.topics] for r in sent] == [["a", "b"]]
    assert lab.world.run_until(lambda: exists(lab, "a") and exists(lab, "b"), 5_000)
    assert server.auto_topic_creation is not None and server.auto_topic_creation.in_flight == {}


def test_nothing_is_created_when_the_request_or_the_broker_does_not_allow_it() -> None:
    lab = Lab()
    sent = create_requests(lab)
    assert metadata(lab, "x", allow=False)["x"].error == "UNKNOWN_TOPIC_OR_PARTITION"
    assert lab.call(1, lambda c: MetadataRequest(None, c)).topics == ()       # all topics: never creates
    off = Lab(config={"auto.create.topics.enable": False})
    sent_off = create_requests(off)
    assert metadata(off, "y")["y"].error == "UNKNOWN_TOPIC_OR_PARTITION"
    lab.world.run(2_000)
    off.world.run(2_000)
    assert sent == sent_off == []
    assert not exists(lab, "x") and not exists(off, "y")


def test_an_invalid_topic_name_is_answered_invalid_topic_exception_and_never_sent() -> None:
    for config in ({}, {"auto.create.topics.enable": False}):
        lab = Lab(config=config)
        sent = create_requests(lab)
        answers = metadata(lab, "bad name", "x" * 250, "..")
        assert {name: t.error for name, t in answers.items()} == {
            "bad name": "INVALID_TOPIC_EXCEPTION", "x" * 250: "INVALID_TOPIC_EXCEPTION", "..": "INVALID_TOPIC_EXCEPTION"}
        assert sent == []


def test_a_creation_the_controller_refuses_leaves_the_topic_missing_and_is_tried_again() -> None:
    lab = Lab(config={"default.replication.factor": 5})       # only 3 brokers: INVALID_REPLICATION_FACTOR
    sent = create_requests(lab)
    assert metadata(lab, "t5")["t5"].error == "UNKNOWN_TOPIC_OR_PARTITION"
    server = lab.server(1)
    assert server.auto_topic_creation is not None
    assert lab.world.run_until(lambda: server.auto_topic_creation.in_flight == {}, 5_000)   # type: ignore[union-attr]
    assert not exists(lab, "t5")
    assert metadata(lab, "t5")["t5"].error == "UNKNOWN_TOPIC_OR_PARTITION"
    assert len(sent) == 2
