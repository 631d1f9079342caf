"""The columnar metrics recorder gives exactly the frames the plain list-of-rows recorder gave."""
from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.sim.metrics import Metrics


class _Clock:
    def __init__(self) -> None:
        self.now: Any = 0.0


def _reference_frame(rows: list[tuple[Any, Any, str, Any, dict[str, Any] | None]], metric: str | None) -> pd.DataFrame:
    """The recorder as it was: a list of (time, node, metric, value, labels) rows."""
    rows = rows if metric is None else [r for r in rows if r[2] == metric]
    names: dict[str, None] = {}
    for row in rows:
        for name in row[4] or ():
            names[name] = None
    cols: dict[str, list[Any]] = {"time_ms": [], "node": [], "metric": [], "value": []}
    cols.update({name: [] for name in names})
    for time_ms, node, name_, value, labels in rows:
        cols["time_ms"].append(time_ms)
        cols["node"].append(node)
        cols["metric"].append(name_)
        cols["value"].append(value)
        for name in names:
            cols[name].append(labels.get(name) if labels else None)
    return pd.DataFrame(cols)


def _typed(x: Any) -> tuple[type, Any]:
    return type(x), ("nan" if x != x else x)   # NaN (pandas' None in a number column) equals itself here


values = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                   st.text(max_size=3), st.tuples(st.integers(0, 3)), st.lists(st.integers(0, 2), max_size=2))
row = st.tuples(st.one_of(st.floats(0, 1e6, allow_nan=False), st.integers(0, 10**6)),
                st.sampled_from([0, 1, "producer-1", 2.0]), st.sampled_from(["a", "b", "c"]), values,
                st.dictionaries(st.sampled_from(["topic", "partition", "bytes", "error"]), values, max_size=3))


@settings(max_examples=200, deadline=None)
@given(st.lists(row, max_size=40))
def test_frames_equal_the_list_of_rows_recorder(rows: list[Any]) -> None:
    clock = _Clock()
    m = Metrics(clock)  # type: ignore[arg-type]
    ref = []
    for time_ms, node, metric, value, labels in rows:
        clock.now = time_ms
        m.record(node, metric, value, **labels)
        ref.append((time_ms, node, metric, value, labels or None))
    assert len(m) == len(ref)
    for metric in (None, "a", "b", "zzz"):
        got, want = m.to_frame(metric), _reference_frame(ref, metric)
        pd.testing.assert_frame_equal(got, want)
        # same Python values and types, row by row (assert_frame_equal would accept 1 for 1.0 in an object column)
        for column in want.columns:
            assert [_typed(x) for x in got[column]] == [_typed(x) for x in want[column]]


def test_a_busy_run_records_rows_compactly():
    c = kl.Cluster(brokers=1, controllers=1, seed=3)
    c.create_topic("t", partitions=2, replication_factor=1)
    p = c.producer({"linger.ms": 1})
    for i in range(2_000):
        p.send("t", value=b"x" * 10, key=str(i % 7))
    p.flush()
    recorder = c.world.recorder if hasattr(c, "world") else c.recorder
    requests = recorder.to_frame("producer.request")
    assert len(requests) > 0 and requests["bytes"].map(type).eq(int).all()
    assert requests["broker"].map(type).eq(str).all()
    # well under 100 bytes a row (the list of tuples with a labels dict each took about 400)
    assert recorder.memory_bytes() < 100 * len(recorder)
