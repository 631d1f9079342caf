"""Consumer groups: the group coordinator (classic and KIP-848 protocols), server-side assignors, offsets.

Mirrors Kafka's ``group-coordinator`` module (``GroupCoordinatorService``, ``GroupMetadataManager``,
``OffsetMetadataManager``, ``ClassicGroup``, ``ConsumerGroup``). Sans-I/O: the broker hosts it (``broker/groups.py``).

- :mod:`.hashing`: which ``__consumer_offsets`` partition (and so which broker) coordinates a group.
- :mod:`.server_assignors`: KIP-848's server-side assignors (uniform, range), pure functions. The group RPCs are
  :mod:`kafkalab.protocol.group` and :mod:`kafkalab.protocol.consumer_group`; the client-side assignors (range,
  roundrobin, sticky, cooperative-sticky) live with the consumer in :mod:`kafkalab.clients.assignors`.
- :mod:`.coordinator`: the sans-I/O group coordinator a broker runs for the ``__consumer_offsets`` partitions it leads
  (writes, loading by replay, offsets), with :mod:`.classic` (the classic group and its state table) and
  :mod:`.consumer_group` (KIP-848 groups, with :mod:`.reconciliation` and :mod:`.consumer_group_records`);
  :mod:`.records` and :mod:`.offsets` hold what it writes and replays.

The broker side of the wiring is :mod:`kafkalab.broker.groups`; the client side is
:mod:`kafkalab.clients.group_common`, :mod:`kafkalab.clients.classic_member` and :mod:`kafkalab.clients.consumer_member`.
"""
from kafkalab.common.utils import java_string_hash
from kafkalab.groups.hashing import OFFSETS_TOPIC, partition_for

__all__ = ["OFFSETS_TOPIC", "java_string_hash", "partition_for"]
