"""Called by the run library's ``sitecustomize`` when a graded Python process starts:
watch for attempts to leave the run's folder, and instrument confluent_kafka before the
submission imports it."""

from __future__ import annotations

from .boundary import watch
from .instrument import install


def start() -> None:
    watch()
    install()
