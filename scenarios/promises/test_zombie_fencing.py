"""Kafka's promise to transactional producers: a zombie is fenced.

Modelled on Kafka's transactions system test. A producer (the zombie) opens a
transaction and writes; a second producer with the same ``transactional.id`` starts, which
fences the first and aborts its open transaction. A ``read_committed`` reader sees only
the new producer's records; the same records read with ``read_uncommitted`` (the
guarantee switched off) show the zombie's writes, so the check can fail.
"""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaException, Producer

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.readers import read_topic
from pytest_kafka_lab.readiness import CLIENT_LOGGER
from pytest_kafka_lab.topics import TopicFactory


def transactional(broker: KafkaBroker, transactional_id: str) -> Producer:
    producer = Producer(broker.client_config(**{"transactional.id": transactional_id,
                                                "transaction.timeout.ms": 60000,
                                                "logger": CLIENT_LOGGER}))
    producer.init_transactions(30)
    return producer


@pytest.fixture
def fenced_run(kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory) -> str:
    """The zombie's and the successor's writes, as described above; returns the topic."""
    topic = kafka_topic_factory(partitions=1)
    transactional_id = unique_name("copier")
    zombie = transactional(kafka_broker, transactional_id)
    zombie.begin_transaction()
    for number in range(5):
        zombie.produce(topic, value=f"zombie-{number}".encode())
    assert zombie.flush(30) == 0  # written to the log, not committed

    successor = transactional(kafka_broker, transactional_id)  # fences the zombie
    successor.begin_transaction()
    for number in range(5):
        successor.produce(topic, value=f"successor-{number}".encode())
    successor.commit_transaction(30)

    with pytest.raises(KafkaException) as fenced:
        zombie.commit_transaction(30)
    assert fenced.value.args[0].fatal() or "fenced" in str(fenced.value).lower(), fenced.value
    return topic


def test_a_fenced_zombie_writes_nothing_a_read_committed_reader_sees(
    kafka_broker: KafkaBroker, fenced_run: str
) -> None:
    values = [r.value for r in read_topic(kafka_broker, fenced_run, isolation="read_committed")]
    assert values == [f"successor-{number}".encode() for number in range(5)], (
        f"a read_committed reader saw {values}: the zombie's writes must never become visible")


def test_without_read_committed_the_zombie_writes_show(
    kafka_broker: KafkaBroker, fenced_run: str
) -> None:
    """The guarantee switched off: the check above would fail on these records."""
    values = [r.value for r in read_topic(kafka_broker, fenced_run,
                                          isolation="read_uncommitted")]
    assert [value for value in values if (value or b"").startswith(b"zombie-")] == [
        f"zombie-{number}".encode() for number in range(5)]
