"""Client byte-rate quotas in a running cluster (KIP-13, KIP-219, KIP-546): a producer or consumer offered more than
its quota is held to it, told so in its answers, and kept quiet while throttled; quotas set, changed, removed and
kept across a broker restart through the metadata log."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import kafkalab as kl

RECORD = b"x" * 50_000          # 50 KB records: few Python objects per simulated megabyte
QUOTA = 1_000_000               # bytes per second


def offer(cluster: kl.Cluster, producer: Any, rate_bps: float, seconds: float, acks: list[tuple[float, int]],
          topic: str = "t") -> None:
    """Send RECORDs at ``rate_bps`` for ``seconds`` (every 10 ms); each acknowledgement appends (time, bytes)."""
    def acked(md: Any, exc: BaseException | None) -> None:
        if exc is None:
            acks.append((cluster.now, len(RECORD)))

    owed = 0.0
    for _ in range(int(seconds * 100)):
        owed += rate_bps / 100 / len(RECORD)
        while owed >= 1:
            producer.send(topic, RECORD, on_delivery=acked)
            owed -= 1
        cluster.run(10)


def rate_between(events: list[tuple[float, int]], start_ms: float, end_ms: float) -> float:
    """Bytes per second of the events in [start_ms, end_ms)."""
    return sum(n for t, n in events if start_ms <= t < end_ms) / ((end_ms - start_ms) / 1000)


def long_run_rate(events: list[tuple[float, int]], start_ms: float, end_ms: float) -> float:
    """The slope (bytes per second) of the cumulative bytes of ``events`` over [start_ms, end_ms), by least squares.

    A windowed rate limit lets a client run in bursts as old samples leave the window (Kafka's quota keeps the
    bytes of the last ~11 s near 11 s of quota, not each second's), so an average between two instants is off by
    up to a window's worth of bytes; the slope of the cumulative curve is the long-run rate."""
    events = sorted(events)
    t = np.array([e[0] for e in events]) / 1000
    total = np.cumsum([e[1] for e in events])
    keep = (t >= start_ms / 1000) & (t < end_ms / 1000)
    return float(np.polyfit(t[keep], total[keep], 1)[0])


def quota_cluster(seed: int = 3, brokers: int = 1) -> kl.Cluster:
    cluster = kl.Cluster(brokers=brokers, controllers=1, seed=seed)
    cluster.create_topic("t", partitions=1, replication_factor=1)
    return cluster


def fast_producer(cluster: kl.Cluster, client_id: str) -> Any:
    # room for a big backlog: what is offered beyond the quota waits in the accumulator, none of it expires
    return cluster.producer({"client.id": client_id, "acks": 1, "buffer.memory": 1 << 30,
                             "delivery.timeout.ms": 3_600_000})


def test_a_producer_offered_four_times_its_quota_is_held_to_it_and_told_so() -> None:
    cluster = quota_cluster()
    cluster.admin.alter_client_quotas([({"client-id": "loader"}, {"producer_byte_rate": QUOTA})])
    producer = fast_producer(cluster, "loader")
    acks: list[tuple[float, int]] = []
    start = cluster.now
    offer(cluster, producer, 4 * QUOTA, 120, acks)
    # the acknowledged record bytes run at the quota less the request overhead (headers and batch framing count
    # against the quota too: about 0.3% of a 50 KB record)
    measured = long_run_rate(acks, start + 20_000, start + 120_000)
    assert 0.97 * QUOTA <= measured <= 1.0 * QUOTA
    # no stretch of 20 s gets more than the quota allows plus the window's worth (11 windows of 1 s)
    assert max(rate_between(acks, start + a, start + a + 20_000) for a in range(0, 100_000, 1000)) * 20 \
        <= QUOTA * (20 + 11)
    # the broker's own sensor sees the request bytes at the quota
    row = cluster.broker(cluster.brokers[0]).quota_metrics()[0]
    assert row["client_id"] == "loader" and row["quota"] == QUOTA
    # (a request that starts a new sample drops the oldest, so the window shrinks by one of its 11 samples and the
    # measured rate jumps by up to a tenth: Kafka's Rate)
    assert 0.85 * QUOTA <= row["byte_rate"] <= 1.15 * QUOTA
    # the answers carried throttle times, which the producer reports as Kafka's produce-throttle-time-avg/max
    metrics = producer.metrics()
    assert metrics["produce-throttle-time-max"] > 0 and metrics["produce-throttle-time-avg"] > 0
    frame = cluster.metrics()
    throttles = frame[(frame.metric == "broker.quota.throttle_time_ms") & (frame.value > 0)]
    assert len(throttles) > 10 and set(throttles.client_id) == {"loader"}
    # KIP-219: while throttled the producer sends nothing to the broker (it learns of the throttle one link
    # latency after the broker decided it, so allow that much)
    sends = frame[(frame.metric == "producer.request")].time_ms.to_numpy()
    for t, throttle in zip(throttles.time_ms, throttles.value, strict=True):
        assert not ((sends > t + 5) & (sends < t + throttle)).any(), (t, throttle)


def test_a_consumer_over_its_quota_gets_empty_throttled_fetches_and_reads_at_the_quota() -> None:
    cluster = quota_cluster()
    loader = cluster.producer({"acks": 1})
    for _ in range(2_400):                                    # 120 MB, produced without a quota
        loader.send("t", RECORD)
    loader.flush()
    cluster.admin.alter_client_quotas([({"client-id": "reader"}, {"consumer_byte_rate": QUOTA})])
    # fetches of at most 200 KB: a throttled fetch is answered empty and its bytes are fetched again later, so
    # fetches large against the quota waste part of it (1 MB fetches against 1 MB/s get about 89% of the quota)
    consumer = cluster.consumer({"client.id": "reader", "auto.offset.reset": "earliest",
                                 "max.partition.fetch.bytes": 200_000})
    consumer.assign([kl.TopicPartition("t", 0)])
    reads: list[tuple[float, int]] = []
    start = cluster.now
    offsets: list[int] = []
    while cluster.now < start + 100_000:
        records = consumer.poll(100)
        reads.extend((cluster.now, len(r.value)) for r in records)
        offsets.extend(r.offset for r in records)
    measured = long_run_rate(reads, start + 20_000, start + 100_000)
    assert 0.97 * QUOTA <= measured <= 1.0 * QUOTA
    metrics = consumer.metrics()
    assert metrics["fetch-throttle-time-max"] > 0
    # every record read in order, none skipped, none twice: a throttled fetch returned nothing and was asked again
    assert offsets == list(range(len(offsets))) and len(offsets) < 2_400
    frame = cluster.metrics()
    throttled = frame[(frame.metric == "broker.quota.throttle_time_ms") & (frame.value > 0)]
    assert len(throttled) > 0 and set(throttled.type) == {"Fetch"}


def test_a_quota_changed_at_run_time_takes_effect_and_a_removed_one_lets_the_client_speed_up() -> None:
    cluster = quota_cluster(seed=4)
    entity = {"client-id": "app"}
    cluster.admin.alter_client_quotas([(entity, {"producer_byte_rate": QUOTA})])
    producer = fast_producer(cluster, "app")
    acks: list[tuple[float, int]] = []
    start = cluster.now
    offer(cluster, producer, 4 * QUOTA, 60, acks)
    cluster.admin.alter_client_quotas([(entity, {"producer_byte_rate": 2 * QUOTA})])
    raised = cluster.now
    offer(cluster, producer, 4 * QUOTA, 60, acks)
    cluster.admin.alter_client_quotas([(entity, {"producer_byte_rate": None})])
    assert cluster.admin.describe_client_quotas() == {}
    removed = cluster.now
    offer(cluster, producer, 4 * QUOTA, 10, acks)
    first = long_run_rate(acks, start + 15_000, raised)
    second = long_run_rate(acks, raised + 15_000, removed)
    third = rate_between(acks, removed + 1_000, removed + 10_000)
    assert first == pytest.approx(QUOTA, rel=0.03)
    assert second == pytest.approx(2 * QUOTA, rel=0.03)
    assert third > 4 * second        # unthrottled, the backlog drains as fast as the producer can send


def test_a_specific_client_id_quota_beats_the_default_entity() -> None:
    cluster = quota_cluster(seed=5)
    cluster.admin.alter_client_quotas([({"client-id": None}, {"producer_byte_rate": QUOTA // 2}),
                                       ({"client-id": "vip"}, {"producer_byte_rate": 2 * QUOTA})])
    assert cluster.admin.describe_client_quotas({"client-id": None}) == {
        (("client-id", None),): {"producer_byte_rate": QUOTA // 2}}
    vip, other = fast_producer(cluster, "vip"), fast_producer(cluster, "other")
    vip_acks: list[tuple[float, int]] = []
    other_acks: list[tuple[float, int]] = []

    start = cluster.now
    for _ in range(80 * 10):
        for producer, acks in ((vip, vip_acks), (other, other_acks)):
            for _ in range(6):                          # 3 MB/s offered each
                producer.send("t", RECORD, on_delivery=lambda md, exc, a=acks: a.append((cluster.now, len(RECORD))))
        cluster.run(100)
    assert long_run_rate(vip_acks, start + 20_000, start + 80_000) == pytest.approx(2 * QUOTA, rel=0.03)
    assert long_run_rate(other_acks, start + 20_000, start + 80_000) == pytest.approx(QUOTA / 2, rel=0.03)


def test_a_user_quota_comes_before_a_client_id_quota_and_the_users_clients_share_it() -> None:
    # kafkalab models no authentication: every connection is the PLAINTEXT principal ANONYMOUS, which the default
    # user entity matches; Kafka's precedence puts /users/<default> before /clients/<client-id>
    cluster = quota_cluster(seed=8)
    cluster.admin.alter_client_quotas([({"user": None}, {"producer_byte_rate": QUOTA // 2}),
                                       ({"client-id": "vip"}, {"producer_byte_rate": 2 * QUOTA})])
    producers = [fast_producer(cluster, "vip"), fast_producer(cluster, "other")]
    acks: list[tuple[float, int]] = []
    start = cluster.now
    for _ in range(60 * 10):
        for producer in producers:
            for _ in range(4):                              # 2 MB/s offered each
                producer.send("t", RECORD, on_delivery=lambda md, exc: acks.append((cluster.now, len(RECORD))))
        cluster.run(100)
    # one sensor for the user: both clients together get the user's quota
    assert long_run_rate(acks, start + 20_000, start + 60_000) == pytest.approx(QUOTA / 2, rel=0.03)
    rows = cluster.broker(cluster.brokers[0]).quota_metrics()
    assert [(r["user"], r["client_id"], r["quota"]) for r in rows] == [("ANONYMOUS", "", QUOTA / 2)]


def test_a_request_quota_caps_the_request_thread_time_a_producer_takes() -> None:
    # KIP-124: 0.5% of one request thread. A 50 KB produce request costs the default cost model 0.05 ms plus
    # 1.5 ns per byte, about 0.125 ms: 0.5% of a thread's second (5 ms) is about 40 such requests per second, 2 MB/s
    cluster = quota_cluster(seed=9)
    cluster.admin.alter_client_quotas([({"client-id": "chatty"}, {"request_percentage": 0.5})])
    producer = fast_producer(cluster, "chatty")
    acks: list[tuple[float, int]] = []
    start = cluster.now
    offer(cluster, producer, 8 * QUOTA, 60, acks)
    service_ms = 0.05 + (len(RECORD) + 64 + 32 + 72) * 1.5e-6
    expected = 5.0 / service_ms * len(RECORD)
    assert long_run_rate(acks, start + 20_000, start + 60_000) == pytest.approx(expected, rel=0.05)
    rows = [r for r in cluster.broker(cluster.brokers[0]).quota_metrics() if r["quota_type"] == "Request"]
    assert rows and rows[0]["quota"] == 0.5 and rows[0]["throttle_time_max_ms"] <= 1000      # bounded throttle


def test_a_restarted_broker_has_its_quotas_back_from_the_metadata_log() -> None:
    cluster = quota_cluster(seed=6)
    cluster.admin.alter_client_quotas([({"client-id": "app"}, {"producer_byte_rate": QUOTA})])
    broker = cluster.brokers[0]
    cluster.crash(broker)
    cluster.run(1_000)
    cluster.restart(broker)
    server = cluster.broker(broker)
    assert server.rm.quotas.produce.quota("ANONYMOUS", "app") is None       # a new process knows nothing yet
    assert cluster.run_until(lambda: server.publishing, 60_000)
    assert server.rm.quotas.produce.quota("ANONYMOUS", "app") == QUOTA      # replayed from the metadata log
    producer = fast_producer(cluster, "app")
    acks: list[tuple[float, int]] = []
    start = cluster.now
    offer(cluster, producer, 3 * QUOTA, 60, acks)
    assert long_run_rate(acks, start + 15_000, start + 60_000) == pytest.approx(QUOTA, rel=0.03)


def test_no_quota_means_no_throttle_and_no_quota_metrics() -> None:
    cluster = quota_cluster(seed=7)
    producer = fast_producer(cluster, "free")
    acks: list[tuple[float, int]] = []
    offer(cluster, producer, 4 * QUOTA, 5, acks)
    producer.flush()
    frame = cluster.metrics()
    assert not frame.metric.str.startswith("broker.quota").any()
    assert cluster.broker(cluster.brokers[0]).quota_metrics() == []
    assert len(acks) == 400
