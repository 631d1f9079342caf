"""Experiments: one module per question, each returning tidy pandas DataFrames that notebooks plot.

A module exposes plain functions ``f(..., seed) -> DataFrame`` (every run is ``(seed, config)``), and a ``main()`` that
writes its full-size results with a JSON provenance file into ``data/`` (``make experiments``). Every experiment runs
its seeds through :func:`sweep` (joblib on one machine, or a Dask cluster), which :mod:`kafkalab.cli` also drives.
"""
from kafkalab.experiments.sweep import sweep

__all__ = ["elections", "failover", "throughput", "rebalance", "sweep"]
