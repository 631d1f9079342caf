"""``future.result(timeout_ms)`` checks its timeout as every other blocking call does (Kafka's ``Timer`` refuses a
negative one), whether the send is still pending or already done."""
import re

import pytest

import kafkalab as kl


@pytest.mark.parametrize(("timeout", "error", "message"), [
    (-1, ValueError, "Invalid negative timeout -1: timeout_ms must be >= 0"),
    ("5", TypeError, "timeout_ms must be a number of milliseconds >= 0 or None, got str '5'"),
    (float("inf"), ValueError, "timeout_ms must be a finite number of milliseconds >= 0, got inf"),
])
def test_future_result_refuses_a_bad_timeout_pending_or_done(timeout, error, message):
    cluster = kl.Cluster(seed=5)
    cluster.create_topic("t")
    producer = cluster.producer({"linger.ms": 50})
    future = producer.send("t", value=b"v")
    assert not future.done()
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        future.result(timeout_ms=timeout)
    assert future.result().offset == 0
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        future.result(timeout)
