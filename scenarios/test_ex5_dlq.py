"""Exercise 5, dead letter queue: 3 tries per order, the DLQ for what still fails.

One run of ``main()`` (imported, ``process_order`` observed) over 100 orders in a fresh
``orders`` topic (4 partitions), with ``orders-dlq`` (1 partition) empty. The harness
makes ``process_order`` fail on chosen orders, whatever the submission's own logic: two
orders fail every time, one fails once and one twice before succeeding. main() must stop
by itself after the 100 messages.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.consumer_evidence import (
    Placed,
    Position,
    await_quietly,
    calls,
    commits_ahead,
    contiguous_ends,
    group_offsets,
    is_false,
    polled,
    produce_orders,
    stop,
    successes,
)
from pytest_kafka_lab.grading.course import reset_course
from pytest_kafka_lab.grading.evidence import listing
from pytest_kafka_lab.grading.plugin import require_exercise, require_ran
from pytest_kafka_lab.grading.sandbox import Event, Run, Sandbox
from pytest_kafka_lab.readers import Record, read_topic

pytestmark = pytest.mark.exercise("ex5", "dead letter queue")

FILE = "exercise_dlq.py"
GROUP = "order-processor-dlq"
TOPIC = "orders"
DLQ = "orders-dlq"
COUNT = 100
TRIES = 3
TRANSIENT = {"ORD-00007": 1, "ORD-00044": 2}  # fail this often, then succeed
DOOMED = ("ORD-00013", "ORD-00075")  # fail on every try
FAILURES = {**TRANSIENT, **dict.fromkeys(DOOMED, 99)}
HEADERS = ("original_topic", "original_partition", "original_offset", "error", "retry_count")
SUBSCRIBE_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Evidence:
    orders: dict[str, Placed]
    run: Run
    stalled: str | None  # what the harness waited for in vain
    committed: dict[int, int]  # partition -> offset the group committed, after the run
    dlq: list[Record]  # orders-dlq as the broker holds it
    produced: dict[tuple[str, int, int], Record]  # every record the run produced, by place

    def order_of(self, record: Record) -> str | None:
        """Which input order a dead letter copies: same bytes, else the order id it names,
        else the source position its headers name."""
        for order_id, placed in self.orders.items():
            if placed.value == record.value:
                return order_id
        named = re.search(rb"ORD-\d{5}", record.value or b"")
        if named:
            return named.group().decode()
        headers = dict(record.headers)
        for order_id, placed in self.orders.items():
            if (text(headers.get("original_partition")) == str(placed.partition)
                    and text(headers.get("original_offset")) == str(placed.offset)):
                return order_id
        return None

    def dead_lettered(self) -> Counter[str]:
        """How often each order is in orders-dlq."""
        return Counter(order_id for order_id in map(self.order_of, self.dlq) if order_id)

    def tries(self, order_id: str) -> list[str]:
        """The outcome of each process_order() call for ``order_id``."""
        return [event["outcome"] for _, event in calls(self.run.events)
                if event.get("ident") == order_id]

    def done(self) -> dict[Position, int]:
        """Input positions that succeeded or whose copy the broker acknowledged (in any
        topic), with the index of the event that made them so."""
        events = self.run.events
        done = {self.orders[order_id].position: index
                for order_id, index in successes(events).items() if order_id in self.orders}
        for index, event in enumerate(events):
            record = self.produced.get((event.get("topic", ""), event.get("partition", -1),
                                        event.get("offset", -1)))
            if event["kind"] == "delivered" and not event.get("error") and record is not None:
                order_id = self.order_of(record)
                if order_id in self.orders:
                    done.setdefault(self.orders[order_id].position, index)
        return done


def text(value: bytes | None) -> str | None:
    return value.decode("utf-8", errors="replace") if value is not None else None


def subscribed(events: list[Event]) -> bool:
    return any(event["kind"] == "subscribe" for event in events)


def ended(events: list[Event]) -> bool:
    return any(event["kind"] in ("returned", "raised", "interrupted") for event in events)


@pytest.fixture(scope="module")
def ex5(
    lab_submission: Path, lab_sandbox: Sandbox, lab_timeout: float, kafka_broker: KafkaBroker,
    kafka_admin: AdminClient,
) -> Evidence:
    require_exercise(lab_submission, "ex5")
    reset_course(kafka_admin, {TOPIC: 4, DLQ: 1})
    orders = produce_orders(kafka_broker, range(1, COUNT + 1))
    process = lab_sandbox.start_call(
        lab_submission, FILE, wrap={"process_order": {"key": "order_id", "fail": FAILURES}})
    stalled = await_quietly(process, subscribed, min(lab_timeout, SUBSCRIBE_TIMEOUT),
                            f"a consumer to subscribe to {TOPIC!r}") or await_quietly(
        process, ended, lab_timeout, f"main() to return after handling {COUNT} messages")
    if stalled:
        stop(process)  # else main() returned, and the process is ending by itself
    run = require_ran(process.finish(STOP_TIMEOUT))
    committed = group_offsets(kafka_broker, GROUP, TOPIC)
    produced: dict[tuple[str, int, int], Record] = {}
    for topic in sorted({event["topic"] for event in run.of("delivered") if not event["error"]}
                        - {TOPIC}):
        produced.update({(record.topic, record.partition, record.offset): record
                         for record in read_topic(kafka_broker, topic)})
    dlq = read_topic(kafka_broker, DLQ)
    return Evidence(orders, run, stalled, committed, dlq, produced)


def waited(ex5: Evidence) -> str:
    return f" {ex5.stalled}" if ex5.stalled else ""


def test_automatic_commits_are_switched_off(ex5: Evidence) -> None:
    configs = ex5.run.client_configs("consumer")
    assert configs, f"no confluent_kafka Consumer was created. {ex5.run.summary()}.{waited(ex5)}"
    config = configs[0]
    assert is_false(config, "enable.auto.commit", "true"), (
        f"the consumer was created with enable.auto.commit="
        f"{config.get('enable.auto.commit', 'unset (librdkafka commits automatically by default)')}"
        ": set 'enable.auto.commit': False and commit each message once it is done")


def test_survives_an_order_that_fails_every_try(ex5: Evidence) -> None:
    tried = [order_id for order_id in DOOMED if ex5.tries(order_id)]
    assert tried, (
        f"process_order() was never called for {' or '.join(DOOMED)}. "
        f"{ex5.run.summary()}.{waited(ex5)}")
    raised = ex5.run.of("raised")
    assert not raised, (
        f"{tried[0]} failed on every try and main() then raised {raised[0]['error']}: after the "
        f"last try, send the order to {DLQ!r} and go on with the next message")


def test_retries_a_failing_order_3_times(ex5: Evidence) -> None:
    problems = []
    for order_id in DOOMED:
        tries = ex5.tries(order_id)
        if tries and len(tries) != TRIES:
            problems.append(f"{order_id} fails on every try and was tried {len(tries)} times")
    for order_id, failures in TRANSIENT.items():
        tries = ex5.tries(order_id)
        if tries and tries[-1] != "returned":
            problems.append(f"{order_id} fails {failures} time(s) and then succeeds, but was "
                            f"tried {len(tries)} time(s)")
    assert any(ex5.tries(order_id) for order_id in FAILURES), (
        f"process_order() was never called for the orders the harness makes fail "
        f"({listing(FAILURES)}). {ex5.run.summary()}.{waited(ex5)}")
    assert not problems, (
        f"{'; '.join(problems)}: call process_order() up to {TRIES} times for each order "
        "(the first try and 2 retries, with a short pause between them), and stop trying once "
        "it succeeds")


def test_an_order_that_succeeds_on_a_retry_is_not_dead_lettered(ex5: Evidence) -> None:
    tried = [order_id for order_id in TRANSIENT if ex5.tries(order_id)]
    assert tried, (f"process_order() was never called for {' or '.join(TRANSIENT)}. "
                   f"{ex5.run.summary()}.{waited(ex5)}")
    dead = ex5.dead_lettered()
    wrong = [f"{order_id} (fails {TRANSIENT[order_id]} time(s), then succeeds; tried "
             f"{len(ex5.tries(order_id))} time(s))" for order_id in tried if dead[order_id]]
    assert not wrong, (
        f"orders that a retry would have processed are in {DLQ!r}: {', '.join(wrong)}. "
        f"Send an order to the DLQ only after its {TRIES}rd failed try")


def test_failed_orders_go_to_orders_dlq_once(ex5: Evidence) -> None:
    dead = ex5.dead_lettered()
    found = {order_id: dead[order_id] for order_id in DOOMED}
    elsewhere = Counter(event["topic"] for event in ex5.run.of("produce")
                        if event["topic"] != DLQ)
    assert all(count == 1 for count in found.values()), (
        f"{' and '.join(DOOMED)} fail on every try, so each belongs in {DLQ!r} exactly once; "
        f"{DLQ!r} holds them {', '.join(f'{o}: {n} time(s)' for o, n in found.items())}"
        + (f"; the run produced to {', '.join(f'{t!r} ({n})' for t, n in elsewhere.items())} "
           f"instead: the DLQ topic is named {DLQ!r}" if elsewhere and not any(found.values())
           else "")
        + (f". {ex5.run.summary()}.{waited(ex5)}" if not any(found.values()) else
           ": produce each failed order once, after its last try"))


def test_dead_letters_keep_the_original_key_and_value(ex5: Evidence) -> None:
    assert ex5.dlq, f"{DLQ!r} is empty. {ex5.run.summary()}.{waited(ex5)}"
    problems = []
    for record in ex5.dlq:
        order_id = ex5.order_of(record)
        if order_id not in ex5.orders:
            shown = record.value[:60] if record.value is not None else None
            problems.append(f"the dead letter at offset {record.offset} copies no input order "
                            f"(value {shown!r})")
            continue
        original = ex5.orders[order_id]
        if record.key != original.key:
            problems.append(f"the copy of {order_id} has key {record.key!r} instead of "
                            f"{original.key!r}")
        if record.value != original.value:
            shown = record.value[:60] if record.value is not None else None
            problems.append(f"the copy of {order_id} has value {shown!r} instead of the "
                            f"original bytes {original.value[:60]!r}")
    assert not problems, (
        f"{'; '.join(problems[:3])}: produce msg.key() and msg.value() to the DLQ as they are, "
        "without decoding or encoding them again")


def test_dead_letter_headers_describe_the_failure(ex5: Evidence) -> None:
    assert ex5.dlq, f"{DLQ!r} is empty. {ex5.run.summary()}.{waited(ex5)}"
    problems = []
    for record in ex5.dlq:
        order_id = ex5.order_of(record)
        if order_id not in ex5.orders:
            continue
        placed = ex5.orders[order_id]
        failed = [outcome for outcome in ex5.tries(order_id) if outcome != "returned"]
        headers = {name: text(value) for name, value in reversed(record.headers)}
        expected = {"original_topic": TOPIC, "original_partition": str(placed.partition),
                    "original_offset": str(placed.offset), "retry_count": str(len(failed))}
        wrong = [f"{name} missing" for name in HEADERS if name not in headers]
        wrong += [f"{name}={headers[name]!r} where {value!r} was expected"
                  for name, value in expected.items()
                  if name in headers and (headers[name] or "").strip() != value]
        error = f"injected failure for {order_id}"
        if "error" in headers and failed and failed[-1] == "injected-failure" \
                and error not in (headers["error"] or ""):
            wrong.append(f"error={headers['error']!r} does not carry the last error ({error!r})")
        if wrong:
            problems.append(f"the copy of {order_id} (from partition {placed.partition}, offset "
                            f"{placed.offset}, {len(failed)} failed tries): {', '.join(wrong)}")
    assert not problems, (
        f"{'; '.join(problems[:2])}. Each dead letter carries the headers original_topic, "
        "original_partition, original_offset (from msg.topic(), msg.partition(), msg.offset()), "
        "error (str() of the last exception) and retry_count (the number of failed tries)")


def test_no_order_is_lost(ex5: Evidence) -> None:
    processed = set(successes(ex5.run.events))
    dead = ex5.dead_lettered()
    lost = sorted(order_id for order_id in ex5.orders
                  if order_id not in processed and not dead[order_id])
    assert not lost, (
        f"{len(lost)} of {COUNT} orders were neither processed nor sent to {DLQ!r}: "
        f"{listing(lost)}. {ex5.run.summary()}.{waited(ex5)} Every message must end up "
        "processed or in the DLQ before its offset is committed")


def test_no_order_is_both_processed_and_dead_lettered(ex5: Evidence) -> None:
    processed = set(successes(ex5.run.events))
    dead = ex5.dead_lettered()
    assert processed or dead, f"no order was processed. {ex5.run.summary()}.{waited(ex5)}"
    both = sorted(order_id for order_id in processed if dead[order_id])
    assert not both, (
        f"{listing(both)} were processed and are also in {DLQ!r}: an order goes to the DLQ "
        f"only when all {TRIES} tries failed, never after (or before) one succeeded")


def test_commits_each_offset_only_after_it_is_done(ex5: Evidence) -> None:
    configs = ex5.run.client_configs("consumer")
    assert ex5.run.of("commit"), f"commit() was never called. {ex5.run.summary()}.{waited(ex5)}"
    inputs = {placed.position for placed in ex5.orders.values()}
    auto_store = not (configs and is_false(configs[0], "enable.auto.offset.store", "true"))
    ahead = commits_ahead(ex5.run.events, ex5.done(), inputs, TOPIC, auto_store)
    assert not ahead, (
        f"offsets were committed before their message was done: {listing(ahead, 2)} (it had "
        "neither succeeded nor been acknowledged in the DLQ). Commit a message's offset only "
        "after it succeeded or its DLQ copy was delivered (flush the producer first)")


def test_committed_offsets_cover_exactly_the_handled_messages(ex5: Evidence) -> None:
    done = set(ex5.done())
    assert done, f"no order was processed or dead-lettered. {ex5.run.summary()}.{waited(ex5)}"
    expected = contiguous_ends(done, {placed.position for placed in ex5.orders.values()})
    uncovered = sorted(p.order_id for p in ex5.orders.values()
                       if p.position in done and p.offset >= ex5.committed.get(p.partition, 0))
    assert ex5.committed == expected, (
        f"after the run the group {GROUP!r} has committed {dict(sorted(ex5.committed.items()))} "
        f"(partition: offset) where the {len(done)} handled orders end at "
        f"{dict(sorted(expected.items()))}"
        + (f"; {len(uncovered)} handled orders are not covered ({listing(uncovered)})"
           if uncovered else "")
        + ": commit each message's offset (msg.offset() + 1, or commit(message=msg)) once it "
        "succeeded or went to the DLQ")


def test_stops_after_100_messages(ex5: Evidence) -> None:
    received = polled(ex5.run.events)
    by_itself = not ex5.run.interrupted and not ex5.run.timed_out
    assert by_itself and received == COUNT and ex5.run.of("returned"), (
        f"{COUNT} orders waited in {TOPIC!r}; the consumer received {received} messages and "
        + ("main() ended" if by_itself else "main() was still running, so the harness "
           "pressed Ctrl-C")
        + f" ({ex5.run.summary()}).{waited(ex5)} main() stops by itself after {COUNT} messages")
