"""The transaction coordinator a broker runs for the ``__transaction_state`` partitions it leads (Kafka's
``TransactionCoordinator`` over ``TransactionStateManager``; KIP-98, KIP-890).

How it works. A transactional id belongs to partition ``abs(javaHashCode(id)) % transaction.state.log.num.partitions``
(:func:`partition_for`); its coordinator is that partition's leader, and the coordinator epoch is the partition's
leader epoch. Each led partition is a :class:`TxnShard` of :class:`~kafkalab.txn.metadata.TransactionMetadata`. Every
state change is a record (key: the transactional id, value: the state after the change) appended to the partition
through the port with ``acks=all`` (``TransactionLog.EnforcedRequiredAcks``); the metadata changes only once the
record is committed (:meth:`TransactionMetadata.complete`), and a failed write changes nothing. On failover the new
leader replays the partition's log, last record per id wins (``loadTransactionsForTxnTopicPartition``), after a
modelled load time, and sends the markers of every transaction it finds in PrepareCommit/PrepareAbort: the new
coordinator completes what the old one decided.

Requests (errors as Kafka's handlers answer them):

- InitProducerId with a transactional id: a new id (from the broker's producer-id block) or an epoch bump;
  ``transaction.timeout.ms`` above ``transaction.max.timeout.ms`` is INVALID_TRANSACTION_TIMEOUT; an ongoing
  transaction of the previous incarnation is fenced (epoch + 1) and aborted, answered CONCURRENT_TRANSACTIONS so the
  new producer retries and gets the next epoch; a request carrying an id/epoch that is not current is PRODUCER_FENCED.
- AddPartitionsToTxn (from a version-1 producer, or from a partition leader verifying a produce, KIP-890):
  INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS while a transition is pending or the previous
  transaction's markers are not all written; ``verify_only`` adds nothing and answers TRANSACTION_ABORTABLE for a
  partition not in the transaction (``handleVerifyPartitionsInTransaction``).
- AddOffsetsToTxn adds the group's ``__consumer_offsets`` partition.
- EndTxn: Ongoing -> PrepareCommit/PrepareAbort (answered once written; transaction version 2 returns the bumped
  epoch), then the marker channel (:mod:`kafkalab.txn.markers`) writes the markers and the coordinator writes
  CompleteCommit/CompleteAbort. A retried EndTxn of a completed transaction answers NONE; the wrong outcome, or EndTxn
  on Empty, is INVALID_TXN_STATE.
- The timeout: every ``transaction.abort.timed.out.transaction.cleanup.interval.ms`` (10 s, while the broker leads a
  ``__transaction_state`` partition) transactions Ongoing for longer than their timeout are fenced and aborted.
- Expiration (``TransactionStateManager.removeExpiredTransactionalIds``): every
  ``transaction.remove.expired.transaction.cleanup.interval.ms`` (1 h, while the broker leads a partition) each
  loaded partition's ids that are idle (Empty, CompleteCommit or CompleteAbort with no pending transition) and last
  updated at least ``transactional.id.expiration.ms`` (7 days) ago are prepared Dead and their tombstones (key, no
  value) appended in one batch with ``acks=all``. Once written, an id still pending Dead under the same coordinator
  epoch is forgotten (compaction may then drop it from the log; a replay skips it); a failed write clears the pending
  Dead and the id stays. A later InitProducerId for it starts from scratch with a new producer id; a producer still
  using the old one gets INVALID_PRODUCER_ID_MAPPING. The partitions' producer state expires separately
  (``producer.id.expiration.ms``), not here.

Every transition is recorded as ``txn.state`` (labels ``transactional_id``, ``state``, ``previous``, ``epoch``) once
it takes effect: written (Dead: its tombstone written), or, for the in-memory PrepareEpochFence, when it is prepared.

Timer names: ``txn:load:<partition>``, ``txn:abort-check``, ``txn:expire-check``, ``txn:marker:<seq>`` (the
marker channel's).

Simplifications (named): the two periodic checks start when the broker first leads a ``__transaction_state``
partition (Kafka schedules them at startup); the expiration batch is never split (Kafka splits at
``max.message.bytes``); producer-id rotation on epoch exhaustion is modelled only for InitProducerId;
the client's transaction version is the cluster's finalized ``transaction.version`` when the transaction starts
(Kafka takes it from the request version).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.common.utils import java_string_hash
from kafkalab.protocol.txn import (
    AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    EndTxnRequest,
    EndTxnResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
    WriteTxnMarkersResponse,
)
from kafkalab.txn.markers import TransactionMarkerChannel
from kafkalab.txn.metadata import (
    EXPIRABLE_STATES,
    TransactionMetadata,
    TransactionState,
    TxnLogValue,
    TxnTransit,
    parse_txn_key,
    txn_key,
)

__all__ = ["TxnCoordinatorPort", "TransactionCoordinator", "TxnShard", "partition_for", "TRANSACTION_STATE_TOPIC",
           "WRITE_ERRORS", "LOAD_BYTES_PER_MS", "REQUEST_TIMEOUT_MS"]

S = TransactionState
NONE = "NONE"
#: The internal, compacted topic of transaction states.
TRANSACTION_STATE_TOPIC = "__transaction_state"
#: the broker's ``request.timeout.ms`` (Kafka's default), which the coordinator's writes and marker requests wait
REQUEST_TIMEOUT_MS = 30_000
#: modelled replay speed of a load (bytes per virtual ms), as the group coordinator's
LOAD_BYTES_PER_MS = 50_000.0
_OFFSETS_TOPIC = "__consumer_offsets"

#: append error -> what the coordinator answers (``TransactionStateManager.appendTransactionToLog``)
WRITE_ERRORS: Mapping[str, str] = {
    "UNKNOWN_TOPIC_OR_PARTITION": "COORDINATOR_NOT_AVAILABLE",
    "NOT_ENOUGH_REPLICAS": "COORDINATOR_NOT_AVAILABLE",
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND": "COORDINATOR_NOT_AVAILABLE",
    "REQUEST_TIMED_OUT": "COORDINATOR_NOT_AVAILABLE",
    "NOT_LEADER_OR_FOLLOWER": "NOT_COORDINATOR",
    "KAFKA_STORAGE_ERROR": "NOT_COORDINATOR",
    "MESSAGE_TOO_LARGE": "UNKNOWN_SERVER_ERROR",
    "RECORD_LIST_TOO_LARGE": "UNKNOWN_SERVER_ERROR",
}


def partition_for(key: str, num_partitions: int = 50) -> int:
    """``abs(javaHashCode(key)) % num_partitions`` with ``Utils.abs(Integer.MIN_VALUE) == 0``."""
    h = java_string_hash(key)
    return (0 if h == -(1 << 31) else abs(h)) % num_partitions


class TxnCoordinatorPort(Protocol):
    """What the broker gives its transaction coordinator."""

    def send(self, dst: Any, msg: Any) -> None: ...
    def set_timer(self, name: str, at_ms: float) -> None: ...
    def cancel_timer(self, name: str) -> None: ...
    def now_ms(self) -> float: ...
    def append(self, partition: int, records: list[tuple[bytes, Any]], callback: Callable[[str], None]) -> None: ...
    def read(self, partition: int) -> Iterable[tuple[bytes, Any]]: ...
    def leader_for(self, tp: TopicPartition) -> Any: ...
    def allocate_producer_id(self, callback: Callable[[str, int], None]) -> None: ...
    def transaction_version(self) -> int: ...
    def record(self, metric: str, value: Any, **labels: Any) -> None: ...


class TxnShard:
    """One led ``__transaction_state`` partition."""

    def __init__(self, partition: int, epoch: int) -> None:
        self.partition = partition
        self.epoch = epoch
        self.loading = True
        self.txns: dict[str, TransactionMetadata] = {}


Respond = Callable[[Any], None]


class TransactionCoordinator:
    """The facade the broker calls; sans-I/O (messages and the time in, messages, timers and records out)."""

    def __init__(self, broker_id: int, port: TxnCoordinatorPort, config: Mapping[str, Any]) -> None:
        self.broker_id = broker_id
        self.port = port
        self.num_partitions = int(config["transaction.state.log.num.partitions"])
        self.offsets_partitions = int(config["offsets.topic.num.partitions"])
        self.max_timeout_ms = int(config["transaction.max.timeout.ms"])
        self.abort_interval_ms = float(config["transaction.abort.timed.out.transaction.cleanup.interval.ms"])
        self.expiration_ms = float(config["transactional.id.expiration.ms"])
        self.expire_interval_ms = float(config["transaction.remove.expired.transaction.cleanup.interval.ms"])
        self._expire_check_armed = False
        self.shards: dict[int, TxnShard] = {}
        self.markers = TransactionMarkerChannel(self, REQUEST_TIMEOUT_MS)
        self._abort_check_armed = False
        self._loads: dict[int, list[tuple[bytes, Any]]] = {}

    # ---- leadership ---------------------------------------------------------------------------------------------
    def on_become_leader(self, partition: int, epoch: int, now_ms: float) -> None:
        shard = TxnShard(partition, epoch)
        self.shards[partition] = shard
        records = list(self.port.read(partition))
        size = sum(len(k) + (v.serialized_size() if v is not None else 0) for k, v in records)
        self._loads[partition] = records
        self.port.set_timer(f"load:{partition}", now_ms + size / LOAD_BYTES_PER_MS)

    def on_resign(self, partition: int, epoch: int, now_ms: float) -> None:
        shard = self.shards.get(partition)
        if shard is not None and shard.epoch <= epoch:
            del self.shards[partition]
            self.port.cancel_timer(f"load:{partition}")
            self._loads.pop(partition, None)
            self.markers.remove_for(partition)

    def _complete_load(self, partition: int, now_ms: float) -> None:
        shard = self.shards.get(partition)
        records = self._loads.pop(partition, [])
        if shard is None:
            return
        for key, value in records:
            tid = parse_txn_key(key)
            if value is None:
                shard.txns.pop(tid, None)
            elif isinstance(value, TxnLogValue):
                shard.txns[tid] = TransactionMetadata.from_value(tid, value)
        shard.loading = False
        self.port.record("txn.coordinator_loaded", len(shard.txns), partition=partition)
        for _tid, md in sorted(shard.txns.items()):
            if md.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
                self.markers.add(shard, md, md.state is S.PREPARE_COMMIT, now_ms)
        self._arm_abort_check(now_ms)

    # ---- timers -------------------------------------------------------------------------------------------------
    def on_timer(self, name: str, now_ms: float) -> None:
        if name.startswith("load:"):
            self._complete_load(int(name[5:]), now_ms)
        elif name == "abort-check":
            self._abort_check_armed = False
            self._abort_timed_out(now_ms)
            self._arm_abort_check(now_ms)
        elif name == "expire-check":
            self._expire_check_armed = False
            self._remove_expired(now_ms)
            self._arm_abort_check(now_ms)
        elif name.startswith("marker:"):
            self.markers.on_timeout(int(name[7:]), now_ms)

    def _arm_abort_check(self, now_ms: float) -> None:
        """Arm the timeout check and the expiration check (while this broker leads a partition)."""
        if not self.shards:
            return
        if not self._abort_check_armed:
            self._abort_check_armed = True
            self.port.set_timer("abort-check", now_ms + self.abort_interval_ms)
        if not self._expire_check_armed:
            self._expire_check_armed = True
            self.port.set_timer("expire-check", now_ms + self.expire_interval_ms)

    def _remove_expired(self, now_ms: float) -> None:
        """``removeExpiredTransactionalIds``: prepare idle ids Dead and write their tombstones, one batch a partition."""
        for partition in sorted(self.shards):
            shard = self.shards[partition]
            if shard.loading:
                continue
            expired = [(md, md.prepare_dead()) for _tid, md in sorted(shard.txns.items())
                       if md.pending is None and md.state in EXPIRABLE_STATES
                       and md.last_update_ms <= now_ms - self.expiration_ms]
            if expired:
                self._write_tombstones(shard, expired)

    def _write_tombstones(self, shard: TxnShard, expired: list[tuple[TransactionMetadata, TxnTransit]]) -> None:
        epoch = shard.epoch

        def callback(error: str) -> None:
            still_led = self.shards.get(shard.partition) is shard and shard.epoch == epoch
            for md, transit in expired:
                if md.pending is not transit:
                    continue
                tid = md.transactional_id
                if error == NONE and still_led and shard.txns.get(tid) is md:
                    del shard.txns[tid]
                    self.port.record("txn.state", 1, transactional_id=tid, state=S.DEAD.value,
                                     previous=md.state.value, epoch=md.producer_epoch)
                    self.port.record("txn.expired", 1, transactional_id=tid, producer_id=md.producer_id)
                else:
                    md.abort_pending()
        self.port.append(shard.partition, [(txn_key(md.transactional_id), None) for md, _ in expired], callback)

    def _abort_timed_out(self, now_ms: float) -> None:
        """``abortTimedOutTransactions``: fence and abort every transaction Ongoing past its timeout."""
        for partition in sorted(self.shards):
            shard = self.shards[partition]
            if shard.loading:
                continue
            for tid, md in sorted(shard.txns.items()):
                if md.state is S.ONGOING and md.pending is None and md.txn_start_ms + md.timeout_ms < now_ms:
                    self.port.record("txn.timed_out", 1, transactional_id=tid)
                    self._fence_and_abort(shard, md, now_ms, lambda error: None)

    # ---- requests -----------------------------------------------------------------------------------------------
    def handle(self, src: Any, msg: Any, now_ms: float) -> None:
        respond = self._responder(src, msg.correlation_id)
        kind = type(msg)
        if kind is InitProducerIdRequest:
            self._init_producer_id(msg, respond, now_ms)
        elif kind is AddPartitionsToTxnRequest:
            self._add_partitions(msg, respond, now_ms)
        elif kind is AddOffsetsToTxnRequest:
            tp = TopicPartition(_OFFSETS_TOPIC, partition_for(msg.group_id, self.offsets_partitions))
            add = AddPartitionsToTxnRequest(msg.transactional_id, msg.producer_id, msg.producer_epoch, (tp,))
            self._add_partitions(add, lambda r: respond(AddOffsetsToTxnResponse(r.errors[tp])), now_ms)
        elif kind is EndTxnRequest:
            self._end_txn(msg, respond, now_ms)

    def on_marker_response(self, src: Any, msg: WriteTxnMarkersResponse, now_ms: float) -> None:
        self.markers.on_response(src, msg, now_ms)

    def _responder(self, src: Any, correlation_id: int) -> Respond:
        answered = [False]

        def respond(response: Any) -> None:
            if not answered[0]:
                answered[0] = True
                self.port.send(src, replace(response, correlation_id=correlation_id))
        return respond

    def _shard_for(self, tid: str) -> tuple[TxnShard | None, str]:
        shard = self.shards.get(partition_for(tid, self.num_partitions))
        if shard is None:
            return None, "NOT_COORDINATOR"
        if shard.loading:
            return None, "COORDINATOR_LOAD_IN_PROGRESS"
        return shard, NONE

    def _write(self, shard: TxnShard, md: TransactionMetadata, transit: TxnTransit, done: Callable[[str], None],
               fenced: bool = False) -> None:
        """Append the transit's record; apply it once committed (``appendTransactionToLog``). ``fenced``: the
        transit is the PrepareAbort that follows a PrepareEpochFence."""
        epoch = shard.epoch

        def callback(error: str) -> None:
            if self.shards.get(shard.partition) is not shard or shard.epoch != epoch:
                done("NOT_COORDINATOR")
                return
            if md.pending is not transit:
                done("NOT_COORDINATOR")
                return
            if error == NONE:
                previous = S.PREPARE_EPOCH_FENCE if fenced else md.state
                md.complete(transit)
                self.port.record("txn.state", 1, transactional_id=md.transactional_id, state=transit.state.value,
                                 previous=previous.value, epoch=transit.producer_epoch)
                done(NONE)
            else:
                md.abort_pending()
                done(WRITE_ERRORS.get(error, error))
        self.port.append(shard.partition, [(txn_key(md.transactional_id), transit.value())], callback)

    # InitProducerId ----------------------------------------------------------------------------------------------
    def _init_producer_id(self, msg: InitProducerIdRequest, respond: Respond, now_ms: float) -> None:
        tid = msg.transactional_id or ""

        def error(e: str) -> None:
            respond(InitProducerIdResponse(e))
        if not tid:
            error("INVALID_REQUEST")
            return
        if not 0 < msg.transaction_timeout_ms <= self.max_timeout_ms:
            error("INVALID_TRANSACTION_TIMEOUT")
            return
        shard, err = self._shard_for(tid)
        if shard is None:
            error(err)
            return
        md = shard.txns.get(tid)
        if md is None:
            def allocated(e: str, pid: int) -> None:
                if e != NONE:
                    error(e)
                    return
                if self.shards.get(shard.partition) is not shard:
                    error("NOT_COORDINATOR")
                    return
                if tid not in shard.txns:
                    shard.txns[tid] = TransactionMetadata(tid, pid, timeout_ms=msg.transaction_timeout_ms,
                                                          last_update_ms=now_ms)
                self._init_existing(shard, shard.txns[tid], msg, respond, self.port.now_ms())
            self.port.allocate_producer_id(allocated)
            return
        self._init_existing(shard, md, msg, respond, now_ms)

    def _init_existing(self, shard: TxnShard, md: TransactionMetadata, msg: InitProducerIdRequest,
                       respond: Respond, now_ms: float) -> None:
        if md.pending is not None:
            respond(InitProducerIdResponse("CONCURRENT_TRANSACTIONS"))
            return
        if msg.producer_id >= 0 and md.producer_epoch >= 0 and msg.producer_id != md.producer_id:
            respond(InitProducerIdResponse("PRODUCER_FENCED"))
            return
        if msg.producer_id >= 0 and md.producer_epoch >= 0 and msg.producer_epoch != md.producer_epoch:
            respond(InitProducerIdResponse("PRODUCER_FENCED"))
            return
        state = md.state
        if state in (S.PREPARE_ABORT, S.PREPARE_COMMIT):
            respond(InitProducerIdResponse("CONCURRENT_TRANSACTIONS"))
            return
        tv = self.port.transaction_version()
        if state is S.ONGOING:
            self._fence_and_abort(shard, md, now_ms, lambda e: respond(InitProducerIdResponse(
                "CONCURRENT_TRANSACTIONS" if e == NONE else e)))
            return
        if md.epoch_exhausted:
            def rotated(e: str, pid: int) -> None:
                if e != NONE or md.pending is not None:
                    respond(InitProducerIdResponse(e if e != NONE else "CONCURRENT_TRANSACTIONS"))
                    return
                transit = md.prepare_rotate(pid, msg.transaction_timeout_ms, self.port.now_ms(), tv)
                self._write(shard, md, transit, lambda e2: respond(self._pid_response(md, e2)))
            self.port.allocate_producer_id(rotated)
            return
        transit = md.prepare_increment_epoch(msg.transaction_timeout_ms, now_ms, tv)
        self._write(shard, md, transit, lambda e: respond(self._pid_response(md, e)))

    def _pid_response(self, md: TransactionMetadata, error: str) -> InitProducerIdResponse:
        if error != NONE:
            return InitProducerIdResponse(error)
        return InitProducerIdResponse(NONE, md.producer_id, md.producer_epoch,
                                      transaction_version=self.port.transaction_version())

    def _fence_and_abort(self, shard: TxnShard, md: TransactionMetadata, now_ms: float,
                         done: Callable[[str], None]) -> None:
        """PrepareEpochFence (not written), then PrepareAbort with the fenced epoch, then markers."""
        fence = md.prepare_fence(now_ms)
        md.pending = None
        md.producer_epoch = fence.producer_epoch
        md.last_producer_epoch = -1
        self.port.record("txn.fenced", 1, transactional_id=md.transactional_id, epoch=md.producer_epoch)
        self.port.record("txn.state", 1, transactional_id=md.transactional_id, state=S.PREPARE_EPOCH_FENCE.value,
                         previous=md.state.value, epoch=md.producer_epoch)
        self._prepare_end(shard, md, False, now_ms, self.port.transaction_version(), done, fenced=True)

    # AddPartitionsToTxn ------------------------------------------------------------------------------------------
    def _add_partitions(self, msg: AddPartitionsToTxnRequest, respond: Respond, now_ms: float) -> None:
        parts = tuple(msg.partitions)

        def all_errors(e: str) -> None:
            respond(AddPartitionsToTxnResponse({tp: e for tp in parts}))
        shard, err = self._shard_for(msg.transactional_id)
        if shard is None:
            all_errors(err)
            return
        md = shard.txns.get(msg.transactional_id)
        if md is None or md.producer_id != msg.producer_id:
            all_errors("INVALID_PRODUCER_ID_MAPPING")
            return
        if md.producer_epoch != msg.producer_epoch:
            all_errors("PRODUCER_FENCED")
            return
        if msg.verify_only:
            if md.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
                all_errors("CONCURRENT_TRANSACTIONS")
                return
            respond(AddPartitionsToTxnResponse({tp: NONE if tp in md.partitions and md.state is S.ONGOING
                                                else "TRANSACTION_ABORTABLE" for tp in parts}))
            return
        if md.pending is not None or md.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
            all_errors("CONCURRENT_TRANSACTIONS")
            return
        if md.state is S.ONGOING and set(parts) <= md.partitions:
            all_errors(NONE)
            return
        transit = md.prepare_add_partitions(frozenset(parts), now_ms, self._tv_for(md))
        self._arm_abort_check(now_ms)
        self._write(shard, md, transit, all_errors)

    def _tv_for(self, md: TransactionMetadata) -> int:
        return md.transaction_version if md.state is S.ONGOING else self.port.transaction_version()

    # EndTxn ------------------------------------------------------------------------------------------------------
    def _end_txn(self, msg: EndTxnRequest, respond: Respond, now_ms: float) -> None:
        shard, err = self._shard_for(msg.transactional_id)
        if shard is None:
            respond(EndTxnResponse(err))
            return
        md = shard.txns.get(msg.transactional_id)
        if md is None or md.producer_id != msg.producer_id:
            respond(EndTxnResponse("INVALID_PRODUCER_ID_MAPPING"))
            return
        v2 = md.transaction_version >= 2
        # KIP-890: a retried EndTxn of version 2 carries the epoch before the bump
        retry_on_bump = v2 and msg.producer_epoch == md.producer_epoch - 1 and md.last_producer_epoch == msg.producer_epoch
        if v2 and md.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT, S.COMPLETE_COMMIT, S.COMPLETE_ABORT):
            valid = retry_on_bump
        else:
            valid = msg.producer_epoch == md.producer_epoch
        if not valid:
            respond(EndTxnResponse("PRODUCER_FENCED"))
            return
        if md.pending is not None:
            respond(EndTxnResponse("CONCURRENT_TRANSACTIONS"))
            return
        committed = msg.committed
        state = md.state
        if state is S.ONGOING:
            self._prepare_end(shard, md, committed, now_ms, md.transaction_version,
                              lambda e: respond(EndTxnResponse(e, md.producer_id, md.producer_epoch) if e == NONE
                                                else EndTxnResponse(e)))
        elif state in (S.COMPLETE_COMMIT, S.COMPLETE_ABORT):
            ok = (state is S.COMPLETE_COMMIT) == committed
            respond(EndTxnResponse(NONE, md.producer_id, md.producer_epoch) if ok else EndTxnResponse("INVALID_TXN_STATE"))
        elif state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
            ok = (state is S.PREPARE_COMMIT) == committed
            respond(EndTxnResponse("CONCURRENT_TRANSACTIONS" if ok else "INVALID_TXN_STATE"))
        else:
            respond(EndTxnResponse("INVALID_TXN_STATE"))

    def _prepare_end(self, shard: TxnShard, md: TransactionMetadata, commit: bool, now_ms: float, tv: int,
                     done: Callable[[str], None], fenced: bool = False) -> None:
        transit = md.prepare_abort_or_commit(commit, now_ms, tv)

        def written(error: str) -> None:
            if error == NONE:
                self.markers.add(shard, md, commit, self.port.now_ms())
            done(error)
        self._write(shard, md, transit, written, fenced)

    def complete_markers(self, shard: TxnShard, md: TransactionMetadata, now_ms: float) -> None:
        """Every marker is written: CompleteCommit/CompleteAbort (retried until written while still led)."""
        if self.shards.get(shard.partition) is not shard or md.pending is not None:
            return
        transit = md.prepare_complete(now_ms)

        def written(error: str) -> None:
            if error != NONE and self.shards.get(shard.partition) is shard and error != "NOT_COORDINATOR":
                self.complete_markers(shard, md, self.port.now_ms())
        self._write(shard, md, transit, written)

    # ---- views --------------------------------------------------------------------------------------------------
    def describe(self, tid: str) -> dict[str, Any] | None:
        """``DescribeTransactions`` for one id led here (None if not)."""
        shard = self.shards.get(partition_for(tid, self.num_partitions))
        md = None if shard is None else shard.txns.get(tid)
        if md is None:
            return None
        return {"transactional_id": tid, "state": md.state.value, "producer_id": md.producer_id,
                "producer_epoch": md.producer_epoch, "timeout_ms": md.timeout_ms,
                "partitions": sorted(md.partitions), "start_ms": md.txn_start_ms,
                "coordinator": self.broker_id, "transaction_version": md.transaction_version,
                "pending_state": None if md.pending is None else md.pending.state.value}

    def describe_error(self, tid: str) -> str:
        """What ``DescribeTransactions`` answers here before looking at the id (``getTransactionState``):
        NOT_COORDINATOR for a partition not led here, COORDINATOR_LOAD_IN_PROGRESS while it loads, else NONE."""
        shard = self.shards.get(partition_for(tid, self.num_partitions))
        if shard is None:
            return "NOT_COORDINATOR"
        return "COORDINATOR_LOAD_IN_PROGRESS" if shard.loading else "NONE"

    def transactional_ids(self) -> list[str]:
        return sorted(tid for shard in self.shards.values() for tid in shard.txns)
