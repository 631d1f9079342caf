"""Every error path of starting and querying an app: the type and the words."""
import pytest

import kafkalab as kl
from kafkalab import streams as ks
from kafkalab.errors import ConfigError
from kafkalab.streams.assignor import SubscriptionInfo, assign_tasks


@pytest.fixture(scope="module")
def cluster():
    c = kl.Cluster(brokers=1, controllers=1, seed=0)
    c.create_topic("in", partitions=2)
    c.create_topic("other", partitions=3)
    return c


def topology():
    b = ks.StreamsBuilder()
    b.stream("in").group_by_key().count(materialized="counts")
    return b.build()


STRINGS = {"default.key.serde": "string", "default.value.serde": "string"}


def test_bad_config_key_names_the_closest(cluster):
    with pytest.raises(ConfigError, match=r"unknown streams config 'num.standby.replica'.*did you mean "
                                          r"'num.standby.replicas'\?"):
        cluster.streams(topology(), {"application.id": "a", "num.standby.replica": 1})


def test_application_id_is_required_and_group_id_is_streams_own(cluster):
    with pytest.raises(ConfigError, match='Missing required configuration "application.id"'):
        cluster.streams(topology(), {})
    with pytest.raises(ConfigError, match="Kafka Streams sets it itself"):
        cluster.streams(topology(), {"application.id": "a", "group.id": "g"})


def test_missing_serdes_and_missing_topics(cluster):
    with pytest.raises(ks.StreamsException, match="source KSTREAM-SOURCE-0000000000: no key serde given"):
        cluster.streams(topology(), {"application.id": "a"})
    b = ks.StreamsBuilder()
    b.stream("nope").to("out")
    with pytest.raises(ks.TopologyException, match="source topic 'nope' does not exist"):
        cluster.streams(b.build(), {"application.id": "a", **STRINGS})


def test_join_of_differently_partitioned_topics_fails_at_start(cluster):
    b = ks.StreamsBuilder()
    b.stream("in").join(b.table("other"), lambda a, c: a).to("out")
    with pytest.raises(ks.TopologyException, match=r"Topics not co-partitioned: \[in,other\]"):
        cluster.streams(b.build(), {"application.id": "a", **STRINGS})


def test_unknown_store_and_a_closed_app(cluster):
    app = cluster.streams(topology(), {"application.id": "q", **STRINGS})
    with pytest.raises(ks.UnknownStateStoreException, match="did you mean 'counts'"):
        app.store("count")
    app.close()
    with pytest.raises(ks.InvalidStateStoreException, match="NOT_RUNNING"):
        app.store("counts")


def test_assignor_is_sticky_balanced_and_places_standbys_elsewhere():
    tasks = ["0_0", "0_1", "0_2", "0_3"]
    clients = {"a": [SubscriptionInfo("a", "a1", ("0_0", "0_1"), (), (("0_0", 0), ("0_1", 0)))],
               "b": [SubscriptionInfo("b", "b1", (), (), (("0_2", 5),))]}
    out = assign_tasks(tasks, set(tasks), clients, standbys=1)
    assert out["a1"][0] == ["0_0", "0_1"] and out["b1"][0] == ["0_2", "0_3"]
    assert out["a1"][1] == ["0_2", "0_3"] and out["b1"][1] == ["0_0", "0_1"]
