"""Poison in a course topic: messages that are not JSON, empty, or far larger than an
order. The reference consumers (exercises 2 and 5) must neither crash nor lose the good
orders around them; exercise 5 sends the poison, byte for byte, to its dead letter queue.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.consumer_evidence import (
    await_quietly,
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

pytestmark = pytest.mark.course_names  # 'orders' and the course's groups, on lab_broker

REFERENCE = Path(__file__).parent.parent / "reference"
POISON = [b"{not json", b"", b"x" * 900_000]
OBSERVE = {"process_order": {"key": "order_id"}}


def produce_poison(broker: KafkaBroker) -> None:
    producer = Producer(broker.client_config(**{"message.max.bytes": 1_000_000}))
    for number, value in enumerate(POISON):
        producer.produce("orders", key=f"CUST-00{number + 1}".encode(), value=value)
    assert producer.flush(30) == 0


def poisoned_run(broker: KafkaBroker, admin: AdminClient, sandbox: Sandbox,
                 folder: Path) -> list[str]:
    """Run the manual-commit consumer of ``folder`` over orders and poison; return what
    breaks the promise: a crash, good orders not processed, messages not committed."""
    reset_course(admin, {"orders": 4})
    good = produce_orders(broker, range(1, 38))
    produce_poison(broker)
    total = len(good) + len(POISON)
    process = sandbox.start_call(folder, "exercise_consumer.py", wrap=OBSERVE)
    await_quietly(process, quiet_after(polled, total), 60, f"all {total} messages polled")
    stop(process)
    run = process.finish(30)
    problems = [f"it raised {raised['error']}" for raised in run.of("raised")]
    unprocessed = set(good) - set(successes(run.events))
    if unprocessed:
        problems.append(f"{len(unprocessed)} good orders were not processed")
    committed = group_offsets(broker, "order-processor", "orders")
    if sum(committed.values()) != total:
        problems.append(f"committed {committed}, not all {total} messages covered")
    return problems


def test_the_manual_commit_consumer_skips_poison_and_loses_nothing(
    lab_broker: KafkaBroker, lab_admin: AdminClient, lab_sandbox: Sandbox,
) -> None:
    problems = poisoned_run(lab_broker, lab_admin, lab_sandbox, REFERENCE)
    assert not problems, "; ".join(problems)


def test_a_consumer_trusting_its_input_is_caught_by_the_same_check(
    lab_broker: KafkaBroker, lab_admin: AdminClient, lab_sandbox: Sandbox, tmp_path: Path,
) -> None:
    """The guarantee switched off: the reference without its guard around ``json.loads``
    crashes on the first poison, and the check says so."""
    reference = (REFERENCE / "exercise_consumer.py").read_text()
    guarded = reference[reference.index("            try:\n                order = json.loads"):
                        reference.index("            consumer.store_offsets(message=msg)")]
    trusting = reference.replace(guarded, "            process_order(json.loads(msg.value()))\n")
    assert trusting != reference
    (tmp_path / "exercise_consumer.py").write_text(trusting)
    problems = poisoned_run(lab_broker, lab_admin, lab_sandbox, tmp_path)
    assert any("raised JSONDecodeError" in problem for problem in problems), problems


def test_the_dead_letter_consumer_sends_poison_to_the_queue_unchanged(
    lab_broker: KafkaBroker, lab_admin: AdminClient, lab_sandbox: Sandbox,
) -> None:
    reset_course(lab_admin, {"orders": 4, "orders-dlq": 1})
    good = produce_orders(lab_broker, range(1, 101 - len(POISON)))
    produce_poison(lab_broker)
    run = lab_sandbox.start_call(REFERENCE, "exercise_dlq.py", wrap=OBSERVE).finish(120)
    assert run.of("returned"), run.summary()
    assert set(successes(run.events)) == set(good), "good orders were not processed"
    dead = sorted(record.value or b"" for record in read_topic(lab_broker, "orders-dlq"))
    assert dead == sorted(POISON), f"the queue holds {[value[:20] for value in dead]}"
