"""Readers of broker truth: what a topic holds and what a group committed, seen afresh.

Each reader opens its own client, so what it reports comes from the broker and not from
the state of the code under test.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConsumerGroupDescription

from pytest_kafka_lab.readiness import CLIENT_LOGGER
from pytest_kafka_lab.waiting import WaitTimeout, wait_for


class HasClientConfig(Protocol):
    def client_config(self, **overrides: Any) -> dict[str, Any]: ...


# A broker fixture (anything with ``client_config``), a client config, or a bootstrap
# address (``broker.bootstrap_servers``).
Source = HasClientConfig | dict[str, Any] | str


@dataclass(frozen=True)
class Record:
    """One record as the broker stores it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int


def client_config(source: Source, **overrides: Any) -> dict[str, Any]:
    """Client settings from a broker fixture, a plain config dict or a bootstrap address."""
    if isinstance(source, str):
        return {"logger": CLIENT_LOGGER, "bootstrap.servers": source, **overrides}
    if isinstance(source, dict):
        return {"logger": CLIENT_LOGGER, **source, **overrides}
    if not hasattr(source, "client_config"):
        raise TypeError(f"a reader reads from a broker (kafka_broker), a bootstrap address "
                        f"('host:port') or a client config (dict), not {source!r}")
    return {"logger": CLIENT_LOGGER, **source.client_config(**overrides)}


def topic_partitions(source: Source, topics: list[str], timeout: float = 10.0
                     ) -> frozenset[tuple[str, int]]:
    """Every ``(topic, partition)`` of ``topics`` as the broker's metadata has them; a
    topic the broker does not have raises ``LookupError``."""
    admin = AdminClient(client_config(source))
    found: set[tuple[str, int]] = set()
    for topic in topics:
        metadata = admin.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            error = metadata.error if metadata is not None else "not in metadata"
            raise LookupError(f"topic {topic!r} is not on the broker ({error})")
        found.update((topic, partition) for partition in metadata.partitions)
    return frozenset(found)


@contextlib.contextmanager
def fresh_consumer(source: Source, **overrides: Any) -> Iterator[Consumer]:
    """A consumer that joins no group and commits nothing; closed on exit."""
    consumer = Consumer(client_config(
        source, **{"group.id": f"kafka-lab-reader-{uuid.uuid4().hex[:8]}",
                   "enable.auto.commit": False, "enable.partition.eof": True, **overrides}))
    try:
        yield consumer
    finally:
        consumer.close()


def partitions_of(consumer: Consumer, topic: str) -> list[int]:
    metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if metadata is None or metadata.error is not None:
        error = metadata.error if metadata is not None else "not in metadata"
        raise LookupError(f"topic {topic!r} is not on the broker ({error})")
    return sorted(metadata.partitions)


# What a partition answers while its leadership moves; asked again, it answers.
AFTER_AN_ELECTION = frozenset({
    KafkaError.OFFSET_NOT_AVAILABLE, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError._TIMED_OUT,
})


def high_watermark(consumer: Consumer, topic: str, partition: int,
                   timeout: float = 30.0) -> int:
    """The offset the next record of the partition gets.

    Waits out the answers of a moving leadership: just after an election the new leader
    answers ``OFFSET_NOT_AVAILABLE`` until its high watermark has caught up.
    """
    errors: list[KafkaException] = []

    def asked() -> tuple[int] | None:  # in a tuple: a watermark of 0 is an answer too
        try:
            return (consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                   timeout=10)[1],)
        except KafkaException as error:
            if error.args[0].code() not in AFTER_AN_ELECTION:
                raise
            errors.append(error)
            return None

    return wait_for(asked, timeout, f"the high watermark of {topic} [{partition}]",
                    lambda: errors[-1] if errors else "no answer")[0]


def end_offsets(source: Source, topic: str) -> dict[int, int]:
    """The high watermark of every partition of ``topic`` (the offset the next record gets)."""
    with fresh_consumer(source) as consumer:
        return {partition: high_watermark(consumer, topic, partition)
                for partition in partitions_of(consumer, topic)}


def read_topic(
    source: Source, topic: str, timeout: float = 10.0, isolation: str = "read_uncommitted"
) -> list[Record]:
    """Every record of ``topic`` from the beginning to the end, sorted by partition, offset.

    The end is the end of each partition when the read began. Under ``read_committed``
    the reader stops at each partition's end-of-partition event, since transaction
    markers sit below the high watermark and are never delivered.
    """
    records: list[Record] = []
    with fresh_consumer(source, **{"isolation.level": isolation}) as consumer:
        partitions = partitions_of(consumer, topic)
        ends = {p: high_watermark(consumer, topic, p) for p in partitions}
        pending = {p for p in partitions if ends[p] > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise WaitTimeout(
                    f"waited {timeout:g}s to read topic {topic!r} to its end offsets {ends}; "
                    f"read {len(records)} records, partitions {sorted(pending)} unfinished"
                )
            message = consumer.poll(0.2)
            if message is None:
                continue
            partition, offset, error = message.partition(), message.offset(), message.error()
            assert partition is not None and offset is not None
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"reading {topic!r} failed: {error}")
                if isolation == "read_committed" or offset >= ends[partition]:
                    pending.discard(partition)
                continue
            if offset < ends[partition]:
                records.append(as_record(message))
            if offset + 1 >= ends[partition] and isolation != "read_committed":
                pending.discard(partition)
    return sorted(records, key=lambda record: (record.partition, record.offset))


def as_record(message: Any) -> Record:
    return Record(
        topic=message.topic(), partition=message.partition(), offset=message.offset(),
        key=message.key(), value=message.value(),
        headers=tuple(message.headers() or ()), timestamp=message.timestamp()[1],
    )


def committed_offsets(
    source: Source, group: str, topic: str | None = None, timeout: float = 10.0
) -> dict[tuple[str, int], int]:
    """The offsets ``group`` has committed, as ``{(topic, partition): offset}``; empty for
    a group the broker does not know."""
    admin = AdminClient(client_config(source))
    # Asking a coordinator that is still loading for an unknown group's offsets can crash
    # confluent-kafka 2.16 (a segfault); a group that is not listed has committed nothing.
    known = admin.list_consumer_groups(request_timeout=timeout).result(timeout).valid
    if group not in {listing.group_id for listing in known}:
        return {}
    request = ConsumerGroupTopicPartitions(group)
    result = admin.list_consumer_group_offsets([request], request_timeout=timeout)[group]
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in result.result(timeout).topic_partitions
        if tp.offset >= 0 and (topic is None or tp.topic == topic)
    }


def describe_group(source: Source, group: str, timeout: float = 10.0) -> ConsumerGroupDescription:
    """The broker's description of ``group``: state, protocol, members and assignments."""
    admin = AdminClient(client_config(source))
    description: ConsumerGroupDescription = (
        admin.describe_consumer_groups([group], request_timeout=timeout)[group].result(timeout)
    )
    return description


def group_assignment(source: Source, group: str) -> dict[str, set[tuple[str, int]]]:
    """``{member id: {(topic, partition), ...}}`` as the broker assigned them."""
    return assignment_in(describe_group(source, group))


def assignment_in(description: ConsumerGroupDescription) -> dict[str, set[tuple[str, int]]]:
    """``{member id: {(topic, partition), ...}}`` of a group description already read."""
    return {
        member.member_id: {(tp.topic, tp.partition) for tp in member.assignment.topic_partitions}
        for member in description.members
    }
