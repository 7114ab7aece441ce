"""Measuring a producer honestly: the clock covers produce() through the flush that
confirms delivery, only delivered messages count, a full queue is served by polling
(never by dropping), and any delivery error fails the measurement."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Producer

POLL_EVERY = 1000  # serve delivery reports every N messages, not after each one


@dataclass(frozen=True)
class Round:
    delivered: int
    seconds: float
    message_size: int

    @property
    def messages_per_second(self) -> float:
        return self.delivered / self.seconds

    @property
    def mb_per_second(self) -> float:
        return self.delivered * self.message_size / self.seconds / 1e6


class DeliveryCounter:
    """The delivery callback: counts successes, keeps the first error."""

    def __init__(self) -> None:
        self.delivered = 0
        self.error: KafkaError | None = None

    def __call__(self, error: KafkaError | None, _message: Any) -> None:
        if error is None:
            self.delivered += 1
        elif self.error is None:
            self.error = error


def produce_loop(producer: Producer, topic: str, count: int, payload: bytes) -> Round:
    """``count`` messages with one ``produce()`` each, then ``flush()``."""
    counter = DeliveryCounter()
    started = time.perf_counter()
    for number in range(count):
        while True:
            try:
                producer.produce(topic, payload, on_delivery=counter)
                break
            except BufferError:
                producer.poll(0.01)
        if number % POLL_EVERY == 0:
            producer.poll(0)
    return finish(producer, counter, started, count, len(payload))


def produce_batches(producer: Producer, topic: str, count: int, payload: bytes,
                    batch: int = 1000) -> Round:
    """The same messages through ``produce_batch()``, ``batch`` at a time."""
    counter = DeliveryCounter()
    messages = [{"value": payload} for _ in range(batch)]
    started = time.perf_counter()
    sent = 0
    while sent < count:
        chunk = messages[: min(batch, count - sent)]
        try:
            queued = producer.produce_batch(topic, chunk, on_delivery=counter)
        except BufferError:
            queued = 0
        sent += queued
        # A partly queued batch leaves its tail for the next call.
        producer.poll(0 if queued == len(chunk) else 0.01)
    return finish(producer, counter, started, count, len(payload))


def finish(producer: Producer, counter: DeliveryCounter, started: float, count: int,
           size: int) -> Round:
    remaining = producer.flush(60)
    seconds = time.perf_counter() - started
    if counter.error is not None or remaining or counter.delivered != count:
        raise AssertionError(
            f"delivery failed: {counter.delivered} of {count} delivered, {remaining} still "
            f"queued, first error: {counter.error}")
    return Round(counter.delivered, seconds, size)


PERF_LINE = re.compile(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)")


def java_rate(output: str) -> tuple[int, float]:
    """(records, records per second) from kafka-producer-perf-test's final line."""
    matches = PERF_LINE.findall(output)
    if not matches:
        raise AssertionError(f"no summary line in the Java tool's output:\n{output[-2000:]}")
    records, rate, _mb = matches[-1]
    return int(records), float(rate)
