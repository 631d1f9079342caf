"""Exactly-once sources (KIP-618): records and their offsets in one transaction, zombie tasks fenced, the
boundaries, a connector's own offsets topic, and the error paths with Kafka's messages."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

import kafkalab as kl
from kafkalab.connect.api import ConnectorTransactionBoundaries, ExactlyOnceSupport, TransactionContext
from kafkalab.connect.transactional import task_transactional_id
from tests.connect.conftest import acked_counts, put_counts, start, topic_counts

EOS = {"scheduled.rebalance.max.delay.ms": 0, "exactly.once.source.support": "enabled"}
GEN = {"connector.class": "DatagenSource", "kafka.topic": "orders", "max.interval": 50, "tasks.max": 2}
SINK = {"connector.class": "FileStreamSink", "file": "/dev/null", "topics": "orders",
        "consumer.override.isolation.level": "read_committed"}


def task_state(connect: Any, name: str, task: int = 0) -> str | None:
    response = connect.rest("GET", f"/connectors/{name}/status")
    tasks = response.body.get("tasks", []) if response.status == 200 else []
    return tasks[task]["state"] if len(tasks) > task else None


def metric(cluster: kl.Cluster, name: str) -> Any:
    m = cluster.metrics()
    return m[m.metric == name]


def test_a_worker_crash_mid_transaction_leaves_no_duplicate_and_no_gap():
    cluster, connect = start(seed=1, topics={"orders": 3}, config=EOS)
    connect.create_connector("gen", {**GEN, "iterations": 300})
    connect.create_connector("snk", SINK)
    assert cluster.run_until(lambda: len(put_counts(connect)) > 60, 60_000)
    victim = connect.workers[0]
    cluster.crash(victim)                       # its tasks' open transactions stay open ...
    cluster.run(3_000)
    cluster.restart(victim)
    assert cluster.run_until(lambda: set(put_counts(connect)) >= set(range(300)), 120_000)
    cluster.run(3_000)
    counts = topic_counts(cluster, "orders")
    assert set(counts) == set(range(300))
    assert max(counts.values()) == 1            # ... until the next owner's initTransactions aborts them
    commits = metric(cluster, "connect.transaction")
    assert (commits.outcome == "commit").all() and commits.value.sum() >= 300
    assert connect.status("gen")["tasks"][0]["state"] == "RUNNING"


def test_transactional_ids_and_the_task_count_record():
    cluster, connect = start(seed=2, topics={"orders": 3}, config=EOS)
    connect.create_connector("gen", {**GEN, "iterations": 40})
    assert cluster.run_until(lambda: len(acked_counts(connect)) == 40, 60_000)
    ids = sorted(cluster.list_transactions().transactional_id)
    assert ids == [task_transactional_id("connect-cluster", "gen", t) for t in (0, 1)] == \
        ["connect-cluster-gen-0", "connect-cluster-gen-1"]
    # first start with exactly-once: nothing to fence, a task count record is written once for both tasks
    records = metric(cluster, "connect.task_count_record")
    assert list(records.value) == [2]
    assert metric(cluster, "connect.zombie_fencing").empty
    w = connect.worker(connect.workers[0])
    assert w.config.task_count_records == {"gen": 2} and "gen" not in w.config.pending_fencing


def test_reconfiguring_fewer_tasks_fences_every_producer_of_the_old_generation():
    cluster, connect = start(seed=3, topics={"orders": 3}, config=EOS)
    connect.create_connector("gen", {**GEN, "tasks.max": 3, "iterations": -1})
    cluster.run(15_000)
    epochs = {t: cluster.describe_transactions(f"connect-cluster-gen-{t}")["producer_epoch"] for t in range(3)}
    connect.rest("PUT", "/connectors/gen/config", {**GEN, "tasks.max": 1, "iterations": -1})
    w = connect.worker(connect.workers[0])
    assert cluster.run_until(lambda: w.config.task_count_records.get("gen") == 1, 60_000)
    cluster.run(5_000)
    assert [t["state"] for t in connect.status("gen")["tasks"]] == ["RUNNING"]
    fencing = metric(cluster, "connect.zombie_fencing")
    assert list(fencing.value) == [3]          # the old generation had 3 tasks: all three ids fenced
    after = cluster.describe_transactions("connect-cluster-gen-2")
    assert after["producer_epoch"] > epochs[2]  # gen-2 has no task any more; only the fencing bumped it
    assert after["state"] in ("CompleteAbort", "CompleteCommit", "Empty")
    assert w.config.task_count_records["gen"] == 1


def test_a_paused_zombie_is_fenced_and_nothing_it_writes_is_read():
    cluster, connect = start(seed=4, topics={"orders": 3}, config=EOS)
    connect.create_connector("gen", {**GEN, "tasks.max": 1, "iterations": 400})
    connect.create_connector("snk", SINK)
    assert cluster.run_until(lambda: len(put_counts(connect)) > 40, 60_000)
    owner = connect.status("gen")["tasks"][0]["worker_id"].split(":")[0]
    other = next(w for w in connect.workers if w != owner)

    def task_owner() -> str:
        body = connect.rest("GET", "/connectors/gen/status", worker=other).body
        return str(body["tasks"][0]["worker_id"]).split(":")[0] if isinstance(body, dict) else owner
    cluster.pause(owner)                        # a long GC: the group evicts it, another worker takes the task
    assert cluster.run_until(lambda: task_owner() != owner, 60_000)
    cluster.run(2_000)
    cluster.resume(owner)                       # the zombie wakes up with an open transaction
    assert cluster.run_until(lambda: set(put_counts(connect)) >= set(range(400)), 120_000)
    cluster.run(3_000)
    counts = topic_counts(cluster, "orders")
    assert set(counts) == set(range(400)) and max(counts.values()) == 1
    failed = metric(cluster, "connect.transaction_failed")
    assert not failed.empty and set(failed.error) <= {"PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH",
                                                      "TRANSACTION_ABORTABLE", "INVALID_TXN_STATE"}


def test_at_least_once_counts_duplicates_where_exactly_once_has_none():
    dups = {}
    for mode in ("disabled", "enabled"):
        cluster, connect = start(seed=5, topics={"orders": 3},
                                 config={"scheduled.rebalance.max.delay.ms": 0, "exactly.once.source.support": mode,
                                         "offset.flush.interval.ms": 10_000})
        connect.create_connector("gen", {**GEN, "iterations": 300})
        assert cluster.run_until(lambda c=connect: len(acked_counts(c)) > 120, 60_000)
        owner = connect.status("gen")["tasks"][0]["worker_id"].split(":")[0]
        cluster.crash(owner)
        assert cluster.run_until(lambda c=connect: len(acked_counts(c)) == 300, 120_000)
        cluster.run(2_000)
        counts = topic_counts(cluster, "orders")
        dups[mode] = sum(n - 1 for n in counts.values())
    assert dups["disabled"] > 0                 # re-delivered since the last offset flush
    assert dups["enabled"] == 0


def test_interval_boundary_commits_fewer_bigger_transactions_and_a_connector_offsets_topic():
    cluster, connect = start(seed=6, topics={"orders": 3}, config=EOS)
    connect.create_connector("gen", {**GEN, "tasks.max": 1, "iterations": 100, "transaction.boundary": "interval",
                                     "transaction.boundary.interval.ms": 1_000,
                                     "offsets.storage.topic": "gen-offsets"})
    assert cluster.run_until(lambda: len(acked_counts(connect)) == 100, 60_000)
    cluster.run(2_000)
    sizes = metric(cluster, "connect.transaction").value
    assert sizes.max() >= 15 and len(sizes) <= 8         # ~20 records a second, one commit a second
    assert "gen-offsets" in cluster.topics()
    assert cluster.describe_topic("gen-offsets").shape[0] == 25
    # the offsets are in the connector's topic, and (second, outside the transaction) in the worker's
    offsets = connect.rest("GET", "/connectors/gen/offsets").body["offsets"]
    assert offsets == [{"partition": {"task.id": 0}, "offset": {"current.iteration": 99}}]


class Chapters(kl.connect.SourceConnector):
    """Emits records 0..n-1; commits after every 5th, aborts the transaction holding record 7."""

    def start(self, props: Mapping[str, str]) -> None:
        self.props = dict(props)

    def task_class(self) -> type:
        return ChaptersTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self.props)]

    def exactly_once_support(self, config: Mapping[str, str]) -> ExactlyOnceSupport:
        return ExactlyOnceSupport.SUPPORTED

    def can_define_transaction_boundaries(self, config: Mapping[str, str]) -> ConnectorTransactionBoundaries:
        return ConnectorTransactionBoundaries.SUPPORTED


class ChaptersTask(kl.connect.SourceTask):
    def start(self, props: Mapping[str, str]) -> None:
        off = self.context.offset_storage_reader.offset({"book": 1})
        self.i = off["i"] + 1 if off else 0
        self.n = int(props.get("n", 20))
        self.both = props.get("both") == "true"

    def poll(self) -> list[kl.connect.SourceRecord] | None:
        if self.i >= self.n:
            return None
        r = kl.connect.SourceRecord.of({"book": 1}, {"i": self.i}, "chapters", self.i)
        ctx = self.context.transaction_context()
        assert ctx is not None
        if self.i == 7:
            ctx.abort_transaction(r)
        elif self.i % 5 == 4:
            ctx.commit_transaction(r)
        if self.both:
            ctx.commit_transaction(r)
            ctx.abort_transaction(r)
        self.i += 1
        return [r]

    def poll_delay_ms(self) -> float:
        return 100.0


def test_connector_defined_boundaries_commit_and_abort_where_the_task_says():
    kl.connect.register_plugin(Chapters)
    cluster, connect = start(seed=7, topics={"chapters": 1}, config=EOS)
    connect.create_connector("book", {"connector.class": "Chapters", "transaction.boundary": "connector",
                                      "exactly.once.support": "required", "n": 20,
                                      "value.converter": "org.apache.kafka.connect.storage.StringConverter"})
    cluster.run(20_000)
    consumer = cluster.consumer({"isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("chapters", 0)])
    seen = [int(r.value) for _ in range(5) for r in consumer.poll(500)]
    # committed at 4, 9, 14, 19; 5-7 aborted at 7 (their offsets committed in a transaction of their own)
    assert seen == [0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    transactions = metric(cluster, "connect.transaction")
    assert list(zip(transactions.outcome, transactions.value, strict=True)) == [
        ("commit", 5), ("abort", 3), ("commit", 0), ("commit", 2), ("commit", 5), ("commit", 5)]
    assert connect.rest("GET", "/connectors/book/offsets").body["offsets"][0]["offset"] == {"i": 19}
    # a restarted task goes on after the last committed offset: nothing is sent again
    connect.restart("book", include_tasks=True)
    cluster.run(5_000)
    assert list(metric(cluster, "connect.transaction").outcome) == list(transactions.outcome)


def test_a_task_asking_to_commit_and_abort_the_same_record_fails_with_kafkas_message():
    kl.connect.register_plugin(Chapters)
    cluster, connect = start(seed=8, topics={"chapters": 1}, config=EOS)
    connect.create_connector("book", {"connector.class": "Chapters", "transaction.boundary": "connector",
                                      "both": "true"})
    assert cluster.run_until(lambda: task_state(connect, "book") == "FAILED", 30_000)
    trace = connect.status("book")["tasks"][0]["trace"]
    assert "Connector requested both commit and abort of same record against topic/partition chapters/None" in trace


def test_a_task_writing_to_its_own_offsets_topic_fails():
    cluster, connect = start(seed=9, topics={"orders": 3}, config=EOS)
    connect.create_connector("gen", {**GEN, "tasks.max": 1, "kafka.topic": "connect-offsets"})
    assert cluster.run_until(lambda: task_state(connect, "gen") == "FAILED", 30_000)
    assert "Source tasks may not produce to their own offsets topics when exactly-once support is enabled" in \
        connect.status("gen")["tasks"][0]["trace"]


def test_validation_of_the_exactly_once_keys_with_kafkas_messages():
    cluster, connect = start(workers=1, seed=10)
    base = {"connector.class": "DatagenSource", "name": "g", "kafka.topic": "t"}

    def errors(extra: dict[str, Any]) -> dict[str, list[str]]:
        body = connect.rest("PUT", "/connector-plugins/DatagenSource/config/validate", {**base, **extra}).body
        return {c["value"]["name"]: c["value"]["errors"] for c in body["configs"] if c["value"]["errors"]}
    assert errors({"exactly.once.support": "required"}) == {"exactly.once.support": [
        "This worker does not have exactly-once source support enabled.",
        "The connector does not implement the API required for preflight validation of exactly-once source "
        "support. Please consult the documentation for the connector to determine whether it supports exactly-once "
        "semantics, and then consider reconfiguring the connector to use the value \"requested\" for this property "
        "(which will disable this preflight check and allow the connector to be created)."]}
    assert errors({"exactly.once.support": "REQUESTED"}) == {}
    assert errors({"exactly.once.support": "always"}) == {"exactly.once.support": [
        "Invalid value always for configuration exactly.once.support: String must be one of (case insensitive): "
        "requested, required"]}
    assert errors({"transaction.boundary": "batch"}) == {"transaction.boundary": [
        "Invalid value batch for configuration transaction.boundary: String must be one of (case insensitive): "
        "poll, interval, connector"]}
    assert errors({"transaction.boundary": "connector"}) == {"transaction.boundary": [
        "The connector does not support connector-defined transaction boundaries with the given configuration. "
        "Please reconfigure it to use a different transaction boundary definition."]}
    assert errors({"transaction.boundary.interval.ms": -1}) == {"transaction.boundary.interval.ms": [
        "Invalid value -1 for configuration transaction.boundary.interval.ms: Value must be at least 0"]}
    assert errors({"offsets.storage.topic": " "}) == {"offsets.storage.topic": [
        "Invalid value  for configuration offsets.storage.topic: String must be non-empty"]}
    created = connect.rest("POST", "/connectors", {"name": "g", "config": {**base, "exactly.once.support": "required"}})
    assert created.status == 400
    assert "This worker does not have exactly-once source support enabled." in created.body["message"]


def test_the_fence_endpoint_and_its_errors():
    cluster, connect = start(seed=11, topics={"orders": 3}, config=EOS)
    connect.create_connector("gen", {**GEN, "iterations": 10})
    connect.create_connector("snk", SINK)
    cluster.run(5_000)
    assert connect.rest("PUT", "/connectors/gen/fence").status == 204
    missing = connect.rest("PUT", "/connectors/nope/fence")
    assert (missing.status, missing.body["message"]) == (404, "Connector nope not found")
    sink = connect.rest("PUT", "/connectors/snk/fence")
    assert (sink.status, sink.body["message"]) == (400, "Connector snk is not a source connector")
    assert connect.rest("GET", "/connectors/gen/fence").status == 405


def test_transaction_context_api_errors():
    ctx = TransactionContext()
    with pytest.raises(TypeError, match="record must be a SourceRecord the task returned from poll\\(\\), got int"):
        ctx.commit_transaction(3)  # type: ignore[arg-type]
    ctx.commit_transaction()
    ctx.abort_transaction()
    with pytest.raises(kl.connect.ConnectException, match="Connector requested both commit and abort of same "
                                                          "transaction"):
        ctx.should_commit_batch()
    assert json.dumps(ExactlyOnceSupport.SUPPORTED.value) == '"SUPPORTED"'
