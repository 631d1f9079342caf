"""Transaction anomalies and dependency cycles, after ``jepsen.tests.kafka`` (analysis steps 1, 4 and 8) and Elle.

A transaction is an ``f="txn"`` operation (``/work``'s shared history spec, recorded by the transactional producer):
its completion is ``ok`` (committed), ``fail`` (aborted) or ``info`` (unknown), carries its writes in ``reads`` as
(topic, partition, offset, key, value) and the consumer offsets it committed in ``offsets``. Polls of the processes
judged read_committed are read-only transactions.

- ``aborted_read``: a read_committed poll returned a write of an aborted transaction (KIP-98's promise).
- ``torn_transaction``: a read_committed process returned some writes of a committed transaction and, in two
  consecutive reads of a partition, stepped over the offset of another of its writes without returning it.
- ``precommitted_read``: a read_committed poll returned a transaction's write and completed before that transaction's
  last send was acknowledged. Sound in virtual time: the producer flushes every send before EndTxn, the coordinator
  writes the markers only after EndTxn, and the last stable offset moves only with the marker.
- Cycles (Adya via Elle): a graph whose nodes are transactions, acknowledged plain sends and read_committed polls.
  ``ww``: consecutive versions of a partition by different writers; ``wr``: the writer of the highest version a
  transaction read of a partition (a poll's highest offset, or the offset before one it committed with
  ``send_offsets_to_transaction``) to the reader; ``rw``: the reader to the writer of the next version. Versions are
  the partition's known offsets in order, without aborted transactions' writes. A transaction's committed offsets
  count as its reads when its transactional id or its producer process is judged read_committed (or all are). A
  cycle of ww edges only is ``G0``; of wr edges only ``G1c``; of ww and wr edges together ``G1c-ww``; through one
  rw edge ``G-single``, several ``G2``. One cycle is reported per strongly connected component and level, found
  with networkx.

Why G1c is judged on wr edges alone: Kafka does not isolate writes, so a ww edge orders two transactions' appends to
one partition, not their commits. T1 may append to a partition before T2 does while T2 commits first and T1 then
consumes T2's write: ``T1 -ww-> T2 -wr-> T1``, Adya's G1c, and legal Kafka (Jepsen's Kafka checker allows G1c when
it infers ww edges, for this reason; real runs of :func:`kafkalab.workloads.transactional.txn` show it). That is ``G1c-ww``,
reported but allowed. A cycle of wr edges alone is impossible at read_committed: T1 reading T2's write means T2's
commit marker came before T1's read, hence before T1's commit, hence before T2's read of T1, before T2's commit.
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kafkalab.check.analysis import Facts
    from kafkalab.check.history import Op

__all__ = ["txn_anomalies"]

Row = tuple[Any, ...]
Edge = tuple[int, int, str]


def txn_anomalies(facts: Facts, is_rc: Any, rows: list[Row]) -> list[list[Edge]]:
    """Append the transaction anomalies of ``facts`` to ``rows``; return the cycles found (as edge lists)."""
    by_op = {t.op: t for t in facts.txns}
    owner: dict[Any, Op] = {v: by_op[op_id] for v, op_id in facts.send_txn.items() if op_id in by_op}
    owner.update({w[4]: t for t in facts.txns for w in t.reads})
    acked_at: dict[Any, float] = {e.value: e.time_ms for _, e in facts.acked}
    _reads(facts, owner, acked_at, is_rc, rows)
    return _cycles(facts, owner, is_rc, rows)


def _row(kind: str, process: Any, write: tuple[Any, ...] | None, ops: tuple[int, ...], detail: str) -> Row:
    if write is None:
        return (kind, process, None, None, None, None, None, ops, detail)
    topic, partition, offset, key, value = write
    return (kind, process, topic, partition, key, value, offset, ops, detail)


def _reads(facts: Facts, owner: dict[Any, Op], acked_at: dict[Any, float], is_rc: Any, rows: list[Row]) -> None:
    last_ack = {t.op: max((acked_at.get(w[4], facts.invoked_at.get(t.op, t.time_ms)) for w in t.reads),
                          default=facts.invoked_at.get(t.op, t.time_ms)) for t in facts.txns}
    seen_by: dict[Any, dict[Any, int]] = defaultdict(dict)     # process -> value -> poll op that returned it
    for e in facts.sequence:
        if e.f != "poll" or not is_rc(e.process):
            continue
        for record in e.reads:
            value = record[4]
            seen_by[e.process].setdefault(value, e.op)
            txn = owner.get(value)
            if txn is None:
                continue
            if txn.type == "fail":
                rows.append(_row("aborted_read", e.process, record, (txn.op, e.op),
                                 f"transaction {txn.value!r} aborted ({txn.error})"))
            if e.time_ms < last_ack[txn.op]:
                rows.append(_row("precommitted_read", e.process, record, (txn.op, e.op),
                                 f"read at {e.time_ms:g} ms, before the transaction's last send was acknowledged "
                                 f"at {last_ack[txn.op]:g} ms"))
    for txn in facts.txns:
        if txn.type != "ok" or len(txn.reads) < 2:
            continue
        for process, seen in seen_by.items():
            if not any(w[4] in seen for w in txn.reads):
                continue
            for w in txn.reads:
                if w[4] in seen:
                    continue
                gap = _stepped_over(facts.gaps.get((process, (w[0], w[1])), []), w[2])
                if gap is not None:
                    rows.append(_row("torn_transaction", process, w, (txn.op, gap[2], gap[3]),
                                     f"read offsets {gap[0]} then {gap[1]} of {w[0]}-{w[1]}, stepping over this "
                                     f"write of committed transaction {txn.value!r}"))


def _stepped_over(gaps: list[tuple[int, int, int, int]], offset: int) -> tuple[int, int, int, int] | None:
    for gap in gaps:
        if gap[0] < offset < gap[1]:
            return gap
    return None


def _cycles(facts: Facts, owner: dict[Any, Op], is_rc: Any, rows: list[Row]) -> list[list[Edge]]:
    import networkx as nx

    aborted = {v for v, t in owner.items() if t.type == "fail"}
    writer: dict[Any, int] = {}
    for value, op_id in facts.writer.items():
        writer[value] = op_id
    writer.update(facts.send_txn)                 # a transaction's sends, even if it never completed
    for value, txn in owner.items():
        writer[value] = txn.op
    versions: dict[tuple[str, int], list[tuple[int, Any]]] = defaultdict(list)
    for (topic, partition, offset), value in facts.at_offset.items():
        if value not in aborted and value in writer:
            versions[(topic, partition)].append((offset, value))
    for vs in versions.values():
        vs.sort(key=lambda ov: ov[0])
    edges: dict[tuple[int, int], set[str]] = defaultdict(set)
    for vs in versions.values():
        for (_, a), (_, b) in zip(vs, vs[1:], strict=False):
            if writer[a] != writer[b]:
                edges[(writer[a], writer[b])].add("ww")

    def read_up_to(reader: int, tp: tuple[str, int], highest: int) -> None:
        vs = versions.get(tp)
        if not vs:
            return
        i = bisect.bisect_right(vs, highest, key=lambda ov: ov[0]) - 1
        if i >= 0 and writer[vs[i][1]] != reader:
            edges[(writer[vs[i][1]], reader)].add("wr")
        if i + 1 < len(vs) and writer[vs[i + 1][1]] != reader:
            edges[(reader, writer[vs[i + 1][1]])].add("rw")

    for e in facts.sequence:
        if e.f == "poll" and is_rc(e.process) and e.reads:
            highest: dict[tuple[str, int], int] = {}
            for topic, partition, offset, _k, _v in e.reads:
                highest[(topic, partition)] = max(offset, highest.get((topic, partition), -1))
            for tp, offset in highest.items():
                read_up_to(e.op, tp, offset)
    for txn in facts.txns:
        if txn.type != "fail" and (is_rc(txn.process) or is_rc(txn.value)):
            for tp, committed in txn.offsets.items():
                read_up_to(txn.op, tp, committed - 1)

    cycles: list[list[Edge]] = []
    levels = (("G0", {"ww"}, "ww"), ("G1c", {"wr"}, "wr"), ("G1c-ww", {"ww", "wr"}, "wr"),
              ("rw", {"ww", "wr", "rw"}, "rw"))
    for level, rels, need in levels:
        graph = nx.DiGraph()
        graph.add_edges_from(pair for pair, r in edges.items() if r & rels)
        for component in sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1):
            cycle = _cycle_through(graph, component, edges, need, rels)
            if cycle is None:
                continue
            used = {r for _, _, r in cycle}
            if level == "G1c-ww" and "ww" not in used:
                continue                    # a wr-only cycle: reported as G1c
            n_rw = sum(1 for _, _, r in cycle if r == "rw")
            kind = level if level != "rw" else ("G-single" if n_rw == 1 else "G2")
            cycles.append(cycle)
            text = " ".join(f"op {a} -{r}->" for a, _, r in cycle) + f" op {cycle[0][0]}"
            rows.append((kind, None, None, None, None, None, None, tuple(a for a, _, _ in cycle), text))
    return cycles


def _cycle_through(graph: Any, component: list[int], edges: dict[tuple[int, int], set[str]], need: str,
                   rels: set[str]) -> list[Edge] | None:
    """The shortest cycle inside ``component`` that uses an edge of relation ``need`` (None if there is none)."""
    import networkx as nx

    members = set(component)
    sub = graph.subgraph(component)
    best: list[int] | None = None
    for a, b in sorted(pair for pair, r in edges.items() if need in r and pair[0] in members and pair[1] in members):
        path = nx.shortest_path(sub, b, a)
        if best is None or len(path) < len(best):
            best = path
    if best is None:
        return None
    nodes = [best[-1], *best]                        # a -> b -> ... -> a
    out = []
    for x, y in zip(nodes, nodes[1:], strict=False):
        present = edges[(x, y)] & rels
        rel = need if (x, y) == (nodes[0], nodes[1]) else min(present, key=("ww", "wr", "rw").index)
        out.append((x, y, rel))
    return out
