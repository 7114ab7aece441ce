"""Kafka's promise to an idempotent ``acks=all`` producer: what was acknowledged survives a
hard-killed leader, exactly once and in order.

Modelled on Kafka's replication system test: three brokers, replication 3,
``min.insync.replicas=2``; the partition's leader is SIGKILLed while the producer sends,
and restarted; a fresh reader must see every acknowledged message once, in order. With
the guarantee switched off (``acks=0``, no idempotence) the same fault loses messages the
producer counted as delivered, so the check can fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends.cluster import LocalCluster
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.readers import read_topic
from pytest_kafka_lab.readiness import CLIENT_LOGGER
from pytest_kafka_lab.topics import create_topic, delete_topics
from pytest_kafka_lab.waiting import wait_for

MESSAGES = 10000


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


def send_all(producer: Producer, topic: str, delivered: Callable[[Any, Any], None]) -> None:
    """MESSAGES in order, a few every millisecond, so that the kill finds some in flight."""
    for number in range(MESSAGES):
        producer.produce(topic, value=f"{number:06d}".encode(), on_delivery=delivered)
        producer.poll(0.001 if number % 5 == 0 else 0)


def through_a_killed_leader(cluster: LocalCluster, settings: dict[str, Any]) -> list[str]:
    """Produce MESSAGES with ``settings`` while the partition's leader is SIGKILLed and
    restarted; return what broke the promise for the acknowledged messages."""
    admin = AdminClient(cluster.client_config())
    topic = create_topic(admin, unique_name("replicated"), partitions=1)
    acknowledged: list[bytes] = []

    def delivered(error: Any, message: Any) -> None:
        if error is None:
            acknowledged.append(message.value())

    producer = Producer(cluster.client_config(**{
        **settings, "linger.ms": 5, "message.timeout.ms": 120000, "logger": CLIENT_LOGGER}))
    sending = threading.Thread(target=send_all, args=(producer, topic, delivered))
    try:
        leader = leader_of(admin, topic)
        sending.start()
        # The faults land while messages flow: a third sent, the leader dies; two thirds
        # sent, it is back.
        wait_for(lambda: len(acknowledged) >= MESSAGES // 3, 60, "a third acknowledged",
                 lambda: len(acknowledged))
        cluster.kill_node(leader)  # returns once the cluster fenced it
        cluster.restart_node(leader)
        sending.join()
        assert producer.flush(120) == 0, "messages still undelivered after 120 s"
        read = [record.value or b"" for record in read_topic(cluster.client_config(),
                                                              topic, timeout=60)]
        unacknowledged = [f"only {len(acknowledged)} of {MESSAGES} acknowledged"]
        return (unacknowledged if len(acknowledged) != MESSAGES else []) + \
            exactly_once_in_order(acknowledged, read)
    finally:
        # A failed check's traceback keeps this frame, and the producer with it: closed
        # here, it does not go on reconnecting to a cluster that later tests have stopped.
        if sending.is_alive():
            sending.join()
        producer.purge()
        producer.close()
        delete_topics(admin, [topic])


def test_every_acknowledged_message_survives_a_killed_leader_once_in_order(
    kafka_faults: LocalCluster,
) -> None:
    problems = through_a_killed_leader(kafka_faults, {"acks": "all",
                                                      "enable.idempotence": True})
    assert not problems, "; ".join(problems)


def test_without_acknowledgements_a_killed_leader_loses_messages(
    kafka_faults: LocalCluster,
) -> None:
    """The guarantee switched off (``acks=0``, no idempotence): messages written to the
    dying leader's socket count as delivered, and are gone."""
    problems = through_a_killed_leader(kafka_faults, {"acks": 0,
                                                      "enable.idempotence": False})
    assert any("lost" in problem for problem in problems), problems


def test_the_check_fails_on_lost_duplicated_or_reordered_messages() -> None:
    """No producer loses or duplicates on demand, so the check itself is shown to fail."""
    sent = [b"1", b"2", b"3"]
    assert exactly_once_in_order(sent, [b"1", b"2", b"3"]) == []
    assert "lost" in exactly_once_in_order(sent, [b"1", b"3"])[0]
    assert "read twice" in exactly_once_in_order(sent, [b"1", b"2", b"2", b"3"])[0]
    assert "order" in exactly_once_in_order(sent, [b"2", b"1", b"3"])[0]
