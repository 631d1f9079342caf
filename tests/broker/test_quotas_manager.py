"""The broker's quota manager against Kafka's own rules: the Rate's window, QuotaUtils.throttleTime, the precedence of
quota entities and the sharing of sensors (ClientQuotaManagerTest, RateTest and QuotaUtilsTest in Kafka's tree)."""
import math

import pytest

from kafkalab.broker.quotas import ANONYMOUS, DEFAULT, ClientQuotaManager, ClientQuotas, throttle_time_ms
from kafkalab.common.sampled_stats import Avg, Max, Rate


def test_a_fresh_rate_divides_by_at_least_samples_minus_one_windows() -> None:
    rate = Rate(11, 1000.0)
    rate.record(5000, 0.0)
    # Rate.windowSize: no full window yet, so ten windows of 1 s are assumed: 5000 bytes over 10 s
    assert rate.window_size_ms(0.0) == 10_000.0
    assert rate.measure(0.0) == 500.0


def test_a_rate_forgets_samples_older_than_its_span() -> None:
    rate = Rate(11, 1000.0)
    rate.record(11_000, 0.0)
    for t in range(1000, 12_000, 1000):
        rate.record(0, float(t))
    # at 12 s the first sample (last event at 0) is 12 s old >= 11 windows: purged
    assert rate.measure(12_000.0) == 0.0


def test_a_steady_rate_measures_what_was_recorded() -> None:
    rate = Rate(11, 1000.0)
    for t in range(0, 30_000, 100):
        rate.record(100, float(t))        # 1,000 bytes/s
    assert rate.measure(29_999.0) == pytest.approx(1000.0, rel=0.02)


def test_avg_and_max_combine_the_retained_samples() -> None:
    avg, peak = Avg(2, 30_000.0), Max(2, 30_000.0)
    assert math.isnan(avg.measure(0.0)) and math.isnan(peak.measure(0.0))
    for t, v in ((0.0, 10), (100.0, 30), (31_000.0, 20)):
        avg.record(v, t)
        peak.record(v, t)
    assert avg.measure(31_000.0) == 20.0 and peak.measure(31_000.0) == 30.0
    # 60 s after their last event the first window's values are gone
    assert avg.measure(60_100.0) == 20.0 and peak.measure(60_100.0) == 20.0


def test_throttle_time_is_quota_utils_throttle_time() -> None:
    # X = (O - T) / T * W, rounded as Java's Math.round
    assert throttle_time_ms(2000.0, 1000.0, 10_000.0) == 10_000
    assert throttle_time_ms(1250.0, 1000.0, 10_002.0) == 2501      # 2500.5 rounds up (Python's round: 2500)
    assert throttle_time_ms(1100.0, 1000.0, 11_000.0) == 1100


def test_a_client_over_its_quota_is_throttled_by_the_time_that_brings_it_back() -> None:
    m = ClientQuotaManager("Produce")
    m.update_quota(None, "app", 1000.0)
    assert m.record_and_get_throttle_ms(ANONYMOUS, "app", 5000, 0.0) == 0       # 500 B/s over 10 s
    # 15,000 bytes over the assumed 10 s: 1,500 B/s; (1500 - 1000) / 1000 * 10 s = 5 s
    assert m.record_and_get_throttle_ms(ANONYMOUS, "app", 10_000, 0.0) == 5000
    assert m.byte_rate(ANONYMOUS, "app", 0.0) == 1500.0
    assert m.record_and_get_throttle_ms(ANONYMOUS, "other", 1_000_000, 0.0) == 0   # no quota for it


@pytest.mark.parametrize(("configured", "expected"), [
    # the order of ClientQuotaManager's doc: each line is found when only it and the ones below are configured
    ([("u", "c")], ("u", "c")),
    ([("u", DEFAULT)], ("u", DEFAULT)),
    ([("u", None)], ("u", None)),
    ([(DEFAULT, "c")], (DEFAULT, "c")),
    ([(DEFAULT, DEFAULT)], (DEFAULT, DEFAULT)),
    ([(DEFAULT, None)], (DEFAULT, None)),
    ([(None, "c")], (None, "c")),
    ([(None, DEFAULT)], (None, DEFAULT)),
])
def test_precedence_most_specific_entity_first(configured: list, expected: tuple) -> None:
    order = [("u", "c"), ("u", DEFAULT), ("u", None), (DEFAULT, "c"), (DEFAULT, DEFAULT), (DEFAULT, None),
             (None, "c"), (None, DEFAULT)]
    m = ClientQuotaManager("Produce")
    below = order[order.index(configured[0]):]
    for user, client in below:
        m.update_quota(user, client, 1000.0 * (order.index((user, client)) + 1))
    assert m.quota("u", "c") == 1000.0 * (order.index(expected) + 1)


def test_a_specific_client_id_quota_beats_the_default_and_others_get_the_default() -> None:
    m = ClientQuotaManager("Fetch")
    m.update_quota(None, DEFAULT, 500.0)
    m.update_quota(None, "special", 2000.0)
    assert m.quota(ANONYMOUS, "special") == 2000.0
    assert m.quota(ANONYMOUS, "anyone") == 500.0
    m.update_quota(None, "special", None)           # removed: back to the default
    assert m.quota(ANONYMOUS, "special") == 500.0


def test_clients_of_one_user_share_the_users_sensor() -> None:
    m = ClientQuotaManager("Produce")
    m.update_quota("alice", None, 1000.0)
    assert m.metric_tags("alice", "a") == m.metric_tags("alice", "b") == ("alice", "")
    m.record_and_get_throttle_ms("alice", "a", 6000, 0.0)
    # the user's second client sees the bytes of the first: 12,000 over 10 s is over 1,000 B/s
    assert m.record_and_get_throttle_ms("alice", "b", 6000, 0.0) == 2000


def test_quotas_come_from_the_image_entities_and_a_fetch_cap_follows_the_quota() -> None:
    q = ClientQuotas(11, 1)
    assert not q.enabled and q.fetch_max_bytes("c") == math.inf
    q.apply({(("client-id", None),): {"consumer_byte_rate": 1000.0},
             (("client-id", "p"), ("user", "bob")): {"producer_byte_rate": 10.0}})
    assert q.fetch.quota(ANONYMOUS, "c") == 1000.0
    assert q.fetch_max_bytes("c") == 1000.0 * 10 * 1           # quota * (samples - 1) * window seconds
    assert q.produce.quota("bob", "p") == 10.0
    q.apply({})
    assert q.fetch.quota(ANONYMOUS, "c") is None and q.produce.quota("bob", "p") is None
    assert q.enabled            # as in Kafka, recording stays on until a restart


def test_a_throttled_fetch_takes_its_bytes_back_and_mutes_the_channel() -> None:
    q = ClientQuotas(11, 1)
    muted: list[tuple[str, int]] = []
    q.on_throttle = lambda src, ms: muted.append((src, ms))
    q.apply({(("client-id", "c"),): {"consumer_byte_rate": 1000.0}})
    assert q.fetch_throttle_ms("consumer-1", "c", 9000, 0.0) == 0
    throttle = q.fetch_throttle_ms("consumer-1", "c", 9000, 0.0)
    assert throttle == 8000 and muted == [("consumer-1", 8000)]
    # the throttled response went without data: only the first 9,000 bytes count
    assert q.fetch.byte_rate(ANONYMOUS, "c", 0.0) == pytest.approx(900.0)
    row = q.describe(0.0)[0]
    assert row["throttle_time_max_ms"] == 8000 and row["client_id"] == "c" and row["quota_type"] == "Fetch"


def test_a_request_quota_throttles_by_thread_time_at_most_one_window() -> None:
    q = ClientQuotas(11, 1)
    q.thread_ms = lambda size_bytes: 2.0                 # each request costs 2 ms of a request thread
    q.apply({(("client-id", "busy"),): {"request_percentage": 1.0}})    # 1% of a thread: 10 ms per second
    # 0.2 percent-seconds per request; over the assumed 10 s, 50 requests reach 1% and the 51st is over
    throttles = [q.produce_throttle_ms("p", "busy", 100, 0.0) for _ in range(60)]
    assert throttles[:50] == [0] * 50 and 0 < throttles[50] <= throttles[-1]
    assert throttles[-1] == 1000                          # (1.2 - 1) / 1 * 10 s = 2 s, bounded by one window
    assert q.produce_throttle_ms("p", "busy", 100, 0.0, acks=0) == 0        # acks=0 is exempt
    assert q.produce.quota(ANONYMOUS, "busy") is None and q.request.quota(ANONYMOUS, "busy") == 1.0
    # a fetch over its request quota is answered empty too: its bytes are not kept
    q.apply({(("client-id", "busy"),): {"request_percentage": 1.0, "consumer_byte_rate": 10**9}})
    assert q.fetch_throttle_ms("c", "busy", 5000, 0.0, request_bytes=100) == 1000
    assert q.fetch.byte_rate(ANONYMOUS, "busy", 0.0) == 0.0
