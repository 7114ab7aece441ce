"""Kafka's promise to an idempotent ``acks=all`` producer: what was acknowledged survives a
hard-killed leader, exactly once and in order.

Modelled on Kafka's replication system test: three brokers, replication 3,
``min.insync.replicas=2``; the partition's leader is SIGKILLed while the producer sends,
and restarted; a fresh reader must see every acknowledged message once, in order.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends.cluster import LocalCluster
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.readers import read_topic
from pytest_kafka_lab.readiness import CLIENT_LOGGER
from pytest_kafka_lab.topics import create_topic, delete_topics

MESSAGES = 3000


def exactly_once_in_order(acknowledged: list[bytes], read: list[bytes]) -> list[str]:
    """What breaks the promise: acknowledged messages lost, duplicated or reordered."""
    problems = []
    lost = sorted(set(acknowledged) - set(read))
    if lost:
        problems.append(f"{len(lost)} acknowledged messages lost, e.g. {lost[:3]}")
    doubled = len(read) - len(set(read))
    if doubled:
        problems.append(f"{doubled} messages read twice")
    kept = [value for value in read if value in set(acknowledged)]
    if kept != sorted(set(kept), key=acknowledged.index):
        problems.append("messages read out of the order they were produced in")
    return problems


def leader_of(admin: AdminClient, topic: str) -> int:
    return int(admin.list_topics(topic, timeout=10).topics[topic].partitions[0].leader)


def test_every_acknowledged_message_survives_a_killed_leader_once_in_order(
    kafka_faults: LocalCluster,
) -> None:
    admin = AdminClient(kafka_faults.client_config())
    topic = create_topic(admin, unique_name("replicated"), partitions=1)
    acknowledged: list[bytes] = []

    def delivered(error: Any, message: Any) -> None:
        if error is None:
            acknowledged.append(message.value())

    producer = Producer(kafka_faults.client_config(**{
        "acks": "all", "enable.idempotence": True, "linger.ms": 5,
        "message.timeout.ms": 120000, "logger": CLIENT_LOGGER}))
    try:
        leader = leader_of(admin, topic)
        for number in range(MESSAGES):
            producer.produce(topic, value=f"{number:06d}".encode(), on_delivery=delivered)
            producer.poll(0)
            if number == MESSAGES // 3:
                kafka_faults.kill_node(leader)  # returns once the cluster fenced it
            if number == 2 * MESSAGES // 3:
                kafka_faults.restart_node(leader)
        assert producer.flush(120) == 0, "messages still undelivered after 120 s"
        read = [record.value or b"" for record in read_topic(kafka_faults.client_config(),
                                                              topic, timeout=60)]
        assert len(acknowledged) == MESSAGES, f"{len(acknowledged)} of {MESSAGES} acknowledged"
        problems = exactly_once_in_order(acknowledged, read)
        assert not problems, "; ".join(problems)
    finally:
        delete_topics(admin, [topic])


def test_the_check_fails_on_lost_duplicated_or_reordered_messages() -> None:
    """No producer loses or duplicates on demand, so the check itself is shown to fail."""
    sent = [b"1", b"2", b"3"]
    assert exactly_once_in_order(sent, [b"1", b"2", b"3"]) == []
    assert "lost" in exactly_once_in_order(sent, [b"1", b"3"])[0]
    assert "read twice" in exactly_once_in_order(sent, [b"1", b"2", b"2", b"3"])[0]
    assert "order" in exactly_once_in_order(sent, [b"2", b"1", b"3"])[0]
