"""Kafka's promise to a consumer group with manual commits: a member killed mid-batch
loses nothing. Its partitions move to the survivor, which starts from the last commit:
redelivery is bounded by the commit interval, and committed offsets never go backwards.

Under both group protocols: classic (cooperative-sticky) and the new consumer protocol.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.clients import RecordingProducer, produce_until
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
    broker: KafkaBroker, group: ConsumerGroup, producer: RecordingProducer, topic: str,
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
    producer.flush()
    ends = end_offsets(broker, topic)
    produced = {(partition, offset) for partition, end in ends.items() for offset in range(end)}

    def unconsumed() -> set[tuple[int, int]]:
        seen = {(p, o) for member in group.members for _, p, o in member.consumed()}
        return produced - seen

    wait_for(lambda: not unconsumed(), 60, "every produced message to be consumed",
             lambda: f"{len(unconsumed())} not consumed")
    return Counter((p, o) for member in group.members for _, p, o in member.consumed())


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_a_member_killed_mid_batch_loses_nothing(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory,
    kafka_producer: RecordingProducer, kafka_group_factory: Callable[..., ConsumerGroup],
    protocol: str,
) -> None:
    topic = kafka_topic_factory(partitions=PARTITIONS)
    group = kafka_group_factory(topic, members=2, protocol=protocol, commit_every=COMMIT_EVERY)
    deliveries = kill_mid_batch(
        kafka_broker, group, kafka_producer, topic,
        lambda victim: len(victim.commits()) >= 3 and len(victim.consumed()) % COMMIT_EVERY > 0)
    redelivered = sum(count - 1 for count in deliveries.values())
    assert redelivered < COMMIT_EVERY, (
        f"{redelivered} messages were delivered twice; a member committing every "
        f"{COMMIT_EVERY} messages can leave at most {COMMIT_EVERY - 1} uncommitted")
    assert not commits_going_backwards(group.members), commits_going_backwards(group.members)
    assert group.members[1].alive


def test_without_timely_commits_redelivery_is_not_bounded(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory,
    kafka_producer: RecordingProducer, kafka_group_factory: Callable[..., ConsumerGroup],
) -> None:
    """The guarantee switched off: automatic commits that have not come yet leave all the
    killed member consumed to be delivered again, far past the bound checked above."""
    topic = kafka_topic_factory(partitions=PARTITIONS)
    group = kafka_group_factory(topic, members=2, **{"auto.commit.interval.ms": 600000})
    deliveries = kill_mid_batch(kafka_broker, group, kafka_producer, topic,
                                lambda victim: len(victim.consumed()) >= 3 * COMMIT_EVERY)
    redelivered = sum(count - 1 for count in deliveries.values())
    assert redelivered >= 3 * COMMIT_EVERY
