"""A fake :class:`~kafkalab.groups.coordinator.CoordinatorPort` for coordinator tests: no simulator, no broker.

- ``sent`` collects ``(dst, msg)``; :meth:`FakePort.take` returns and clears the answers (optionally for one dst).
- Timers are a dict ``name -> at_ms``; :meth:`FakePort.advance` fires the due ones in (time, name) order, the way the
  broker calls ``coordinator.on_timer``, and moves ``now``.
- Appends: with ``auto_commit=True`` a write is committed at once (callback "NONE"); otherwise it waits in
  ``pending`` until :meth:`FakePort.complete_writes` commits it or fails it with an error name. The log (``logs``,
  shareable between two ports to model a failover) holds only committed records, in order, as a new leader would
  read them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["FakePort", "Driver", "make_coordinator"]


class FakePort:
    def __init__(self, *, logs: dict[int, list[tuple[bytes, Any]]] | None = None, auto_commit: bool = True,
                 topics: Mapping[str, int] | None = None, now_ms: float = 0.0) -> None:
        self.logs: dict[int, list[tuple[bytes, Any]]] = {} if logs is None else logs
        self.auto_commit = auto_commit
        self.topics = dict(topics or {})
        self.now = now_ms
        self.sent: list[tuple[Any, Any]] = []
        self.timers: dict[str, float] = {}
        self.pending: list[tuple[int, list[tuple[bytes, Any]], Callable[[str], None]]] = []
        self.metrics: list[tuple[str, Any, dict[str, Any]]] = []
        self.appends = 0

    # ---- the port ----------------------------------------------------------------------------------------------
    def now_ms(self) -> float:
        return self.now

    def send(self, dst: Any, msg: Any) -> None:
        self.sent.append((dst, msg))

    def set_timer(self, name: str, at_ms: float) -> None:
        self.timers[name] = at_ms

    def cancel_timer(self, name: str) -> None:
        self.timers.pop(name, None)

    def append(self, partition: int, records: Sequence[tuple[bytes, Any]], callback: Callable[[str], None]) -> None:
        for key, value in records:
            assert isinstance(key, bytes), key
            assert value is None or isinstance(value, bytes) or callable(getattr(value, "serialized_size", None))
        self.appends += 1
        self.pending.append((partition, list(records), callback))
        if self.auto_commit:
            self.complete_writes()

    def read(self, partition: int) -> Iterable[tuple[bytes, Any]]:
        return list(self.logs.get(partition, []))

    def topic_partitions(self) -> Mapping[str, int]:
        return dict(self.topics)

    def record(self, metric: str, value: Any, **labels: Any) -> None:
        self.metrics.append((metric, value, labels))

    # ---- test controls -----------------------------------------------------------------------------------------
    def complete_writes(self, error: str = "NONE", count: int | None = None) -> int:
        """Commit (or fail with ``error``) the oldest ``count`` pending writes (all by default); returns how many."""
        done = 0
        while self.pending and (count is None or done < count):
            partition, records, callback = self.pending.pop(0)
            if error == "NONE":
                self.logs.setdefault(partition, []).extend(records)
            done += 1
            callback(error)
        return done

    def advance(self, coordinator: Any, to_ms: float) -> None:
        """Fire every timer due by ``to_ms`` (including ones armed meanwhile), then set ``now`` to ``to_ms``."""
        while True:
            due = [(at, name) for name, at in self.timers.items() if at <= to_ms]
            if not due:
                break
            at, name = min(due)
            del self.timers[name]
            self.now = max(self.now, at)
            coordinator.on_timer(name, self.now)
        self.now = max(self.now, to_ms)

    def take(self, dst: Any = None) -> list[Any]:
        """The messages sent (to ``dst`` only, if given), removed from ``sent``."""
        taken = [m for d, m in self.sent if dst is None or d == dst]
        self.sent = [(d, m) for d, m in self.sent if dst is not None and d != dst]
        return taken

    def last(self, dst: Any) -> Any:
        """The one message sent to ``dst`` since the last take; fails if there is not exactly one."""
        msgs = self.take(dst)
        assert len(msgs) == 1, f"expected one message to {dst!r}, got {msgs!r}"
        return msgs[0]


# ---- a driver for the classic protocol, shared by the coordinator tests ------------------------------------------
def make_coordinator(port: FakePort | None = None, broker_id: int = 1, *, load: bool = True,
                     consumer_manager_factory: Any = None, **overrides: Any) -> Any:
    """A GroupCoordinator with one ``__consumer_offsets`` partition (so every group is on partition 0), loaded."""
    from kafkalab.config import resolve
    from kafkalab.groups.coordinator import GroupCoordinator

    config = {"offsets.topic.num.partitions": 1, **{k.replace("_", "."): v for k, v in overrides.items()}}
    coordinator = GroupCoordinator(broker_id, port or FakePort(), resolve("broker", config),
                                   consumer_manager_factory=consumer_manager_factory or (lambda p, c: None))
    if load:        # become leader of partition 0 and wait out the (modelled) load time
        port = coordinator.port
        coordinator.on_become_leader(0, 1, port.now)
        port.advance(coordinator, port.timers.get("gc:load:0", port.now))
    return coordinator


class Driver:
    """Sends classic-group requests from named clients and returns the answers (``None`` while parked)."""

    def __init__(self, coordinator: Any, group_id: str = "g") -> None:
        from kafkalab.protocol import group as m
        self.m = m
        self.c = coordinator
        self.port: FakePort = coordinator.port
        self.group_id = group_id
        self.correlation = 0

    def _send(self, src: str, req: Any) -> Any:
        self.c.handle(src, req, self.port.now)
        msgs = self.port.take(src)
        assert len(msgs) <= 1, msgs
        return msgs[0] if msgs else None

    def join(self, src: str, member_id: str = "", *, instance_id: str | None = None, topics: tuple[str, ...] = ("t",),
             protocols: tuple[str, ...] = ("range",), session_ms: int = 10_000, rebalance_ms: int = 30_000,
             protocol_type: str = "consumer") -> Any:
        sub = self.m.Subscription(topics)
        return self._send(src, self.m.JoinGroupRequest(
            self.group_id, session_ms, rebalance_ms, member_id, instance_id, protocol_type,
            tuple((p, sub) for p in protocols)))

    def sync(self, src: str, member_id: str, generation: int, assignments: dict[str, Any] | None = None,
             instance_id: str | None = None, protocol_name: str | None = "range") -> Any:
        return self._send(src, self.m.SyncGroupRequest(
            self.group_id, generation, member_id, instance_id, "consumer", protocol_name,
            tuple((mid, self.m.Assignment(tuple(tps))) for mid, tps in (assignments or {}).items())))

    def heartbeat(self, src: str, member_id: str, generation: int, instance_id: str | None = None) -> Any:
        return self._send(src, self.m.HeartbeatRequest(self.group_id, generation, member_id, instance_id))

    def leave(self, src: str, *members: tuple[str, str | None]) -> Any:
        return self._send(src, self.m.LeaveGroupRequest(
            self.group_id, tuple(self.m.MemberIdentity(mid, iid) for mid, iid in members)))

    def commit(self, src: str, offsets: dict[Any, int], member_id: str = "", generation: int = -1,
               instance_id: str | None = None) -> Any:
        return self._send(src, self.m.OffsetCommitRequest(
            self.group_id, generation, member_id, instance_id,
            {tp: self.m.OffsetAndMetadata(o) for tp, o in offsets.items()}))

    def fetch(self, src: str, partitions: tuple[Any, ...] | None) -> Any:
        return self._send(src, self.m.OffsetFetchRequest(self.group_id, partitions))

    def member_id_for(self, src: str, **kw: Any) -> str:
        """The MEMBER_ID_REQUIRED round: the member id the coordinator hands ``src``."""
        r = self.join(src, **kw)
        assert r is not None and r.error == "MEMBER_ID_REQUIRED", r
        return str(r.member_id)
