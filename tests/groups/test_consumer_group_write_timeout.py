"""KIP-848 writes time out after ``offsets.commit.timeout.ms`` as Kafka's ``CoordinatorRuntime`` makes every
``CoordinatorWriteEvent`` do: the waiting ConsumerGroupHeartbeat is answered COORDINATOR_NOT_AVAILABLE
(REQUEST_TIMED_OUT as ``handleOperationException`` maps it), nothing is rolled back, and once the high watermark passes
the records the group's committed view shows them, as a replay of the log does."""
from __future__ import annotations

from typing import Any

from kafkalab.groups.consumer_group import ConsumerGroupManager
from kafkalab.protocol.consumer_group import ConsumerGroupHeartbeatResponse
from tests.groups.test_consumer_group import Client, G, _assignors, request, setup, three_stable


def _send(mgr: ConsumerGroupManager, now_ms: float, **fields: Any) -> list[ConsumerGroupHeartbeatResponse]:
    got: list[ConsumerGroupHeartbeatResponse] = []
    mgr.heartbeat(0, request(**fields), now_ms, got.append)
    return got


def _fire(port: Any, mgr: ConsumerGroupManager, name: str) -> float:
    """Fire timer ``name`` at its time, as the broker does (the timer is gone once it fired); returns the time."""
    at = port.timers.pop(name)
    mgr.on_timer(name, at)
    return float(at)


def _members(mgr: ConsumerGroupManager) -> list[str]:
    desc = mgr.describe_group(G)
    return [] if desc is None else sorted(m["member_id"] for m in desc["members"])


def test_a_join_whose_write_does_not_commit_is_answered_coordinator_not_available_after_5_s() -> None:
    port, mgr, _ = three_stable()
    port.hold = True
    got = _send(mgr, 1_000, member_id="d")
    assert got == [] and port.timers["cg:write:0:1"] == 6_000
    assert _fire(port, mgr, "cg:write:0:1") == 6_000
    assert [(r.error, r.error_message) for r in got] == [("COORDINATOR_NOT_AVAILABLE", None)]
    assert "cg:write:0:1" not in port.timers
    assert ("consumer_group_write_timeouts", 1) in port.metrics


def test_the_timed_out_join_is_kept_and_shows_once_the_high_watermark_passes_it() -> None:
    port, mgr, _ = three_stable()
    committed = mgr.describe_group(G)
    port.hold = True
    first = _send(mgr, 1_000, member_id="d")
    _fire(port, mgr, "cg:write:0:1")
    assert first[0].error == "COORDINATOR_NOT_AVAILABLE"
    assert mgr.describe_group(G) == committed          # the committed view: d is not there yet
    # the member retries its join (epoch 0, same member id): the group still has d at epoch 4 (nothing was rolled
    # back), and the answer waits for the writes in flight
    retry = _send(mgr, 6_100, member_id="d")
    assert retry == []
    while port.held:                                   # the high watermark passes the records
        port.release()
    assert len(first) == 1                             # answered once
    assert retry[0].error == "NONE" and retry[0].member_epoch == 4 and retry[0].member_id == "d"
    assert _members(mgr) == ["a", "b", "c", "d"]
    assert "cg:write:0:2" not in port.timers           # the retry's time-out went with its answer
    # a coordinator that replays the committed log rebuilds the same group
    replayed = ConsumerGroupManager(port, {}, assignors=_assignors())
    for key, value in port.read(0):
        replayed.replay(0, key, value)
    assert replayed.describe_group(G) == mgr.describe_group(G)


def test_a_heartbeat_that_writes_nothing_times_out_behind_a_hung_write() -> None:
    port, mgr, clients = three_stable()
    port.hold = True
    _send(mgr, 0, member_id="d")                       # hangs
    noop: list[ConsumerGroupHeartbeatResponse] = []
    mgr.heartbeat(0, request(member_id="a", member_epoch=clients[0].epoch, topic_partitions=None), 2_000,
                  noop.append)
    assert noop == [] and port.timers["cg:write:0:2"] == 7_000
    _fire(port, mgr, "cg:write:0:1")
    assert noop == []
    _fire(port, mgr, "cg:write:0:2")
    assert [r.error for r in noop] == ["COORDINATOR_NOT_AVAILABLE"]
    port.release()
    assert len(noop) == 1


def test_the_time_out_follows_offsets_commit_timeout_ms() -> None:
    port, mgr = setup(**{"offsets.commit.timeout.ms": 1_500})
    port.hold = True
    assert _send(mgr, 100, member_id="a") == []
    assert port.timers["cg:write:0:1"] == 1_600


def test_a_write_committed_in_time_answers_once_and_cancels_its_time_out() -> None:
    port, mgr = setup()
    port.hold = True
    got = _send(mgr, 0, member_id="a")
    port.release()
    assert [r.member_epoch for r in got] == [1]
    assert not [t for t in port.timers if t.startswith("cg:write:")]


def test_a_write_that_fails_after_timing_out_rolls_back_without_answering_twice() -> None:
    port, mgr, _ = three_stable()
    committed = mgr.describe_group(G)
    port.hold = True
    got = _send(mgr, 0, member_id="d")
    _fire(port, mgr, "cg:write:0:1")
    port.release("NOT_LEADER_OR_FOLLOWER")             # Kafka reverts the state of a write whose append failed
    assert [r.error for r in got] == ["COORDINATOR_NOT_AVAILABLE"]
    assert mgr.describe_group(G) == committed
    port.hold = False
    assert Client(mgr, "d").heartbeat() is not None and "d" in _members(mgr)


def test_unloading_answers_not_coordinator_once_and_cancels_the_time_out() -> None:
    port, mgr, _ = three_stable()
    port.hold = True
    got = _send(mgr, 0, member_id="d")
    mgr.unload(0)
    assert [r.error for r in got] == ["NOT_COORDINATOR"]
    assert not [t for t in port.timers if t.startswith("cg:")]
    mgr.on_timer("cg:write:0:1", 5_000)                # a late firing finds nothing
    assert len(got) == 1


def test_a_timed_out_session_expiry_keeps_the_member_removed_and_its_retry_writes_nothing() -> None:
    """Kafka's coordinator timer retries a failed write after 500 ms; here the fencing timed out but stays applied,
    so the retry finds the member gone."""
    port, mgr, _ = three_stable()
    port.hold = True
    assert _fire(port, mgr, "cg:session:g:b") == 45_000   # b's session expired: its removal is written, and hangs
    appends = len(port.appends)
    assert _fire(port, mgr, "cg:write:0:1") == 50_000
    assert _fire(port, mgr, "cg:session:g:b") == 50_500   # retried 500 ms after the time-out
    assert len(port.appends) == appends                # nothing more to write: b is gone
    assert "b" in _members(mgr)                        # not committed yet
    port.release()
    assert _members(mgr) == ["a", "c"]
