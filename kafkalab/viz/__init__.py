"""Drawings of a simulation and the interactive control room (a top layer: it may read any package; nothing below
it imports it).

- :class:`ControlRoom` (``kl.viz.ControlRoom(cluster)``): an ipywidgets control room over a running cluster, with
  :func:`replay` to rebuild a room's run from its action log;
- :class:`LiveFigure`, :class:`LogPlot`, :class:`Ticker`: figures that redraw in place while a simulation runs;
- the topology drawing (:mod:`kafkalab.viz.topology`) behind ``cluster.draw()``.

Importing this package registers a PNG formatter for matplotlib Figures in a running IPython (see
:mod:`kafkalab.viz.figures`), so kafkalab's figures display as pictures even when pyplot was never imported.
"""
from kafkalab.viz.control_room import ControlRoom
from kafkalab.viz.figures import figure_png, register_png_formatter
from kafkalab.viz.live import LiveFigure, LogPlot, Ticker
from kafkalab.viz.room_model import RoomModel, replay

__all__ = ["ControlRoom", "RoomModel", "replay", "LiveFigure", "LogPlot", "Ticker", "figure_png",
           "register_png_formatter"]

register_png_formatter()
