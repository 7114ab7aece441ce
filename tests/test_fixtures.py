"""Every fixture of the plugin against the session's real broker.

Each test checks broker truth: a fresh ``AdminClient`` made here, or a fresh consumer
through ``pytest_kafka_lab.readers``, never what the fixture under test says of itself.
Fixtures whose promise is about teardown are checked by a "witness" fixture requested
*before* them: pytest tears fixtures down in reverse order, so the witness looks at the
broker after the fixture under test has cleaned up.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupState,
    ConsumerGroupType,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from pytest_kafka_lab import KAFKA_VERSION
from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.backends.local import LocalBroker
from pytest_kafka_lab.clients import DeliveryFailed, RecordingProducer
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.groups import ConsumerGroup
from pytest_kafka_lab.naming import run_prefix, unique_name
from pytest_kafka_lab.readers import (
    committed_offsets,
    describe_group,
    end_offsets,
    group_assignment,
    read_topic,
)
from pytest_kafka_lab.tools import KafkaTools
from pytest_kafka_lab.topics import TopicFactory, create_topic, delete_topics, settle
from pytest_kafka_lab.waiting import WaitTimeout, wait_for

SIX = 6
# librdkafka logs every refused connection straight to stderr unless given a logger.
QUIET = logging.getLogger("tests.quiet-librdkafka")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False


# --- broker truth, independent of the fixtures under test ------------------------------


@pytest.fixture
def fresh_admin(kafka_broker: KafkaBroker) -> AdminClient:
    """An AdminClient made from the bootstrap address alone: the broker's own word."""
    return AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers})


def topics_on(admin: AdminClient) -> set[str]:
    return set(admin.list_topics(timeout=10).topics)


def groups_on(admin: AdminClient) -> set[str]:
    return {group.group_id for group in admin.list_consumer_groups(request_timeout=10)
            .result(10).valid}


def described_config(admin: AdminClient, kind: str, name: str) -> dict[str, str | None]:
    resource = ConfigResource(kind, name)
    entries = admin.describe_configs([resource], request_timeout=10)[resource].result(10)
    return {key: entry.value for key, entry in entries.items()}


def poll_until(consumer: Consumer, done: Callable[[list[Any]], bool], timeout: float = 30.0,
               awaited: str = "the consumer to get its messages") -> list[Any]:
    """Poll ``consumer`` until ``done(messages)``; return the messages polled."""
    messages: list[Any] = []

    def step() -> bool:
        message = consumer.poll(0.2)
        if message is not None and not message.error():
            messages.append(message)
        return done(messages)

    wait_for(step, timeout, awaited, lambda: f"{len(messages)} messages, "
             f"assignment {consumer.assignment()}")
    return messages


@pytest.fixture
def topics_gone_after_test(kafka_broker: KafkaBroker) -> Iterator[list[str]]:
    """Witness: every topic name appended here must be off the broker after teardown."""
    names: list[str] = []
    yield names
    fresh = AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers})
    left = set(names) & topics_on(fresh)
    assert not left, (f"topics {sorted(left)} outlived their test: the topic fixtures must "
                      "delete what they created in teardown")


# --- kafka_broker, kafka_admin, kafka_lab_config ---------------------------------------


def test_kafka_broker_answers_metadata_at_its_bootstrap_address(kafka_broker: KafkaBroker) -> None:
    metadata = AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers}).list_topics(
        timeout=10)
    addresses = [f"{broker.host}:{broker.port}" for broker in metadata.brokers.values()]
    assert addresses == [kafka_broker.bootstrap_servers], (
        f"the broker advertises {addresses}, the fixture says {kafka_broker.bootstrap_servers}")
    assert metadata.cluster_id


def test_kafka_broker_client_config_reaches_the_broker(kafka_broker: KafkaBroker) -> None:
    config = kafka_broker.client_config(**{"client.id": "lab-client-config"})
    assert config["client.id"] == "lab-client-config"
    assert len(AdminClient(config).list_topics(timeout=10).brokers) == 1


def test_local_broker_is_a_child_jvm_of_this_run_from_the_pinned_jars(
    kafka_broker: KafkaBroker, kafka_lab_config: LabConfig, jvms: Any
) -> None:
    if kafka_lab_config.backend != "local":
        pytest.skip(f"the session broker comes from the {kafka_lab_config.backend} backend")
    # Under xdist the controller owns the broker, one level up from this worker.
    owner = os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()
    port = int(kafka_broker.bootstrap_servers.rpartition(":")[2])

    def listens_on_bootstrap(jvm: Any) -> bool:
        return port in {c.laddr.port for c in jvm.net_connections("tcp") if c.status == "LISTEN"}

    # Other brokers of this run (a cluster fixture's, say) may run beside it.
    ours = [jvm for jvm in jvms.under(owner) if listens_on_bootstrap(jvm)]
    assert len(ours) == 1, (f"expected one broker JVM under pytest (pid {owner}) listening on "
                            f"the bootstrap port {port}, found {ours}")
    classpath = ours[0].cmdline()[ours[0].cmdline().index("-cp") + 1]
    assert f"kafka-{KAFKA_VERSION}" in classpath
    # --kafka-jit: quick (the default) stops at the C1 compiler, full does not.
    assert ("-XX:TieredStopAtLevel=1" in ours[0].cmdline()) == (kafka_lab_config.jit == "quick")


def test_a_full_jit_broker_runs_with_c2(kafka_lab_config: LabConfig, jvms: Any) -> None:
    if kafka_lab_config.backend != "local":
        pytest.skip(f"the session broker comes from the {kafka_lab_config.backend} backend")
    with LocalBroker(kafka_lab_config.replace(jit="full", port=0)) as broker:
        [jvm] = [jvm for jvm in jvms.under(os.getpid()) if jvm.pid == broker.pid]
        assert "-XX:TieredStopAtLevel=1" not in jvm.cmdline()
        assert len(AdminClient(broker.client_config()).list_topics(timeout=10).brokers) == 1


def test_kafka_admin_manages_the_session_broker(
    kafka_admin: AdminClient, fresh_admin: AdminClient, kafka_unique_name: Callable[[], str]
) -> None:
    assert kafka_admin.list_topics(timeout=10).cluster_id == fresh_admin.list_topics(
        timeout=10).cluster_id
    name = kafka_unique_name()
    kafka_admin.create_topics([NewTopic(name, 2, 1)])[name].result(10)
    try:
        wait_for(lambda: name in topics_on(fresh_admin), 10, f"{name} on the broker")
        assert len(fresh_admin.list_topics(name, timeout=10).topics[name].partitions) == 2
    finally:
        delete_topics(fresh_admin, [name])


# --- topics --------------------------------------------------------------------------------


def test_topic_factory_applies_partitions_and_topic_config(
    topics_gone_after_test: list[str], kafka_topic_factory: TopicFactory,
    fresh_admin: AdminClient,
) -> None:
    topic = kafka_topic_factory(partitions=3, config={"retention.ms": "123456",
                                                      "cleanup.policy": "compact"})
    topics_gone_after_test.append(topic)
    partitions = fresh_admin.list_topics(topic, timeout=10).topics[topic].partitions
    assert sorted(partitions) == [0, 1, 2]
    assert all(partition.leader >= 0 for partition in partitions.values())
    config = described_config(fresh_admin, "topic", topic)
    assert config["retention.ms"] == "123456"
    assert config["cleanup.policy"] == "compact"


def test_topic_factory_makes_unique_names_unless_one_is_given(
    topics_gone_after_test: list[str], kafka_topic_factory: TopicFactory,
    fresh_admin: AdminClient, kafka_unique_name: Callable[[], str],
) -> None:
    first, second = kafka_topic_factory(), kafka_topic_factory()
    chosen = kafka_unique_name()
    named = kafka_topic_factory(name=chosen)
    topics_gone_after_test.extend([first, second, named])
    assert first != second
    assert first.startswith(run_prefix())
    assert second.startswith(run_prefix())
    assert named == chosen
    assert {first, second, chosen} <= topics_on(fresh_admin)


def answered(codes: list[int], sent: list[int]) -> Callable[[], Future[None]]:
    """An admin request whose answers are the errors ``codes`` in turn, each recorded in
    ``sent`` when the request goes out."""

    def request() -> Future[None]:
        answer: Future[None] = Future()
        sent.append(codes[len(sent)])
        answer.set_exception(KafkaException(KafkaError(sent[-1])))
        return answer

    return request


def test_a_request_lost_with_a_dropped_broker_is_sent_again_and_its_work_counted() -> None:
    """A killed or restarted node's broker handle is dropped with the request it held: the
    request goes out again, and "already exists" then means the lost attempt did it."""
    sent: list[int] = []
    codes = [KafkaError._DESTROY_BROKER, KafkaError._TRANSPORT,
             KafkaError.TOPIC_ALREADY_EXISTS]
    settle(answered(codes, sent), KafkaError.TOPIC_ALREADY_EXISTS, timeout=10)
    assert sent == codes


def test_a_request_that_fails_for_good_fails_at_once() -> None:
    sent: list[int] = []
    with pytest.raises(KafkaException, match="TOPIC_ALREADY_EXISTS"):
        settle(answered([KafkaError.TOPIC_ALREADY_EXISTS], sent),
               KafkaError.TOPIC_ALREADY_EXISTS, timeout=10)
    with pytest.raises(KafkaException, match="INVALID_PARTITIONS"):
        settle(answered([KafkaError._DESTROY_BROKER, KafkaError.INVALID_PARTITIONS], sent),
               KafkaError.TOPIC_ALREADY_EXISTS, timeout=10)


def test_topic_factory_cleanup_deletes_every_topic_it_made(
    kafka_broker: KafkaBroker, fresh_admin: AdminClient
) -> None:
    factory = TopicFactory(AdminClient(kafka_broker.client_config()), "cleanup")
    made = [factory(), factory(partitions=4)]
    assert set(made) <= topics_on(fresh_admin)
    factory.cleanup()
    assert not set(made) & topics_on(fresh_admin)
    assert factory.created == []


def test_kafka_topic_is_a_fresh_one_partition_topic(
    topics_gone_after_test: list[str], kafka_topic: str, fresh_admin: AdminClient
) -> None:
    topics_gone_after_test.append(kafka_topic)
    assert list(fresh_admin.list_topics(kafka_topic, timeout=10).topics[kafka_topic]
                .partitions) == [0]


# --- producers -----------------------------------------------------------------------------


def test_kafka_producer_records_where_the_broker_put_each_message(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory,
    kafka_producer: RecordingProducer,
) -> None:
    topic = kafka_topic_factory(partitions=3)
    reported: list[tuple[int, int]] = []
    for i in range(12):
        kafka_producer.produce(topic, value=f"v{i}".encode(), key=f"k{i}".encode(),
                               partition=i % 3,
                               on_delivery=lambda _e, m: reported.append((m.partition(),
                                                                          m.offset())))
    kafka_producer.flush()
    assert [d.error for d in kafka_producer.deliveries] == [None] * 12
    delivered = {(d.topic, d.partition, d.offset, d.key, d.value)
                 for d in kafka_producer.deliveries}
    stored = {(r.topic, r.partition, r.offset, r.key, r.value)
              for r in read_topic(kafka_broker, topic)}
    assert delivered == stored
    assert sorted(reported) == sorted((d.partition, d.offset) for d in kafka_producer.deliveries)


def test_kafka_producer_factory_makes_independent_recording_producers(
    kafka_broker: KafkaBroker, kafka_topic: str,
    kafka_producer_factory: Callable[..., RecordingProducer],
) -> None:
    plain = kafka_producer_factory()
    compressed = kafka_producer_factory(**{"compression.type": "gzip", "acks": "all"})
    plain.produce(kafka_topic, "text value", key="text key")
    compressed.produce(kafka_topic, b"x" * 5000)
    plain.flush()
    compressed.flush()
    assert [d.value for d in plain.deliveries] == [b"text value"]
    assert [d.value for d in compressed.deliveries] == [b"x" * 5000]
    stored = {(r.offset, r.key, r.value) for r in read_topic(kafka_broker, kafka_topic)}
    assert stored == {(d.offset, d.key, d.value)
                      for d in plain.deliveries + compressed.deliveries}


def test_producer_flush_fails_for_a_partition_that_does_not_exist(
    kafka_broker: KafkaBroker, kafka_topic: str,
    kafka_producer_factory: Callable[..., RecordingProducer],
) -> None:
    producer = kafka_producer_factory(**{"message.timeout.ms": 2000})
    producer.produce(kafka_topic, b"nowhere", partition=7)
    with pytest.raises(DeliveryFailed, match="1 of 1 deliveries failed"):
        producer.flush(10)
    [delivery] = producer.deliveries
    assert delivery.error is not None
    assert delivery.error.code() == KafkaError._UNKNOWN_PARTITION
    assert end_offsets(kafka_broker, kafka_topic) == {0: 0}


def test_producer_flush_fails_for_a_message_the_broker_rejects(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory,
    kafka_producer_factory: Callable[..., RecordingProducer],
) -> None:
    topic = kafka_topic_factory(config={"max.message.bytes": "1024"})
    producer = kafka_producer_factory(**{"message.timeout.ms": 5000})
    producer.produce(topic, b"fits")
    producer.flush()
    producer.produce(topic, b"y" * 8000)
    with pytest.raises(DeliveryFailed, match="1 of 2 deliveries failed"):
        producer.flush(10)
    failed = [d for d in producer.deliveries if d.error is not None]
    assert [d.error.code() for d in failed if d.error] == [KafkaError.MSG_SIZE_TOO_LARGE]
    assert [r.value for r in read_topic(kafka_broker, topic)] == [b"fits"]


def test_producer_flush_fails_while_messages_are_still_queued(
    kafka_producer_factory: Callable[..., RecordingProducer],
) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{probe.getsockname()[1]}"
    producer = kafka_producer_factory(**{"bootstrap.servers": nowhere,
                                         "message.timeout.ms": 1500, "logger": QUIET})
    producer.produce("anything", b"queued")
    with pytest.raises(DeliveryFailed, match=r"1 message\(s\) still undelivered"):
        producer.flush(0.3)


@pytest.fixture
def topic_read_after_teardown(kafka_broker: KafkaBroker) -> Iterator[dict[str, Any]]:
    """Witness: a topic of its own (``["topic"]``) that must hold ``["values"]`` once
    every other fixture of the test is torn down; deleted after that check."""
    admin = AdminClient(kafka_broker.client_config())
    expected: dict[str, Any] = {"topic": create_topic(admin, unique_name("flush-witness"))}
    yield expected
    try:
        stored = [r.value for r in read_topic(kafka_broker, expected["topic"])]
        assert stored == expected["values"], "the producer fixtures must flush in teardown"
    finally:
        delete_topics(admin, [expected["topic"]])


def test_producers_are_flushed_after_the_test(
    topic_read_after_teardown: dict[str, Any],
    kafka_producer_factory: Callable[..., RecordingProducer],
) -> None:
    producer = kafka_producer_factory(**{"linger.ms": 3000})
    producer.produce(topic_read_after_teardown["topic"], b"sent without a flush")
    topic_read_after_teardown["values"] = [b"sent without a flush"]


# --- consumers -----------------------------------------------------------------------------


@pytest.fixture
def consumers_closed_after_test(kafka_broker: KafkaBroker) -> Iterator[list[tuple[Consumer, str]]]:
    """Witness: every ``(consumer, group)`` appended here is closed after teardown and its
    group is gone from the broker."""
    made: list[tuple[Consumer, str]] = []
    yield made
    for consumer, _group in made:
        with pytest.raises(RuntimeError):
            consumer.poll(0)
    left = {group for _consumer, group in made} & groups_on(
        AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers}))
    assert not left, f"groups {left} outlived the test; the consumer factory deletes them"


def test_consumer_factory_consumes_what_was_produced(
    consumers_closed_after_test: list[tuple[Consumer, str]], kafka_broker: KafkaBroker,
    kafka_topic_factory: TopicFactory, kafka_producer: RecordingProducer,
    kafka_consumer_factory: Callable[..., Consumer], kafka_unique_name: Callable[[], str],
) -> None:
    topic = kafka_topic_factory(partitions=2)
    values = [f"m{i}".encode() for i in range(10)]
    for value in values:
        kafka_producer.produce(topic, value)
    kafka_producer.flush()
    group = kafka_unique_name()
    consumer = kafka_consumer_factory(topic, group_id=group)
    consumers_closed_after_test.append((consumer, group))
    messages = poll_until(consumer, lambda got: len(got) >= len(values))
    assert sorted(m.value() for m in messages) == sorted(values)
    description = describe_group(kafka_broker, group)
    assert len(description.members) == 1
    assert description.state == ConsumerGroupState.STABLE


def test_consumer_factory_makes_a_fresh_group_per_consumer(
    consumers_closed_after_test: list[tuple[Consumer, str]], kafka_broker: KafkaBroker,
    kafka_topic: str, kafka_producer: RecordingProducer,
    kafka_consumer_factory: Callable[..., Consumer], fresh_admin: AdminClient,
) -> None:
    kafka_producer.produce(kafka_topic, b"for both")
    kafka_producer.flush()
    before = groups_on(fresh_admin)
    first, second = kafka_consumer_factory(kafka_topic), kafka_consumer_factory(kafka_topic)
    for consumer in (first, second):  # separate groups: each reads the message
        assert [m.value() for m in poll_until(consumer, bool)] == [b"for both"]
    new_groups = groups_on(fresh_admin) - before
    assert len(new_groups) == 2, f"expected two new groups, the broker lists {new_groups}"
    consumers_closed_after_test.extend((c, g) for c, g in zip((first, second),
                                                              sorted(new_groups), strict=True))


# --- readers -------------------------------------------------------------------------------


def test_read_topic_returns_keys_values_headers_partitions_and_offsets(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory,
    kafka_producer: RecordingProducer,
) -> None:
    topic = kafka_topic_factory(partitions=3)
    headers = [("trace", b"first"), ("trace", b"second"), ("blob", bytes([0, 255, 10, 13])),
               ("nothing", None)]
    kafka_producer.produce(topic, value=bytes([0, 1, 254, 255]), key=b"\x00key",
                           headers=headers, partition=1)
    kafka_producer.produce(topic, value=None, key=b"tombstone", partition=1)
    kafka_producer.produce(topic, value=b"zero", partition=0)
    kafka_producer.flush()
    records = read_topic(kafka_broker, topic)
    assert [(r.partition, r.offset, r.key, r.value) for r in records] == [
        (0, 0, None, b"zero"),
        (1, 0, b"\x00key", bytes([0, 1, 254, 255])),
        (1, 1, b"tombstone", None),
    ]
    assert list(records[1].headers) == headers
    assert records[0].headers == ()
    assert all(r.topic == topic and r.timestamp > 0 for r in records)


def test_read_topic_of_an_empty_topic_is_empty_and_of_a_missing_one_an_error(
    kafka_broker: KafkaBroker, kafka_topic: str, kafka_unique_name: Callable[[], str],
) -> None:
    assert read_topic(kafka_broker, kafka_topic, timeout=5) == []
    missing = kafka_unique_name()
    with pytest.raises(LookupError, match=missing):
        read_topic(kafka_broker, missing, timeout=5)
    assert missing not in topics_on(AdminClient(kafka_broker.client_config())), (
        "reading a missing topic must not create it")


def test_read_topic_read_committed_skips_aborted_transactions(
    kafka_broker: KafkaBroker, kafka_topic: str,
    kafka_producer_factory: Callable[..., RecordingProducer],
    kafka_unique_name: Callable[[], str],
) -> None:
    producer = kafka_producer_factory(**{"transactional.id": kafka_unique_name()})
    producer.init_transactions(10)
    producer.begin_transaction()
    producer.produce(kafka_topic, b"committed")
    producer.commit_transaction(10)
    producer.begin_transaction()
    producer.produce(kafka_topic, b"aborted")
    producer.flush()  # on the broker, or the abort would only purge it from the queue
    producer.abort_transaction(10)
    committed = read_topic(kafka_broker, kafka_topic, isolation="read_committed")
    everything = read_topic(kafka_broker, kafka_topic)
    assert [r.value for r in committed] == [b"committed"]
    assert [r.value for r in everything] == [b"committed", b"aborted"]


def test_end_offsets_are_the_high_watermarks(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory,
    kafka_producer: RecordingProducer,
) -> None:
    topic = kafka_topic_factory(partitions=3)
    for partition, count in ((0, 3), (1, 5)):
        for _ in range(count):
            kafka_producer.produce(topic, b"x", partition=partition)
    kafka_producer.flush()
    assert end_offsets(kafka_broker, topic) == {0: 3, 1: 5, 2: 0}


def test_committed_offsets_are_what_the_group_committed(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory,
    kafka_producer: RecordingProducer, kafka_consumer_factory: Callable[..., Consumer],
    kafka_unique_name: Callable[[], str],
) -> None:
    topic = kafka_topic_factory(partitions=2)
    for i in range(10):
        kafka_producer.produce(topic, b"x", partition=i % 2)
    kafka_producer.flush()
    group = kafka_unique_name()
    consumer = kafka_consumer_factory(group_id=group, **{"enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 5)],
                    asynchronous=False)
    assert committed_offsets(kafka_broker, group) == {(topic, 0): 3, (topic, 1): 5}
    assert committed_offsets(kafka_broker, group, topic=topic) == {(topic, 0): 3, (topic, 1): 5}
    assert committed_offsets(kafka_broker, group, topic="another-topic") == {}
    # A second member of the group resumes where the commits say.
    resumed = kafka_consumer_factory(group_id=group, **{"enable.auto.commit": False})
    positions = resumed.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], 10)
    assert {(tp.partition, tp.offset) for tp in positions} == {(0, 3), (1, 5)}
    assert committed_offsets(kafka_broker, kafka_unique_name()) == {}


def test_describe_group_and_group_assignment_show_the_broker_view(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory,
    kafka_consumer_factory: Callable[..., Consumer], kafka_unique_name: Callable[[], str],
) -> None:
    topic = kafka_topic_factory(partitions=2)
    group = kafka_unique_name()
    consumer = kafka_consumer_factory(topic, group_id=group, **{"client.id": "lab-reader"})
    poll_until(consumer, lambda _got: len(consumer.assignment()) == 2,
               awaited="the consumer to be assigned both partitions")
    description = describe_group(kafka_broker, group)
    assert description.group_id == group
    assert description.state == ConsumerGroupState.STABLE
    [member] = description.members
    assert member.client_id == "lab-reader"
    assert group_assignment(kafka_broker, group) == {member.member_id: {(topic, 0), (topic, 1)}}


# --- consumer groups in member processes ---------------------------------------------------


@pytest.fixture
def six_partitions(kafka_topic_factory: TopicFactory) -> tuple[str, frozenset[tuple[str, int]]]:
    topic = kafka_topic_factory(partitions=SIX)
    return topic, frozenset((topic, p) for p in range(SIX))


def broker_shares(broker: KafkaBroker, group: ConsumerGroup) -> list[set[tuple[str, int]]]:
    return sorted(group_assignment(broker, group.group_id).values(), key=len)


def revocations(callbacks: list[tuple[str, frozenset[tuple[str, int]]]]) -> list[frozenset[Any]]:
    return [parts for event, parts in callbacks if event == "revoked" and parts]


def test_group_of_one_member_owns_and_consumes_all_six_partitions(
    kafka_broker: KafkaBroker, six_partitions: tuple[str, frozenset[Any]],
    kafka_group_factory: Callable[..., ConsumerGroup], kafka_producer: RecordingProducer,
) -> None:
    topic, everything = six_partitions
    group = kafka_group_factory(topic)
    group.wait_for_stable(everything, counts=[SIX])
    assert broker_shares(kafka_broker, group) == [set(everything)]
    for i in range(12):
        kafka_producer.produce(topic, b"x", partition=i % SIX)
    kafka_producer.flush()
    [member] = group.members
    wait_for(lambda: len(member.consumed()) >= 12, 30, "12 messages consumed",
             member.consumed)
    assert sorted(member.consumed()) == sorted((d.topic, d.partition, d.offset)
                                               for d in kafka_producer.deliveries)


def test_cooperative_sticky_revokes_only_the_partitions_that_move(
    kafka_broker: KafkaBroker, six_partitions: tuple[str, frozenset[Any]],
    kafka_group_factory: Callable[..., ConsumerGroup],
) -> None:
    topic, everything = six_partitions
    group = kafka_group_factory(topic, strategy="cooperative-sticky")
    group.wait_for_stable(everything, counts=[SIX])
    first = group.members[0]
    second = group.add_member()
    owned = group.wait_for_stable(everything, counts=[3, 3])
    assert [len(s) for s in broker_shares(kafka_broker, group)] == [3, 3]
    revoked = revocations(first.callbacks())
    assert revoked, f"the first member saw no revocation: {first.callbacks()}"
    assert all(len(parts) < SIX for parts in revoked), (
        f"cooperative-sticky revoked everything: {first.callbacks()}")
    assert frozenset().union(*revoked) == owned[second.index]
    assert sum(len(parts) for parts in revoked) == 3


def test_eager_range_revokes_every_partition_on_a_rebalance(
    kafka_broker: KafkaBroker, six_partitions: tuple[str, frozenset[Any]],
    kafka_group_factory: Callable[..., ConsumerGroup],
) -> None:
    topic, everything = six_partitions
    group = kafka_group_factory(topic, strategy="range")
    group.wait_for_stable(everything, counts=[SIX])
    first = group.members[0]
    group.add_member()
    group.wait_for_stable(everything, counts=[3, 3])
    assert [len(s) for s in broker_shares(kafka_broker, group)] == [3, 3]
    assert everything in revocations(first.callbacks()), (
        f"an eager strategy revokes all six partitions: {first.callbacks()}")


def test_a_stopped_member_leaves_and_the_survivor_owns_all(
    kafka_broker: KafkaBroker, six_partitions: tuple[str, frozenset[Any]],
    kafka_group_factory: Callable[..., ConsumerGroup],
) -> None:
    topic, everything = six_partitions
    group = kafka_group_factory(topic, members=2)
    group.wait_for_stable(everything, counts=[3, 3])
    leaving, survivor = group.members[1], group.members[0]
    leaving.stop()
    assert not leaving.alive
    assert leaving.events[-1]["kind"] == "closed"
    owned = group.wait_for_stable(everything, counts=[SIX])
    assert owned == {survivor.index: everything}
    assert broker_shares(kafka_broker, group) == [set(everything)]


def test_a_killed_member_is_replaced_after_the_session_timeout(
    kafka_broker: KafkaBroker, six_partitions: tuple[str, frozenset[Any]],
    kafka_group_factory: Callable[..., ConsumerGroup],
) -> None:
    topic, everything = six_partitions
    group = kafka_group_factory(topic, members=2)
    group.wait_for_stable(everything, counts=[3, 3])
    killed, survivor = group.members[1], group.members[0]
    killed.kill()
    assert killed.process.returncode == -9
    assert "closed" not in [event["kind"] for event in killed.events]
    # It never said goodbye: the broker still counts it until its session times out.
    assert len(describe_group(kafka_broker, group.group_id).members) == 2
    owned = group.wait_for_stable(everything, counts=[SIX], timeout=45)
    assert owned == {survivor.index: everything}
    assert broker_shares(kafka_broker, group) == [set(everything)]


def test_a_group_wait_that_times_out_says_what_members_and_broker_hold(
    kafka_broker: KafkaBroker, six_partitions: tuple[str, frozenset[Any]],
    kafka_group_factory: Callable[..., ConsumerGroup],
) -> None:
    topic, everything = six_partitions
    group = kafka_group_factory(topic, members=2)
    shares = group.wait_for_stable(everything, counts=[3, 3])
    group.members[1].kill()
    # Well within the session timeout: the broker still counts the killed member.
    with pytest.raises(WaitTimeout) as waited:
        group.wait_for_stable(everything, counts=[SIX], timeout=0.5)
    survivor = sorted(partition for _, partition in shares[0])
    message = str(waited.value)
    assert f"member 0 owns {topic}[{','.join(map(str, survivor))}]" in message
    assert "member 1 killed" in message
    assert "the broker: STABLE with 2 members" in message


def test_group_protocol_consumer_shares_partitions_on_the_broker(
    kafka_broker: KafkaBroker, six_partitions: tuple[str, frozenset[Any]],
    kafka_group_factory: Callable[..., ConsumerGroup],
) -> None:
    topic, everything = six_partitions
    group = kafka_group_factory(topic, members=2, protocol="consumer")
    group.wait_for_stable(everything, counts=[3, 3])
    description = describe_group(kafka_broker, group.group_id)
    assert description.type == ConsumerGroupType.CONSUMER
    assert [len(s) for s in broker_shares(kafka_broker, group)] == [3, 3]
    group.members[1].stop()
    group.wait_for_stable(everything, counts=[SIX])
    assert broker_shares(kafka_broker, group) == [set(everything)]


# --- the Kafka tools -----------------------------------------------------------------------


def run_tool(tools: KafkaTools, name: str, *args: str, stdin: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    result = tools.run(name, *args, input=stdin)
    assert result.returncode == 0, f"{name} {' '.join(args)} failed:\n{result.stderr}"
    return result


def test_kafka_topics_lists_a_topic_the_factory_made(
    kafka_tools: KafkaTools, kafka_broker: KafkaBroker, kafka_topic: str
) -> None:
    listed = run_tool(kafka_tools, "kafka-topics", "--list",
                      "--bootstrap-server", kafka_broker.bootstrap_servers)
    assert kafka_topic in listed.stdout.split()


def test_kafka_topics_creates_a_topic_the_broker_shows(
    kafka_tools: KafkaTools, kafka_broker: KafkaBroker, fresh_admin: AdminClient,
    kafka_unique_name: Callable[[], str],
) -> None:
    name = kafka_unique_name()
    try:
        run_tool(kafka_tools, "kafka-topics.sh", "--create", "--topic", name,
                 "--partitions", "2", "--bootstrap-server", kafka_broker.bootstrap_servers)
        wait_for(lambda: name in topics_on(fresh_admin), 10, f"{name} in the metadata")
        assert sorted(fresh_admin.list_topics(name, timeout=10).topics[name].partitions) == [0, 1]
    finally:
        if name in topics_on(fresh_admin):
            delete_topics(fresh_admin, [name])


def test_kafka_console_producer_writes_what_read_topic_sees(
    kafka_tools: KafkaTools, kafka_broker: KafkaBroker, kafka_topic: str
) -> None:
    run_tool(kafka_tools, "kafka-console-producer", "--bootstrap-server",
             kafka_broker.bootstrap_servers, "--topic", kafka_topic,
             "--reader-property", "parse.key=true", "--reader-property", "key.separator=:",
             stdin="k1:first\nk2:second\n")
    assert [(r.key, r.value) for r in read_topic(kafka_broker, kafka_topic)] == [
        (b"k1", b"first"), (b"k2", b"second")]


def test_kafka_tools_name_the_known_tools_for_an_unknown_one(kafka_tools: KafkaTools) -> None:
    with pytest.raises(KeyError, match="kafka-topics"):
        kafka_tools.command("kafka-nonsense")


# --- kafka_unique_name ---------------------------------------------------------------------


@pytest.mark.parametrize("odd", ["with space/slash:colon", "é"])
def test_kafka_unique_name_is_fresh_and_a_legal_topic_and_group_name(
    odd: str, kafka_unique_name: Callable[[], str], fresh_admin: AdminClient,
    kafka_broker: KafkaBroker,
) -> None:
    names = [kafka_unique_name() for _ in range(3)]
    assert len(set(names)) == 3
    assert all(name.startswith(run_prefix()) and "test_kafka_unique_name" in name
               for name in names)
    topic = names[0]
    fresh_admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(10)
    try:
        consumer = Consumer({"bootstrap.servers": kafka_broker.bootstrap_servers,
                             "group.id": names[1], "enable.auto.commit": False})
        consumer.commit(offsets=[TopicPartition(topic, 0, 1)],
                        asynchronous=False)
        consumer.close()
        assert committed_offsets(kafka_broker, names[1]) == {(topic, 0): 1}
    finally:
        delete_topics(fresh_admin, [topic])
        fresh_admin.delete_consumer_groups([names[1]])[names[1]].result(10)
