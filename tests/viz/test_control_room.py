"""The control room driven without a browser: its set-up is actions, a click crashes a leader and the views follow,
a run replays from its actions to the same trace, and bad input is refused with a clear message."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import kafkalab as kl
from kafkalab.viz import ControlRoom, RoomModel, replay
from kafkalab.viz.room_model import Action

ROOT = Path(__file__).resolve().parents[2]


def new_cluster(seed: int = 0) -> kl.Cluster:
    return kl.Cluster(brokers=3, controllers=3, seed=seed)


@pytest.fixture
def room() -> ControlRoom:
    return ControlRoom(new_cluster(), pace=None)


def test_the_room_sets_itself_up_through_recorded_actions(room):
    actions = room.actions
    assert list(actions.columns) == ["time_ms", "action", "target", "value"]
    assert list(actions.action) == ["create_topic", "start_producer", "producer_rate", "add_consumer", "add_consumer"]
    assert actions.value[0] == {"partitions": 3, "replication_factor": 3, "config": {"min.insync.replicas": 2}}
    assert actions.value[2] == 200.0 and list(actions.target[3:]) == ["billing", "billing"]
    assert actions.time_ms.is_monotonic_increasing
    assert room.cluster.describe_topic("orders").shape[0] == 3


def test_stepping_produces_consumes_and_samples_in_virtual_time(room):
    start = room.now
    for _ in range(10):
        room.step(1000)
    assert room.now == pytest.approx(start + 10_000)
    samples = room.samples()
    steady = samples[samples.time_ms > start + 7000]      # the group has joined (initial rebalance delay: 3 s)
    assert len(samples) == pytest.approx(10_000 / room.model.sample_ms, abs=1)
    assert steady.produced_per_s.mean() == pytest.approx(200, rel=0.1)
    assert steady.consumed_per_s.mean() == pytest.approx(200, rel=0.2)
    assert (steady.e2e_p99_ms > 0).all() and (steady.under_replicated == 0).all()
    assert "svg" in room.charts.value and room.charts.value.count("class='room-chart'") == 6
    assert bytes(room.topology_image.value).startswith(b"\x89PNG")


def test_clicking_crash_on_the_leader_moves_leadership_and_the_views_follow(room):
    room.step(3000)
    leader = room.leader(0)
    table, picture, charts = room.table.value, room.topology_image.value, room.charts.value
    room.node.value = leader
    room.buttons["crash"].click()
    assert room.actions.iloc[-1][["action", "target"]].tolist() == ["crash", leader]
    assert room.buttons["crash"].disabled and not room.buttons["restart"].disabled
    assert room.topology_image.value != picture              # the crashed broker is grey at once
    for _ in range(15):
        room.step(1000)
        if room.leader(0) != leader:
            break
    assert room.leader(0) not in (None, leader)
    row = room.cluster.describe_topic("orders").iloc[0]
    assert leader not in row.isr and row.leader_epoch == 1
    assert room.table.value != table and room.charts.value != charts
    assert f"crash {leader}" in room.log_view.value
    room.buttons["restart"].click()
    assert room.actions.iloc[-1].action == "restart" and room.message.value == ""


def test_a_failed_click_is_shown_in_the_room_and_the_method_raises(room):
    room.node.value = 1
    room.buttons["resume_node"].disabled = False     # as a stale page would still allow
    room.buttons["resume_node"].click()
    assert "node 1 is not paused" in room.message.value
    assert list(room.actions.action).count("resume") == 0
    with pytest.raises(ValueError, match=r"node 1 is not paused \(paused: none\)"):
        room.resume_node(1)


def test_a_run_replays_from_its_actions_to_the_same_trace():
    room = ControlRoom(new_cluster(), pace=None)
    room.step(2000)
    room.set_producer_rate(500)
    room.pause_node(2)
    room.step(1500)
    room.resume_node(2)
    room.run_scenario("leader_failover")
    room.step(12_000)
    room.add_consumer("audit")
    room.remove_consumer("billing")
    room.step(3000)
    again = replay(new_cluster, room.actions, until_ms=room.now)
    assert again.now == room.now
    assert again.trace_digest() == room.trace_digest()
    assert again.samples().equals(room.samples())
    without_pause = room.actions[~room.actions.action.isin(["pause", "resume"])]
    assert replay(new_cluster, without_pause, until_ms=room.now).trace_digest() != room.trace_digest()


def test_slice_sizes_do_not_change_the_run():
    a, b = RoomModel(new_cluster()), RoomModel(new_cluster())
    for model in (a, b):
        model.apply("create_topic", "t", {"partitions": 2, "replication_factor": 3})
        model.apply("start_producer", "t", {"acks": "all"})
        model.apply("producer_rate", None, 300)
        model.apply("add_consumer", "g")
    for _ in range(37):
        a.advance(100)
    b.advance(3700)
    assert a.now == b.now and a.trace_digest() == b.trace_digest()


def test_the_trace_does_not_depend_on_the_hash_seed():
    script = ("import kafkalab as kl\nfrom kafkalab.viz import RoomModel\n"
              "m = RoomModel(kl.Cluster(brokers=3, controllers=3, seed=0))\n"
              "m.apply('create_topic', 't', {'partitions': 2}); m.apply('start_producer', 't', {})\n"
              "m.apply('producer_rate', None, 100); m.apply('add_consumer', 'g'); m.apply('scenario', 'scale_out')\n"
              "m.advance(5000); print(m.trace_digest())")
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_each_scenario_starts_and_leaves_notes():
    room = ControlRoom(new_cluster(), pace=None, consumers=1)
    room.step(2000)
    leader = room.leader(0)
    room.run_scenario("network_partition")
    assert room.cluster.network.cuts(), "the partition cut links"
    room.step(46_000)
    assert not room.cluster.network.cuts(), "healed after 45 s"
    room.run_scenario("scale_out")
    room.step(4000)
    assert len(room.model.groups["billing"].members) == 3
    room.run_scenario("rolling_restart")       # waits until every ISR is full again after the partition
    for _ in range(90):
        room.step(1000)
        if "rolling_restart: done" in [text for _, text in room.model.notes]:
            break
    notes = [text for _, text in room.model.notes]
    assert notes[0] == f"network_partition: [{leader}, 1000, 1001, 1002] | {[b for b in (1, 2, 3) if b != leader]}"
    assert "network_partition: healed" in notes
    assert [n for n in notes if n.startswith("rolling_restart")] == [
        "rolling_restart: restarted broker 1", "rolling_restart: restarted broker 2",
        "rolling_restart: restarted broker 3", "rolling_restart: done"]


def test_playing_runs_frames_on_the_event_loop_and_pace_sets_the_slice():
    ticks = iter(float(i) for i in range(10_000))
    room = ControlRoom(new_cluster(), pace=2.0, clock=lambda: next(ticks) * 0.001)
    start = room.now
    advanced = room.frame(0.5)                    # 0.5 wall seconds at 2x: one virtual second
    assert advanced == pytest.approx(1000.0) and room.now == pytest.approx(start + 1000.0)
    with pytest.raises(RuntimeError, match=r"play\(\) needs a running asyncio event loop"):
        room.play()

    async def play_a_little() -> None:
        room.play()
        await asyncio.sleep(0.3)
        room.pause()
        await asyncio.sleep(0)

    frames = room.frames
    asyncio.run(play_a_little())
    assert room.frames > frames and not room.playing and room.error is None


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda m: m.apply("crsh", 1), ValueError, r"unknown room action 'crsh'; actions: .*; did you mean 'crash'\?"),
    (lambda m: m.apply("crash", 7), ValueError, r"crash needs a server node id; servers: 1000, 1001, 1002, 1, 2, 3, "
                                                r"got 7"),
    (lambda m: m.apply("remove_consumer", "bill"), ValueError,
     r"remove_consumer: no group 'bill' in the room \(groups: none\)"),
    (lambda m: m.apply("scenario", "leader_fail"), ValueError,
     r"unknown scenario 'leader_fail'; scenarios: .*; did you mean 'leader_failover'\?"),
    (lambda m: m.apply("producer_rate", None, 5), ValueError, r"producer_rate needs the room's producer"),
    (lambda m: m.apply("add_consumer", "g"), ValueError, r"add_consumer needs the room's topic: apply create_topic"),
    (lambda m: m.apply("resume", 1), ValueError, r"node 1 is not paused"),
])
def test_bad_actions_are_refused_before_anything_happens(call, error, message):
    model = RoomModel(new_cluster())
    digest = model.trace_digest()
    with pytest.raises(error, match=message):
        call(model)
    assert model.log == [] and model.trace_digest() == digest


def test_bad_arguments_of_the_room_and_of_replay():
    cluster = new_cluster()
    with pytest.raises(ValueError, match=r"pace must be a number of virtual seconds per wall second > 0, or None"):
        ControlRoom(cluster, pace=0)
    with pytest.raises(ValueError, match=r"consumers must be an int >= 0, got -1"):
        ControlRoom(cluster, consumers=-1)
    cluster.create_topic("orders")
    with pytest.raises(ValueError, match=r"topic 'orders' already exists on this cluster; .* topic='orders-room'"):
        ControlRoom(cluster)
    with pytest.raises(TypeError, match=r"cluster_factory must be a callable returning a fresh Cluster"):
        replay(cluster, [])
    with pytest.raises(ValueError, match=r"actions frame lacks column\(s\) \['value'\]"):
        replay(new_cluster, pd.DataFrame({"time_ms": [], "action": [], "target": []}))
    with pytest.raises(ValueError, match=r"the first action is at 5.0 ms but the factory's cluster is already at"):
        replay(new_cluster, [Action(5.0, "heal")])
    with pytest.raises(ValueError, match=r"sample_ms must be > 0"):
        RoomModel(cluster, sample_ms=0)
    with pytest.raises(ValueError, match=r"producer rate must be a number of records per second >= 0, got -5"):
        ControlRoom(new_cluster(), consumers=0).set_producer_rate(-5)


def test_the_table_shows_the_lso_when_the_cluster_reports_it(room, monkeypatch):
    lso_header = "<th style='padding:1px 6px;white-space:nowrap'>LSO</th>"
    assert room.model.partition_table().columns[-1] == "last_stable_offset"     # describe_topic has it (KIP-98)
    assert lso_header in room.table.value
    describe = room.cluster.describe_topic
    monkeypatch.setattr(room.cluster, "describe_topic",
                        lambda name: describe(name).drop(columns="last_stable_offset"))
    room.refresh()
    assert "last_stable_offset" not in room.model.partition_table().columns
    assert list(room.model.partition_table().columns)[-4:] == ["elr", "last_known_elr", "high_watermark",
                                                               "log_end_offset"]
    assert lso_header not in room.table.value
