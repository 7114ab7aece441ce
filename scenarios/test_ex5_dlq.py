"""Exercise 5, dead letter queue: 3 tries per order, the DLQ for what still fails.

One run of ``main()`` (imported, ``process_order`` observed) over 100 orders in a fresh
``orders`` topic (4 partitions), with ``orders-dlq`` (1 partition) empty. The harness
makes ``process_order`` fail on chosen orders, whatever the submission's own logic: the
first order of every partition fails every time (so a submission that crashes on such an
order crashes on the first message it handles, whatever order the partitions come in),
one order fails once and one twice before succeeding. main() must stop by itself after
the 100 messages.

The verdicts judge the tries actually observed, not the plan: the course's own
``process_order`` fails by itself one call in five, and students keep it. An order whose
every try failed belongs in the DLQ exactly once; one that succeeded on some try does not,
and is not tried again. 3 tries and 1 + 3 tries both read the course's "retries up to 3
times"; ``retry_count`` may count the tries or the retries after the first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from pytest_kafka_lab.grading.consumer_evidence import (
    STOP_TIMEOUT,
    Idle,
    Placed,
    Position,
    await_work,
    commits_ahead,
    contiguous_ends,
    error_texts,
    group_offsets,
    is_false,
    polled,
    positions,
    produce_orders,
    stop,
    successes,
    tries_by_order,
)
from pytest_kafka_lab.grading.evidence import counted, listing
from pytest_kafka_lab.grading.exercise_setup import ExerciseLab, exercise_setup
from pytest_kafka_lab.grading.integrity import mark_unfetched_calls
from pytest_kafka_lab.grading.sandbox import Event, Run, SubmissionProcess
from pytest_kafka_lab.grading.verdicts import require_ran
from pytest_kafka_lab.readers import Record, read_topic

pytestmark = pytest.mark.exercise("ex5", "dead letter queue")

# What each check's verdict rests on (see ``grading.report.EVIDENCE``).
EVIDENCE = {
    "automatic_commits_are_switched_off": ("report",),
    "survives_an_order_that_fails_every_try": ("calls",),
    "retries_a_failing_order_3_times": ("calls",),
    "an_order_that_succeeds_on_a_retry_is_not_dead_lettered": ("calls", "broker"),
    "failed_orders_go_to_orders_dlq_once": ("calls", "broker"),
    "dead_letters_keep_the_original_key_and_value": ("broker",),
    "dead_letter_headers_describe_the_failure": ("broker", "calls"),
    "no_order_is_lost": ("broker", "calls"),
    "no_order_is_both_processed_and_dead_lettered": ("broker", "calls"),
    "commits_each_offset_only_after_it_is_done": ("report", "calls", "wire"),
    "committed_offsets_cover_exactly_the_handled_messages": ("broker", "calls"),
    "stops_after_100_messages": ("report", "wire"),
}

FILE = "exercise_dlq.py"
GROUP = "order-processor-dlq"
TOPIC = "orders"
DLQ = "orders-dlq"
COUNT = 100
TRIES = (3, 4)  # "retries up to 3 times": 3 tries, or the first and 3 retries
TRANSIENT = {"ORD-00007": 1, "ORD-00044": 2}  # fail this often, then succeed
ALWAYS = 99  # fails of an order that fails on every try
FAILED = ("raised", "injected-failure")
HEADERS = ("original_topic", "original_partition", "original_offset", "error", "retry_count")
UNBOUND_HINT = (
    ". Python deletes the name bound by `except ... as e` at the end of that except block, "
    "so reading `e` after the retry loop raises UnboundLocalError: keep the error in a "
    "variable of your own inside the block (`last_error = e`) and use that")

lab = exercise_setup("ex5", {TOPIC: 4, DLQ: 1})


@dataclass(frozen=True)
class Evidence:
    orders: dict[str, Placed]
    doomed: tuple[str, ...]  # the orders the harness makes fail on every try
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

    def attempts(self, order_id: str) -> list[tuple[int, Event]]:
        """``(index, event)`` of each process_order() call for ``order_id``."""
        return tries_by_order(self.run.events).get(order_id, [])

    def tries(self, order_id: str) -> list[str]:
        """The outcome of each process_order() call for ``order_id``."""
        return [event["outcome"] for _, event in self.attempts(order_id)]

    def failing(self) -> list[str]:
        """Input orders tried at least once whose every observed try failed, in the order
        of their last try."""
        tries = tries_by_order(self.run.events)
        failed = [(attempts[-1][0], order_id) for order_id, attempts in tries.items()
                  if order_id in self.orders
                  and all(event["outcome"] in FAILED for _, event in attempts)]
        return [order_id for _, order_id in sorted(failed)]

    def recovered(self) -> list[str]:
        """Input orders that failed on some try and succeeded on a later one."""
        return sorted(order_id for order_id in self.orders
                      if "returned" in (tries := self.tries(order_id))
                      and tries.index("returned") > 0)

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


def ended(events: list[Event]) -> bool:
    return any(event["kind"] in ("returned", "raised", "interrupted") for event in events)


def never_done(orders: dict[str, Placed]) -> Callable[[SubmissionProcess], bool]:
    """When main() cannot return after handling every order: idle for good at the end of
    'orders' (``Idle``) with an order that process_order() was never called for. A main()
    that tried them all is waited for to the end, however late it returns."""
    idle = Idle.after(orders, TOPIC)

    def check(process: SubmissionProcess) -> bool:
        return idle(process) and not set(orders) <= set(tries_by_order(process.events))

    return check


@pytest.fixture(scope="module")
def ex5(lab: ExerciseLab) -> Evidence:
    orders = produce_orders(lab.broker, range(1, COUNT + 1))
    firsts: dict[int, Placed] = {}
    for placed in orders.values():
        if placed.partition not in firsts or placed.offset < firsts[placed.partition].offset:
            firsts[placed.partition] = placed
    doomed = tuple(sorted(placed.order_id for placed in firsts.values()))
    plan = {**{order_id: count for order_id, count in TRANSIENT.items()
               if order_id not in doomed}, **dict.fromkeys(doomed, ALWAYS)}
    process = lab.sandbox.start_call(
        lab.submission, FILE, wrap={"process_order": {"key": "order_id", "fail": plan}})
    stalled = await_work(process, TOPIC, ended, lab.timeout,
                         f"main() to return after handling {COUNT} messages", never_done(orders))
    if stalled:
        stop(process)  # else main() returned, and the process is ending by itself
    run = require_ran(process.finish(STOP_TIMEOUT))
    mark_unfetched_calls(run, "process_order", TOPIC, positions(orders))
    committed = group_offsets(lab.broker, GROUP, TOPIC)
    produced: dict[tuple[str, int, int], Record] = {}
    for topic in sorted({event["topic"] for event in run.of("delivered") if not event["error"]}
                        - {TOPIC}):
        produced.update({(record.topic, record.partition, record.offset): record
                         for record in read_topic(lab.broker, topic)})
    dlq = read_topic(lab.broker, DLQ)
    return Evidence(orders, doomed, run, stalled, committed, dlq, produced)


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


def never_failed_throughout(ex5: Evidence) -> str:
    """Why no order failed on every try: what the harness's doomed orders saw."""
    tried = {order_id: ex5.tries(order_id) for order_id in ex5.doomed}
    if not any(tried.values()):
        return (f"process_order() was never called for {listing(ex5.doomed)}, which the "
                f"harness makes fail on every try. {ex5.run.summary()}.{waited(ex5)}")
    seen = "; ".join(described(ex5, order_id) for order_id in tried)
    return (f"no order failed on every try: the harness makes {listing(ex5.doomed)} fail on "
            f"every try, and their tries were {seen}. {ex5.run.summary()}.{waited(ex5)}")


def described(ex5: Evidence, order_id: str) -> str:
    tries = ex5.tries(order_id)
    return f"{order_id} ({len(tries)} tries: {', '.join(tries)})" if tries else \
        f"{order_id} (never tried)"


def test_survives_an_order_that_fails_every_try(ex5: Evidence) -> None:
    raised = ex5.run.of("raised")
    if raised:
        error = raised[0]["error"]
        failing = ex5.failing()
        hint = UNBOUND_HINT if re.match(r"(UnboundLocal|Name)Error\b", error) else ""
        assert not raised, (
            (f"{failing[-1]} failed on every try ({len(ex5.tries(failing[-1]))} tries) and "
             f"main() then raised {error}" if failing else
             f"main() raised {error} before any order had failed on every try")
            + f"{hint}. After the last try, send the order to {DLQ!r} and go on with the "
            "next message")
    assert ex5.failing(), never_failed_throughout(ex5)


def test_retries_a_failing_order_3_times(ex5: Evidence) -> None:
    failing = ex5.failing()
    assert failing, never_failed_throughout(ex5)
    tried = {order_id: len(ex5.tries(order_id)) for order_id in failing}
    problems = [f"{order_id} fails on every try and was tried {count} times"
                for order_id, count in tried.items() if count not in TRIES]
    if not problems and len(set(tried.values())) > 1:
        problems.append("orders that fail on every try were not tried equally often ("
                        + ", ".join(f"{o}: {n} tries" for o, n in tried.items()) + ")")
    limit = max(tried.values()) if not problems else max(TRIES)
    for order_id in sorted(ex5.orders):
        tries = ex5.tries(order_id)
        if "returned" not in tries:
            continue
        success = tries.index("returned") + 1
        if len(tries) > success:
            problems.append(f"{order_id} succeeded on try {success} and was then tried "
                            f"{len(tries) - success} more time(s)")
        elif success > limit:
            problems.append(f"{order_id} was tried {success} times before it succeeded, "
                            f"more than the {limit} tries an order failing on every try gets")
    assert not problems, (
        f"{'; '.join(problems[:3])}"
        + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        + ": call process_order() up to 3 times for each order (or once and then up to 3 "
        "retries), with a short pause between tries, and stop trying once it succeeds")


def test_an_order_that_succeeds_on_a_retry_is_not_dead_lettered(ex5: Evidence) -> None:
    recovered = ex5.recovered()
    raised = ex5.run.of("raised")
    assert recovered, (
        "no order succeeded on a retry, so this could not be judged: "
        + (f"main() raised {raised[0]['error']} first" if raised else
           "the harness makes "
           + " and ".join(f"{o} fail {n} time(s)" for o, n in TRANSIENT.items())
           + " before they succeed, and their tries were "
           + "; ".join(described(ex5, o) for o in TRANSIENT))
        + f". {ex5.run.summary()}.{waited(ex5)}")
    dead = ex5.dead_lettered()
    wrong = [f"{order_id} (failed {ex5.tries(order_id).index('returned')} time(s), then "
             f"succeeded on try {ex5.tries(order_id).index('returned') + 1})"
             for order_id in recovered if dead[order_id]]
    assert not wrong, (
        f"orders that a retry processed are in {DLQ!r}: {listing(wrong, 3)}. Send an order "
        "to the DLQ only after its last try failed")


def test_failed_orders_go_to_orders_dlq_once(ex5: Evidence) -> None:
    failing = ex5.failing()
    assert failing, never_failed_throughout(ex5)
    dead = ex5.dead_lettered()
    found = {order_id: dead[order_id] for order_id in failing}
    elsewhere = Counter(event["topic"] for event in ex5.run.of("produce")
                        if event["topic"] != DLQ)
    wrong = {order_id: count for order_id, count in found.items() if count != 1}
    assert not wrong, (
        f"{listing(failing)} failed on every try, so each belongs in {DLQ!r} exactly once; "
        f"{DLQ!r} holds {listing([f'{o} {n} time(s)' for o, n in wrong.items()], 4)}"
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
    failing = set(ex5.failing())
    problems = []
    for record in ex5.dlq:
        order_id = ex5.order_of(record)
        if order_id not in ex5.orders:
            continue
        placed = ex5.orders[order_id]
        headers = {name: text(value) for name, value in reversed(record.headers)}
        expected = {"original_topic": TOPIC, "original_partition": str(placed.partition),
                    "original_offset": str(placed.offset)}
        wrong = [f"{name} missing" for name in HEADERS if name not in headers]
        wrong += [f"{name}={headers[name]!r} where {value!r} was expected"
                  for name, value in expected.items()
                  if name in headers and (headers[name] or "").strip() != value]
        attempts = ex5.attempts(order_id)
        if order_id in failing:  # else it is in the DLQ wrongly, which another check says
            tries = len(attempts)
            count = (headers.get("retry_count") or "").strip()
            if "retry_count" in headers and count not in (str(tries), str(tries - 1)):
                wrong.append(f"retry_count={headers['retry_count']!r} where '{tries}' (the "
                             f"tries made) or '{tries - 1}' (the retries after the first) "
                             "was expected")
            last = error_texts(attempts[-1][1])
            if "error" in headers and last and not any(t in (headers["error"] or "")
                                                       for t in last):
                wrong.append(f"error={headers['error']!r} does not carry the last try's "
                             f"error ({last[0]!r})")
        if wrong:
            problems.append(f"the copy of {order_id} (from partition {placed.partition}, offset "
                            f"{placed.offset}, {len(attempts)} failed tries): {', '.join(wrong)}")
    assert not problems, (
        f"{'; '.join(problems[:2])}. Each dead letter carries the headers original_topic, "
        "original_partition, original_offset (from msg.topic(), msg.partition(), msg.offset()), "
        "error (str() of the last try's exception) and retry_count (the number of tries made, "
        "or of retries after the first)")


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
        "only when all its tries failed, never after (or before) one succeeded")


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
        f"{COUNT} orders waited in {TOPIC!r}; the consumer received "
        f"{counted(received, 'message')} and "
        + ("main() ended" if by_itself else "main() was still running, so the harness "
           "pressed Ctrl-C")
        + f" ({ex5.run.summary()}).{waited(ex5)} main() stops by itself after {COUNT} messages")
