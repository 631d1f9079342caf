"""The broker side of KIP-848 (``group.protocol=consumer``): ConsumerGroupHeartbeat, group and member epochs,
server-side assignors and per-member reconciliation (Kafka 4's ``GroupMetadataManager.consumerGroupHeartbeat`` and
friends, ``modern/consumer/ConsumerGroup``, ``modern/TargetAssignmentBuilder``, ``OffsetMetadataManager``'s
consumer-group checks).

How it works. One RPC does everything. A heartbeat with member epoch 0 joins (or rejoins), -1 leaves, -2 is a static
member's temporary leave; any other epoch is a plain heartbeat that may carry a new subscription and the partitions
the member owns now. Handling one follows Kafka's three steps:

1. Create or update the member. A changed subscription, or a changed size of a subscribed topic (after
   :meth:`ConsumerGroupManager.on_metadata`, checked on the next heartbeat as Kafka does), bumps the group epoch.
2. If the group epoch is ahead of the target assignment epoch, run the group's server assignor (the most used among
   the members' ``server_assignor``, else the first of ``group.consumer.assignors``) for every member at once; only
   targets that changed are written.
3. Move this member one step towards its target (:func:`~kafkalab.groups.reconciliation.reconcile`): it revokes
   first at its old epoch, moves to the target epoch once its heartbeat stops reporting the revoked partitions, and
   receives a partition only once no other member holds it. Members converge one by one, each on its own heartbeat.

Every change is a list of records (:mod:`~kafkalab.groups.consumer_group_records`) that is replayed into the group
at once (later requests see it, as Kafka's runtime does) and appended to the group's ``__consumer_offsets`` partition;
the answer goes out when the append commits. A failed append rolls the group back to the snapshot taken before it
(and with it every later write of that group still in flight, which are answered with the same error) and answers
with Kafka's mapping: NOT_LEADER_OR_FOLLOWER and KAFKA_STORAGE_ERROR -> NOT_COORDINATOR; NOT_ENOUGH_REPLICAS*,
REQUEST_TIMED_OUT, UNKNOWN_TOPIC_OR_PARTITION -> COORDINATOR_NOT_AVAILABLE; MESSAGE_TOO_LARGE and friends ->
UNKNOWN_SERVER_ERROR. A heartbeat that changes nothing writes nothing; it is answered once the partition's writes in
flight have committed, so no answer exposes uncommitted state.

Write time-out (Kafka's ``CoordinatorRuntime``: every ``CoordinatorWriteEvent``, ConsumerGroupHeartbeat's among them,
gets an ``OperationTimeout`` of ``offsets.commit.timeout.ms``). A caller still waiting that long for its write (or,
for a heartbeat that wrote nothing, for the writes before it) is answered REQUEST_TIMED_OUT, which the heartbeat maps
to COORDINATOR_NOT_AVAILABLE (``GroupCoordinatorService``'s ``handleOperationException``); the timer is
``cg:write:<partition>:<n>``. Nothing is rolled back: the records are in the log, the group keeps them (later
heartbeats see them, the member's retry finds itself already joined), and once the high watermark passes them the
write completes without answering anyone twice, so ``describe_group`` then shows them, as a replay of the committed
log does. A timer's write that timed out is retried after 500 ms, as Kafka's coordinator timer retries, and finds
its work done.

Timers (names start with ``cg:``): a session timer per member, re-armed by every heartbeat, removes the member when
it expires (a static member that left with -2 keeps its assignment until then, so a restart within the session timeout
takes it back without a new group epoch); a rebalance timer while the member must revoke removes it if it does not
within its ``rebalance_timeout_ms``. A removed member's next heartbeat gets UNKNOWN_MEMBER_ID, as in Kafka, and it
rejoins with epoch 0. Timers are armed while handling, before the write commits (as Kafka's); one left over after a
rollback finds its member gone or at another epoch and does nothing. A timer whose own write fails tries again 500 ms
later. After loading, :meth:`ConsumerGroupManager.on_loaded` (or else the first call that carries a time) arms the
session timer of every member and the rebalance timer of every member still revoking.

Regex subscriptions (``SubscribedTopicRegex``; ``GroupMetadataManager.maybeUpdateRegularExpressions``,
``refreshRegularExpressions``, ``handleRegularExpressionsResult`` of Kafka 4.0). A member may subscribe to a regex
besides (or instead of) topic names; the group subscribes to the names plus what its regexes resolved to. A regex new
to the group is compiled first (INVALID_REGULAR_EXPRESSION when it does not compile) and must be resolved; a regex
other members already have bumps the group epoch at once. Every heartbeat of a group with regexes asks whether to
resolve them all again, at most once per 10 s (``REGEX_BATCH_REFRESH_INTERVAL_MS``) and one resolution at a time:
when some regex is unresolved, or a topic was created since the last resolution (the metadata version of the newest
topic creation, from :meth:`ConsumerGroupManager.on_metadata`). The resolution runs as a ``cg:regex:`` timer (Kafka's
executor off the request path), matches every topic of the metadata image against every regex (a full match, as
``Matcher.matches``) and writes one record per regex; the group epoch bumps when a regex now resolves to other topics
or the subscribed topics' sizes differ, and the next heartbeats assign. A topic deleted later drops out of the
subscription metadata (it no longer exists) before any new resolution drops its name. The last member of a regex that
leaves or changes it deletes the resolution. Kafka compiles with RE2J on the broker; kafkalab refuses the constructs
RE2J lacks (lookarounds, backreferences, possessive quantifiers, ...: :func:`re2j_unsupported`) and then compiles
with Python's ``re``, so the rest of the two dialects' differences (``\\p{...}`` classes, ``(?U)``, Unicode details)
remain; ``__consumer_offsets`` is never a candidate here, while Kafka's image lists it.

Simplifications: no rack-aware assignment inputs beyond passing ``rack_id``, no online
migration to or from classic groups (the coordinator keeps the two kinds apart), no group deletion, no per-group
config overrides. Member ids: Kafka 4 clients generate them (KIP-1082); an empty one at epoch 0 gets a deterministic
id here. A rejoin with epoch 0 under a known member id is accepted (KAFKA-19233). Write errors that come back after
later writes of the same group were applied fail those later writes too; their records may still reach the log.
``describe_group`` shows the last committed state; offset validation reads the latest.
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import (
    FencedInstanceIdError,
    GroupIdNotFoundError,
    GroupMaxSizeReachedError,
    InvalidRegularExpressionError,
    InvariantViolation,
    KafkaError,
    UnknownMemberIdError,
    UnreleasedInstanceIdError,
)
from kafkalab.groups import consumer_group_records as rec
from kafkalab.groups.consumer_group_records import ConsumerGroup, Record
from kafkalab.groups.reconciliation import (
    ConsumerGroupMember,
    MemberState,
    check_heartbeat_epoch,
    reconcile,
    validate_heartbeat,
)
from kafkalab.groups.runtime import DEFAULT_WRITE_TIMEOUT_MS
from kafkalab.groups.server_assignors import MemberSpec, get_server_assignor, uniform_assign
from kafkalab.protocol.consumer_group import (
    JOIN_EPOCH,
    LEAVE_EPOCH,
    STATIC_LEAVE_EPOCH,
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
)

__all__ = ["ConsumerGroupManager", "CoordinatorPort", "map_write_error", "check_regex", "re2j_unsupported",
           "REGEX_BATCH_REFRESH_INTERVAL_MS"]

_WRITE_ERRORS = {
    "NOT_LEADER_OR_FOLLOWER": "NOT_COORDINATOR", "KAFKA_STORAGE_ERROR": "NOT_COORDINATOR",
    "NOT_ENOUGH_REPLICAS": "COORDINATOR_NOT_AVAILABLE", "NOT_ENOUGH_REPLICAS_AFTER_APPEND": "COORDINATOR_NOT_AVAILABLE",
    "REQUEST_TIMED_OUT": "COORDINATOR_NOT_AVAILABLE", "UNKNOWN_TOPIC_OR_PARTITION": "COORDINATOR_NOT_AVAILABLE",
    "MESSAGE_TOO_LARGE": "UNKNOWN_SERVER_ERROR", "RECORD_LIST_TOO_LARGE": "UNKNOWN_SERVER_ERROR",
    "INVALID_FETCH_SIZE": "UNKNOWN_SERVER_ERROR",
}
#: how soon a timer whose write failed tries again (Kafka's timer retry backoff)
_RETRY_BACKOFF_MS = 500
#: the least time between two resolutions of a group's regexes (Kafka's ``REGEX_BATCH_REFRESH_INTERVAL_MS``)
REGEX_BATCH_REFRESH_INTERVAL_MS = 10_000
Assignor = Callable[[Mapping[str, Any], Mapping[str, int]], Mapping[str, Iterable[TopicPartition]]]
Respond = Callable[[ConsumerGroupHeartbeatResponse], None]


class CoordinatorPort(Protocol):
    """What the manager needs from the coordinator (the broker implements it). A port may also offer
    ``topic_ids() -> Mapping[str, str]`` (topic name -> id, from the metadata image): ``uniform`` then orders
    topics by their real ids, as Kafka does."""

    def set_timer(self, name: str, at_ms: float) -> None: ...
    def cancel_timer(self, name: str) -> None: ...
    def append(self, partition: int, records: Any, callback: Callable[[str], None]) -> None: ...
    def topic_partitions(self) -> Mapping[str, int]: ...
    def record(self, metric: str, value: Any, **labels: Any) -> None: ...


def check_regex(regex: str) -> None:
    """Kafka's ``throwIfRegularExpressionIsInvalid``: InvalidRegularExpressionError when ``regex`` does not compile.
    Kafka compiles with RE2J; here Python's ``re`` compiles, after :func:`re2j_unsupported` refused what ``re``
    accepts and RE2J does not (with RE2J's description of the error)."""
    description = re2j_unsupported(regex)
    if description is None:
        try:
            re.compile(regex)
        except re.error as exc:
            description = exc.msg
    if description is not None:
        raise InvalidRegularExpressionError(
            f"SubscribedTopicRegex `{regex}` is not a valid regular expression: {description}.")


_RE2J_PERL_OP = "invalid or unsupported Perl syntax"
#: group openings Python's ``re`` knows and RE2J refuses: lookarounds, atomic, conditional, named backreference, comment
_UNSUPPORTED_GROUPS = ("(?=", "(?!", "(?<=", "(?<!", "(?>", "(?(", "(?P=", "(?#")
_COUNTED = re.compile(r"\{\d+(,\d*)?\}$")     # a counted repetition ends here (so a "+" after it is possessive)


def re2j_unsupported(regex: str) -> str | None:
    """RE2J's error description for the first construct of ``regex`` that Python's ``re`` accepts and RE2J (linear-
    time matching, no backtracking) refuses: lookarounds and the other groups above, backreferences (``\\1``),
    possessive quantifiers (``a++``), inline flags other than ``i``, ``m``, ``s``, ``U``. None when there is none
    (a syntax error both refuse is left to ``re``)."""
    i, n, in_class = 0, len(regex), False
    while i < n:
        c = regex[i]
        if c == "\\":
            if not in_class and i + 1 < n and regex[i + 1] in "123456789":
                return "invalid escape sequence"
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if regex.startswith("]", i + 1) or regex.startswith("^]", i + 1):
                i += 2 if regex[i + 1] == "]" else 3      # a leading ] is a literal member
                continue
        elif c == "(" and regex.startswith("(?", i):
            if regex.startswith(_UNSUPPORTED_GROUPS, i):
                return _RE2J_PERL_OP
            j = n if regex.startswith("(?P<", i) else i + 2          # a named group: RE2J has them too
            while j < n and regex[j].isalpha():
                if regex[j] not in "imsU":
                    return _RE2J_PERL_OP
                j += 1
        elif regex.startswith("+", i + 1) and (c in "*+?" or c == "}" and _COUNTED.search(regex, 0, i + 1)):
            return "invalid nested repetition operator"
        i += 1
    return None


def map_write_error(error: str) -> str:
    """The error a client sees for a failed ``__consumer_offsets`` append (Kafka's ``handleOperationException``)."""
    return _WRITE_ERRORS.get(error, error)


@dataclass(eq=False)
class _Waiter:
    """One caller waiting for a write to commit; ``timer`` names its ``offsets.commit.timeout.ms`` time-out."""
    on_done: Callable[[str], None]
    timer: str | None = None


@dataclass(eq=False)
class _Write:
    partition: int
    group_id: str
    snapshot: ConsumerGroup | None
    waiters: list[_Waiter] = field(default_factory=list)
    done: bool = False


@dataclass(frozen=True, slots=True)
class _Timer:
    partition: int
    group_id: str
    member_id: str
    kind: str            # "session" | "rebalance" | "regex" | "write"
    epoch: int = 0       # "rebalance": the member epoch it was armed at; "write": the waiter's sequence number


def _config(config: Mapping[str, Any], key: str, default: Any) -> Any:
    try:
        return config[key]
    except (KeyError, ValueError):
        return default


class ConsumerGroupManager:
    """Every consumer-protocol group of the ``__consumer_offsets`` partitions this broker leads.

    ``assignors`` (optional) maps assignor names to functions ``(members: {id: MemberSpec}, partitions per topic)
    -> {id: partitions}``; by default :func:`kafkalab.groups.server_assignors.get_server_assignor` of each name in
    ``group.consumer.assignors``.
    """

    def __init__(self, port: CoordinatorPort, config: Mapping[str, Any],
                 assignors: Mapping[str, Assignor] | None = None) -> None:
        self._port = port
        self._heartbeat_interval_ms = int(_config(config, "group.consumer.heartbeat.interval.ms", 5000))
        self._session_timeout_ms = int(_config(config, "group.consumer.session.timeout.ms", 45000))
        self._max_size = int(_config(config, "group.consumer.max.size", 2**31 - 1))
        self._write_timeout_ms = float(_config(config, "offsets.commit.timeout.ms", DEFAULT_WRITE_TIMEOUT_MS))
        self._write_seq = 0
        self._waiting: dict[str, tuple[_Write, _Waiter]] = {}
        #: the latest time a call carried (a write's time-out answers later than the call that wrote)
        self._now_ms = 0.0
        names = _config(config, "group.consumer.assignors", ("uniform", "range"))
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        if assignors is None:
            assignors = {name: get_server_assignor(name) for name in names}
        if not assignors:
            raise ValueError("group.consumer.assignors is empty: name at least one server assignor (uniform, range)")
        self._assignors: dict[str, Assignor] = dict(assignors)
        self._default_assignor = next(iter(self._assignors))
        self._groups: dict[int, dict[str, ConsumerGroup]] = {}
        self._pending: dict[int, list[_Write]] = {}
        self._timers: dict[str, _Timer] = {}
        self._stale: set[str] = set()
        self._unarmed: dict[int, set[tuple[str, str]]] = {}
        self._next_member = 0
        # Metadata versions for regex resolution (Kafka's image offset and ``lastMetadataImageWithNewTopics``).
        self._metadata_version = -1
        self._new_topics_version = -1
        self._known_topics: set[str] = set()

    # ---- reads ----------------------------------------------------------------------------------------------------
    def has_group(self, group_id: str) -> bool:
        """Whether a consumer-protocol group of this id lives on a partition this manager holds."""
        return self._find(group_id) is not None

    def group_ids(self) -> list[str]:
        """Every group id, sorted."""
        return sorted(g for groups in self._groups.values() for g in groups)

    def describe_group(self, group_id: str) -> dict[str, Any] | None:
        """The group as of its last committed write (Kafka's ConsumerGroupDescribe reads at the committed offset)."""
        group = self._find(group_id)
        if group is None:
            return None
        partition = self._partition_of(group_id)
        for write in self._pending.get(partition, []):
            if write.group_id == group_id:
                group = write.snapshot
                break
        if group is None:
            return None
        return {**group.describe(), "assignor": self._preferred_assignor(group.members.values())}

    def validate_offset_commit(self, group_id: str, member_id: str, member_epoch: int) -> str:
        """OffsetCommit checks for a consumer group (Kafka's ``ConsumerGroup.validateOffsetCommit``): a commit with
        epoch < 0 is allowed only while the group has no members; otherwise the member must exist and send its
        current epoch."""
        group = self._find(group_id)
        if group is None:
            return "GROUP_ID_NOT_FOUND"
        if member_epoch < 0 and not group.members:
            return "NONE"
        return self._check_member_epoch(group, member_id, member_epoch)

    def validate_offset_fetch(self, group_id: str, member_id: str | None, member_epoch: int) -> str:
        """OffsetFetch checks: without member id and epoch (admin, or a client that sends none) always allowed."""
        group = self._find(group_id)
        if group is None:
            return "GROUP_ID_NOT_FOUND"
        if member_id is None and member_epoch < 0:
            return "NONE"
        return self._check_member_epoch(group, member_id or "", member_epoch)

    @staticmethod
    def _check_member_epoch(group: ConsumerGroup, member_id: str, member_epoch: int) -> str:
        member = group.members.get(member_id)
        if member is None:
            return "UNKNOWN_MEMBER_ID"
        return "NONE" if member.member_epoch == member_epoch else "STALE_MEMBER_EPOCH"

    # ---- loading --------------------------------------------------------------------------------------------------
    def replay(self, partition: int, key: bytes, value: Any) -> bool:
        """Apply one record read while loading ``partition``; False (and nothing done) for a key that is not ours."""
        if not key.startswith(rec.TAG):
            return False
        group_id, member_id = self._apply(partition, key, value)
        if member_id is not None:
            self._unarmed.setdefault(partition, set()).add((group_id, member_id))
        return True

    def on_loaded(self, partition: int, now_ms: float) -> None:
        """Loading of ``partition`` finished: start the session (and pending rebalance) timers of its members, as
        Kafka does on load. Also done by the first call that carries a time, if the coordinator does not call this."""
        for group_id, member_id in sorted(self._unarmed.pop(partition, set())):
            group = self._groups.get(partition, {}).get(group_id)
            member = None if group is None else group.members.get(member_id)
            if member is None:
                continue
            self._arm_session(partition, group_id, member_id, now_ms + self._session_timeout_ms)
            if member.state is MemberState.UNREVOKED_PARTITIONS:
                self._arm_rebalance(partition, group_id, member, now_ms)

    def unload(self, partition: int) -> None:
        """This broker no longer leads ``partition``: forget its groups and timers; writes in flight answer
        NOT_COORDINATOR."""
        for write in self._pending.pop(partition, []):
            if not write.done:
                write.done = True
                for waiter in write.waiters:
                    waiter.on_done("NOT_COORDINATOR")
        for name, timer in sorted(self._timers.items()):
            if timer.partition == partition:
                self._port.cancel_timer(name)
                del self._timers[name]
                self._waiting.pop(name, None)
        for group_id in self._groups.pop(partition, {}):
            self._stale.discard(group_id)
        self._unarmed.pop(partition, None)

    # ---- metadata and timers --------------------------------------------------------------------------------------
    def on_metadata(self, topics: Mapping[str, int], now_ms: float, version: int | None = None) -> None:
        """Topics changed size: every group subscribed to one re-reads the metadata on its next heartbeat, bumping
        its epoch if a subscribed topic's partition count differs (Kafka's metadata refresh deadline). ``version``
        is the metadata image's offset (one more than the last call's when not given); a topic seen for the first
        time counts as created, which makes regexes due for resolution. (Before its first call about a topic, the
        manager does not know it existed, so that call counts too: at worst one resolution more.)"""
        self._arm_all(now_ms)
        self._metadata_version = self._metadata_version + 1 if version is None else max(version,
                                                                                       self._metadata_version)
        for topic, count in topics.items():
            if count <= 0:
                self._known_topics.discard(topic)
            elif topic not in self._known_topics:
                self._known_topics.add(topic)
                self._new_topics_version = self._metadata_version
        changed = set(topics)
        for groups in self._groups.values():
            for group_id, group in groups.items():
                if group.subscribed_topics() & changed:
                    self._stale.add(group_id)

    def on_timer(self, name: str, now_ms: float) -> None:
        """A ``cg:`` timer fired: session expiry, or a member that did not revoke within its rebalance timeout."""
        self._arm_all(now_ms)
        timer = self._timers.pop(name, None)
        if timer is None:
            return
        if timer.kind == "write":
            self._write_timed_out(name)
            return
        if timer.kind == "regex":
            self._resolve_regexes(timer.partition, timer.group_id, now_ms)
            return
        group = self._groups.get(timer.partition, {}).get(timer.group_id)
        member = None if group is None else group.members.get(timer.member_id)
        if group is None or member is None:
            return
        if timer.kind == "rebalance" and member.member_epoch != timer.epoch:
            return
        self._port.record("consumer_group_member_fenced", 1, group=timer.group_id, reason=timer.kind)
        records = self._fence_records(group, member)

        def retry(error: str) -> None:
            # The write failed and was rolled back (the member is still there), or it timed out (the fencing stays
            # applied, so the retry finds the member gone and does nothing): try again a little later, as Kafka's
            # timer does. (On NOT_COORDINATOR the partition is being unloaded, which cancels the retry.)
            if error != "NONE" and timer.partition in self._groups and name not in self._timers:
                self._timers[name] = timer
                self._port.set_timer(name, max(now_ms, self._now_ms) + _RETRY_BACKOFF_MS)
        self._write(timer.partition, timer.group_id, records, retry, now_ms)

    # ---- the heartbeat ---------------------------------------------------------------------------------------------
    def heartbeat(self, partition: int, req: ConsumerGroupHeartbeatRequest, now_ms: float, respond: Respond) -> None:
        """Handle one ConsumerGroupHeartbeat for a group on ``partition``; ``respond`` gets the answer once the
        change is committed (or at once for an error found before any write)."""
        self._arm_all(now_ms)
        try:
            if req.subscribed_topic_names is None and req.subscribed_topic_regex is not None:
                # a regex alone is a subscription too (Kafka 4: "Either SubscribedTopicNames or
                # SubscribedTopicRegex must be non-null when (re-)joining.")
                validate_heartbeat(replace(req, subscribed_topic_names=()), self._assignors)
            else:
                validate_heartbeat(req, self._assignors)
            if req.member_epoch in (LEAVE_EPOCH, STATIC_LEAVE_EPOCH):
                records, response = self._leave(partition, req)
            else:
                records, response = self._heartbeat(partition, req, now_ms)
        except KafkaError as e:
            respond(ConsumerGroupHeartbeatResponse(error=e.error_name, error_message=e.message,
                                                   correlation_id=req.correlation_id))
            return

        def done(error: str) -> None:
            if error == "NONE":
                respond(response)
            else:
                respond(ConsumerGroupHeartbeatResponse(error=map_write_error(error),
                                                       correlation_id=req.correlation_id))
        self._write(partition, req.group_id, records, done, now_ms)

    def _heartbeat(self, partition: int, req: ConsumerGroupHeartbeatRequest,
                   now_ms: float) -> tuple[list[Record], ConsumerGroupHeartbeatResponse]:
        group_id, joining = req.group_id, req.member_epoch == JOIN_EPOCH
        group = self._groups.get(partition, {}).get(group_id)
        if group is None:
            if not joining:
                raise GroupIdNotFoundError(f"Consumer group {group_id} not found.")
            group = ConsumerGroup(group_id)
        if len(group.members) >= self._max_size and (not req.member_id or req.member_id not in group.members):
            raise GroupMaxSizeReachedError(f"The consumer group has reached its maximum capacity of "
                                           f"{self._max_size} members.")
        member_id = req.member_id or self._new_member_id(group)
        records: list[Record] = []
        replaced: str | None = None
        if req.instance_id is None:
            member = self._dynamic_member(group, member_id, req)
        else:
            member, replaced = self._static_member(group, member_id, req, records)

        # 1. The member's subscription; a new one (or new topic sizes) bumps the group epoch.
        old_regex = group.member_regex.get(replaced or member_id)
        new_regex = old_regex if req.subscribed_topic_regex is None else (req.subscribed_topic_regex or None)
        updated = replace(
            member,
            instance_id=req.instance_id if req.instance_id is not None else member.instance_id,
            rack_id=req.rack_id if req.rack_id is not None else member.rack_id,
            rebalance_timeout_ms=(req.rebalance_timeout_ms if req.rebalance_timeout_ms != -1
                                  else member.rebalance_timeout_ms),
            server_assignor=req.server_assignor if req.server_assignor is not None else member.server_assignor,
            subscribed_topics=(tuple(sorted(set(req.subscribed_topic_names)))
                               if req.subscribed_topic_names is not None else member.subscribed_topics))
        bump = group.group_epoch == 0
        if updated != member or new_regex != old_regex:
            records.append(rec.member_metadata_record(group_id, updated, new_regex))
            bump = bump or updated.subscribed_topics != member.subscribed_topics
        bump = self._update_regexes(partition, group, old_regex, new_regex, records, now_ms) or bump
        others = [m for mid, m in sorted(group.members.items()) if mid not in (member_id, replaced)]
        group_epoch, metadata = group.group_epoch, group.subscription_metadata
        if bump or group_id in self._stale:
            self._stale.discard(group_id)
            metadata = self._subscription_metadata(group, others, updated, new_regex)
            if metadata != group.subscription_metadata:
                bump = True
                records.append(rec.partition_metadata_record(group_id, metadata))
            if bump:
                group_epoch += 1
                records.append(rec.group_epoch_record(group_id, group_epoch))
                self._port.record("consumer_group_rebalances", group_epoch, group=group_id)

        # 2. A newer group epoch: a new target assignment for everyone.
        if group_epoch > group.assignment_epoch:
            target = self._assign(group, group_epoch, others, updated, replaced, metadata, records, new_regex)
            target_epoch = group_epoch
        else:
            target_epoch = group.assignment_epoch
            target = group.target_of(updated.member_id, updated.instance_id)

        # 3. One reconciliation step for this member.
        reconciled = updated
        if not updated.is_reconciled_to(target_epoch):
            reconciled = reconcile(updated, target_epoch, target, group.owner_epoch, req.topic_partitions)
            if reconciled != updated:
                records.append(rec.current_assignment_record(group_id, reconciled))
                if reconciled.state is MemberState.UNREVOKED_PARTITIONS:
                    self._arm_rebalance(partition, group_id, reconciled, now_ms)
                else:
                    self._cancel(self._timer_name("rebalance", group_id, member_id))
        self._arm_session(partition, group_id, member_id, now_ms + self._session_timeout_ms)

        full = joining or (req.rebalance_timeout_ms != -1 and req.subscribed_topic_names is not None
                           and req.topic_partitions is not None)
        assignment = (tuple(sorted(reconciled.assigned)) if full or reconciled.assigned != member.assigned else None)
        return records, ConsumerGroupHeartbeatResponse(
            error="NONE", member_id=member_id, member_epoch=reconciled.member_epoch,
            heartbeat_interval_ms=self._heartbeat_interval_ms, assignment=assignment,
            correlation_id=req.correlation_id)

    def _dynamic_member(self, group: ConsumerGroup, member_id: str,
                        req: ConsumerGroupHeartbeatRequest) -> ConsumerGroupMember:
        member = group.members.get(member_id)
        if member is None:
            if req.member_epoch != JOIN_EPOCH:
                raise UnknownMemberIdError(f"Member {member_id} is not a member of group {group.group_id}.")
            return ConsumerGroupMember(member_id)
        check_heartbeat_epoch(member, req)
        return member

    def _static_member(self, group: ConsumerGroup, member_id: str, req: ConsumerGroupHeartbeatRequest,
                       records: list[Record]) -> tuple[ConsumerGroupMember, str | None]:
        instance_id = req.instance_id
        assert instance_id is not None
        existing = group.static_member(instance_id)
        if req.member_epoch != JOIN_EPOCH:
            if existing is None:
                raise UnknownMemberIdError(f"Instance id {instance_id} is unknown.")
            if existing.member_id != member_id:
                raise FencedInstanceIdError(f"Static member {member_id} with instance id {instance_id} was fenced "
                                            f"by member {existing.member_id}.")
            check_heartbeat_epoch(existing, req)
            return existing, None
        if existing is None:
            return group.members.get(member_id) or ConsumerGroupMember(member_id), None
        if existing.member_epoch != STATIC_LEAVE_EPOCH:
            raise UnreleasedInstanceIdError(
                f"Static member {member_id} with instance id {instance_id} cannot join the group because the "
                f"instance id is owned by {existing.member_id} member.")
        # The restarted instance takes over its predecessor: same subscription, target and partitions, epoch 0.
        successor = replace(existing, member_id=member_id, member_epoch=0, previous_member_epoch=0)
        records.extend(rec.removal_records(group.group_id, existing.member_id))
        records.append(rec.member_metadata_record(group.group_id, successor,
                                                  group.member_regex.get(existing.member_id)))
        records.append(rec.target_assignment_record(group.group_id, member_id,
                                                    group.target.get(existing.member_id, frozenset())))
        records.append(rec.current_assignment_record(group.group_id, successor))
        self._cancel_member_timers(group.group_id, existing.member_id)
        return successor, existing.member_id

    def _assign(self, group: ConsumerGroup, epoch: int, others: list[ConsumerGroupMember],
                updated: ConsumerGroupMember, replaced: str | None, metadata: Mapping[str, int],
                records: list[Record], updated_regex: str | None = None) -> frozenset[TopicPartition]:
        # Kafka's TargetAssignmentBuilder: every member's spec with its current target (for stickiness), and as its
        # topics its names plus what its regex resolved to.
        specs: dict[str, Any] = {}
        for m in [*others, updated]:
            current = group.target.get(replaced if m is updated and replaced else m.member_id, frozenset())
            regex = updated_regex if m is updated else group.member_regex.get(m.member_id)
            specs[m.member_id] = MemberSpec(group.member_topics(m, regex), frozenset(current), m.instance_id,
                                            m.rack_id)
        specs = dict(sorted(specs.items()))
        name = self._preferred_assignor([*others, updated])
        assignor = self._assignors[name]
        # uniform orders topics by id: the image's ids when the port can tell them (an optional ``topic_ids()``),
        # else the assignor's ids derived from the names
        topic_ids = getattr(self._port, "topic_ids", None)
        result: Mapping[str, Iterable[TopicPartition]]
        if assignor is uniform_assign and callable(topic_ids):
            result = uniform_assign(specs, dict(sorted(metadata.items())), topic_ids())
        else:
            result = assignor(specs, dict(sorted(metadata.items())))
        new_target: frozenset[TopicPartition] = frozenset()
        for member_id in specs:
            parts = frozenset(result.get(member_id, ()))
            if member_id not in group.target or group.target[member_id] != parts:
                records.append(rec.target_assignment_record(group.group_id, member_id, parts))
            if member_id == updated.member_id:
                new_target = parts
        records.append(rec.target_epoch_record(group.group_id, epoch))
        return new_target

    def _preferred_assignor(self, members: Iterable[ConsumerGroupMember]) -> str:
        counts: dict[str, int] = {}
        for m in members:
            if m.server_assignor is not None:
                counts[m.server_assignor] = counts.get(m.server_assignor, 0) + 1
        if not counts:
            return self._default_assignor
        order = list(self._assignors)
        return max(counts, key=lambda n: (counts[n], -order.index(n) if n in order else -len(order)))

    def _subscription_metadata(self, group: ConsumerGroup, others: Iterable[ConsumerGroupMember],
                               updated: ConsumerGroupMember | None = None,
                               updated_regex: str | None = None) -> dict[str, int]:
        """Partition counts of every existing topic the members subscribe to (names and resolved regexes);
        ``updated`` is the member being changed, with ``updated_regex`` (the group's records are not applied yet)."""
        topics: set[str] = set()
        for m in others:
            topics |= group.member_topics(m, group.member_regex.get(m.member_id))
        if updated is not None:
            topics |= group.member_topics(updated, updated_regex)
        return self._topic_sizes(topics)

    def _topic_sizes(self, topics: Iterable[str]) -> dict[str, int]:
        image = self._port.topic_partitions()
        return {t: int(image[t]) for t in sorted(topics) if t in image and int(image[t]) > 0}

    # ---- regex subscriptions --------------------------------------------------------------------------------------
    def _update_regexes(self, partition: int, group: ConsumerGroup, old: str | None, new: str | None,
                        records: list[Record], now_ms: float) -> bool:
        """Kafka's ``maybeUpdateRegularExpressions``: records for a changed regex, and a resolution of every regex
        of the group when one is due. True when the group epoch must bump now (the member took a regex the group
        has already resolved)."""
        bump = refresh = False
        if old != new:
            if old and group.regex_subscribers(old) == 1:
                records.append(rec.regular_expression_tombstone(group.group_id, old))   # its last member
            if new:
                if group.regex_subscribers(new) == 0:
                    check_regex(new)
                    refresh = True
                else:
                    bump = new in group.resolved_regex
        if not refresh and not group.member_regex:
            return bump
        if self._regex_timer_name(group.group_id) in self._timers:      # one resolution at a time
            return bump
        if now_ms <= group.last_regex_refresh_ms() + REGEX_BATCH_REFRESH_INTERVAL_MS:
            return bump
        subscribed = {r: n for r in sorted(set(group.member_regex.values()))
                      if (n := group.regex_subscribers(r) - (r == old) + (r == new)) > 0}
        if new and new not in subscribed:
            subscribed[new] = 1
        refresh = refresh or len(subscribed) != len(group.resolved_regex)
        refresh = refresh or group.last_regex_version() < self._new_topics_version
        if refresh and subscribed:
            name = self._regex_timer_name(group.group_id)
            self._timers[name] = _Timer(partition, group.group_id, "", "regex")
            self._port.set_timer(name, now_ms)
        return bump

    def _resolve_regexes(self, partition: int, group_id: str, now_ms: float) -> None:
        """Resolve the group's regexes against the topics that exist now and write what changed (Kafka's
        ``refreshRegularExpressions`` and ``handleRegularExpressionsResult``)."""
        group = self._groups.get(partition, {}).get(group_id)
        if group is None or not group.member_regex:
            return
        image = self._port.topic_partitions()
        names = sorted(t for t, count in image.items() if int(count) > 0)
        records: list[Record] = []
        bump = False
        resolved: dict[str, tuple[str, ...]] = {}
        for regex in sorted(set(group.member_regex.values())):
            try:
                pattern = re.compile(regex)
            except re.error:        # validated when a member brought it; Kafka logs and resolves it to nothing
                topics: tuple[str, ...] = ()
            else:
                topics = tuple(t for t in names if pattern.fullmatch(t))
            old = group.resolved_regex.get(regex)
            if (old.topics if old is not None else ()) != topics:
                bump = True
            resolved[regex] = topics
            records.append(rec.regular_expression_record(group_id, regex, topics, self._metadata_version, now_ms))
        subscribed = {t for m in group.members.values() for t in m.subscribed_topics}
        for topics in resolved.values():
            subscribed.update(topics)
        metadata = self._topic_sizes(subscribed)
        if metadata != group.subscription_metadata:
            bump = True
            records.append(rec.partition_metadata_record(group_id, metadata))
        if bump:
            records.append(rec.group_epoch_record(group_id, group.group_epoch + 1))
            self._port.record("consumer_group_rebalances", group.group_epoch + 1, group=group_id)
        self._port.record("consumer_group_regex_resolutions", len(resolved), group=group_id)
        # A failed write is rolled back; the next heartbeat finds the regexes still due and schedules another.
        self._write(partition, group_id, records, lambda error: None, now_ms)

    @staticmethod
    def _regex_timer_name(group_id: str) -> str:
        return f"cg:regex:{group_id}"

    # ---- leaving and fencing --------------------------------------------------------------------------------------
    def _leave(self, partition: int,
               req: ConsumerGroupHeartbeatRequest) -> tuple[list[Record], ConsumerGroupHeartbeatResponse]:
        group = self._groups.get(partition, {}).get(req.group_id)
        if group is None:
            raise GroupIdNotFoundError(f"Consumer group {req.group_id} not found.")
        response = ConsumerGroupHeartbeatResponse(error="NONE", member_id=req.member_id,
                                                  member_epoch=req.member_epoch, correlation_id=req.correlation_id)
        if req.instance_id is None:
            member = group.members.get(req.member_id)
            if member is None:
                raise UnknownMemberIdError(f"Member {req.member_id} is not a member of group {req.group_id}.")
            return self._fence_records(group, member), response
        member = group.static_member(req.instance_id)
        if member is None:
            raise UnknownMemberIdError(f"Instance id {req.instance_id} is unknown.")
        if member.member_id != req.member_id:
            raise FencedInstanceIdError(f"Static member {req.member_id} with instance id {req.instance_id} was "
                                        f"fenced by member {member.member_id}.")
        if req.member_epoch == LEAVE_EPOCH:
            return self._fence_records(group, member), response
        # A temporary leave: the member keeps its partitions (not those it was revoking) until its session expires.
        gone = replace(member, member_epoch=STATIC_LEAVE_EPOCH, pending_revocation=frozenset())
        self._cancel(self._timer_name("rebalance", group.group_id, member.member_id))
        return [rec.current_assignment_record(group.group_id, gone)], response

    def _fence_records(self, group: ConsumerGroup, member: ConsumerGroupMember) -> list[Record]:
        """Remove ``member`` and bump the group epoch (Kafka's ``consumerGroupFenceMember``)."""
        records = rec.removal_records(group.group_id, member.member_id)
        regex = group.member_regex.get(member.member_id)
        if regex and group.regex_subscribers(regex) == 1:
            records.append(rec.regular_expression_tombstone(group.group_id, regex))      # its last member left
        others = [m for mid, m in sorted(group.members.items()) if mid != member.member_id]
        metadata = self._subscription_metadata(group, others)
        if metadata != group.subscription_metadata:
            records.append(rec.partition_metadata_record(group.group_id, metadata))
        records.append(rec.group_epoch_record(group.group_id, group.group_epoch + 1))
        self._port.record("consumer_group_rebalances", group.group_epoch + 1, group=group.group_id)
        self._cancel_member_timers(group.group_id, member.member_id)
        return records

    # ---- writes ---------------------------------------------------------------------------------------------------
    def _write(self, partition: int, group_id: str, records: list[Record], on_done: Callable[[str], None],
               now_ms: float) -> None:
        """Apply ``records`` now and append them; ``on_done`` gets "NONE" once committed, the append's error, or
        REQUEST_TIMED_OUT when nothing committed within ``offsets.commit.timeout.ms`` (Kafka's
        ``CoordinatorWriteEvent`` and its ``OperationTimeout``). No records: ``on_done`` waits for the partition's
        writes in flight (Kafka defers such an event to the last written offset), with the same time-out."""
        pending = self._pending.setdefault(partition, [])
        waiter = _Waiter(on_done)
        if not records:
            if not pending:
                on_done("NONE")
                return
            write = pending[-1]
        else:
            current = self._groups.get(partition, {}).get(group_id)
            write = _Write(partition, group_id, None if current is None else current.copy())
            for key, value in records:
                self._apply(partition, key, value)
            pending.append(write)
        write.waiters.append(waiter)
        if records:
            self._port.append(partition, records, lambda error: self._written(write, error))
        if not write.done and waiter in write.waiters:       # not answered on the spot: arm the time-out
            self._write_seq += 1
            waiter.timer = f"cg:write:{partition}:{self._write_seq}"
            self._timers[waiter.timer] = _Timer(partition, group_id, "", "write", self._write_seq)
            self._waiting[waiter.timer] = (write, waiter)
            self._port.set_timer(waiter.timer, now_ms + self._write_timeout_ms)

    def _write_timed_out(self, name: str) -> None:
        """A waiter's time-out fired: it gets REQUEST_TIMED_OUT; the write stays in flight and its records stay
        applied (Kafka reverts nothing on a time-out: the records are in the log and commit when the high watermark
        passes them)."""
        write, waiter = self._waiting.pop(name)
        write.waiters.remove(waiter)
        self._port.record("consumer_group_write_timeouts", 1, group=write.group_id)
        waiter.on_done("REQUEST_TIMED_OUT")

    def _written(self, write: _Write, error: str) -> None:
        if write.done:
            return
        pending = self._pending.get(write.partition, [])
        if error == "NONE":
            victims = [write]
        else:
            start = pending.index(write)
            victims = [w for w in pending[start:] if w.group_id == write.group_id]
            groups = self._groups.setdefault(write.partition, {})
            if write.snapshot is None:
                groups.pop(write.group_id, None)
            else:
                groups[write.group_id] = write.snapshot
            self._stale.add(write.group_id)
        for w in victims:
            w.done = True
            pending.remove(w)
            for waiter in w.waiters:
                if waiter.timer is not None:
                    self._cancel(waiter.timer)
                    self._waiting.pop(waiter.timer, None)
        for w in victims:
            for waiter in w.waiters:
                waiter.on_done(error)

    def _apply(self, partition: int, key: bytes, value: Any) -> tuple[str, str | None]:
        kind, group_id, member_id = rec.parse_key(key)
        groups = self._groups.setdefault(partition, {})
        group = groups.get(group_id)
        if kind == b"G" and value is None:          # the group epoch tombstone removes the group (DeleteGroups)
            if group is not None and (group.members or group.target):
                raise InvariantViolation(f"consumer group {group_id}: a tombstone deletes the group while it still "
                                         f"has {len(group.members)} members")
            groups.pop(group_id, None)
            return group_id, member_id
        if group is None:
            group = groups[group_id] = ConsumerGroup(group_id)
        group.replay(kind, member_id, value)
        return group_id, member_id

    def delete_group(self, group_id: str, now_ms: float, on_done: Callable[[str], None]) -> None:
        """DeleteGroups of a group without members (the coordinator checked): Kafka's ``createGroupTombstoneRecords``
        for an empty group, tombstones of its target assignment epoch, subscription metadata and group epoch; the
        last one removes the group when applied. ``on_done`` as for every write of this manager."""
        partition = self._partition_of(group_id)
        records: list[Record] = [(rec.target_epoch_record(group_id, 0)[0], None),
                                 (rec.partition_metadata_record(group_id, {})[0], None),
                                 (rec.group_epoch_record(group_id, 0)[0], None)]
        self._write(partition, group_id, records, on_done, now_ms)

    # ---- helpers --------------------------------------------------------------------------------------------------
    def _find(self, group_id: str) -> ConsumerGroup | None:
        for groups in self._groups.values():
            if group_id in groups:
                return groups[group_id]
        return None

    def _partition_of(self, group_id: str) -> int:
        return next(p for p, groups in self._groups.items() if group_id in groups)

    def _new_member_id(self, group: ConsumerGroup) -> str:
        # Deterministic stand-in for the client's random Uuid: 22 URL-safe base64 characters.
        while True:
            self._next_member += 1
            digest = hashlib.sha256(f"{group.group_id}/{self._next_member}".encode()).digest()[:16]
            member_id = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            if member_id not in group.members and not member_id.startswith("-"):
                return member_id

    @staticmethod
    def _timer_name(kind: str, group_id: str, member_id: str) -> str:
        return f"cg:{kind}:{group_id}:{member_id}"

    def _arm_session(self, partition: int, group_id: str, member_id: str, at_ms: float) -> None:
        name = self._timer_name("session", group_id, member_id)
        self._timers[name] = _Timer(partition, group_id, member_id, "session")
        self._port.set_timer(name, at_ms)

    def _arm_rebalance(self, partition: int, group_id: str, member: ConsumerGroupMember, now_ms: float) -> None:
        name = self._timer_name("rebalance", group_id, member.member_id)
        self._timers[name] = _Timer(partition, group_id, member.member_id, "rebalance", member.member_epoch)
        self._port.set_timer(name, now_ms + max(member.rebalance_timeout_ms, 0))

    def _cancel(self, name: str) -> None:
        if self._timers.pop(name, None) is not None:
            self._port.cancel_timer(name)

    def _cancel_member_timers(self, group_id: str, member_id: str) -> None:
        self._cancel(self._timer_name("session", group_id, member_id))
        self._cancel(self._timer_name("rebalance", group_id, member_id))

    def _arm_all(self, now_ms: float) -> None:
        self._now_ms = max(self._now_ms, now_ms)
        for partition in sorted(self._unarmed):
            self.on_loaded(partition, now_ms)
