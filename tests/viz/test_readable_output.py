"""What a reader sees: describe_group, describe_transactions and check_queue(...).summary() are dicts that display
as tables in JupyterLab, and code that indexes them as dicts keeps working."""
import json
import pickle

import numpy as np
from IPython.core.formatters import DisplayFormatter

import kafkalab as kl
from kafkalab.check import History, check_queue
from kafkalab.common.display import Described, plain


def shown(obj):
    data, _ = DisplayFormatter().format(obj)
    return data


def test_a_described_dict_is_still_the_dict_it_was():
    d = Described({"state": "Stable", "members": [{"member_id": "a", "assignment": []}]}, title="group g")
    assert d == {"state": "Stable", "members": [{"member_id": "a", "assignment": []}]}
    assert d["state"] == "Stable" and dict(d) == d and isinstance(d, dict)
    assert repr(d) == repr(dict(d))                    # assertion messages and a plain prompt show the dict
    assert json.loads(json.dumps(d)) == d
    again = pickle.loads(pickle.dumps(d))
    assert again == d and again.title == "group g" and type(again) is Described


def test_scalars_are_rows_and_a_list_of_dicts_is_a_sub_table():
    d = Described({"group_id": "billing", "generation": 3, "lag": np.float64(45.8),
                   "members": [{"member_id": "m-1", "assignment": [kl.TopicPartition("orders", 0)]},
                               {"member_id": "m-2", "assignment": [kl.TopicPartition("orders", 1),
                                                                   kl.TopicPartition("orders", 2)]}]},
                  title="group billing")
    data = shown(d)
    page = data["text/html"]
    assert page.count("<table") == 2 and "<th>member_id</th>" in page and "<th>assignment</th>" in page
    assert ">orders-1, orders-2</td>" in page and ">45.8</td>" in page and "group billing" in page
    text = data["text/plain"].splitlines()
    assert text[0] == "group billing"
    assert text[1] == "group_id    billing" and text[3] == "lag         45.8"    # aligned, no np.float64(...)
    assert text[4] == "members (2):" and text[5].split() == ["member_id", "assignment"]
    assert text[7].split() == ["m-2", "orders-1,", "orders-2"]
    assert "np.float64" not in data["text/plain"] + page


def test_html_is_escaped():
    page = Described({"client_id": "<script>"})._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_plain_turns_numpy_scalars_into_python_numbers_all_the_way_down():
    value = plain({"a": [np.int64(3), (np.float64(0.5), "x")], "b": np.bool_(True)})
    assert value == {"a": [3, (0.5, "x")], "b": True}
    assert type(value["a"][0]) is int and type(value["a"][1][0]) is float and type(value["b"]) is bool


def test_describe_group_of_a_running_group_displays_its_members_as_a_table():
    cluster = kl.Cluster(brokers=3, controllers=3, seed=0)
    cluster.create_topic("orders", partitions=3, replication_factor=3)
    consumers = [cluster.consumer({"group.id": "billing", "group.protocol": "consumer"}) for _ in range(2)]
    for c in consumers:
        c.subscribe(["orders"])
    for _ in range(10):
        for c in consumers:
            c.poll(timeout_ms=500)
    described = cluster.describe_group("billing")
    assert described["state"] == "Stable" and len(described["members"]) == 2     # still a dict
    page = shown(described)["text/html"]
    assert "<th>member_id</th>" in page and page.count("orders-") == 3 * 2     # assignment and target per member
    assert all(m["member_id"] in page for m in described["members"])


def test_a_queue_check_summary_displays_as_a_table():
    h = History()
    op = h.invoke(0, "p", "send", topic="t", value="v")
    h.ok(op, 1, partition=0, offset=0)
    summary = check_queue(h).summary()
    assert summary["valid"] is True and summary["acknowledged"] == 1 and summary["unseen"] == 1
    data = shown(summary)
    assert "<th style=\"text-align:left\">lost_write</th><td style=\"text-align:left\">0</td>" in data["text/html"]
    assert data["text/plain"].splitlines()[:2] == ["queue check", "valid                 True"]


def test_describe_transactions_displays_as_a_table():
    cluster = kl.Cluster(brokers=3, controllers=3, seed=0)
    cluster.create_topic("orders", partitions=1, replication_factor=3)
    producer = cluster.producer({"transactional.id": "tx-1"})
    producer.init_transactions()
    described = cluster.describe_transactions("tx-1")
    assert described["state"] == "Empty" and described["producer_epoch"] >= 0
    data = shown(described)
    assert data["text/plain"].splitlines()[0] == "transactional id tx-1" and ">Empty</td>" in data["text/html"]
