"""The transaction coordinator (Kafka's ``coordinator/transaction``): transaction metadata and its checked state table,
the coordinator a broker runs for the ``__transaction_state`` partitions it leads, and the marker channel that writes
COMMIT/ABORT markers to partition leaders (KIP-98, KIP-447, KIP-890)."""
