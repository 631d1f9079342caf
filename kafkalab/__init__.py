"""kafkalab: Apache Kafka's architecture as a deterministic, in-process simulation.

``import kafkalab as kl`` gives ``kl.Cluster`` (a KRaft-mode Kafka cluster in virtual time), ``kl.TopicPartition``,
and the layers as submodules: ``kl.errors`` (Kafka's error codes), ``kl.config`` (every config key with Kafka's
defaults), ``kl.sim`` (kernel, network, disk, faults), ``kl.log`` (the partitioned log), ``kl.raft`` (the KRaft
quorum and its ``RaftCluster`` playground), ``kl.groups`` (group coordinator, assignors, the group RPCs),
``kl.check`` (histories and checkers), ``kl.viz`` (drawings and the ``ControlRoom``; imported on first use, so
``import kafkalab`` does not load ipywidgets). ``kl.OffsetAndMetadata`` is what ``consumer.committed()`` returns and
``consumer.commit()`` accepts. ``kl.Hardware`` describes a broker machine (``kl.Cluster(hardware=...)``), and
``kl.sizing`` runs perf-test/OpenMessaging-Benchmark style workloads on it in counted batches (imported on first use).
"""
from kafkalab import check, config, connect, errors, groups, log, raft, sim
from kafkalab.broker.hardware import Hardware
from kafkalab.cluster import Cluster
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition

__version__ = "0.1.0"

__all__ = ["Cluster", "Hardware", "TopicPartition", "OffsetAndMetadata", "check", "config", "connect", "errors", "groups", "log",
           "raft", "sim", "sizing", "viz", "__version__"]


def _register_figure_png(shell: object = None) -> bool:
    """In IPython (``shell``, default the running one), show matplotlib Figures as PNG whether or not pyplot or
    ``kl.viz`` was imported (:func:`kafkalab.viz.figures.png_for_display`). Registered by type name, so nothing is
    imported until a Figure is displayed; a formatter registered for Figure itself (pyplot's inline backend) wins.
    Returns whether it registered."""
    import sys

    if shell is None:
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return False

    def png(fig: object) -> object:
        from kafkalab.viz.figures import png_for_display

        return png_for_display(fig)  # type: ignore[arg-type]

    shell.display_formatter.formatters["image/png"].for_type_by_name(  # type: ignore[attr-defined]
        "matplotlib.figure", "Figure", png)
    return True


_register_figure_png()


def __getattr__(name: str) -> object:
    # kl.viz, kl.experiments and kl.workloads import on first use: viz pulls in ipywidgets, networkx and matplotlib,
    # experiments and workloads the whole stack with joblib, Dask and pyarrow; scripts without them need none of it.
    if name in ("viz", "experiments", "workloads", "sizing"):
        import importlib

        return importlib.import_module(f"kafkalab.{name}")
    raise AttributeError(f"module 'kafkalab' has no attribute {name!r}")
