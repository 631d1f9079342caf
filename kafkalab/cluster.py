"""``kl.Cluster``: a Kafka 4.x cluster in KRaft mode, wired into one deterministic simulation.

How it works. A :class:`Cluster` is a :class:`~kafkalab.sim.world.World` with three kinds of node:

- controllers (ids 1000, 1001, ...): :class:`~kafkalab.controller.server.ControllerServer`, a KRaft voter of
  ``__cluster_metadata`` plus the quorum controller, active on the Raft leader only;
- brokers (ids 1, 2, ...): :class:`~kafkalab.broker.server.BrokerServer`, a KRaft observer replaying the metadata
  log into its image, a lifecycle manager (registration, heartbeats, fencing) and the replica manager (produce, fetch,
  replication, ISR);
- clients (string ids: "admin", "producer-1", "consumer-1", ...): the admin client talks to the controllers
  (KIP-919), producers and consumers to the brokers. Every client operation goes into :attr:`Cluster.history`.

The constructor boots the quorum and the brokers in virtual time and returns once every broker is registered and
unfenced. Blocking calls (``create_topic``, ``future.result()``, ``consumer.poll``) drive the simulation themselves.
Faults are the World's: ``crash`` (``lose_unflushed=True`` = power loss), ``restart``, ``pause``/``resume``,
``isolate``, ``partition``, ``heal``, ``slow_link``, or a :class:`~kafkalab.sim.faults.Nemesis` schedule. A script's
``crash`` of a node that is down or ``restart`` of one that runs is a ValueError; the same fault applied by a
simulation event (a Nemesis schedule) keeps the World's lenient meaning.

Arguments are checked at the call, before anything is sent: a wrong type is a TypeError naming the argument, a value
the controller would refuse is Kafka's error with the controller's words (``partitions=0`` is INVALID_PARTITIONS),
and ``leader_for`` of a partition the metadata does not have is UNKNOWN_TOPIC_OR_PARTITION, not None.

The facade is the only place that looks at every node at once (``describe_topic``, ``active_controller``): it reads,
it never decides. What a client knows, it learned through messages.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import pandas as pd

from kafkalab.broker.hardware import Hardware, resolve_hardware
from kafkalab.broker.server import BrokerServer
from kafkalab.check.history import History, HistorySpill
from kafkalab.clients.admin import AdminClient
from kafkalab.clients.consumer import KafkaConsumer
from kafkalab.clients.futures import check_timeout_ms
from kafkalab.clients.producer import KafkaProducer
from kafkalab.common.display import Described
from kafkalab.config import Config, resolve
from kafkalab.controller.server import ControllerServer
from kafkalab.errors import (
    GroupIdNotFoundError,
    InvalidPartitionsError,
    InvalidReplicationFactorError,
    KafkaTimeoutError,
    UnknownTopicOrPartitionError,
    error_for_name,
)
from kafkalab.groups.hashing import OFFSETS_TOPIC, partition_for
from kafkalab.metadata.image import MetadataImage
from kafkalab.protocol import admin as cm
from kafkalab.sim.network import LinkSpec
from kafkalab.sim.world import World
from kafkalab.txn.coordinator import TRANSACTION_STATE_TOPIC

__all__ = ["Cluster", "CONTROLLER_ID_BASE"]

#: Controllers get node ids 1000, 1001, ...; brokers 1, 2, ... (KRaft needs distinct ids in separate-role mode).
CONTROLLER_ID_BASE = 1000
_BOOT_TIMEOUT_MS = 60_000.0
_INT32_MAX = 2**31 - 1
_INT16_MAX = 2**15 - 1
_METADATA_LOG_COLUMNS = ("node", "process", "alive", "raft_role", "log_start_offset", "log_end_offset",
                         "high_watermark", "log_size_bytes", "snapshot_count", "latest_snapshot_id", "snapshot_bytes",
                         "snapshots_generated", "image_offset")


class Cluster(World):
    """A KRaft-mode Kafka cluster in virtual time. See DESIGN.md's public API."""

    def __init__(self, brokers: int = 3, controllers: int = 3, seed: int = 0,
                 config: Mapping[str, Any] | None = None, network: LinkSpec | None = None, *,
                 fsync_latency_ms: float = 1.0, boot_timeout_ms: float = _BOOT_TIMEOUT_MS,
                 hardware: Any = None, history_spill: HistorySpill | None = None) -> None:
        if not isinstance(brokers, int) or brokers < 1:
            raise ValueError(f"brokers must be an int >= 1, got {brokers!r}")
        if not isinstance(controllers, int) or controllers < 1:
            raise ValueError(f"controllers must be an int >= 1 (3 or 5 is usual), got {controllers!r}")
        if history_spill is not None and not isinstance(history_spill, HistorySpill):
            raise TypeError(f"history_spill must be a kl.check.HistorySpill (or None: keep the whole history in "
                            f"memory), got {type(history_spill).__name__}")
        self.config: Config = resolve("broker", dict(config or {}))
        super().__init__(seed=seed, network=network, fsync_latency_ms=fsync_latency_ms)
        self.controllers: list[int] = [CONTROLLER_ID_BASE + i for i in range(controllers)]
        self.brokers: list[int] = list(range(1, brokers + 1))
        # opt-in hardware model per broker (kafkalab.broker.hardware): a kl.Hardware, a preset name, or {broker: ...}
        self.hardware: dict[int, Hardware] = resolve_hardware(hardware, self.brokers)
        self.clients: list[Hashable] = []
        self.history = History(metadata={"seed": seed, "brokers": brokers, "controllers": controllers,
                                         "config": dict(config or {})},
                               spill=history_spill)   # a kl.check.HistorySpill: older events go to Parquet files
        self._client_counts: dict[str, int] = {}
        self._running = 0      # > 0 while run()/run_until() executes events: faults then come from the simulation
        self.kernel.trace(f"cluster seed={seed} brokers={brokers} controllers={controllers}")
        for c in self.controllers:
            self.add_node(c, ControllerServer.factory(self.controllers, self.config))
        for b in self.brokers:
            self.add_node(b, self._broker_factory(b))
            if b in self.hardware:
                self.network.set_nic(b, self.hardware[b].nic_bytes_per_ms)
        self.admin = AdminClient(self, self.controllers, node_id="admin", active_hint=lambda: self.active_controller)
        self.clients.append("admin")
        if not self.run_until(self._all_brokers_unfenced, boot_timeout_ms):
            raise KafkaTimeoutError(
                f"the cluster did not boot within {boot_timeout_ms:.0f} virtual ms (seed={seed}): active controller "
                f"{self.active_controller}, unfenced brokers {self._unfenced()}")

    def _broker_factory(self, broker_id: int) -> Callable[[Any], BrokerServer]:
        hardware = self.hardware.get(broker_id)
        return lambda ctx: BrokerServer(ctx, broker_id, self.controllers, self.config, hardware=hardware)

    # -- who is who ---------------------------------------------------------------------------------------------------
    def controller(self, node: int) -> ControllerServer | None:
        """The running ControllerServer process on ``node`` (None while crashed)."""
        return self.processes.get(node)  # type: ignore[return-value]

    def broker(self, node: int) -> BrokerServer | None:
        """The running BrokerServer process on ``node`` (None while crashed)."""
        return self.processes.get(node)  # type: ignore[return-value]

    @property
    def active_controller(self) -> int | None:
        """The controller that is active now: a live one leading the metadata quorum in the highest epoch."""
        best: tuple[int, int] | None = None
        for c in self.controllers:
            server = self.controller(c)
            if server is not None and server.active:
                epoch = server.raft.epoch
                if best is None or epoch > best[0]:
                    best = (epoch, c)
        return None if best is None else best[1]

    def image(self) -> MetadataImage:
        """The freshest metadata image: the active controller's, else the most advanced live node's."""
        active = self.active_controller
        if active is not None:
            return self.controller(active).image  # type: ignore[union-attr]
        images = [p.image for p in self.processes.values() if p is not None and hasattr(p, "image")]
        if not images:
            return MetadataImage()
        return max(images, key=lambda im: im.offset)

    def _unfenced(self) -> list[int]:
        return self.image().unfenced_brokers() if self.active_controller is not None else []

    def _all_brokers_unfenced(self) -> bool:
        return self.active_controller is not None and set(self.brokers) <= set(self._unfenced())

    # -- time -------------------------------------------------------------------------------------------------------
    def run(self, ms: float) -> None:
        """Advance virtual time by ``ms``."""
        if isinstance(ms, bool) or not isinstance(ms, int | float):
            raise TypeError(f"ms must be a number of virtual milliseconds >= 0, got {type(ms).__name__} {ms!r}")
        self._running += 1
        try:
            super().run(ms)
        finally:
            self._running -= 1

    def run_until(self, predicate: Callable[[], bool], timeout_ms: float) -> bool:
        """Run until ``predicate()`` holds or ``timeout_ms`` of virtual time pass; returns whether it held."""
        if not callable(predicate):
            raise TypeError(f"predicate must be a callable returning bool, got {type(predicate).__name__} "
                            f"{predicate!r}")
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int | float):
            raise TypeError(f"timeout_ms must be a number of virtual milliseconds >= 0, got "
                            f"{type(timeout_ms).__name__} {timeout_ms!r}")
        self._running += 1
        try:
            return super().run_until(predicate, timeout_ms)
        finally:
            self._running -= 1

    # -- faults -------------------------------------------------------------------------------------------------------
    # A script's crash() of a node that is down, or restart() of one that runs, has lost track of its faults: a
    # ValueError says so. A fault applied by a simulation event (a Nemesis schedule, an experiment's timer) keeps the
    # World's lenient semantics (crash of a down node and restart of a running one are allowed), because a schedule
    # drawn in advance cannot know what the script did to that node meanwhile.
    def crash(self, node: Hashable, lose_unflushed: bool = False) -> None:
        """Kill a running node's process (``lose_unflushed=True``: power loss, the unflushed log suffix is lost).

        A node that is already down cannot crash again (ValueError). Power loss of a crashed node is allowed: its
        host's page cache still held the unflushed data.
        """
        self._check(node)
        if not isinstance(lose_unflushed, bool):
            raise TypeError(f"lose_unflushed must be a bool, got {type(lose_unflushed).__name__} {lose_unflushed!r}")
        if not lose_unflushed and not self._running and not self.is_alive(node):
            raise ValueError(f"node {node!r} is already down; restart it with cluster.restart({node!r})")
        super().crash(node, lose_unflushed)

    def restart(self, node: Hashable) -> None:
        """Start a crashed node again from its durable state. A running node is a ValueError: crash it first."""
        self._check(node)
        if not self._running and self.is_alive(node):
            raise ValueError(f"node {node!r} is running; crash it first with cluster.crash({node!r}) (or "
                             f"cluster.crash({node!r}, lose_unflushed=True) for a power loss)")
        super().restart(node)

    # -- topics -------------------------------------------------------------------------------------------------------
    def create_topic(self, name: str, partitions: int = 1, replication_factor: int | None = None,
                     config: Mapping[str, Any] | None = None, timeout_ms: float = 30_000.0) -> None:
        """Create a topic and block until every partition has a leader that knows it leads.

        Raises Kafka's errors: TopicAlreadyExistsError, InvalidReplicationFactorError, InvalidPartitionsError,
        InvalidConfigError (a bad topic config is checked here first, with the closest key named).
        """
        if not isinstance(name, str):
            raise TypeError(f"topic name must be a str, got {type(name).__name__} {name!r}")
        _check_count(partitions, "partitions", "an int", _INT32_MAX)
        if replication_factor is not None:
            _check_count(replication_factor, "replication_factor", "an int or None", _INT16_MAX)
        # The controller's checks (ReplicationControlManager.createTopic), made here so that nothing is sent.
        if replication_factor is not None and (replication_factor < -1 or replication_factor == 0):
            raise InvalidReplicationFactorError(
                f"create topic {name!r}: Replication factor must be larger than 0, or -1 to use the default value. "
                f"(replication_factor={replication_factor})")
        if partitions < -1 or partitions == 0:
            raise InvalidPartitionsError(f"create topic {name!r}: Number of partitions was set to an invalid "
                                         f"non-positive value. (partitions={partitions})")
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(f"config must be a dict of topic config keys to values or None, got "
                            f"{type(config).__name__} {config!r}")
        check_timeout_ms(timeout_ms, allow_none=False)
        rf = replication_factor if replication_factor is not None else min(len(self.brokers), 3)
        overrides = dict(config or {})
        topic_config = resolve("topic", overrides, broker=self.config)  # raises ConfigError before anything is sent
        configs = tuple((k, _kafka_string(topic_config[k])) for k in overrides)
        response = self.admin.create_topics([cm.CreatableTopic(name, partitions, rf, None, configs)], timeout_ms)
        result = response.topics[0]
        _raise_for(result.error, result.error_message, f"create topic {name!r}")
        if not self.run_until(lambda: self._leaders_ready(name, partitions), timeout_ms):
            raise KafkaTimeoutError(f"topic {name!r} was created but its leaders were not ready within "
                                    f"{timeout_ms:.0f} ms")

    def _leaders_ready(self, topic: str, partitions: int) -> bool:
        image = self.image()
        t = image.topics.get(topic)
        if t is None or len(t.partitions) < partitions:
            return False
        for p, reg in t.partitions.items():
            if reg.leader < 0:
                return False
            broker = self.broker(reg.leader)
            if broker is None:
                return False
            part = broker.rm.partition(topic, p)
            if part is None or not part.is_leader or part.leader_epoch != reg.leader_epoch:
                return False
        return True

    def delete_topic(self, name: str, timeout_ms: float = 30_000.0) -> None:
        """Delete a topic (UnknownTopicOrPartitionError if there is none) and wait until brokers dropped it."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"topic name must be a non-empty str, got {type(name).__name__} {name!r}")
        check_timeout_ms(timeout_ms, allow_none=False)
        response = self.admin.delete_topics([name], timeout_ms)
        result = response.responses[0]
        _raise_for(result.error, result.error_message, f"delete topic {name!r}")
        self.run_until(lambda: all(
            (b := self.broker(n)) is None or name not in b.image.topics for n in self.brokers), timeout_ms)

    def create_partitions(self, name: str, total_count: int, timeout_ms: float = 30_000.0) -> None:
        """Increase a topic's partition count to ``total_count`` (InvalidPartitionsError if not an increase)."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"topic name must be a non-empty str, got {type(name).__name__} {name!r}")
        _check_count(total_count, "total_count", "an int", _INT32_MAX)
        check_timeout_ms(timeout_ms, allow_none=False)
        response = self.admin.create_partitions([cm.CreatePartitionsTopic(name, total_count)], timeout_ms)
        result = response.results[0]
        _raise_for(result.error, result.error_message, f"create partitions of {name!r}")
        self.run_until(lambda: self._leaders_ready(name, total_count), timeout_ms)

    def alter_topic_config(self, name: str, config: Mapping[str, Any], timeout_ms: float = 30_000.0) -> None:
        """Set per-topic config overrides (validated as Kafka's topic keys)."""
        resolved = resolve("topic", dict(config), broker=self.config)
        ops = tuple(cm.AlterConfigOp(k, "SET", _kafka_string(resolved[k])) for k in config)
        response = self.admin.alter_configs([cm.AlterConfigsResource("topic", name, ops)], timeout_ms)
        result = response.responses[0]
        _raise_for(result.error, result.error_message, f"alter config of {name!r}")

    def elect_preferred_leaders(self, timeout_ms: float = 30_000.0) -> None:
        """Move leadership back to each partition's first replica where it is in the ISR."""
        self.admin.elect_leaders(cm.ELECTION_PREFERRED, None, timeout_ms)

    def topics(self, internal: bool = False) -> list[str]:
        """Topic names, sorted; ``internal=True`` includes ``__consumer_offsets`` (as Kafka's listTopics)."""
        return sorted(t for t in self.image().topics if internal or t != OFFSETS_TOPIC)

    # ---- consumer groups --------------------------------------------------------------------------------------------
    def group_coordinator(self, group_id: str) -> int | None:
        """The broker coordinating ``group_id``: the leader of its ``__consumer_offsets`` partition (None before the
        topic exists or while that partition has no leader)."""
        topic = self.image().topics.get(OFFSETS_TOPIC)
        if topic is None:
            return None
        reg = topic.partitions.get(partition_for(group_id, len(topic.partitions)))
        return None if reg is None or reg.leader < 0 else reg.leader

    def groups(self) -> list[str]:
        """Every group a live coordinator knows (classic and KIP-848), sorted."""
        ids: set[str] = set()
        for b in self.brokers:
            broker = self.broker(b)
            if broker is not None and broker.groups is not None:
                ids.update(broker.groups.coordinator.group_ids())
        return sorted(ids)

    def describe_group(self, group_id: str) -> dict[str, Any]:
        """The group as its coordinator holds it: protocol ("classic" or "consumer"), state, generation or group
        epoch, and members with their assignments. Raises GroupIdNotFoundError for a group no coordinator knows.
        A dict that displays as a table in JupyterLab (:class:`kafkalab.common.display.Described`)."""
        coordinator = self._coordinator(group_id)
        described = None if coordinator is None else coordinator.describe_group(group_id)
        if described is None:
            known = self.groups()
            close = difflib.get_close_matches(group_id, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise GroupIdNotFoundError(f"group {group_id!r} is not known to its coordinator "
                                       f"(groups: {', '.join(known) or 'none'}){hint}")
        return Described(described, title=f"group {group_id}")

    def _txn_coordinators(self) -> list[Any]:
        out = []
        for b in self.brokers:
            broker = self.broker(b)
            if broker is not None and broker.txn is not None:
                out.append(broker.txn.coordinator)
        return out

    def describe_transactions(self, transactional_id: str, timeout_ms: float = 60_000.0) -> dict[str, Any]:
        """Kafka's DescribeTransactions for one transactional id, as its coordinator holds it: state,
        producer_id, producer_epoch, timeout_ms, partitions, start_ms, coordinator (broker id),
        transaction_version, pending_state. The coordinator is the leader of the id's ``__transaction_state``
        partition in the metadata; while it has none, is down or paused (COORDINATOR_NOT_AVAILABLE), has not taken
        the partition over (NOT_COORDINATOR) or is still loading it (COORDINATOR_LOAD_IN_PROGRESS), the simulation
        runs on, as Kafka's admin client retries, for up to ``timeout_ms`` (``default.api.timeout.ms``), then
        KafkaTimeoutError names the state. Raises TransactionalIdNotFoundError for an id its coordinator does not
        know. A dict that displays as a table in JupyterLab."""
        if not isinstance(transactional_id, str):
            raise TypeError(f"transactional_id must be a str, got {type(transactional_id).__name__}")
        check_timeout_ms(timeout_ms, allow_none=False)
        answer: list[tuple[str, Any]] = []

        def answered() -> bool:
            answer[:] = [self._describe_transaction(transactional_id)]
            return answer[0][0] not in ("COORDINATOR_NOT_AVAILABLE", "NOT_COORDINATOR", "COORDINATOR_LOAD_IN_PROGRESS")
        if not self.run_until(answered, timeout_ms):
            error, why = answer[0]
            raise KafkaTimeoutError(f"describe_transactions({transactional_id!r}) got no answer within "
                                    f"{timeout_ms:.0f} ms: {why} ({error})")
        if answer[0][0] == "NONE":
            return Described(answer[0][1], title=f"transactional id {transactional_id}")
        known = sorted({tid for c in self._txn_coordinators() for tid in c.transactional_ids()})
        close = difflib.get_close_matches(transactional_id, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise error_for_name("TRANSACTIONAL_ID_NOT_FOUND")(
            f"transactional id {transactional_id!r} is not known to its coordinator "
            f"(transactional ids: {', '.join(known) or 'none'}){hint}")

    def _describe_transaction(self, tid: str) -> tuple[str, Any]:
        """One DescribeTransactions round: (NONE, the description), (TRANSACTIONAL_ID_NOT_FOUND, None) or a
        retriable error with what the coordinator is doing."""
        topic = self.image().topics.get(TRANSACTION_STATE_TOPIC)
        if topic is None:
            return "TRANSACTIONAL_ID_NOT_FOUND", None
        index = partition_for(tid, len(topic.partitions))
        reg = topic.partitions.get(index)
        where = f"{TRANSACTION_STATE_TOPIC} partition {index}"
        if reg is None or reg.leader < 0:
            return "COORDINATOR_NOT_AVAILABLE", f"{where} has no leader"
        broker = self.broker(reg.leader)
        if broker is None or broker.txn is None or self._owners[reg.leader].paused:
            state = "paused" if broker is not None and self._owners[reg.leader].paused else "down"
            return "COORDINATOR_NOT_AVAILABLE", f"its coordinator, broker {reg.leader} (leader of {where}), is {state}"
        coordinator = broker.txn.coordinator
        error = coordinator.describe_error(tid)
        if error == "NOT_COORDINATOR":
            return error, f"broker {reg.leader}, the leader of {where}, has not taken it over yet"
        if error == "COORDINATOR_LOAD_IN_PROGRESS":
            return error, f"broker {reg.leader} is still loading {where}"
        described = coordinator.describe(tid)
        return ("TRANSACTIONAL_ID_NOT_FOUND", None) if described is None else ("NONE", described)

    def list_transactions(self) -> pd.DataFrame:
        """Kafka's ListTransactions: one row per transactional id (transactional_id, state, producer_id,
        producer_epoch, coordinator), sorted by id."""
        rows = []
        for coordinator in self._txn_coordinators():
            for tid in coordinator.transactional_ids():
                d = coordinator.describe(tid)
                rows.append({k: d[k] for k in ("transactional_id", "state", "producer_id", "producer_epoch",
                                                "coordinator")})
        rows.sort(key=lambda r: r["transactional_id"])
        return pd.DataFrame(rows, columns=["transactional_id", "state", "producer_id", "producer_epoch",
                                           "coordinator"])

    def group_offsets(self, group_id: str) -> pd.DataFrame:
        """The group's committed offsets with each partition's high watermark and the lag between them: one row per
        partition with a commit (topic, partition, committed, high_watermark, lag)."""
        coordinator = self._coordinator(group_id)
        committed = {} if coordinator is None else coordinator.committed(group_id)
        rows = []
        for tp in sorted(committed):
            hw = None
            reg = self.image().partition(tp.topic, tp.partition)      # a deleted topic's commits stay: no leader
            leader = None if reg is None or reg.leader < 0 else reg.leader
            broker = self.broker(leader) if leader is not None else None
            part = broker.rm.partition(tp.topic, tp.partition) if broker is not None else None
            if part is not None:
                hw = part.high_watermark
            offset = committed[tp].offset
            rows.append({"topic": tp.topic, "partition": tp.partition, "committed": offset, "high_watermark": hw,
                         "lag": None if hw is None else max(0, hw - offset)})
        return pd.DataFrame(rows, columns=["topic", "partition", "committed", "high_watermark", "lag"])

    def _coordinator(self, group_id: str) -> Any:
        if not isinstance(group_id, str) or not group_id:
            raise ValueError(f"group id must be a non-empty str, got {group_id!r}")
        node = self.group_coordinator(group_id)
        broker = self.broker(node) if node is not None else None
        return None if broker is None or broker.groups is None else broker.groups.coordinator

    def leader_for(self, topic: str, partition: int) -> int | None:
        """The partition's leader in the freshest metadata image; None while it has no leader (offline), or while
        no live node holds a metadata image at all. UnknownTopicOrPartitionError for a topic or partition the image
        does not have (naming the closest topic)."""
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a str, got {type(topic).__name__} {topic!r}")
        if isinstance(partition, bool) or not isinstance(partition, int):
            raise TypeError(f"partition must be an int, got {type(partition).__name__} {partition!r}")
        image = self.image()
        t = image.topics.get(topic)
        if t is None:
            if not image.topics and image.offset < 0:
                return None      # every node with an image is down: nobody can tell
            known = sorted(image.topics)
            close = difflib.get_close_matches(topic, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownTopicOrPartitionError(f"topic {topic!r} does not exist (topics: "
                                               f"{', '.join(known) or 'none'}){hint}")
        reg = t.partitions.get(partition)
        if reg is None:
            raise UnknownTopicOrPartitionError(f"topic {topic!r} has no partition {partition} (partitions 0.."
                                               f"{len(t.partitions) - 1})")
        return None if reg.leader < 0 else reg.leader

    def describe_topic(self, name: str) -> pd.DataFrame:
        """One row per partition: partition, leader, leader_epoch, replicas, isr, high_watermark, log_end_offset, elr,
        last_known_elr (KIP-966's eligible leader replicas, empty unless ``eligible.leader.replicas.version`` is 1),
        last_stable_offset (KIP-98: below it no transaction is open; the HW when there are none), log_start_offset
        (the leader's first offset: retention and compaction move it up; ListOffsets ``earliest`` answers it).

        Leadership, replicas and ISR come from the metadata image; the high watermark and log end offset from the
        leader's replica (None while the partition is offline or its leader is down).
        """
        image = self.image()
        t = image.topics.get(name)
        if t is None:
            raise error_for_name("UNKNOWN_TOPIC_OR_PARTITION")(
                f"topic {name!r} does not exist; topics: {', '.join(sorted(image.topics)) or 'none'}")
        rows = []
        for p in sorted(t.partitions):
            reg = t.partitions[p]
            hw = leo = lso = start = None
            leader = self.broker(reg.leader) if reg.leader >= 0 else None
            part = leader.rm.partition(name, p) if leader is not None else None
            if part is not None:
                hw, leo = part.high_watermark, part.log.log_end_offset
                lso = part.log.last_stable_offset(hw)
                start = part.log.log_start_offset
            rows.append({"partition": p, "leader": reg.leader if reg.leader >= 0 else None,
                         "leader_epoch": reg.leader_epoch, "replicas": list(reg.replicas), "isr": list(reg.isr),
                         "high_watermark": hw, "log_end_offset": leo,
                         "elr": list(reg.eligible_leader_replicas or ()), "last_known_elr": list(reg.last_known_elr or ()),
                         "last_stable_offset": lso, "log_start_offset": start})
        return pd.DataFrame(rows, columns=["partition", "leader", "leader_epoch", "replicas", "isr",
                                           "high_watermark", "log_end_offset", "elr", "last_known_elr",
                                           "last_stable_offset", "log_start_offset"])

    def features(self) -> pd.DataFrame:
        """The feature levels in force, as ``kafka-features describe`` lists them: one row per feature (feature,
        supported_min, supported_max, finalized_level; ``version`` names a metadata.version level, "4.3-IV0").
        Finalized levels come from the metadata image (``FeatureLevelRecord``); a feature without one is at 0;
        ``kraft.version`` is 0 (static voters). See :mod:`kafkalab.metadata.features`."""
        from kafkalab.metadata import features as kf

        finalized = self.image().features
        rows = []
        for name in kf.FEATURE_NAMES:
            lo, hi = kf.supported_range(name)
            level = finalized.get(name, 0)
            rows.append({"feature": name, "supported_min": lo, "supported_max": hi, "finalized_level": level,
                         "version": kf.metadata_version_name(level) if name == kf.METADATA_VERSION and level else None})
        return pd.DataFrame(rows, columns=["feature", "supported_min", "supported_max", "finalized_level", "version"])

    def describe_metadata_log(self) -> pd.DataFrame:
        """The ``__cluster_metadata`` replica of every controller and broker, one row each (KIP-630 snapshots):
        node, process ("controller" or "broker"), alive, raft_role, log_start_offset, log_end_offset,
        high_watermark, log_size_bytes, snapshot_count, latest_snapshot_id ``(end_offset, epoch)`` or None,
        snapshot_bytes (all snapshots kept), snapshots_generated (by this process; a restart counts again) and
        image_offset (last log offset replayed into the node's metadata image). A node that is down has
        ``alive=False`` and None elsewhere.

        Snapshots follow ``metadata.log.max.record.bytes.between.snapshots`` and
        ``metadata.log.max.snapshot.interval.ms``; the log before them is deleted by ``metadata.max.retention.bytes``
        and ``metadata.max.retention.ms`` (see :mod:`kafkalab.metadata.snapshot_generator`)."""
        rows = []
        for kind, nodes in (("controller", self.controllers), ("broker", self.brokers)):
            for n in nodes:
                replica: Any = None
                image: MetadataImage | None = None
                controller = self.controller(n) if kind == "controller" else None
                broker = self.broker(n) if kind == "broker" else None
                if controller is not None:
                    replica, image = controller.replica, controller.image
                elif broker is not None and broker.metadata is not None:
                    replica, image = broker.metadata.replica, broker.metadata.image
                row: dict[str, Any] = {"node": n, "process": kind, "alive": (controller or broker) is not None}
                if replica is None:
                    row.update(dict.fromkeys(_METADATA_LOG_COLUMNS[3:]))
                else:
                    raft = replica.node
                    latest = raft.snapshot
                    row.update({
                        "raft_role": raft.role.value, "log_start_offset": raft.log.log_start_offset,
                        "log_end_offset": raft.log.log_end_offset, "high_watermark": raft.high_watermark,
                        "log_size_bytes": raft.log.size_bytes, "snapshot_count": len(raft.snapshots),
                        "latest_snapshot_id": None if latest is None else latest.snapshot_id,
                        "snapshot_bytes": sum(s.size_bytes for s in raft.snapshots.values()),
                        "snapshots_generated": replica.snapshot_generator.emitted,
                        "image_offset": None if image is None else image.offset})
                rows.append(row)
        return pd.DataFrame(rows, columns=list(_METADATA_LOG_COLUMNS))

    def replicas(self, topic: str, partition: int) -> pd.DataFrame:
        """Every replica of one partition as its broker sees it: broker, role, leader_epoch, log_end_offset,
        high_watermark, alive (for failover plots)."""
        rows = []
        reg = self.image().partition(topic, partition)
        for b in reg.replicas if reg is not None else ():
            broker = self.broker(b)
            part = broker.rm.partition(topic, partition) if broker is not None else None
            rows.append({"broker": b, "alive": broker is not None,
                         "role": part.role.value if part is not None else None,
                         "leader_epoch": part.leader_epoch if part is not None else None,
                         "log_end_offset": part.log.log_end_offset if part is not None else None,
                         "high_watermark": part.high_watermark if part is not None else None})
        return pd.DataFrame(rows, columns=["broker", "alive", "role", "leader_epoch", "log_end_offset",
                                           "high_watermark"])

    # -- clients ------------------------------------------------------------------------------------------------------
    def _client_id(self, kind: str, requested: str | None) -> str:
        if requested is not None:
            if requested in self.nodes:
                raise ValueError(f"client id {requested!r} is already a node of this cluster")
            return requested
        n = self._client_counts.get(kind, 0) + 1
        self._client_counts[kind] = n
        return f"{kind}-{n}"

    def _bootstrap(self, cfg: Mapping[str, Any]) -> list[int]:
        """``bootstrap.servers`` names broker ids here ("1,3" or [1, 3]); default: every broker."""
        raw = cfg.get("bootstrap.servers")
        if raw in (None, "", [], ()):
            return list(self.brokers)
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        ids: list[int] = []
        for item in items:
            text = str(item).strip().rsplit(":", 1)[-1] if ":" in str(item) else str(item).strip()
            if not text.isdigit() or int(text) not in self.brokers:
                raise kl_config_error(f"bootstrap.servers names broker {item!r}, which is not a broker of this "
                                      f"cluster; brokers: {', '.join(map(str, self.brokers))}")
            ids.append(int(text))
        return ids

    def producer(self, config: Mapping[str, Any] | None = None, *, node_id: str | None = None) -> KafkaProducer:
        """A producer on a new client node (``producer-1``, ...) with Kafka's producer config.

        ``bootstrap.servers`` may name the broker ids to ask for metadata first (default: all brokers)."""
        cfg = dict(config or {})
        bootstrap = self._bootstrap(cfg)
        node = self._client_id("producer", node_id)
        producer = KafkaProducer(cfg, world=self, bootstrap=bootstrap, node_id=node, history=self.history)
        self.clients.append(node)
        return producer

    def consumer(self, config: Mapping[str, Any] | None = None, *, node_id: str | None = None) -> KafkaConsumer:
        """A consumer on a new client node (``consumer-1``, ...) with Kafka's consumer config.

        ``bootstrap.servers`` may name the broker ids to ask for metadata first (default: all brokers)."""
        cfg = dict(config or {})
        bootstrap = self._bootstrap(cfg)
        node = self._client_id("consumer", node_id)
        consumer = KafkaConsumer(cfg, world=self, bootstrap=bootstrap, node_id=node, history=self.history)
        self.clients.append(node)
        return consumer

    def streams(self, topology: Any, config: Mapping[str, Any] | None = None, instances: int = 1) -> Any:
        """A Kafka Streams app of ``instances`` instance nodes (``<application.id>-1``, ...) running ``topology``
        (a :class:`kafkalab.streams.KafkaStreams`); creates its internal topics first."""
        from kafkalab.streams.app import KafkaStreams

        return KafkaStreams(self, topology, config, instances)

    def connect(self, workers: int = 3, config: Mapping[str, Any] | None = None, *, mode: str = "distributed",
                offsets_file: str | None = None) -> Any:
        """Start a Kafka Connect cluster on this cluster: ``workers`` worker nodes (``connect-1``, ...) in
        ``mode="distributed"`` (a worker group, internal topics) or one ``"standalone"`` worker (offsets in
        ``offsets_file``). Returns a :class:`~kafkalab.connect.ConnectCluster` once every worker has started."""
        from kafkalab.connect.connect_cluster import ConnectCluster

        return ConnectCluster(self, workers, config, mode=mode, offsets_file=offsets_file)

    # -- observation --------------------------------------------------------------------------------------------------
    def topology(self) -> Any:
        """The picture's data: a :class:`~kafkalab.viz.topology.TopologyView` of this moment."""
        from kafkalab.viz.topology import PartitionView, TopologyView

        image = self.image()
        parts = [PartitionView(t.name, p, reg.leader if reg.leader >= 0 else None, reg.replicas, reg.isr)
                 for t in image.topics.values() for p, reg in sorted(t.partitions.items())]
        down = [n for n in self.nodes if not self.is_alive(n)]
        return TopologyView(self.controllers, self.brokers, [c for c in self.clients if c != "admin"],
                            self.active_controller, down, self.network.cuts(), parts)

    def draw(self, fig: Any = None, title: str | None = None) -> Any:
        """Draw the topology (a matplotlib Figure): controllers, brokers, clients, leaders, ISR, cut links."""
        from kafkalab.viz.topology import draw_topology

        return draw_topology(self.topology(), fig, title if title is not None else f"t = {self.now / 1000:.1f} s")

    def __repr__(self) -> str:
        return (f"Cluster(brokers={self.brokers}, controllers={self.controllers}, seed={self.seed}, "
                f"now={self.now:.0f} ms, active_controller={self.active_controller})")


def _check_count(value: object, name: str, allowed: str, maximum: int) -> None:
    """A count argument of the admin API: an int (Kafka's int32/int16 field; ``bool`` is not a count)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be {allowed}, got {type(value).__name__} {value!r}")
    if value > maximum:
        raise ValueError(f"{name} must be at most {maximum} (the protocol field's range), got {value}")


def kl_config_error(message: str) -> Exception:
    from kafkalab.errors import ConfigError

    return ConfigError(message, key="bootstrap.servers")


def _kafka_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _raise_for(error: str, message: str | None, what: str) -> None:
    if error in ("NONE", None):
        return
    cls = error_for_name(error)
    raise cls(f"{what}: {message}" if message else what)
