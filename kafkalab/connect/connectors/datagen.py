"""``DatagenSource``: seeded synthetic records for demos and load, in the shape of Confluent's datagen connector
(``quickstart`` = ``orders``, ``users`` or ``pageviews``; ``kafka.topic``; ``max.interval``; ``iterations``).

How it works. Task ``t`` of ``n`` produces records ``t, t + n, t + 2n, ...``; record ``i`` is drawn from a
``random.Random`` seeded with ``(seed, quickstart, i)`` only, so it is the same record whenever it is produced: a
record re-delivered after a crash is byte-identical (duplicates can be counted by content). The task emits one record
every ``max.interval`` ms of virtual time (catching up in one poll, at most ``batch.size`` records, if it fell
behind), up to ``iterations`` records in all (-1 = forever). Source partition ``{"task.id": t}``, offset
``{"current.iteration": i}``: a restarted task continues after the committed record.
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from kafkalab.connect.api import Schema, SourceConnector, SourceRecord, SourceTask, struct_schema
from kafkalab.connect.config_def import ConfigField

__all__ = ["DatagenSourceConnector", "DatagenSourceTask", "QUICKSTARTS", "datagen_record"]

_S, _L, _D = Schema("string"), Schema("int64"), Schema("float64")
QUICKSTARTS: dict[str, Schema] = {
    "orders": struct_schema([("ordertime", _L), ("orderid", _L), ("itemid", _S), ("orderunits", _D),
                             ("address", struct_schema([("city", _S), ("state", _S), ("zipcode", _L)]))],
                            name="ksql.orders"),
    "users": struct_schema([("registertime", _L), ("userid", _S), ("regionid", _S), ("gender", _S)],
                           name="ksql.users"),
    "pageviews": struct_schema([("viewtime", _L), ("userid", _S), ("pageid", _S)], name="ksql.pageviews"),
}


def datagen_record(quickstart: str, seed: int, i: int) -> tuple[Any, dict[str, Any]]:
    """(key, value) of record ``i``: the same for the same (quickstart, seed, i)."""
    rng = random.Random(f"{seed}/{quickstart}/{i}")
    if quickstart == "orders":
        value = {"ordertime": 1_500_000_000_000 + rng.randrange(10**9), "orderid": i,
                 "itemid": f"Item_{rng.randrange(1000)}", "orderunits": round(rng.uniform(0.1, 10.0), 3),
                 "address": {"city": f"City_{rng.randrange(100)}", "state": f"State_{rng.randrange(50)}",
                             "zipcode": rng.randrange(10000, 99999)}}
        return i, value
    if quickstart == "users":
        uid = f"User_{rng.randrange(1, 10)}"
        return uid, {"registertime": 1_490_000_000_000 + rng.randrange(10**10), "userid": uid,
                     "regionid": f"Region_{rng.randrange(1, 10)}", "gender": rng.choice(["MALE", "FEMALE", "OTHER"])}
    uid = f"User_{rng.randrange(1, 10)}"
    return i, {"viewtime": i, "userid": uid, "pageid": f"Page_{rng.randrange(1, 100)}"}


class DatagenSourceTask(SourceTask):
    def start(self, props: Mapping[str, str]) -> None:
        self.quickstart = props.get("quickstart", "orders")
        self.topic = props["kafka.topic"]
        self.interval = float(props.get("max.interval", 500))
        self.iterations = int(props.get("iterations", -1))
        self.seed = int(props.get("seed", 0))
        self.task_id = int(props["task.id"])
        self.stride = int(props["task.count"])
        self.batch = int(props.get("batch.size", 1000))
        off = self.context.offset_storage_reader.offset({"task.id": self.task_id})
        self.next_i = int(off["current.iteration"]) + self.stride if off else self.task_id
        self.due_ms = float(self.context.time_ms())

    def _done(self) -> bool:
        return 0 <= self.iterations <= self.next_i

    def poll_delay_ms(self) -> float:
        return max(1.0, self.due_ms - self.context.time_ms())

    def poll(self) -> list[SourceRecord] | None:
        now = self.context.time_ms()
        out: list[SourceRecord] = []
        schema = QUICKSTARTS[self.quickstart]
        while self.due_ms <= now and len(out) < self.batch and not self._done():
            key, value = datagen_record(self.quickstart, self.seed, self.next_i)
            out.append(SourceRecord.of({"task.id": self.task_id}, {"current.iteration": self.next_i}, self.topic,
                                       value, key=key, key_schema=_L if isinstance(key, int) else _S,
                                       value_schema=schema))
            self.next_i += self.stride
            self.due_ms += self.interval
        if self._done():
            self.due_ms = float("inf")
        return out or None


class DatagenSourceConnector(SourceConnector):
    def start(self, props: Mapping[str, str]) -> None:
        self.props = dict(props)

    def task_class(self) -> type:
        return DatagenSourceTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [{**self.props, "task.id": str(t), "task.count": str(max_tasks)} for t in range(max_tasks)]

    def config_def(self) -> list[Any]:
        return [ConfigField("kafka.topic", "STRING", None, "HIGH", "Topic to write to", "Datagen", required=True),
                ConfigField("quickstart", "STRING", "orders", "HIGH", "Which schema", "Datagen",
                            choices=tuple(QUICKSTARTS)),
                ConfigField("max.interval", "LONG", 500, "MEDIUM", "ms between records", "Datagen", at_least=1),
                ConfigField("iterations", "INT", -1, "MEDIUM", "Records in all (-1 = forever)", "Datagen"),
                ConfigField("seed", "LONG", 0, "LOW", "Random seed", "Datagen"),
                ConfigField("batch.size", "INT", 1000, "LOW", "Most records per poll", "Datagen", at_least=1)]
