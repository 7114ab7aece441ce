"""pytest-kafka-lab: a real Apache Kafka broker in pytest, with no Docker needed."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["KAFKA_VERSION", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use: every graded submission's Python imports this package at
    # start-up (the instrumentation lives in it), and needs none of the distribution's.
    if name == "KAFKA_VERSION":
        from pytest_kafka_lab.distribution import KAFKA_VERSION

        return KAFKA_VERSION
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
