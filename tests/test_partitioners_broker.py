"""librdkafka's partitioners and messages' bytes, against the session's real broker.

The partitioner model (``pytest_kafka_lab.partitioners``) is checked against delivery
reports, the partitions librdkafka really chose; round trips against ``read_topic``, a
fresh consumer's view of the broker. Each property's check is a function returning
problems, and a test next to it shows the check fails when it should: a wrong model, a
partitioner that does not spread, data reordered or altered.

Topics and producers are made once per test and shared by all its examples (hence the
``function_scoped_fixture`` health check is off): each example tells its own messages
apart by its slice of the delivery reports, a tag in the value, or a topic of its own.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_kafka_lab import hypothesis_strategies
from pytest_kafka_lab.hypothesis_profiles import PROFILES
from pytest_kafka_lab.hypothesis_strategies import (
    Message,
    TopicLayout,
    keys,
    messages,
    topic_layouts,
    values,
)
from pytest_kafka_lab.partitioners import predict_partition
from pytest_kafka_lab.readers import Record, read_topic

TopicFactory = Callable[..., str]
ProducerFactory = Callable[..., Any]

PARTITION_COUNTS = (1, 2, 3, 7, 16)
HASHING = ("consistent", "consistent_random", "murmur2", "murmur2_random", "fnv1a",
           "fnv1a_random")
RANDOM_FOR_NULL = ("consistent_random", "murmur2_random", "fnv1a_random")


def on_broker(max_examples: int) -> settings:
    """Settings for a property whose examples make network round trips: ``max_examples``
    under the ``ci`` profile (25 examples), scaled with the profile in effect."""
    scale = settings.default.max_examples / PROFILES["ci"]
    return settings(max_examples=max(1, round(max_examples * scale)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


# --- checks ----------------------------------------------------------------------------


def mispredictions(deliveries: Sequence[Any], partition_count: int, partitioner: str
                   ) -> list[str]:
    """Deliveries whose partition differs from the model's prediction (random ones skip)."""
    problems = []
    for delivery in deliveries:
        predicted = predict_partition(delivery.key, partition_count, partitioner)
        if predicted is not None and predicted != delivery.partition:
            problems.append(f"key {delivery.key!r}: model says partition {predicted} of "
                            f"{partition_count}, librdkafka chose {delivery.partition}")
    return problems


def keys_in_several_partitions(deliveries: Sequence[Any]) -> dict[bytes | None, set[int]]:
    """Each key that was delivered to more than one partition, with those partitions."""
    seen: dict[bytes | None, set[int]] = defaultdict(set)
    for delivery in deliveries:
        seen[delivery.key].add(delivery.partition)
    return {key: partitions for key, partitions in seen.items() if len(partitions) > 1}


def order_problems(sent: Sequence[tuple[bytes, bytes]], records: Sequence[Record]
                   ) -> list[str]:
    """Keys whose values the topic holds in another order than ``sent`` (key, value)."""
    expected: dict[bytes, list[bytes]] = defaultdict(list)
    for key, value in sent:
        expected[key].append(value)
    stored: dict[bytes, list[bytes | None]] = defaultdict(list)
    # read_topic sorts by (partition, offset); one key lives in one partition, so its
    # records are in offset order: the order the broker keeps.
    for record in records:
        assert record.key is not None
        stored[record.key].append(record.value)
    return [f"key {key!r}: sent {values!r}, topic holds {stored[key]!r}"
            for key, values in expected.items() if stored[key] != values]


def round_trip_problems(sent: Sequence[tuple[int, Message]], records: Sequence[Record]
                        ) -> list[str]:
    """Differences between ``sent`` (partition, message) and what each partition holds."""
    expected: dict[int, list[Message]] = defaultdict(list)
    for partition, message in sent:
        expected[partition].append(message)
    stored: dict[int, list[Message]] = defaultdict(list)
    for record in records:
        headers = tuple((name, value) for name, value in record.headers)
        stored[record.partition].append(Message(record.key, record.value, headers))
    problems = []
    for partition in sorted(expected.keys() | stored.keys()):
        want, got = expected[partition], stored[partition]
        if len(want) != len(got):
            problems.append(f"partition {partition}: sent {len(want)}, holds {len(got)}")
        problems += [f"partition {partition} #{i}: sent {w!r}, read {g!r}"
                     for i, (w, g) in enumerate(zip(want, got, strict=False)) if w != g]
    return problems


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def topics_by_count(kafka_topic_factory: TopicFactory) -> dict[int, str]:
    """One topic per partition count in ``PARTITION_COUNTS``, deleted after the test."""
    return {count: kafka_topic_factory(partitions=count) for count in PARTITION_COUNTS}


@pytest.fixture
def producers(kafka_producer_factory: ProducerFactory) -> dict[str, Any]:
    """A recording producer per hashing partitioner, sending at once (no linger)."""
    return {name: kafka_producer_factory(**{"partitioner": name, "linger.ms": 0})
            for name in HASHING}


@pytest.fixture
def idempotent_producer(kafka_producer_factory: ProducerFactory) -> Any:
    """A recording producer with idempotence on: what promises order even across retries,
    and how an application asks for it."""
    return kafka_producer_factory(**{"enable.idempotence": True, "linger.ms": 5})


def produce_and_flush(producer: Any, topic: str, batch: Sequence[bytes | None]) -> list[Any]:
    """Produce keys ``batch`` (empty values) to ``topic``; return their delivery reports."""
    start = len(producer.deliveries)
    for key in batch:
        producer.produce(topic, value=b"", key=key)
    producer.flush()
    delivered = producer.deliveries[start:]
    assert Counter(d.key for d in delivered) == Counter(batch), "deliveries lost or invented"
    return list(delivered)


# --- the model predicts librdkafka ------------------------------------------------------


@on_broker(max_examples=25)
@given(batch=st.lists(keys(max_size=32), min_size=1, max_size=20))
def test_model_predicts_the_partition_librdkafka_chooses(
    topics_by_count: dict[int, str], producers: dict[str, Any], batch: list[bytes | None],
) -> None:
    # Every example goes through every partitioner to every partition count: a model
    # wrong for one pair (say, murmur2 without its sign mask, which only odd counts
    # notice) is caught without waiting for Hypothesis to draw that pair.
    count_of = {topic: count for count, topic in topics_by_count.items()}
    problems = []
    for partitioner, producer in producers.items():
        start = len(producer.deliveries)
        for topic in count_of:
            for key in batch:
                producer.produce(topic, value=b"", key=key)
        producer.flush()
        delivered = producer.deliveries[start:]
        assert len(delivered) == len(batch) * len(count_of), "deliveries lost or invented"
        for topic, count in count_of.items():
            problems += [f"{partitioner}: {problem}" for problem in mispredictions(
                [d for d in delivered if d.topic == topic], count, partitioner)]
    assert not problems, (
        "pytest_kafka_lab.partitioners disagrees with librdkafka:\n  " + "\n  ".join(problems))


def test_a_wrong_model_is_caught(
    kafka_topic_factory: TopicFactory, kafka_producer_factory: ProducerFactory
) -> None:
    """murmur2 predictions for a consistent_random producer: the check must object."""
    topic = kafka_topic_factory(partitions=7)
    producer = kafka_producer_factory(**{"partitioner": "consistent_random", "linger.ms": 0})
    delivered = produce_and_flush(producer, topic, [b"key-%d" % i for i in range(32)])
    assert mispredictions(delivered, 7, "consistent_random") == []
    assert mispredictions(delivered, 7, "murmur2"), "the murmur2 model agreed by chance?"


@on_broker(max_examples=20)
@given(key=st.binary(min_size=1, max_size=32), count=st.sampled_from(PARTITION_COUNTS),
       repeats=st.integers(2, 10))
def test_one_key_lands_in_one_partition(
    topics_by_count: dict[int, str], producers: dict[str, Any],
    key: bytes, count: int, repeats: int,
) -> None:
    # Interleaved with other keys, so a partitioner that merely sticks for a while fails.
    batch = [k for i in range(repeats) for k in (key, b"other-%d" % i)]
    delivered = produce_and_flush(producers["consistent_random"], topics_by_count[count], batch)
    assert keys_in_several_partitions([d for d in delivered if d.key == key]) == {}


def test_one_key_in_one_partition_check_can_fail(
    kafka_topic_factory: TopicFactory, kafka_producer_factory: ProducerFactory
) -> None:
    """The ``random`` partitioner ignores keys: one key goes to several partitions."""
    topic = kafka_topic_factory(partitions=4)
    producer = kafka_producer_factory(**{"partitioner": "random", "linger.ms": 0})
    # All 64 in one of 4 partitions by chance: 4 * 4**-64 = 4**-63, about 2e-38.
    delivered = produce_and_flush(producer, topic, [b"one key"] * 64)
    assert keys_in_several_partitions(delivered)


# With the sticky partitioner off (sticky.partitioning.linger.ms=0) librdkafka draws a
# partition per keyless message. All of them landing in one of n partitions by chance has
# probability n * n**-SPREAD_MESSAGES: 2**-99 (about 1.6e-30) for n = 2, the worst case.
SPREAD_MESSAGES = 100


@on_broker(max_examples=6)
@given(partitioner=st.sampled_from(RANDOM_FOR_NULL), count=st.sampled_from((2, 3, 7)),
       data=st.data())
def test_keyless_messages_spread_over_partitions(
    kafka_producer_factory: ProducerFactory, topics_by_count: dict[int, str],
    partitioner: str, count: int, data: st.DataObject,
) -> None:
    # consistent_random alone treats an empty key as none (the model says so too).
    key = data.draw(st.sampled_from([None, b""] if partitioner == "consistent_random"
                                    else [None]), label="key")
    assert predict_partition(key, count, partitioner) is None
    producer = kafka_producer_factory(**{
        "partitioner": partitioner, "linger.ms": 0, "sticky.partitioning.linger.ms": 0})
    delivered = produce_and_flush(producer, topics_by_count[count], [key] * SPREAD_MESSAGES)
    assert len({d.partition for d in delivered}) > 1, (
        f"{SPREAD_MESSAGES} messages with key {key!r} under {partitioner!r} all went to "
        f"partition {delivered[0].partition} of {count}")


def test_spread_check_can_fail(
    kafka_topic_factory: TopicFactory, kafka_producer_factory: ProducerFactory
) -> None:
    """``consistent`` hashes a null key as empty: every keyless message in partition 0."""
    topic = kafka_topic_factory(partitions=4)
    producer = kafka_producer_factory(**{
        "partitioner": "consistent", "linger.ms": 0, "sticky.partitioning.linger.ms": 0})
    delivered = produce_and_flush(producer, topic, [None] * SPREAD_MESSAGES)
    assert {d.partition for d in delivered} == {0}


# --- what the broker keeps ---------------------------------------------------------------


@on_broker(max_examples=15)
@given(sequence=st.lists(st.binary(min_size=1, max_size=2), min_size=1, max_size=40))
def test_per_key_order_is_kept(
    kafka_broker: Any, topics_by_count: dict[int, str], idempotent_producer: Any,
    sequence: list[bytes],
) -> None:
    # Keys of one or two bytes repeat often; the tag tells this example's records apart.
    topic = topics_by_count[7]
    tag = uuid.uuid4().hex.encode()
    sent = [(key, b"%s:%d" % (tag, i)) for i, key in enumerate(sequence)]
    for key, value in sent:
        idempotent_producer.produce(topic, value=value, key=key)
    idempotent_producer.flush()
    records = [r for r in read_topic(kafka_broker, topic) if (r.value or b"").startswith(tag)]
    assert order_problems(sent, records) == []


def test_order_check_can_fail() -> None:
    sent = [(b"k", b"1"), (b"k", b"2"), (b"j", b"3")]
    swapped = [record_of(0, b"k", b"2"), record_of(0, b"k", b"1"), record_of(1, b"j", b"3")]
    assert order_problems(sent, swapped) == ["key b'k': sent [b'1', b'2'], topic holds "
                                             "[b'2', b'1']"]


@on_broker(max_examples=12)
@given(layout=topic_layouts(max_partitions=4),
       batch=st.lists(st.tuples(st.integers(0, 3), messages(value=values(allow_null=True))),
                      min_size=1, max_size=12))
def test_keys_values_and_headers_round_trip(
    kafka_broker: Any, kafka_topic_factory: TopicFactory, idempotent_producer: Any,
    layout: TopicLayout, batch: list[tuple[int, Message]],
) -> None:
    # A topic per example, so every drawn layout (compression, limits) is exercised.
    # Explicit partitions keep each partition's records in the order they were sent.
    topic = kafka_topic_factory(partitions=layout.partitions, config=layout.config)
    sent = [(slot % layout.partitions, message) for slot, message in batch]
    for partition, message in sent:
        idempotent_producer.produce(topic, partition=partition, **message.produce_kwargs())
    idempotent_producer.flush()
    problems = round_trip_problems(sent, read_topic(kafka_broker, topic))
    assert not problems, f"layout {layout}:\n  " + "\n  ".join(problems)


def test_round_trip_check_can_fail() -> None:
    sent = [(0, Message(b"k", b"v", (("h", b"\x00"), ("h", None))))]
    assert round_trip_problems(sent, [record_of(0, b"k", b"v", [("h", b"\x00")])])
    assert round_trip_problems(sent, [record_of(0, b"k", b"v", [("h", None), ("h", b"\x00")])])
    assert round_trip_problems(sent, [record_of(0, b"", b"v", [("h", b"\x00"), ("h", None)])])
    assert round_trip_problems(sent, [record_of(1, b"k", b"v", [("h", b"\x00"), ("h", None)])])
    assert round_trip_problems(sent, [])
    assert round_trip_problems(sent, [record_of(0, b"k", b"v", [("h", b"\x00"), ("h", None)])]
                               ) == []


def record_of(partition: int, key: bytes | None, value: bytes | None,
              headers: Sequence[tuple[str, bytes | None]] = ()) -> Record:
    """A ``Record`` as ``read_topic`` returns it, for checking the checks; fields beyond
    those the checks read (a timestamp, say) get zero."""
    given_fields: dict[str, Any] = {"topic": "t", "partition": partition, "offset": 0, "key": key,
                    "value": value, "headers": tuple(headers)}
    return Record(**{f.name: given_fields.get(f.name, 0) for f in dataclasses.fields(Record)})


def test_the_strategies_old_module_name_still_imports_and_warns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "pytest_kafka_lab.strategies", raising=False)
    with pytest.deprecated_call(match="pytest_kafka_lab.hypothesis_strategies"):
        old = importlib.import_module("pytest_kafka_lab.strategies")
    assert old.messages is messages
    assert sorted(old.__all__) == sorted(hypothesis_strategies.__all__)
