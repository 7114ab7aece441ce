"""Exercise 1, producer basics: 100 orders keyed by customer, durable, flushed, counted.

One run of ``python exercise_producer.py`` against a fresh ``orders`` topic (4
partitions); every check reads the topic as the broker holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.course import reset_course
from pytest_kafka_lab.grading.evidence import (
    count_by_partition,
    duplicates,
    json_values,
    listing,
    partitions_by,
    printed_partition_counts,
)
from pytest_kafka_lab.grading.plugin import require_exercise, require_ran
from pytest_kafka_lab.grading.sandbox import Run, Sandbox
from pytest_kafka_lab.partitioners import predict_partition
from pytest_kafka_lab.readers import Record, read_topic

pytestmark = pytest.mark.exercise("ex1", "producer basics")

EXPECTED_IDS = [f"ORD-{number:05d}" for number in range(1, 101)]
CUSTOMERS = {f"CUST-{number:03d}" for number in range(1, 6)}
ORDERS_PARTITIONS = 4


@dataclass(frozen=True)
class Evidence:
    run: Run
    records: list[Record]


@pytest.fixture(scope="module")
def ex1(
    lab_submission: Path, lab_sandbox: Sandbox, lab_timeout: float, kafka_broker: KafkaBroker,
    kafka_admin: AdminClient,
) -> Evidence:
    require_exercise(lab_submission, "ex1")
    reset_course(kafka_admin, {"orders": ORDERS_PARTITIONS})
    run = require_ran(
        lab_sandbox.start_script(lab_submission, "exercise_producer.py").finish(lab_timeout))
    return Evidence(run, read_topic(kafka_broker, "orders"))


def order_ids(evidence: Evidence) -> list[str]:
    return [str(value.get("order_id")) for value in json_values(evidence.records) if value]


def test_all_100_orders_arrive_exactly_once(ex1: Evidence) -> None:
    ids = order_ids(ex1)
    missing = sorted(set(EXPECTED_IDS) - set(ids))
    doubled = duplicates(ids)
    assert not missing and not doubled and len(ex1.records) == 100, (
        f"expected orders ORD-00001..ORD-00100 once each in 'orders'; the broker holds "
        f"{len(ex1.records)} messages"
        + (f", missing {listing(missing)}" if missing else "")
        + (f", duplicated {listing(doubled)}" if doubled else "")
        + f". {ex1.run.summary()}."
    )


def test_orders_are_json_with_the_course_fields(ex1: Evidence) -> None:
    assert ex1.records, f"the topic 'orders' is empty. {ex1.run.summary()}."
    problems = []
    for record, value in zip(ex1.records, json_values(ex1.records), strict=True):
        if value is None:
            problems.append(f"offset {record.offset} of partition {record.partition} is not a "
                            "JSON object")
            continue
        if not re.fullmatch(r"ORD-\d{5}", str(value.get("order_id"))):
            problems.append(f"order_id {value.get('order_id')!r} is not ORD-<5 digits>")
        if value.get("customer_id") not in CUSTOMERS:
            problems.append(f"customer_id {value.get('customer_id')!r} is not CUST-001..005")
        if value.get("quantity") not in range(1, 6):
            problems.append(f"quantity {value.get('quantity')!r} is not 1-5")
        if not isinstance(value.get("price"), float):
            problems.append(f"price {value.get('price')!r} is not a float")
        if "product" not in value:
            problems.append(f"order {value.get('order_id')} has no product")
    assert not problems, f"orders do not follow the course's format: {listing(problems, 5)}"


def test_each_order_is_keyed_by_its_customer_id(ex1: Evidence) -> None:
    assert ex1.records, f"the topic 'orders' is empty. {ex1.run.summary()}."
    unkeyed = [r for r in ex1.records if r.key is None]
    assert not unkeyed, (
        f"{len(unkeyed)} of {len(ex1.records)} orders were sent without a key: pass "
        "key=order['customer_id'] to produce(), so that a customer's orders stay in order")
    wrong = [(value or {}).get("order_id") for record, value
             in zip(ex1.records, json_values(ex1.records), strict=True)
             if value is None or record.key != str(value.get("customer_id")).encode()]
    assert not wrong, (
        f"orders {listing(wrong)} carry a key other than their customer id (e.g. "
        f"{ex1.records[0].key!r}): key each order by its customer_id, UTF-8 encoded")


def test_orders_of_one_customer_share_one_partition(ex1: Evidence) -> None:
    spread = {customer: parts for customer, parts in partitions_by(ex1.records, "customer_id")
              .items() if len(parts) > 1}
    assert ex1.records, f"the topic 'orders' is empty. {ex1.run.summary()}."
    assert not spread, "; ".join(
        f"orders of {customer} landed in partitions {' and '.join(map(str, sorted(parts)))} "
        f"(keyed by {customer}, the default partitioner puts them all in partition "
        f"{predict_partition(customer.encode(), ORDERS_PARTITIONS)})"
        for customer, parts in sorted(spread.items())
    ) + ": key each order by its customer id, and let the default partitioner choose"


def test_producer_is_configured_for_durability(ex1: Evidence) -> None:
    configs = ex1.run.client_configs("producer")
    assert configs, f"no confluent_kafka Producer was created. {ex1.run.summary()}."
    for config in configs:
        # librdkafka's default acks is all; idempotence is off unless asked for.
        acks = str(config.get("acks", config.get("request.required.acks", "all")))
        idempotence = str(config.get("enable.idempotence", "false")).lower()
        assert acks in ("all", "-1") and idempotence in ("true", "1"), (
            f"the producer was configured with acks={acks} and enable.idempotence="
            f"{config.get('enable.idempotence', 'unset (false)')}: a careful producer sets "
            "'acks': 'all' and 'enable.idempotence': True")


def test_delivery_callbacks_track_every_message(ex1: Evidence) -> None:
    produced = ex1.run.of("produce", topic="orders")
    assert produced, f"nothing was produced to 'orders'. {ex1.run.summary()}."
    without = [event for event in produced if not event["callback"]]
    assert not without, (
        f"{len(without)} of {len(produced)} produce() calls had no delivery callback: pass "
        "on_delivery=delivery_callback (or callback=) to learn each message's fate")


def test_flushes_before_exiting(ex1: Evidence) -> None:
    produced = ex1.run.of("produce")
    flushes = [e for e in ex1.run.of("flush") if not produced or e["time"] >= produced[-1]["time"]]
    assert produced, f"nothing was produced. {ex1.run.summary()}."
    assert flushes and flushes[-1]["remaining"] == 0, (
        "messages not flushed: the producer exited without a flush() after its last "
        "produce() (or with messages still queued); call producer.flush() before main() "
        f"returns. The broker received {len(ex1.records)} of {len(produced)} messages.")


def test_printed_counts_match_the_broker(ex1: Evidence) -> None:
    printed = printed_partition_counts(ex1.run.stdout)
    actual = count_by_partition(ex1.records)
    assert printed, ("no per-partition count was printed: end with one line per partition, "
                     "e.g. 'Partition 0: 27'")
    assert printed == actual, (
        f"printed counts {dict(sorted(printed.items()))} differ from what the broker holds per "
        f"partition {dict(sorted(actual.items()))}: count deliveries in the delivery callback "
        "from msg.partition(), only for messages without an error")


def test_prints_one_line_per_delivered_message(ex1: Evidence) -> None:
    named = set(re.findall(r"ORD-\d{5}", ex1.run.stdout))
    assert named >= set(order_ids(ex1)) and named, (
        f"{len(named)} orders are named in the output, {len(ex1.records)} were delivered: the "
        "exercise prints one line per delivered message (from the delivery callback)")

