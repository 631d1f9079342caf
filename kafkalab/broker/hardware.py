"""A broker's hardware: NIC, disk with its page cache, request-handler and network threads, CPU per request and byte.

How it works. :class:`Hardware` is a frozen description of one broker machine. It is opt-in: a cluster built without
``hardware=`` keeps the older model (per-link bandwidth, one request-handler queue, :mod:`kafkalab.broker.cost`) and
its traces are unchanged. With it, each broker gets
- a **NIC** shared by all its links, per direction (``nic_gbps``): produce requests and follower fetch responses it
  receives share NIC-in, fetch responses to followers and consumers and produce responses share NIC-out. The network
  (:meth:`kafkalab.sim.network.Network.set_nic`) serialises every message through the sender's NIC-out and the
  receiver's NIC-in, on top of the link itself.
- **network threads** (``num.network.threads``, Kafka's default 3) that read each request off the socket
  (``network_request_us`` plus ``network_byte_ns`` per byte), then **request-handler threads** (``num.io.threads``,
  default 8) that handle it (``request_us`` plus ``byte_ns`` per byte of a produce request: CRC check and the copy into
  the page cache). Each pool is :class:`ThreadPool`: a job takes the thread that frees first (FIFO, k servers).
- a **disk** (:class:`DiskModel`): appended bytes are written back at ``disk_write_mbps``; the page cache absorbs up to
  ``dirty_mb`` of unwritten data (Linux's dirty-page limit), beyond which an append waits for writeback (Linux throttles
  the writer in ``balance_dirty_pages``). Reads of the newest ``page_cache_mb`` of a broker's log come from memory;
  older data is read from disk at ``disk_read_mbps`` (a consumer catching up from far behind). On the full
  simulation a fetch response waits for such a read before it is sent; how far behind its data is, is estimated
  from the partition's log (see ``BrokerServer._read_for_fetch``).

Units: ``nic_gbps`` in 10^9 bit/s; disk rates in MB/s = 10^6 bytes/s; sizes in MB = 10^6 bytes.

Presets (:data:`PRESETS`, ``Hardware.preset(name)``):
- ``"kreps-2014"``: the three machines of Kreps's 2014 post (KAFKA.md section 7): 1 GbE (from the post), six 7200 rpm
  SATA drives (from the post; ``disk_write_mbps`` 300 and ``disk_read_mbps`` 300 are our estimate for six such drives
  written sequentially, not measured), 32 GB RAM (from the post; page cache 28 GB assumed), 8 I/O threads and 3
  network threads (Kafka's defaults). CPU costs are the defaults of :class:`~kafkalab.broker.cost.CostModel`
  (calibrated there against the same post).
- ``"omb-i3en.2xlarge"``: the brokers of Confluent's 2020 OpenMessaging Benchmark post ("Benchmarking Apache Kafka,
  Apache Pulsar, and RabbitMQ: Which is the Fastest?"): AWS i3en.2xlarge, 8 vCPUs, 64 GiB RAM, 2 x 2,500 GB NVMe SSD,
  up to 25 Gbit/s (instance facts as listed in the OpenMessaging Benchmark's own Terraform files, which the post
  used). **Calibrated**: ``disk_write_mbps`` = 610 per broker, chosen so the simulated peak of the post's throughput
  workload lands at the published 605 MB/s (with RF 3 on 3 brokers every broker writes every byte); the NVMe read
  rate (1,000 MB/s) and the CPU costs are our estimates. Nothing else is tuned to the post.

Kafka's classes: ``SocketServer`` (network threads, ``num.network.threads``), ``KafkaRequestHandlerPool``
(``num.io.threads``), ``UnifiedLog``/``FileRecords`` (appends to the page cache, ``sendfile`` reads).
"""
from __future__ import annotations

import difflib
import heapq
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["Hardware", "PRESETS", "ThreadPool", "DiskModel", "resolve_hardware"]


@dataclass(frozen=True, slots=True)
class Hardware:
    """One broker machine. ``None`` for a bandwidth means unlimited. See the module docstring for the model."""

    nic_gbps: float | None = 10.0
    disk_write_mbps: float | None = 500.0
    disk_read_mbps: float | None = 500.0
    page_cache_mb: float = 16_000.0
    dirty_mb: float = 1_000.0
    io_threads: int = 8
    network_threads: int = 3
    request_us: float = 50.0
    byte_ns: float = 1.5
    network_request_us: float = 10.0
    network_byte_ns: float = 0.0

    def __post_init__(self) -> None:
        for name in ("nic_gbps", "disk_write_mbps", "disk_read_mbps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0):
                raise ValueError(f"Hardware: {name} must be a number > 0 or None (unlimited), got {value!r}")
        for name in ("page_cache_mb", "dirty_mb", "request_us", "byte_ns", "network_request_us", "network_byte_ns"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Hardware: {name} must be a number >= 0, got {value!r}")
        for name in ("io_threads", "network_threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Hardware: {name} must be an int >= 1, got {value!r}")

    # -- derived rates in the simulator's units (bytes per virtual ms) ----------------------------------------------
    @property
    def nic_bytes_per_ms(self) -> float | None:
        return None if self.nic_gbps is None else self.nic_gbps * 1e9 / 8 / 1000

    @property
    def disk_write_bytes_per_ms(self) -> float | None:
        return None if self.disk_write_mbps is None else self.disk_write_mbps * 1000.0

    @property
    def disk_read_bytes_per_ms(self) -> float | None:
        return None if self.disk_read_mbps is None else self.disk_read_mbps * 1000.0

    def with_(self, **changes: Any) -> Hardware:
        """A copy with some fields changed (unknown names raise a ValueError naming the closest field)."""
        names = [f.name for f in fields(self)]
        for key in changes:
            if key not in names:
                raise ValueError(f"Hardware: unknown field {key!r}{_hint(key, names)}; fields: {', '.join(names)}")
        return replace(self, **changes)

    @classmethod
    def preset(cls, name: str) -> Hardware:
        """The named preset (:data:`PRESETS`); an unknown name raises a ValueError naming the closest one."""
        if not isinstance(name, str) or name not in PRESETS:
            raise ValueError(f"Hardware: unknown preset {name!r}{_hint(name, list(PRESETS))}; "
                             f"presets: {', '.join(PRESETS)}")
        return PRESETS[name]


def _hint(name: Any, options: list[str]) -> str:
    close = difflib.get_close_matches(str(name), options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


PRESETS: dict[str, Hardware] = {
    "kreps-2014": Hardware(nic_gbps=1.0, disk_write_mbps=300.0, disk_read_mbps=300.0, page_cache_mb=28_000.0,
                           dirty_mb=3_200.0, io_threads=8, network_threads=3, request_us=50.0, byte_ns=1.5),
    "omb-i3en.2xlarge": Hardware(nic_gbps=25.0, disk_write_mbps=640.0, disk_read_mbps=1_000.0,
                                 page_cache_mb=60_000.0, dirty_mb=1_000.0, io_threads=8, network_threads=3,
                                 request_us=30.0, byte_ns=0.5),
    "default": Hardware(),
}


def resolve_hardware(value: Any, brokers: list[int], argument: str = "hardware") -> dict[int, Hardware]:
    """``hardware=`` as a Cluster or a sizing run takes it -> one :class:`Hardware` per broker id.

    Accepts None (no hardware model: an empty dict), a :class:`Hardware`, a preset name, or a mapping from broker id
    to either. Anything else is a TypeError/ValueError naming ``argument``.
    """
    if value is None:
        return {}
    if isinstance(value, (Hardware, str)):
        one = value if isinstance(value, Hardware) else Hardware.preset(value)
        return {b: one for b in brokers}
    if isinstance(value, Mapping):
        out: dict[int, Hardware] = {}
        for key, item in value.items():
            if key not in brokers:
                raise ValueError(f"{argument}: broker {key!r} is not in the cluster; brokers: {brokers}")
            if isinstance(item, str):
                out[key] = Hardware.preset(item)
            elif isinstance(item, Hardware):
                out[key] = item
            else:
                raise TypeError(f"{argument}[{key!r}] must be a kl.Hardware or a preset name, "
                                f"got {type(item).__name__}")
        return out
    raise TypeError(f"{argument} must be None, a kl.Hardware, a preset name ({', '.join(PRESETS)}) or a mapping of "
                    f"broker id to one of those, got {type(value).__name__}")


class ThreadPool:
    """k FIFO servers: :meth:`admit` says when a job of ``service_ms`` arriving at ``at_ms`` is done.

    A job starts on the thread that frees first (Kafka's request channel is one queue that every handler thread
    takes from). Admissions must come in non-decreasing ``at_ms`` order for the pool to be FIFO.
    """

    __slots__ = ("threads", "_free", "busy_ms", "jobs")

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._free = [0.0] * threads        # a heap of the threads' free times
        self.busy_ms = 0.0
        self.jobs = 0

    def admit(self, at_ms: float, service_ms: float) -> float:
        free = self._free[0]
        start = free if free > at_ms else at_ms
        done = start + service_ms
        heapq.heapreplace(self._free, done)
        self.busy_ms += service_ms
        self.jobs += 1
        return done

    def utilisation(self, now_ms: float) -> float:
        """Busy time over ``threads x now_ms``."""
        return self.busy_ms / (now_ms * self.threads) if now_ms > 0 else 0.0


class DiskModel:
    """A broker's disk behind its page cache: writeback at a bandwidth, dirty-page throttling, cold reads."""

    __slots__ = ("write_rate", "read_rate", "dirty_bytes", "cache_bytes", "write_free_at", "read_free_at",
                 "written", "read_from_disk", "read_from_cache")

    def __init__(self, hardware: Hardware) -> None:
        self.write_rate = hardware.disk_write_bytes_per_ms
        self.read_rate = hardware.disk_read_bytes_per_ms
        self.dirty_bytes = hardware.dirty_mb * 1e6
        self.cache_bytes = hardware.page_cache_mb * 1e6
        self.write_free_at = 0.0
        self.read_free_at = 0.0
        self.written = 0
        self.read_from_disk = 0
        self.read_from_cache = 0

    def append(self, at_ms: float, size_bytes: int) -> float:
        """``size_bytes`` appended at ``at_ms``: when the append returns (at once unless dirty pages are over the
        limit, then when writeback has brought them back under it)."""
        self.written += size_bytes
        rate = self.write_rate
        if rate is None:
            return at_ms
        start = self.write_free_at if self.write_free_at > at_ms else at_ms
        self.write_free_at = start + size_bytes / rate
        # the writeback backlog after this append, in ms of writing; over the dirty limit the writer waits
        over = self.write_free_at - at_ms - self.dirty_bytes / rate
        return at_ms + over if over > 0 else at_ms

    def read(self, at_ms: float, size_bytes: int, bytes_behind_end: float) -> float:
        """A read of ``size_bytes`` that starts ``bytes_behind_end`` bytes before the log's end: from the page cache
        when that is within ``page_cache_mb``, else from disk at the read rate."""
        if bytes_behind_end <= self.cache_bytes or self.read_rate is None:
            self.read_from_cache += size_bytes
            return at_ms
        self.read_from_disk += size_bytes
        start = self.read_free_at if self.read_free_at > at_ms else at_ms
        self.read_free_at = start + size_bytes / self.read_rate
        return self.read_free_at
