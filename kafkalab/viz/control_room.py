"""``kl.viz.ControlRoom(cluster)``: a running cluster you can watch and break from a notebook, with ipywidgets.

How it works. The room is an ``ipywidgets.VBox`` over a :class:`~kafkalab.viz.room_model.RoomModel` (the logic, no
widgets): it creates a topic, a producer at a set rate and a consumer group on the cluster, then shows

- the topology (controllers, brokers, clients; the active controller, leaders, ISR, cut links, dead and paused
  nodes), a matplotlib PNG redrawn only when it changes;
- six live charts over virtual time (throughput, end-to-end latency p50/p99, lag per group, under-replicated and
  offline partitions, ISR sizes, the active controller and metadata epoch), inline SVG (see
  :mod:`kafkalab.viz.svg_plot` for why not matplotlib there);
- the partition table (leader, epoch, replicas, ISR, ELR, HW, LEO, and the LSO once the cluster reports one);
- controls: play/pause, step, pace; crash, power loss, restart, pause, resume and isolate for any server, heal;
  add and remove consumers of a group; the producer's rate; named scenarios; and the log of what was done.

Playing runs an asyncio task on the kernel's event loop (the one that also delivers widget messages): each frame
advances the simulation by ``pace`` times the wall time since the previous frame (or, at pace "max", by as many
short slices as fit in a wall budget), redraws, and sleeps until the next frame (``frame_s``, 0.15 s: about 6 frames
per second). A click is handled between frames, at the current virtual time, so it takes effect within one frame;
the same cluster can still be used from code cells. The wall clock is read here only (``clock``, injectable), to
size slices; the simulation never sees it, and the room's run is its action log (``room.actions``), which
:func:`kafkalab.viz.replay` turns back into the same trace. Tests drive the room without a browser or an event loop:
``step()``, the action methods, ``buttons[name].click()``.

Every public action method is also a button; a button's error (crashing a node that is down) shows in the room
instead of raising, the method raises it.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import ipywidgets as widgets
import pandas as pd

from kafkalab.viz.room_model import RoomModel
from kafkalab.viz.room_plots import RoomPlots, TopologyPicture, actions_html, partition_table_html
from kafkalab.viz.room_scenarios import SCENARIOS

__all__ = ["ControlRoom", "PACES"]

#: The pace slider: virtual seconds per wall second (None = as fast as the simulation runs).
PACES: tuple[tuple[str, float | None], ...] = (("0.1x", 0.1), ("0.25x", 0.25), ("0.5x", 0.5), ("1x", 1.0),
                                               ("2x", 2.0), ("5x", 5.0), ("10x", 10.0), ("50x", 50.0),
                                               ("max", None))
_FAULT_BUTTONS = (("crash", "crash", "bolt"), ("power_loss", "power loss", "plug"), ("restart", "restart", "redo"),
                  ("pause_node", "pause", "pause-circle"), ("resume_node", "resume", "play-circle"),
                  ("isolate", "isolate", "cut"), ("heal", "heal all", "medkit"))
_SCENARIO_LABELS = {"leader_failover": "leader failover", "rolling_restart": "rolling restart",
                    "scale_out": "scale-out", "network_partition": "network partition"}


class ControlRoom(widgets.VBox):
    """An interactive control room over ``cluster`` (a :class:`kafkalab.Cluster`).

    ``topic`` is created with ``partitions`` and ``replication_factor`` (default: min(3, brokers)) and
    ``topic_config`` (default ``min.insync.replicas=2``); one producer (``producer_config``, default ``acks=all``)
    sends ``producer_rate`` records per virtual second; ``consumers`` members of ``group`` consume it. ``pace`` is
    virtual seconds per wall second (None: as fast as possible). ``sample_ms`` is the charts' sampling period in
    virtual time, ``window_s`` how much of the past they show.
    """

    def __init__(self, cluster: Any, *, topic: str = "orders", partitions: int = 3,
                 replication_factor: int | None = None, topic_config: Mapping[str, Any] | None = None,
                 producer_config: Mapping[str, Any] | None = None, producer_rate: float = 200.0,
                 group: str = "billing", consumers: int = 2, pace: float | None = 1.0, sample_ms: float = 200.0,
                 window_s: float = 60.0, frame_s: float = 0.15, step_ms: float = 1000.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if pace is not None and (isinstance(pace, bool) or not isinstance(pace, int | float) or pace <= 0):
            raise ValueError(f"pace must be a number of virtual seconds per wall second > 0, or None for as fast as "
                             f"possible; got {pace!r}")
        if isinstance(consumers, bool) or not isinstance(consumers, int) or consumers < 0:
            raise ValueError(f"consumers must be an int >= 0, got {consumers!r}")
        if topic in cluster.topics(internal=True):
            raise ValueError(f"topic {topic!r} already exists on this cluster; the room creates its own topic: pass "
                             f"another name, e.g. topic={topic + '-room'!r}")
        super().__init__()
        self.model = RoomModel(cluster, sample_ms=sample_ms)
        self.cluster = cluster
        self.pace = pace
        self.frame_s = float(frame_s)
        self.step_ms = float(step_ms)
        self._clock = clock
        self._task: Any = None
        self._playing = False
        self.frames = 0
        self._frame_times: deque[float] = deque(maxlen=12)
        self.plots = RoomPlots(window_s=window_s)
        self.picture = TopologyPicture()
        self.error: str | None = None
        rf = replication_factor if replication_factor is not None else min(3, len(cluster.brokers))
        config = dict(topic_config) if topic_config is not None else {"min.insync.replicas": min(2, rf)}
        self.model.apply("create_topic", topic, {"partitions": partitions, "replication_factor": rf,
                                                 "config": config})
        self.model.apply("start_producer", topic, dict(producer_config or {"acks": "all"}))
        self.model.apply("producer_rate", None, producer_rate)
        for _ in range(consumers):
            self.model.apply("add_consumer", group)
        self._build(group, producer_rate)
        self.refresh()

    # ---- widgets ----------------------------------------------------------------------------------------------------
    def _build(self, group: str, rate: float) -> None:
        self.buttons: dict[str, widgets.Button] = {}
        self.play_button = widgets.ToggleButton(value=False, description="play", icon="play",
                                                tooltip="run the simulation at the chosen pace")
        self.play_button.add_class("room-play")
        self.play_button.observe(self._on_play, names="value")
        self._button("step", f"step {self.step_ms / 1000:g} s", "step-forward", lambda: self.step(self.step_ms))
        labels = [label for label, _ in PACES]
        current = next((label for label, p in PACES if p == self.pace), "1x")
        self.pace_slider = widgets.SelectionSlider(options=labels, value=current, description="pace",
                                                   continuous_update=True)
        self.pace_slider.observe(lambda ch: self.set_pace(dict(PACES)[ch["new"]]), names="value")
        self.status = widgets.HTML()
        self.status.add_class("room-status")
        servers = [(f"controller {c}", c) for c in self.cluster.controllers] + \
                  [(f"broker {b}", b) for b in self.cluster.brokers]
        self.node = widgets.Dropdown(options=servers, value=self.cluster.brokers[0], description="node",
                                     layout=widgets.Layout(width="220px"))
        self.node.add_class("room-node")
        self.node.observe(lambda _ch: self._enable_buttons(), names="value")
        for method, label, icon in _FAULT_BUTTONS:
            self._button(method, label, icon, self._on_node_button(method))
        self.group = widgets.Text(value=group, description="group", layout=widgets.Layout(width="220px"))
        self._button("add_consumer", "add consumer", "user-plus", lambda: self.add_consumer(self.group.value))
        self._button("remove_consumer", "remove consumer", "user-minus",
                     lambda: self.remove_consumer(self.group.value))
        self.rate = widgets.IntSlider(value=int(rate), min=0, max=2000, step=50, description="records/s",
                                      continuous_update=False)
        self.rate.observe(self._on_rate, names="value")
        for name, label in _SCENARIO_LABELS.items():
            self._button(f"scenario:{name}", label, "film", self._on_scenario_button(name), tooltip=SCENARIOS[name])
        self.topology_image = widgets.Image(format="png", layout=widgets.Layout(width="440px"))
        self.topology_image.add_class("room-topology")
        self.charts = widgets.HTML()
        self.charts.add_class("room-charts-widget")
        self.table = widgets.HTML()
        self.table.add_class("room-table")
        self.log_view = widgets.HTML()
        self.message = widgets.HTML()
        self.message.add_class("room-message")
        b = self.buttons
        row = widgets.HBox
        self.children = [
            row([self.play_button, b["step"], self.pace_slider, self.status]),
            row([self.node, *(b[m] for m, _, _ in _FAULT_BUTTONS)]),
            row([self.group, b["add_consumer"], b["remove_consumer"], self.rate]),
            row([widgets.HTML("<b>scenarios</b>&nbsp;"), *(b[f"scenario:{n}"] for n in _SCENARIO_LABELS)]),
            self.message,
            row([self.topology_image, widgets.VBox([self.table, self.log_view])]),
            self.charts,
        ]
        self.add_class("kafkalab-room")

    def _on_rate(self, change: Mapping[str, Any]) -> None:
        if self.model.producer is not None and change["new"] != self.model.producer.rate:
            self._guard(lambda: self.set_producer_rate(change["new"]))

    def _on_scenario_button(self, name: str) -> Callable[[], Any]:
        def handler() -> None:
            self.run_scenario(name)
        return handler

    def _on_node_button(self, method: str) -> Callable[[], Any]:
        fn = getattr(self, method)

        def handler() -> Any:
            return fn() if method == "heal" else fn(self.node.value)
        return handler

    def _button(self, name: str, label: str, icon: str, fn: Callable[[], Any], tooltip: str = "") -> None:
        button = widgets.Button(description=label, icon=icon, tooltip=tooltip or label,
                                layout=widgets.Layout(width="auto"))
        button.add_class(f"room-{name.replace(':', '-').replace('_', '-')}")
        button.on_click(lambda _b: self._guard(fn))
        self.buttons[name] = button

    def _guard(self, fn: Callable[[], Any]) -> None:
        """Run a button's action; show its error in the room instead of raising into the widget machinery."""
        try:
            fn()
            self.message.value = ""
        except Exception as exc:  # shown to the person who clicked, who can fix the input and click again
            self.message.value = f"<span style='color:#b00'>{type(exc).__name__}: {exc}</span>"
        self.refresh()

    # ---- actions (each also a button) --------------------------------------------------------------------------
    def _act(self, action: str, target: Any = None, value: Any = None) -> None:
        self.model.apply(action, target, value)
        self.refresh()

    def crash(self, node: Hashable) -> None:
        """Crash a server's process (a broker or a controller)."""
        self._act("crash", node)

    def power_loss(self, node: Hashable) -> None:
        """Crash a server and lose what its disk had not flushed."""
        self._act("power_loss", node)

    def restart(self, node: Hashable) -> None:
        """Start a crashed server again from its durable state."""
        self._act("restart", node)

    def pause_node(self, node: Hashable) -> None:
        """Freeze a server (SIGSTOP, a long GC pause) until :meth:`resume_node`."""
        self._act("pause", node)

    def resume_node(self, node: Hashable) -> None:
        self._act("resume", node)

    def isolate(self, node: Hashable) -> None:
        """Cut a server from every other server (clients keep their links)."""
        self._act("isolate", node)

    def heal(self) -> None:
        """Remove every network partition and isolation."""
        self._act("heal")

    def add_consumer(self, group: str | None = None) -> None:
        """One more consumer in ``group`` (default: the room's group)."""
        self._act("add_consumer", group if group is not None else self.group.value)

    def remove_consumer(self, group: str | None = None) -> None:
        """The newest consumer of ``group`` leaves gracefully."""
        self._act("remove_consumer", group if group is not None else self.group.value)

    def set_producer_rate(self, records_per_s: float) -> None:
        self._act("producer_rate", None, records_per_s)
        if self.rate.value != int(records_per_s) and records_per_s <= self.rate.max:
            self.rate.value = int(records_per_s)

    def run_scenario(self, name: str) -> None:
        """Start a named scenario (:data:`kafkalab.viz.room_scenarios.SCENARIOS`)."""
        self._act("scenario", name)

    def leader(self, partition: int = 0) -> int | None:
        """The current leader of a partition of the room's topic."""
        return self.cluster.leader_for(self.model.topic, partition)  # type: ignore[no-any-return]

    # ---- time ---------------------------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.model.now

    def step(self, ms: float | None = None) -> None:
        """Advance ``ms`` of virtual time (default: the step button's ``step_ms``) and redraw."""
        self.model.advance(self.step_ms if ms is None else ms)
        self.refresh()

    def run(self, ms: float, *, slice_ms: float = 1000.0) -> None:
        """Advance ``ms`` of virtual time in slices, redrawing after each (for code cells; no pacing)."""
        end = self.now + ms
        while self.now < end:
            self.model.advance(min(slice_ms, end - self.now))
            self.refresh()

    def set_pace(self, pace: float | None) -> None:
        """Virtual seconds per wall second (None: as fast as possible)."""
        if pace is not None and not pace > 0:
            raise ValueError(f"pace must be > 0 or None, got {pace!r}")
        self.pace = pace

    def frame(self, wall_elapsed_s: float) -> float:
        """One frame of play: advance by ``pace * wall_elapsed_s`` (or, at pace None, by as many 250 ms slices as fit
        in 70% of ``frame_s`` of wall time), then redraw. Returns the virtual ms advanced."""
        start = self.now
        budget_end = self._clock() + 0.7 * self.frame_s
        if self.pace is None:
            while True:
                self.model.advance(250.0)
                if self._clock() >= budget_end:
                    break
        else:
            target = self.now + min(self.pace * wall_elapsed_s * 1000.0, 60_000.0)
            while self.now < target:
                self.model.advance(min(250.0, target - self.now))
                if self._clock() >= budget_end:
                    break          # the simulation is slower than the pace asks: fall behind, stay responsive
        self.frames += 1
        self._frame_times.append(self._clock())
        self.refresh()
        return self.now - start

    @property
    def playing(self) -> bool:
        return self._playing

    def play(self) -> None:
        """Start playing on the running event loop (a Jupyter kernel's). RuntimeError without one."""
        if self._playing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        if not loop.is_running():
            raise RuntimeError("play() needs a running asyncio event loop, as in a Jupyter kernel; in a script use "
                               "room.run(ms) or room.step()")
        self._playing = True
        if not self.play_button.value:
            self.play_button.value = True
        self._task = loop.create_task(self._loop())

    def pause(self) -> None:
        """Stop playing (the simulation stays where it is)."""
        self._playing = False
        if self.play_button.value:
            self.play_button.value = False

    async def _loop(self) -> None:
        last = self._clock()
        try:
            while self._playing:
                started = self._clock()
                self.frame(started - last)
                last = started
                await asyncio.sleep(max(0.01, self.frame_s - (self._clock() - started)))
        except Exception as exc:    # a failed simulation stops playing and says why, in the room
            self.error = f"{type(exc).__name__}: {exc}"
            self.message.value = f"<span style='color:#b00'>stopped: {self.error}</span>"
            self.pause()

    def _on_play(self, change: Mapping[str, Any]) -> None:
        if change["new"]:
            self.play_button.description, self.play_button.icon = "pause", "pause"
            try:
                self.play()
            except RuntimeError as exc:
                self.message.value = f"<span style='color:#b00'>{exc}</span>"
                self.play_button.value = False
        else:
            self.play_button.description, self.play_button.icon = "play", "play"
            self.pause()

    # ---- views --------------------------------------------------------------------------------------------------
    @property
    def actions(self) -> pd.DataFrame:
        """Every action so far: time_ms, action, target, value (replay them with :func:`kafkalab.viz.replay`)."""
        return self.model.actions

    def samples(self) -> pd.DataFrame:
        """The charts' data: one row per sample (see :data:`kafkalab.viz.room_model.SAMPLE_COLUMNS`)."""
        return self.model.samples()

    def trace_digest(self) -> str:
        """SHA-256 of every simulation event since the room was created."""
        return self.model.trace_digest()

    def fps(self) -> float:
        """Frames per wall second over the last few frames while playing (0 before two frames)."""
        times = self._frame_times
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def refresh(self) -> None:
        """Redraw every view from the cluster's current state."""
        model = self.model
        now = model.now
        self.charts.value = self.plots.html(model.samples(), model.lag(), model.isr_sizes(), now)
        self.topology_image.value = self.picture.png(model.topology(), title="")
        self.table.value = partition_table_html(model.partition_table(), f"topic {model.topic!r}")
        lines = sorted([(a.time_ms, _describe(a.action, a.target, a.value)) for a in model.log[1:]] + model.notes,
                       key=lambda r: r[0])
        self.log_view.value = actions_html(lines)
        active = self.cluster.active_controller
        pace = next((label for label, p in PACES if p == self.pace), f"{self.pace}x")
        fps = f" &middot; {self.fps():.1f} frames/s" if self._playing else ""
        self.status.value = (f"<span class='room-clock'>t = <b>{now / 1000:.1f} s</b></span> virtual &middot; "
                             f"pace {pace}{fps} &middot; active controller {active}")
        self._enable_buttons()

    def _enable_buttons(self) -> None:
        node = self.node.value
        alive = self.cluster.is_alive(node)
        paused = node in self.model.paused
        state = {"crash": not alive, "power_loss": False, "restart": alive, "pause_node": not alive or paused,
                 "resume_node": not paused, "isolate": not alive}
        for name, disabled in state.items():
            self.buttons[name].disabled = disabled


def _describe(action: str, target: Any, value: Any) -> str:
    if action == "producer_rate":
        return f"producer rate {value:g} records/s"
    if action == "start_producer":
        return f"producer on {target} {value}"
    if action == "scenario":
        return f"scenario {target}"
    return f"{action.replace('_', ' ')} {'' if target is None else target}".strip()
