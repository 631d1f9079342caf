"""Connector plugins by class name (Kafka's ``Plugins``/``DelegatingClassLoader``): the built-in connectors, and any
Python class registered with :func:`register_plugin`.

How it works. A plugin is found by its full class name, by its simple name, or by the simple name without the
``Connector`` suffix (Kafka's plugin aliases: ``FileStreamSource`` is
``org.apache.kafka.connect.file.FileStreamSourceConnector``). An unknown name is a LookupError with Kafka's text
(``Failed to find any class that implements Connector and which name matches x``) and the closest known alias.
"""
from __future__ import annotations

import difflib
from typing import Any

from kafkalab.connect.api import Connector, SinkConnector, SourceConnector
from kafkalab.connect.connectors.datagen import DatagenSourceConnector
from kafkalab.connect.connectors.file import FileStreamSinkConnector, FileStreamSourceConnector
from kafkalab.connect.connectors.sqlite import SqliteSinkConnector, SqliteSourceConnector

__all__ = ["Plugins", "register_plugin", "BUILTIN_PLUGINS"]

BUILTIN_PLUGINS: dict[str, type[Connector]] = {
    "org.apache.kafka.connect.file.FileStreamSourceConnector": FileStreamSourceConnector,
    "org.apache.kafka.connect.file.FileStreamSinkConnector": FileStreamSinkConnector,
    "kafkalab.connect.SqliteSourceConnector": SqliteSourceConnector,
    "kafkalab.connect.SqliteSinkConnector": SqliteSinkConnector,
    "kafkalab.connect.DatagenSourceConnector": DatagenSourceConnector,
}
_USER: dict[str, type[Connector]] = {}


def register_plugin(cls: type[Connector], name: str | None = None) -> str:
    """Make a :class:`~kafkalab.connect.api.SourceConnector` or ``SinkConnector`` subclass usable as
    ``connector.class`` (by ``name``, default ``module.QualName``, and its aliases); returns the class name."""
    if not isinstance(cls, type) or not issubclass(cls, (SourceConnector, SinkConnector)):
        raise TypeError(f"register_plugin() takes a SourceConnector or SinkConnector subclass, got {cls!r}")
    full = name or f"{cls.__module__}.{cls.__qualname__}"
    _USER[full] = cls
    return full


class Plugins:
    """The plugins a Connect cluster knows (built-ins plus registered classes, looked up when asked)."""

    def _table(self) -> dict[str, type[Connector]]:
        return {**BUILTIN_PLUGINS, **_USER}

    def aliases(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for full in self._table():
            simple = full.rsplit(".", 1)[-1]
            out.setdefault(simple, full)
            if simple.endswith("Connector"):
                out.setdefault(simple[: -len("Connector")], full)
        return out

    def connector_class(self, name: str) -> type[Connector]:
        table = self._table()
        if name in table:
            return table[name]
        full = self.aliases().get(name)
        if full is not None:
            return table[full]
        known = sorted(self.aliases())
        close = difflib.get_close_matches(name, known + list(table), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise LookupError(f"Failed to find any class that implements Connector and which name matches {name}, "
                          f"available connectors are: {', '.join(sorted(table))}{hint}")

    def class_name(self, name: str) -> str:
        cls = self.connector_class(name)
        for full, c in self._table().items():
            if c is cls:
                return full
        return name

    def list(self) -> list[dict[str, Any]]:
        """GET /connector-plugins: ``[{"class", "type", "version"}]`` sorted by class."""
        return [{"class": full, "type": cls.type, "version": cls.version_string}
                for full, cls in sorted(self._table().items())]
