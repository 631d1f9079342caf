"""The KRaft node core without the simulator: feed it messages and timers, assert what it sends, sets and persists."""
import random

import pytest

from kafkalab.common.records import Record, RecordBatch
from kafkalab.protocol import raft as m
from kafkalab.protocol.common import NONE
from kafkalab.raft.config import RaftConfig
from kafkalab.raft.node import QUORUM_STATE_KEY, RaftNode, new_metadata_log
from kafkalab.raft.state import ElectionState, IllegalTransition, Role


class FakePort:
    """Records every output; ``flush_done`` plays the disk finishing an fsync."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, object]] = []
        self.timers: dict[str, float] = {}
        self.files: dict[str, object] = {}
        self.flushes = 0

    def send(self, dst, msg):
        self.sent.append((dst, msg))

    def set_timer(self, name, at_ms):
        self.timers[name] = at_ms

    def cancel_timer(self, name):
        self.timers.pop(name, None)

    def persist(self, key, value):
        self.files[key] = value

    def flush(self):
        self.flushes += 1

    def take(self):
        out, self.sent = self.sent, []
        return out


def make(node_id=1, voters=(1, 2, 3), **config):
    port = FakePort()
    log = new_metadata_log()
    node = RaftNode(node_id, voters, log, port, random.Random(7), RaftConfig(**config))
    return node, port


def flush_done(node, now):
    node.log.flush()
    node.on_flushed(now)


def elect(node, port, now=0.0):
    """Drive a 3-voter node from Unattached to Leader (pre-vote on)."""
    node.on_timer("election", now)
    [(_, req)] = port.take()[:1]
    node.handle(2, m.VoteResponse(NONE, node.epoch, None, True, True, req.correlation_id), now)
    flush_done(node, now)
    [(_, vote)] = port.take()[:1]
    node.handle(2, m.VoteResponse(NONE, node.epoch, None, True, False, vote.correlation_id), now)
    flush_done(node, now)
    flush_done(node, now)
    port.take()


def test_a_fresh_voter_is_unattached_with_a_randomised_election_timer():
    node, port = make()
    node.start(0.0)
    assert node.role is Role.UNATTACHED and node.epoch == 0
    assert 1000 <= port.timers["election"] < 2000
    assert port.sent == []


def test_election_timeout_starts_a_pre_vote_without_bumping_the_epoch():
    node, port = make()
    node.start(0.0)
    node.on_timer("election", 1500.0)
    assert node.role is Role.PROSPECTIVE and node.epoch == 0
    sent = port.take()
    assert [dst for dst, _ in sent] == [2, 3]
    assert sent[0][1] == m.VoteRequest(1, 1, 0, 0, True, sent[0][1].correlation_id)


def test_pre_vote_majority_makes_a_candidate_whose_vote_requests_wait_for_the_fsync():
    node, port = make()
    node.start(0.0)
    node.on_timer("election", 1500.0)
    req = port.take()[0][1]
    node.handle(3, m.VoteResponse(NONE, 0, None, True, True, req.correlation_id), 1501.0)
    assert node.role is Role.CANDIDATE and node.epoch == 1 and node.voted_id == 1
    assert port.files[QUORUM_STATE_KEY] == ElectionState(1, None, 1)
    assert port.sent == []                      # held until the vote for itself is durable
    flush_done(node, 1502.0)
    sent = port.take()
    assert [(dst, msg.replica_epoch, msg.pre_vote) for dst, msg in sent] == [(2, 1, False), (3, 1, False)]


def test_winning_the_vote_appends_leader_change_and_announces_the_epoch():
    node, port = make()
    node.start(0.0)
    elect(node, port)
    assert node.role is Role.LEADER and node.leader_id == 1
    [batch] = node.log.batches()
    assert batch.is_control and batch.partition_leader_epoch == 1
    assert isinstance(batch.records[0].value, m.LeaderChange)
    assert node.high_watermark is None            # nothing of its own epoch committed yet


def test_leader_begin_quorum_epoch_goes_to_every_other_voter_and_is_resent():
    node, port = make()
    node.start(0.0)
    node.on_timer("election", 0.0)
    req = port.take()[0][1]
    node.handle(2, m.VoteResponse(NONE, 0, None, True, True, req.correlation_id), 0.0)
    flush_done(node, 0.0)
    vote = port.take()[0][1]
    node.handle(2, m.VoteResponse(NONE, 1, None, True, False, vote.correlation_id), 0.0)
    flush_done(node, 1.0)
    assert sorted(dst for dst, msg in port.take() if isinstance(msg, m.BeginQuorumEpochRequest)) == [2, 3]
    assert port.timers["begin_quorum"] == 1000.0
    node.handle(2, m.BeginQuorumEpochResponse(NONE, 1, 1), 2.0)
    node.on_timer("begin_quorum", 1000.0)
    assert [dst for dst, msg in port.take()] == [3]


def test_high_watermark_moves_only_with_a_majority_and_an_own_epoch_record():
    node, port = make()
    node.start(0.0)
    elect(node, port)
    # leader's own LeaderChange (offset 0) is flushed: end offset 1 for the leader
    node.handle(2, m.FetchRequest(1, 2, 0, 0, 500, 1), 10.0)
    assert node.high_watermark is None          # one voter (the leader) at 1, follower at 0
    [(dst, resp)] = port.take()
    assert dst == 2 and len(resp.batches) == 1
    node.handle(2, m.FetchRequest(1, 2, 1, 1, 500, 2), 11.0)
    assert node.high_watermark == 1
    [(_, resp)] = port.take()                    # answered at once: the HW moved past what node 2 knew
    assert resp.high_watermark == 1 and resp.batches == ()


def test_an_idle_fetch_is_parked_and_answered_when_data_is_appended():
    node, port = make(append_linger_ms=25)
    node.start(0.0)
    elect(node, port)
    node.handle(2, m.FetchRequest(1, 2, 1, 1, 500, 1), 10.0)
    node.handle(3, m.FetchRequest(1, 3, 1, 1, 500, 1), 10.0)
    port.take()
    node.handle(2, m.FetchRequest(1, 2, 1, 1, 500, 2), 11.0)
    assert port.sent == [] and port.timers["park:2"] == 511.0
    assert node.propose([b"a", b"b"], 12.0) == 1
    assert port.timers["linger"] == 37.0
    node.on_timer("linger", 37.0)
    [(dst, resp)] = port.take()
    assert dst == 2 and [r.value for r in resp.batches[0].records] == [b"a", b"b"]


def test_a_parked_fetch_expires_with_an_empty_answer():
    node, port = make()
    node.start(0.0)
    elect(node, port)
    node.handle(2, m.FetchRequest(1, 2, 1, 1, 500, 1), 10.0)
    node.handle(3, m.FetchRequest(1, 3, 1, 1, 500, 1), 10.0)
    port.take()
    node.handle(2, m.FetchRequest(1, 2, 1, 1, 500, 2), 11.0)
    node.on_timer("park:2", 511.0)
    [(_, resp)] = port.take()
    assert resp.error == NONE and resp.batches == () and resp.correlation_id == 2


def test_leader_answers_a_divergent_fetch_with_its_epoch_end():
    node, port = make()
    node.start(0.0)
    elect(node, port)
    node.handle(2, m.FetchRequest(1, 2, 5, 0, 500, 1), 10.0)   # the follower claims epoch 0 up to offset 5
    [(_, resp)] = port.take()
    assert resp.diverging_epoch == (0, 0)


def test_follower_truncates_to_the_diverging_epoch_end_and_refetches():
    node, port = make(node_id=2)
    node.start(0.0)
    log = node.log
    log.append_as_leader([Record(None, b"x")], 1)
    log.append_as_leader([Record(None, b"y"), Record(None, b"z")], 2)   # an old leader's unreplicated suffix
    log.flush()
    node.handle(1, m.BeginQuorumEpochRequest(3, 1), 0.0)
    flush_done(node, 0.0)
    fetch = [msg for _, msg in port.take() if isinstance(msg, m.FetchRequest)][0]
    assert (fetch.fetch_offset, fetch.last_fetched_epoch) == (3, 2)
    node.handle(1, m.FetchResponse(NONE, 3, 1, None, 0, diverging_epoch=(1, 1),
                                   correlation_id=fetch.correlation_id), 5.0)
    assert log.log_end_offset == 1
    [(_, again)] = port.take()
    assert (again.fetch_offset, again.last_fetched_epoch) == (1, 1)


def test_follower_reports_its_fetch_offset_only_after_flushing():
    node, port = make(node_id=2)
    node.start(0.0)
    node.handle(1, m.BeginQuorumEpochRequest(1, 1), 0.0)
    flush_done(node, 0.0)
    fetch = [msg for _, msg in port.take() if isinstance(msg, m.FetchRequest)][0]
    batch = RecordBatch((Record(None, b"v"),)).with_offset(0, 1)
    node.handle(1, m.FetchResponse(NONE, 1, 1, 0, 0, (batch,), correlation_id=fetch.correlation_id), 3.0)
    assert port.sent == [] and node.log.flushed_offset == 0
    flush_done(node, 4.0)
    [(_, nxt)] = port.take()
    assert nxt.fetch_offset == 1


def test_follower_applies_up_to_the_leaders_high_watermark():
    node, port = make(node_id=2)
    node.start(0.0)
    node.handle(1, m.BeginQuorumEpochRequest(1, 1), 0.0)
    flush_done(node, 0.0)
    fetch = [msg for _, msg in port.take() if isinstance(msg, m.FetchRequest)][0]
    control = RecordBatch((Record(None, m.LeaderChange(1, (1, 2, 3), (1, 2))),), is_control=True).with_offset(0, 1)
    data = RecordBatch((Record(None, b"a"), Record(None, m.Payload.wrap(42)))).with_offset(1, 1)
    node.handle(1, m.FetchResponse(NONE, 1, 1, 3, 0, (control, data), correlation_id=fetch.correlation_id), 3.0)
    assert node.high_watermark == 3 and node.committed == [b"a", 42]


def test_unattached_voter_grants_one_vote_per_epoch_durably():
    node, port = make(node_id=3)
    node.start(0.0)
    node.handle(1, m.VoteRequest(1, 1, 0, 0, False, 9), 5.0)
    assert node.role is Role.VOTED and node.voted_id == 1 and node.epoch == 1
    assert port.sent == []                                 # the vote must be durable first
    flush_done(node, 6.0)                                  # the fsync of the epoch bump...
    flush_done(node, 7.0)                                  # ...and of the vote
    assert port.take() == [(1, m.VoteResponse(NONE, 1, None, True, False, 9))]
    node.handle(2, m.VoteRequest(1, 2, 0, 0, False, 4), 7.0)
    assert port.take() == [(2, m.VoteResponse(NONE, 1, None, False, False, 4))]


def test_voter_rejects_a_candidate_with_a_shorter_log():
    node, port = make(node_id=3)
    node.start(0.0)
    node.log.append_as_leader([Record(None, b"x")], 1)
    node.log.flush()
    node.handle(1, m.VoteRequest(2, 1, 1, 0, False, 1), 5.0)    # same last epoch, offset 0 < our 1
    flush_done(node, 5.0)
    [(_, resp)] = port.take()
    assert not resp.vote_granted and node.role is Role.UNATTACHED and node.epoch == 2


def test_follower_that_hears_its_leader_rejects_pre_votes():
    node, port = make(node_id=3)
    node.start(0.0)
    node.handle(1, m.BeginQuorumEpochRequest(1, 1), 0.0)
    flush_done(node, 0.0)
    fetch = [msg for _, msg in port.take() if isinstance(msg, m.FetchRequest)][0]
    node.handle(2, m.VoteRequest(2, 2, 0, 0, True, 1), 1.0)
    assert port.take()[0][1].vote_granted            # no successful fetch yet: the leader may be gone
    node.handle(1, m.FetchResponse(NONE, 1, 1, None, 0, correlation_id=fetch.correlation_id), 2.0)
    port.take()
    node.handle(2, m.VoteRequest(2, 2, 0, 0, True, 2), 3.0)
    [(_, resp)] = port.take()
    assert not resp.vote_granted and resp.leader_id == 1 and node.epoch == 1


def test_check_quorum_makes_a_lonely_leader_resign():
    node, port = make()
    node.start(0.0)
    elect(node, port)
    assert port.timers["check_quorum"] == 3000.0
    node.on_timer("check_quorum", 3000.0)
    assert node.role is Role.RESIGNED
    flush_done(node, 3001.0)
    ends = [msg for _, msg in port.take() if isinstance(msg, m.EndQuorumEpochRequest)]
    assert len(ends) == 2 and ends[0].leader_epoch == 1


def test_end_quorum_epoch_lets_the_first_preferred_successor_start_at_once():
    node, port = make(node_id=2)
    node.start(0.0)
    node.handle(1, m.BeginQuorumEpochRequest(1, 1), 0.0)
    node.handle(1, m.EndQuorumEpochRequest(1, 1, (2, 3)), 10.0)
    assert port.timers["fetch"] == 10.0
    node.on_timer("fetch", 10.0)
    assert node.role is Role.PROSPECTIVE


def test_candidate_backs_off_after_a_majority_rejects():
    node, port = make(pre_vote=False)
    node.start(0.0)
    node.on_timer("election", 1200.0)
    assert node.role is Role.CANDIDATE and node.epoch == 1
    flush_done(node, 1200.0)
    req = port.take()[0][1]
    node.handle(2, m.VoteResponse(NONE, 1, None, False, False, req.correlation_id), 1201.0)
    node.handle(3, m.VoteResponse(NONE, 1, None, False, False, req.correlation_id), 1202.0)
    assert 1202.0 <= port.timers["election"] <= 1202.0 + 100
    node.on_timer("election", port.timers["election"])
    assert node.role is Role.CANDIDATE and node.epoch == 2


def test_higher_epoch_in_a_response_makes_a_leader_follow():
    node, port = make()
    node.start(0.0)
    elect(node, port)
    node.handle(2, m.BeginQuorumEpochResponse(m.FENCED_LEADER_EPOCH, 5, 3), 50.0)
    assert (node.role, node.epoch, node.leader_id) == (Role.FOLLOWER, 5, 3)


def test_non_leader_refers_fetchers_to_the_leader():
    node, port = make(node_id=2)
    node.start(0.0)
    node.handle(1, m.BeginQuorumEpochRequest(4, 1), 0.0)
    flush_done(node, 0.0)
    port.take()
    node.handle(9, m.FetchRequest(4, 9, 0, 0, 500, 1), 1.0)
    assert port.take() == [(9, m.FetchResponse(m.NOT_LEADER_OR_FOLLOWER, 4, 1, correlation_id=1))]


def test_observer_asks_the_voters_for_the_leader_and_follows_it():
    node, port = make(node_id=9, voters=(1, 2, 3))
    node.start(0.0)
    [(dst, fetch)] = port.take()
    assert dst == 1 and isinstance(fetch, m.FetchRequest)
    assert "election" not in port.timers
    node.handle(1, m.FetchResponse(m.NOT_LEADER_OR_FOLLOWER, 2, 3, correlation_id=fetch.correlation_id), 1.0)
    assert (node.role, node.leader_id) == (Role.FOLLOWER, 3)
    flush_done(node, 1.0)
    assert [dst for dst, _ in port.take()] == [3]


def test_illegal_transitions_raise_and_change_nothing():
    node, _ = make()
    node.start(0.0)
    with pytest.raises(IllegalTransition, match="illegal transition unattached -> leader"):
        node._transition(Role.LEADER, 1, 1, 1, 0.0)
    assert node.role is Role.UNATTACHED and node.epoch == 0
    with pytest.raises(IllegalTransition, match="epoch may not go back"):
        node._transition(Role.UNATTACHED, -1, None, None, 0.0)
    observer, _ = make(node_id=9)
    observer.start(0.0)
    with pytest.raises(IllegalTransition, match="observer and cannot become candidate"):
        observer._transition(Role.CANDIDATE, 1, None, 9, 0.0)


def test_bad_arguments_raise_clear_errors():
    port, log = FakePort(), new_metadata_log()
    with pytest.raises(TypeError, match="node_id must be an int, got str 'a'"):
        RaftNode("a", (1,), log, port, random.Random(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one voter"):
        RaftNode(1, (), log, port, random.Random(0))
    with pytest.raises(ValueError, match="voter ids must be distinct"):
        RaftNode(1, (1, 1), log, port, random.Random(0))
    with pytest.raises(TypeError, match="rng must be a random.Random"):
        RaftNode(1, (1,), log, port, 7)  # type: ignore[arg-type]
    node, _ = make()
    node.start(0.0)
    with pytest.raises(RuntimeError, match="already started"):
        node.start(0.0)
    with pytest.raises(TypeError, match="propose takes a sequence of values, got bytes"):
        node.propose(b"abc", 0.0)
    with pytest.raises(ValueError, match="at least one value"):
        node.propose([], 0.0)
    with pytest.raises(TypeError, match="got a str from 2, which is not a KRaft message"):
        node.handle(2, "hello", 0.0)
    with pytest.raises(ValueError, match="unknown timer 'tick'"):
        node.on_timer("tick", 0.0)


def test_propose_on_a_follower_returns_none():
    node, _ = make()
    node.start(0.0)
    assert node.propose([b"x"], 0.0) is None


def test_single_voter_elects_itself_and_commits_alone():
    node, port = make(voters=(1,), pre_vote=True)
    node.start(0.0)
    node.on_timer("election", 1000.0)
    assert node.role is Role.LEADER and node.epoch == 1
    flush_done(node, 1001.0)
    assert node.high_watermark == 1
    node.propose([b"solo"], 1002.0)
    node.on_timer("linger", 1027.0)
    flush_done(node, 1028.0)
    assert node.committed == [b"solo"]


# ---- election_mode="paper": the Raft paper's retry (Figure 2), no backoff ----------------------------------------
def stand(node, port, now):
    """Election timeout -> Candidate; flush the vote so the requests leave; return one request."""
    node.on_timer("election", now)
    flush_done(node, now)
    return [msg for _, msg in port.take() if isinstance(msg, m.VoteRequest)][0]


def test_paper_mode_candidate_refused_by_a_majority_waits_its_election_timeout_then_bumps_the_epoch():
    node, port = make(pre_vote=False, election_mode="paper", election_jitter_ms=50)
    node.start(0.0)
    req = stand(node, port, 1200.0)
    assert node.role is Role.CANDIDATE and node.epoch == 1
    deadline = port.timers["election"]
    assert 1200.0 + 1000 <= deadline < 1200.0 + 1050  # election_timeout_ms + random[0, election_jitter_ms)
    node.handle(2, m.VoteResponse(NONE, 1, None, False, False, req.correlation_id), 1201.0)
    node.handle(3, m.VoteResponse(NONE, 1, None, False, False, req.correlation_id), 1202.0)
    # lost, but no backoff: still a candidate of epoch 1, same deadline
    assert node.role is Role.CANDIDATE and node.epoch == 1 and port.timers["election"] == deadline
    req2 = stand(node, port, deadline)
    assert node.role is Role.CANDIDATE and node.epoch == 2 and node.voted_id == node.node_id
    assert req2.replica_epoch == 2 and not req2.pre_vote
    # a fresh randomised timeout, drawn again from [base, base + jitter)
    assert deadline + 1000 <= port.timers["election"] < deadline + 1050
    assert port.timers["election"] - deadline != deadline - 1200.0


def test_paper_mode_split_vote_retries_after_a_fresh_timeout_and_each_round_bumps_the_epoch():
    node, port = make(voters=(1, 2, 3, 4, 5), pre_vote=False, election_mode="paper")
    node.start(0.0)
    now = 1500.0
    waits = []
    for epoch in (1, 2, 3):
        stand(node, port, now)
        assert node.role is Role.CANDIDATE and node.epoch == epoch
        # nobody answers (the others are candidates too): the timeout, not a backoff, starts the next round
        waits.append(port.timers["election"] - now)
        now = port.timers["election"]
    assert all(1000 <= w < 2000 for w in waits) and len(set(waits)) == 3
    assert port.files[QUORUM_STATE_KEY] == ElectionState(3, None, 1)


def test_kraft_mode_candidate_backs_off_where_paper_mode_waits():
    """Same node, same seed, same refusals: KRaft re-arms the election timer with a backoff of 0..100 ms."""
    deadlines = {}
    for mode in ("kraft", "paper"):
        node, port = make(pre_vote=False, election_mode=mode)
        node.start(0.0)
        req = stand(node, port, 1200.0)
        for voter in (2, 3):
            node.handle(voter, m.VoteResponse(NONE, 1, None, False, False, req.correlation_id), 1202.0)
        deadlines[mode] = port.timers["election"]
    assert 1202.0 <= deadlines["kraft"] <= 1302.0
    assert deadlines["paper"] >= 2200.0


def test_paper_mode_with_pre_vote_retries_with_a_pre_vote_after_a_fresh_timeout():
    """The paper has no pre-vote; kafkalab keeps it a separate knob (Ongaro's thesis, 9.6, adds it to Raft). With both,
    a candidate that did not win waits its timeout and then asks for pre-votes first, keeping its epoch."""
    node, port = make(election_mode="paper")
    node.start(0.0)
    node.on_timer("election", 1500.0)
    [(_, pre)] = port.take()[:1]
    assert node.role is Role.PROSPECTIVE and pre.pre_vote
    node.handle(2, m.VoteResponse(NONE, 0, None, True, True, pre.correlation_id), 1501.0)
    flush_done(node, 1501.0)
    req = [msg for _, msg in port.take() if isinstance(msg, m.VoteRequest)][0]
    assert node.role is Role.CANDIDATE and node.epoch == 1 and not req.pre_vote
    deadline = port.timers["election"]
    node.handle(2, m.VoteResponse(NONE, 1, None, False, False, req.correlation_id), 1502.0)
    node.handle(3, m.VoteResponse(NONE, 1, None, False, False, req.correlation_id), 1502.0)
    assert node.role is Role.CANDIDATE and port.timers["election"] == deadline
    node.on_timer("election", deadline)
    assert node.role is Role.PROSPECTIVE and node.epoch == 1
    assert 1000 <= port.timers["election"] - deadline < 2000
    # a lost pre-vote does not bump the epoch: back to Voted (for itself) in epoch 1 with a full election timeout
    pre2 = [msg for _, msg in port.take() if isinstance(msg, m.VoteRequest)][0]
    assert pre2.pre_vote and pre2.replica_epoch == 2
    now = deadline + 1.0
    node.handle(2, m.VoteResponse(NONE, 1, None, False, True, pre2.correlation_id), now)
    node.handle(3, m.VoteResponse(NONE, 1, None, False, True, pre2.correlation_id), now)
    assert node.role is Role.VOTED and node.epoch == 1 and node.voted_id == 1
    assert 1000 <= port.timers["election"] - now < 2000


def test_election_mode_errors_name_the_allowed_values_and_the_closest():
    from kafkalab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"unknown RaftConfig.election_mode 'papr': allowed values are 'kraft', "
                                          r"'paper'; did you mean 'paper'\?") as info:
        RaftConfig(election_mode="papr")
    assert info.value.key == "election_mode" and info.value.value == "papr"
    with pytest.raises(ConfigError, match=r"did you mean 'kraft'\?"):
        RaftConfig(election_mode="KRaft")
    with pytest.raises(ConfigError, match=r"unknown RaftConfig.election_mode 'etcd': allowed values are 'kraft', "
                                          r"'paper'$"):
        RaftConfig(election_mode="etcd")
    with pytest.raises(ConfigError, match=r"election_mode must be a string, one of 'kraft', 'paper'; got bool True"):
        RaftConfig(election_mode=True)  # type: ignore[arg-type]
    assert issubclass(ConfigError, ValueError)
