"""The worker group's assignors as Kafka computes them (KIP-415's IncrementalCooperativeAssignor, EagerAssignor):
join, leave with the scheduled delay, the delay at 0, revocation backoff, deleted and duplicated work."""
from kafkalab.connect.api import ConnectorTaskId as T
from kafkalab.connect.assignor import ConnectorsAndTasks as CT
from kafkalab.connect.assignor import IncrementalCooperativeAssignor, eager_assign


def run(assignor, now, configured, members, gen):
    return assignor.assign(now, configured, members, gen - 1, gen)


def state_after(members, result):
    """What each member runs after applying a round (assigned added, revoked removed)."""
    out = {}
    for m, cur in members.items():
        conns = [c for c in cur.connectors if c not in result.revoked[m].connectors] + list(result.assigned[m].connectors)
        tasks = [t for t in cur.tasks if t not in result.revoked[m].tasks] + list(result.assigned[m].tasks)
        out[m] = CT(tuple(conns), tuple(tasks))
    return out


def test_a_first_round_spreads_connectors_and_tasks_over_the_workers():
    a = IncrementalCooperativeAssignor(300_000)
    r = run(a, 0, {"c1": 4, "c2": 2}, {"w1": CT(), "w2": CT(), "w3": CT()}, 1)
    runs = {m: (len(x.connectors), len(x.tasks)) for m, x in state_after({"w1": CT(), "w2": CT(), "w3": CT()},
                                                                          r).items()}
    assert sorted(runs.values()) == [(0, 2), (1, 2), (1, 2)]
    assert r.delay == 0 and all(x.empty for x in r.revoked.values())


def test_a_joining_worker_gets_work_in_two_rounds_and_only_the_moved_task_stops():
    a = IncrementalCooperativeAssignor(300_000)
    two = {"w1": CT(), "w2": CT()}
    state = state_after(two, run(a, 0, {"c1": 4}, two, 1))
    state["w3"] = CT()                                               # a worker joins
    r = run(a, 10, {"c1": 4}, state, 2)
    revoked = [t for m in r.revoked for t in r.revoked[m].tasks]
    assert len(revoked) == 1                                           # one task revoked, nothing assigned yet
    assert all(x.empty for x in r.assigned.values())
    state = state_after(state, r)
    r2 = run(a, 20, {"c1": 4}, state, 3)                               # the follow-up rebalance hands it over
    assert list(r2.assigned["w3"].tasks) == revoked
    final = state_after(state, r2)
    assert sorted(len(x.tasks) for x in final.values()) == [1, 1, 2]


def test_a_departed_workers_work_waits_the_scheduled_delay_then_goes_to_the_others():
    a = IncrementalCooperativeAssignor(300_000)
    three = {"w1": CT(), "w2": CT(), "w3": CT()}
    state = state_after(three, run(a, 0, {"c1": 3}, three, 1))
    lost = state.pop("w3")
    r = run(a, 1_000, {"c1": 3}, state, 2)
    assert r.delay == 300_000                                           # nothing reassigned: it may come back
    assert all(x.empty for x in r.assigned.values())
    state = state_after(state, r)
    r = run(a, 150_000, {"c1": 3}, state, 3)                            # a rebalance meanwhile keeps the rest of it
    assert r.delay == 151_000 and all(x.empty for x in r.assigned.values())
    r = run(a, 301_000, {"c1": 3}, state, 4)                            # the delay ran out: spread over w1, w2
    given = sorted([*r.assigned["w1"].tasks, *r.assigned["w2"].tasks] + [c for m in r.assigned
                                                                        for c in r.assigned[m].connectors])
    assert sorted(lost.tasks) == [t for t in given if isinstance(t, T)]
    assert r.delay == 0


def test_a_worker_back_within_the_delay_gets_its_own_work_back():
    a = IncrementalCooperativeAssignor(300_000)
    three = {"w1": CT(), "w2": CT(), "w3": CT()}
    state = state_after(three, run(a, 0, {"c1": 3}, three, 1))
    lost = state.pop("w3")
    state = state_after(state, run(a, 1_000, {"c1": 3}, state, 2))
    state["w3"] = CT()                                                  # back, empty (a restart)
    r = run(a, 60_000, {"c1": 3}, state, 3)
    assert r.delay == 241_000 and r.assigned["w3"].empty                 # waits for the scheduled round
    state = state_after(state, r)
    r = run(a, 301_000, {"c1": 3}, state, 4)
    assert sorted(r.assigned["w3"].tasks) == sorted(lost.tasks)
    assert sorted(r.assigned["w3"].connectors) == sorted(lost.connectors)


def test_delay_zero_reassigns_lost_work_at_once():
    a = IncrementalCooperativeAssignor(0)
    three = {"w1": CT(), "w2": CT(), "w3": CT()}
    state = state_after(three, run(a, 0, {"c1": 3}, three, 1))
    lost = state.pop("w3")
    r = run(a, 1_000, {"c1": 3}, state, 2)
    assert r.delay == 0
    assert sorted(t for m in r.assigned for t in r.assigned[m].tasks) == sorted(lost.tasks)


def test_successive_revoking_rounds_back_off_exponentially():
    a = IncrementalCooperativeAssignor(300_000)
    one = {"w1": CT()}
    state = state_after(one, run(a, 0, {"c1": 6}, one, 1))
    state["w2"] = CT()
    r = run(a, 10, {"c1": 6}, state, 2)                                 # first revoking round: allowed
    assert sum(len(x.tasks) for x in r.revoked.values()) == 3
    state = state_after(state, r)
    state["w3"] = CT()                                                  # another join right after
    r = run(a, 20, {"c1": 6}, state, 3)
    assert r.delay == 40 and all(x.empty for x in r.revoked.values())    # backoff 1 ms x 40


def test_deleted_connectors_and_duplicated_tasks_are_revoked():
    a = IncrementalCooperativeAssignor(300_000)
    members = {"w1": CT(("c1",), (T("c1", 0), T("c2", 0))), "w2": CT(("c2",), (T("c2", 0),))}
    run(a, 0, {"c1": 1, "c2": 1}, {"w1": CT(), "w2": CT()}, 1)
    r = run(a, 10, {"c2": 1}, members, 2)
    assert "c1" in r.revoked["w1"].connectors and T("c1", 0) in r.revoked["w1"].tasks
    assert T("c2", 0) in r.revoked["w1"].tasks and T("c2", 0) in r.revoked["w2"].tasks   # running twice


def test_eager_deals_connectors_then_tasks_round_robin_over_sorted_members():
    out = eager_assign(["w2", "w1"], {"b": 2, "a": 1})
    assert out["w1"] == CT(("a",), (T("a", 0), T("b", 1)))
    assert out["w2"] == CT(("b",), (T("b", 0),))
