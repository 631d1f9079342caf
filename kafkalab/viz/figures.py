"""kafkalab's figures display as pictures in Jupyter, whether or not pyplot was ever imported.

Why this exists. IPython shows a matplotlib :class:`~matplotlib.figure.Figure` as a PNG only when something registered a
PNG formatter for it; matplotlib-inline does that when the inline backend is activated, which happens on the first
``import matplotlib.pyplot``. kafkalab draws with the object API (``Figure(...)``, never pyplot state), so in a kernel
that never imported pyplot ``display(cluster.draw())`` printed ``<Figure size 800x500 with 1 Axes>`` instead of a picture.
:func:`register_png_formatter` registers the formatter itself (``for_type(Figure, figure_png)`` on the running IPython
shell's ``image/png`` formatter); importing :mod:`kafkalab.viz` calls it. Outside IPython it does nothing.

The registration is idempotent and does not override a formatter that is already there (pyplot's inline backend, or a
user's own ``%config InlineBackend.figure_formats``), so notebooks that do import pyplot keep their settings.
``import kafkalab`` in IPython registers :func:`png_for_display` by type name (deferred: neither matplotlib nor this
package is imported until a Figure is displayed), so a notebook's own figures show as pictures even when it never
touches ``kl.viz``.
"""
from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure

__all__ = ["figure_png", "png_for_display", "register_png_formatter"]


def figure_png(fig: Figure, dpi: float | None = None) -> bytes:
    """The figure rendered to PNG bytes (Agg, no pyplot), at ``dpi`` or the figure's own."""
    buf = io.BytesIO()
    # A canvas is attached when a Figure is created outside pyplot (FigureCanvasBase), and savefig renders with Agg.
    fig.savefig(buf, format="png", dpi=dpi if dpi is not None else fig.dpi, bbox_inches="tight")
    return buf.getvalue()


def png_for_display(fig: Figure) -> bytes | None:
    """What IPython's ``image/png`` formatter returns for ``fig``: its PNG, or None for an empty figure (nothing to
    show: IPython keeps the text repr)."""
    if not fig.axes and not fig.texts and not fig.images:
        return None
    return figure_png(fig)


def register_png_formatter(shell: Any = None) -> bool:
    """Register a PNG formatter for matplotlib Figures on ``shell`` (default: the running IPython, if any).

    Returns whether a formatter is now registered (False outside IPython).
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython is a dependency
            return False
        shell = get_ipython()
    if shell is None:
        return False
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        existing = formatter.lookup_by_type(Figure)
    except KeyError:
        existing = None
    if existing is None:
        formatter.for_type(Figure, png_for_display)
    return True
