"""KIP-441 warm-up replicas and probing rebalances: a new instance first warms stateful tasks up as standbys, and
takes them over at a probing rebalance once caught up, instead of restoring them while they are down."""
from __future__ import annotations

import random

import kafkalab as kl
from kafkalab.experiments.streams import word_count_topology
from kafkalab.streams.assignor import SubscriptionInfo, assign_tasks

STRINGS = {"default.key.serde": "string", "default.value.serde": "string"}


def test_a_task_stays_on_a_caught_up_instance_and_its_balanced_owner_warms_up():
    tasks = ["1_0", "1_1", "1_2", "1_3"]
    old = SubscriptionInfo("A", "A-1", tuple(tasks), (), tuple((t, 0) for t in tasks))
    new = SubscriptionInfo("B", "B-1", (), (), ())
    warmups: dict[str, list[str]] = {}
    out = assign_tasks(tasks, set(tasks), {"A": [old], "B": [new]}, 0, acceptable_lag=100, max_warmups=1,
                       warmups_out=warmups)
    # balanced, B would own 1_2 and 1_3; it has no state, so A keeps them and B warms one up (max 1)
    assert out["A-1"] == (tasks, []) and out["B-1"] == ([], ["1_2"])
    assert warmups == {"B": ["1_2"]}
    caught = SubscriptionInfo("B", "B-1", (), ("1_2",), (("1_2", 40),))   # within acceptable.recovery.lag
    old = SubscriptionInfo("A", "A-1", tuple(tasks), (), tuple((t, 0) for t in tasks))
    warmups = {}
    out = assign_tasks(tasks, set(tasks), {"A": [old], "B": [caught]}, 0, acceptable_lag=100, max_warmups=1,
                       warmups_out=warmups)
    # the caught-up warm-up takes its task over; 1_3 stays on A and gets the next warm-up
    assert out["B-1"] == (["1_2"], ["1_3"]) and out["A-1"] == (["1_0", "1_1", "1_3"], []) and warmups == {"B": ["1_3"]}


def test_scale_out_warms_up_first_then_moves_tasks_at_a_probing_rebalance():
    cluster = kl.Cluster(brokers=3, controllers=1, seed=11)
    cluster.create_topic("streams-plaintext-input", partitions=4)
    cluster.create_topic("streams-wordcount-output", partitions=4)
    app = cluster.streams(word_count_topology(), {
        **STRINGS, "application.id": "ha", "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
        "acceptable.recovery.lag": 50, "max.warmup.replicas": 2, "probing.rebalance.interval.ms": 60_000,
        "commit.interval.ms": 1000}, instances=2)
    cluster.crash(app.instances[1])                 # the second instance starts later (scale-out)
    assert cluster.run_until(lambda: app.state() == "RUNNING", 60_000)
    rng = random.Random(3)
    producer = cluster.producer({"linger.ms": 5})
    for i in range(800):
        producer.send("streams-plaintext-input", key=f"l{i}", value=" ".join(f"w{rng.randrange(3000)}" for _ in range(3)))
    producer.flush()
    cluster.run(5_000)
    cluster.restart(app.instances[1])
    assert cluster.run_until(lambda: app.state() == "RUNNING" and any(
        th.instance.instance_id == "ha-2" and (th.tasks or th.standbys) for th in app.threads()), 60_000)
    cluster.run(2_000)
    tasks = app.tasks()
    on_b = tasks[tasks.instance == "ha-2"]
    # stateless tasks moved at once; the stateful ones stayed on ha-1 while ha-2 warms two of them up
    assert sorted(on_b[on_b.kind == "active"].task) == ["0_0", "0_1", "0_2", "0_3"]
    assert sorted(on_b[on_b.kind == "standby"].task) == ["1_2", "1_3"]       # max.warmup.replicas=2
    m = cluster.metrics()
    assert m[m.metric == "streams.probing_rebalance_scheduled"].value.sum() >= 1
    cluster.run(70_000)                             # the probing rebalance
    tasks = app.tasks()
    stateful_on_b = tasks[(tasks.instance == "ha-2") & (tasks.kind == "active") & tasks.task.str.startswith("1_")]
    assert sorted(stateful_on_b.task) == ["1_2", "1_3"]
    assert tasks.groupby("instance").size().to_dict() == {"ha-1": 4, "ha-2": 4}
    r = app.restorations()
    moved = r[(r.instance == "ha-2") & r.task.isin(list(stateful_on_b.task))]
    # warm: the takeover replays at most the few records since the warm-up's last fetch
    assert (moved.records.fillna(0) <= 50).all()
