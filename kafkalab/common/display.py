"""A dict that reads as a table: what ``describe_*`` calls and checker summaries hand back to people.

How it works. :class:`Described` is a plain ``dict`` subclass (indexing, ``==`` with a dict, ``json.dumps``, pickling
and ``dict(...)`` all behave as before), with two display hooks that IPython and JupyterLab look for:
``_repr_html_`` (an HTML table: one row per scalar field, and a sub-table for a field that holds a list of dicts,
such as a group's members) and ``_repr_pretty_`` (the same as aligned text, for IPython's ``text/plain``).
``repr()`` stays the dict's, so assertion messages and a plain ``python`` prompt show what they always showed.

Numbers are shown as Python writes them: a NumPy scalar that found its way into a field (``np.float64(45.8)``) is
shown as ``45.8``. This is Kafka's ``kafka-consumer-groups --describe`` idea (a table per group, a row per member)
without Kafka's column set: the fields are whatever the describing call put in the dict.
"""
from __future__ import annotations

import html
from typing import Any

__all__ = ["Described", "plain"]


def plain(value: Any) -> Any:
    """``value`` with NumPy scalars turned into Python ones (``np.float64(45.8)`` -> ``45.8``), recursively through
    lists, tuples and dicts; anything else unchanged."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple) and type(value) is tuple:
        return tuple(plain(v) for v in value)
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        return item()
    return value


def _text(value: Any) -> str:
    value = plain(value)
    if isinstance(value, (list, tuple)) and value and all(hasattr(v, "topic") and hasattr(v, "partition")
                                                           for v in value):
        return ", ".join(f"{v.topic}-{v.partition}" for v in value)        # TopicPartitions, as Kafka's tools print
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else repr(value)
    return str(value)


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


class Described(dict):  # type: ignore[type-arg]
    """A ``dict`` that displays as a table in JupyterLab (see the module docstring); ``title`` heads the table."""

    def __init__(self, *args: Any, title: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = title

    def _scalars(self) -> list[tuple[str, Any]]:
        return [(str(k), v) for k, v in self.items() if not _is_rows(v)]

    def _tables(self) -> list[tuple[str, list[dict[str, Any]]]]:
        return [(str(k), v) for k, v in self.items() if _is_rows(v)]

    @staticmethod
    def _columns(rows: list[dict[str, Any]]) -> list[str]:
        return list(dict.fromkeys(str(k) for row in rows for k in row))

    def to_text(self) -> str:
        """The table as aligned text (what IPython shows as ``text/plain``)."""
        lines = [self.title] if self.title else []
        scalars = self._scalars()
        width = max((len(k) for k, _ in scalars), default=0)
        lines += [f"{k:<{width}}  {_text(v)}" for k, v in scalars]
        for name, rows in self._tables():
            columns = self._columns(rows)
            cells = [[_text(row.get(c, "")) for c in columns] for row in rows]
            widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
            lines.append(f"{name} ({len(rows)}):")
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
            lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("Described(...)" if cycle else self.to_text())

    def _repr_html_(self) -> str:
        esc = html.escape
        parts = [f"<div><strong>{esc(self.title)}</strong>"] if self.title else ["<div>"]
        parts.append('<table class="dataframe"><tbody>')
        parts += [f'<tr><th style="text-align:left">{esc(k)}</th><td style="text-align:left">{esc(_text(v))}</td>'
                  f"</tr>" for k, v in self._scalars()]
        parts.append("</tbody></table>")
        for name, rows in self._tables():
            columns = self._columns(rows)
            parts.append(f"<p>{esc(name)} ({len(rows)})</p>")
            parts.append('<table class="dataframe"><thead><tr>'
                         + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr></thead><tbody>")
            parts += ["<tr>" + "".join(f'<td style="text-align:left">{esc(_text(row.get(c, "")))}</td>'
                                       for c in columns) + "</tr>" for row in rows]
            parts.append("</tbody></table>")
        parts.append("</div>")
        return "".join(parts)
