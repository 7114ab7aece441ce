"""The grader's recording proxy between real clients and a real broker.

One broker for the module, with a listener ``RUNS`` that advertises the proxy: clients
bootstrap through the proxy and learn from the broker's own answers that it is there.
Each test reads the proxy's log for its own slice (``log.mark()``) and checks it against
broker truth read directly, on the broker's own listener: end offsets, committed
offsets, configs, topics.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import socket
import struct
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
)

from pytest_kafka_lab.backends.base import free_port
from pytest_kafka_lab.backends.local import LocalBroker
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.grading.wire.proxy import BROKER_WIDE, Exchange, WireProxy
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.readers import committed_offsets, end_offsets
from pytest_kafka_lab.tools import KafkaTools
from pytest_kafka_lab.topics import create_topic
from pytest_kafka_lab.waiting import wait_for

pytestmark = pytest.mark.slow

# librdkafka logs every closed connection straight to stderr unless given a logger.
QUIET = logging.getLogger("tests.quiet-librdkafka")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False


@dataclasses.dataclass
class Wire:
    """The module's broker, the proxy in front of its RUNS listener, and a direct admin."""

    broker: LocalBroker
    proxy: WireProxy
    admin: AdminClient

    def topic(self, partitions: int = 1) -> str:
        return create_topic(self.admin, unique_name("wire"), partitions=partitions)

    def through_proxy(self, **settings: Any) -> dict[str, Any]:
        return {"bootstrap.servers": self.proxy.address, "logger": QUIET, **settings}

    def direct(self, **settings: Any) -> dict[str, Any]:
        return {"bootstrap.servers": self.broker.bootstrap_servers, "logger": QUIET,
                **settings}

    def exchanges(self, since: int, api: str | None = None) -> list[Exchange]:
        self.proxy.sync()  # what the clients were answered is in the log
        return self.proxy.log.exchanges(api, since=since)


@pytest.fixture(scope="module")
def wire(kafka_lab_config: LabConfig) -> Iterator[Wire]:
    proxy = WireProxy(refuse=BROKER_WIDE)
    runs_port = free_port()
    broker = LocalBroker(dataclasses.replace(kafka_lab_config, port=0),
                         extra_listeners={"RUNS": (runs_port, proxy.address)})
    broker.start()
    try:
        proxy.upstream = f"127.0.0.1:{runs_port}"
        proxy.start()
        yield Wire(broker, proxy, AdminClient({"bootstrap.servers": broker.bootstrap_servers,
                                               "logger": QUIET}))
    finally:
        proxy.stop()
        broker.stop()


# --- reading the log -----------------------------------------------------------------------


def produced_to(exchanges: list[Exchange], topic: str) -> list[Exchange]:
    return [exchange for exchange in exchanges if exchange.api == "Produce"
            and any(data["name"] == topic for data in exchange.request["topic_data"])]


def batches_of(exchange: Exchange, topic: str) -> list[tuple[int, dict[str, Any]]]:
    """(partition, batch header) of each batch a Produce request carried to ``topic``."""
    return [(partition["index"], batch)
            for data in exchange.request["topic_data"] if data["name"] == topic
            for partition in data["partition_data"] for batch in partition["records"] or ()]


def undecoded(exchanges: list[Exchange]) -> list[str]:
    return [f"{item.api} v{item.version}: {item.error}" for item in exchanges if item.error]


def produce(config: dict[str, Any], topic: str, count: int, size: int = 112,
            keyed: bool = True) -> int:
    """``count`` messages through a producer of ``config``; how many were delivered."""
    delivered = []
    producer = Producer(config)
    for number in range(count):
        producer.produce(topic, bytes(size), key=str(number).encode() if keyed else None,
                         on_delivery=lambda error, _m: delivered.append(error is None))
    assert producer.flush(30) == 0
    return sum(delivered)


def poll_until(consumer: Consumer, done: Callable[[list[Any]], bool],
               each: Callable[[list[Any]], None] = lambda _messages: None,
               timeout: float = 30.0) -> list[Any]:
    messages: list[Any] = []

    def step() -> bool:
        message = consumer.poll(0.2)
        if message is not None and not message.error():
            messages.append(message)
            each(messages)
        return done(messages)

    wait_for(step, timeout, "the consumer to get its messages",
             lambda: f"{len(messages)} messages, assignment {consumer.assignment()}")
    return messages


# --- producers -----------------------------------------------------------------------------


def test_an_idempotent_producer_is_seen_whole_through_the_proxy(wire: Wire) -> None:
    topic = wire.topic(partitions=3)
    since = wire.proxy.log.mark()
    delivered = produce(wire.through_proxy(**{"acks": "all", "enable.idempotence": True,
                                              "linger.ms": 5}), topic, 600)
    exchanges = wire.exchanges(since)

    assert not undecoded(exchanges)
    granted = [item.response for item in exchanges if item.api == "InitProducerId"
               and item.response and item.response["error_code"] == 0]
    assert len(granted) == 1, [item.response for item in exchanges
                               if item.api == "InitProducerId"]
    producer_id = granted[0]["producer_id"]
    assert producer_id >= 0

    produces = produced_to(exchanges, topic)
    assert produces
    assert {item.request["acks"] for item in produces} == {-1}
    batches = [pair for item in produces for pair in batches_of(item, topic)]
    assert {batch["producer_id"] for _, batch in batches} == {producer_id}
    by_partition: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for partition, batch in batches:
        by_partition[partition].append(batch)
    for partition, sent in by_partition.items():
        sequences = [(batch["base_sequence"], batch["record_count"]) for batch in sent]
        expected = 0
        for base_sequence, count in sorted(sequences):
            assert base_sequence == expected, f"partition {partition}: {sequences}"
            expected += count
    seen = sum(batch["record_count"] for _, batch in batches)
    assert seen == delivered == 600
    assert all(item.response is not None and all(
        partition["error_code"] == 0 for topic_response in item.response["responses"]
        for partition in topic_response["partition_responses"]) for item in produces)

    # Nothing went around the proxy: the broker holds exactly what the log shows, every
    # Metadata answer through the proxy names the proxy, and each Produce came on one of
    # the proxy's client connections.
    assert sum(end_offsets(wire.direct(), topic).values()) == seen
    advertised = {(broker["host"], broker["port"]) for item in exchanges
                  if item.api == "Metadata" and item.response
                  for broker in item.response["brokers"]}
    assert advertised == {("127.0.0.1", wire.proxy.listen_port)}
    connections = wire.proxy.log.connections()
    assert all(item.connection in connections and item.peer == connections[item.connection]
               and item.peer[0] == "127.0.0.1" for item in produces)


@pytest.mark.parametrize("acks", [0, 1])
def test_acks_as_the_producer_sent_them(wire: Wire, acks: int) -> None:
    topic = wire.topic()
    since = wire.proxy.log.mark()
    # Frequent metadata refreshes: answered requests follow the Produce requests on their
    # connection while the producer lives.
    producer = Producer(wire.through_proxy(**{
        "acks": acks, "enable.idempotence": False, "linger.ms": 5,
        "topic.metadata.refresh.interval.ms": 100}))
    for number in range(200):
        producer.produce(topic, bytes(112), key=str(number).encode())
    assert producer.flush(30) == 0
    wait_for(lambda: sum(end_offsets(wire.direct(), topic).values()) == 200, 10,
             "the messages to be on the broker")

    produces = produced_to(wire.exchanges(since), topic)
    assert produces
    assert {item.request["acks"] for item in produces} == {acks}
    assert sum(batch["record_count"] for item in produces
               for _, batch in batches_of(item, topic)) == 200
    if acks == 1:
        assert all(item.response is not None and item.expects_response for item in produces)
        return
    assert all(item.response is None and not item.expects_response for item in produces)
    # The next answers on those connections still find their requests.
    connections = {item.connection for item in produces}
    last = max(item.sent for item in produces)

    def answered_after() -> list[Exchange]:
        producer.poll(0.05)
        return [item for item in wire.exchanges(since) if item.connection in connections
                and item.sent > last and item.response is not None]

    later = wait_for(answered_after, 10, "an answered request after the acks=0 Produce "
                     "requests on their connection")
    assert not undecoded(later)
    assert all(item.api == "Metadata" and "brokers" in item.response for item in later), [
        (item.api, item.response) for item in later]


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_each_batch_carries_the_codec_it_was_sent_with(wire: Wire, codec: str) -> None:
    topic = wire.topic()
    since = wire.proxy.log.mark()
    config = wire.through_proxy(**{"compression.type": codec, "linger.ms": 20})
    assert produce(config, topic, 100) == 100
    requests = produced_to(wire.exchanges(since), topic)
    batches = [batch for item in requests for _, batch in batches_of(item, topic)]
    assert batches
    assert {batch["compression"] for batch in batches} == {codec}
    # A request the broker answered without error: on a loaded machine librdkafka may
    # send a batch again after a request timed out, and the first copy then has no answer.
    answered = [batch for item in requests if item.response is not None
                and all(partition["error_code"] == 0 for response in item.response["responses"]
                        for partition in response["partition_responses"])
                for _, batch in batches_of(item, topic)]
    assert sum(batch["record_count"] for batch in answered) == 100
    if codec != "none":  # 100 zeroed values of 112 bytes shrink to far less
        assert sum(batch["size_in_bytes"] for batch in batches) < 100 * 112


# --- consumers -----------------------------------------------------------------------------


def test_a_classic_cooperative_group_commits_what_the_broker_keeps(wire: Wire) -> None:
    topic, group = wire.topic(partitions=2), unique_name("wire-group")
    assert produce(wire.direct(), topic, 60) == 60
    since = wire.proxy.log.mark()
    consumer = Consumer(wire.through_proxy(**{
        "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False,
        "partition.assignment.strategy": "cooperative-sticky"}))
    consumed: dict[int, set[int]] = defaultdict(set)

    def commit_every_ten(messages: list[Any]) -> None:
        consumed[messages[-1].partition()].add(messages[-1].offset())
        if len(messages) % 10 == 0:
            consumer.commit(asynchronous=False)

    try:
        consumer.subscribe([topic])
        poll_until(consumer, lambda messages: len(messages) == 60, commit_every_ten)
        assigned = sorted(tp.partition for tp in consumer.assignment())
    finally:
        consumer.close()
    exchanges = wire.exchanges(since)
    assert not undecoded(exchanges)

    joins = [item for item in exchanges if item.api == "JoinGroup"
             and item.request["group_id"] == group]
    assert joins
    assert all(item.request["protocol_type"] == "consumer" for item in joins)
    assert all("cooperative-sticky" in [p["name"] for p in item.request["protocols"]]
               for item in joins)
    joined = [item.response for item in joins if item.response
              and item.response["error_code"] == 0]
    assert joined
    assert joined[-1]["protocol_name"] == "cooperative-sticky"
    member, generation = joined[-1]["member_id"], joined[-1]["generation_id"]
    syncs = [item for item in exchanges if item.api == "SyncGroup"
             and item.response and item.response["error_code"] == 0]
    assert syncs[-1].response["assignment"]["assigned_partitions"] == {topic: assigned}
    assert assigned == [0, 1]
    # The leader (this one member) sent the assignments it computed.
    assert syncs[-1].request["assignments"][0]["member_id"] == member

    commits = [item for item in exchanges if item.api == "OffsetCommit"]
    assert len(commits) >= 6
    last: dict[int, int] = {}
    for item in commits:
        assert item.request["group_id"] == group
        assert item.request["member_id"] == member
        assert item.request["generation_id_or_member_epoch"] == generation
        assert item.response is not None
        for data in item.request["topics"]:
            assert data["name"] == topic
            for partition in data["partitions"]:
                last[partition["partition_index"]] = partition["committed_offset"]
        assert all(partition["error_code"] == 0 for data in item.response["topics"]
                   for partition in data["partitions"])
    broker_says = {partition: offset for (_, partition), offset
                   in committed_offsets(wire.direct(), group, topic).items()}
    assert last == broker_says == {p: max(offsets) + 1 for p, offsets in consumed.items()}

    fetched: dict[int, set[int]] = defaultdict(set)
    for item in exchanges:
        if item.api != "Fetch" or not item.response:
            continue
        for data in item.response["responses"]:
            if data["topic"] != topic:
                continue
            for partition in data["partitions"]:
                assert partition["error_code"] == 0
                for batch in partition["records"] or ():
                    fetched[partition["partition_index"]].update(range(
                        batch["base_offset"], batch["base_offset"] + batch["last_offset_delta"]
                        + 1))
    assert all(offsets <= fetched[partition] for partition, offsets in consumed.items())


def test_a_kip_848_consumer_heartbeats_its_subscription_and_assignment(wire: Wire) -> None:
    topic, group = wire.topic(partitions=2), unique_name("wire-848")
    assert produce(wire.direct(), topic, 10) == 10
    since = wire.proxy.log.mark()
    consumer = Consumer(wire.through_proxy(**{
        "group.id": group, "group.protocol": "consumer", "auto.offset.reset": "earliest"}))
    try:
        consumer.subscribe([topic])
        poll_until(consumer, lambda messages: len(messages) == 10)
    finally:
        consumer.close()
    exchanges = wire.exchanges(since, "ConsumerGroupHeartbeat")
    assert not undecoded(exchanges)
    assert all(item.request["group_id"] == group for item in exchanges)
    assert [topic] in [item.request["subscribed_topic_names"] for item in exchanges]
    answered = [item.response for item in exchanges if item.response
                and item.response["error_code"] == 0]
    assert answered
    assert all(response["member_id"] for response in answered)
    assert max(response["member_epoch"] for response in answered) > 0
    topic_ids = {name: topic_id for topic_id, name in wire.proxy.log.topic_names().items()}
    given = [partitions for response in answered if response["assignment"]
             for partitions in response["assignment"]["topic_partitions"]]
    assert any(assigned["topic_id"] == topic_ids[topic]
               and sorted(assigned["partitions"]) == [0, 1] for assigned in given), given
    # The member leaves with epoch -1.
    assert exchanges[-1].request["member_epoch"] == -1


def test_a_fetch_cut_short_ends_in_a_partial_batch_that_is_left_out(wire: Wire) -> None:
    topic = wire.topic()
    producer = Producer(wire.direct(**{"linger.ms": 0}))
    for number in range(12):  # a batch each, of about 1 KB
        producer.produce(topic, bytes([number]) * 1000)
        producer.flush(10)
    since = wire.proxy.log.mark()
    # The broker cuts each fetch at 2.5 KB: two whole batches and the start of a third.
    consumer = Consumer(wire.through_proxy(**{
        "group.id": unique_name("wire-fetch"), "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "max.partition.fetch.bytes": 2500,
        "fetch.max.bytes": 2500, "message.max.bytes": 2000}))
    try:
        consumer.subscribe([topic])
        messages = poll_until(consumer, lambda messages: len(messages) == 12)
    finally:
        consumer.close()
    assert [message.value()[0] for message in messages] == list(range(12))
    parts = [partition for item in wire.exchanges(since, "Fetch") if item.response
             for data in item.response["responses"] if data["topic"] == topic
             for partition in data["partitions"] if partition["records"]]
    assert not undecoded(wire.exchanges(since, "Fetch"))
    cut = [part for part in parts
           if part["records_size"] > sum(batch["size_in_bytes"] for batch in part["records"])]
    assert cut, [(part["records_size"], part["records"]) for part in parts]
    assert all(part["records_size"] <= 2500 for part in parts)
    seen = sorted(batch["base_offset"] for part in parts for batch in part["records"])
    assert set(seen) == set(range(12))
    assert all(batch["record_count"] == 1 and batch["last_offset_delta"] == 0
               for part in parts for batch in part["records"])


# --- transactions --------------------------------------------------------------------------


def test_a_transaction_with_the_consumers_offsets_is_seen_step_by_step(wire: Wire) -> None:
    source, sink = wire.topic(), wire.topic()
    group, transactional_id = unique_name("wire-txn-group"), unique_name("wire-txn")
    assert produce(wire.direct(), source, 5) == 5
    since = wire.proxy.log.mark()
    consumer = Consumer(wire.through_proxy(**{
        "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    producer = Producer(wire.through_proxy(**{"transactional.id": transactional_id}))
    try:
        consumer.subscribe([source])
        messages = poll_until(consumer, lambda messages: len(messages) == 5)
        producer.init_transactions(30)
        producer.begin_transaction()
        for message in messages:
            producer.produce(sink, message.value(), key=message.key())
        offsets = [TopicPartition(source, 0, messages[-1].offset() + 1)]
        producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 30)
        producer.commit_transaction(30)
        member = consumer.memberid()
    finally:
        consumer.close()
    exchanges = wire.exchanges(since)
    assert not undecoded(exchanges)

    init = [item for item in exchanges if item.api == "InitProducerId"
            and item.response and item.response["error_code"] == 0]
    assert [item.request["transactional_id"] for item in init] == [transactional_id]
    producer_id = init[0].response["producer_id"]

    added = [item.request for item in exchanges if item.api == "AddPartitionsToTxn"]
    assert added
    assert all(request["v3_and_below_transactional_id"] == transactional_id
               and request["v3_and_below_producer_id"] == producer_id for request in added)
    assert {(data["name"], tuple(data["partitions"])) for request in added
            for data in request["v3_and_below_topics"]} == {(sink, (0,))}
    batches = [batch for item in produced_to(exchanges, sink)
               for _, batch in batches_of(item, sink)]
    assert batches
    assert all(batch["transactional"] and batch["producer_id"] == producer_id
               for batch in batches)
    assert all(item.request["transactional_id"] == transactional_id
               for item in produced_to(exchanges, sink))

    [offsets_added] = [item for item in exchanges if item.api == "AddOffsetsToTxn"]
    assert offsets_added.request["group_id"] == group
    assert offsets_added.request["transactional_id"] == transactional_id
    [committed] = [item for item in exchanges if item.api == "TxnOffsetCommit"]
    request = committed.request
    assert (request["transactional_id"], request["group_id"], request["member_id"]) == (
        transactional_id, group, member)
    assert request["generation_id_or_member_epoch"] >= 1
    assert [(data["name"], partition["partition_index"], partition["committed_offset"])
            for data in request["topics"] for partition in data["partitions"]] == [
        (source, 0, 5)]
    [ended] = [item for item in exchanges if item.api == "EndTxn"]
    assert ended.request["committed"] is True
    assert ended.request["producer_id"] == producer_id
    assert ended.response is not None
    assert ended.response["error_code"] == 0
    # The coordinator writes the commit's markers after answering EndTxn.
    wait_for(lambda: committed_offsets(wire.direct(), group, source) == {(source, 0): 5}, 10,
             "the transaction's offsets to be committed",
             lambda: committed_offsets(wire.direct(), group, source))


# --- Kafka's own tools, refusals, garbage -------------------------------------------------


def test_the_java_tool_through_the_proxy_speaks_flexible_versions(wire: Wire) -> None:
    assert wire.broker.distribution is not None
    name = unique_name("wire-java")
    since = wire.proxy.log.mark()
    tools = KafkaTools(wire.broker.distribution, wire.proxy.address)
    made = tools.run("kafka-topics", "--bootstrap-server", wire.proxy.address, "--create",
                     "--topic", name, "--partitions", "3", "--replication-factor", "1")
    assert made.returncode == 0, made.stderr
    exchanges = wire.exchanges(since)
    assert not undecoded(exchanges)
    [created] = [item for item in exchanges if item.api == "CreateTopics"]
    assert created.version == 7  # Kafka 4.4's newest, with a flexible header
    assert [(topic["name"], topic["num_partitions"]) for topic in created.request["topics"]] \
        == [(name, 3)]
    assert created.response is not None
    [result] = created.response["topics"]
    assert (result["name"], result["error_code"]) == (name, 0)
    assert wire.proxy.log.topic_names()[result["topic_id"]] == name
    described = wire.admin.list_topics(name, timeout=10).topics[name]
    assert len(described.partitions) == 3


def test_the_java_clients_newest_versions_decode(wire: Wire) -> None:
    """Kafka 4.4's own clients use each API's newest version: topic ids in Produce (v13),
    Fetch (v18) and a KIP-848 member's OffsetCommit (v10), flexible everything."""
    assert wire.broker.distribution is not None
    topic = wire.topic(partitions=2)
    classic, kip_848 = unique_name("wire-java-classic"), unique_name("wire-java-848")
    tools = KafkaTools(wire.broker.distribution, wire.proxy.address)
    since = wire.proxy.log.mark()
    produced = tools.run("kafka-console-producer", "--bootstrap-server", wire.proxy.address,
                         "--topic", topic, "--command-property", "parse.key=true",
                         "--command-property", "key.separator=:",
                         input="".join(f"k{number}:v{number}\n" for number in range(20)))
    assert produced.returncode == 0, produced.stderr
    for group, protocol in ((classic, "classic"), (kip_848, "consumer")):
        consumed = tools.run("kafka-console-consumer", "--bootstrap-server",
                             wire.proxy.address, "--topic", topic, "--group", group,
                             "--from-beginning", "--max-messages", "20",
                             "--command-property", f"group.protocol={protocol}")
        assert consumed.returncode == 0, consumed.stderr
        assert len(consumed.stdout.splitlines()) == 20
    exchanges = wire.exchanges(since)
    assert not undecoded(exchanges)
    versions = {(item.api, item.version) for item in exchanges}
    assert {("Produce", 13), ("Fetch", 18), ("OffsetCommit", 10), ("JoinGroup", 9),
            ("SyncGroup", 5), ("ConsumerGroupHeartbeat", 1), ("ApiVersions", 5)} <= versions

    produces = produced_to(exchanges, topic)  # names found from the topic ids
    assert produces
    assert all(item.version == 13 for item in produces)
    assert sum(batch["record_count"] for item in produces
               for _, batch in batches_of(item, topic)) == 20
    fetched = [batch for item in exchanges if item.api == "Fetch" and item.response
               for data in item.response["responses"] if data["topic"] == topic
               for partition in data["partitions"] for batch in partition["records"] or ()]
    assert sum(batch["record_count"] for batch in fetched) == 40  # two groups, 20 each

    ends = end_offsets(wire.direct(), topic)
    for group in (classic, kip_848):
        committed: dict[int, int] = {}
        for item in exchanges:
            if item.api == "OffsetCommit" and item.request["group_id"] == group:
                for data in item.request["topics"]:
                    assert data["name"] == topic
                    committed.update((partition["partition_index"], partition["committed_offset"])
                                     for partition in data["partitions"])
        assert committed == ends, group
    heartbeats = [item for item in exchanges if item.api == "ConsumerGroupHeartbeat"]
    assert {item.request["group_id"] for item in heartbeats} == {kip_848}
    assert [topic] in [item.request["subscribed_topic_names"] for item in heartbeats]
    joins = [item for item in exchanges if item.api == "JoinGroup" and item.response
             and item.response["error_code"] == 0]
    assert {item.request["group_id"] for item in joins} == {classic}
    assert joins[-1].response["protocol_name"] == "range"


def test_a_broker_wide_change_is_refused_and_never_reaches_the_broker(wire: Wire) -> None:
    since = wire.proxy.log.mark()
    resource = ConfigResource("BROKER", "1", incremental_configs=[ConfigEntry(
        "message.max.bytes", "2000000", incremental_operation=AlterConfigOpType.SET)])
    admin = AdminClient(wire.through_proxy())
    future = admin.incremental_alter_configs([resource], request_timeout=5)[resource]
    with pytest.raises(KafkaException):
        future.result(15)
    exchanges = wire.exchanges(since, "IncrementalAlterConfigs")
    assert exchanges
    assert all(item.refused and item.response is None for item in exchanges)
    [asked] = exchanges[0].request["resources"]
    assert asked["resource_name"] == "1"
    assert [(config["name"], config["value"]) for config in asked["configs"]] == [
        ("message.max.bytes", "2000000")]
    assert exchanges[0].connection in wire.proxy.log.closed()

    direct = ConfigResource("BROKER", "1")
    entries = wire.admin.describe_configs([direct], request_timeout=10)[direct].result(10)
    assert entries["message.max.bytes"].value == "1048588"


def test_garbage_is_recorded_with_an_error_and_the_proxy_serves_on(wire: Wire) -> None:
    since = wire.proxy.log.mark()
    garbage = random.Random(20260601).randbytes(64)
    with socket.create_connection(("127.0.0.1", wire.proxy.listen_port), timeout=10) as raw:
        raw.sendall(struct.pack(">i", len(garbage)) + garbage)
        wire.proxy.log.wait_for(lambda found: bool(found), since=since)
    with socket.create_connection(("127.0.0.1", wire.proxy.listen_port), timeout=10) as raw:
        raw.sendall(struct.pack(">i", -5) + bytes(16))
        wire.proxy.log.wait_for(lambda found: len(found) >= 2, since=since)
    first, second = wire.exchanges(since)[:2]
    assert first.error
    assert first.response is None
    assert second.api == "?"
    assert second.error
    assert "-5" in second.error
    assert first.connection != second.connection

    topic = wire.topic()
    assert produce(wire.through_proxy(), topic, 5) == 5
    produces = produced_to(wire.exchanges(since), topic)
    assert sum(batch["record_count"] for item in produces
               for _, batch in batches_of(item, topic)) == 5


def test_a_stopped_proxy_closes_its_clients_and_its_port(wire: Wire) -> None:
    proxy = WireProxy(upstream=wire.broker.bootstrap_servers)
    with proxy, socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5) as raw:
        wait_for(lambda: bool(proxy.log.connections()), 5, "the proxy to accept")
        proxy.stop()
        raw.settimeout(5)
        assert raw.recv(1) == b""  # closed by the proxy
    with pytest.raises(ConnectionRefusedError), socket.create_connection(
            ("127.0.0.1", proxy.listen_port), timeout=2):
        pass


# --- a proxy that advertises itself (the grader's: one per run, before any broker) --------


@pytest.mark.parametrize("advertise", [True, False])
def test_an_advertising_proxy_keeps_every_client_behind_it(
    wire: Wire, advertise: bool
) -> None:
    """With ``advertise``, the broker's own address (its PLAINTEXT listener, which names
    itself) never reaches the clients: their produce requests and group commits come
    through the proxy. Without it (the control), the clients learn the broker's address
    and go there: the proxy sees their bootstrap and nothing of their work."""
    topic = wire.topic(partitions=2)
    group = unique_name("wire-advertised")
    with WireProxy(wire.broker.bootstrap_servers, advertise=advertise) as proxy:
        config = {"bootstrap.servers": proxy.address, "logger": QUIET}
        assert produce({**config, "enable.idempotence": True}, topic, 20) == 20
        consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest",
                             "enable.auto.commit": False})
        try:
            consumer.subscribe([topic])
            poll_until(consumer, lambda messages: len(messages) >= 20)
            consumer.commit(asynchronous=False)
        finally:
            consumer.close()
        proxy.sync()
        seen = {exchange.api for exchange in proxy.log.exchanges()}
        committed = proxy.log.exchanges("OffsetCommit")
    assert "Metadata" in seen
    if advertise:
        assert {"Produce", "Fetch", "JoinGroup"} <= seen
        assert committed
        assert committed[-1].request["group_id"] == group
    else:
        assert not {"Produce", "Fetch", "OffsetCommit"} & seen
