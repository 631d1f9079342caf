"""The first election round under Kafka's defaults, as Kafka's ``QuorumState.initialize`` and ``KafkaRaftClient`` run it.

A fresh quorum: every voter starts Unattached in epoch 0 with the randomised election timeout
``controller.quorum.election.timeout.ms + random[0, controller.quorum.election.timeout.ms)`` = [1000, 2000) ms. The
first voter whose timer expires asks for pre-votes (KIP-996), becomes Candidate of epoch 1 and is elected, because
the others are still waiting for timers that are spread over a whole second while a round trip takes milliseconds.
So the first round at boot almost never splits (200 seeds: 200/200 kl.Cluster boots, 199/200 three-voter and 197/200
five-voter RaftCluster boots elect in epoch 1 with one candidacy; median time to the first leader 1200 ms for three
voters, the median of the smallest of three uniform timers, 1206 ms, plus the vote round trips).

A leader crash is different, in Kafka too: a follower campaigns after the *fixed* ``controller.quorum.fetch.timeout.ms``
(2000 ms) without a successful fetch, and the leader answers the parked fetches of all followers at the same moment,
so the followers' timers expire together. Each becomes Prospective, grants the other's pre-vote (a Prospective voter
grants any pre-vote whose log is up to date: ``unattachedOrProspectiveCanGrantVote``), both become Candidates of
the same epoch and vote for themselves: the first round splits, and the randomised election timeout of the
candidates decides the second.
"""
from __future__ import annotations

from kafkalab.raft.playground import RaftCluster


def _first_round(seed: int, voters: int) -> tuple[float, list[tuple[float, int, str, int]]]:
    rc = RaftCluster(voters=voters, seed=seed)
    assert rc.run_until(lambda: rc.leader() is not None, 10_000)
    tl = rc.timeline()
    nominees = [(float(r.time_ms), int(r.node), str(r.role), int(r.epoch)) for r in tl.itertuples()
                if r.role in ("prospective", "candidate")]
    return float(rc.now), nominees


def test_a_fresh_quorum_elects_in_its_first_round() -> None:
    first_round = 0
    for seed in range(40):
        elected_at, nominees = _first_round(seed, voters=3)
        # every voter's first timer is in [1000, 2000): nobody campaigns earlier, a leader is there soon after
        assert 1_000 <= nominees[0][0] < 2_000
        assert elected_at < 2_100
        if [(role, epoch) for _, _, role, epoch in nominees] == [("prospective", 0), ("candidate", 1)]:
            first_round += 1
    assert first_round >= 39                      # 199/200 over seeds 0..199


def test_after_a_leader_crash_the_followers_time_out_together_and_split_the_first_round() -> None:
    rc = RaftCluster(voters=3, seed=4)
    assert rc.run_until(lambda: rc.leader() is not None, 10_000)
    rc.run(3_000)
    leader = rc.leader()
    assert leader is not None
    epoch = rc.epoch(leader)
    crashed_at = rc.now
    rc.crash(leader)
    followers = [n for n in rc.nodes if n != leader]
    assert rc.run_until(lambda: any(rc.leader() == n for n in followers), 10_000)
    tl = rc.timeline()
    after = tl[(tl.time_ms > crashed_at) & tl.node.isin(followers)]
    candidacies = after[after.role == "candidate"]
    first = candidacies[candidacies.epoch == epoch + 1]
    assert sorted(first.node) == sorted(followers)              # both stood in epoch + 1: a split
    assert float(first.time_ms.max() - first.time_ms.min()) < 10
    prospective = after[after.role == "prospective"]
    assert float(prospective.time_ms.min()) - crashed_at <= 2_000 + 500 + 10   # fetch timeout after the last answer
    assert rc.epoch(rc.leader()) == epoch + 2
