"""The simulation substrate: kernel (virtual clock, timers, RNG streams), network, disk, faults, metrics, worlds.

It has no Kafka counterpart (Kafka's ``RaftEventSimulationTest`` comes closest): it implements the process port of
:mod:`kafkalab.ports` in virtual time (:class:`ProcessContext`), and only the wiring layers (``cluster.py``, the Raft
playground, ``experiments/``, ``viz/``) import it. No protocol package does; ``tests/test_layering.py`` checks.
"""
from kafkalab.sim.disk import Disk
from kafkalab.sim.faults import Fault, FaultOptions, Nemesis, random_schedule
from kafkalab.sim.kernel import Kernel, Owner, Timer, derive_seed
from kafkalab.sim.metrics import Metrics
from kafkalab.sim.network import GIGABIT_BYTES_PER_MS, LinkSpec, Network
from kafkalab.sim.trace import Tracer
from kafkalab.sim.world import Process, ProcessContext, World

__all__ = ["Disk", "Fault", "FaultOptions", "Nemesis", "random_schedule", "Kernel", "Owner", "Timer", "derive_seed",
           "Metrics", "GIGABIT_BYTES_PER_MS", "LinkSpec", "Network", "Tracer", "Process", "ProcessContext", "World"]
