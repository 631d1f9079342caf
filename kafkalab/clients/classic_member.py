"""A member of a classic consumer group (Kafka's ``AbstractCoordinator`` + ``ConsumerCoordinator``, KIP-62, KIP-345,
KIP-429).

How it works. :class:`ClassicMembership` runs inside the simulation on the consumer's node. A join goes
``UNJOINED -> PREPARING_REBALANCE`` (JoinGroup in flight) ``-> COMPLETING_REBALANCE`` (SyncGroup in flight)
``-> STABLE``; :meth:`~ClassicMembership.on_app_poll` starts it, because Kafka joins from ``poll()``:

1. *Join prepare* (Kafka's ``onJoinPrepare``), in the application's poll: with ``enable.auto.commit`` the positions
   are committed first (the join waits for the answer); then a member whose generation was reset calls
   ``on_partitions_lost``, an eager member ``on_partitions_revoked`` for everything it owns, a cooperative member only
   for partitions of topics it no longer subscribes to.
2. JoinGroup with one protocol per ``partition.assignment.strategy`` entry, in order, each carrying a
   :class:`~kafkalab.protocol.group.Subscription` (topics, the assignor's user data, owned partitions, generation).
   MEMBER_ID_REQUIRED is retried at once with the member id the answer gives (KIP-394).
3. The leader runs the chosen assignor (:mod:`kafkalab.clients.assignors`) over the members' subscriptions and sends
   the assignments in its SyncGroup; followers send an empty one.
4. *Join complete* (``onJoinComplete``), in the next application poll: cooperative members call
   ``on_partitions_revoked`` for what they lost and, if they lost anything, rejoin at once (KIP-429's follow-up
   rebalance hands it to the new owner); then the committed offsets of the new partitions are fetched, the assignment
   changes, and ``on_partitions_assigned`` runs with the added partitions.

The rebalance protocol is COOPERATIVE only if every configured assignor supports it (``rebalance_protocol``), so
Kafka 4's default ``range,cooperative-sticky`` is EAGER.

Heartbeats (the heartbeat thread) run on a timer every ``heartbeat.interval.ms`` while STABLE, whether or not the
application polls. REBALANCE_IN_PROGRESS asks for a rejoin on the next poll; UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION
reset the generation, so the next join prepare reports the partitions lost. FENCED_INSTANCE_ID (another process took
this ``group.instance.id``) is fatal, as in Kafka: the next ``poll()`` raises FencedInstanceIdError. When
``max.poll.interval.ms`` passes without a poll, the heartbeat timer leaves the group (a dynamic member sends
LeaveGroup; a static member sends nothing and lets the session expire, KIP-345) and resets the generation. The leader
rejoins when the partition count of a subscribed topic changes in its metadata. ``close`` sends LeaveGroup unless the
member is static.

Pattern subscriptions (``subscribe(Pattern)``; ``ConsumerCoordinator.maybeUpdateSubscriptionMetadata``,
``updatePatternSubscription``, ``rejoinNeededOrPending``): the member's metadata asks for every topic
(:class:`~kafkalab.clients.fetcher.ConsumerMetadata`); whenever a new metadata answer is in, the application's poll
matches the pattern against it (a full match, internal topics excluded unless ``exclude.internal.topics=false``) and,
when the matched topics differ from those it joined with, rejoins with them, so a topic created later joins the
subscription at the next metadata refresh (``metadata.max.age.ms``) and a deleted one leaves it. Before every join the
member asks for fresh metadata (unless the last refresh was less than ``retry.backoff.ms`` ago) and waits for it, as
Kafka's ``poll`` does for a pattern subscription, so the group does not rebalance twice for one new topic. Topics the
leader assigned that match the pattern but were unknown here are adopted (``onJoinComplete``).

Simplifications: no client-side session timer.
"""
from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kafkalab.clients.group_common import (
    COMMIT_FAILED_MESSAGE,
    COORDINATOR_ERRORS,
    GroupMembership,
    RebalanceListener,
    sorted_tps,
)
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import CommitFailedError, KafkaError, RebalanceInProgressError, error_for_name
from kafkalab.protocol.group import (
    NO_GENERATION,
    UNKNOWN_MEMBER_ID,
    Assignment,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    MemberIdentity,
    Subscription,
    SyncGroupRequest,
    SyncGroupResponse,
)

if TYPE_CHECKING:
    from kafkalab.clients.fetcher import ConsumerCore

__all__ = ["ClassicMembership", "MemberState", "EAGER", "COOPERATIVE"]

EAGER = "eager"
COOPERATIVE = "cooperative"
#: a JoinGroup may wait the rebalance timeout at the coordinator; Kafka's client waits 5 s longer
_JOIN_TIMEOUT_LAPSE_MS = 5000.0
_LOST_ERRORS = frozenset({"UNKNOWN_MEMBER_ID", "ILLEGAL_GENERATION"})
#: Kafka's AbstractCoordinator raises these to the application instead of rejoining.
_FATAL_JOIN = frozenset({"INCONSISTENT_GROUP_PROTOCOL", "GROUP_MAX_SIZE_REACHED", "INVALID_SESSION_TIMEOUT",
                         "GROUP_AUTHORIZATION_FAILED", "INVALID_GROUP_ID", "UNSUPPORTED_VERSION",
                         "FENCED_INSTANCE_ID"})
_FENCED = "FENCED_INSTANCE_ID"


class MemberState(enum.Enum):
    """Kafka's ``AbstractCoordinator.MemberState``."""

    UNJOINED = "unjoined"
    PREPARING_REBALANCE = "preparing-rebalance"
    COMPLETING_REBALANCE = "completing-rebalance"
    STABLE = "stable"


def _assignors() -> Any:
    from kafkalab.clients import assignors  # noqa: PLC0415 - written alongside; imported when a group first joins
    return assignors


class ClassicMembership(GroupMembership):
    """One incarnation's membership in a classic group. ``assignor_lookup(name)`` gives the assignor object of a
    strategy name (default :func:`kafkalab.clients.assignors.get_assignor`)."""

    protocol = "classic"

    def __init__(self, core: ConsumerCore, assignor_lookup: Callable[[str], Any] | None = None,
                 rebalance_protocol: str | None = None) -> None:
        super().__init__(core)
        config = core.config
        self.session_timeout_ms = int(config["session.timeout.ms"])
        self.heartbeat_interval_ms = float(config["heartbeat.interval.ms"])
        self.strategies: tuple[str, ...] = tuple(config["partition.assignment.strategy"])
        self._lookup = assignor_lookup if assignor_lookup is not None else (lambda n: _assignors().get_assignor(n))
        if rebalance_protocol is None:
            rebalance_protocol = _assignors().rebalance_protocol(list(self.strategies)) \
                if assignor_lookup is None else _protocol_of([self._lookup(n) for n in self.strategies])
        self.rebalance_protocol: str = rebalance_protocol
        self._member_id = UNKNOWN_MEMBER_ID
        self.generation = NO_GENERATION
        self.protocol_name: str | None = None
        self.leader_id = ""
        self._state = MemberState.UNJOINED
        self.rejoin_needed = False
        self._prepared = False              # join prepare done for the coming JoinGroup
        self._prepare_commit_in_flight = False
        self._prepare_committed = False
        self._in_flight = False             # a JoinGroup or SyncGroup waits for its answer
        self._heartbeat_timer: Any = None
        self._assigned_counts: dict[str, int] = {}
        self._adopt_appearing = False
        self._last_assignment: tuple[TopicPartition, ...] = ()
        self._last_assignment_generation = NO_GENERATION
        self.rebalances = 0
        self._leaving = False
        self._pattern_version = -1          # the metadata version the pattern was last matched against
        self._join_metadata_version: int | None = None   # a join waits for a metadata answer newer than this
        self.assignment_user_data: Any = None          # the last SyncGroup assignment's user data

    # -- identity ----------------------------------------------------------------------------------------------------
    @property
    def member_id(self) -> str:
        return self._member_id

    @property
    def state(self) -> str:
        return self._state.value

    @property
    def is_static(self) -> bool:
        return self.instance_id is not None

    def is_leader(self) -> bool:
        return bool(self._member_id) and self._member_id == self.leader_id

    # -- subscription ------------------------------------------------------------------------------------------------
    def subscribe(self, topics: Sequence[str], listener: RebalanceListener) -> None:
        """Follow ``topics``; the join starts on the next application poll."""
        new = tuple(sorted(set(topics)))
        self.listener = listener
        if new != self.subscription:
            self.subscription = new
            self.rejoin_needed = True
            self._prepared = False
        self.core.metadata.add_topics(new)
        self.core.wakeup()

    def subscribe_pattern(self, pattern: re.Pattern[str] | str, listener: RebalanceListener) -> None:
        """Follow every topic ``pattern`` matches in full; the join starts on the next application poll, once
        fresh metadata has been matched."""
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        self.listener = listener
        if compiled != self.pattern:
            self.pattern = compiled
            self.rejoin_needed = True
            self._prepared = False
            self._join_metadata_version = None
        md = self.core.metadata
        md.pattern = compiled
        self._set_subscription(md.matching_topics())   # what the metadata known now says (Kafka's subscribe)
        md.request_update()
        self.core.wakeup()

    def _set_subscription(self, topics: Sequence[str]) -> None:
        new = tuple(sorted(set(topics)))
        self._pattern_version = self.core.metadata.version
        if new != self.subscription:
            self.subscription = new
            self.rejoin_needed = True       # Kafka's "subscription has changed" rejoin
            self._prepared = False

    def _maybe_update_pattern(self) -> None:
        """Kafka's ``maybeUpdateSubscriptionMetadata``: match the pattern again when newer metadata is in."""
        if isinstance(self.pattern, re.Pattern) and self.core.metadata.version != self._pattern_version:
            self._set_subscription(self.core.metadata.matching_topics())

    def _metadata_fresh_for_join(self) -> bool:
        """Kafka's ``poll`` for a pattern subscription before a join: ask for a metadata refresh (unless the last
        was less than ``retry.backoff.ms`` ago: ``timeToAllowUpdate``) and wait for it, then match again."""
        md = self.core.metadata
        if self._join_metadata_version is None:
            if self.port.now - md.last_refresh_ms < self.retry_backoff_ms:
                self._join_metadata_version = md.version - 1        # fresh enough: nothing to wait for
            else:
                self._join_metadata_version = md.version
                md.request_update()
                self.core.wakeup()
        if md.version <= self._join_metadata_version:
            return False
        self._maybe_update_pattern()
        return True

    def unsubscribe(self) -> None:
        """Kafka's ``unsubscribe``: revoke everything (or report it lost) and leave the group."""
        self._release_all(lost=self.generation == NO_GENERATION)
        self._leave("the consumer unsubscribed from all topics")
        self._reset_generation(reset_member_id=True)
        self.subscription = ()
        self.pattern = None
        self.core.metadata.pattern = None
        self.rejoin_needed = False

    def needs_app_poll(self) -> bool:
        if self._app_tasks:
            return True
        if self.pattern is not None and self.core.metadata.version != self._pattern_version:
            return True             # new metadata to match the pattern against
        if self.pattern is not None and self._join_metadata_version is not None and self.rejoin_needed \
                and self.core.metadata.version <= self._join_metadata_version:
            return False            # a join waits for the metadata it asked for
        return self.subscribed and self.rejoin_needed and not self._in_flight \
            and not self._prepare_commit_in_flight and not self.closed

    # -- the application's poll ------------------------------------------------------------------------------------
    def on_app_poll(self, now_ms: float) -> None:
        if self.closed:
            return
        self.last_poll_ms = now_ms
        self.run_app_tasks()
        if not self.subscribed:
            self.maybe_auto_commit(now_ms)       # assign() with a group.id auto-commits too
            return
        self._maybe_update_pattern()
        if self._state is MemberState.STABLE and self.is_leader() and self._metadata_changed():
            self.rejoin_needed = True
        if self.rejoin_needed and not self._in_flight:
            if self.pattern is not None and not self._prepare_commit_in_flight \
                    and not self._metadata_fresh_for_join():
                return
            self._join_prepare()
        elif self._state is MemberState.STABLE:
            self.maybe_auto_commit(now_ms)

    def may_auto_commit(self) -> bool:
        return self._state is MemberState.STABLE or not self.subscribed

    def _join_prepare(self) -> None:
        """Kafka's ``onJoinPrepare`` then ``sendJoinGroupRequest``."""
        if not self._prepared:
            if self._prepare_commit_in_flight:
                return
            if self.rebalance_protocol == EAGER:
                self.mark_pending_revocation(self.core.assignment)
            else:
                self.mark_pending_revocation(tp for tp in self.core.assignment if tp.topic not in self.subscription)
            if self.auto_commit and not self._prepare_committed and self.generation != NO_GENERATION \
                    and self.current_positions():
                self._prepare_commit_in_flight = True
                self.commit(None, self._on_prepare_commit)
                return
            self._prepare_committed = False
            if self.generation == NO_GENERATION or self._member_id == UNKNOWN_MEMBER_ID:
                self._release_all(lost=True)
            elif self.rebalance_protocol == EAGER:
                self._release_all(lost=False)
            else:
                gone = [tp for tp in self.core.assignment if tp.topic not in self.subscription]
                if gone:
                    self.listener.on_partitions_revoked(sorted_tps(gone))
                    self.set_partitions([tp for tp in self.core.assignment if tp not in set(gone)])
            self._prepared = True
        self._stop_heartbeats()
        self._state = MemberState.PREPARING_REBALANCE
        self._join_metadata_version = None
        self._send_join()

    def _on_prepare_commit(self, error: KafkaError | None) -> None:
        self._prepare_commit_in_flight = False
        self._prepare_committed = True      # Kafka goes on with the rebalance whether the commit worked or not

    def _release_all(self, lost: bool) -> None:
        owned = sorted_tps(self.core.assignment)
        if owned:
            if lost:
                self.listener.on_partitions_lost(owned)
            else:
                self.listener.on_partitions_revoked(owned)
        self.set_partitions([])

    # -- JoinGroup ---------------------------------------------------------------------------------------------------
    def _subscription_for(self, name: str) -> Subscription:
        owned = tuple(sorted_tps(self.core.assignment))
        assignor = self._lookup(name)
        user_data_of = getattr(assignor, "subscription_user_data", None)
        # the sticky assignor's user data is the last assignment received (an eager member owns nothing by now)
        user_data = user_data_of(self.subscription, self._last_assignment, self._last_assignment_generation) \
            if user_data_of is not None else None
        return Subscription(self.subscription, user_data, owned, self.generation,
                            self.core.config["client.rack"] or None)

    def _send_join(self) -> None:
        if self.closed:
            return
        self._in_flight = True
        protocols = tuple((name, self._subscription_for(name)) for name in self.strategies)
        member_id = self._member_id
        self.send_to_coordinator(lambda cid: JoinGroupRequest(
            self.group_id, self.session_timeout_ms, int(self.max_poll_interval_ms), member_id, self.instance_id,
            "consumer", protocols, correlation_id=cid), self._on_join,
            timeout_ms=self.max_poll_interval_ms + _JOIN_TIMEOUT_LAPSE_MS)

    def _retry_join(self) -> None:
        """JoinGroup again after ``retry.backoff.ms``; counts as in flight, so a poll meanwhile sends nothing."""
        self._in_flight = True
        self.set_timer(self.retry_backoff_ms, self._send_join, "join-retry")

    def _on_join(self, response: Any, error: str | None) -> None:
        # _in_flight stays set while a retry is scheduled: one JoinGroup at a time (two in flight would make a
        # static member fence itself over and over)
        name = error if error is not None else getattr(response, "error", "UNKNOWN_SERVER_ERROR")
        if error is None and isinstance(response, JoinGroupResponse) and name == "NONE":
            self._in_flight = False
            self._member_id = response.member_id
            self.generation = response.generation_id
            self.protocol_name = response.protocol_name
            self.leader_id = response.leader
            self._state = MemberState.COMPLETING_REBALANCE
            assignments: tuple[tuple[str, Any], ...] = ()
            if self.is_leader() and not response.skip_assignment:
                assignments = self._assign(response)
            elif self.is_leader():      # KIP-814: a static leader that rejoined keeps the assignment as it is
                md = self.core.metadata
                self._assigned_counts = {t: c for t in self.subscription if (c := md.partition_count(t)) is not None}
            self._adopt_appearing = response.skip_assignment
            self._send_sync(assignments)
            return
        self.port.record("consumer.join_error", 1, error=name)
        if name == "MEMBER_ID_REQUIRED" and isinstance(response, JoinGroupResponse):
            self._member_id = response.member_id
            self._send_join()
        elif name in COORDINATOR_ERRORS:
            self.coordinator_unknown(name)
            self._retry_join()
        elif name in _LOST_ERRORS:
            self._reset_generation(reset_member_id=name != "ILLEGAL_GENERATION")
            self._send_join()
        elif name in _FATAL_JOIN:
            self._in_flight = False
            self._state = MemberState.UNJOINED
            self.fail(error_for_name(name)(getattr(response, "error_message", None)))
        else:       # REBALANCE_IN_PROGRESS, COORDINATOR_LOAD_IN_PROGRESS, UNKNOWN_SERVER_ERROR...: retry
            self._retry_join()

    def _assign(self, response: JoinGroupResponse) -> tuple[tuple[str, Any], ...]:
        """The leader's part (``ConsumerCoordinator.onLeaderElected``): run the chosen assignor."""
        assignor = self._lookup(response.protocol_name or self.strategies[0])
        subscriptions: dict[str, Subscription] = {}
        topics: set[str] = set()
        for member in sorted(response.members, key=lambda m: m.member_id):
            sub = member.metadata
            if not isinstance(sub, Subscription):
                sub = Subscription(tuple(sub or ()))
            sub = dataclasses.replace(sub, group_instance_id=member.group_instance_id)
            subscriptions[member.member_id] = sub
            topics.update(sub.topics)
        md = self.core.metadata
        md.add_topics(sorted(topics))
        counts = {t: c for t in sorted(topics) if (c := md.partition_count(t)) is not None}
        self._assigned_counts = dict(counts)
        result = assignor.assign(counts, subscriptions)
        out = []
        for member_id in subscriptions:
            value = result.get(member_id)
            if not isinstance(value, Assignment):
                value = Assignment(tuple(sorted_tps(value or ())))
            out.append((member_id, value))
        return tuple(out)

    def _metadata_changed(self) -> bool:
        """Kafka's ``assignmentSnapshot`` vs ``metadataSnapshot``: a subscribed topic's partition count changed, or a
        topic unknown at the assignment exists now."""
        md = self.core.metadata
        for topic, count in self._assigned_counts.items():
            now_count = md.partition_count(topic)
            if now_count is not None and now_count != count:
                return True
        appeared = [t for t in self.subscription if t not in self._assigned_counts and md.partition_count(t) is not None]
        if appeared and self._adopt_appearing:
            # KIP-814: a skipped assignment took the metadata known then as its snapshot; what was still unknown
            # locally is adopted, not a reason to rebalance
            self._assigned_counts.update({t: md.partition_count(t) or 0 for t in appeared})
            return False
        return bool(appeared)

    # -- SyncGroup ---------------------------------------------------------------------------------------------------
    def _send_sync(self, assignments: tuple[tuple[str, Any], ...]) -> None:
        self._in_flight = True
        generation, member_id, protocol = self.generation, self._member_id, self.protocol_name
        self.send_to_coordinator(lambda cid: SyncGroupRequest(
            self.group_id, generation, member_id, self.instance_id, "consumer", protocol, assignments,
            correlation_id=cid), self._on_sync)

    def _on_sync(self, response: Any, error: str | None) -> None:
        self._in_flight = False
        name = error if error is not None else getattr(response, "error", "UNKNOWN_SERVER_ERROR")
        if error is None and isinstance(response, SyncGroupResponse) and name == "NONE":
            assignment = response.assignment
            partitions = assignment.partitions if isinstance(assignment, Assignment) else tuple(assignment or ())
            # what the leader's assignor told this member beyond partitions (Kafka Streams' AssignmentInfo)
            self.assignment_user_data = assignment.user_data if isinstance(assignment, Assignment) else None
            self._state = MemberState.STABLE
            self._last_assignment = tuple(sorted_tps(partitions))
            self._last_assignment_generation = self.generation
            self.rejoin_needed = False
            self._prepared = False
            self.rebalances += 1
            self.port.record("consumer.rebalance", 1, generation=self.generation, protocol=self.rebalance_protocol)
            self._start_heartbeats()
            self.add_app_task(lambda: self._join_complete(sorted_tps(partitions)))
            return
        self.port.record("consumer.sync_error", 1, error=name)
        if name in COORDINATOR_ERRORS:
            self.coordinator_unknown(name)
            self._retry_join()
        elif name in _LOST_ERRORS:
            self._reset_generation(reset_member_id=name != "ILLEGAL_GENERATION")
            self._send_join()
        elif name == "REBALANCE_IN_PROGRESS":
            self._state = MemberState.PREPARING_REBALANCE
            self._send_join()
        elif name in _FATAL_JOIN:
            self.fail(error_for_name(name)())
        else:
            self._retry_join()

    def _join_complete(self, assigned: list[TopicPartition]) -> None:
        """Kafka's ``onJoinComplete``, in the application's poll."""
        if isinstance(self.pattern, re.Pattern):
            # topics the leader assigned that match the pattern but this member did not know yet: adopt them
            adopted = {tp.topic for tp in assigned if tp.topic not in self.subscription
                       and self.pattern.fullmatch(tp.topic)}
            if adopted:
                self.subscription = tuple(sorted(set(self.subscription) | adopted))
                self.core.metadata.request_update()
        owned = set(self.core.assignment)
        if self.rebalance_protocol == COOPERATIVE:
            revoked = sorted_tps(owned - set(assigned))
            if revoked:
                self.listener.on_partitions_revoked(revoked)
                self.set_partitions([tp for tp in self.core.assignment if tp not in set(revoked)])
                self.rejoin_needed = True       # KIP-429: the follow-up rebalance hands them over
        added = sorted_tps(set(assigned) - set(self.core.assignment))
        generation = self.generation

        def assigned_now() -> None:
            if self.generation == generation:
                self.add_app_task(lambda: self.listener.on_partitions_assigned(added))
        self.apply_assignment(assigned, assigned_now)

    # -- heartbeats ----------------------------------------------------------------------------------------------------
    def _start_heartbeats(self) -> None:
        self._stop_heartbeats()
        self._heartbeat_timer = self.set_timer(self.heartbeat_interval_ms, self._heartbeat, "heartbeat")

    def _stop_heartbeats(self) -> None:
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None

    def _heartbeat(self) -> None:
        self._heartbeat_timer = None
        if self._state is not MemberState.STABLE:
            return
        now = self.port.now
        if now - self.last_poll_ms > self.max_poll_interval_ms:
            self.port.record("consumer.poll_timeout", 1, member=self._member_id)
            self._leave("consumer poll timeout has expired.")
            self._reset_generation(reset_member_id=True)
            self.rejoin_needed = True
            return
        generation, member_id = self.generation, self._member_id
        self.send_to_coordinator(lambda cid: HeartbeatRequest(self.group_id, generation, member_id, self.instance_id,
                                                              correlation_id=cid), self._on_heartbeat)

    def _on_heartbeat(self, response: Any, error: str | None) -> None:
        name = error if error is not None else getattr(response, "error", "UNKNOWN_SERVER_ERROR")
        if self._state is not MemberState.STABLE:
            return
        if error is None and isinstance(response, HeartbeatResponse) and name == "NONE":
            self._heartbeat_timer = self.set_timer(self.heartbeat_interval_ms, self._heartbeat, "heartbeat")
            return
        self.port.record("consumer.heartbeat_error", 1, error=name)
        if name == "REBALANCE_IN_PROGRESS":
            self.rejoin_needed = True
            self._heartbeat_timer = self.set_timer(self.heartbeat_interval_ms, self._heartbeat, "heartbeat")
        elif name in _LOST_ERRORS:
            self._reset_generation(reset_member_id=name != "ILLEGAL_GENERATION")
            self.rejoin_needed = True
        elif name == _FENCED:
            self._fenced()
        else:       # coordinator errors (already forgotten), load in progress: try again soon
            if name in COORDINATOR_ERRORS:
                self.coordinator_unknown(name)
            self._heartbeat_timer = self.set_timer(self.retry_backoff_ms, self._heartbeat, "heartbeat")

    # -- leaving -------------------------------------------------------------------------------------------------------
    def _reset_generation(self, reset_member_id: bool) -> None:
        """Kafka's ``resetStateAndGeneration``: the partitions are lost; the next join prepare says so."""
        self.generation = NO_GENERATION
        if reset_member_id:
            self._member_id = UNKNOWN_MEMBER_ID
        self._state = MemberState.UNJOINED
        self._prepared = False
        self._stop_heartbeats()

    def on_commit_fenced(self, error: str) -> None:
        if error in _LOST_ERRORS:
            self._reset_generation(reset_member_id=error == "UNKNOWN_MEMBER_ID")
            self.rejoin_needed = True
        elif error == _FENCED:
            self._fenced()

    def _fenced(self) -> None:
        """Another process registered this group.instance.id: fatal (Kafka's FencedInstanceIdException)."""
        self._reset_generation(reset_member_id=True)
        self._in_flight = False
        self.fail(error_for_name(_FENCED)(f"group.instance.id {self.instance_id!r} was fenced by another member "
                                          f"with the same instance id"))

    def _leave(self, reason: str) -> None:
        """Kafka's ``maybeLeaveGroup``: a dynamic member that has joined sends LeaveGroup; a static one does not."""
        if self.is_static or self._member_id == UNKNOWN_MEMBER_ID or self._state is MemberState.UNJOINED:
            return
        member = MemberIdentity(self._member_id, self.instance_id, reason)
        self._leaving = True

        def left(response: Any, error: str | None) -> None:
            self._leaving = False
        if self.coordinator is not None:
            self.send_raw(self.coordinator, lambda cid: LeaveGroupRequest(self.group_id, (member,),
                                                                          correlation_id=cid), left)
        else:
            self._leaving = False

    @property
    def leaving(self) -> bool:
        """A LeaveGroup waits for its answer."""
        return self._leaving

    def close(self, now_ms: float) -> None:
        """Kafka's ``onLeavePrepare`` + ``maybeLeaveGroup``: revoke (or report lost) what is owned, leave unless
        static, stop the heartbeats."""
        if self.closed:
            return
        if self.subscribed:
            self._release_all(lost=self.generation == NO_GENERATION)
        self._leave("the consumer is being closed")
        self._stop_heartbeats()
        self._state = MemberState.UNJOINED
        self.closed = True

    # -- commits -------------------------------------------------------------------------------------------------------
    def commit_identity(self) -> tuple[int, str]:
        """Kafka's ``generationIfStable``: a subscribed member commits with a stable generation only."""
        if not self.subscribed:
            return NO_GENERATION, UNKNOWN_MEMBER_ID
        if self._state is MemberState.STABLE and self.generation != NO_GENERATION:
            return self.generation, self._member_id
        if self._state in (MemberState.PREPARING_REBALANCE, MemberState.COMPLETING_REBALANCE) or self.rejoin_needed \
                and self.generation != NO_GENERATION:
            raise RebalanceInProgressError(
                "Offset commit cannot be completed since the consumer is undergoing a rebalance for auto partition "
                "assignment. You can try completing the rebalance by calling poll() and then retry the operation.")
        raise CommitFailedError(COMMIT_FAILED_MESSAGE)


def _protocol_of(assignors: list[Any]) -> str:
    """COOPERATIVE when every assignor supports it (what ``rebalance_protocol`` says for real assignors)."""
    for assignor in assignors:
        if COOPERATIVE not in tuple(getattr(assignor, "supported_protocols", (EAGER,))):
            return EAGER
    return COOPERATIVE if assignors else EAGER


def assignments_by_member(result: Mapping[str, Any]) -> dict[str, tuple[TopicPartition, ...]]:
    """Partitions per member of an assignor's result (Assignment values or plain partition lists)."""
    return {m: (a.partitions if isinstance(a, Assignment) else tuple(a)) for m, a in sorted(result.items())}
