"""The picture of a cluster: controllers, brokers, clients, partition leadership and ISR, and the links a fault cut.

:func:`topology_graph` builds a networkx graph from plain data (so it can be tested and reused); :func:`draw_topology`
lays it out in three rows (controllers on top, brokers in the middle, clients below) and draws it on a matplotlib
``Figure`` (object API, never pyplot). Each broker is labelled with the partitions it leads (bold) and follows; a
broker outside some ISR it should be in is drawn with a red edge; a crashed node is grey; a paused one (SIGSTOP) is
light blue and labelled "paused"; the active controller is gold; a cut link is a dashed red line.

The layout is fixed by node order, not by a force simulation, so the same cluster always draws the same picture.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from matplotlib.figure import Figure

__all__ = ["PartitionView", "TopologyView", "topology_graph", "draw_topology"]


@dataclass(frozen=True, slots=True)
class PartitionView:
    topic: str
    partition: int
    leader: int | None
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.partition}"


@dataclass
class TopologyView:
    """Everything the drawing needs, as data."""

    controllers: Sequence[Hashable]
    brokers: Sequence[Hashable]
    clients: Sequence[Hashable] = ()
    active_controller: Hashable | None = None
    down: Iterable[Hashable] = ()
    cuts: Iterable[tuple[Hashable, Hashable]] = ()
    partitions: Sequence[PartitionView] = field(default_factory=list)
    paused: Iterable[Hashable] = ()


def topology_graph(view: TopologyView) -> nx.Graph:
    """Nodes with attributes ``role`` (controller/broker/client), ``alive``, ``active``, ``leads``, ``follows``,
    ``out_of_isr``; edges for the links between servers and from clients to brokers, with ``cut=True`` where a fault
    separated them (in either direction)."""
    g = nx.Graph()
    down = set(view.down)
    paused = set(view.paused)
    leads: dict[Hashable, list[str]] = {b: [] for b in view.brokers}
    follows: dict[Hashable, list[str]] = {b: [] for b in view.brokers}
    out_of_isr: dict[Hashable, list[str]] = {b: [] for b in view.brokers}
    for p in view.partitions:
        for r in p.replicas:
            if r not in leads:
                continue
            if r == p.leader:
                leads[r].append(p.name)
            else:
                follows[r].append(p.name)
            if r not in p.isr:
                out_of_isr[r].append(p.name)
    for c in view.controllers:
        g.add_node(c, role="controller", alive=c not in down, active=c == view.active_controller,
                   paused=c in paused)
    for b in view.brokers:
        g.add_node(b, role="broker", alive=b not in down, active=False, leads=leads[b], follows=follows[b],
                   out_of_isr=out_of_isr[b], paused=b in paused)
    for c in view.clients:
        g.add_node(c, role="client", alive=c not in down, active=False, paused=c in paused)
    cut = {frozenset(pair) for pair in view.cuts}
    servers = list(view.controllers) + list(view.brokers)
    for i, a in enumerate(servers):
        for b in servers[i + 1:]:
            g.add_edge(a, b, cut=frozenset((a, b)) in cut)
    for c in view.clients:
        for b in view.brokers:
            g.add_edge(c, b, cut=frozenset((c, b)) in cut)
    return g


def _row(nodes: Sequence[Hashable], y: float) -> dict[Hashable, tuple[float, float]]:
    n = len(nodes)
    return {node: ((i + 1) / (n + 1), y) for i, node in enumerate(nodes)}


def draw_topology(view: TopologyView, fig: Figure | None = None, title: str | None = None,
                  max_partitions_listed: int = 6) -> Figure:
    """Draw the cluster; returns the figure (a new 8x5 in one unless given)."""
    g = topology_graph(view)
    fig = fig if fig is not None else Figure(figsize=(8, 5))
    fig.clear()
    ax = fig.add_subplot(1, 1, 1)
    pos: dict[Hashable, Any] = {}
    pos.update(_row(list(view.controllers), 0.85))
    pos.update(_row(list(view.brokers), 0.5))
    pos.update(_row(list(view.clients), 0.12))
    healthy = [(a, b) for a, b, d in g.edges(data=True) if not d["cut"]]
    cut = [(a, b) for a, b, d in g.edges(data=True) if d["cut"]]
    nx.draw_networkx_edges(g, pos, edgelist=healthy, ax=ax, edge_color="#c8c8c8", width=0.8)
    nx.draw_networkx_edges(g, pos, edgelist=cut, ax=ax, edge_color="#d62728", style="dashed", width=1.5)
    colors = {"controller": "#9ecae1", "broker": "#a1d99b", "client": "#fdd0a2"}
    for role in ("controller", "broker", "client"):
        nodes = [n for n, d in g.nodes(data=True) if d["role"] == role]
        if not nodes:
            continue
        fill = ["#bdbdbd" if not g.nodes[n]["alive"] else "#c6dbef" if g.nodes[n]["paused"]
                else "#fdae6b" if g.nodes[n]["active"] else colors[role] for n in nodes]
        edge = ["#d62728" if g.nodes[n].get("out_of_isr") else "#636363" for n in nodes]
        nx.draw_networkx_nodes(g, pos, nodelist=nodes, ax=ax, node_color=fill, edgecolors=edge, linewidths=1.5,
                               node_size=1400 if role != "client" else 900,
                               node_shape="s" if role == "controller" else "o")
    labels = {n: f"{n}\n{'down' if not d['alive'] else 'paused' if d['paused'] else ''}".strip()
              for n, d in g.nodes(data=True)}
    nx.draw_networkx_labels(g, pos, labels=labels, ax=ax, font_size=9)
    for b in view.brokers:
        d = g.nodes[b]
        lines = []
        if d["leads"]:
            shown = d["leads"][:max_partitions_listed]
            lines.append("leads " + ", ".join(shown) + (" ..." if len(d["leads"]) > len(shown) else ""))
        if d["follows"]:
            lines.append(f"follows {len(d['follows'])}")
        if d["out_of_isr"]:
            lines.append(f"out of ISR {len(d['out_of_isr'])}")
        if lines:
            x, y = pos[b]
            ax.text(x, y - 0.09, "\n".join(lines), ha="center", va="top", fontsize=7)
    ax.text(0.01, 0.85, "controllers", fontsize=8, color="#636363", va="center")
    ax.text(0.01, 0.5, "brokers", fontsize=8, color="#636363", va="center")
    if view.clients:
        ax.text(0.01, 0.12, "clients", fontsize=8, color="#636363", va="center")
    ax.set_xlim(0, 1)
    ax.set_ylim(0.02, 0.95)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    return fig
