"""KIP-219 on the client side: an answer carrying a throttle time makes its broker not ready for that long (Kafka's
``NetworkClient.maybeThrottle``), and the client reports it as Kafka's ``*-throttle-time-avg/max``."""
from __future__ import annotations

import math
import random
from typing import Any

from kafkalab.clients.network import NetworkClient
from kafkalab.protocol.fetch import FetchResponse
from kafkalab.protocol.produce import ProduceRequest, ProduceResponse


class _Timer:
    def cancel(self) -> None:
        pass


class _Port:
    node_id = "producer-1"
    alive = True

    def __init__(self) -> None:
        self.now = 0.0
        self.sent: list[tuple[Any, Any]] = []

    def send(self, dst: Any, msg: Any, size_bytes: int = 64) -> None:
        self.sent.append((dst, msg))

    def set_timer(self, delay_ms: float, callback: Any, *args: Any, name: str | None = None) -> _Timer:
        return _Timer()

    def rng(self, name: str) -> random.Random:
        return random.Random(0)

    def record(self, metric: str, value: Any, **labels: Any) -> None:
        pass


def _client() -> tuple[_Port, NetworkClient, list[Any]]:
    port = _Port()
    answers: list[Any] = []
    network = NetworkClient(port, request_timeout_ms=30_000, reconnect_backoff_ms=50, max_in_flight=5)
    return port, network, answers


def _round_trip(port: _Port, network: NetworkClient, answers: list[Any], throttle_ms: int) -> None:
    cid = network.send(1, lambda c: ProduceRequest(1, 30_000, {}, c, client_id="app"),
                       lambda r, e: answers.append(r))
    network.on_message(1, ProduceResponse({}, cid, throttle_ms))


def test_a_throttled_answer_holds_requests_to_that_broker_back_for_the_throttle_time() -> None:
    port, network, answers = _client()
    assert port.sent == [] and math.isnan(network.throttle_metrics("ProduceResponse", "produce")[
        "produce-throttle-time-max"])
    _round_trip(port, network, answers, 0)
    assert network.is_ready(1, port.now) and port.sent[0][1].client_id == "app"
    _round_trip(port, network, answers, 300)
    assert not network.is_ready(1, port.now) and network.backoff_remaining_ms(1, port.now) == 300
    assert network.is_ready(2, port.now)                    # other brokers are not throttled
    port.now = 299.0
    assert not network.is_ready(1, port.now) and network.backoff_remaining_ms(1, port.now) == 1
    port.now = 300.0
    assert network.is_ready(1, port.now) and network.backoff_remaining_ms(1, port.now) == 0
    # counted from the first throttled answer on (a run without quotas records nothing)
    assert network.throttle_metrics("ProduceResponse", "produce") == {
        "produce-throttle-time-avg": 300.0, "produce-throttle-time-max": 300.0}
    _round_trip(port, network, answers, 0)
    assert network.throttle_time("ProduceResponse") == (150.0, 300.0)
    assert math.isnan(network.throttle_time("FetchResponse")[0])     # per answer type


def test_the_throttle_metrics_cover_kafkas_client_metrics_window() -> None:
    port, network, answers = _client()
    _round_trip(port, network, answers, 1_000)
    port.now = 30_000.0
    _round_trip(port, network, answers, 10)
    port.now = 61_000.0             # two samples of 30 s: the first answer's sample has aged out
    avg, peak = network.throttle_time("ProduceResponse")
    assert (avg, peak) == (10.0, 10.0)


def test_a_fetch_answer_throttles_like_a_produce_answer() -> None:
    port, network, answers = _client()
    cid = network.send(3, lambda c: ProduceRequest(1, 30_000, {}, c), lambda r, e: answers.append(r))
    network.on_message(3, FetchResponse("NONE", {}, cid, 0, 250))
    assert not network.is_ready(3, 0.0) and network.throttle_time("FetchResponse") == (250.0, 250.0)
