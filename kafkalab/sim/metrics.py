"""One recorder for every metric and event of a run, turned into tidy pandas DataFrames.

Components call ``metrics.record(node, metric, value, **labels)``; the recorder stamps the virtual time. A row becomes a
DataFrame only in :meth:`Metrics.to_frame`, with the columns ``time_ms, node, metric, value`` and one column per label
name seen (missing labels are NA). Plots, checkers and notebooks read those frames; nothing scrapes logs (DESIGN.md
principle 5).

How rows are kept: columnar, because a busy run records a row or more per request (``producer.request``,
``client.request.latency_ms``, ``consumer.fetch`` ...) and a list of tuples with a labels dict each cost about 400
bytes a row, for the whole run. A row is a time (a double), a *series* id (an int: the node, the metric and the label
names, interned) and a value; each series keeps its label values in columns of its own. A column (:class:`_Column`)
holds doubles plus a byte per value saying what it was (float, an int a double holds exactly, bool, None, or an
interned object such as a broker id string), so the frame gets back exactly the Python values recorded: same types,
same order. About 25-60 bytes a row, against ~400 before.
"""
from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from kafkalab.sim.kernel import Kernel

__all__ = ["Metrics"]

_FLOAT, _INT, _FALSE, _TRUE, _NONE, _OBJ = range(6)
_EXACT = 2 ** 53      # ints up to this size a double holds exactly


class _Column:
    """An append-only column of Python values stored as doubles and a kind byte each (see the module header)."""

    __slots__ = ("nums", "kinds", "objs", "obj_ids")

    def __init__(self) -> None:
        self.nums = array("d")
        self.kinds = bytearray()
        self.objs: list[Any] = []             # interned values that are no number (str, tuple ...), or unhashable ones
        self.obj_ids: dict[tuple[type, Any], int] = {}

    def __len__(self) -> int:
        return len(self.kinds)

    def append(self, x: Any) -> None:
        t = type(x)
        if t is float:
            self.nums.append(x)
            self.kinds.append(_FLOAT)
        elif t is int and -_EXACT <= x <= _EXACT:
            self.nums.append(x)
            self.kinds.append(_INT)
        elif x is None:
            self.nums.append(0.0)
            self.kinds.append(_NONE)
        elif t is bool:
            self.nums.append(0.0)
            self.kinds.append(_TRUE if x else _FALSE)
        else:
            self.nums.append(self._intern(t, x))
            self.kinds.append(_OBJ)

    def _intern(self, t: type, x: Any) -> int:
        try:
            # keyed by type too: 1 == 1.0 == True would otherwise share an entry
            index = self.obj_ids.get((t, x))
        except TypeError:                     # unhashable: kept as it is, one entry per row
            self.objs.append(x)
            return len(self.objs) - 1
        if index is None:
            index = self.obj_ids[(t, x)] = len(self.objs)
            self.objs.append(x)
        return index

    def get(self, i: int) -> Any:
        kind = self.kinds[i]
        if kind == _FLOAT:
            return self.nums[i]
        if kind == _INT:
            return int(self.nums[i])
        if kind == _NONE:
            return None
        if kind == _OBJ:
            return self.objs[int(self.nums[i])]
        return kind == _TRUE

    def values(self) -> list[Any]:
        """Every value, in order (the same objects ``append`` got, or equal ones of the same type)."""
        nums = self.nums.tolist()
        kinds = self.kinds
        if kinds.count(_FLOAT) == len(kinds):
            return nums
        objs = self.objs
        out: list[Any] = []
        for x, kind in zip(nums, kinds, strict=True):
            if kind == _FLOAT:
                out.append(x)
            elif kind == _INT:
                out.append(int(x))
            elif kind == _NONE:
                out.append(None)
            elif kind == _OBJ:
                out.append(objs[int(x)])
            else:
                out.append(kind == _TRUE)
        return out

    def nbytes(self) -> int:
        return self.nums.itemsize * len(self.nums) + len(self.kinds)


class _Series:
    """Rows of one (node, metric, label names): its label values, one column per name."""

    __slots__ = ("node", "metric", "names", "labels")

    def __init__(self, node: Any, metric: str, names: tuple[str, ...]) -> None:
        self.node = node
        self.metric = metric
        self.names = names
        self.labels = [_Column() for _ in names]


class Metrics:
    """Append-only recorder of (time_ms, node, metric, value, labels), stored in columns (see the module header)."""

    def __init__(self, kernel: Kernel, enabled: bool = True) -> None:
        self.kernel = kernel
        self.enabled = enabled
        self._times = _Column()
        self._values = _Column()
        self._sids = array("i")                        # per row: its series
        self._series: list[_Series] = []
        self._series_ids: dict[tuple[Any, ...], int] = {}

    def record(self, node: Any, metric: str, value: Any, **labels: Any) -> None:
        """Record ``value`` of ``metric`` on ``node`` at the current virtual time."""
        if not self.enabled:
            return
        key = (node, metric, *labels) if labels else (node, metric)
        try:
            sid = self._series_ids.get(key)
        except TypeError:                              # an unhashable node id: a series of its own
            sid = None
            key = ()
        if sid is None:
            sid = self._new_series(key, node, metric, tuple(labels))
        if labels:
            for column, x in zip(self._series[sid].labels, labels.values(), strict=True):
                if type(x) is int and -_EXACT <= x <= _EXACT:
                    column.nums.append(x)
                    column.kinds.append(_INT)
                else:
                    column.append(x)
        self._sids.append(sid)
        # the common cases inline (a float time; an int or float value), the rest through _Column.append
        now = self.kernel.now
        times = self._times
        if type(now) is float:
            times.nums.append(now)
            times.kinds.append(_FLOAT)
        else:
            times.append(now)
        values = self._values
        t = type(value)
        if t is int and -_EXACT <= value <= _EXACT:
            values.nums.append(value)
            values.kinds.append(_INT)
        elif t is float:
            values.nums.append(value)
            values.kinds.append(_FLOAT)
        else:
            values.append(value)

    def _new_series(self, key: tuple[Any, ...], node: Any, metric: str, names: tuple[str, ...]) -> int:
        sid = len(self._series)
        self._series.append(_Series(node, metric, names))
        if key:
            self._series_ids[key] = sid
        return sid

    def __len__(self) -> int:
        return len(self._sids)

    def memory_bytes(self) -> int:
        """Roughly what the stored rows take (the columns; not the interned label values they share)."""
        size = self._times.nbytes() + self._values.nbytes() + self._sids.itemsize * len(self._sids)
        return size + sum(c.nbytes() for s in self._series for c in s.labels)

    def to_frame(self, metric: str | None = None) -> pd.DataFrame:
        """Tidy DataFrame of every row (or of one metric): time_ms, node, metric, value, then the label columns."""
        import pandas as pd

        series = self._series
        wanted = [metric is None or s.metric == metric for s in series]
        # label columns in the order rows first name them: a series' first row comes before its later ones
        label_names: dict[str, None] = {}
        for s, keep in zip(series, wanted, strict=True):
            if keep:
                for name in s.names:
                    label_names[name] = None
        columns: dict[str, list[Any]] = {"time_ms": [], "node": [], "metric": [], "value": []}
        for name in label_names:
            columns[name] = []
        sids = self._sids
        rows = [i for i, sid in enumerate(sids) if wanted[sid]] if metric is not None else range(len(sids))
        times, values = self._times, self._values
        all_times = times.values() if metric is None else None
        all_values = values.values() if metric is None else None
        cursor = [0] * len(series)
        label_cols = [columns[name] for name in label_names]
        positions = {name: i for i, name in enumerate(label_names)}
        series_pos = [[positions[n] for n in s.names] if keep else [] for s, keep in zip(series, wanted, strict=True)]
        blank = [None] * len(label_cols)
        for i in rows:
            sid = sids[i]
            s = series[sid]
            columns["time_ms"].append(all_times[i] if all_times is not None else times.get(i))
            columns["node"].append(s.node)
            columns["metric"].append(s.metric)
            columns["value"].append(all_values[i] if all_values is not None else values.get(i))
            if label_cols:
                row = blank.copy()
                j = cursor[sid]
                cursor[sid] = j + 1
                for pos, column in zip(series_pos[sid], s.labels, strict=True):
                    row[pos] = column.get(j)
                for column_list, x in zip(label_cols, row, strict=True):
                    column_list.append(x)
        return pd.DataFrame(columns)
