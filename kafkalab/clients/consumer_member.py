"""A member of a KIP-848 consumer group (``group.protocol=consumer``; the new consumer's ``ConsumerMembershipManager``
and ``ConsumerHeartbeatRequestManager``).

How it works. :class:`ConsumerProtocolMembership` joins with a ``ConsumerGroupHeartbeat`` at member epoch 0 and a
member id it made itself (KIP-1082: a uuid drawn from the node's ``group`` random stream, kept for the incarnation's
lifetime), then heartbeats every ``heartbeat_interval_ms`` the coordinator names. The full set of fields
(instance id, rack, ``rebalance_timeout_ms`` = ``max.poll.interval.ms``, subscribed topics, ``group.remote.assignor``,
owned partitions) goes on a join and after an error; later heartbeats carry only what changed (None otherwise).

Reconciliation (``ConsumerMembershipManager.maybeReconcile``): an answer carrying an assignment sets the member's
*target*. When the owned partitions differ from it, one reconciliation runs at a time:

1. with ``enable.auto.commit`` the positions are committed before anything is revoked;
2. in the application's poll, ``on_partitions_revoked`` runs for the owned partitions not in the target, and they stop
   being fetched;
3. the committed offsets of the added partitions are fetched (OffsetFetch carries the member id and epoch);
4. the assignment becomes the target, and in the next application poll ``on_partitions_assigned`` runs with the
   added partitions;
5. the member acknowledges at once with a heartbeat listing what it now owns; the coordinator only then hands the
   revoked partitions to their new owners.

Errors: FENCED_MEMBER_EPOCH and UNKNOWN_MEMBER_ID make the member report its partitions lost (in the next poll) and
rejoin at epoch 0 with the same member id. NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and dropped connections find the
coordinator again; COORDINATOR_LOAD_IN_PROGRESS waits ``retry.backoff.ms``; UNRELEASED_INSTANCE_ID,
GROUP_MAX_SIZE_REACHED, UNSUPPORTED_ASSIGNOR and INVALID_REQUEST are fatal (the next poll raises them).

Leaving: ``close`` revokes in the application's thread and sends epoch -1 (-2 for a static member, KIP-345's
"I will be back": ``leaveGroupEpoch``). When ``max.poll.interval.ms`` passes without a poll the member leaves the same
way (a static member with -2 too, as ``transitionToSendingLeaveGroup(true)`` uses ``leaveGroupEpoch``), and on the
next poll it reports its partitions lost and rejoins at epoch 0 (``maybeRejoinStaleMember``).

Pattern subscriptions come in Kafka 4's two kinds. A regex given as text (``subscribe(SubscriptionPattern)``) is
resolved by the coordinator: the member sends it as ``SubscribedTopicRegex`` (with an empty list of names) on a full
heartbeat and whenever it changes (``""`` to drop it), as ``ConsumerHeartbeatRequestManager`` does, and the coordinator
resolves it, also against topics created later; the client does not compile it, and INVALID_REGULAR_EXPRESSION from
the coordinator is fatal (the next poll raises it, "Invalid RE2J SubscriptionPattern provided in the call to
subscribe. ..."). A compiled pattern (``subscribe(java.util.regex.Pattern)``) is matched here, as the classic
protocol does (``AsyncKafkaConsumer.updatePatternSubscription``): the metadata asks for every topic, each new answer
is matched in the application's poll, and the matched names go to the coordinator as ``SubscribedTopicNames``.

Simplifications: topic names instead of topic ids.
"""
from __future__ import annotations

import base64
import enum
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kafkalab.clients.group_common import (
    COMMIT_FAILED_MESSAGE,
    COORDINATOR_ERRORS,
    GroupMembership,
    RebalanceListener,
    sorted_tps,
)
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import CommitFailedError, error_for_name
from kafkalab.protocol.consumer_group import (
    JOIN_EPOCH,
    LEAVE_EPOCH,
    STATIC_LEAVE_EPOCH,
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
)
from kafkalab.protocol.group import NO_GENERATION, UNKNOWN_MEMBER_ID

if TYPE_CHECKING:
    from kafkalab.clients.fetcher import ConsumerCore

__all__ = ["ConsumerProtocolMembership", "MemberState", "new_member_id"]

_FENCED = frozenset({"FENCED_MEMBER_EPOCH", "UNKNOWN_MEMBER_ID"})
_FATAL = frozenset({"UNRELEASED_INSTANCE_ID", "GROUP_MAX_SIZE_REACHED", "UNSUPPORTED_ASSIGNOR", "INVALID_REQUEST",
                    "GROUP_AUTHORIZATION_FAILED", "UNSUPPORTED_VERSION", "FENCED_INSTANCE_ID", "GROUP_ID_NOT_FOUND"})
_DEFAULT_HEARTBEAT_MS = 5000.0


class MemberState(enum.Enum):
    """Kafka's ``MemberState`` of the new consumer."""

    UNSUBSCRIBED = "unsubscribed"
    JOINING = "joining"
    RECONCILING = "reconciling"
    ACKNOWLEDGING = "acknowledging"
    STABLE = "stable"
    FENCED = "fenced"
    LEAVING = "leaving"
    STALE = "stale"
    FATAL = "fatal"


def new_member_id(rng: Any) -> str:
    """A uuid as Kafka prints one (url-safe base64 of 16 bytes, no padding), from ``rng``."""
    raw = rng.getrandbits(128).to_bytes(16, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class ConsumerProtocolMembership(GroupMembership):
    """One incarnation's membership in a KIP-848 consumer group."""

    protocol = "consumer"

    def __init__(self, core: ConsumerCore) -> None:
        super().__init__(core)
        self.server_assignor: str | None = core.config["group.remote.assignor"]
        self.rack_id: str | None = core.config["client.rack"] or None
        self._member_id = new_member_id(self._rng)
        self.member_epoch = JOIN_EPOCH
        self._state = MemberState.UNSUBSCRIBED
        self.heartbeat_interval_ms = 0.0
        self.target: tuple[TopicPartition, ...] | None = None
        self._hb_in_flight = False
        self._hb_timer: Any = None
        self._hb_now = False                 # send again as soon as the answer in flight is in
        self._send_full = True
        self._sent_topics: tuple[str, ...] | None = None
        self._sent_regex: str | None = None
        self._pattern_version = -1            # metadata version a compiled pattern was last matched against
        self._sent_owned: tuple[TopicPartition, ...] | None = None
        self._reconciling = False
        self._round = 0                      # bumped by fencing and leaving: steps of an older round stop
        self._leaving = False
        self.reconciliations = 0

    # -- identity ----------------------------------------------------------------------------------------------------
    @property
    def member_id(self) -> str:
        return self._member_id

    @property
    def generation(self) -> int:
        """The member epoch (the classic generation's counterpart)."""
        return self.member_epoch

    @property
    def state(self) -> str:
        return self._state.value

    @property
    def leaving(self) -> bool:
        return self._leaving

    # -- subscription ------------------------------------------------------------------------------------------------
    def subscribe(self, topics: Sequence[str], listener: RebalanceListener) -> None:
        """Follow ``topics``: join now (epoch 0), or tell the coordinator the new subscription at once."""
        self.listener = listener
        new = tuple(sorted(set(topics)))
        changed = new != self.subscription
        self.subscription = new
        self.core.metadata.add_topics(new)
        if self._state in (MemberState.UNSUBSCRIBED, MemberState.FATAL):
            self._join()
        elif changed:
            self._heartbeat_soon()

    def subscribe_pattern(self, pattern: re.Pattern[str] | str, listener: RebalanceListener) -> None:
        """Follow the topics ``pattern`` matches: a str is resolved by the coordinator, a compiled pattern is
        matched here against all topics and its matches sent as names. Join now, or tell the coordinator."""
        self.listener = listener
        md = self.core.metadata
        if isinstance(pattern, re.Pattern):
            changed = pattern != self.pattern
            self.pattern = pattern
            md.pattern = pattern
            md.server_pattern = False
            new = md.matching_topics()
            changed = changed or new != self.subscription
            self.subscription = new
            self._pattern_version = md.version
            md.request_update()
            self.core.wakeup()
        else:
            md.pattern = None
            md.server_pattern = True
            changed = pattern != self.pattern or bool(self.subscription)
            self.pattern = pattern
            self.subscription = ()
        if self._state in (MemberState.UNSUBSCRIBED, MemberState.FATAL):
            self._join()
        elif changed:
            self._heartbeat_soon()

    def unsubscribe(self) -> None:
        """Revoke everything and leave (epoch -1, or -2 for a static member); the member may subscribe again."""
        self._release(lost=False)
        self._send_leave(self._leave_epoch())
        self.subscription = ()
        self.pattern = None
        self.core.metadata.pattern = None
        self.core.metadata.server_pattern = False
        self._state = MemberState.UNSUBSCRIBED

    def _join(self) -> None:
        self._round += 1
        self._state = MemberState.JOINING
        self.member_epoch = JOIN_EPOCH
        self.target = None
        self._send_full = True
        self._reconciling = False
        self._heartbeat_soon()

    def needs_app_poll(self) -> bool:
        return bool(self._app_tasks) or (self._state is MemberState.STALE and not self._leaving) or (
            isinstance(self.pattern, re.Pattern) and self.core.metadata.version != self._pattern_version)

    def _maybe_update_pattern(self) -> None:
        """A compiled pattern: match it against newer metadata; new matches go out in a heartbeat at once."""
        md = self.core.metadata
        if isinstance(self.pattern, re.Pattern) and md.version != self._pattern_version:
            self._pattern_version = md.version
            new = md.matching_topics()
            if new != self.subscription:
                self.subscription = new
                if self._state not in (MemberState.UNSUBSCRIBED, MemberState.FATAL):
                    self._heartbeat_soon()

    def on_app_poll(self, now_ms: float) -> None:
        if self.closed:
            return
        self.last_poll_ms = now_ms
        if self._state is MemberState.STALE and not self._leaving:
            self._release(lost=True)         # left on max.poll.interval.ms: lost, then rejoin
            if self.subscribed:
                self._join()
        self.run_app_tasks()
        self._maybe_update_pattern()
        if not self.subscribed or self._state in (MemberState.STABLE, MemberState.ACKNOWLEDGING,
                                                    MemberState.RECONCILING) and not self._reconciling:
            self.maybe_auto_commit(now_ms)

    def may_auto_commit(self) -> bool:
        return self.member_epoch > 0 or not self.subscribed

    # -- heartbeats ----------------------------------------------------------------------------------------------------
    def _heartbeat_soon(self, delay_ms: float = 0.0) -> None:
        if self._hb_in_flight:
            if delay_ms <= 0:
                self._hb_now = True
            return
        if self._hb_timer is not None:
            self._hb_timer.cancel()
        self._hb_timer = self.set_timer(delay_ms, self._heartbeat, "heartbeat")

    def _heartbeat(self) -> None:
        self._hb_timer = None
        if self._hb_in_flight or self._state in (MemberState.UNSUBSCRIBED, MemberState.STALE, MemberState.FATAL,
                                                 MemberState.LEAVING, MemberState.FENCED):
            return
        if self.port.now - self.last_poll_ms > self.max_poll_interval_ms and self.member_epoch > 0:
            self.port.record("consumer.poll_timeout", 1, member=self._member_id)
            self._state = MemberState.STALE
            self._round += 1
            self._reconciling = False
            self._send_leave(self._leave_epoch())
            return
        full = self._send_full
        owned = tuple(sorted_tps(self.core.assignment))
        topics = self.subscription
        request_fields: dict[str, Any] = {}
        if full:
            request_fields.update(instance_id=self.instance_id, rack_id=self.rack_id,
                                  rebalance_timeout_ms=int(self.max_poll_interval_ms),
                                  server_assignor=self.server_assignor)
        if full or topics != self._sent_topics:
            request_fields["subscribed_topic_names"] = topics
        regex = self.pattern if isinstance(self.pattern, str) else None
        if regex != self._sent_regex or (full and regex is not None):
            request_fields["subscribed_topic_regex"] = regex if regex is not None else ""
        if full or owned != self._sent_owned:
            request_fields["topic_partitions"] = owned
        epoch, member_id, round_ = self.member_epoch, self._member_id, self._round
        self._hb_in_flight = True
        self._hb_now = False

        def answered(response: Any, error: str | None) -> None:
            self._hb_in_flight = False
            self._on_heartbeat(response, error, round_, topics, owned, regex)
        self.send_to_coordinator(lambda cid: ConsumerGroupHeartbeatRequest(
            self.group_id, member_id, epoch, correlation_id=cid, **request_fields), answered)

    def _on_heartbeat(self, response: Any, error: str | None, round_: int, topics: tuple[str, ...],
                      owned: tuple[TopicPartition, ...], regex: str | None = None) -> None:
        name = error if error is not None else getattr(response, "error", "UNKNOWN_SERVER_ERROR")
        if self._state in (MemberState.UNSUBSCRIBED, MemberState.STALE, MemberState.LEAVING):
            return
        if round_ != self._round:        # an answer from before a rejoin: ignore it, but send the one that waited
            if self._hb_now:
                self._heartbeat_soon()
            return
        if error is None and isinstance(response, ConsumerGroupHeartbeatResponse) and name == "NONE":
            self._send_full = False
            self._sent_topics, self._sent_owned, self._sent_regex = topics, owned, regex
            if response.member_id:
                self._member_id = response.member_id
            self.member_epoch = response.member_epoch
            if response.heartbeat_interval_ms > 0:
                self.heartbeat_interval_ms = float(response.heartbeat_interval_ms)
            if response.assignment is not None:
                self.target = tuple(sorted_tps(response.assignment))
            if self._state in (MemberState.JOINING, MemberState.ACKNOWLEDGING):
                self._state = MemberState.STABLE if self.target is not None else self._state
            self._maybe_reconcile()
            self._heartbeat_soon(0.0 if self._hb_now else self.heartbeat_interval_ms or _DEFAULT_HEARTBEAT_MS)
            return
        self.port.record("consumer.heartbeat_error", 1, error=name)
        self._send_full = True
        if name in _FENCED:
            self._fenced(name)
        elif name in COORDINATOR_ERRORS:
            self.coordinator_unknown(name)
            self._heartbeat_soon(self.retry_backoff_ms)
        elif name == "INVALID_REGULAR_EXPRESSION":
            self._state = MemberState.FATAL
            self.fail(error_for_name(name)("Invalid RE2J SubscriptionPattern provided in the call to subscribe. "
                                           f"{getattr(response, 'error_message', None) or ''}".rstrip()))
        elif name in _FATAL:
            self._state = MemberState.FATAL
            self.fail(error_for_name(name)(getattr(response, "error_message", None)))
        else:       # COORDINATOR_LOAD_IN_PROGRESS, UNKNOWN_SERVER_ERROR, ...
            self._heartbeat_soon(self.retry_backoff_ms)

    def _fenced(self, error: str) -> None:
        """Kafka's ``transitionToFenced``: the partitions are lost (callback in the next poll), then rejoin."""
        self._state = MemberState.FENCED
        self._round += 1
        self._reconciling = False
        self.member_epoch = JOIN_EPOCH
        round_ = self._round

        def lost_then_rejoin() -> None:
            if round_ != self._round:
                return
            self._release(lost=True)
            if self.subscribed:
                self._join()
        self.add_app_task(lost_then_rejoin)

    def on_commit_fenced(self, error: str) -> None:
        if error in _FENCED and self._state not in (MemberState.FENCED, MemberState.UNSUBSCRIBED):
            self._fenced(error)

    # -- reconciliation ----------------------------------------------------------------------------------------------
    def _maybe_reconcile(self) -> None:
        if self._reconciling or self.target is None or self._state not in (MemberState.STABLE,
                                                                          MemberState.RECONCILING):
            return
        owned = set(self.core.assignment)
        target = set(self.target)
        if owned == target:
            self._state = MemberState.STABLE
            return
        self._reconciling = True
        self._state = MemberState.RECONCILING
        self.reconciliations += 1
        revoked = sorted_tps(owned - target)
        added = sorted_tps(target - owned)
        round_ = self._round
        wanted = tuple(sorted(target))
        self.mark_pending_revocation(revoked)

        def current() -> bool:
            return round_ == self._round and self._alive()

        def revoke() -> None:
            if not current():
                return
            if revoked:
                self.listener.on_partitions_revoked(revoked)
                self.set_partitions([tp for tp in self.core.assignment if tp not in set(revoked)])
            self.apply_assignment(wanted, lambda: self.add_app_task(assign) if current() else None)

        def assign() -> None:
            if not current():
                return
            if added:
                self.listener.on_partitions_assigned(added)
            self._reconciling = False
            self._state = MemberState.ACKNOWLEDGING
            self._heartbeat_soon()
            if self.target != wanted:
                self._state = MemberState.RECONCILING
                self._maybe_reconcile()

        if self.auto_commit and revoked and self.current_positions():
            self.commit(None, lambda error: self.add_app_task(revoke) if current() else None,
                        deadline_ms=self.port.now + self.max_poll_interval_ms)
        else:
            self.add_app_task(revoke)

    def _release(self, lost: bool) -> None:
        owned = sorted_tps(self.core.assignment)
        if owned:
            if lost:
                self.listener.on_partitions_lost(owned)
            else:
                self.listener.on_partitions_revoked(owned)
        self.set_partitions([])

    # -- leaving -------------------------------------------------------------------------------------------------------
    def _leave_epoch(self) -> int:
        """Kafka's ``leaveGroupEpoch``: -2 for a static member (it will be back), else -1."""
        return STATIC_LEAVE_EPOCH if self.instance_id is not None else LEAVE_EPOCH

    def _send_leave(self, epoch: int) -> None:
        if self.member_epoch <= 0 and not self._hb_in_flight and self._state is MemberState.JOINING:
            return       # never joined: nothing to leave
        if self._hb_timer is not None:
            self._hb_timer.cancel()
            self._hb_timer = None
        self._leaving = True
        self.member_epoch = epoch
        member_id, instance_id = self._member_id, self.instance_id

        def left(response: Any, error: str | None) -> None:
            self._leaving = False
            self.member_epoch = JOIN_EPOCH
        coordinator = self.coordinator
        if coordinator is None:
            self._leaving = False
            self.member_epoch = JOIN_EPOCH
            return
        self.send_raw(coordinator, lambda cid: ConsumerGroupHeartbeatRequest(
            self.group_id, member_id, epoch, instance_id=instance_id, correlation_id=cid), left)

    def close(self, now_ms: float) -> None:
        """Revoke what is owned, leave (epoch -1; -2 for a static member) and stop."""
        if self.closed:
            return
        self._round += 1
        if self._state is MemberState.STALE:
            self._release(lost=True)         # it already left when the poll timer ran out
        elif self.subscribed:
            self._release(lost=self._state is MemberState.FENCED)
            self._send_leave(self._leave_epoch())
        self._state = MemberState.UNSUBSCRIBED
        if self._hb_timer is not None:
            self._hb_timer.cancel()
        self.closed = True

    # -- offsets -------------------------------------------------------------------------------------------------------
    def commit_identity(self) -> tuple[int, str]:
        if not self.subscribed:
            return NO_GENERATION, UNKNOWN_MEMBER_ID
        if self.member_epoch > 0 and self._state not in (MemberState.FENCED, MemberState.STALE,
                                                         MemberState.UNSUBSCRIBED, MemberState.LEAVING):
            return self.member_epoch, self._member_id
        raise CommitFailedError(COMMIT_FAILED_MESSAGE)

    def fetch_identity(self) -> tuple[str | None, int]:
        if self.subscribed and self.member_epoch > 0:
            return self._member_id, self.member_epoch
        return None, -1

