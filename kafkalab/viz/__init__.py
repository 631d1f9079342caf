"""Drawings of a simulation: live figures that update in place in notebooks (more views join this package).

A top layer (no Kafka counterpart): it may read any package; nothing below it imports it.
"""
from kafkalab.viz.live import LiveFigure, LogPlot, Ticker

__all__ = ["LiveFigure", "LogPlot", "Ticker"]
