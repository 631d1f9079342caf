"""Client byte-rate quotas on a broker (KIP-13, KIP-55, KIP-219; Kafka's ``ClientQuotaManager`` and its
``DefaultQuotaCallback``, ``QuotaUtils``, and the throttling in ``KafkaApis.handleProduceRequest``/
``handleFetchRequest``).

How it works. Quotas come from the metadata log: the controller writes ``ClientQuotaRecord`` rows (KIP-546, see
:mod:`kafkalab.controller.client_quota_control`), every broker replays them into its metadata image and
:meth:`ClientQuotas.apply` hands the image's quotas to two managers, ``produce`` (``producer_byte_rate``) and
``fetch`` (``consumer_byte_rate``). Each broker enforces them on its own, for the traffic it serves, as Kafka's do.

Which quota applies to a client (``user``, ``client-id``) is Kafka's precedence, most specific first:
``/users/<user>/clients/<client-id>``, ``/users/<user>/clients/<default>``, ``/users/<user>``,
``/users/<default>/clients/<client-id>``, ``/users/<default>/clients/<default>``, ``/users/<default>``,
``/clients/<client-id>``, ``/clients/<default>``. Clients that share the matching entity share one rate sensor
(Kafka's quota metric tags: with only client-id quotas configured, every connection of a client-id shares it).
The user is the connection's authenticated principal; kafkalab models no authentication, so every client is
``ANONYMOUS``, as on Kafka's PLAINTEXT listener, and user entities match that name (or ``<default>``).

The rate is Kafka's ``Rate`` over ``quota.window.num`` (11) samples of ``quota.window.size.seconds`` (1 s)
(:mod:`kafkalab.common.sampled_stats`). A produce records the request's size when its response is due (acks=0
included); a consumer fetch records the response's size. When the measured rate exceeds the quota the throttle time
is ``QuotaUtils.throttleTime``: ``round((rate - quota) / quota * window_size_ms)``, the delay that brings the rate
back to the quota if nothing else is recorded. As in Kafka's snapshot this follows, byte-rate throttle times are not
capped (only the request-time quota bounds its throttle, by one window, ``ClientRequestQuotaManager``).

KIP-219: the response goes out at once carrying ``throttle_time_ms``, and the broker mutes the client's channel for
that long (the server buffers whatever that client sends meanwhile and reads it when the mute ends, see
``BrokerServer``); the client also holds back requests to that broker until then. A throttled consumer fetch is
answered with no data (``getThrottledResponse``) and its bytes are taken back out of the rate (``unrecordQuotaSensor``),
so the consumer reads the same records once the throttle has passed. A consumer fetch never asks for more than the
quota allows in one window span: ``fetch.max.bytes`` is capped at ``quota * (quota.window.num - 1) *
quota.window.size.seconds`` (``getMaxValueInQuotaWindow``). Follower fetches are never throttled by client quotas.

Metrics (:meth:`ClientQuotaManager.describe`, and the broker's ``broker.quota.*`` rows in ``Cluster.metrics()``):
per (quota type, user, client-id) sensor, the byte rate as measured and the throttle time (Kafka's ``byte-rate`` and
``throttle-time`` metrics of the ``Produce``/``Fetch`` groups).

Request quotas (KIP-124, ``request_percentage``, Kafka's ``ClientRequestQuotaManager``): the request-thread time of
a client's produce and consumer fetch requests, as the broker's cost model charges it (the request-handler queue's
service time, or with a hardware model the network and I/O thread times), recorded as a percentage of one thread in
the same kind of Rate; its throttle is bounded by one window (``boundedThrottleTime``). A produce or fetch answer
carries the larger of the two throttles, as ``KafkaApis`` does; an acks=0 produce is exempt from the request quota.

Simplifications, named: idle sensors are never expired (Kafka drops them after an hour); the request quota covers
produce and consumer fetch requests only (Kafka applies it to every client request); no ``controller_mutation_rate``
(KIP-599) or IP quotas (KIP-612), and no custom ``ClientQuotaCallback``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from kafkalab.common.sampled_stats import Avg, Max, Rate
from kafkalab.metadata.client_quotas import (
    CLIENT_ID,
    CONSUMER_BYTE_RATE,
    PRODUCER_BYTE_RATE,
    REQUEST_PERCENTAGE,
    USER,
    QuotaEntity,
)

__all__ = ["ANONYMOUS", "DEFAULT", "ClientQuotaManager", "ClientQuotas", "throttle_time_ms"]

#: Kafka's name of the default entity (``ZooKeeperInternals.DEFAULT_STRING``)
DEFAULT = "<default>"
#: the principal of an unauthenticated (PLAINTEXT) connection
ANONYMOUS = "ANONYMOUS"

# QuotaTypes: which entity levels have ever been configured on this broker
_NO_QUOTAS = 0
_CLIENT_ID = 1
_USER = 2
_USER_CLIENT_ID = 4

#: (user entity, client-id entity): None = absent, DEFAULT = the default entity, else a name
_Key = tuple["str | None", "str | None"]
_Tags = tuple[str, str]


def throttle_time_ms(rate: float, bound: float, window_ms: float) -> int:
    """``QuotaUtils.throttleTime``: the delay that brings ``rate`` down to ``bound`` over a window of
    ``window_ms``, rounded as Java's ``Math.round``."""
    return int(math.floor((rate - bound) / bound * window_ms + 0.5))


class _Sensors:
    __slots__ = ("rate", "throttle_avg", "throttle_max")

    def __init__(self, samples: int, window_ms: float) -> None:
        self.rate = Rate(samples, window_ms)
        # Kafka's throttle-time sensor is an Avg on the default metric config (2 samples of 30 s)
        self.throttle_avg = Avg(2, 30_000.0)
        self.throttle_max = Max(2, 30_000.0)


class ClientQuotaManager:
    """The quotas of one quota type (``"Produce"`` or ``"Fetch"`` bytes per second, or ``"Request"`` percent of a
    request thread) on one broker. ``max_throttle_ms`` caps its throttle times (the request quota's one window)."""

    def __init__(self, quota_type: str, num_samples: int = 11, window_size_seconds: int = 1,
                 max_throttle_ms: int | None = None) -> None:
        self.quota_type = quota_type
        self.max_throttle_ms = max_throttle_ms
        self.num_samples = num_samples
        self.window_ms = window_size_seconds * 1000.0
        self.window_size_seconds = window_size_seconds
        self._overridden: dict[_Key, float] = {}
        self._types_enabled = _NO_QUOTAS
        self._sensors: dict[_Tags, _Sensors] = {}

    @property
    def enabled(self) -> bool:
        """Whether a quota of this type was ever configured here (Kafka keeps recording until a restart)."""
        return self._types_enabled != _NO_QUOTAS

    # -- configuration ----------------------------------------------------------------------------------------------
    def update_quota(self, user: str | None, client_id: str | None, value: float | None) -> None:
        """Set (or with ``value=None`` remove) the quota of the entity (``user``, ``client_id``); each is None when
        absent from the entity, :data:`DEFAULT` for the default entity (``ClientQuotaManager.updateQuota``)."""
        if user is not None:
            self._types_enabled |= _USER_CLIENT_ID if client_id is not None else _USER
        elif client_id is not None:
            self._types_enabled |= _CLIENT_ID
        key = (user, client_id)
        if value is None:
            self._overridden.pop(key, None)
        else:
            self._overridden[key] = float(value)

    def quotas(self) -> dict[_Key, float]:
        return dict(self._overridden)

    # -- DefaultQuotaCallback ---------------------------------------------------------------------------------------
    def metric_tags(self, user: str, client_id: str) -> _Tags:
        """The (user, client-id) tags of the sensor a client records into (``quotaMetricTags``)."""
        enabled = self._types_enabled
        if enabled in (_NO_QUOTAS, _CLIENT_ID):
            return ("", client_id)
        if enabled == _USER:
            return (user, "")
        if enabled == _USER_CLIENT_ID:
            return (user, client_id)
        q = self._overridden
        if (user, client_id) in q or (user, DEFAULT) in q:
            return (user, client_id)
        if (user, None) in q:
            return (user, "")
        if (DEFAULT, client_id) in q or (DEFAULT, DEFAULT) in q:
            return (user, client_id)
        if (DEFAULT, None) in q:
            return (user, "")
        return ("", client_id)

    def quota_limit(self, tags: _Tags) -> float | None:
        """The quota of the sensor with ``tags``, most specific entity first (``quotaLimit``); None = unlimited."""
        user, client_id = tags
        keys: tuple[_Key, ...] = ()
        if user and client_id:
            keys = ((user, client_id), (user, DEFAULT), (DEFAULT, client_id), (DEFAULT, DEFAULT))
        elif user:
            keys = ((user, None), (DEFAULT, None))
        elif client_id:
            keys = ((None, client_id), (None, DEFAULT))
        q = self._overridden
        for key in keys:
            if key in q:
                return q[key]
        return None

    def quota(self, user: str, client_id: str) -> float | None:
        """The quota that applies to a client (None = unlimited)."""
        return self.quota_limit(self.metric_tags(user, client_id))

    # -- recording --------------------------------------------------------------------------------------------------
    def _sensors_for(self, tags: _Tags) -> _Sensors:
        s = self._sensors.get(tags)
        if s is None:
            s = self._sensors[tags] = _Sensors(self.num_samples, self.window_ms)
        return s

    def record_and_get_throttle_ms(self, user: str, client_id: str, value: float, now_ms: float) -> int:
        """Record ``value`` bytes at ``now_ms``; the throttle time when the rate now exceeds the quota, else 0
        (``maybeRecordAndGetThrottleTimeMs``)."""
        if not self.enabled:
            return 0
        tags = self.metric_tags(user, client_id)
        rate = self._sensors_for(tags).rate
        rate.record(value, now_ms)
        bound = self.quota_limit(tags)
        if bound is None:
            return 0
        measured = rate.measure(now_ms)
        if measured <= bound:
            return 0
        throttle = throttle_time_ms(measured, bound, rate.window_size_ms(now_ms))
        cap = self.max_throttle_ms
        return throttle if cap is None or throttle <= cap else cap       # QuotaUtils.boundedThrottleTime

    def unrecord(self, user: str, client_id: str, value: float, now_ms: float) -> None:
        """Take ``value`` back out of the rate (a throttled fetch returns nothing: ``unrecordQuotaSensor``)."""
        self._sensors_for(self.metric_tags(user, client_id)).rate.record(-value, now_ms)

    def record_throttle(self, user: str, client_id: str, throttle_ms: int, now_ms: float) -> None:
        """The client was throttled for ``throttle_ms`` (the ``throttle-time`` sensor)."""
        s = self._sensors_for(self.metric_tags(user, client_id))
        s.throttle_avg.record(throttle_ms, now_ms)
        s.throttle_max.record(throttle_ms, now_ms)

    def max_value_in_quota_window(self, user: str, client_id: str) -> float:
        """The most bytes one request may take without a certain throttle (``getMaxValueInQuotaWindow``)."""
        if not self.enabled:
            return math.inf
        bound = self.quota(user, client_id)
        if bound is None:
            return math.inf
        return bound * (self.num_samples - 1) * self.window_size_seconds

    def byte_rate(self, user: str, client_id: str, now_ms: float) -> float:
        """The client's sensor's measured rate in bytes/s (0 before it recorded anything)."""
        s = self._sensors.get(self.metric_tags(user, client_id))
        return 0.0 if s is None else s.rate.measure(now_ms)

    def describe(self, now_ms: float) -> list[dict[str, Any]]:
        """One row per sensor: quota_type, user, client_id, quota, byte_rate, throttle_time_avg_ms,
        throttle_time_max_ms (Kafka's per-client ``byte-rate`` and ``throttle-time`` metrics)."""
        rows = []
        for tags, s in self._sensors.items():
            avg = s.throttle_avg.measure(now_ms)
            peak = s.throttle_max.measure(now_ms)
            rows.append({"quota_type": self.quota_type, "user": tags[0], "client_id": tags[1],
                         "quota": self.quota_limit(tags), "byte_rate": s.rate.measure(now_ms),
                         "throttle_time_avg_ms": 0.0 if math.isnan(avg) else avg,
                         "throttle_time_max_ms": 0.0 if math.isnan(peak) else peak})
        return rows


def _entity_key(entity: QuotaEntity) -> _Key:
    names = dict(entity)
    user: str | None = None
    client: str | None = None
    if USER in names:
        user = names[USER] if names[USER] is not None else DEFAULT
    if CLIENT_ID in names:
        client = names[CLIENT_ID] if names[CLIENT_ID] is not None else DEFAULT
    return (user, client)


class ClientQuotas:
    """A broker's client quota managers (Kafka's ``QuotaManagers``: ``produce``, ``fetch`` and ``request``) and the
    hook that mutes a throttled client's channel. ``on_throttle(src, throttle_ms)`` and ``thread_ms(size_bytes)``
    (the request-thread time a request of that size costs) are set by the broker server."""

    def __init__(self, num_samples: int = 11, window_size_seconds: int = 1) -> None:
        self.produce = ClientQuotaManager("Produce", num_samples, window_size_seconds)
        self.fetch = ClientQuotaManager("Fetch", num_samples, window_size_seconds)
        # ClientRequestQuotaManager: throttles bounded by one window
        self.request = ClientQuotaManager("Request", num_samples, window_size_seconds, window_size_seconds * 1000)
        self.thread_ms: Callable[[int], float] = lambda size_bytes: 0.0
        self.on_throttle: Callable[[Any, int], None] | None = None
        #: whether a request source is the broker itself (its coordinators' appends): never throttled
        self.exempt: Callable[[Any], bool] = lambda src: False
        self.record: Callable[..., None] | None = None       # the broker's metrics recorder, when it has one

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClientQuotas:
        """From a broker config's ``quota.window.num`` and ``quota.window.size.seconds``."""
        return cls(int(config["quota.window.num"]), int(config["quota.window.size.seconds"]))

    @property
    def enabled(self) -> bool:
        return self.produce.enabled or self.fetch.enabled or self.request.enabled

    def apply(self, quotas: Mapping[QuotaEntity, Mapping[str, float]]) -> None:
        """Make the managers' quotas those of a metadata image's ``client_quotas`` (what the broker replayed)."""
        for manager, key in ((self.produce, PRODUCER_BYTE_RATE), (self.fetch, CONSUMER_BYTE_RATE),
                             (self.request, REQUEST_PERCENTAGE)):
            wanted = {_entity_key(entity): values[key] for entity, values in quotas.items() if key in values}
            for old in manager.quotas():
                if old not in wanted:
                    manager.update_quota(old[0], old[1], None)
            for k, value in wanted.items():
                manager.update_quota(k[0], k[1], value)

    def _throttled(self, manager: ClientQuotaManager, src: Any, client_id: str, throttle_ms: int,
                   now_ms: float) -> None:
        manager.record_throttle(ANONYMOUS, client_id, throttle_ms, now_ms)
        if self.on_throttle is not None:
            self.on_throttle(src, throttle_ms)

    def _observe(self, manager: ClientQuotaManager, client_id: str, throttle_ms: int, now_ms: float) -> None:
        if self.record is not None and manager.enabled:
            labels = {"type": manager.quota_type, "client_id": client_id, "user": ANONYMOUS}
            self.record("broker.quota.throttle_time_ms", throttle_ms, **labels)
            rate = manager.byte_rate(ANONYMOUS, client_id, now_ms)
            if manager is self.request:
                self.record("broker.quota.request_time_percent", rate, **labels)
            else:
                self.record("broker.quota.byte_rate", rate, **labels)

    def _request_throttle_ms(self, client_id: str, request_bytes: int, now_ms: float) -> int:
        """Record the request-thread time of a request (as a percentage of one thread, ``nanosToPercentage``)."""
        if not self.request.enabled:
            return 0
        return self.request.record_and_get_throttle_ms(ANONYMOUS, client_id, self.thread_ms(request_bytes) * 0.1,
                                                       now_ms)

    def produce_throttle_ms(self, src: Any, client_id: str, request_bytes: int, now_ms: float,
                            acks: int = 1) -> int:
        """Record a produce request's bytes (and, but not for acks=0, its request-thread time); the larger throttle
        time (the channel is muted for it when > 0), as ``KafkaApis.handleProduceRequest``."""
        bandwidth = self.produce.record_and_get_throttle_ms(ANONYMOUS, client_id, request_bytes, now_ms)
        request = 0 if acks == 0 else self._request_throttle_ms(client_id, request_bytes, now_ms)
        throttle = max(bandwidth, request)
        if throttle > 0:
            self._throttled(self.produce if bandwidth > request else self.request, src, client_id, throttle, now_ms)
        self._observe(self.produce, client_id, bandwidth, now_ms)
        self._observe(self.request, client_id, request, now_ms)
        return throttle

    def fetch_throttle_ms(self, src: Any, client_id: str, response_bytes: int, now_ms: float,
                          request_bytes: int = 0) -> int:
        """Record a consumer fetch's request-thread time and its response's bytes; the larger throttle time. When
        > 0 the bytes are taken back out (the response goes without data) and the channel is muted."""
        request = self._request_throttle_ms(client_id, request_bytes, now_ms)
        bandwidth = self.fetch.record_and_get_throttle_ms(ANONYMOUS, client_id, response_bytes, now_ms)
        throttle = max(bandwidth, request)
        if throttle > 0:
            if self.fetch.enabled:
                self.fetch.unrecord(ANONYMOUS, client_id, response_bytes, now_ms)
            self._throttled(self.fetch if bandwidth > request else self.request, src, client_id, throttle, now_ms)
        self._observe(self.fetch, client_id, bandwidth, now_ms)
        self._observe(self.request, client_id, request, now_ms)
        return throttle

    def fetch_max_bytes(self, client_id: str) -> float:
        """The consumer fetch size cap the fetch quota implies (infinite without one)."""
        return self.fetch.max_value_in_quota_window(ANONYMOUS, client_id)

    def describe(self, now_ms: float) -> list[dict[str, Any]]:
        """Every sensor of the three managers (see :meth:`ClientQuotaManager.describe`; for ``Request`` the
        ``byte_rate`` column is the request-time percentage)."""
        return self.produce.describe(now_ms) + self.fetch.describe(now_ms) + self.request.describe(now_ms)
