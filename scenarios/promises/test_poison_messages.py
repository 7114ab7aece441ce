"""Poison in a course topic: messages that are not JSON, empty, or far larger than an
order. The reference consumers (exercises 2 and 5) must neither crash nor lose the good
orders around them; exercise 5 sends the poison, byte for byte, to its dead letter queue.
"""

from __future__ import annotations

from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.consumer_evidence import (
    group_offsets,
    polled,
    produce_orders,
    quiet_after,
    stop,
    successes,
)
from pytest_kafka_lab.grading.course import reset_course
from pytest_kafka_lab.grading.sandbox import Sandbox
from pytest_kafka_lab.readers import read_topic

REFERENCE = Path(__file__).parent.parent / "reference"
POISON = [b"{not json", b"", b"x" * 900_000]
OBSERVE = {"process_order": {"key": "order_id"}}


def produce_poison(broker: KafkaBroker) -> None:
    producer = Producer(broker.client_config(**{"message.max.bytes": 1_000_000}))
    for number, value in enumerate(POISON):
        producer.produce("orders", key=f"CUST-00{number + 1}".encode(), value=value)
    assert producer.flush(30) == 0


def test_the_manual_commit_consumer_skips_poison_and_loses_nothing(
    kafka_broker: KafkaBroker, kafka_admin: AdminClient, lab_sandbox: Sandbox,
) -> None:
    reset_course(kafka_admin, {"orders": 4})
    good = produce_orders(kafka_broker, range(1, 38))
    produce_poison(kafka_broker)
    total = len(good) + len(POISON)
    process = lab_sandbox.start_call(REFERENCE, "exercise_consumer.py", wrap=OBSERVE)
    process.wait_for_event(quiet_after(polled, total), 60, f"all {total} messages polled")
    stop(process)
    run = process.finish(30)
    assert not run.of("raised"), run.of("raised")
    assert set(successes(run.events)) == set(good), "good orders were not processed"
    committed = group_offsets(kafka_broker, "order-processor", "orders")
    assert sum(committed.values()) == total, f"committed {committed}, not all {total} covered"


def test_the_dead_letter_consumer_sends_poison_to_the_queue_unchanged(
    kafka_broker: KafkaBroker, kafka_admin: AdminClient, lab_sandbox: Sandbox,
) -> None:
    reset_course(kafka_admin, {"orders": 4, "orders-dlq": 1})
    good = produce_orders(kafka_broker, range(1, 101 - len(POISON)))
    produce_poison(kafka_broker)
    run = lab_sandbox.start_call(REFERENCE, "exercise_dlq.py", wrap=OBSERVE).finish(120)
    assert run.of("returned"), run.summary()
    assert set(successes(run.events)) == set(good), "good orders were not processed"
    dead = sorted(record.value or b"" for record in read_topic(kafka_broker, "orders-dlq"))
    assert dead == sorted(POISON), f"the queue holds {[value[:20] for value in dead]}"
