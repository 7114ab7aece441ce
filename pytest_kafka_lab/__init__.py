"""pytest-kafka-lab: a real Apache Kafka broker in pytest, with no Docker needed."""

from pytest_kafka_lab.distribution import KAFKA_VERSION

__version__ = "0.1.0"
__all__ = ["KAFKA_VERSION", "__version__"]
