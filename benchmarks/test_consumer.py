"""A fresh consumer group reading N messages to the end (group join included)."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from benchmarks.throughput import produce_loop
from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.topics import TopicFactory


@pytest.fixture
def filled_topic(kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory,
                 bench_messages: int, bench_message_size: int) -> str:
    topic = kafka_topic_factory(partitions=3)
    producer = Producer(kafka_broker.client_config(**{"linger.ms": 5}))
    produce_loop(producer, topic, bench_messages, os.urandom(bench_message_size))
    return topic


def read_all(broker: KafkaBroker, topic: str, count: int) -> float:
    consumer = Consumer(broker.client_config(**{
        "group.id": unique_name("bench-consumer"), "auto.offset.reset": "earliest",
        "enable.auto.commit": False}))
    started = time.perf_counter()
    consumer.subscribe([topic])
    seen = 0
    deadline = started + 120
    while seen < count:
        if time.perf_counter() > deadline:
            raise AssertionError(f"read {seen} of {count} messages within 120 s")
        seen += sum(1 for message in consumer.consume(1000, 0.5) if not message.error())
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def test_consumer_reads_to_the_end(benchmark: Any, kafka_broker: KafkaBroker, filled_topic: str,
                                   bench_messages: int, bench_message_size: int) -> None:
    benchmark.group = "consumer"
    seconds = benchmark.pedantic(read_all, args=(kafka_broker, filled_topic, bench_messages),
                                 rounds=3, warmup_rounds=1, iterations=1)
    benchmark.extra_info.update({
        "msgs_per_sec": round(bench_messages / seconds),
        "mb_per_sec": round(bench_messages * bench_message_size / seconds / 1e6, 2),
    })
