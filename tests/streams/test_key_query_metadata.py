"""Interactive queries: which instance hosts a key (Kafka's ``KafkaStreams.queryMetadataForKey``)."""
import pytest

import kafkalab as kl
from kafkalab import streams as ks
from tests.streams.harness import run_word_count
from tests.streams.test_app_errors import STRINGS, topology


def test_each_key_is_hosted_where_its_task_holds_it_and_standbys_are_named():
    run = run_word_count(seed=3, instances=2, standbys=1, n_lines=120)
    app = run.app
    assert run.reference
    hosts = set()
    for word in sorted(run.reference):
        md = app.query_metadata_for_key("counts", word)
        tid = f"1_{md.partition}"       # word count: sub-topology 1 counts the repartitioned words
        owners = [t for t in app.threads() if tid in t.tasks]
        assert [t.instance.instance_id for t in owners] == [md.active_host]
        assert owners[0].tasks[tid].stores["counts"].get(word) == run.reference[word]
        other = [i for i in app.instances if i != md.active_host]
        assert md.standby_hosts == tuple(other)                 # one standby, on the other instance
        for t in app.threads():
            if t.instance.instance_id != md.active_host:
                assert tid not in t.tasks
        hosts.add(md.active_host)
    assert hosts == set(app.instances)                          # the keys are spread over both instances


def test_a_crashed_instance_no_longer_hosts_its_keys():
    run = run_word_count(seed=4, instances=2, standbys=0, n_lines=60)
    app, cluster_ = run.app, run.cluster
    word = sorted(run.reference)[0]
    before = app.query_metadata_for_key("counts", word)
    cluster_.crash(before.active_host)
    after = app.query_metadata_for_key("counts", word)
    assert after.partition == before.partition
    assert after.active_host is None                 # until the rebalance moves the task (Kafka: NOT_AVAILABLE)
    cluster_.run(30_000)
    moved = app.query_metadata_for_key("counts", word)
    assert moved.active_host is not None and moved.active_host != before.active_host
    assert app.store("counts").get(word) == run.reference[word]


def test_key_query_errors():
    cluster = kl.Cluster(brokers=1, controllers=1, seed=0)
    cluster.create_topic("in", partitions=2)
    app = cluster.streams(topology(), {"application.id": "kq", **STRINGS})
    with pytest.raises(ks.UnknownStateStoreException, match="did you mean 'counts'"):
        app.query_metadata_for_key("count", "k")
    with pytest.raises(ValueError, match="key must not be None"):
        app.query_metadata_for_key("counts", None)
    app.close()
