"""Java's HashMap/HashSet iteration orders as :mod:`kafkalab.connect.java_order` computes them, against answers
recorded from a real JVM (OpenJDK; ``new HashMap<>()`` filled by ``put``, ``new HashSet<>(list)``, and the
``LinkedHashMap`` that ``ConnectProtocol.Assignment.asMap`` builds)."""
import pytest

from kafkalab.connect.api import ConnectorTaskId as T
from kafkalab.connect.assignor import as_read, revoked_as_read
from kafkalab.connect.java_order import (
    bucket,
    copy_capacity,
    grown_capacity,
    hash_order,
    revoked_wire_order,
    spread,
    task_hash,
    wire_order,
)

# (keys in insertion order, HashMap order, HashSet-copy order), printed by the JVM
JAVA = [
    (["worker1", "worker2", "worker3", "worker4", "worker5", "worker6"],
     "worker6 worker1 worker2 worker3 worker4 worker5", "worker6 worker1 worker2 worker3 worker4 worker5"),
    (["connect-1-3f2a", "connect-2-99b1", "connect-3-0c4d"],
     "connect-1-3f2a connect-3-0c4d connect-2-99b1", "connect-1-3f2a connect-3-0c4d connect-2-99b1"),
    ([f"connector{i}" for i in range(1, 15)],
     "connector1 connector12 connector2 connector13 connector3 connector10 connector4 connector11 connector9 "
     "connector5 connector6 connector7 connector8 connector14", None),
    (["b", "a", "zz", "Aa", "BB", "é", "\U0001F600x"], "zz Aa BB a b \U0001F600x é", None),   # Aa, BB collide
    (["b", "1a0x0Az", "9", "-0", "A:9-by9ycB_", ":a_x99b:Ab9B", "90BAb", ":BbcA1-xc0", "A-0y:", "9_0x__1z",
      "ba_-9z-y", "0"],
     "0 b 1a0x0Az -0 A:9-by9ycB_ 9_0x__1z 90BAb 9 :BbcA1-xc0 ba_-9z-y A-0y: :a_x99b:Ab9B",
     "b 1a0x0Az -0 A:9-by9ycB_ :BbcA1-xc0 A-0y: :a_x99b:Ab9B 0 9_0x__1z 90BAb 9 ba_-9z-y"),   # 12 keys: 16 vs 32
]


@pytest.mark.parametrize("keys,as_map,as_copy", JAVA)
def test_hash_orders_match_the_jvm(keys, as_map, as_copy):
    assert " ".join(hash_order(keys)) == as_map
    assert " ".join(hash_order(keys, copy_capacity(len(keys)))) == (as_copy or as_map)


def test_connector_task_ids_hash_and_order_as_in_java():
    assert task_hash("src", 3) == 31 * 114148 + 3                          # "src".hashCode() = 114148
    tids = [T(c, i) for c in ("conn-a", "conn-b", "src") for i in range(6)]
    java = ("src-1 src-0 src-3 src-2 conn-b-0 conn-a-3 conn-b-4 conn-a-2 conn-b-3 conn-a-1 conn-b-2 conn-a-0 conn-b-1 "
            "src-5 src-4 conn-a-5 conn-a-4 conn-b-5")
    assert " ".join(f"{t.connector}-{t.task}" for t in hash_order(tids, copy_capacity(len(tids)))) == java


def test_capacities_and_spread():
    assert [grown_capacity(n) for n in (0, 12, 13, 24, 25)] == [16, 16, 32, 32, 64]
    assert [copy_capacity(n) for n in (0, 11, 12, 23, 24)] == [16, 16, 32, 32, 64]
    assert spread(-1) == 0xFFFF0000 and bucket(-1, 16) == 0
    assert spread(0x12345678) == 0x12345678 ^ 0x1234


def test_an_assignment_reads_back_in_the_wire_order():
    conns = ["sink-b", "src-a", "gen", "zeta", "alpha"]
    tasks = [T("zeta", 1), T("other", 0), T("src-a", 2), T("zeta", 0), T("other", 3), T("alpha", 5)]
    # the JVM's LinkedHashMap: {sink-b=[-1], zeta=[-1, 1, 0], src-a=[-1, 2], gen=[-1], alpha=[-1, 5], other=[0, 3]}
    c, t = wire_order(conns, tasks, T)
    assert c == ["sink-b", "zeta", "src-a", "gen", "alpha"]
    assert t == [T("zeta", 1), T("zeta", 0), T("src-a", 2), T("alpha", 5), T("other", 0), T("other", 3)]
    assert as_read(conns, tasks).connectors == tuple(c) and as_read(conns, tasks).tasks == tuple(t)
    rc, rt = revoked_wire_order(["b", "a", "b"], [T("c", 1), T("a", 0), T("c", 0)], T)
    assert rc == ["b", "a"] and rt == [T("a", 0), T("c", 1), T("c", 0)]
    assert revoked_as_read(["b", "a"], [T("a", 0)]).connectors == ("b", "a")
