"""Smoke scenario: the course's first steps work on the embedded broker.

The course creates its topics with ``kafka-topics`` and produces with confluent-kafka;
here the real tool creates the topic and a fresh reader checks what the broker holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.clients import RecordingProducer
from pytest_kafka_lab.readers import read_topic
from pytest_kafka_lab.tools import KafkaTools


def test_created_topic_holds_keyed_orders_per_customer_partition(
    kafka_broker: KafkaBroker,
    kafka_tools: KafkaTools,
    kafka_producer: RecordingProducer,
    kafka_unique_name: Callable[[], str],
) -> None:
    topic = kafka_unique_name()
    created = kafka_tools.run("kafka-topics", "--create", "--topic", topic, "--partitions", "4",
                              "--replication-factor", "1",
                              "--bootstrap-server", kafka_broker.bootstrap_servers)
    assert created.returncode == 0, created.stderr

    for order_id in range(1, 21):
        customer = f"CUST-{(order_id - 1) % 5 + 1:03d}"
        order = {"order_id": f"ORD-{order_id:05d}", "customer_id": customer}
        kafka_producer.produce(topic, key=customer, value=json.dumps(order))
    kafka_producer.flush()

    records = read_topic(kafka_broker, topic)
    assert len(records) == 20
    partitions_of: dict[bytes, set[int]] = {}
    for record in records:
        assert record.key is not None
        partitions_of.setdefault(record.key, set()).add(record.partition)
    assert all(len(parts) == 1 for parts in partitions_of.values()), partitions_of
    kafka_tools.run("kafka-topics", "--delete", "--topic", topic,
                    "--bootstrap-server", kafka_broker.bootstrap_servers)
