"""Kafka's own vectors for the incremental cooperative assignor.

Two kinds. (1) Scenarios ported from Kafka's ``IncrementalCooperativeAssignorTest`` (same workers, connectors, task
counts, delays and expected allocations; its helpers ``performStandardRebalance``, ``applyAssignments``,
``assertConnectorAllocations`` ... are :class:`Harness`'s). (2) ``data/kafka_assignor_vectors.txt``: 25 random
multi-round scenarios (workers joining, leaving and bouncing, connectors added and removed, zombie duplicates,
failed rounds, generation mismatches, delays 0, 1, 5 s and 5 min) run through Kafka's ``IncrementalCooperativeAssignor``
class itself (compiled from Kafka's source with stub loggers and config state), with its exact answers: per worker
the newly assigned and revoked connectors and tasks *in order*, the delay, and the reassignment candidates in order.
kafkalab must reproduce them exactly, which it does only by walking workers, connectors and tasks in Kafka's
``HashMap``/``HashSet``/``LinkedHashSet`` orders (:mod:`kafkalab.connect.java_order`).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from kafkalab.connect.api import ConnectorTaskId as T
from kafkalab.connect.assignor import ConnectorsAndTasks as CT
from kafkalab.connect.assignor import IncrementalCooperativeAssignor

VECTORS = Path(__file__).parent / "data" / "kafka_assignor_vectors.txt"
DEFAULT_DELAY = 300_000


class Harness:
    """Kafka's test fixture: ``connector1`` and ``connector2`` with 4 tasks each, ``worker1``, generation 1000."""

    def __init__(self, delay: int = DEFAULT_DELAY) -> None:
        self.delay = delay
        self.connectors = {"connector1": 4, "connector2": 4}
        self.members: dict[str, tuple[list[str], list[T]]] = {}
        self.now = 1_700_000_000_000
        self.generation = 1000
        self.add_workers("worker1")
        self.init_assignor()
        self.result = None

    def init_assignor(self) -> None:
        self.assignor = IncrementalCooperativeAssignor(self.delay)
        self.assignor.previous_generation = self.generation

    def add_workers(self, *names: str) -> None:
        for name in names:
            self.add_worker(name, [], [])

    def add_worker(self, name: str, connectors: list[str], tasks: list[T]) -> None:
        assert name not in self.members
        self.members[name] = (list(connectors), list(tasks))

    def remove_workers(self, *names: str) -> None:
        for name in names:
            del self.members[name]

    def rebalance(self, *, failure: bool = False, mismatch: bool = False) -> None:
        self.generation += 1
        last = self.generation - 2 if mismatch else self.generation - 1
        self.result = self.assignor.assign(self.now, dict(self.connectors),
                                           {w: CT(tuple(c), tuple(t)) for w, (c, t) in self.members.items()},
                                           last, self.generation)
        if not failure:
            for w, (c, t) in self.members.items():
                rc, rt = set(self.result.revoked[w].connectors), set(self.result.revoked[w].tasks)
                c[:] = [x for x in c if x not in rc] + list(self.result.assigned[w].connectors)
                t[:] = [x for x in t if x not in rt] + list(self.result.assigned[w].tasks)

    def sleep(self, ms: int) -> None:
        self.now += ms

    # ---- Kafka's assertions ----------------------------------------------------------------------------------------
    def workers(self) -> set[str]:
        return set(self.result.assigned)

    def connector_allocations(self) -> list[int]:
        return sorted(len(c) for c, _ in self.members.values())

    def task_allocations(self) -> list[int]:
        return sorted(len(t) for _, t in self.members.values())

    def no_revocations(self) -> bool:
        return all(r.empty for r in self.result.revoked.values())

    def empty_assignment(self) -> bool:
        return self.no_revocations() and all(a.empty for a in self.result.assigned.values())

    def balanced_and_complete(self) -> bool:
        cs, ts = self.connector_allocations(), self.task_allocations()
        every_c = sorted(c for cc, _ in self.members.values() for c in cc)
        every_t = sorted(t for _, tt in self.members.values() for t in tt)
        return (cs[-1] - cs[0] <= 1 and ts[-1] - ts[0] <= 1 and every_c == sorted(self.connectors)
                and every_t == sorted(T(c, i) for c, n in self.connectors.items() for i in range(n)))


def test_task_assignment_when_worker_joins():
    h = Harness()
    h.rebalance()
    assert h.assignor.delay == 0 and h.workers() == {"worker1"}
    assert h.connector_allocations() == [2] and h.task_allocations() == [8] and h.balanced_and_complete()
    h.add_workers("worker2")
    h.rebalance()
    assert h.assignor.delay == 0 and h.workers() == {"worker1", "worker2"}
    assert h.connector_allocations() == [0, 1] and h.task_allocations() == [0, 4]
    h.rebalance()
    assert h.no_revocations() and h.assignor.delay == 0
    assert h.connector_allocations() == [1, 1] and h.task_allocations() == [4, 4] and h.balanced_and_complete()
    h.sleep(h.assignor.delay)
    h.rebalance()
    assert h.assignor.delay == 0 and h.empty_assignment()


def test_assignments_when_workers_join_after_revocations():
    h = Harness()
    h.connectors["connector3"] = 4
    h.rebalance()
    assert h.connector_allocations() == [3] and h.task_allocations() == [12] and h.balanced_and_complete()
    h.add_workers("worker2")
    h.rebalance()
    assert h.connector_allocations() == [0, 2] and h.task_allocations() == [0, 6]
    h.add_workers("worker3")                       # a successive revoking rebalance: no revocation, a delay
    h.rebalance()
    assert h.assignor.delay > 0
    assert h.connector_allocations() == [0, 1, 2] and h.task_allocations() == [3, 3, 6]
    h.sleep(h.assignor.delay)
    h.add_workers("worker4")
    h.rebalance()
    assert h.connector_allocations() == [0, 0, 1, 1] and h.task_allocations() == [0, 3, 3, 3]
    h.add_workers("worker5")
    h.rebalance()
    assert h.assignor.delay > 40
    assert h.connector_allocations() == [0, 0, 1, 1, 1] and h.task_allocations() == [1, 2, 3, 3, 3]
    h.sleep(h.assignor.delay)
    h.add_workers("worker6")
    h.rebalance()
    assert h.assignor.delay == 0
    assert h.connector_allocations() == [0, 0, 0, 1, 1, 1] and h.task_allocations() == [0, 1, 2, 2, 2, 2]
    h.rebalance()
    assert h.connector_allocations() == [0, 0, 0, 1, 1, 1] and h.task_allocations() == [2] * 6
    assert h.balanced_and_complete()


def test_immediate_revocations_when_max_delay_is_0():
    h = Harness(delay=0)
    h.connectors["connector3"] = 4
    h.rebalance()
    h.add_workers("worker2")
    h.rebalance()
    assert h.connector_allocations() == [0, 2] and h.task_allocations() == [0, 6]
    h.add_workers("worker3")
    h.rebalance()
    assert h.assignor.delay == 0
    assert h.connector_allocations() == [0, 1, 1] and h.task_allocations() == [3, 3, 4]
    h.rebalance()
    assert h.no_revocations()
    assert h.connector_allocations() == [1, 1, 1] and h.task_allocations() == [4, 4, 4] and h.balanced_and_complete()


def test_successive_revocations_when_max_delay_equals_the_backoffs_initial_interval():
    h = Harness(delay=1)
    h.connectors["connector3"] = 4
    h.rebalance()
    h.add_workers("worker2")
    h.rebalance()
    h.add_workers("worker3")
    h.rebalance()
    assert h.assignor.delay == 1
    assert h.connector_allocations() == [0, 1, 2] and h.task_allocations() == [3, 3, 6]


def test_worker_joining_during_delayed_rebalance():
    h = Harness()
    h.connectors["connector3"] = 4
    h.rebalance()
    h.add_workers("worker2")
    h.rebalance()
    h.add_workers("worker3")
    h.rebalance()
    assert h.assignor.delay > 0 and h.no_revocations()
    assert h.connector_allocations() == [0, 1, 2] and h.task_allocations() == [3, 3, 6]
    h.sleep(h.assignor.delay // 2)
    h.add_workers("worker4")
    h.rebalance()
    assert h.assignor.delay > 0 and h.no_revocations()
    assert h.connector_allocations() == [0, 0, 1, 2] and h.task_allocations() == [0, 3, 3, 6]
    h.sleep(h.assignor.delay)
    h.add_workers("worker5")
    h.rebalance()
    assert h.assignor.delay == 0
    assert h.connector_allocations() == [0, 0, 0, 1, 1] and h.task_allocations() == [0, 0, 2, 3, 3]
    h.rebalance()
    assert h.assignor.delay == 0 and h.no_revocations()
    assert h.connector_allocations() == [0, 0, 1, 1, 1] and h.task_allocations() == [2, 2, 2, 3, 3]
    assert h.balanced_and_complete()


@pytest.mark.parametrize("comes_back", [False, True])
def test_task_assignment_when_worker_leaves_permanently_or_bounces(comes_back):
    h = Harness()
    h.add_workers("worker2")
    h.rebalance()
    assert h.connector_allocations() == [1, 1] and h.task_allocations() == [4, 4]
    h.remove_workers("worker2")
    h.rebalance()
    assert h.assignor.delay == DEFAULT_DELAY and h.workers() == {"worker1"} and h.empty_assignment()
    h.sleep(DEFAULT_DELAY // 2)
    h.rebalance()
    assert h.assignor.delay == DEFAULT_DELAY // 2 and h.empty_assignment()
    if comes_back:
        h.sleep(DEFAULT_DELAY // 4)
        h.add_workers("worker2")
        h.rebalance()
        assert h.assignor.delay == DEFAULT_DELAY // 4 and h.empty_assignment()
        h.sleep(DEFAULT_DELAY // 4)
        h.rebalance()
        assert h.assignor.delay == 0 and h.no_revocations()
        assert h.connector_allocations() == [1, 1] and h.task_allocations() == [4, 4]
    else:
        h.sleep(DEFAULT_DELAY // 2 + 1)
        h.rebalance()
        assert h.assignor.delay == 0 and h.connector_allocations() == [2] and h.task_allocations() == [8]
    assert h.balanced_and_complete()


def test_task_assignment_when_leader_bounces():
    h = Harness()
    h.add_workers("worker2", "worker3")
    h.rebalance()
    assert h.connector_allocations() == [0, 1, 1] and h.task_allocations() == [2, 3, 3]
    h.remove_workers("worker1")
    h.init_assignor()                                  # a new leader starts afresh
    h.rebalance()
    assert h.assignor.delay == 0 and h.workers() == {"worker2", "worker3"}
    assert h.connector_allocations() == [1, 1] and h.task_allocations() == [4, 4]
    h.add_workers("worker1")
    h.rebalance()
    assert h.connector_allocations() == [0, 1, 1] and h.task_allocations() == [0, 3, 3]
    h.rebalance()
    assert h.no_revocations() and h.connector_allocations() == [0, 1, 1] and h.task_allocations() == [2, 3, 3]
    assert h.balanced_and_complete()


@pytest.mark.parametrize("mismatch", [False, True])
def test_task_assignment_when_a_subsequent_assignment_attempt_fails(mismatch):
    h = Harness()
    h.add_workers("worker2")
    h.rebalance()
    h.add_workers("worker3")
    h.rebalance(failure=True)
    assert h.assignor.delay == 0 and h.workers() == {"worker1", "worker2", "worker3"}
    assert h.connector_allocations() == [0, 1, 1] and h.task_allocations() == [0, 4, 4]
    h.rebalance(mismatch=mismatch)
    assert h.assignor.delay > 0
    assert h.connector_allocations() == [0, 1, 1] and h.task_allocations() == [0, 4, 4]
    h.sleep(h.assignor.delay)
    h.rebalance()
    assert h.connector_allocations() == [0, 1, 1] and h.task_allocations() == [0, 3, 3]
    h.rebalance()
    assert h.connector_allocations() == [0, 1, 1] and h.task_allocations() == [2, 3, 3] and h.balanced_and_complete()


def test_task_assignment_when_connectors_are_deleted():
    h = Harness()
    h.connectors["connector3"] = 4
    h.add_workers("worker2")
    h.rebalance()
    assert h.connector_allocations() == [1, 2] and h.task_allocations() == [6, 6]
    del h.connectors["connector3"]
    h.rebalance()
    assert h.connector_allocations() == [1, 1] and h.task_allocations() == [4, 4] and h.balanced_and_complete()


def test_task_assignment_when_tasks_are_duplicated_in_a_workers_assignment():
    h = Harness()
    h.rebalance()
    h.add_worker("worker2", ["connector1"], [T("connector1", i) for i in range(4)])
    h.rebalance()
    assert h.workers() == {"worker1", "worker2"}
    assert h.connector_allocations() == [0, 1] and h.task_allocations() == [0, 4]
    h.rebalance()
    assert h.no_revocations() and h.connector_allocations() == [1, 1] and h.task_allocations() == [4, 4]
    h.rebalance()
    assert h.empty_assignment()


def test_duplicated_assignments_that_were_deleted():
    h = Harness()
    h.rebalance()
    del h.connectors["connector1"]
    h.add_worker("worker2", ["connector1"], [T("connector1", i) for i in range(4)])
    h.rebalance()
    assert h.connector_allocations() == [0, 1] and h.task_allocations() == [0, 2]
    h.rebalance()
    assert h.no_revocations() and h.connector_allocations() == [0, 1] and h.task_allocations() == [2, 2]
    h.sleep(h.assignor.delay)
    h.rebalance()
    assert h.empty_assignment()


def test_scheduled_delay_disabled_reassigns_a_departed_workers_work_at_once():
    h = Harness(delay=0)
    h.add_workers("worker2")
    h.rebalance()
    h.remove_workers("worker2")
    h.rebalance()
    assert h.assignor.delay == 0 and h.connector_allocations() == [2] and h.task_allocations() == [8]


# ---- the vectors from Kafka's own class ----------------------------------------------------------------------------
def _parse_list(text: str, tasks: bool) -> tuple:
    if not text:
        return ()
    if not tasks:
        return tuple(text.split(","))
    return tuple(T(x.rsplit("/", 1)[0], int(x.rsplit("/", 1)[1])) for x in text.split(","))


def _fmt(xs) -> str:
    return ",".join(f"{x.connector}/{x.task}" if isinstance(x, T) else x for x in xs)


def _scenarios() -> list[list[str]]:
    out: list[list[str]] = []
    for line in VECTORS.read_text(encoding="utf-8").splitlines():
        if line.startswith("NEW "):
            out.append([])
        if out and line and not line.startswith("#"):
            out[-1].append(line)
    return out


@pytest.mark.parametrize("index", range(25))
def test_kafkas_own_assignor_answers_exactly_these_orders(index):
    lines = _scenarios()[index]
    assignor = None
    rounds = 0
    i = 0
    while i < len(lines):
        parts = lines[i].split(" ")
        if parts[0] == "NEW":
            assignor = IncrementalCooperativeAssignor(int(parts[1]))
            assignor.previous_generation = int(parts[2])
            i += 1
            continue
        assert parts[0] == "ROUND", lines[i]
        now, last, gen = int(parts[1]), int(parts[2]), int(parts[3])
        conf = {kv.split(":")[0]: int(kv.split(":")[1]) for kv in lines[i + 1].split(" ")[1:] if kv}
        i += 2
        members = {}
        while lines[i].startswith("MEMBER "):
            name, conns, tasks = lines[i][7:].split("|")
            members[name] = CT(_parse_list(conns, False), _parse_list(tasks, True))
            i += 1
        assert lines[i] == "END"
        i += 1
        expected = []
        while lines[i] != "DONE":
            expected.append(lines[i])
            i += 1
        i += 1
        result = assignor.assign(now, conf, members, last, gen)
        got = [f"DELAY {assignor.delay}"]
        got += [f"W {w} A {_fmt(result.assigned[w].connectors)}|{_fmt(result.assigned[w].tasks)} "
                f"R {_fmt(result.revoked[w].connectors)}|{_fmt(result.revoked[w].tasks)}" for w in sorted(members)]
        got.append("CAND " + ",".join(assignor.candidates))
        assert got == expected, f"scenario {index}, round {rounds}"
        rounds += 1
    assert rounds >= 4
