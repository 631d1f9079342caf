"""Kafka Streams in the simulation: the DSL, the Processor API, tasks, state stores with changelogs, standbys, and
a multi-partition TopologyTestDriver (``from kafkalab import streams as ks``).

``builder = ks.StreamsBuilder()``; ``builder.stream("orders").group_by_key().count().to_stream().to("counts")``;
``topology = builder.build()``; ``print(topology.describe())``; on a cluster:
``app = cluster.streams(topology, {"application.id": "app"}, instances=2)``; without one:
``ks.TopologyTestDriver(topology, config, partitions={"orders": 3})``.
"""
from kafkalab.streams.config import StreamsConfig, streams_config
from kafkalab.streams.driver import TopologyTestDriver
from kafkalab.streams.dsl import (
    BranchedKStream,
    GlobalKTable,
    KGroupedStream,
    KGroupedTable,
    KStream,
    KTable,
    StreamsBuilder,
)
from kafkalab.streams.errors import (
    InvalidStateStoreException,
    StreamsException,
    TopologyException,
    UnknownStateStoreException,
)
from kafkalab.streams.processor import STREAM_TIME, WALL_CLOCK_TIME, Change, Processor, Record
from kafkalab.streams.serdes import Serde, serde
from kafkalab.streams.suppress import BufferConfig, Suppressed
from kafkalab.streams.topology import Topology, TopologyDescription
from kafkalab.streams.windows import (
    JoinWindows,
    SessionWindows,
    SlidingWindows,
    TimeWindows,
    Window,
    Windowed,
)

__all__ = ["StreamsBuilder", "KStream", "KTable", "KGroupedStream", "KGroupedTable", "BranchedKStream", "Topology",
           "TopologyDescription", "TopologyTestDriver", "Processor", "Record", "Change", "STREAM_TIME",
           "WALL_CLOCK_TIME", "Serde", "serde", "StreamsConfig", "streams_config", "StreamsException",
           "TopologyException", "InvalidStateStoreException", "UnknownStateStoreException", "TimeWindows",
           "SlidingWindows", "SessionWindows", "JoinWindows", "Window", "Windowed", "Suppressed", "BufferConfig",
           "GlobalKTable"]
