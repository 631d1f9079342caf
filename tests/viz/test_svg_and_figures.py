"""The charts' SVG and the PNG formatter that makes kafkalab's figures display as pictures without pyplot."""
import math

from IPython.core.formatters import DisplayFormatter
from matplotlib.figure import Figure

from kafkalab.viz.figures import figure_png, register_png_formatter
from kafkalab.viz.svg_plot import Series, nice_ticks, svg_chart


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0, 100, 4) == [0, 25, 50, 75, 100]
    assert nice_ticks(0, 3.5, 4, integer=True) == [0, 1, 2, 3]
    assert nice_ticks(40.2, 100.2, 5) == [60, 80, 100]
    assert nice_ticks(5, 5) == [5] and nice_ticks(0, math.nan) == []


def test_a_chart_breaks_lines_at_nan_draws_steps_and_names_its_series():
    svg = svg_chart("lag", [Series("g", [0, 1, 2, 3], [1, math.nan, 2, 4], "#123456"),
                            Series("isr", [0, 1], [3, 2], "#654321", step=True)], xlim=(0, 3), ylim=(0, 4))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("data-label='g'") == 2            # one polyline per NaN-free run
    step = svg.split("data-label='isr' points='")[1].split("'")[0].split()
    assert len(step) == 3 and step[1].split(",")[1] == step[0].split(",")[1]   # held, then dropped
    assert ">&#9644; g</text>" in svg and "lag</text>" in svg
    assert svg == svg_chart("lag", [Series("g", [0, 1, 2, 3], [1, math.nan, 2, 4], "#123456"),
                                    Series("isr", [0, 1], [3, 2], "#654321", step=True)], xlim=(0, 3), ylim=(0, 4))


class _Shell:
    def __init__(self):
        self.display_formatter = DisplayFormatter()


def test_a_figure_displays_as_png_once_the_formatter_is_registered():
    shell = _Shell()
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    before, _ = shell.display_formatter.format(fig)
    assert "image/png" not in before and before["text/plain"].startswith("<Figure size")
    assert register_png_formatter(shell) is True
    after, _ = shell.display_formatter.format(fig)
    assert after["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    empty, _ = shell.display_formatter.format(Figure())
    assert "image/png" not in empty                     # nothing drawn: keep the text
    assert figure_png(fig)[:4] == b"\x89PNG"


def test_outside_ipython_registering_does_nothing():
    assert register_png_formatter() is False


def test_importing_kafkalab_in_ipython_shows_any_figure_as_png_without_importing_viz():
    import subprocess
    import sys

    import kafkalab

    shell = _Shell()
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    assert kafkalab._register_figure_png(shell) is True
    shown, _ = shell.display_formatter.format(fig)
    assert shown["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert "image/png" not in shell.display_formatter.format(Figure())[0]
    assert kafkalab._register_figure_png() is False                  # no IPython running here
    # a formatter registered for Figure itself (pyplot's inline backend) wins over the deferred one
    inline = _Shell()
    inline.display_formatter.formatters["image/png"].for_type(Figure, lambda f: b"inline")
    kafkalab._register_figure_png(inline)
    assert inline.display_formatter.format(fig)[0]["image/png"] == b"inline"
    # and the import itself pulls in neither kafkalab.viz nor matplotlib
    code = "import sys, kafkalab; print('kafkalab.viz' in sys.modules, 'matplotlib.figure' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
