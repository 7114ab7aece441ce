"""The instrumentation in a graded run observes every public client class of confluent-kafka,
however the submission imports it, points it at the lab broker, and changes nothing of how
it behaves: proven against the real broker, one import style at a time."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.sandbox import CONSUMER_TEST_SETTINGS, Run, Sandbox
from pytest_kafka_lab.grading.verdicts import require_ran
from pytest_kafka_lab.readers import read_topic
from pytest_kafka_lab.topics import create_topic, delete_topics

# Each produces one record keyed b"k" to TOPIC through localhost:9092 and reads it back.
STYLES = {
    "from confluent_kafka import Producer": """
        from confluent_kafka import Consumer, Producer
        producer = Producer({"bootstrap.servers": "localhost:9092"})
        producer.produce(TOPIC, key=b"k", value=b"plain")
        producer.flush(10)
        consumer = Consumer({"bootstrap.servers": "localhost:9092", "group.id": TOPIC,
                             "auto.offset.reset": "earliest"})
    """,
    "import confluent_kafka as ck": """
        import confluent_kafka as ck
        producer = ck.Producer({"bootstrap.servers": "localhost:9092"})
        producer.produce(TOPIC, b"plain", b"k")
        producer.flush(10)
        consumer = ck.Consumer({"bootstrap.servers": "localhost:9092", "group.id": TOPIC,
                                "auto.offset.reset": "earliest"})
    """,
    "from confluent_kafka.cimpl import Producer": """
        from confluent_kafka.cimpl import Consumer, Producer
        producer = Producer(**{"bootstrap.servers": "localhost:9092"})
        producer.produce(topic=TOPIC, value="plain", key="k")
        producer.flush(10)
        consumer = Consumer({"bootstrap.servers": "localhost:9092", "group.id": TOPIC,
                             "auto.offset.reset": "earliest"})
    """,
    "SerializingProducer and DeserializingConsumer": """
        from confluent_kafka import DeserializingConsumer, SerializingProducer
        from confluent_kafka.serialization import StringDeserializer, StringSerializer
        producer = SerializingProducer({"bootstrap.servers": "localhost:9092",
                                        "key.serializer": StringSerializer(),
                                        "value.serializer": StringSerializer()})
        producer.produce(TOPIC, key="k", value="plain")
        producer.flush(10)
        consumer = DeserializingConsumer({"bootstrap.servers": "localhost:9092",
                                          "group.id": TOPIC, "auto.offset.reset": "earliest",
                                          "value.deserializer": StringDeserializer()})
    """,
}
READ_BACK = """
consumer.subscribe([TOPIC])
message = None
for _ in range(30):
    message = consumer.poll(1.0)
    if message is not None and not message.error():
        break
consumer.close()
print("read", message.value())
"""


def run_script(sandbox: Sandbox, tmp_path: Path, source: str, topic: str) -> Run:
    folder = tmp_path / "submission"
    folder.mkdir(parents=True)
    (folder / "script.py").write_text(f"TOPIC = {topic!r}\n" + textwrap.dedent(source))
    return require_ran(sandbox.start_script(folder, "script.py").finish(60))


@pytest.mark.parametrize("source", STYLES.values(), ids=STYLES.keys())
def test_every_client_class_reaches_the_lab_broker_and_is_observed(
    source: str, lab_sandbox: Sandbox, kafka_broker: KafkaBroker, kafka_topic: str,
    tmp_path: Path,
) -> None:
    run = run_script(lab_sandbox, tmp_path, textwrap.dedent(source) + READ_BACK,
                     kafka_topic)
    assert run.exit_code == 0, run.stderr
    [record] = read_topic(kafka_broker, kafka_topic)
    assert (record.key, record.value) == (b"k", b"plain")
    assert "read" in run.stdout, run.stdout
    assert "plain" in run.stdout, run.stdout
    assert [config["bootstrap.servers"] for config in run.client_configs("producer")] == [
        "localhost:9092"]  # as the student wrote it
    [produced] = run.of("produce")
    assert (produced["topic"], produced["key"], produced["size"]) == (kafka_topic, "k", 5)
    [delivered] = run.of("delivered")
    assert delivered["error"] is None
    assert delivered["offset"] == record.offset
    polled = [event for event in run.of("polled") if "error" not in event]
    assert [(event["topic"], event["offset"]) for event in polled] == [(kafka_topic, 0)]
    assert run.of("close")


def test_admin_client_creates_topics_on_the_lab_broker(
    lab_sandbox: Sandbox, kafka_admin: AdminClient, kafka_unique_name: Callable[[], str],
    tmp_path: Path,
) -> None:
    topic = kafka_unique_name()
    run = run_script(lab_sandbox, tmp_path, """
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": "localhost:9092"})
        for name, future in admin.create_topics([NewTopic(TOPIC, 3, 1)]).items():
            future.result(20)
        print(type(admin).__name__, sorted(admin.list_topics(timeout=10).topics)[:1])
    """, topic)
    try:
        assert run.exit_code == 0, run.stderr
        metadata = kafka_admin.list_topics(topic, timeout=10).topics[topic]
        assert len(metadata.partitions) == 3
        assert run.client_configs("admin") == [{"bootstrap.servers": "localhost:9092"}]
        assert run.stdout.startswith("AdminClient ")
    finally:
        delete_topics(kafka_admin, [topic])


def test_callbacks_are_observed_with_what_they_print_and_behave_as_written(
    lab_sandbox: Sandbox, kafka_admin: AdminClient, kafka_unique_name: Callable[[], str],
    tmp_path: Path,
) -> None:
    """A delivery callback's print and logging output is attributed to it; one that raises
    still raises out of flush(); produce_batch is observed; rebalance callbacks given
    positionally are still called."""
    topic = kafka_unique_name()
    create_topic(kafka_admin, topic, 2)
    run = run_script(lab_sandbox, tmp_path, """
        import logging
        import random
        from confluent_kafka import Consumer, Producer
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
        print("random", random.random())

        def delivered(err, msg):
            print(f"Sent {msg.key().decode()} to partition {msg.partition()}")
            logging.info("offset %s", msg.offset())

        def exploding(err, msg):
            raise ValueError("callback says no")

        producer = Producer({"bootstrap.servers": "localhost:9092"})
        producer.produce(TOPIC, b"v", b"k", 0, delivered)
        producer.flush(10)
        producer.produce(TOPIC, b"v", b"x", 1, on_delivery=exploding)
        try:
            producer.flush(10)
        except ValueError as error:
            print("flush raised", error)
        batch = [{"value": b"b1", "key": b"b", "partition": 1}, {"value": b"b2", "key": b"b",
                  "callback": delivered}]
        print("batched", producer.produce_batch(TOPIC, batch, 0), producer.flush(10))
        consumer = Consumer({"bootstrap.servers": "localhost:9092", "group.id": TOPIC})
        seen = []
        consumer.subscribe([TOPIC], lambda c, parts: seen.append(len(parts)))
        for _ in range(30):
            consumer.poll(0.5)
            if seen:
                break
        consumer.close()
        print("assigned", seen)
    """, topic)
    try:
        assert run.exit_code == 0, run.stderr
        assert "flush raised callback says no" in run.stdout
        assert "assigned [2]" in run.stdout
        assert "batched 2 0" in run.stdout
        first, second, *batched = run.of("delivered")
        assert first["printed"] == "Sent k to partition 0\nINFO offset 0\n"
        assert second["callback_raised"] == "ValueError('callback says no')"
        # produce_batch: every message observed; a message's own callback still runs.
        assert sorted(event.get("printed", "") for event in batched) == [
            "", "Sent b to partition 0\nINFO offset 2\n"]
        assert [event["size"] for event in run.of("produce")] == [1, 1, 2, 2]
        [assigned] = run.of("rebalance", callback="on_assign")
        assert assigned["user_callback"] is True
        assert len(assigned["partitions"]) == 2
        # The same seed in every run: the course's random failures replay.
        again = run_script(lab_sandbox, tmp_path / "again", "import random\n"
                           "print('random', random.random())\n", topic)
        assert run.stdout.splitlines()[0] == again.stdout.splitlines()[0]
    finally:
        delete_topics(kafka_admin, [topic])


def test_consumers_get_the_test_settings_they_leave_unset_and_no_other(
    lab_sandbox: Sandbox, kafka_unique_name: Callable[[], str], tmp_path: Path,
) -> None:
    """The lab's heartbeat interval and metadata refresh go to a consumer that leaves them
    unset, apart from the configuration reported as written; one set by the submission
    stays its own, and the consumer protocol (which refuses a client's heartbeat
    interval) gets none."""
    run = run_script(lab_sandbox, tmp_path, """
        from confluent_kafka import Consumer
        made = [
            Consumer({"bootstrap.servers": "localhost:9092", "group.id": TOPIC}),
            Consumer({"bootstrap.servers": "localhost:9092", "group.id": TOPIC,
                      "heartbeat.interval.ms": 2000}),
            Consumer({"bootstrap.servers": "localhost:9092", "group.id": TOPIC + "-new",
                      "group.protocol": "consumer"}),
        ]
        for consumer in made:
            consumer.close()
        print("made", len(made))
    """, kafka_unique_name())
    assert run.exit_code == 0, run.stderr
    assert "made 3" in run.stdout
    plain, own, modern = run.of("client", client="consumer")
    assert plain["config"] == {"bootstrap.servers": "localhost:9092",
                               "group.id": plain["config"]["group.id"]}  # as written
    assert plain["harness_defaults"] == CONSUMER_TEST_SETTINGS
    but_heartbeat = {name: value for name, value in CONSUMER_TEST_SETTINGS.items()
                     if name != "heartbeat.interval.ms"}
    assert own["config"]["heartbeat.interval.ms"] == 2000
    assert own["harness_defaults"] == but_heartbeat
    assert modern["harness_defaults"] == but_heartbeat


def test_a_consumer_is_seen_waiting_again_once_after_each_message_it_was_handed(
    lab_sandbox: Sandbox, kafka_admin: AdminClient, kafka_unique_name: Callable[[], str],
    tmp_path: Path,
) -> None:
    topic = kafka_unique_name()
    create_topic(kafka_admin, topic, 1)
    run = run_script(lab_sandbox, tmp_path, """
        from confluent_kafka import Consumer, Producer
        producer = Producer({"bootstrap.servers": "localhost:9092"})
        for number in range(3):
            producer.produce(TOPIC, str(number).encode())
        producer.flush(10)
        consumer = Consumer({"bootstrap.servers": "localhost:9092", "group.id": TOPIC,
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([TOPIC])
        handed = 0
        for _ in range(60):
            message = consumer.poll(0.5)
            handed += message is not None
            if handed == 3:
                break
        consumer.poll(0.1)
        consumer.poll(0.1)
        consumer.close()
        print("handed", handed)
    """, topic)
    try:
        assert run.exit_code == 0, run.stderr
        assert "handed 3" in run.stdout
        kinds = [event["kind"] for event in run.events if event["kind"] in ("polled", "waiting")]
        assert kinds == ["polled", "waiting"] * 3
        assert [event["delivered"] for event in run.of("waiting")] == [1, 2, 3]
    finally:
        delete_topics(kafka_admin, [topic])
