"""Connectors that move real data: Kafka's FileStream connectors, SQLite source and sink in the shape of the JDBC
connectors, and a seeded datagen source."""
