"""Consumer groups: the group coordinator (classic and KIP-848 protocols), assignors, offsets.

- :mod:`.hashing`: which ``__consumer_offsets`` partition (and so which broker) coordinates a group.
- :mod:`.messages`: the group RPCs.
- :mod:`.assignors`: the client-side assignors (range, roundrobin, sticky, cooperative-sticky) and KIP-848's
  server-side ones (uniform, range), as pure functions.
- :mod:`.coordinator`: the sans-I/O group coordinator a broker runs for the ``__consumer_offsets`` partitions it leads.
"""
from kafkalab.groups.hashing import OFFSETS_TOPIC, java_string_hash, partition_for

__all__ = ["OFFSETS_TOPIC", "java_string_hash", "partition_for"]
