"""Kafka's promise to a consumer group with manual commits: a member killed mid-batch
loses nothing. Its partitions move to the survivor, which starts from the last commit:
redelivery is bounded by the commit interval, and committed offsets never go backwards.

Under both group protocols: classic (cooperative-sticky) and the new consumer protocol;
the groups, and the one that commits too late (the guarantee switched off), are killed
side by side, each on a topic of its own.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.clients import PRODUCER_DEFAULTS, produce_until
from pytest_kafka_lab.groups import ConsumerGroup, Member
from pytest_kafka_lab.readers import end_offsets
from pytest_kafka_lab.topics import TopicFactory
from pytest_kafka_lab.waiting import wait_for

COMMIT_EVERY = 10
PARTITIONS = 6


def commits_going_backwards(members: list[Member]) -> list[str]:
    """Commits, in time order across members, that moved a partition's offset back."""
    commits = sorted((event["time"], tuple(offset)) for member in members
                     for event in member.of("committed")
                     for offset in event["offsets"])
    highest: dict[int, int] = {}
    backwards = []
    for _, (_, partition, offset) in commits:
        if offset < highest.get(partition, -1):
            backwards.append(f"partition {partition}: {highest[partition]} -> {offset}")
        highest[partition] = max(offset, highest.get(partition, -1))
    return backwards


def kill_mid_batch(
    broker: KafkaBroker, group: ConsumerGroup, producer: Producer, topic: str,
    ready: Callable[[Member], bool],
) -> Counter[tuple[int, int]]:
    """Kill the first member once ``ready(it)`` while messages keep coming; return how often
    each produced message was delivered once the survivor has consumed everything."""
    every_partition = [(topic, partition) for partition in range(PARTITIONS)]
    group.wait_for_stable(every_partition, counts=[3, 3])
    victim = group.members[0]
    stop = threading.Event()
    producing = threading.Thread(target=produce_until, args=(stop, producer, topic))
    producing.start()
    try:
        wait_for(lambda: ready(victim), 30, "the member to be mid-batch",
                 lambda: f"{len(victim.consumed())} consumed, {len(victim.commits())} commits")
        victim.kill()
        group.wait_for_stable(every_partition, counts=[PARTITIONS], timeout=60)
    finally:
        stop.set()
        producing.join()
    assert producer.flush(30) == 0, "messages still unacknowledged after 30 s"
    ends = end_offsets(broker, topic)
    produced = {(partition, offset) for partition, end in ends.items() for offset in range(end)}

    def unconsumed() -> set[tuple[int, int]]:
        seen = {(p, o) for member in group.members for _, p, o in member.consumed()}
        return produced - seen

    wait_for(lambda: not unconsumed(), 60, "every produced message to be consumed",
             lambda: f"{len(unconsumed())} not consumed")
    return Counter((p, o) for member in group.members for _, p, o in member.consumed())


@dataclass(frozen=True)
class Kill:
    """What a group showed once the survivor had consumed everything: how often each
    message was delivered, the commits that went backwards, whether the survivor lives."""

    deliveries: Counter[tuple[int, int]]
    backwards: list[str]
    survivor_alive: bool

    @property
    def redelivered(self) -> int:
        return sum(count - 1 for count in self.deliveries.values())


def mid_batch(victim: Member) -> bool:
    """Three commits made, and some messages consumed since the last."""
    return len(victim.commits()) >= 3 and len(victim.consumed()) % COMMIT_EVERY > 0


WITHOUT_COMMITS = "without timely commits"
# Each group: its settings, and when its first member is killed.
KILLS: dict[str, tuple[dict[str, Any], Callable[[Member], bool]]] = {
    "classic": ({"protocol": "classic", "commit_every": COMMIT_EVERY}, mid_batch),
    "consumer": ({"protocol": "consumer", "commit_every": COMMIT_EVERY}, mid_batch),
    # Automatic commits that would come in ten minutes: none do.
    WITHOUT_COMMITS: ({"auto.commit.interval.ms": 600000},
                      lambda victim: len(victim.consumed()) >= 3 * COMMIT_EVERY),
}


def killed(broker: KafkaBroker, group: ConsumerGroup, topic: str,
           ready: Callable[[Member], bool]) -> Kill:
    producer = Producer(broker.client_config(**PRODUCER_DEFAULTS))
    deliveries = kill_mid_batch(broker, group, producer, topic, ready)
    return Kill(deliveries, commits_going_backwards(group.members), group.members[1].alive)


@pytest.fixture(scope="module")
def kills(kafka_broker: KafkaBroker, short_session_broker: Any
          ) -> Iterator[dict[str, Future[Kill]]]:
    """Each of ``KILLS``, side by side, each group of two on a topic of its own, with
    sessions short enough that a killed member's partitions move within seconds (the
    promises' conftest); the groups wait out their sessions together. Its ``result()``
    raises what stopped a kill."""
    topics = TopicFactory(AdminClient(kafka_broker.client_config()), "kill")
    groups: dict[str, tuple[ConsumerGroup, str]] = {}
    try:
        for name, (settings, _) in KILLS.items():
            topic = topics(partitions=PARTITIONS)
            groups[name] = (ConsumerGroup(short_session_broker.client_config, [topic], 2,
                                          **settings), topic)
        with ThreadPoolExecutor(len(groups), thread_name_prefix="kill") as pool:
            outcomes = {name: pool.submit(killed, kafka_broker, group, topic, KILLS[name][1])
                        for name, (group, topic) in groups.items()}
            wait(outcomes.values())
        yield outcomes
    finally:
        for group, _ in groups.values():
            group.close()
        topics.cleanup()


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_a_member_killed_mid_batch_loses_nothing(
    kills: dict[str, Future[Kill]], protocol: str
) -> None:
    kill = kills[protocol].result()
    assert kill.redelivered < COMMIT_EVERY, (
        f"{kill.redelivered} messages were delivered twice; a member committing every "
        f"{COMMIT_EVERY} messages can leave at most {COMMIT_EVERY - 1} uncommitted")
    assert not kill.backwards, kill.backwards
    assert kill.survivor_alive


def test_without_timely_commits_redelivery_is_not_bounded(
    kills: dict[str, Future[Kill]],
) -> None:
    """The guarantee switched off: automatic commits that have not come yet leave all the
    killed member consumed to be delivered again, far past the bound checked above."""
    assert kills[WITHOUT_COMMITS].result().redelivered >= 3 * COMMIT_EVERY
