"""Typed settings of a KRaft node: Kafka's ``controller.quorum.*`` keys with units in the field names.

Kafka's dotted keys live in :mod:`kafkalab.config` (``QuorumConfig`` in Kafka's ``raft`` module, and the
``metadata.max.retention.*`` keys of ``MetadataLogConfig`` that bound the snapshots and log a replica keeps);
:meth:`RaftConfig.from_config` reads them once. The fields that are not Kafka keys are model knobs:

- ``pre_vote`` (KIP-996, on in Kafka 4.0) and ``check_quorum`` (KIP-595's leader resignation) can be switched off to
  show what they prevent.
- ``fetch_timeout_jitter_ms`` and ``election_jitter_ms`` give the Raft paper's classic timing (Ongaro and Ousterhout
  2014, section 9.3 and Figure 16). How they map onto KRaft: KRaft's follower "election timeout" is the *fixed*
  ``fetch_timeout_ms``, counted from the last successful Fetch response (the leader's heartbeat is the answer to a
  parked fetch, so ``fetch_max_wait_ms`` is the heartbeat interval); its randomisation lives in the *candidate's*
  election timeout, ``election_timeout_ms + random[0, election_timeout_ms)``. With ``fetch_timeout_jitter_ms > 0`` a
  follower's timeout is drawn afresh after every response from the leader, uniformly in
  ``[fetch_timeout_ms, fetch_timeout_ms + fetch_timeout_jitter_ms)``, which is the paper's follower timeout; with
  ``election_jitter_ms`` set, a candidate's election timeout is ``election_timeout_ms + random[0, election_jitter_ms)``.
  Setting ``fetch_timeout_ms = election_timeout_ms = T``, both jitters to ``J`` and ``fetch_max_wait_ms`` to the
  heartbeat interval reproduces the paper's ``T..T+J`` runs.
- ``election_mode`` (kafkalab's, not a Kafka setting; no Kafka key exists for it, so it is a field only and
  :meth:`RaftConfig.from_config` never reads it from a Kafka config) says what a candidate that has not won does next.
  ``"kraft"`` (default) is KafkaRaftClient: a majority of refusals or an expired election timeout starts a random
  binary exponential backoff, ``min(100 ms * random[0, 2^retries), election_backoff_max_ms)``, and the next election
  starts when it ends. ``"paper"`` is the Raft paper's rule (Ongaro and Ousterhout 2014, Figure 2, Candidates: "If
  election timeout elapses: start new election"): no backoff; the candidate waits out the fresh randomised election
  timeout it drew when it stood (refusals do not end it early) and then stands again, bumping the epoch. Pre-vote
  stays its own knob: the paper has none, Ongaro's thesis (section 9.6) adds it as an extension; with both on, the
  next election after a paper-mode timeout is a pre-vote.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from kafkalab.errors import ConfigError

__all__ = ["RaftConfig", "KAFKA_KEYS", "ELECTION_MODES"]

#: RaftConfig field -> Kafka's config key.
KAFKA_KEYS: dict[str, str] = {
    "election_timeout_ms": "controller.quorum.election.timeout.ms",
    "fetch_timeout_ms": "controller.quorum.fetch.timeout.ms",
    "election_backoff_max_ms": "controller.quorum.election.backoff.max.ms",
    "append_linger_ms": "controller.quorum.append.linger.ms",
    "request_timeout_ms": "controller.quorum.request.timeout.ms",
    "retry_backoff_ms": "controller.quorum.retry.backoff.ms",
    "metadata_max_retention_bytes": "metadata.max.retention.bytes",
    "metadata_max_retention_ms": "metadata.max.retention.ms",
}

#: Values of :attr:`RaftConfig.election_mode`: Kafka's backoff after a lost election, or the Raft paper's retry.
ELECTION_MODES: tuple[str, ...] = ("kraft", "paper")


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """Everything a :class:`~kafkalab.raft.node.RaftNode` is tuned by. Defaults are Kafka 4.x's."""

    election_timeout_ms: float = 1000
    fetch_timeout_ms: float = 2000
    election_backoff_max_ms: float = 1000
    append_linger_ms: float = 25
    request_timeout_ms: float = 2000
    retry_backoff_ms: float = 20
    #: how long the leader parks an idle Fetch (KafkaRaftClient's FETCH_MAX_WAIT_MS)
    fetch_max_wait_ms: float = 500
    #: bytes the leader returns per Fetch (KafkaRaftClient's MAX_FETCH_SIZE_BYTES, 8 MiB)
    fetch_max_bytes: int = 8 * 1024 * 1024
    pre_vote: bool = True
    check_quorum: bool = True
    fetch_timeout_jitter_ms: float = 0
    election_jitter_ms: float | None = None
    #: what a candidate that has not won does next: ``"kraft"`` (random backoff) or ``"paper"`` (Figure 2's retry)
    election_mode: str = "kraft"
    #: snapshots (oldest first) and the log before the next one are deleted while the log plus the snapshots hold
    #: more than this many bytes (KafkaMetadataLog.cleanSnapshotsRetentionSize); negative: no size limit
    metadata_max_retention_bytes: int = 104_857_600
    #: ... or while the oldest snapshot's last contained record is older than this (cleanSnapshotsRetentionMs);
    #: negative: no time limit
    metadata_max_retention_ms: float = 604_800_000
    #: how often the log cleaner runs (KafkaRaftClient's RaftMetadataLogCleanerManager: 60 s, not a Kafka key)
    log_clean_interval_ms: float = 60_000

    def __post_init__(self) -> None:
        for name in ("election_timeout_ms", "fetch_timeout_ms", "request_timeout_ms"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"RaftConfig.{name} must be a number > 0, got {value!r}", key=name, value=value)
        for name in ("election_backoff_max_ms", "append_linger_ms", "retry_backoff_ms", "fetch_max_wait_ms",
                     "fetch_timeout_jitter_ms"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"RaftConfig.{name} must be a number >= 0, got {value!r}", key=name, value=value)
        jitter = self.election_jitter_ms
        if jitter is not None and (not isinstance(jitter, (int, float)) or isinstance(jitter, bool) or jitter < 0):
            raise ConfigError(f"RaftConfig.election_jitter_ms must be None or a number >= 0, got {jitter!r}",
                              key="election_jitter_ms", value=jitter)
        if not isinstance(self.fetch_max_bytes, int) or self.fetch_max_bytes <= 0:
            raise ConfigError(f"RaftConfig.fetch_max_bytes must be an int > 0, got {self.fetch_max_bytes!r}",
                              key="fetch_max_bytes", value=self.fetch_max_bytes)
        for name in ("metadata_max_retention_bytes", "metadata_max_retention_ms"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(f"RaftConfig.{name} must be a number (negative = unlimited), got {value!r}",
                                  key=name, value=value)
        if (not isinstance(self.log_clean_interval_ms, (int, float)) or isinstance(self.log_clean_interval_ms, bool)
                or self.log_clean_interval_ms <= 0):
            raise ConfigError(f"RaftConfig.log_clean_interval_ms must be a number > 0, got "
                              f"{self.log_clean_interval_ms!r}", key="log_clean_interval_ms",
                              value=self.log_clean_interval_ms)
        for name in ("pre_vote", "check_quorum"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"RaftConfig.{name} must be True or False, got {getattr(self, name)!r}",
                                  key=name, value=getattr(self, name))
        self._check_election_mode()

    def _check_election_mode(self) -> None:
        import difflib

        mode = self.election_mode
        allowed = ", ".join(repr(m) for m in ELECTION_MODES)
        if not isinstance(mode, str):
            raise ConfigError(f"RaftConfig.election_mode must be a string, one of {allowed}; got "
                              f"{type(mode).__name__} {mode!r}", key="election_mode", value=mode)
        if mode not in ELECTION_MODES:
            close = difflib.get_close_matches(mode.lower(), ELECTION_MODES, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown RaftConfig.election_mode {mode!r}: allowed values are {allowed}{hint}",
                              key="election_mode", value=mode)

    @property
    def check_quorum_timeout_ms(self) -> float:
        """A leader that hears no Fetch from a majority for this long resigns (LeaderState: 1.5 x fetch timeout)."""
        return self.fetch_timeout_ms * 1.5

    @property
    def begin_quorum_epoch_timeout_ms(self) -> float:
        """BeginQuorumEpoch is resent to voters that have not acknowledged it this often (fetch timeout / 2)."""
        return self.fetch_timeout_ms / 2

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None = None, **knobs: Any) -> RaftConfig:
        """From Kafka's dotted keys (a resolved broker :class:`~kafkalab.config.Config` or a plain mapping, which is
        validated with ``kafkalab.config.resolve("broker", ...)``), plus model knobs given as field names."""
        from kafkalab.config import Config, resolve

        if mapping is None:
            mapping = {}
        config = mapping if isinstance(mapping, Config) else resolve("broker", dict(mapping))
        values: dict[str, Any] = {name: config[key] for name, key in KAFKA_KEYS.items()}
        values.update(cls.check_knobs(knobs))
        return cls(**values)

    @classmethod
    def check_knobs(cls, knobs: Mapping[str, Any]) -> dict[str, Any]:
        """Reject unknown field names with a ConfigError naming the closest one."""
        import difflib

        allowed = cls.field_names()
        for name in knobs:
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"unknown Raft setting {name!r}; allowed: {', '.join(allowed)}{hint}",
                                  key=name, value=knobs[name])
        return dict(knobs)
