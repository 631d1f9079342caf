"""KIP-966's eligible leader replicas, told as one story run twice with the same seed: once as a Kafka 4.0 cluster
formatted without ELR (``eligible.leader.replicas.version=0``), once with the 4.1+ default (ELR on).

Three brokers, ``orders`` with three replicas, ``min.insync.replicas=2``, an acks=all producer.

1. 50 writes are acknowledged by all three replicas.
2. One follower crashes; the controller fences it and the ISR shrinks to two, still enough for acks=all: 50 more
   writes are acknowledged by the leader and the other follower, the *survivor*.
3. The survivor is cut off from the other servers; it is fenced and the ISR shrinks to the leader alone, below min
   ISR: acks=all writes now fail and the high watermark stops at 100. The survivor holds every acknowledged record.
4. The power fails on the leader, the last ISR member, about 26 s into the run: before the OS's first 30 s writeback,
   so its page cache, with every record Kafka never fsynced, is gone.
5. The network heals, then the leader's machine and the crashed follower restart.

Without ELR the controller keeps the dead leader as the ISR's last member, so the partition is offline until it
comes back, then elects it: with its empty log. All 100 acknowledged writes are lost and the survivor truncates its
copy away. With ELR the survivor was recorded as an eligible leader replica when it left an ISR below min ISR; the
controller elects it as soon as it is unfenced, and the restarted leader (an unclean shutdown: it leaves the ELR)
follows it. Nothing acknowledged is lost.
"""
from __future__ import annotations

from typing import Any

import pytest

import kafkalab as kl


def story(elr: int, seed: int = 0) -> dict[str, Any]:
    cluster = kl.Cluster(brokers=3, seed=seed, config={"min.insync.replicas": 2,
                                                       "eligible.leader.replicas.version": elr})
    cluster.create_topic("orders", replication_factor=3)
    producer = cluster.producer({"acks": "all", "linger.ms": 0})
    leader = cluster.leader_for("orders", 0)
    survivor, crashed = [b for b in cluster.brokers if b != leader]
    seen: dict[str, Any] = {"leader": leader, "survivor": survivor, "crashed": crashed}

    def row() -> dict[str, Any]:
        return cluster.describe_topic("orders").iloc[0].to_dict()

    acked = [producer.send("orders", value=f"a{i}").result() for i in range(50)]
    cluster.crash(crashed)
    cluster.run(12_000)
    acked += [producer.send("orders", value=f"b{i}").result() for i in range(50)]
    cluster.isolate(survivor)
    cluster.run(12_000)
    seen["below_min_isr"] = row()
    cluster.crash(leader, lose_unflushed=True)
    cluster.run(12_000)
    seen["leader_lost"] = row()
    cluster.heal()
    cluster.run(5_000)
    seen["healed"] = row()
    cluster.restart(leader)
    cluster.restart(crashed)
    cluster.run(15_000)
    seen["end"] = row()
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("orders", 0)])
    values: list[bytes] = []
    for _ in range(10):
        values += [r.value for r in consumer.poll(500)]
    seen["acked_offsets"] = [m.offset for m in acked]
    seen["surviving"] = sum(1 for i, m in enumerate(acked) if i < len(values) and values[m.offset] ==
                            (f"a{i}" if i < 50 else f"b{i - 50}").encode())
    seen["log"] = len(values)
    return seen


@pytest.fixture(scope="module")
def without_elr() -> dict[str, Any]:
    return story(elr=0)


@pytest.fixture(scope="module")
def with_elr() -> dict[str, Any]:
    return story(elr=1)


def test_both_runs_start_alike(without_elr: dict[str, Any], with_elr: dict[str, Any]) -> None:
    for seen in (without_elr, with_elr):
        assert (seen["leader"], seen["survivor"], seen["crashed"]) == (3, 1, 2)
        assert seen["acked_offsets"] == list(range(100))
        below = seen["below_min_isr"]
        assert (below["leader"], below["isr"], below["high_watermark"]) == (3, [3], 100)
    assert without_elr["below_min_isr"]["elr"] == []
    assert with_elr["below_min_isr"]["elr"] == [1]      # left an ISR below min ISR with every committed record


def test_without_elr_the_dead_leader_stays_the_isr_and_comes_back_empty(without_elr: dict[str, Any]) -> None:
    lost = without_elr["leader_lost"]
    assert (lost["leader"], lost["isr"], lost["elr"], lost["last_known_elr"]) == (None, [3], [], [])
    healed = without_elr["healed"]
    assert (healed["leader"], healed["isr"]) == (None, [3])        # the survivor is not in the ISR: offline
    end = without_elr["end"]
    assert (end["leader"], end["leader_epoch"], end["high_watermark"], end["log_end_offset"]) == (3, 2, 0, 0)
    assert (without_elr["surviving"], without_elr["log"]) == (0, 0)   # all 100 acknowledged writes are lost


def test_with_elr_the_survivor_leads_and_every_acknowledged_write_survives(with_elr: dict[str, Any]) -> None:
    lost = with_elr["leader_lost"]
    assert (lost["leader"], lost["isr"], lost["elr"], lost["last_known_elr"]) == (None, [], [1, 3], [3])
    healed = with_elr["healed"]
    # The unfenced ELR member leads with itself as the ISR; below min ISR its HW waits one record short.
    assert (healed["leader"], healed["leader_epoch"], healed["isr"], healed["elr"], healed["last_known_elr"]) == \
        (1, 2, [1], [3], [])
    assert (healed["high_watermark"], healed["log_end_offset"]) == (99, 100)
    end = with_elr["end"]
    # The restarted leader could not prove a clean shutdown: it left the ELR, caught up and rejoined the ISR.
    assert (end["leader"], end["isr"], end["elr"], end["high_watermark"], end["log_end_offset"]) == \
        (1, [1, 2, 3], [], 100, 100)
    assert (with_elr["surviving"], with_elr["log"]) == (100, 100)


def test_features_describe_the_format_choice() -> None:
    cluster = kl.Cluster(brokers=1, controllers=1, seed=1, config={"metadata.version": "4.0"})
    frame = cluster.features()
    assert list(frame.columns) == ["feature", "supported_min", "supported_max", "finalized_level", "version"]
    rows = {r["feature"]: (r["supported_min"], r["supported_max"], r["finalized_level"])
            for r in frame.to_dict("records")}
    assert rows == {"eligible.leader.replicas.version": (0, 1, 0), "group.version": (0, 1, 1),
                    "kraft.version": (0, 1, 0), "metadata.version": (7, 30, 25), "share.version": (0, 1, 0),
                    "streams.version": (0, 1, 0), "transaction.version": (0, 2, 2)}
    assert frame.set_index("feature").loc["metadata.version", "version"] == "4.0-IV3"


def test_a_min_insync_replicas_change_clears_the_elr() -> None:
    cluster = kl.Cluster(brokers=3, seed=2, config={"min.insync.replicas": 3})
    cluster.create_topic("t", replication_factor=3)
    follower = next(b for b in cluster.brokers if b != cluster.leader_for("t", 0))
    cluster.isolate(follower)
    cluster.run(12_000)
    assert cluster.describe_topic("t").iloc[0]["elr"] == [follower]
    cluster.alter_topic_config("t", {"min.insync.replicas": 2})
    cluster.run(1_000)
    row = cluster.describe_topic("t").iloc[0]
    assert (row["elr"], row["last_known_elr"], len(row["isr"])) == ([], [], 2)
