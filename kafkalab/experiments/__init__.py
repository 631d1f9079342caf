"""Experiments: one module per question, each returning tidy pandas DataFrames that notebooks plot.

A module exposes plain functions ``f(..., seed) -> DataFrame`` (every run is ``(seed, config)``), and a ``main()`` that
writes its full-size results with a JSON provenance file into ``data/`` (``make experiments``).
"""

__all__ = ["elections", "failover", "throughput"]
