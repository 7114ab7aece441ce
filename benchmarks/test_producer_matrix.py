"""Exercise 6's matrix, measured properly: acks, batch.size and compression.

Each case produces ``--bench-messages`` messages of ``--bench-message-size`` bytes per
round (one warm-up round first) to a fresh topic; ``extra_info`` holds messages and MB
per second. Case ids are stable, so ``--benchmark-autosave`` then
``--benchmark-compare`` shows each configuration against its earlier self.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Producer

from benchmarks.throughput import Round, java_rate, produce_batches, produce_loop
from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.tools import KafkaTools
from pytest_kafka_lab.topics import TopicFactory

ACKS = ("0", "1", "all")
BATCH_SIZES = (16384, 32768, 65536)
COMPRESSIONS = ("none", "lz4", "zstd", "snappy", "gzip")
PARTITIONS = 3


def measure(benchmark: Any, make_round: Callable[[], Round], size: int,
            counted: int = 5) -> Round:
    """Run the benchmark (one warm-up round, ``counted`` counted) and record rates."""
    rounds: list[Round] = []

    def one_round() -> None:
        rounds.append(make_round())

    benchmark.pedantic(one_round, rounds=counted, warmup_rounds=1, iterations=1)
    counted = rounds[1:]
    best = max(counted, key=lambda r: r.messages_per_second)
    # The lower median: with an even count, the slower of the middle two.
    median = sorted(counted, key=lambda r: r.messages_per_second)[(len(counted) - 1) // 2]
    benchmark.extra_info.update({
        "message_size": size,
        "messages_per_round": median.delivered,
        "msgs_per_sec": round(median.messages_per_second),
        "mb_per_sec": round(median.mb_per_second, 2),
        "best_msgs_per_sec": round(best.messages_per_second),
    })
    return median


def producer_config(broker: KafkaBroker, acks: str, batch_size: int, compression: str,
                    linger_ms: int) -> dict[str, Any]:
    return broker.client_config(**{
        "acks": acks, "batch.size": batch_size, "compression.type": compression,
        "linger.ms": linger_ms, "queue.buffering.max.messages": 500_000,
    })


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("batch_size", BATCH_SIZES, ids=lambda size: f"batch{size // 1024}k")
@pytest.mark.parametrize("acks", ACKS, ids=lambda acks: f"acks{acks}")
def test_producer(benchmark: Any, kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory,
                  acks: str, batch_size: int, compression: str, bench_messages: int,
                  bench_message_size: int, bench_linger_ms: int) -> None:
    benchmark.group = f"producer acks={acks}"
    topic = kafka_topic_factory(partitions=PARTITIONS)
    producer = Producer(producer_config(kafka_broker, acks, batch_size, compression,
                                        bench_linger_ms))
    payload = os.urandom(bench_message_size)
    measure(benchmark, lambda: produce_loop(producer, topic, bench_messages, payload),
            bench_message_size)


@pytest.mark.parametrize("api", ["produce", "produce_batch"])
def test_producer_api(benchmark: Any, kafka_broker: KafkaBroker,
                      kafka_topic_factory: TopicFactory, api: str, bench_messages: int,
                      bench_message_size: int, bench_linger_ms: int) -> None:
    """One ``produce()`` per message against ``produce_batch()`` (acks=1, 64 KB batches)."""
    benchmark.group = "producer api"
    topic = kafka_topic_factory(partitions=PARTITIONS)
    producer = Producer(producer_config(kafka_broker, "1", 65536, "none", bench_linger_ms))
    payload = os.urandom(bench_message_size)
    run = produce_loop if api == "produce" else produce_batches
    measure(benchmark, lambda: run(producer, topic, bench_messages, payload), bench_message_size)


@pytest.mark.parametrize("acks", ["1", "all"], ids=lambda acks: f"acks{acks}")
def test_python_against_java(benchmark: Any, kafka_broker: KafkaBroker, kafka_tools: KafkaTools,
                             kafka_topic_factory: TopicFactory, acks: str,
                             bench_ratio_messages: int, bench_message_size: int,
                             bench_linger_ms: int) -> None:
    """The anchor: Kafka's own ProducerPerformance with the same settings, same broker.

    Python goes first (a warm-up round, two counted), so the broker is as warm for the
    Java tool as for the counted Python rounds; the tool's own JVM warms up within its
    run, which is why the run is millions of records long.
    """
    benchmark.group = "python vs java"
    settings = {"acks": acks, "batch.size": 65536, "compression.type": "none",
                "linger.ms": bench_linger_ms}
    topic = kafka_topic_factory(partitions=PARTITIONS)
    producer = Producer(kafka_broker.client_config(
        **settings, **{"queue.buffering.max.messages": 500_000}))
    payload = os.urandom(bench_message_size)
    python = measure(benchmark, lambda: produce_loop(producer, topic, bench_ratio_messages,
                                                     payload), bench_message_size, counted=2)

    java_topic = kafka_topic_factory(partitions=PARTITIONS)
    java = kafka_tools.run(
        "kafka-producer-perf-test", "--topic", java_topic,
        "--num-records", str(bench_ratio_messages), "--record-size", str(bench_message_size),
        "--throughput", "-1", "--command-property",
        f"bootstrap.servers={kafka_broker.bootstrap_servers}",
        *(f"{key}={value}" for key, value in settings.items()), timeout=600)
    assert java.returncode == 0, java.stderr[-2000:]
    records, java_per_second = java_rate(java.stdout)
    assert records == bench_ratio_messages
    benchmark.extra_info.update({
        "java_msgs_per_sec": round(java_per_second),
        "python_to_java": round(python.messages_per_second / java_per_second, 3),
    })
