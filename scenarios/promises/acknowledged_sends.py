"""Kafka's promise to an idempotent ``acks=all`` producer: what was acknowledged survives a
hard-killed leader, exactly once and in order (``test_one_broker_killed`` kills it).

Modelled on Kafka's replication system test: three brokers, replication 3,
``min.insync.replicas=2``; the partition's leader hangs while the producer sends, is
SIGKILLed once the cluster fenced it, and restarted; a fresh reader must see every
acknowledged message once, in order. With the guarantee switched off (``acks=0``, no
idempotence) the same fault loses messages the producer counted as delivered, so the
check can fail: both producers send side by side, each to a partition of its own led by
the broker the fault hits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from pytest_kafka_lab.backends.cluster import LocalCluster
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.readers import read_topic
from pytest_kafka_lab.readiness import CLIENT_LOGGER
from pytest_kafka_lab.topics import create_new_topic, delete_topics
from pytest_kafka_lab.waiting import wait_for

MESSAGES = 5000


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
    """The leader of the topic's partition 0; -1 while the metadata shows none."""
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    return int(partitions[0].leader) if 0 in partitions else -1


def send_all(producer: Producer, topic: str, delivered: Callable[[Any, Any], None]) -> None:
    """MESSAGES in order, a few every millisecond, so that the kill finds some in flight."""
    for number in range(MESSAGES):
        producer.produce(topic, value=f"{number:06d}".encode(), on_delivery=delivered)
        producer.poll(0.001 if number % 5 == 0 else 0)


def topic_led_by(admin: AdminClient, leader: int, brokers: set[int]) -> str:
    """A new one-partition topic on every broker, ``leader`` first among its replicas (the
    preferred leader, and so its first), once the metadata shows it leading."""
    topic = unique_name("replicated")
    replicas = [leader, *sorted(brokers - {leader})]
    create_new_topic(admin, NewTopic(topic, num_partitions=1, replica_assignment=[replicas]))
    wait_for(lambda: leader_of(admin, topic) == leader, 30, f"broker {leader} to lead {topic}",
             lambda: leader_of(admin, topic))
    return topic


class Sender:
    """One producer sending MESSAGES to a topic of its own, in a thread; ``acknowledged``
    holds the values whose delivery report had no error."""

    def __init__(self, cluster: LocalCluster, topic: str, settings: dict[str, Any]) -> None:
        self.topic = topic
        self.acknowledged: list[bytes] = []
        self.producer = Producer(cluster.client_config(**{
            **settings, "linger.ms": 5, "message.timeout.ms": 120000,
            "logger": CLIENT_LOGGER}))
        self.sending = threading.Thread(target=send_all,
                                        args=(self.producer, topic, self.delivered))

    def delivered(self, error: Any, message: Any) -> None:
        if error is None:
            self.acknowledged.append(message.value())

    def problems(self, cluster: LocalCluster) -> list[str]:
        """Once every message is sent, and delivered or failed: what broke the promise for
        the acknowledged ones."""
        self.sending.join()
        if self.producer.flush(120) != 0:
            return ["messages still undelivered after 120 s"]
        read = [record.value or b"" for record in read_topic(cluster.client_config(),
                                                              self.topic, timeout=60)]
        unacknowledged = [f"only {len(self.acknowledged)} of {MESSAGES} acknowledged"]
        return (unacknowledged if len(self.acknowledged) != MESSAGES else []) + \
            exactly_once_in_order(self.acknowledged, read)

    def close(self) -> None:
        # A failed check's traceback may keep the producer: closed here, it does not go
        # on reconnecting to a cluster that later tests have stopped.
        if self.sending.is_alive():
            self.sending.join()
        self.producer.purge()
        self.producer.close()


GUARANTEED = "acks=all, idempotent"
SWITCHED_OFF = "acks=0, not idempotent"
SETTINGS: dict[str, dict[str, Any]] = {
    GUARANTEED: {"acks": "all", "enable.idempotence": True},
    SWITCHED_OFF: {"acks": 0, "enable.idempotence": False},
}




class SendersThroughAFault:
    """A producer of each of ``SETTINGS`` sending side by side, each to a partition of its
    own led by the broker the fault will hit."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.admin = AdminClient(cluster.client_config())
        self.topics: list[str] = []
        self.senders: dict[str, Sender] = {}

    def start(self, leader: int) -> None:
        """Send; return once a third of each producer's messages is acknowledged, so that
        the fault lands while messages flow."""
        brokers = {node.node_id for node in self.cluster.nodes}
        self.topics = [topic_led_by(self.admin, leader, brokers) for _ in SETTINGS]
        self.senders = {name: Sender(self.cluster, topic, settings)
                        for (name, settings), topic in zip(SETTINGS.items(), self.topics,
                                                           strict=True)}
        # Each starts once the one before has its first acknowledgement (the idempotent
        # producer's PID acquired, its partition's replicas in sync): the acks=0 producer,
        # whose deliveries count when sent, never runs ahead and is done before the fault.
        for name, sender in self.senders.items():
            sender.sending.start()
            wait_for(lambda sender=sender: sender.acknowledged, 60,
                     f"the {name} producer's first acknowledgement")
        wait_for(lambda: all(len(sender.acknowledged) >= MESSAGES // 3
                             for sender in self.senders.values()), 60, "a third acknowledged",
                 lambda: {name: len(sender.acknowledged)
                          for name, sender in self.senders.items()})

    def finish(self) -> dict[str, list[str]]:
        """Once the leader is back: per setting, what broke the promise (the producers
        finish and are read side by side)."""
        with ThreadPoolExecutor(len(self.senders), thread_name_prefix="sender") as pool:
            problems = {name: pool.submit(sender.problems, self.cluster)
                        for name, sender in self.senders.items()}
            return {name: found.result() for name, found in problems.items()}

    def close(self) -> None:
        for sender in self.senders.values():
            sender.close()
        if self.topics:
            delete_topics(self.admin, self.topics)
