"""Clients: producers that record every delivery report, consumers closed at teardown."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.readiness import CLIENT_LOGGER

# librdkafka's five-minute default makes a producer aimed at a dead broker hang a test.
# Clients log through Python's logging, which pytest captures and shows with a failure.
PRODUCER_DEFAULTS: dict[str, Any] = {"message.timeout.ms": 30000, "logger": CLIENT_LOGGER}
CONSUMER_DEFAULTS: dict[str, Any] = {"auto.offset.reset": "earliest", "logger": CLIENT_LOGGER}


@dataclass(frozen=True)
class Delivery:
    """One delivery report: where the broker put a message, or why it did not."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error: KafkaError | None


class DeliveryFailed(AssertionError):
    """A flush ended with messages undelivered or delivery reports carrying errors."""


class RecordingProducer:
    """A ``confluent_kafka.Producer`` that keeps every delivery report in ``deliveries``.

    Everything else (transactions, ``poll``, ``list_topics``) is the real producer's.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.producer = Producer(config)
        self.deliveries: list[Delivery] = []

    def _record(self, error: KafkaError | None, message: Any) -> None:
        self.deliveries.append(Delivery(
            message.topic(), message.partition(), message.offset(),
            message.key(), message.value(), error,
        ))

    def produce(
        self,
        topic: str,
        value: bytes | str | None = None,
        key: bytes | str | None = None,
        headers: list[tuple[str, bytes | str | None]] | dict[str, Any] | None = None,
        partition: int | None = None,
        on_delivery: Callable[[KafkaError | None, Any], None] | None = None,
    ) -> None:
        """Produce one message; its delivery report lands in ``deliveries``."""

        def report(error: KafkaError | None, message: Any) -> None:
            self._record(error, message)
            if on_delivery is not None:
                on_delivery(error, message)

        kwargs: dict[str, Any] = {"value": value, "key": key, "on_delivery": report}
        if headers is not None:
            kwargs["headers"] = headers
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                self.producer.produce(topic, **kwargs)
                break
            except BufferError:
                # The local queue is full: serve delivery reports to make room, never drop.
                self.producer.poll(0.1)
        self.producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every delivery report; fail if any message is undelivered or failed."""
        remaining = self.producer.flush(timeout)
        if remaining:
            raise DeliveryFailed(f"{remaining} message(s) still undelivered after {timeout:g}s")
        failed = [delivery for delivery in self.deliveries if delivery.error is not None]
        if failed:
            raise DeliveryFailed(
                f"{len(failed)} of {len(self.deliveries)} deliveries failed, first: {failed[0]}"
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.producer, name)


def produce_until(stop: threading.Event, producer: Producer | RecordingProducer, topic: str,
                  first: int = 0, interval: float = 0.005) -> int:
    """A message every ``interval`` seconds (a few milliseconds) until ``stop`` is set:
    work that goes on while a test injects a fault. Values count up from ``first`` (six
    digits), keys spread over 50; returns the next number, so a later call can continue
    the sequence."""
    number = first
    while not stop.is_set():
        producer.produce(topic, key=f"k{number % 50}", value=f"{number:06d}")
        number += 1
        producer.poll(interval)
    return number


class ClientFactory:
    """Makes producers and consumers for one test; closes them (and drops groups) after."""

    def __init__(self, base_config: Callable[..., dict[str, Any]], hint: str = "") -> None:
        self.base_config = base_config
        self.hint = hint
        self.producers: list[RecordingProducer] = []
        self.consumers: list[Consumer] = []
        self.groups: set[str] = set()

    def producer(self, **config: Any) -> RecordingProducer:
        """A recording producer with test defaults and ``config`` on top."""
        producer = RecordingProducer(self.base_config(**{**PRODUCER_DEFAULTS, **config}))
        self.producers.append(producer)
        return producer

    def consumer(
        self, topics: str | Iterable[str] | None = None, group_id: str | None = None,
        **config: Any,
    ) -> Consumer:
        """A consumer in ``group_id`` (a fresh group unless given), subscribed to ``topics``."""
        group = group_id or unique_name(self.hint)
        consumer = Consumer(self.base_config(**{**CONSUMER_DEFAULTS, "group.id": group, **config}))
        self.consumers.append(consumer)
        self.groups.add(group)
        if topics is not None:
            consumer.subscribe([topics] if isinstance(topics, str) else list(topics))
        return consumer

    def cleanup(self) -> None:
        for consumer in self.consumers:
            with contextlib.suppress(RuntimeError):  # closed by the test already
                consumer.close()
        for producer in self.producers:
            producer.producer.flush(10)
        if self.groups:
            admin = AdminClient(self.base_config(logger=CLIENT_LOGGER))
            futures = admin.delete_consumer_groups(list(self.groups), request_timeout=10)
            for future in futures.values():
                # A group that never committed or already went away is not an error here.
                with contextlib.suppress(Exception):
                    future.result(10)


def client_factory_fixture(broker_fixture: str = "kafka_broker") -> Callable[..., Any]:
    """A fixture factory: a ``ClientFactory`` for the broker named ``broker_fixture``."""

    @pytest.fixture
    def client_factory(request: pytest.FixtureRequest) -> Iterator[ClientFactory]:
        """Make clients of the broker: ``.producer(**config)`` (a ``RecordingProducer``,
        every delivery report kept; flushed after the test) and ``.consumer(topics=None,
        group_id=None, **config)`` (a fresh group, from the earliest offset; closed after
        the test, its group deleted)."""
        broker = request.getfixturevalue(broker_fixture)
        factory = ClientFactory(broker.client_config, request.node.name)
        yield factory
        factory.cleanup()

    return client_factory
