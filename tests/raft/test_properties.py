"""Random faults against a KRaft quorum: no committed entry is ever lost or changed.

A Hypothesis state machine crashes nodes (with and without power loss), restarts, pauses and resumes them,
partitions and heals the network, takes snapshots and proposes values, with the invariant checker on after every simulated event. After every
step the sequence of values committed anywhere may only grow; at the end the quorum is healed and restarted and every
node must hold that whole sequence. A failure prints the rule sequence and the seed (replay: RaftCluster(seed=...)).
"""
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from kafkalab.raft import RaftCluster


class RaftUnderFaults(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rc: RaftCluster | None = None
        self.next_value = 0
        self.seen: list[bytes] = []

    @initialize(seed=st.integers(0, 2**20), voters=st.sampled_from([3, 5]), pre_vote=st.booleans())
    def start(self, seed: int, voters: int, pre_vote: bool) -> None:
        self.rc = RaftCluster(voters=voters, seed=seed, pre_vote=pre_vote, check_quorum=pre_vote)
        self.rc.run_until(lambda: self.rc is not None and self.rc.leader() is not None, 15_000)
        self.rc.run(300)

    def _node(self, index: int) -> int:
        assert self.rc is not None
        return self.rc.voters[index % len(self.rc.voters)]

    @rule(count=st.integers(1, 5))
    def propose(self, count: int) -> None:
        assert self.rc is not None
        values = [str(self.next_value + i).encode() for i in range(count)]
        self.next_value += count
        self.rc.propose_many(values)
        self.rc.run(100)

    @rule(index=st.integers(0, 4), power_loss=st.booleans())
    def crash(self, index: int, power_loss: bool) -> None:
        assert self.rc is not None
        self.rc.crash(self._node(index), lose_unflushed=power_loss)

    @rule(index=st.integers(0, 4))
    def restart(self, index: int) -> None:
        assert self.rc is not None
        node = self._node(index)
        if not self.rc.world.is_alive(node):
            self.rc.restart(node)

    @rule(cut=st.integers(1, 4), shift=st.integers(0, 4))
    def partition(self, cut: int, shift: int) -> None:
        assert self.rc is not None
        nodes = list(self.rc.voters)
        nodes = nodes[shift % len(nodes):] + nodes[:shift % len(nodes)]
        cut = 1 + cut % (len(nodes) - 1)
        self.rc.partition(nodes[:cut], nodes[cut:])

    @rule(index=st.integers(0, 4))
    def pause(self, index: int) -> None:
        assert self.rc is not None
        node = self._node(index)
        if self.rc.world.is_alive(node):
            self.rc.pause(node)

    @rule(index=st.integers(0, 4))
    def resume(self, index: int) -> None:
        assert self.rc is not None
        self.rc.resume(self._node(index))

    @rule()
    def heal(self) -> None:
        assert self.rc is not None
        self.rc.heal()

    @rule(index=st.integers(0, 4))
    def snapshot(self, index: int) -> None:
        assert self.rc is not None
        node = self._node(index)
        if self.rc.world.is_alive(node):
            self.rc.snapshot(node)

    @rule(ms=st.sampled_from([1, 20, 200, 1_000, 3_000, 8_000]))
    def run(self, ms: int) -> None:
        assert self.rc is not None
        self.rc.run(ms)

    @precondition(lambda self: self.rc is not None)
    @invariant()
    def committed_values_only_grow(self) -> None:
        assert self.rc is not None and self.rc.invariants is not None
        truth = self.rc.invariants.truth
        assert truth[:len(self.seen)] == self.seen, f"committed sequence changed (seed={self.rc.seed})"
        self.seen = list(truth)

    def teardown(self) -> None:
        rc = self.rc
        if rc is None:
            return
        rc.heal()
        for node in rc.voters:
            rc.resume(node)
            if not rc.world.is_alive(node):
                rc.restart(node)
        final = b"final"
        deadline = rc.now + 120_000
        done = False
        while rc.now < deadline and not done:
            if rc.run_until(lambda: rc.leader() is not None, deadline - rc.now):
                rc.propose(final)
                done = rc.run_until(lambda: all(final in rc.committed(n) for n in rc.voters), 3_000)
        assert done, f"the healed quorum did not commit (seed={rc.seed})\n{rc.describe()}"
        rc.check()
        event(f"values committed before teardown: {'none' if not self.seen else 'some'}")
        for node in rc.voters:
            values = rc.committed(node)
            assert values[:len(self.seen)] == self.seen, f"node {node} lost committed values (seed={rc.seed})"


TestRaftUnderFaults = RaftUnderFaults.TestCase
TestRaftUnderFaults.settings = settings(max_examples=int(__import__("os").environ.get("RAFT_EXAMPLES", "60")), stateful_step_count=30, deadline=None)
