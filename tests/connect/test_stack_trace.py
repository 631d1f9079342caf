"""A task's failure trace (status and DLQ header) must not depend on where the code lives: its size travels on the
simulated wire, so a path in it would make a run's trace depend on the checkout folder or the notebook kernel."""
from __future__ import annotations

from kafkalab.connect.error_handling import stack_trace

SOURCE = """
def inner():
    raise ValueError("bad record")

def outer():
    try:
        inner()
    except ValueError as e:
        raise RuntimeError("task failed") from e
"""


def _failure_from(filename: str) -> str:
    namespace: dict[str, object] = {}
    exec(compile(SOURCE, filename, "exec"), namespace)
    try:
        namespace["outer"]()  # type: ignore[operator]
    except RuntimeError as exc:
        return stack_trace(exc)
    raise AssertionError("outer() did not raise")


def test_the_same_code_at_two_paths_gives_the_same_trace() -> None:
    a = _failure_from("/home/alice/kafkalab/connectors/mine.py")
    b = _failure_from("/tmp/ci-123/checkout/connectors/mine.py")
    assert a == b
    assert 'File "mine.py", line 3, in inner' in a
    assert "/home/alice" not in a and "/tmp/ci-123" not in a


def test_the_trace_keeps_the_cause_and_the_messages() -> None:
    text = _failure_from("/x/y/mine.py")
    assert "ValueError: bad record" in text
    assert "RuntimeError: task failed" in text
    assert "direct cause" in text
    assert text.index("ValueError") < text.index("RuntimeError: task failed")
