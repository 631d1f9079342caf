"""Property test: HW and ISR invariants under random follower pauses, crashes and restarts (hypothesis).

After every step: the leader's HW never moves backwards; the HW is at most the log end offset of every replica in
the leader's committed ISR; every acks=all write that was acknowledged lies below the HW; followers hold a prefix of
the leader's log (the same batch objects). Replay a failure with the seed hypothesis prints.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.broker.harness import TP, DataPlane, batch, produce

OPS = st.one_of(
    st.tuples(st.just("pause"), st.sampled_from([2, 3])),
    st.tuples(st.just("resume"), st.sampled_from([2, 3])),
    st.tuples(st.just("crash"), st.sampled_from([2, 3])),
    st.tuples(st.just("restart"), st.sampled_from([2, 3])),
    st.tuples(st.just("produce"), st.sampled_from([1, -1])),
    st.tuples(st.just("run"), st.integers(1, 2_000)),
)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), ops=st.lists(OPS, min_size=1, max_size=30))
def test_hw_and_isr_invariants_under_follower_faults(seed: int, ops: list[tuple[str, int]]) -> None:
    dp = DataPlane(seed=seed, config={"replica.lag.time.max.ms": 1000})
    dp.create_topic("t", [(1, 2, 3)], {"min.insync.replicas": "2"})
    world = dp.world
    last_hw = 0
    acked: list[int] = []          # next offsets of acknowledged acks=all writes
    pending: dict[int, int] = {}   # correlation id -> acks
    for op, arg in ops:
        if op == "pause" and world.is_alive(arg):
            world.pause(arg)
        elif op == "resume" and world.is_alive(arg):
            world.resume(arg)
        elif op == "crash":
            world.crash(arg)
        elif op == "restart" and not world.is_alive(arg):
            dp.restart(arg)
        elif op == "produce":
            cid = dp.request(1, lambda c, acks=arg: produce(batch(2), acks, 5_000, c))
            pending[cid] = arg
        elif op == "run":
            dp.run(arg)
        for cid in [c for c in pending if c in dp.client.responses]:
            acks = pending.pop(cid)
            r = dp.client.responses[cid][2].responses[TP]
            if acks == -1 and r.error == "NONE":
                acked.append(r.base_offset + 2)
        leader = dp.partition(1)
        hw = leader.high_watermark
        assert hw >= last_hw, f"HW moved back from {last_hw} to {hw}"
        last_hw = hw
        for member in leader.isr:
            if world.is_alive(member):
                assert hw <= dp.partition(member).log_end_offset, (member, hw, leader.isr)
        assert all(end <= hw for end in acked), (acked, hw)
        leader_batches = leader.log.batches()
        for f in (2, 3):
            if world.is_alive(f):
                mine = dp.partition(f).log.batches() if TP in dp.server(f).rm.partitions else []
                assert all(a is b for a, b in zip(mine, leader_batches, strict=False))
                assert len(mine) <= len(leader_batches)
