"""Drawings of a simulation: live figures that update in place in notebooks (more views join this package)."""
from kafkalab.viz.live import LiveFigure, LogPlot, Ticker

__all__ = ["LiveFigure", "LogPlot", "Ticker"]
