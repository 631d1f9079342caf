"""analyze() judges hand-written histories as Jepsen's Kafka checker would: each anomaly found where it is, clean
histories valid, and nothing to judge 'unknown'."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalab.check import KINDS, History, Report, analyze
from tests.check.builders import poll, send


def clean_history(n: int = 5) -> History:
    h = History()
    for i in range(n):
        send(h, i, "p", f"v{i}", offset=i)
    poll(h, 10, "c", (0, "v0"), (1, "v1"))
    poll(h, 12, "c", *[(i, f"v{i}") for i in range(2, n)])
    return h


def test_a_clean_history_is_valid_with_every_count_zero():
    report = analyze(clean_history())
    assert isinstance(report, Report) and report.verdict == "valid" and report.valid
    assert all(report.counts[k] == 0 for k in KINDS)
    assert (report.counts["acknowledged"], report.counts["read"], report.counts["transactions"]) == (5, 5, 0)
    assert report.anomalies.empty and list(report.anomalies.columns) == [
        "kind", "process", "topic", "partition", "key", "value", "offset", "ops", "detail"]


def test_nothing_to_judge_is_unknown():
    assert analyze(History()).verdict == "unknown"
    h = History()
    send(h, 0, "p", "a", offset=0)
    report = analyze(h)                       # acknowledged, never read: unseen (informational), nothing read
    assert report.verdict == "unknown" and report.count("unseen") == 1


def test_lost_write_names_the_send_and_its_operation():
    # acks=1 failover: offset 1 acknowledged by the old leader; the new leader's offset 1 holds another value
    h = History()
    send(h, 0, "p", "a", offset=0)
    lost_op = send(h, 1, "p", "lost", offset=1, key="k1")
    send(h, 5, "p", "b", offset=1)
    poll(h, 10, "c", (0, "a"), (1, "b"))
    report = analyze(h)
    assert report.verdict == "invalid"
    lost = report.of("lost_write")
    assert len(lost) == 1
    row = lost.iloc[0]
    assert (row.process, row.topic, row.partition, row.offset, row.key, row.value, row.ops) == (
        "p", "t", 1 - 1, 1, "k1", "lost", (lost_op,))
    assert report.count("inconsistent_offsets") == 1
    assert report.of("inconsistent_offsets").value.iloc[0] == ("lost", "b")


def test_unseen_alone_does_not_make_a_history_invalid_unless_asked():
    h = History()
    send(h, 0, "p", "a", offset=0)
    send(h, 1, "p", "b", offset=1)
    poll(h, 10, "c", (0, "a"))
    assert analyze(h).verdict == "valid" and analyze(h).count("unseen") == 1
    assert analyze(h, allowed=()).verdict == "invalid"


def test_duplicate_and_failed_write_read():
    h = History()
    send(h, 0, "p", "x", offset=0)
    ghost = send(h, 1, "p", "ghost", outcome="fail", error="NOT_ENOUGH_REPLICAS")
    poll(h, 10, "c", (0, "x"), (1, "x"), (2, "ghost"))
    report = analyze(h)
    assert report.count("duplicate") == 1 and report.of("duplicate").value.iloc[0] == "x"
    failed = report.of("failed_write_read")
    assert failed.ops.iloc[0] == (ghost,) and "NOT_ENOUGH_REPLICAS" in failed.detail.iloc[0]


def test_unknown_outcome_sends_may_or_may_not_appear():
    h = History()
    send(h, 0, "p", "maybe", outcome="info")
    send(h, 1, "p", "never", outcome="info")
    send(h, 2, "p", "sure", offset=1)
    poll(h, 10, "c", (0, "maybe"), (1, "sure"))
    assert analyze(h).verdict == "valid"


def test_nonmonotonic_send_poll_and_skips_across_and_within_polls():
    h = History()
    send(h, 0, "p", "a", offset=5)
    send(h, 1, "p", "b", offset=3)               # acknowledged below an earlier ack of the same process
    send(h, 2, "q", "c", offset=4)
    poll(h, 10, "c", (3, "b"), (4, "c"))
    poll(h, 12, "c", (4, "c"))                   # repeats offset 4 without a seek
    poll(h, 14, "d", (3, "b"))
    poll(h, 16, "d", (5, "a"))                   # skips the known offset 4
    poll(h, 18, "e", (3, "b"), (5, "a"))         # skips offset 4 inside one poll
    poll(h, 20, "f", (5, "a"), (4, "c"))         # goes backwards inside one poll
    report = analyze(h)
    assert [report.count(k) for k in ("nonmonotonic_send", "nonmonotonic_poll", "poll_skip", "int_poll_skip",
                                      "int_nonmonotonic_poll")] == [1, 1, 1, 1, 1]
    skip = report.of("poll_skip").iloc[0]
    assert (skip.process, skip.offset, skip.value) == ("d", 5, "a") and "over 1 known offset" in skip.detail


def test_offsets_nobody_knows_of_are_gaps_not_skips():
    # transaction markers and compaction leave offsets no client ever sees
    h = History()
    send(h, 0, "p", "a", offset=0)
    send(h, 1, "p", "b", offset=2)
    poll(h, 10, "c", (0, "a"))
    poll(h, 12, "c", (2, "b"))
    assert analyze(h).verdict == "valid"


def test_a_seek_or_rebalance_resets_poll_tracking_of_that_process_only():
    h = History()
    send(h, 0, "p", "a", offset=0)
    poll(h, 10, "c", (0, "a"))
    poll(h, 10, "d", (0, "a"))
    op = h.invoke(11, "c", "seek", offsets={("t", 0): 0})
    h.ok(op, 11)
    poll(h, 12, "c", (0, "a"))
    poll(h, 12, "d", (0, "a"))
    report = analyze(h)
    assert report.count("nonmonotonic_poll") == 1 and report.of("nonmonotonic_poll").process.iloc[0] == "d"


def test_bad_arguments_get_clear_errors():
    with pytest.raises(TypeError, match=r"history must be a kafkalab.check.History .*got list"):
        analyze([])
    with pytest.raises(TypeError, match="read_committed must be True, False or a collection of process ids, got 3"):
        analyze(History(), read_committed=3)
    with pytest.raises(TypeError, match="read_committed must be .* got 'c1'"):
        analyze(History(), read_committed="c1")
    with pytest.raises(ValueError, match=r"allowed: 'G1' is not an anomaly kind \(did you mean 'G1c'\?\)"):
        analyze(History(), allowed=["G1"])
    with pytest.raises(TypeError, match="allowed must be a collection of anomaly kinds, got 'unseen'"):
        analyze(History(), allowed="unseen")
    with pytest.raises(ValueError, match=r"kind 'lost' is not an anomaly kind \(did you mean 'lost_write'\?\)"):
        analyze(History()).count("lost")


def test_the_report_renders_as_text_and_html():
    h = History()
    send(h, 0, "p", "a", offset=0)
    send(h, 1, "p", "lost", offset=1)
    send(h, 5, "p", "b", offset=1)
    poll(h, 10, "c", (0, "a"), (1, "b"))
    report = analyze(h)
    assert "verdict='invalid'" in repr(report) and "lost_write=1" in repr(report)
    assert "lost_write" in report.to_text() and "acknowledged at offset 1" in report.to_text()
    page = report._repr_html_()
    assert "INVALID" in page and "<table" in page and "lost_write" in page
    assert report.summary().to_dict("records") == [
        {"kind": "lost_write", "count": 1, "allowed": False},
        {"kind": "inconsistent_offsets", "count": 1, "allowed": False},
        {"kind": "nonmonotonic_send", "count": 1, "allowed": False}]     # "b" acknowledged at 1 after "lost" at 1


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=40), st.data())
def test_property_in_order_reads_are_valid_and_dropping_one_read_loses_it(n, data):
    """A log of n writes read in order, cut into polls anywhere, is valid; drop one read that a later read
    follows and exactly that write is lost (and the poll that stepped over it skipped)."""
    cuts = sorted(set(data.draw(st.lists(st.integers(min_value=1, max_value=max(1, n - 1)), max_size=5))))
    drop = data.draw(st.integers(min_value=-1, max_value=n - 2))
    h = History()
    for i in range(n):
        send(h, i, "p", f"v{i}", offset=i)
    reads = [(i, f"v{i}") for i in range(n) if i != drop]
    bounds = [0, *cuts, n]
    for t, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        chunk = [r for r in reads if lo <= r[0] < hi]
        if chunk:
            poll(h, 100 + 2 * t, "c", *chunk)
    report = analyze(h)
    if drop < 0:
        assert report.verdict == "valid"
    else:
        assert report.verdict == "invalid"
        assert report.of("lost_write").value.tolist() == [f"v{drop}"]
        assert report.count("poll_skip") + report.count("int_poll_skip") == (1 if drop > 0 else 0)
