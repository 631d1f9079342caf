"""Kafka's own file connectors (``connect/file``): ``FileStreamSourceConnector`` and ``FileStreamSinkConnector``.

How it works. The source task reads complete lines of a real file from the byte position its committed offset says
(source partition ``{"filename": path}``, offset ``{"position": n}``, as Kafka's ``FileStreamSourceTask``), at most
``batch.size`` lines per poll, each a record with a STRING value and no key to the single ``topic``; when there is no
new complete line it waits a second (the Java task's ``wait(1000)``). Reads happen at the virtual times the task
polls, so a file that grows during a run is read as it grows. The sink task appends each record's value and a newline
to ``file``; ``flush`` flushes the file. One task each (``tasks.max`` beyond 1 still gives one task, as in Kafka).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kafkalab.connect.api import (
    ConnectException,
    Schema,
    SinkConnector,
    SinkRecord,
    SinkTask,
    SourceConnector,
    SourceRecord,
    SourceTask,
)
from kafkalab.connect.config_def import ConfigField

__all__ = ["FileStreamSourceConnector", "FileStreamSourceTask", "FileStreamSinkConnector", "FileStreamSinkTask"]

_STRING = Schema("string")


class FileStreamSourceTask(SourceTask):
    def start(self, props: Mapping[str, str]) -> None:
        self.filename = props["file"]
        self.topic = props["topic"]
        self.batch_size = int(props.get("batch.size", 2000))
        offset = self.context.offset_storage_reader.offset({"filename": self.filename})
        self.position = int(offset["position"]) if offset and "position" in offset else 0

    def poll(self) -> list[SourceRecord] | None:
        if not os.path.exists(self.filename):
            return None
        with open(self.filename, "rb") as f:
            f.seek(self.position)
            data = f.read()
        records: list[SourceRecord] = []
        start = 0
        while len(records) < self.batch_size:
            end = data.find(b"\n", start)
            if end < 0:
                break
            line = data[start:end].rstrip(b"\r").decode("utf-8", errors="replace")
            self.position += end + 1 - start
            start = end + 1
            records.append(SourceRecord.of({"filename": self.filename}, {"position": self.position}, self.topic,
                                           line, value_schema=_STRING))
        return records or None


class FileStreamSourceConnector(SourceConnector):
    def start(self, props: Mapping[str, str]) -> None:
        self.props = dict(props)

    def task_class(self) -> type:
        return FileStreamSourceTask

    def alter_offsets(self, connector_config: Mapping[str, str], offsets: Any) -> bool:
        """Kafka's ``FileStreamSourceConnector.alterOffsets``: offsets are null or a non-negative integer
        ``position``; partitions name a ``filename``."""
        if not connector_config.get("file"):
            raise ConnectException("Offsets cannot be modified if the 'file' configuration is unspecified. This is "
                                   "because stdin is used for input and offsets are not tracked.")
        for partition, offset in offsets:
            if offset is None:
                continue
            if "position" not in offset:
                raise ConnectException("Offset objects should either be null or contain the key 'position'")
            position = offset["position"]
            if not isinstance(position, int) or isinstance(position, bool):
                raise ConnectException("The value for the 'position' key in the offset is expected to be a Long value")
            if position < 0:
                raise ConnectException("The value for the 'position' key in the offset should be a non-negative value")
            if partition is None:
                raise ConnectException("Partition objects cannot be null")
            if "filename" not in partition:
                raise ConnectException("Partition objects should contain the key 'filename'")
        return True

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [{k: self.props[k] for k in ("file", "topic", "batch.size") if k in self.props}]

    def config_def(self) -> list[Any]:
        return [ConfigField("file", "STRING", None, "HIGH", "Source filename.", None, required=True),
                ConfigField("topic", "LIST", None, "HIGH", "The topic to publish data to", None, required=True,
                            check=lambda v: None if len(v) == 1 else "'topic' in FileStreamSourceConnector "
                            "configuration requires definition of a single topic."),
                ConfigField("batch.size", "INT", 2000, "LOW", "The maximum number of records the source task can "
                            "read from the file each time it is polled", None, at_least=1)]


class FileStreamSinkTask(SinkTask):
    def start(self, props: Mapping[str, str]) -> None:
        self.filename = props["file"]
        self._out = open(self.filename, "a", encoding="utf-8")  # noqa: SIM115 - kept open like Kafka's PrintStream

    def put(self, records: list[SinkRecord]) -> None:
        for r in records:
            self._out.write(f"{r.value}\n")

    def flush(self, current_offsets: Mapping[Any, Any]) -> None:
        self._out.flush()

    def stop(self) -> None:
        if not self._out.closed:
            self._out.flush()
            self._out.close()


class FileStreamSinkConnector(SinkConnector):
    def start(self, props: Mapping[str, str]) -> None:
        self.props = dict(props)

    def task_class(self) -> type:
        return FileStreamSinkTask

    def alter_offsets(self, connector_config: Mapping[str, str], offsets: Mapping[Any, int | None]) -> bool:
        """Kafka's ``FileStreamSinkConnector.alterOffsets``: nothing kept outside the consumer group."""
        return True

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [{"file": self.props["file"]}] * max(1, min(max_tasks, 1))

    def config_def(self) -> list[Any]:
        return [ConfigField("file", "STRING", None, "HIGH", "Destination filename.", None, required=True)]
