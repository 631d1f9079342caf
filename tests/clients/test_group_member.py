"""The group members (classic and KIP-848) against the fake coordinator: joins, rebalances, offsets, leaving."""
import pytest

from kafkalab.clients.consumer import KafkaConsumer
from kafkalab.clients.consumer_member import new_member_id
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.errors import CommitFailedError, RebalanceInProgressError
from kafkalab.protocol import group as gm
from kafkalab.protocol.consumer_group import ConsumerGroupHeartbeatRequest
from tests.clients.fake_coordinator import GroupFakeCluster

TPS = [TopicPartition("t", p) for p in range(4)]


def setup(partitions=4, records=3, **cluster_args):
    cluster = GroupFakeCluster(3, **cluster_args)
    cluster.create_topic("t", partitions)
    for p in range(partitions):
        if records:
            cluster.append_records(TopicPartition("t", p), [f"p{p}-{i}".encode() for i in range(records)])
    return cluster


def consumer(cluster, n=1, **config):
    cfg = {"group.id": "g", "auto.offset.reset": "earliest", **config}
    return KafkaConsumer(cfg, world=cluster.world, bootstrap=cluster.broker_ids, history=cluster.history,
                         node_id=f"consumer-{n}")


class Recorder:
    """Callbacks that log (time, consumer, kind, partitions)."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.events = []

    def subscribe(self, c, topics=("t",)):
        c.subscribe(list(topics), on_assign=self._cb("assign"), on_revoke=self._cb("revoke"),
                    on_lost=self._cb("lost"))

    def _cb(self, kind):
        def callback(c, partitions):
            self.events.append((self.cluster.now, c.node_id, kind, partitions))
        return callback

    def of(self, node, kind):
        return [e for e in self.events if e[1] == node and e[2] == kind]


def poll_all(consumers, rounds=10, timeout_ms=300):
    got = {c.node_id: [] for c in consumers}
    for _ in range(rounds):
        for c in consumers:
            got[c.node_id] += c.poll(timeout_ms)
    return got


def member_requests(cluster, cls, member_id):
    return [(t, m) for t, _, m in cluster.requests if isinstance(m, cls) and m.member_id == member_id]


# -- classic ---------------------------------------------------------------------------------------------------------
def test_a_single_member_joins_gets_every_partition_and_reads_from_earliest():
    cluster = setup()
    c = consumer(cluster)
    rec = Recorder(cluster)
    rec.subscribe(c)
    got = poll_all([c], rounds=3)["consumer-1"]
    assert sorted((r.partition, r.offset) for r in got) == [(p, o) for p in range(4) for o in range(3)]
    assert c.assignment() == set(TPS)
    assert [e[2:] for e in rec.events] == [("assign", TPS)]
    assert c.group.state == "stable" and c.group.generation == 1
    rebalances = [op for op in cluster.history.ops if op.f == "rebalance" and op.type == "ok"]
    assert dict(rebalances[0].offsets) == {("t", p): -1 for p in range(4)}


def test_member_id_required_is_retried_with_the_given_id():
    cluster = setup()
    c = consumer(cluster)
    c.subscribe(["t"])
    poll_all([c], rounds=2)
    joins = cluster.of_type(gm.JoinGroupRequest)
    assert [j.member_id for j in joins[:2]] == ["", "member-1"]
    assert c.group.member_id == "member-1"


def test_eager_members_revoke_everything_before_they_send_join_group():
    cluster = setup()
    c1, c2 = consumer(cluster, 1), consumer(cluster, 2)
    rec = Recorder(cluster)
    rec.subscribe(c1)
    poll_all([c1], rounds=2)
    rec.subscribe(c2)
    poll_all([c1, c2], rounds=15)
    assert c1.group.rebalance_protocol == "eager"      # Kafka 4's default range,cooperative-sticky
    member = c1.group.member_id
    revoke_time = rec.of("consumer-1", "revoke")[0][0]
    joins = member_requests(cluster, gm.JoinGroupRequest, member)
    assert len(joins) == 2
    assert joins[0][0] < revoke_time <= joins[1][0]       # the rejoin leaves after on_revoke ran
    assert rec.of("consumer-1", "revoke")[0][3] == TPS    # everything, not only what moves
    assert c1.assignment() | c2.assignment() == set(TPS)
    assert not c1.assignment() & c2.assignment()
    assert sorted(map(len, (c1.assignment(), c2.assignment()))) == [2, 2]


def test_cooperative_members_hand_over_in_two_rebalances_and_keep_the_rest():
    cluster = setup()
    cfg = {"partition.assignment.strategy": "cooperative-sticky"}
    c1, c2 = consumer(cluster, 1, **cfg), consumer(cluster, 2, **cfg)
    rec = Recorder(cluster)
    rec.subscribe(c1)
    poll_all([c1], rounds=2)
    assert c1.group.rebalance_protocol == "cooperative"
    rec.subscribe(c2)
    owners_seen = []
    for _ in range(25):
        for c in (c1, c2):
            c.poll(200)
            owners_seen.append(c1.assignment() & c2.assignment())
    assert all(not both for both in owners_seen)          # never two owners at once
    revoked = rec.of("consumer-1", "revoke")
    assert len(revoked) == 1 and len(revoked[0][3]) == 2  # only what moves
    assigned_2 = [e for e in rec.of("consumer-2", "assign") if e[3]]
    assert assigned_2 and assigned_2[0][0] > revoked[0][0]
    assert sorted(map(len, (c1.assignment(), c2.assignment()))) == [2, 2]
    assert c2.group.generation == 3      # join of c2, then the follow-up rebalance
    assert c1.group.generation == 3


def test_not_coordinator_on_heartbeat_finds_the_coordinator_again():
    cluster = setup()
    c = consumer(cluster, **{"heartbeat.interval.ms": 500})
    c.subscribe(["t"])
    poll_all([c], rounds=2)
    finds = len(cluster.of_type(gm.FindCoordinatorRequest))
    cluster.errors["HeartbeatRequest"] += ["NOT_COORDINATOR"]
    cluster.world.run(2000)
    assert len(cluster.of_type(gm.FindCoordinatorRequest)) == finds + 1
    assert c.group.state == "stable" and c.group.coordinator == 1
    heartbeats_after = [t for t, _, m in cluster.requests if isinstance(m, gm.HeartbeatRequest)]
    assert len(heartbeats_after) >= 3


def test_not_coordinator_on_join_and_sync_is_retried_after_rediscovery():
    cluster = setup()
    cluster.errors["JoinGroupRequest"] += ["NOT_COORDINATOR"]
    cluster.errors["SyncGroupRequest"] += ["COORDINATOR_NOT_AVAILABLE"]
    c = consumer(cluster)
    c.subscribe(["t"])
    poll_all([c], rounds=3)
    assert c.assignment() == set(TPS)
    assert len(cluster.of_type(gm.FindCoordinatorRequest)) == 3


def test_rebalance_in_progress_on_heartbeat_rejoins_on_the_next_poll():
    cluster = setup()
    c = consumer(cluster, **{"heartbeat.interval.ms": 500})
    rec = Recorder(cluster)
    rec.subscribe(c)
    poll_all([c], rounds=2)
    cluster.errors["HeartbeatRequest"] += ["REBALANCE_IN_PROGRESS"]
    cluster.world.run(1000)
    assert c.group.rejoin_needed
    assert len(cluster.of_type(gm.JoinGroupRequest)) == 2     # no join before the application polls
    poll_all([c], rounds=2)
    assert len(cluster.of_type(gm.JoinGroupRequest)) == 3
    assert [e[2] for e in rec.events] == ["assign", "revoke", "assign"]


def test_unknown_member_on_heartbeat_reports_partitions_lost_then_rejoins_as_new_member():
    cluster = setup()
    c = consumer(cluster, **{"heartbeat.interval.ms": 500, "session.timeout.ms": 6000})
    rec = Recorder(cluster)
    rec.subscribe(c)
    poll_all([c], rounds=2)
    cluster.errors["HeartbeatRequest"] += ["UNKNOWN_MEMBER_ID"]
    cluster.world.run(1000)
    assert c.group.member_id == "" and c.group.generation == -1
    poll_all([c], rounds=30)       # the coordinator still waits for the old member until its session expires
    assert [e[2] for e in rec.events] == ["assign", "lost", "assign"]
    assert c.group.member_id == "member-2"


def test_a_member_that_stops_polling_leaves_after_max_poll_interval_and_reports_lost_on_return():
    cluster = setup()
    c1 = consumer(cluster, 1, **{"max.poll.interval.ms": 5000, "heartbeat.interval.ms": 500})
    c2 = consumer(cluster, 2, **{"max.poll.interval.ms": 60000, "heartbeat.interval.ms": 500})
    rec = Recorder(cluster)
    rec.subscribe(c1)
    rec.subscribe(c2)
    poll_all([c1, c2], rounds=10)
    member = c1.group.member_id
    leave_before = len(cluster.of_type(gm.LeaveGroupRequest))
    for _ in range(40):          # c1 stalls for 8 s; c2 keeps polling and takes over
        c2.poll(200)
    leaves = cluster.of_type(gm.LeaveGroupRequest)
    assert len(leaves) == leave_before + 1
    assert leaves[-1].members[0].member_id == member
    assert leaves[-1].members[0].reason == "consumer poll timeout has expired."
    assert c2.assignment() == set(TPS)
    poll_all([c1, c2], rounds=10)
    assert rec.of("consumer-1", "lost")
    assert len(c1.assignment()) == 2


def test_close_of_a_dynamic_member_leaves_a_static_member_does_not():
    cluster = setup()
    dynamic = consumer(cluster, 1)
    static = consumer(cluster, 2, **{"group.instance.id": "s1"})
    dynamic.subscribe(["t"])
    static.subscribe(["t"])
    poll_all([dynamic, static], rounds=10)
    dynamic.close()
    assert [m.members[0].member_id for m in cluster.of_type(gm.LeaveGroupRequest)] == ["member-1"]
    static.close()
    assert len(cluster.of_type(gm.LeaveGroupRequest)) == 1


def test_a_static_member_restarted_within_the_session_timeout_causes_no_rebalance():
    cluster = setup()
    other = consumer(cluster, 1)
    static = consumer(cluster, 2, **{"group.instance.id": "s1"})
    rec = Recorder(cluster)
    rec.subscribe(other)
    rec.subscribe(static)
    poll_all([other, static], rounds=10)
    generation = cluster.group("g").generation
    before = static.assignment()
    revokes = len(rec.of("consumer-1", "revoke"))
    cluster.world.crash("consumer-2")
    cluster.world.run(2000)
    cluster.world.restart("consumer-2")
    poll_all([other, static], rounds=10)
    assert cluster.group("g").generation == generation
    assert static.assignment() == before
    assert len(rec.of("consumer-1", "revoke")) == revokes


def test_a_dynamic_member_restarted_rejoins_as_a_new_member():
    cluster = setup()
    c = consumer(cluster, 1, **{"session.timeout.ms": 6000})
    c.subscribe(["t"])
    poll_all([c], rounds=3)
    cluster.world.crash("consumer-1")
    cluster.world.restart("consumer-1")
    poll_all([c], rounds=30)        # the old member's session expires first
    assert c.group.member_id == "member-2" and c.assignment() == set(TPS)


# -- offsets ---------------------------------------------------------------------------------------------------------
def test_offsets_survive_a_member_change():
    cluster = setup()
    c1 = consumer(cluster, 1, **{"enable.auto.commit": False})
    c1.subscribe(["t"])
    got = poll_all([c1], rounds=3)["consumer-1"]
    assert len(got) == 12
    c1.commit({TopicPartition("t", 0): 2, TopicPartition("t", 1): 3})
    c1.close()
    c2 = consumer(cluster, 2, **{"enable.auto.commit": False})
    c2.subscribe(["t"])
    got = poll_all([c2], rounds=3)["consumer-2"]
    assert sorted((r.partition, r.offset) for r in got) == [(0, 2)] + [(p, o) for p in (2, 3) for o in range(3)]
    assert c2.committed(TPS) == {TPS[0]: OffsetAndMetadata(2), TPS[1]: OffsetAndMetadata(3), TPS[2]: None,
                                 TPS[3]: None}


def test_auto_commit_commits_positions_on_the_interval_and_before_an_eager_rejoin():
    cluster = setup()
    c1 = consumer(cluster, 1, **{"auto.commit.interval.ms": 1000})
    c1.subscribe(["t"])
    poll_all([c1], rounds=3)
    c1.poll(1500)
    commits = [op for op in cluster.history.ops if op.f == "commit" and op.type == "ok"]
    assert commits and dict(commits[-1].offsets) == {("t", p): 3 for p in range(4)}
    n = len(commits)
    c2 = consumer(cluster, 2)
    c2.subscribe(["t"])
    poll_all([c1, c2], rounds=10)
    commits = [op for op in cluster.history.ops if op.f == "commit" and op.type == "ok"]
    assert len(commits) > n          # the join prepare committed before the revocation


def test_commit_errors_commit_failed_rebalance_in_progress_and_retry_of_not_coordinator():
    cluster = setup()
    c = consumer(cluster, **{"enable.auto.commit": False})
    c.subscribe(["t"])
    poll_all([c], rounds=3)
    cluster.errors["OffsetCommitRequest"] += ["NOT_COORDINATOR"]
    c.commit()
    assert cluster.offsets["g"][TPS[0]].offset == 3
    cluster.errors["OffsetCommitRequest"] += ["REBALANCE_IN_PROGRESS"]
    with pytest.raises(RebalanceInProgressError, match="undergoing a rebalance"):
        c.commit()
    cluster.errors["OffsetCommitRequest"] += ["ILLEGAL_GENERATION"]
    with pytest.raises(CommitFailedError, match="max.poll.interval.ms"):
        c.commit()
    assert c.group.generation == -1
    fails = [op.error for op in cluster.history.ops if op.f == "commit" and op.type == "fail"]
    assert fails == ["REBALANCE_IN_PROGRESS", "CommitFailedException"]


def test_async_commit_calls_back_in_a_later_poll():
    cluster = setup()
    c = consumer(cluster, **{"enable.auto.commit": False})
    c.subscribe(["t"])
    poll_all([c], rounds=3)
    results = []
    c.commit(asynchronous=True, callback=lambda offsets, error: results.append((sorted(offsets.items()), error)))
    assert results == []
    c.poll(100)
    assert results == [([(tp, OffsetAndMetadata(3)) for tp in TPS], None)]


def test_assign_with_a_group_id_commits_without_a_generation():
    cluster = setup()
    c = consumer(cluster, **{"enable.auto.commit": False})
    c.assign([TPS[0]])
    c.poll(500)
    c.commit()
    request = cluster.of_type(gm.OffsetCommitRequest)[-1]
    assert (request.generation_id_or_member_epoch, request.member_id) == (-1, "")
    assert c.committed([TPS[0]]) == {TPS[0]: OffsetAndMetadata(3)}


# -- KIP-848 ---------------------------------------------------------------------------------------------------------
def kip848(cluster, n, **config):
    return consumer(cluster, n, **{"group.protocol": "consumer", **config})


def test_kip848_member_joins_with_epoch_zero_and_its_own_member_id():
    cluster = setup()
    c = kip848(cluster, 1)
    rec = Recorder(cluster)
    rec.subscribe(c)
    poll_all([c], rounds=3)
    first = cluster.of_type(ConsumerGroupHeartbeatRequest)[0]
    assert first.member_epoch == 0 and first.member_id == c.group.member_id and len(first.member_id) == 22
    assert first.subscribed_topic_names == ("t",) and first.rebalance_timeout_ms == 300000
    assert c.assignment() == set(TPS) and c.group.member_epoch == 1
    assert [e[2:] for e in rec.events] == [("assign", TPS)]


def test_kip848_reconciliation_revokes_then_acknowledges_before_the_new_owner_is_assigned():
    cluster = setup()
    c1, c2 = kip848(cluster, 1), kip848(cluster, 2)
    rec = Recorder(cluster)
    rec.subscribe(c1)
    poll_all([c1], rounds=3)
    rec.subscribe(c2)
    for _ in range(30):
        for c in (c1, c2):
            c.poll(200)
            assert not c1.assignment() & c2.assignment()
    revoke = rec.of("consumer-1", "revoke")[0]
    moved = set(revoke[3])
    ack = next(t for t, m in member_requests(cluster, ConsumerGroupHeartbeatRequest, c1.group.member_id)
               if t >= revoke[0] and m.topic_partitions is not None and not moved & set(m.topic_partitions))
    assign = next(e for e in rec.of("consumer-2", "assign") if set(e[3]) & moved)
    assert revoke[0] <= ack < assign[0]
    assert c1.assignment() | c2.assignment() == set(TPS)
    assert sorted(map(len, (c1.assignment(), c2.assignment()))) == [2, 2]


def test_kip848_fenced_member_reports_lost_and_rejoins_with_epoch_zero_and_the_same_id():
    cluster = setup()
    c = kip848(cluster, 1)
    rec = Recorder(cluster)
    rec.subscribe(c)
    poll_all([c], rounds=3)
    member = c.group.member_id
    cluster.errors["ConsumerGroupHeartbeatRequest"] += ["FENCED_MEMBER_EPOCH"]
    cluster.world.run(1500)
    poll_all([c], rounds=3)
    assert [e[2] for e in rec.events] == ["assign", "lost", "assign"]
    epochs = [m.member_epoch for _, m in member_requests(cluster, ConsumerGroupHeartbeatRequest, member)]
    assert epochs.count(0) == 2 and c.group.member_id == member


def test_kip848_close_leaves_with_minus_one_static_with_minus_two():
    cluster = setup()
    dynamic = kip848(cluster, 1)
    static = kip848(cluster, 2, **{"group.instance.id": "s1"})
    dynamic.subscribe(["t"])
    static.subscribe(["t"])
    poll_all([dynamic, static], rounds=10)
    dynamic.close()
    static.close()
    leaves = [(m.member_id, m.member_epoch) for m in cluster.of_type(ConsumerGroupHeartbeatRequest)
              if m.member_epoch < 0]
    assert leaves == [(dynamic.group.member_id, -1), (static.group.member_id, -2)]


@pytest.mark.parametrize(("instance_id", "epoch"), [(None, -1), ("s1", -2)])
def test_kip848_poll_timeout_leaves_then_reports_lost_and_rejoins_on_the_next_poll(instance_id, epoch):
    cluster = setup()
    c = kip848(cluster, 1, **{"group.instance.id": instance_id, "max.poll.interval.ms": 3000})
    rec = Recorder(cluster)
    rec.subscribe(c)
    poll_all([c], rounds=3)
    cluster.world.run(6000)
    leaves = [m.member_epoch for m in cluster.of_type(ConsumerGroupHeartbeatRequest) if m.member_epoch < 0]
    assert leaves == [epoch]
    assert c.group.state == "stale" and c.assignment() == set(TPS)     # released in the next poll
    poll_all([c], rounds=3)
    assert [e[2] for e in rec.events] == ["assign", "lost", "assign"]


def test_kip848_server_assignor_is_sent_on_the_full_heartbeat_only():
    cluster = setup()
    c = kip848(cluster, 1, **{"group.remote.assignor": "range"})
    c.subscribe(["t"])
    poll_all([c], rounds=3)
    cluster.world.run(3000)
    sent = [m.server_assignor for m in cluster.of_type(ConsumerGroupHeartbeatRequest)]
    assert sent[0] == "range" and set(sent[1:]) == {None}


def test_member_ids_are_deterministic_uuids():
    import random
    a, b = new_member_id(random.Random(1)), new_member_id(random.Random(1))
    assert a == b and len(a) == 22 and "=" not in a


# -- more classic behaviour ------------------------------------------------------------------------------------------
def test_on_revoke_may_commit_the_positions_it_is_about_to_lose():
    cluster = setup()
    c1 = consumer(cluster, 1, **{"enable.auto.commit": False})
    committed_in_callback = []

    def on_revoke(c, partitions):
        c.commit()
        committed_in_callback.append(sorted(partitions))
    c1.subscribe(["t"], on_revoke=on_revoke)
    poll_all([c1], rounds=3)
    c2 = consumer(cluster, 2, **{"enable.auto.commit": False})
    c2.subscribe(["t"])
    got2 = poll_all([c1, c2], rounds=15)["consumer-2"]
    assert committed_in_callback == [TPS]
    assert {tp: o.offset for tp, o in cluster.offsets["g"].items()} == {tp: 3 for tp in TPS}
    assert got2 == []          # c2 starts from the commits: nothing is read twice


def test_the_leader_rejoins_when_a_subscribed_topic_grows():
    cluster = setup()
    c = consumer(cluster, **{"metadata.max.age.ms": 1000})
    rec = Recorder(cluster)
    rec.subscribe(c)
    poll_all([c], rounds=3)
    cluster.topics["t"] = 6
    for p in (4, 5):
        from kafkalab.log.partition_log import PartitionLog
        tp = TopicPartition("t", p)
        cluster.logs[tp] = PartitionLog(name=str(tp))
        cluster.leaders[tp] = 1
        cluster.epochs[tp] = 0
    poll_all([c], rounds=10)
    assert c.assignment() == {TopicPartition("t", p) for p in range(6)}
    assert c.group.generation == 2


def test_unsubscribe_revokes_and_leaves_and_a_new_subscribe_joins_again():
    cluster = setup()
    c = consumer(cluster)
    rec = Recorder(cluster)
    rec.subscribe(c)
    poll_all([c], rounds=3)
    c.unsubscribe()
    cluster.world.run(100)
    assert c.assignment() == set() and c.group.member_id == ""
    assert [e[2] for e in rec.events] == ["assign", "revoke"]
    assert len(cluster.of_type(gm.LeaveGroupRequest)) == 1
    with pytest.raises(RuntimeError, match="not subscribed to any topics or assigned any partitions"):
        c.poll(0)
    rec.subscribe(c)
    poll_all([c], rounds=3)
    assert c.assignment() == set(TPS)


def test_a_membership_driven_inside_the_simulation_without_the_facade():
    from kafkalab.clients.consumer import new_membership
    from kafkalab.clients.fetcher import ConsumerCore
    from kafkalab.config import resolve
    cluster = setup()
    config = resolve("consumer", {"group.id": "g", "auto.offset.reset": "earliest"})
    seen, calls = [], []

    class Listener:
        def on_partitions_assigned(self, tps):
            calls.append(("assigned", tps))

        def on_partitions_revoked(self, tps):
            calls.append(("revoked", tps))

        def on_partitions_lost(self, tps):
            calls.append(("lost", tps))

    def start(ctx):
        core = ConsumerCore(ctx, config, bootstrap=cluster.broker_ids, drive=cluster.world.run_until, history=None)
        membership = new_membership(core)
        membership.subscribe(["t"], Listener())

        def tick():
            seen.extend(core.collect(100))
            membership.on_app_poll(ctx.now)
            ctx.set_timer(50, tick)
        ctx.set_timer(0, tick)
        return core
    cluster.world.add_node("app-1", start, server=False)
    cluster.world.run(3000)
    assert calls == [("assigned", TPS)]
    assert len(seen) == 12


def test_one_long_poll_does_not_count_as_a_stalled_application():
    cluster = setup(records=0)
    c = consumer(cluster, **{"max.poll.interval.ms": 2000, "heartbeat.interval.ms": 500})
    c.subscribe(["t"])
    poll_all([c], rounds=3)
    assert c.poll(10000) == []
    assert cluster.of_type(gm.LeaveGroupRequest) == [] and c.group.state == "stable"


def test_partitions_pending_revocation_hand_out_nothing_while_the_pre_rebalance_commit_is_in_flight():
    cluster = setup()
    c = consumer(cluster, 1, **{"auto.commit.interval.ms": 100000})
    c.subscribe(["t"])
    first = poll_all([c], rounds=3)["consumer-1"]
    for tp in TPS:
        cluster.append_records(tp, [b"late"])
    cluster.world.run(50)                       # the new records are fetched and buffered
    assert c.core.has_records()
    c.group.rejoin_needed = True                # as after a REBALANCE_IN_PROGRESS heartbeat
    c.group.on_app_poll(cluster.now)            # join prepare: marks everything pending, commits the positions
    assert c.group._prepare_commit_in_flight
    assert c.core.collect(100) == [] and not c.core.has_records()
    rest = poll_all([c], rounds=5)["consumer-1"]
    assert {tp: o.offset for tp, o in cluster.offsets["g"].items()} == {tp: 3 for tp in TPS}
    assert sorted((r.partition, r.offset) for r in first + rest) == [(p, o) for p in range(4) for o in range(4)]


def test_a_join_retried_after_backoff_is_sent_once_even_if_the_application_polls_meanwhile():
    cluster = setup()
    cluster.errors["JoinGroupRequest"] += ["COORDINATOR_LOAD_IN_PROGRESS"]
    c = consumer(cluster, **{"retry.backoff.ms": 1000})
    c.subscribe(["t"])
    for _ in range(40):
        c.poll(50)
    joins = cluster.of_type(gm.JoinGroupRequest)
    assert [j.member_id for j in joins] == ["", "", "member-1"]
    assert c.assignment() == set(TPS)


def test_kip848_a_rejoin_while_a_heartbeat_is_in_flight_still_sends_the_join():
    cluster = setup()
    c = kip848(cluster, 1)
    rec = Recorder(cluster)
    rec.subscribe(c)
    poll_all([c], rounds=3)
    group = c.group
    cluster.world.run_until(lambda: group._hb_in_flight, 5000)
    group.on_commit_fenced("FENCED_MEMBER_EPOCH")     # as if a commit had learnt it first
    poll_all([c], rounds=5)
    assert [e[2] for e in rec.events] == ["assign", "lost", "assign"]
    assert group.state == "stable" and group.member_epoch > 0
