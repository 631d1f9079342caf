"""Consumer incremental fetch sessions (KIP-227) end to end: a consumer opens a session on each leader with one full
fetch, then names only the partitions that changed; lost sessions (eviction, restart, a wrong epoch) fall back to a
full fetch, and the records delivered are the same as without sessions."""
import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.clients.fetch_session import FetchSessionHandler
from kafkalab.protocol.fetch import FetchPartition, FetchResponse
from kafkalab.sim import FaultOptions, Nemesis, Tracer

TPS = [kl.TopicPartition("t", p) for p in range(6)]


def boot(config=None, partitions=6, seed=3):
    cluster = kl.Cluster(seed=seed, config=config or {})
    cluster.create_topic("t", partitions=partitions, replication_factor=3)
    return cluster


def tap(cluster):
    """Record every consumer FetchRequest each broker handles: broker id -> [request, ...]."""
    seen = {}
    for b in cluster.brokers:
        fetches = cluster.broker(b).rm._fetch
        original = fetches.fetch

        def recording(src, req, now_ms, b=b, original=original):
            seen.setdefault(b, []).append(req)
            return original(src, req, now_ms)
        fetches.fetch = recording
    return seen


def produce(cluster, n, partitions=(0, 1, 2, 3, 4, 5), start=0, pad=0):
    producer = cluster.producer({"linger.ms": 0})
    futures = [producer.send("t", value=f"v{i}".ljust(pad, "."), partition=partitions[i % len(partitions)])
               for i in range(start, start + n)]
    assert cluster.run_until(lambda: all(f.done() for f in futures), 30_000)


def read_all(consumer, expected, polls=40):
    got = []
    for _ in range(polls):
        got += consumer.poll(200)
        if len(got) >= expected:
            break
    return got


def sessions(cluster, b):
    return cluster.broker(b).rm._fetch.sessions


def test_a_consumer_opens_one_session_per_leader_and_idle_fetches_name_no_partition():
    cluster = boot()
    produce(cluster, 60)
    seen = tap(cluster)
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign(TPS)
    assert len(read_all(consumer, 60)) == 60
    consumer.poll(2_000)                       # idle: long polls with nothing to read
    for b, requests in seen.items():
        led = {tp for tp in TPS if cluster.broker(b).rm.partition(tp.topic, tp.partition).is_leader}
        first = requests[0]
        assert first.session_epoch == 0 and set(first.partitions) == led        # full: every partition it leads
        assert [r.session_epoch for r in requests[1:]] == list(range(1, len(requests)))
        assert len({r.session_id for r in requests[1:]}) == 1 and requests[1].session_id > 0
        assert requests[-1].partitions == {} and requests[-1].forgotten == ()   # idle: nothing changed
        assert len(sessions(cluster, b).sessions) == 1


def test_incremental_requests_carry_only_the_partitions_that_changed():
    cluster = boot()
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign(TPS)
    consumer.poll(1_000)
    seen = tap(cluster)
    produce(cluster, 10, partitions=(2,))
    got = read_all(consumer, 10)
    assert [r.offset for r in got] == list(range(10))
    consumer.poll(1_000)
    named = {tp for requests in seen.values() for r in requests for tp in r.partitions}
    forgotten = {tp for requests in seen.values() for r in requests for tp in r.forgotten}
    assert named == {TPS[2]}                   # the only partition whose fetch offset moved
    assert forgotten == set()                  # no fetch to its leader while its records were buffered (KAFKA-17182)
    assert all(r.session_epoch > 0 for requests in seen.values() for r in requests)


def test_data_a_budget_left_unread_is_read_on_the_next_fetch_without_news():
    # Everything is written before the consumer starts, so no HW moves while it reads: a partition that
    # fetch.max.bytes cut from an answer must be read again although the consumer does not name it again.
    cluster = boot()
    produce(cluster, 60, pad=300)
    consumer = cluster.consumer({"auto.offset.reset": "earliest", "fetch.max.bytes": 1_000})
    consumer.assign(TPS)
    got = read_all(consumer, 60)
    assert sorted((r.partition, r.offset) for r in got) == [(p, o) for p in range(6) for o in range(10)]


def test_a_seek_to_the_position_of_a_fetch_in_flight_names_the_partition_again():
    # The fetch in flight names offset 5; seek(5) makes its answer stale (dropped), and the partition's fetch
    # state is unchanged: the consumer must name it again, or the broker, having answered it, reads it no more.
    cluster = boot()
    produce(cluster, 5, partitions=(0,))
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([TPS[0]])
    assert [r.offset for r in read_all(consumer, 5)] == [0, 1, 2, 3, 4]
    consumer.poll(100)                          # caught up: a long poll waits at the leader
    consumer.seek(TPS[0], 5)
    produce(cluster, 5, partitions=(0,), start=5)     # answers the parked fetch, for the old seek generation
    assert [r.offset for r in read_all(consumer, 5)] == [5, 6, 7, 8, 9]


def test_reassignment_adds_and_forgets_partitions_in_the_session():
    cluster = boot()
    produce(cluster, 60)
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign(TPS[:3])
    assert len(read_all(consumer, 30)) == 30
    consumer.poll(1_000)                       # caught up: the fetches in flight name nothing
    seen = tap(cluster)
    consumer.assign(TPS[2:])
    got = read_all(consumer, 30)
    assert sorted((r.partition, r.offset) for r in got) == [(p, o) for p in range(3, 6) for o in range(10)]
    named = {tp for requests in seen.values() for r in requests for tp in r.partitions}
    forgotten = {tp for requests in seen.values() for r in requests for tp in r.forgotten}
    assert {TPS[0], TPS[1]} <= forgotten and TPS[2] not in forgotten
    assert set(TPS[3:]) <= named and TPS[2] not in named
    for b in cluster.brokers:
        for s in sessions(cluster, b).sessions.values():
            assert set(s.partitions) <= set(TPS[2:])


def test_an_evicted_session_answers_fetch_session_id_not_found_and_the_consumer_starts_over_full():
    # One slot, evictable at once: two consumers take it from each other on every full fetch.
    cluster = boot({"max.incremental.fetch.session.cache.slots": 1, "min.incremental.fetch.session.eviction.ms": 0})
    produce(cluster, 60)
    seen = tap(cluster)
    a = cluster.consumer({"auto.offset.reset": "earliest"})
    b = cluster.consumer({"auto.offset.reset": "earliest"})
    a.assign(TPS)
    b.assign(TPS)
    got_a, got_b = [], []
    for _ in range(20):
        got_a += a.poll(100)
        got_b += b.poll(100)
    assert sorted((r.partition, r.offset) for r in got_a) == sorted((r.partition, r.offset) for r in got_b)
    assert len(got_a) == 60
    assert sum(sessions(cluster, n).evictions for n in cluster.brokers) > 0
    # after each lost session the consumer's next request is full again
    lost = [r for requests in seen.values() for r in requests if r.session_epoch == 0]
    assert len(lost) > len(cluster.brokers) * 2


def test_a_restarted_broker_has_no_session_and_the_consumer_falls_back_to_a_full_fetch():
    cluster = boot({"min.insync.replicas": 1})
    produce(cluster, 30)
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign(TPS)
    assert len(read_all(consumer, 30)) == 30
    handler = consumer.core._sessions
    node, session = next((n, h) for n, h in handler.items() if h.session_id > 0)
    full_before = session.full_requests
    old_id = session.session_id
    broker_id = next(b for b in cluster.brokers if str(b) in str(node) or b == node)
    cluster.crash(broker_id)
    cluster.restart(broker_id)
    cluster.run(15_000)
    produce(cluster, 30, start=30)
    got = read_all(consumer, 30)
    assert sorted((r.partition, r.offset) for r in got) == [(p, o) for p in range(6) for o in range(5, 10)]
    # the restarted broker knows no session: the consumer's next request to it was full and opened a new one
    assert session.full_requests > full_before and session.session_id > old_id     # ids never repeat
    assert len(sessions(cluster, broker_id).sessions) == 1


def test_a_wrong_epoch_answers_invalid_fetch_session_epoch_and_closes_the_old_session():
    cluster = boot()
    produce(cluster, 12)
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign(TPS)
    assert len(read_all(consumer, 12)) == 12
    for handler in consumer.core._sessions.values():
        handler.epoch += 7                       # out of step with the broker
    answers = []
    core = consumer.core
    original = core._on_fetch

    def spy(node, generations, full, response, error):
        answers.append(getattr(response, "error", error))
        return original(node, generations, full, response, error)
    core._on_fetch = spy
    produce(cluster, 12, start=12)
    got = read_all(consumer, 12)
    assert sorted((r.partition, r.offset) for r in got) == [(p, o) for p in range(6) for o in range(2, 4)]
    assert "INVALID_FETCH_SESSION_EPOCH" in answers
    for b in cluster.brokers:                    # the full request closed the old session: one per consumer
        assert len(sessions(cluster, b).sessions) == 1


def test_records_are_the_same_with_and_without_sessions():
    def run(slots):
        cluster = boot({"max.incremental.fetch.session.cache.slots": slots}, seed=11)
        consumer = cluster.consumer({"auto.offset.reset": "earliest", "max.poll.records": 7,
                                     "fetch.max.bytes": 2_000})
        consumer.assign(TPS)
        out = []
        for round_ in range(4):
            produce(cluster, 40, start=40 * round_, pad=300)    # answers cut by fetch.max.bytes
            out += read_all(consumer, 40)
        return sorted((r.partition, r.offset, r.value) for r in out), cluster

    with_sessions, c1 = run(1000)
    without, c2 = run(0)
    assert with_sessions == without
    assert len(with_sessions) == 160
    assert all(len(sessions(c2, b).sessions) == 0 for b in c2.brokers)
    assert any(len(sessions(c1, b).sessions) == 1 for b in c1.brokers)


def session_digest(seed):
    cluster = boot(seed=seed)
    tracer = Tracer(cluster.kernel)
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign(TPS)
    produce(cluster, 50)
    got = read_all(consumer, 50)
    consumer.assign(TPS[1:4])
    produce(cluster, 20, start=50)
    got += read_all(consumer, 10)
    return hashlib.sha256(repr([(r.partition, r.offset) for r in got]).encode()).hexdigest() + tracer.digest()


def test_sessions_are_deterministic():
    assert session_digest(5) == session_digest(5)


def test_the_handler_builds_full_then_incremental_requests():
    h = FetchSessionHandler()
    a, b, c = (kl.TopicPartition("x", i) for i in range(3))
    fa, fb = FetchPartition(0), FetchPartition(5)
    parts, forgotten = h.build({a: fa, b: fb})
    assert (parts, forgotten, h.is_full) == ({a: fa, b: fb}, (), True)
    assert h.handle_response(FetchResponse("NONE", {}, 0, 9), full=True)
    assert (h.session_id, h.epoch) == (9, 1)
    fb2, fc = FetchPartition(6), FetchPartition(0)
    assert h.build({a: fa, b: fb2, c: fc}) == ({b: fb2, c: fc}, ())
    assert h.handle_response(FetchResponse("NONE", {}, 0, 9), full=False) and h.epoch == 2
    assert h.build({c: fc}) == ({}, (a, b))
    h.resend(c)
    assert h.build({c: fc}) == ({c: fc}, ())
    assert not h.handle_response(FetchResponse("INVALID_FETCH_SESSION_EPOCH", {}, 0), full=False)
    assert (h.session_id, h.is_full) == (9, True)          # the full request closes session 9
    assert not h.handle_response(FetchResponse("FETCH_SESSION_ID_NOT_FOUND", {}, 0), full=False)
    assert (h.session_id, h.is_full) == (0, True)
    h.build({c: fc})
    assert h.handle_response(FetchResponse("NONE", {}, 0, 0), full=True)
    assert h.is_full                                         # no slot on the broker: requests stay full


@pytest.mark.parametrize("key,value", [("max.incremental.fetch.session.cache.slots", -1),
                                       ("min.incremental.fetch.session.eviction.ms", -5)])
def test_session_cache_settings_reject_negative_values(key, value):
    with pytest.raises(Exception) as info:
        kl.Cluster(config={key: value})
    assert key in str(info.value)


FAULTS = FaultOptions(mean_interval_ms=3_000, min_duration_ms=1_000, max_duration_ms=8_000,
                      kinds=(("crash", 1.0), ("pause", 0.5), ("isolate", 1.0), ("partition", 1.0)))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10_000))
def test_a_consumer_reading_through_faults_in_sessions_reads_every_committed_record_once_in_order(seed):
    """Broker crashes, pauses, isolation and partitions while a consumer reads in sessions (a small fetch.max.bytes,
    so budgets cut answers): per partition the offsets it reads are 0, 1, 2, ... without gap or repeat, and in the
    end it has read everything acknowledged."""
    cluster = kl.Cluster(seed=seed, config={"min.insync.replicas": 2})
    cluster.create_topic("t", partitions=6, replication_factor=3)
    producer = cluster.producer({"acks": "all", "linger.ms": 1, "delivery.timeout.ms": 60_000,
                                 "request.timeout.ms": 5_000})
    consumer = cluster.consumer({"auto.offset.reset": "earliest", "fetch.max.bytes": 1_500,
                                 "max.poll.records": 9})
    consumer.assign(TPS)
    Nemesis(cluster).random(25_000, cluster.brokers, FAULTS)
    read = []
    futures = []
    for i in range(120):
        futures.append(producer.send("t", value=f"{seed}-{i}".ljust(200, "."), key=f"k{i % 7}"))
        read += consumer.poll(200)
    cluster.run_until(lambda: all(f.done() for f in futures), 90_000)
    cluster.heal()
    for node in cluster.brokers:
        if not cluster.is_alive(node):
            cluster.restart(node)
    idle = 0
    while idle < 6:
        got = consumer.poll(500)
        read += got
        idle = 0 if got else idle + 1
    by_partition = {}
    for r in read:
        by_partition.setdefault(r.partition, []).append(r.offset)
    for p, offsets in by_partition.items():
        assert offsets == list(range(len(offsets))), (seed, p, offsets)
    acked = {(f.result().partition, f.result().offset) for f in futures if f.exception() is None}
    assert acked <= {(r.partition, r.offset) for r in read}, seed
