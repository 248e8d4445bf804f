"""Kafka: the local broker, topic layout, and the one place client settings are made."""
