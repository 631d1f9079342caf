"""Property: bad input at the public API never harms the simulation.

Hypothesis draws sequences of wrong calls (wrong types, out-of-range values, calls after close, commit without a
group, seeks to negative offsets, faults a script has lost track of) against one running 3-broker cluster. Each call
must fail at once with a TypeError, ValueError, ConfigError or KafkaError whose message names the argument (a call
after close: Kafka's IllegalStateException words, a RuntimeError here), never with a SimulationError; and the records
acknowledged before the bad calls are still read back afterwards.
"""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.errors import ConfigError, KafkaError, SimulationError

TOPIC = "fuzz"
_CLUSTER: list[kl.Cluster] = []


def cluster() -> kl.Cluster:
    """One cluster for every example: a refused call must leave it as it was, so sharing it is part of the test."""
    if not _CLUSTER:
        c = kl.Cluster(seed=17)
        c.create_topic(TOPIC, partitions=3)
        _CLUSTER.append(c)
    return _CLUSTER[0]


not_int = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True), st.text(max_size=3),
                    st.lists(st.integers(), max_size=2))
negative = st.integers(max_value=-1)
bad_timeout = st.one_of(st.none(), st.booleans(), st.text(max_size=3), negative,
                        st.sampled_from([float("nan"), float("inf"), -0.5]))
bad_bytes = st.one_of(st.integers(), st.floats(), st.lists(st.integers(), max_size=2),
                      st.sampled_from(["\ud800", "ok\udfff", "\udbff\udc00x\ud800"]))

#: (call name, argument the message must name, how to call it with the drawn value)
CALLS = {
    "send.partition": ("partition", st.one_of(not_int.filter(lambda v: v is not None), negative),
                       lambda w, v: w["producer"].send(TOPIC, value=b"x", partition=v)),
    "send.timestamp_ms": ("timestamp_ms", st.one_of(not_int.filter(lambda v: v is not None), negative),
                          lambda w, v: w["producer"].send(TOPIC, value=b"x", timestamp_ms=v)),
    "send.headers": ("header", st.one_of(st.integers(), st.floats(), st.text(min_size=1, max_size=3),
                                          st.lists(st.integers(), min_size=1, max_size=2)),
                     lambda w, v: w["producer"].send(TOPIC, value=b"x", headers=v)),
    "send.value": ("value", bad_bytes, lambda w, v: w["producer"].send(TOPIC, value=v)),
    "send.key": ("key", bad_bytes, lambda w, v: w["producer"].send(TOPIC, value=b"x", key=v)),
    "send.topic": ("topic", st.one_of(st.none(), st.integers(), st.just("")),
                   lambda w, v: w["producer"].send(v, value=b"x")),
    "flush": ("timeout_ms", bad_timeout.filter(lambda v: v is not None), lambda w, v: w["producer"].flush(v)),
    "poll": ("timeout_ms", bad_timeout, lambda w, v: w["consumer"].poll(v)),
    "seek.offset": ("offset", st.one_of(not_int, negative), lambda w, v: w["consumer"].seek((TOPIC, 0), v)),
    "seek.tp": ("tp", st.one_of(not_int, st.tuples(st.just(TOPIC))), lambda w, v: w["consumer"].seek(v, 0)),
    "position.tp": ("tp", st.one_of(not_int, st.tuples(st.just(TOPIC))), lambda w, v: w["consumer"].position(v)),
    "commit": ("group.id", st.none(), lambda w, v: w["consumer"].commit()),
    "create_topic.partitions": ("partitions", st.one_of(not_int, st.integers(max_value=-2), st.just(0)),
                                lambda w, v: w["cluster"].create_topic("bad", partitions=v)),
    "create_topic.replication_factor": ("replication_factor",
                                        st.one_of(not_int.filter(lambda v: v is not None), st.integers(max_value=-2),
                                                  st.just(0)),
                                        lambda w, v: w["cluster"].create_topic("bad", replication_factor=v)),
    "leader_for.partition": ("partition", st.one_of(not_int, st.integers(min_value=3), negative),
                             lambda w, v: w["cluster"].leader_for(TOPIC, v)),
    "restart.running": ("node", st.sampled_from([1, 2, 3]), lambda w, v: w["cluster"].restart(v)),
}
#: calls after close(): Kafka's IllegalStateException (a RuntimeError here) with its words
AFTER_CLOSE = {
    "send.after_close": ("producer", lambda w: w["producer"].send(TOPIC, value=b"x")),
    "flush.after_close": ("producer", lambda w: w["producer"].flush()),
    "poll.after_close": ("consumer", lambda w: w["consumer"].poll(10)),
    "seek.after_close": ("consumer", lambda w: w["consumer"].seek((TOPIC, 0), 0)),
}

_wrong_argument = st.sampled_from(sorted(CALLS)).flatmap(lambda name: st.tuples(st.just(name), CALLS[name][1]))
#: a close() ends a client for the rest of the sequence, so it is drawn a quarter of the time
bad_call = st.one_of(_wrong_argument, _wrong_argument, _wrong_argument,
                     st.tuples(st.sampled_from(sorted(AFTER_CLOSE)), st.none()))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(bad_call, min_size=1, max_size=6), partition=st.integers(0, 2))
def test_bad_calls_fail_at_once_and_lose_nothing_acknowledged(calls, partition):
    c = cluster()
    world = {"cluster": c, "producer": c.producer({"linger.ms": 0}),
             "consumer": c.consumer({"auto.offset.reset": "earliest"})}
    world["consumer"].assign([kl.TopicPartition(TOPIC, p) for p in range(3)])
    marker = f"acked-{c.now:.3f}".encode()
    acked = world["producer"].send(TOPIC, value=marker, partition=partition).result()
    for name, value in calls:
        if name in AFTER_CLOSE:
            whom, call = AFTER_CLOSE[name]
            world[whom].close()
            with pytest.raises(RuntimeError, match="closed"):
                call(world)
            continue
        argument, _, call = CALLS[name]
        try:
            call(world, value)
        except SimulationError:
            raise
        except (TypeError, ValueError, ConfigError, KafkaError) as exc:
            assert argument in str(exc), f"{name}({value!r}) raised {exc!r}, which does not name {argument!r}"
        except RuntimeError as exc:
            assert "closed" in str(exc), f"{name}({value!r}) raised {exc!r}"   # an earlier close in the sequence
        else:
            raise AssertionError(f"{name}({value!r}) was accepted")
    c.run(50)                                  # whatever the calls left behind runs without raising
    reader = c.consumer({"auto.offset.reset": "earliest"})
    reader.assign([kl.TopicPartition(TOPIC, acked.partition)])
    reader.seek((TOPIC, acked.partition), acked.offset)
    records = reader.poll(2_000)
    reader.close()
    assert records and records[0].value == marker
