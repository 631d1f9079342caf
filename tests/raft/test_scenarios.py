"""Scenario tests: short stories about a simulated KRaft quorum (in the spirit of Kafka's RaftEventSimulationTest).

Every scenario runs with the invariant checker on, so each one also checks single leader per epoch, monotonic epochs
and high watermarks, majority at the high watermark, consistent committed data and snapshot at log start after every
event.
"""
import pytest

import kafkalab as kl
from kafkalab.raft import RaftCluster
from kafkalab.sim import LinkSpec


def elect(rc, timeout_ms=30_000):
    """Run until a leader exists and is still leader 300 ms later (proposals to a leader that is about to be
    replaced may be lost, as in Raft)."""
    deadline = rc.now + timeout_ms
    while rc.run_until(lambda: rc.leader() is not None, max(0.0, deadline - rc.now)):
        leader = rc.leader()
        rc.run(300)
        if rc.leader() == leader:
            return leader
    raise AssertionError(f"no stable leader within {timeout_ms} ms:\n{rc.describe()}")


def commit_all(rc, values, timeout_ms=30_000, nodes=None):
    """Propose values and wait until every live node (or every one of ``nodes``) applied them."""
    offsets = rc.propose_many(values)
    assert offsets is not None
    alive = nodes if nodes is not None else [n for n in rc.nodes if rc.world.is_alive(n)]
    assert rc.run_until(lambda: all(rc.high_watermark(n) > offsets[-1] for n in alive), timeout_ms), rc.describe()
    return offsets


def test_kl_raft_is_the_public_entry_point():
    assert kl.raft.RaftCluster is RaftCluster


def test_initial_election_gives_one_leader_and_all_others_follow():
    rc = RaftCluster(voters=5, seed=1)
    leader = elect(rc, 5_000)
    rc.run(100)
    roles = {n: rc.role(n) for n in rc.nodes}
    assert roles[leader] == "leader"
    assert sorted(r for n, r in roles.items() if n != leader) == ["follower"] * 4
    assert len({rc.epoch(n) for n in rc.nodes}) == 1
    # the LeaderChange control record commits first and is not a value
    assert rc.high_watermark(leader) == 1 and rc.committed(leader) == []


def test_re_election_after_the_leader_crashes_keeps_committed_values():
    rc = RaftCluster(voters=5, seed=2)
    old = elect(rc)
    commit_all(rc, [b"a", b"b"])
    epoch = rc.epoch(old)
    rc.crash(old)
    assert rc.leader() is None or rc.leader() == old or True
    assert rc.run_until(lambda: rc.leader() not in (None, old), 10_000)
    new = rc.leader()
    assert rc.epoch(new) > epoch
    commit_all(rc, [b"c"])
    assert rc.committed(new) == [b"a", b"b", b"c"]
    rc.restart(old)
    assert rc.run_until(lambda: rc.committed(old) == [b"a", b"b", b"c"], 5_000)
    assert rc.role(old) == "follower"


def test_no_leader_and_no_commit_without_a_quorum():
    rc = RaftCluster(voters=5, seed=3)
    leader = elect(rc)
    commit_all(rc, [b"before"])
    followers = [n for n in rc.nodes if n != leader]
    for n in followers[:3]:
        rc.crash(n)
    offset = rc.propose(b"stranded")
    assert offset is not None                                   # the leader does not know yet
    rc.run(10_000)
    assert rc.leader() is None                                   # check quorum made it resign
    assert all(b"stranded" not in rc.committed(n) for n in rc.nodes)
    assert rc.propose(b"nobody") is None
    for n in followers[:3]:
        rc.restart(n)
    leader = elect(rc)
    commit_all(rc, [b"after"])
    values = rc.committed(leader)
    assert values[0] == b"before" and values[-1] == b"after" and b"nobody" not in values


def test_many_proposals_are_committed_in_order_everywhere():
    rc = RaftCluster(voters=3, seed=4)
    elect(rc)
    expected = []
    for i in range(50):
        batch = [f"{i}-{j}".encode() for j in range(20)]
        expected += batch
        assert rc.propose_many(batch) is not None
        rc.run(7)
    assert rc.run_until(lambda: all(rc.committed(n) == expected for n in rc.nodes), 10_000)
    offsets = rc.propose_many([b"x", b"y"])
    assert offsets == [offsets[0], offsets[0] + 1]


def test_a_partitioned_minority_leader_loses_its_uncommitted_entries():
    rc = RaftCluster(voters=5, seed=5)
    old = elect(rc)
    commit_all(rc, [b"committed"])
    buddy = next(n for n in rc.nodes if n != old)
    majority = [n for n in rc.nodes if n not in (old, buddy)]
    rc.partition([old, buddy], majority)
    rc.node(old).propose([b"doomed-1", b"doomed-2"], rc.now)    # appended on the minority side only
    rc.run(200)
    assert rc.log_end_offset(old) > rc.high_watermark(old)
    assert rc.run_until(lambda: rc.leader() in majority, 15_000)
    commit_all(rc, [b"new-leader"], nodes=majority)
    rc.heal()
    assert rc.run_until(lambda: all(rc.committed(n) == [b"committed", b"new-leader"] for n in rc.nodes), 10_000)
    batches = rc.node(old).log.batches()
    values = [r.value for b in batches for r in b.records]
    assert b"doomed-1" not in values                             # truncated via DivergingEpoch
    assert rc.role(old) == "follower"
    rc.check()


def test_a_far_behind_follower_catches_up_quickly():
    rc = RaftCluster(voters=3, seed=6)
    leader = elect(rc)
    lagger = next(n for n in rc.nodes if n != leader)
    rc.crash(lagger)
    values = [i.to_bytes(4, "big") for i in range(5_000)]
    for start in range(0, len(values), 500):
        commit_all(rc, values[start:start + 500])
    rc.restart(lagger)
    restarted = rc.now
    assert rc.run_until(lambda: rc.committed_count(lagger) == 5_000, 10_000)
    assert rc.now - restarted < 1_000
    assert rc.committed(lagger) == values


def test_a_lagging_follower_and_a_new_observer_install_a_snapshot():
    rc = RaftCluster(voters=3, seed=7, observers=1)
    leader = elect(rc)
    lagger = next(n for n in rc.voters if n != leader)
    observer = rc.observers[0]
    rc.crash(lagger)
    rc.crash(observer, lose_unflushed=True)
    commit_all(rc, [f"v{i}".encode() for i in range(100)])
    snapshot_id = rc.snapshot(leader)
    assert snapshot_id is not None and snapshot_id[0] == rc.high_watermark(leader)
    rc.run(10)
    assert rc.node(leader).log.log_start_offset == snapshot_id[0]
    commit_all(rc, [b"after-snapshot"])
    for n in (lagger, observer):
        rc.restart(n)
    expected = [f"v{i}".encode() for i in range(100)] + [b"after-snapshot"]
    assert rc.run_until(lambda: rc.committed(lagger) == expected and rc.committed(observer) == expected, 5_000)
    assert rc.node(lagger).snapshot.snapshot_id == snapshot_id
    assert rc.node(lagger).log.log_start_offset == snapshot_id[0]
    assert rc.role(observer) == "follower"
    # and the snapshot survives a restart of the node that installed it
    rc.crash(lagger, lose_unflushed=True)
    rc.restart(lagger)
    assert rc.run_until(lambda: rc.committed(lagger) == expected, 5_000)


def test_check_quorum_makes_an_isolated_leader_resign():
    rc = RaftCluster(voters=3, seed=8)
    leader = elect(rc)
    rc.isolate(leader)
    isolated_at = rc.now
    assert rc.run_until(lambda: rc.role(leader) != "leader", 10_000)
    assert rc.now - isolated_at <= 3_000 + 1
    assert rc.role(leader) == "resigned"


def test_without_check_quorum_an_isolated_leader_keeps_believing():
    rc = RaftCluster(voters=3, seed=8, check_quorum=False)
    leader = elect(rc)
    rc.isolate(leader)
    rc.run(10_000)
    assert rc.role(leader) == "leader"
    others = [n for n in rc.nodes if n != leader]
    assert rc.leader() in others and rc.epoch(rc.leader()) > rc.epoch(leader)


@pytest.mark.parametrize("pre_vote", [True, False])
def test_an_isolated_follower_rejoining_bumps_the_epoch_only_without_pre_vote(pre_vote):
    rc = RaftCluster(voters=5, seed=9, pre_vote=pre_vote)
    leader = elect(rc)
    epoch = rc.epoch(leader)
    loner = next(n for n in rc.nodes if n != leader)
    rc.isolate(loner)
    rc.run(15_000)
    rc.heal()
    rc.run(5_000)
    new_leader = elect(rc)
    if pre_vote:
        assert rc.epoch(loner) == epoch and rc.epoch(new_leader) == epoch and new_leader == leader
    else:
        assert rc.epoch(new_leader) > epoch


def test_all_nodes_restarted_keep_every_committed_value():
    rc = RaftCluster(voters=3, seed=10)
    elect(rc)
    commit_all(rc, [b"1", b"2", b"3"])
    for n in rc.nodes:
        rc.crash(n)
    for n in rc.nodes:
        rc.restart(n)
    leader = elect(rc)
    commit_all(rc, [b"4"])
    assert rc.committed(leader) == [b"1", b"2", b"3", b"4"]


def test_power_loss_of_a_minority_and_then_of_everyone_loses_no_committed_value():
    rc = RaftCluster(voters=5, seed=11)
    leader = elect(rc)
    commit_all(rc, [b"a", b"b"])
    minority = [n for n in rc.nodes if n != leader][:2]
    for n in minority:
        rc.crash(n, lose_unflushed=True)
    commit_all(rc, [b"c"])
    for n in minority:
        rc.restart(n)
    commit_all(rc, [b"d"])
    for n in rc.nodes:                        # a power cut of the whole quorum, mid-stream
        rc.crash(n, lose_unflushed=True)
    for n in rc.nodes:
        rc.restart(n)
    leader = elect(rc)
    commit_all(rc, [b"e"])
    assert rc.committed(leader) == [b"a", b"b", b"c", b"d", b"e"]
    rc.check()


def test_graceful_resignation_hands_over_to_a_preferred_successor():
    rc = RaftCluster(voters=5, seed=12)
    leader = elect(rc)
    commit_all(rc, [b"x"])
    epoch = rc.epoch(leader)
    assert rc.resign(leader)
    resigned_at = rc.now
    assert rc.run_until(lambda: rc.leader() not in (None, leader), 5_000)
    assert rc.now - resigned_at < 500                            # no fetch timeout to wait out
    assert rc.epoch(rc.leader()) == epoch + 1


def test_a_paused_leader_is_replaced_and_steps_down_when_resumed():
    rc = RaftCluster(voters=3, seed=13)
    leader = elect(rc)
    rc.pause(leader)
    assert rc.run_until(lambda: rc.leader() not in (None, leader), 10_000)
    rc.resume(leader)
    assert rc.run_until(lambda: rc.role(leader) == "follower", 5_000)


def test_the_paper_timing_knobs_elect_fast_on_a_slow_network():
    rc = RaftCluster(voters=5, seed=14, election_timeout_ms=150, fetch_timeout_ms=150, pre_vote=False,
                     check_quorum=False, fetch_timeout_jitter_ms=150, election_jitter_ms=150, fetch_max_wait_ms=75,
                     election_backoff_max_ms=0, append_linger_ms=0,
                     network=LinkSpec(latency_ms=7.5, jitter_ms=0, bandwidth_bytes_per_ms=None))
    leader = elect(rc, 5_000)
    rc.run(1_000)
    assert rc.leader() == leader                                 # heartbeats (parked fetches) keep it in office
    rc.crash(leader)
    crashed_at = rc.now
    assert rc.run_until(lambda: rc.leader() is not None, 5_000)
    assert rc.now - crashed_at < 1_000


def test_frames_describe_the_quorum():
    rc = RaftCluster(voters=3, seed=15, observers=1)
    leader = elect(rc)
    commit_all(rc, [b"v"])
    rc.crash(rc.observers[0])
    described = rc.describe()
    assert list(described.columns[:7]) == ["node", "role", "epoch", "leader", "log_end_offset", "high_watermark",
                                           "voted_for"]
    assert described.set_index("node").loc[leader, "role"] == "leader"
    assert described.set_index("node").loc[rc.observers[0], "role"] == "crashed"
    timeline = rc.timeline()
    assert list(timeline.columns) == ["time_ms", "node", "role", "epoch", "leader"]
    assert timeline["time_ms"].is_monotonic_increasing
    assert "leader" in set(timeline["role"]) and "crashed" in set(timeline["role"])
    metrics = rc.metrics()
    assert {"raft.role", "raft.high_watermark"} <= set(metrics["metric"])
    assert "RaftCluster(voters=3, observers=1" in repr(rc)


def test_cluster_argument_errors_are_clear():
    with pytest.raises(ValueError, match="voters must be an int >= 1, got 0"):
        RaftCluster(voters=0)
    with pytest.raises(ValueError, match="observers must be an int >= 0, got -1"):
        RaftCluster(voters=3, observers=-1)
    with pytest.raises(TypeError, match="network must be a kafkalab.sim.LinkSpec or None, got dict"):
        RaftCluster(voters=3, network={"latency_ms": 1})
    with pytest.raises(kl.errors.ConfigError, match="unknown Raft setting 'linger_ms'"):
        RaftCluster(voters=3, linger_ms=5)
    with pytest.raises(TypeError, match="seed must be an int, got str"):
        RaftCluster(voters=3, seed="0")
    rc = RaftCluster(voters=3)
    with pytest.raises(KeyError, match="unknown node 7; nodes: 1, 2, 3"):
        rc.role(7)
    with pytest.raises(ValueError, match="propose_many needs at least one value"):
        rc.propose_many([])
    rc.crash(2)
    with pytest.raises(RuntimeError, match="node 2 is down"):
        rc.snapshot(2)


def test_the_timeline_plot_is_a_figure():
    from matplotlib.figure import Figure

    from kafkalab.raft.plot import live_timeline, plot_timeline

    rc = RaftCluster(voters=3, seed=16)
    live = live_timeline(rc, period_ms=3_000, min_interval_s=0.0)
    elect(rc)
    rc.crash(rc.leader())
    rc.run(5_000)
    live.close()
    assert live.renders >= 2
    fig = plot_timeline(rc)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert isinstance(rc.plot_timeline(since_ms=1_000), Figure)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["node 1", "node 2", "node 3"]


def test_paper_election_mode_elects_and_its_candidates_retry_only_after_a_full_election_timeout():
    """The Raft paper's retry (election_mode="paper"): no backoff, so a candidacy in epoch e lasts its whole election
    timeout (150..155 ms here, under a 7.5 ms one-way latency, so votes split often) before the same node stands in
    e + 1; rounds split until the timers drift apart, and then a leader comes."""
    rc = RaftCluster(voters=5, seed=16, election_timeout_ms=150, fetch_timeout_ms=150, pre_vote=False,
                     check_quorum=False, fetch_timeout_jitter_ms=5, election_jitter_ms=5, fetch_max_wait_ms=75,
                     append_linger_ms=0, election_mode="paper",
                     network=LinkSpec(latency_ms=7.5, jitter_ms=0, bandwidth_bytes_per_ms=None))
    leader = elect(rc)
    commit_all(rc, [b"a"])
    rc.crash(leader)
    crashed_at = rc.now
    assert rc.run_until(lambda: rc.leader() not in (None, leader), 30_000)
    timeline = rc.timeline()
    stood = timeline[(timeline["role"] == "candidate") & (timeline["time_ms"] >= crashed_at)]
    gaps = stood.groupby("node")["time_ms"].diff().dropna()
    assert len(gaps) >= 10 and stood["epoch"].max() - rc.epoch(leader) >= 5   # many split rounds, one epoch each
    assert (gaps >= 150).all()   # a retry never comes sooner than the minimum election timeout
    assert ((gaps < 155) | (gaps >= 300)).all()   # one timeout, or two when the node voted in between
    assert rc.config.election_mode == "paper"


def test_election_mode_is_a_cluster_knob_with_a_clear_error():
    with pytest.raises(kl.errors.ConfigError, match=r"election_mode 'Paper'.*did you mean 'paper'\?"):
        RaftCluster(voters=3, election_mode="Paper")
    with pytest.raises(kl.errors.ConfigError, match=r"unknown Raft setting 'election_mod'.*did you mean 'election_mode'"):
        RaftCluster(voters=3, election_mod="paper")
