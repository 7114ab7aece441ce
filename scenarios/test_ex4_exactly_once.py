"""Exercise 4, exactly-once processing by deduplication: each payment processed once.

Two runs of the submission, side by side:

- ``main()`` against a fresh ``payments`` topic (1 partition), with ``process_payment``
  observed: the broker tells which payments were produced, the observed calls which of
  them were processed (returned True) or skipped (returned False), in which pass, and
  the observed polls which of the topic's records main() consumed before each call.
- A driver of the harness's own that imports the module and hands ``process_payment``
  a fixed sequence of payments (their ids drawn afresh for each grading) in one
  process, since the store of processed ids lives in the process and the contract's
  duplicate cases must be met in a known order: two payments of one customer with one
  amount, a redelivered copy of the first, and a payment whose processing fails once
  (reading its amount raises, as a payment service that is down would) and is then
  redelivered. Injecting these through the topic instead would race ``main()``'s own
  producing and consuming, or depend on how a submission decides that it reached the
  end of the topic.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_kafka_lab.grading.consumer_evidence import calls
from pytest_kafka_lab.grading.evidence import counted, duplicates, json_values, listing
from pytest_kafka_lab.grading.exercise_setup import ExerciseLab, exercise_setup
from pytest_kafka_lab.grading.integrity import mark_unfetched_calls
from pytest_kafka_lab.grading.sandbox import Run
from pytest_kafka_lab.grading.verdicts import require_ran
from pytest_kafka_lab.readers import Record, read_topic

pytestmark = pytest.mark.exercise("ex4", "exactly-once processing")

# What each check's verdict rests on (see ``grading.report.EVIDENCE``).
EVIDENCE = {
    "main_produces_10_payments": ("broker",),
    "every_payment_is_processed": ("calls", "broker"),
    "no_payment_is_processed_twice": ("calls",),
    "second_pass_reads_every_payment_again": ("report", "wire"),
    "processed_payments_are_consumed_from_the_topic": ("calls", "report", "wire"),
    "payments_of_one_customer_are_all_processed": ("report",),
    "a_redelivered_payment_is_processed_once": ("report",),
    "payment_is_marked_only_after_processing": ("report",),
}

FILE = "exercise_exactly_once.py"
TOPIC = "payments"
NUM_PAYMENTS = 10

lab = exercise_setup("ex4", {TOPIC: 1})

# The driver's payments. Their ids are drawn afresh for each grading (the verdicts never
# depend on an id's value), so that no answer can be written down ahead of the run.
FIRST = {"amount": 250.0, "customer": "CUST-001"}
SAME_CUSTOMER = {"amount": 250.0, "customer": "CUST-001"}
FAILING = {"amount": 75.5, "customer": "CUST-002"}
# (payment, whether its first processing fails); the index of each step in the answer.
STEPS = [(FIRST, False), (SAME_CUSTOMER, False), (FIRST, False), (FAILING, True),
         (FAILING, False)]
STEP_FIRST, STEP_SAME_CUSTOMER, STEP_REDELIVERED, STEP_FAILED, STEP_RETRIED = range(5)



@dataclass(frozen=True)
class Evidence:
    run: Run  # main()
    records: list[Record]  # what main() left in 'payments'
    driver: Run  # the driver's replay of ``sequence``
    sequence: list[tuple[dict[str, Any], bool]]  # STEPS, with this grading's payment ids

    def processed(self) -> dict[str, list[Any]]:
        """``{payment_id: [what each process_payment call for it returned, in order]}``."""
        results: dict[str, list[Any]] = defaultdict(list)
        for _, call in calls(self.run.events, "process_payment"):
            if call["outcome"] == "returned":
                results[str(call["ident"])].append(call["result"])
        return dict(results)

    def produced_ids(self) -> list[str]:
        return [str(value["payment_id"]) for value in json_values(self.records)
                if value and "payment_id" in value]

    def unconsumed_calls(self) -> dict[str, tuple[int, int]]:
        """``{payment_id: (calls, polls)}`` for the payments of which process_payment was
        called more often than main() had consumed their record from 'payments' by then.

        Events are in the order they happened: a record's ``polled`` event is written
        when poll() or consume() hands it over, a ``call`` event when the call ends.
        """
        at = {(record.partition, record.offset): str(value["payment_id"])
              for record, value in zip(self.records, json_values(self.records), strict=True)
              if value and "payment_id" in value}
        polls: Counter[str] = Counter()
        calls: Counter[str] = Counter()
        unconsumed: dict[str, tuple[int, int]] = {}
        for event in self.run.events:
            if event.get("kind") == "polled" and event.get("topic") == TOPIC:
                payment = at.get((event.get("partition"), event.get("offset")))
                if payment is not None:
                    polls[payment] += 1
            elif event.get("kind") == "call" and event.get("function") == "process_payment" \
                    and event.get("ident") is not None and not event.get("unasked"):
                payment = str(event["ident"])
                calls[payment] += 1
                if calls[payment] > polls[payment]:
                    unconsumed[payment] = (calls[payment], polls[payment])
        return unconsumed

    def payment_id(self, step: int) -> str:
        return str(self.sequence[step][0]["payment_id"])

    def answers(self) -> list[dict[str, Any]]:
        returned = self.driver.of("returned")
        return list(returned[0]["result"]) if returned else []


def drawn_sequence() -> list[tuple[dict[str, Any], bool]]:
    """STEPS with a fresh id for each distinct payment (a redelivery keeps its id)."""
    ids = {id(payment): str(uuid.uuid4()) for payment, _ in STEPS}
    return [({"payment_id": ids[id(payment)], **payment}, fails) for payment, fails in STEPS]


@pytest.fixture(scope="module")
def ex4(lab: ExerciseLab) -> Evidence:
    sequence = drawn_sequence()
    main = lab.sandbox.start_call(lab.submission, FILE, call="main",
                                  wrap={"process_payment": {"key": "payment_id"}})
    # The grader's driver (``grading/inside/ex4_driver.py``).
    replay = lab.sandbox.start_driver(lab.submission, "ex4_driver", call="replay",
                                      args=[sequence])
    # Both started together: together they have one run's time.
    deadline = time.monotonic() + lab.timeout
    run = main.finish(lab.timeout)
    replayed = replay.finish(max(deadline - time.monotonic(), 1.0))
    records = read_topic(lab.broker, TOPIC)
    # A payment processed without being read from the topic does not count as processed
    # (and processed_payments_are_consumed_from_the_topic names it).
    mark_unfetched_calls(require_ran(run), "process_payment", TOPIC, {
        str(value["payment_id"]): (record.partition, record.offset)
        for record, value in zip(records, json_values(records), strict=True)
        if value and "payment_id" in value})
    return Evidence(run, records, require_ran(replayed), sequence)


def describe(answer: dict[str, Any]) -> str:
    if "raised" in answer:
        return f"raised {answer['raised']}"
    return f"returned {answer.get('result')!r}"


def driver_answer(ex4: Evidence, step: int) -> dict[str, Any]:
    answers = ex4.answers()
    assert len(answers) > step, (
        "process_payment could not be called with a payment dict: the grader's driver "
        + ex4.driver.summary().removeprefix("the submission "))
    return answers[step]


def test_main_produces_10_payments(ex4: Evidence) -> None:
    ids = ex4.produced_ids()
    malformed = [r.offset for r, value in zip(ex4.records, json_values(ex4.records), strict=True)
                 if value is None or not valid_payment(value)]
    assert len(ex4.records) == NUM_PAYMENTS and not malformed and not duplicates(ids), (
        f"expected {NUM_PAYMENTS} payments with distinct ids in 'payments'; the broker holds "
        f"{counted(len(ex4.records), 'message')}"
        + (f", offsets {listing(malformed)} are not payments (a JSON object with a UUID "
           "string payment_id, an amount and a customer)" if malformed else "")
        + (f", ids {listing(duplicates(ids))} occur more than once" if duplicates(ids) else "")
        + f". main() {ex4.run.summary().removeprefix('the submission ')}.")


def valid_payment(value: dict[str, Any]) -> bool:
    try:
        uuid.UUID(str(value.get("payment_id")))
    except ValueError:
        return False
    return isinstance(value.get("payment_id"), str) and "amount" in value and "customer" in value


def test_every_payment_is_processed(ex4: Evidence) -> None:
    ids = ex4.produced_ids()
    assert ids, f"the topic 'payments' holds no payments. {ex4.run.summary()}."
    processed = ex4.processed()
    assert processed, (
        "main() never called process_payment(payment): call it for every payment it "
        f"consumes. {ex4.run.summary()}.")
    never = [pid for pid in ids if True not in processed.get(pid, [])]
    assert not never, (
        f"{len(never)} of {len(ids)} payments in 'payments' were never processed (no "
        f"process_payment call for them returned True): {listing(never, 3)}. What the calls "
        f"for them returned: {listing([processed.get(pid, 'no call') for pid in never], 3)}. "
        "Each payment must be processed once: skip a payment only when its payment_id was "
        "processed before, and return True when you process it")


def test_no_payment_is_processed_twice(ex4: Evidence) -> None:
    processed = ex4.processed()
    assert processed, (
        f"main() never called process_payment(payment). {ex4.run.summary()}.")
    twice = {pid: results.count(True) for pid, results in processed.items()
             if results.count(True) > 1}
    assert not twice, (
        f"{len(twice)} payments were processed more than once, e.g. "
        f"{listing([f'{pid} {count} times' for pid, count in twice.items()], 3)}: the "
        "second pass, as after a restart, must recognise every payment of the first pass "
        "as a duplicate (keep the processed ids across both passes and check is_duplicate "
        "before processing)")


def test_second_pass_reads_every_payment_again(ex4: Evidence) -> None:
    ids = ex4.produced_ids()
    assert ids, f"the topic 'payments' holds no payments. {ex4.run.summary()}."
    calls = Counter({pid: len(results) for pid, results in ex4.processed().items()})
    once = [pid for pid in ids if calls[pid] < 2]
    assert not once, (
        f"{len(once)} of {len(ids)} payments were handed to process_payment fewer than twice "
        f"(e.g. {listing(once, 3)}): main() consumes the topic twice, the second time from "
        "the beginning as after a restart (a new consumer reading from offset 0), and "
        "passes every payment of both passes to process_payment")


def test_processed_payments_are_consumed_from_the_topic(ex4: Evidence) -> None:
    ids = ex4.produced_ids()
    assert ids, f"the topic '{TOPIC}' holds no payments. {ex4.run.summary()}."
    # Calls for payments never read from the topic count here too: they are the mistake.
    assert ex4.run.of("call", function="process_payment"), (
        f"main() never called process_payment(payment). {ex4.run.summary()}.")
    unconsumed = ex4.unconsumed_calls()
    polled = len(ex4.run.of("polled", topic=TOPIC))
    assert not unconsumed, (
        f"process_payment was called for {len(unconsumed)} payments more often than "
        f"main() had consumed them from '{TOPIC}' (it polled {polled} records from the "
        "topic in all): "
        + listing([f"{pid} called {calls} times after {polls} polls of its record"
                   for pid, (calls, polls) in unconsumed.items()], 3)
        + ". Both passes must consume the payments from the topic (poll() or consume()) "
        "and hand process_payment what they read, not payments kept in memory")


def test_payments_of_one_customer_are_all_processed(ex4: Evidence) -> None:
    first, same = driver_answer(ex4, STEP_FIRST), driver_answer(ex4, STEP_SAME_CUSTOMER)
    assert first.get("result") is True and same.get("result") is True, (
        f"process_payment was given two different payments ({ex4.payment_id(STEP_FIRST)} "
        f"and {ex4.payment_id(STEP_SAME_CUSTOMER)}) of customer CUST-001 for the same amount: it "
        f"{describe(first)} for the first and {describe(same)} for the second. Both must "
        "be processed (True): recognise duplicates by payment_id alone, not by customer "
        "or amount")


def test_a_redelivered_payment_is_processed_once(ex4: Evidence) -> None:
    first, again = driver_answer(ex4, STEP_FIRST), driver_answer(ex4, STEP_REDELIVERED)
    assert first.get("result") is True and again.get("result") is False, (
        f"payment {ex4.payment_id(STEP_FIRST)} was handed to process_payment twice (delivered "
        f"again, as after a restart): it {describe(first)} the first time and "
        f"{describe(again)} the second. Expected True, then False: look the payment_id up "
        "with is_duplicate before processing, and mark it processed afterwards")


def test_payment_is_marked_only_after_processing(ex4: Evidence) -> None:
    failed, retried = driver_answer(ex4, STEP_FAILED), driver_answer(ex4, STEP_RETRIED)
    payment = ex4.payment_id(STEP_FAILED)
    assert failed.get("injected"), (
        f"the grader could not make the processing of payment {payment} fail: "
        f"process_payment {describe(failed)} without reading the payment's amount or "
        "customer. Processing a payment uses them (print them, as the course does)")
    # Processed once: by the redelivery, or by the first call itself if it recovered from
    # the failure (retrying inside process_payment) and returned True.
    times = [failed.get("result"), retried.get("result")].count(True)
    assert times > 0, (
        f"the grader made the processing of payment {payment} fail (reading its amount "
        f"raised); delivered again, it was not processed: process_payment "
        f"{describe(retried)}"
        + (f", and mark_processed({payment}) had been called before the failure"
           if payment in failed.get("marked", []) else "")
        + ". Mark a payment processed only after its processing succeeded, or a failure "
        "loses it for good")
    assert times == 1, (
        f"payment {payment}, whose processing first failed and then succeeded, was "
        f"processed twice: process_payment {describe(failed)}, then {describe(retried)} "
        "when it was delivered again")
