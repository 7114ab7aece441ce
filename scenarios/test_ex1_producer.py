"""Exercise 1, producer basics: 100 orders keyed by customer, durable, flushed, counted.

One run of ``python exercise_producer.py`` against a fresh ``orders`` topic (4
partitions); every check reads the topic as the broker holds it, and what the delivery
callback printed for each message (the instrumentation attributes output to the callback
that wrote it). Then, once the topic was read, a driver of the grader's own imports the
module and hands its ``delivery_callback`` one real failed delivery: an order produced to
a partition that ``orders`` does not have, which librdkafka reports through the callback
(``Local: Unknown partition``) rather than by raising in ``produce()``, since a fresh
producer does not know the topic's partitions yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_kafka_lab.grading.evidence import (
    count_by_partition,
    counted,
    counts_agree,
    duplicates,
    json_values,
    listing,
    looks_like,
    partition_count_readings,
    partitions_by,
    printed_partition_counts,
    reports_failure,
)
from pytest_kafka_lab.grading.exercise_setup import ExerciseLab, exercise_setup
from pytest_kafka_lab.grading.sandbox import Run
from pytest_kafka_lab.grading.verdicts import require_ran
from pytest_kafka_lab.grading.wire.evidence import ACKS_NAMES, sent_batches
from pytest_kafka_lab.partitioners import predict_partition
from pytest_kafka_lab.readers import Record, read_topic

pytestmark = pytest.mark.exercise("ex1", "producer basics")

# What each check's verdict rests on (see ``grading.report.EVIDENCE``).
EVIDENCE = {
    "all_100_orders_arrive_exactly_once": ("broker",),
    "orders_are_json_with_the_course_fields": ("broker",),
    "each_order_is_keyed_by_its_customer_id": ("broker",),
    "orders_of_one_customer_share_one_partition": ("broker",),
    "producer_is_configured_for_durability": ("wire",),
    "delivery_callbacks_track_every_message": ("report", "wire"),
    "flushes_before_exiting": ("report", "broker"),
    "printed_counts_match_the_broker": ("output", "broker"),
    "prints_one_line_per_delivered_message": ("report", "output", "broker"),
    "a_failed_delivery_is_not_reported_as_delivered": ("report", "output"),
}

EXPECTED_IDS = [f"ORD-{number:05d}" for number in range(1, 101)]
CUSTOMERS = {f"CUST-{number:03d}" for number in range(1, 6)}
ORDERS_PARTITIONS = 4
ORDER_ID = re.compile(r"ORD-\d{5}")

lab = exercise_setup("ex1", {"orders": ORDERS_PARTITIONS})

# The failed delivery the driver hands to delivery_callback: an order of the course's
# form, to a partition that 'orders' does not have.
MISSING_PARTITION = 99
FAILED_ORDER = {"order_id": "ORD-00101", "customer_id": "CUST-002", "product": "keyboard",
                "quantity": 2, "price": 49.5}



@dataclass(frozen=True)
class Evidence:
    run: Run
    records: list[Record]

    def delivered(self) -> list[dict[str, Any]]:
        """The delivery reports of messages that reached 'orders' without an error."""
        return [event for event in self.run.of("delivered", topic="orders")
                if not event.get("error")]

    def output(self) -> str:
        return self.run.stdout + "\n" + self.run.stderr


@pytest.fixture(scope="module")
def ex1(lab: ExerciseLab) -> Evidence:
    run = require_ran(lab.sandbox.start_script(lab.submission, "exercise_producer.py")
                      .finish(lab.timeout))
    return Evidence(run, read_topic(lab.broker, "orders"))


def empty_topic(evidence: Evidence) -> str:
    return ("expected the 100 orders in 'orders', but the topic is empty ("
            f"{evidence.run.summary()}): main() produces the orders to 'orders', keyed by "
            "customer id, and flushes before it exits")


def order_ids(evidence: Evidence) -> list[str]:
    return [str(value.get("order_id")) for value in json_values(evidence.records) if value]


def test_all_100_orders_arrive_exactly_once(ex1: Evidence) -> None:
    ids = order_ids(ex1)
    missing = sorted(set(EXPECTED_IDS) - set(ids))
    unexpected = sorted(set(ids) - set(EXPECTED_IDS))
    doubled = duplicates(ids)
    assert not missing and not unexpected and not doubled and len(ex1.records) == 100, (
        f"expected orders ORD-00001..ORD-00100 once each in 'orders'; the broker holds "
        f"{counted(len(ex1.records), 'message')}"
        + (f", missing {listing(missing)}" if missing else "")
        + (f", unexpected {listing(unexpected)} (the course numbers its orders from "
           "ORD-00001 to ORD-00100)" if unexpected else "")
        + (f", duplicated {listing(doubled)}" if doubled else "")
        + f". {ex1.run.summary()}."
    )


def test_orders_are_json_with_the_course_fields(ex1: Evidence) -> None:
    assert ex1.records, empty_topic(ex1)
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
    assert ex1.records, empty_topic(ex1)
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
    assert ex1.records, empty_topic(ex1)
    assert not spread, "; ".join(
        f"orders of {customer} landed in partitions {' and '.join(map(str, sorted(parts)))} "
        f"(keyed by {customer}, the default partitioner puts them all in partition "
        f"{predict_partition(customer.encode(), ORDERS_PARTITIONS)})"
        for customer, parts in sorted(spread.items())
    ) + ": key each order by its customer id, and let the default partitioner choose"


def test_producer_is_configured_for_durability(ex1: Evidence) -> None:
    """Judged from the wire: the acks and producer ids its requests to 'orders' carried
    (the configuration a run reports of itself is only its account)."""
    if not ex1.run.witnessed:
        return configured_for_durability(ex1.run.client_configs("producer"), ex1)
    sent = sent_batches(ex1.run.wire, "orders")
    assert sent, (
        "expected a durable producer (acks=all with idempotence) to send the orders; no "
        f"producer sent anything to 'orders' ({ex1.run.summary()}): create one in main() "
        "with Producer({'bootstrap.servers': 'localhost:9092', 'acks': 'all', "
        "'enable.idempotence': True}) and produce the orders with it")
    acks = sorted({ACKS_NAMES.get(batch.acks, str(batch.acks)) for batch in sent})
    idempotent = all(batch.producer_id >= 0 for batch in sent)
    assert acks == ["all"] and idempotent, (
        "expected a durable producer (acks=all with idempotence); its requests to 'orders' "
        f"carried acks={'/'.join(acks)}"
        + ("" if idempotent else " and no producer id (idempotence was off)")
        + ": a careful producer sets 'acks': 'all' and 'enable.idempotence': True")
    return None


def configured_for_durability(configs: list[dict[str, Any]], ex1: Evidence) -> None:
    """Where no proxy witnessed the run (a broker not on this machine): its account."""
    assert configs, (
        "expected a confluent_kafka Producer configured for durability; none was created "
        f"({ex1.run.summary()}): create one in main() with Producer({{'bootstrap.servers': "
        "'localhost:9092', 'acks': 'all', 'enable.idempotence': True}})")
    for config in configs:
        # librdkafka's default acks is all; idempotence is off unless asked for.
        acks = str(config.get("acks", config.get("request.required.acks", "all")))
        idempotence = str(config.get("enable.idempotence", "false")).lower()
        given = "acks" in config or "request.required.acks" in config
        assert acks in ("all", "-1") and idempotence in ("true", "1"), (
            "expected a durable producer (acks=all with idempotence); the producer was "
            f"configured with acks={acks if given else 'unset (all)'} and enable.idempotence="
            f"{config.get('enable.idempotence', 'unset (false)')}: a careful producer sets "
            "'acks': 'all' and 'enable.idempotence': True")


def test_delivery_callbacks_track_every_message(ex1: Evidence) -> None:
    produced = ex1.run.of("produce", topic="orders")
    assert produced, (
        "expected each produce() to 'orders' to pass a delivery callback; nothing was produced "
        f"to 'orders' ({ex1.run.summary()}): produce the 100 orders with "
        "on_delivery=delivery_callback")
    without = [event for event in produced if not event["callback"]]
    assert not without, (
        f"{len(without)} of {len(produced)} produce() calls had no delivery callback: pass "
        "on_delivery=delivery_callback (or callback=) to learn each message's fate")


def test_flushes_before_exiting(ex1: Evidence) -> None:
    produced = ex1.run.of("produce")
    flushes = [e for e in ex1.run.of("flush") if not produced or e["time"] >= produced[-1]["time"]]
    assert produced, (
        "expected a flush() after the last produce(); nothing was produced "
        f"({ex1.run.summary()}): produce the 100 orders, then call producer.flush()")
    assert flushes and flushes[-1]["remaining"] == 0, (
        "messages not flushed: the producer exited without a flush() after its last "
        "produce() (or with messages still queued); call producer.flush() before main() "
        f"returns. The broker received {len(ex1.records)} of {len(produced)} messages.")


def test_printed_counts_match_the_broker(ex1: Evidence) -> None:
    actual = count_by_partition(ex1.records)
    assert ex1.records, (
        "expected per-partition counts equal to what 'orders' holds, but the topic is empty "
        f"(the output ends with {last_lines(ex1.output())}; {ex1.run.summary()}): send the "
        "orders, then print how many each partition received")
    readings = partition_count_readings(ex1.run.stdout, ex1.run.stderr)
    assert readings, (
        "no per-partition count was found in the output (stdout and stderr), which ends "
        f"with {last_lines(ex1.output())}: expected the number of messages each partition "
        f"received, {dict(sorted(actual.items()))} by the broker. After flush(), print one "
        "count per partition from the counts kept in the delivery callback, e.g. "
        "'Partition 0: 23 messages'")
    printed = printed_partition_counts(ex1.run.stdout, ex1.run.stderr)
    assert any(counts_agree(reading, actual) for reading in readings), (
        f"printed counts {dict(sorted(printed.items()))} differ from what the broker holds per "
        f"partition {dict(sorted(actual.items()))} (the output ends with "
        f"{last_lines(ex1.output())}): count deliveries in the delivery callback from "
        "msg.partition(), only for messages without an error, and print them after flush()")


def last_lines(output: str, count: int = 3) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return " / ".join(repr(line[:80]) for line in lines[-count:]) or "nothing (no output)"


def test_prints_one_line_per_delivered_message(ex1: Evidence) -> None:
    delivered = ex1.delivered()
    silent = [event for event in delivered if not str(event.get("printed") or "").strip()]
    ids = set(order_ids(ex1))
    named = set(ORDER_ID.findall(ex1.output()))
    # Either reading is one line per message: each callback printed a line of its own,
    # whatever it says (the course's prints the key), or the output names every order.
    assert (delivered and not silent) or (ids and ids <= named), (
        "expected one line per delivered message, printed by the delivery callback; "
        + (f"{len(silent)} of {len(delivered)} messages delivered to 'orders' got no line "
           f"from their callback (e.g. the message at offset {silent[0].get('offset')} of "
           f"partition {silent[0].get('partition')})"
           + (f", while for others it printed {first_line(delivered)!r}"
              if len(silent) < len(delivered) else "")
           if delivered else "no delivery callback ran for a message to 'orders'")
        + (f", and the output names {len(ids & named)} of the {len(ids)} order ids in "
           "'orders'" if ids else ", and 'orders' holds no orders")
        + (f" (not {listing(sorted(ids - named), 3)})" if ids - named else "")
        + ". In delivery_callback, print one line for each message delivered without an "
        "error, e.g. print(f\"Sent {msg.key().decode()} to partition {msg.partition()}\")")


def first_line(events: list[dict[str, Any]]) -> str:
    for event in events:
        for line in str(event.get("printed") or "").splitlines():
            if line.strip():
                return line.strip()
    return ""


@pytest.fixture(scope="module")
def ex1_failure(ex1: Evidence, lab: ExerciseLab) -> Run:
    """The driver's run (``grading/inside/ex1_driver.py``), after the main run's topic was
    read (``ex1``): what it produces changes none of the evidence the other checks judge."""
    return lab.sandbox.start_driver(lab.submission, "ex1_driver", call="replay",
                                    args=[FAILED_ORDER]).finish(lab.timeout)


def test_a_failed_delivery_is_not_reported_as_delivered(ex1: Evidence, ex1_failure: Run) -> None:
    crashed = ex1_failure.of("raised")
    if crashed:  # the driver catches what the submission raises: this is the grader's
        raise RuntimeError(f"the grader's driver for a failed delivery crashed: "
                           f"{crashed[0]['error']}")
    returned = ex1_failure.of("returned")
    assert returned, (
        "expected the grader to import exercise_producer and call delivery_callback(err, "
        "msg) with a failed delivery; the grader's driver "
        + ex1_failure.summary().removeprefix("the submission ")
        + ": keep the module importable without side effects (main() under "
        "if __name__ == '__main__')")
    answer: dict[str, Any] = returned[0]["result"]
    assert "import_failed" not in answer, (
        "expected exercise_producer.py to import as a module, so that the grader can hand "
        f"delivery_callback a failed delivery; importing it raised {answer.get('import_failed')}"
        ": keep the work in main(), called under if __name__ == '__main__'")
    assert answer.get("callback"), (
        "expected a function delivery_callback(err, msg) in exercise_producer.py, as the "
        "course names it; the module defines "
        f"{listing(answer.get('defined') or ['no functions'])}: name the delivery callback "
        "delivery_callback, so that the grader can hand it a failed delivery")
    failures = [event for event in ex1_failure.of("delivered") if event.get("error")]
    if not failures:
        raise RuntimeError(
            f"the grader's failed delivery did not happen: produce() to partition "
            f"{MISSING_PARTITION} of 'orders' {answer.get('produce_raised') or 'raised nothing'}"
            f" and no delivery report carried an error ({answer})")
    failure = failures[0]
    error = str(failure["error"])
    printed = str(failure.get("printed") or "")
    lines = [line.strip() for line in printed.splitlines() if line.strip()]
    successes = [line.strip() for event in ex1.delivered()
                 for line in str(event.get("printed") or "").splitlines() if line.strip()]
    like_delivered = [] if reports_failure(printed, error) else looks_like(lines, successes)
    counted = counted_as_delivered(answer.get("tallies") or {})
    seen = []
    if like_delivered:
        example = next((line for line in successes if looks_like([line], like_delivered)),
                       successes[0])
        seen.append(f"it printed {like_delivered[0]!r}, the way it reports a delivered "
                    f"message ({example!r}), and nothing of the failure")
    if counted:
        seen.append(f"it counted the message as delivered ({listing(counted, 3)})")
    assert not seen, (
        f"expected delivery_callback to report a failed delivery as a failure: the grader "
        f"produced order {FAILED_ORDER['order_id']} (key {FAILED_ORDER['customer_id']}) to "
        f"partition {MISSING_PARTITION} of 'orders', which has {ORDERS_PARTITIONS} "
        f"partitions, and librdkafka called delivery_callback with the error "
        f"{error_text(error)}. Observed: "
        + "; and ".join(seen)
        + ". Look at err first: when it is not None, report the failure (e.g. "
        "print(f'Delivery failed: {err}')) and count nothing; count and print a delivery "
        "only when err is None")


def counted_as_delivered(tallies: dict[str, Any]) -> list[str]:
    """Where the failed message was counted, from the driver's snapshots of the module's
    tallies before and after its callback ran (compared here, in the grader): a mapping
    that gained the failed partition as a key with a delivery recorded under it, or a
    delivery counter that grew."""
    before, after = tallies.get("before") or {}, tallies.get("after") or {}
    found = []
    for where, now in after.items():
        then = before.get(where) or {}
        if now.get("kind") == "count":
            if now.get("value", 0) > then.get("value", 0):
                found.append(f"{where} went from {then.get('value', 0)} to {now['value']}")
            continue
        gained = now.get("at_partition")
        if gained and gained.get("delivery") and str(MISSING_PARTITION) not in (
                then.get("keys") or []):
            found.append(f"{where} gained the key {gained['key']}, holding {gained['held']}")
    return found


def error_text(error: str) -> str:
    """librdkafka's words for an error: ``Local: Unknown partition (_UNKNOWN_PARTITION)``."""
    words, code = re.search(r'str="([^"]+)"', error), re.search(r"code=(\w+)", error)
    return f"{words.group(1)} ({code.group(1)})" if words and code else error
