"""Topic names in CreateTopics: Kafka's ``Topic.validate`` wording (Kafka >= 3.4, unchanged in 4.x) and the collision
check of ``ReplicationControlManager.validateNewTopicNames`` ('.' and '_' are the same character to metric names, so
``foo.bar`` and ``foo_bar`` may not both exist); and how the error reaches the caller of ``Cluster.create_topic``."""
import re

import pytest

import kafkalab as kl
from kafkalab.common.topic import validate_topic_name
from kafkalab.errors import InvalidTopicExceptionError, error_for_name
from kafkalab.protocol import admin as cm
from tests.controller.harness import ControlPlane


@pytest.fixture
def cp() -> ControlPlane:
    plane = ControlPlane(seed=7)
    plane.boot()
    return plane


LONG = "x" * 250


@pytest.mark.parametrize(("name", "message"), [
    ("", "Topic name is invalid: the empty string is not allowed"),
    (".", "Topic name is invalid: '.' is not allowed"),
    ("..", "Topic name is invalid: '..' is not allowed"),
    (LONG, f"Topic name is invalid: the length of '{LONG}' is longer than the max allowed length 249"),
    ("bad name!", "Topic name is invalid: 'bad name!' contains one or more characters other than ASCII alphanumerics, "
                  "'.', '_' and '-'"),
    ("caf\u00e9", "Topic name is invalid: 'caf\u00e9' contains one or more characters other than ASCII alphanumerics, "
                  "'.', '_' and '-'"),
])
def test_an_invalid_name_is_refused_with_kafkas_message(cp: ControlPlane, name: str, message: str) -> None:
    assert validate_topic_name(name) == message
    result = cp.create_topic(name)
    assert (result.error, result.error_message) == ("INVALID_TOPIC_EXCEPTION", message)
    assert error_for_name(result.error) is InvalidTopicExceptionError
    assert name not in cp.image().topics


@pytest.mark.parametrize("name", ["a", "x" * 249, "...", ".a", "a..b", "A-Z_0.9", "__consumer_offsets_copy"])
def test_legal_names(name: str) -> None:
    assert validate_topic_name(name) is None


@pytest.mark.parametrize(("existing", "new"), [
    ("foo.bar", "foo_bar"), ("foo_bar", "foo.bar"), ("a.b_c", "a_b.c"), ("a.b.c", "a_b_c")])
def test_a_name_that_collides_with_an_existing_topic_is_refused(cp: ControlPlane, existing: str, new: str) -> None:
    assert cp.create_topic(existing).error == "NONE"
    result = cp.create_topic(new)
    assert (result.error, result.error_message) == (
        "INVALID_TOPIC_EXCEPTION", f"Topic '{new}' collides with existing topic: {existing}")
    assert new not in cp.image().topics


def test_creating_the_same_name_again_is_topic_already_exists_not_a_collision(cp: ControlPlane) -> None:
    # Kafka's validateNewTopicNames flags the name as colliding with itself; TOPIC_ALREADY_EXISTS then replaces that.
    assert cp.create_topic("foo.bar").error == "NONE"
    again = cp.create_topic("foo.bar")
    assert (again.error, again.error_message) == ("TOPIC_ALREADY_EXISTS", "Topic 'foo.bar' already exists.")


def test_names_that_differ_otherwise_do_not_collide(cp: ControlPlane) -> None:
    for name in ("foo.bar", "foo-bar", "foobar", "foo.bar.baz", "Foo_bar"):
        assert cp.create_topic(name).error == "NONE", name


def test_a_deleted_topic_no_longer_collides(cp: ControlPlane) -> None:
    assert cp.create_topic("foo.bar").error == "NONE"
    assert cp.request(cm.DeleteTopicsRequest(("foo.bar",))).responses[0].error == "NONE"
    assert cp.create_topic("foo_bar").error == "NONE"


def test_validate_only_reports_the_collision_too(cp: ControlPlane) -> None:
    assert cp.create_topic("foo.bar").error == "NONE"
    resp = cp.request(cm.CreateTopicsRequest((cm.CreatableTopic("foo_bar", 1, 3),), validate_only=True))
    assert (resp.topics[0].error, resp.topics[0].error_message) == (
        "INVALID_TOPIC_EXCEPTION", "Topic 'foo_bar' collides with existing topic: foo.bar")


def test_colliding_names_in_one_request_are_both_created_as_in_kafka(cp: ControlPlane) -> None:
    # Kafka checks against the topics that exist (its topicsWithCollisionChars index is updated on replay), not
    # against the other topics of the same request.
    resp = cp.request(cm.CreateTopicsRequest((cm.CreatableTopic("a_b_c", 1, 3), cm.CreatableTopic("a.b.c", 1, 3))))
    assert [t.error for t in resp.topics] == ["NONE", "NONE"]
    assert {"a.b.c", "a_b_c"} <= set(cp.image().topics)
    # With two of them existing the message names the first in sorted order (Kafka names whichever its set yields).
    third = cp.create_topic("a.b_c")
    assert (third.error, third.error_message) == (
        "INVALID_TOPIC_EXCEPTION", "Topic 'a.b_c' collides with existing topic: a.b.c")


# ---- through the public API ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster() -> kl.Cluster:
    c = kl.Cluster(brokers=1, controllers=1, seed=0)
    c.create_topic("foo.bar")
    return c


def test_a_collision_reaches_the_caller_of_create_topic(cluster: kl.Cluster) -> None:
    with pytest.raises(InvalidTopicExceptionError, match="^" + re.escape(
            "INVALID_TOPIC_EXCEPTION: create topic 'foo_bar': Topic 'foo_bar' collides with existing topic: foo.bar")
            + "$") as info:
        cluster.create_topic("foo_bar")
    assert isinstance(info.value, kl.errors.KafkaError) and info.value.code == 17 and not info.value.retriable


@pytest.mark.parametrize(("name", "message"), [
    ("..", "Topic name is invalid: '..' is not allowed"),
    ("a/b", "Topic name is invalid: 'a/b' contains one or more characters other than ASCII alphanumerics, '.', '_' "
            "and '-'"),
])
def test_an_invalid_name_reaches_the_caller_of_create_topic(cluster: kl.Cluster, name: str, message: str) -> None:
    with pytest.raises(InvalidTopicExceptionError, match=f"^{re.escape(f'INVALID_TOPIC_EXCEPTION: create topic {name!r}: {message}')}$"):
        cluster.create_topic(name)


def test_the_empty_name_reaches_the_caller_of_create_topic(cluster: kl.Cluster) -> None:
    assert kl.errors.InvalidTopicError is InvalidTopicExceptionError
    with pytest.raises(kl.errors.InvalidTopicError,
                       match="^INVALID_TOPIC_EXCEPTION: create topic '': Topic name is invalid: the empty string is not allowed$"):
        cluster.create_topic("")
