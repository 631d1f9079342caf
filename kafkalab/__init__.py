"""kafkalab: Apache Kafka's architecture as a deterministic, in-process simulation."""
__version__ = "0.1.0"
