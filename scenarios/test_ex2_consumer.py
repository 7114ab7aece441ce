"""Exercise 2, consumer with manual commits: commit every 10 processed, once more on Ctrl-C.

Two runs of ``main()`` (imported, ``process_order`` observed):

1. ``orders`` (4 partitions) holds 37 orders before the start. Once the consumer has
   received all 37 and gone quiet, it gets Ctrl-C. 37 is no multiple of 10, so the commits
   must come after messages 10, 20 and 30, and the final one must cover the last 7.
2. ``orders`` does not exist at the start, so the first polls return the broker's
   UNKNOWN_TOPIC_OR_PART error; then the harness creates the topic and produces 5 orders,
   which the consumer must go on to process.

"Every 10th message" reads as 10 messages received (poll() one at a time) or 10 processed
(a consume() batch handled and committed 10 at a time); the count may be printed or
logged to stderr; Ctrl-C may arrive as KeyboardInterrupt or through a SIGINT handler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from pytest_kafka_lab.grading.consumer_evidence import (
    STOP_TIMEOUT,
    SUBSCRIBE_TIMEOUT,
    Idle,
    Placed,
    await_quietly,
    await_work,
    commits_ahead,
    config_value,
    contiguous_ends,
    create_if_absent,
    group_offsets,
    is_false,
    polled,
    positions,
    processed_count,
    produce_orders,
    quiet_after,
    stop,
    subscribed,
    subscriptions,
    successes,
)
from pytest_kafka_lab.grading.evidence import counted, listing
from pytest_kafka_lab.grading.exercise_setup import ExerciseLab, exercise_setup
from pytest_kafka_lab.grading.integrity import mark_unfetched_calls
from pytest_kafka_lab.grading.sandbox import Event, Run
from pytest_kafka_lab.grading.verdicts import require_ran
from pytest_kafka_lab.grading.wire.evidence import group_requests, left_group

pytestmark = pytest.mark.exercise("ex2", "consumer with manual commits")

# What each check's verdict rests on (see ``grading.report.EVIDENCE``).
EVIDENCE = {
    "automatic_commits_are_switched_off": ("report",),
    "joins_order_processor_from_the_earliest_offset": ("report", "wire"),
    "processes_every_order_before_ctrl_c": ("calls", "wire"),
    "commits_after_every_10th_message": ("report", "calls", "wire"),
    "commits_are_synchronous": ("report", "wire"),
    "commits_are_never_ahead_of_processing": ("calls", "report", "wire"),
    "final_commit_covers_exactly_the_processed_messages": ("broker", "calls"),
    "closes_the_consumer_on_ctrl_c": ("report", "wire"),
    "prints_the_number_processed": ("output", "calls"),
    "survives_a_broker_reported_error": ("report", "calls", "wire"),
}

FILE = "exercise_consumer.py"
GROUP = "order-processor"
TOPIC = "orders"
COUNT = 37  # not a multiple of 10: a missing final commit leaves 7 orders uncovered
EVERY = 10
LATER = range(101, 106)  # orders produced after the broker reported its error
OBSERVE = {"process_order": {"key": "order_id"}}
LATEST = ("latest", "largest", "end")
# librdkafka's own log lines on stderr (``%4|1700000000.123|...``), and time stamps in
# logging's lines, say nothing about the count a submission printed.
LIBRDKAFKA_LOG = re.compile(r"^%\d\|")
TIME_STAMP = re.compile(r"\d{4}-\d\d-\d\d|\d{1,2}:\d\d(:\d\d)?([,.]\d+)?")

lab = exercise_setup("ex2", {TOPIC: 4})


@dataclass(frozen=True)
class Evidence:
    orders: dict[str, Placed]
    run: Run
    stalled: str | None  # what the harness waited for in vain before Ctrl-C
    interrupted_at: float
    committed: dict[int, int]  # partition -> offset the group committed, after the run
    error_run: Run | None  # None: the first run never subscribed, no point in a second
    error_stalled: str | None
    later: dict[str, Placed]


def broker_errors(events: list[Event]) -> list[Event]:
    return [event for event in events if event["kind"] == "polled" and "error" in event]


def any_broker_error(events: list[Event]) -> bool:
    # A bool: wait_for_event takes any result but None and False (even []) as satisfied.
    return bool(broker_errors(events))


@pytest.fixture(scope="module")
def ex2(lab: ExerciseLab) -> Evidence:
    orders = produce_orders(lab.broker, range(1, COUNT + 1))
    process = lab.sandbox.start_call(lab.submission, FILE, wrap=OBSERVE)
    stalled = await_work(process, TOPIC, quiet_after(polled, COUNT, orders, TOPIC), lab.timeout,
                         f"the consumer to receive all {COUNT} orders and go quiet",
                         Idle.after(orders, TOPIC))
    interrupted_at = stop(process)
    run = require_ran(process.finish(STOP_TIMEOUT))
    mark_unfetched_calls(run, "process_order", TOPIC, positions(orders))
    committed = group_offsets(lab.broker, GROUP, TOPIC)

    error_run, error_stalled, later = None, None, {}
    if subscribed(run.events):
        lab.reset_course()
        process = lab.sandbox.start_call(lab.submission, FILE, wrap=OBSERVE)
        error_stalled = await_quietly(
            process, any_broker_error, min(lab.timeout, SUBSCRIBE_TIMEOUT),
            f"poll() to return the broker's error for the missing topic {TOPIC!r}")
        if process.process.poll() is None:
            create_if_absent(lab.admin, TOPIC, 4)
            later = produce_orders(lab.broker, LATER)
            error_stalled = error_stalled or await_quietly(
                process, quiet_after(polled, len(LATER), later, TOPIC), lab.timeout,
                f"the consumer to receive the {len(LATER)} orders produced after the error",
                Idle.after(later, TOPIC))
        stop(process)
        error_run = process.finish(STOP_TIMEOUT)
    return Evidence(orders, run, stalled, interrupted_at, committed, error_run, error_stalled,
                    later)


def consumer_config(ex2: Evidence) -> dict[str, object]:
    configs = ex2.run.client_configs("consumer")
    assert configs, (f"no confluent_kafka Consumer was created. {ex2.run.summary()}."
                     + (f" {ex2.stalled}" if ex2.stalled else ""))
    return configs[0]


def processed(ex2: Evidence) -> dict[str, int]:
    """Orders whose process_order() returned, with the index of that event."""
    return {order_id: index for order_id, index in successes(ex2.run.events).items()
            if order_id in ex2.orders}


def offset_reset(config: dict[str, object]) -> str:
    """The consumer's auto.offset.reset as a message names it, set or not."""
    if "auto.offset.reset" in config:
        return f"auto.offset.reset={config['auto.offset.reset']!r}"
    return "no auto.offset.reset (librdkafka's default is latest)"


def skipped_by_latest(ex2: Evidence) -> str:
    """When a new group read none of the waiting orders because it starts at the end of
    each partition, say so and what to change; else ""."""
    configs = ex2.run.client_configs("consumer")
    if not configs or processed(ex2) or polled(ex2.run.events):
        return ""
    config = configs[0]
    if config_value(config, "auto.offset.reset", "latest") not in LATEST:
        return ""
    return (f" The group {GROUP!r} had no committed offsets, and the consumer had "
            f"{offset_reset(config)}: "
            "a new group then starts at the end of each partition, so it skipped the "
            f"{len(ex2.orders)} orders already waiting in {TOPIC!r}. Set "
            "'auto.offset.reset': 'earliest' to read them from the beginning.")


def test_automatic_commits_are_switched_off(ex2: Evidence) -> None:
    config = consumer_config(ex2)
    assert is_false(config, "enable.auto.commit", "true"), (
        f"the consumer was created with enable.auto.commit="
        f"{config.get('enable.auto.commit', 'unset (librdkafka commits automatically by default)')}"
        ": set 'enable.auto.commit': False, so that only your commit() calls move the group's "
        "offsets")


def test_joins_order_processor_from_the_earliest_offset(ex2: Evidence) -> None:
    config = consumer_config(ex2)
    reset = config_value(config, "auto.offset.reset", "latest")
    topics = [event["topics"] for event in ex2.run.of("subscribe")]
    assert (config.get("group.id") == GROUP and reset in ("earliest", "smallest", "beginning")
            and [TOPIC] in topics), (
        f"the consumer used group.id={config.get('group.id')!r}, {offset_reset(config)} "
        f"and subscribed to {subscriptions(ex2.run.events)}: the exercise reads {TOPIC!r} in "
        f"the group {GROUP!r} from the earliest offset.{skipped_by_latest(ex2)}")


def test_processes_every_order_before_ctrl_c(ex2: Evidence) -> None:
    done = processed(ex2)
    missing = sorted(set(ex2.orders) - set(done))
    assert not missing, (
        f"{len(ex2.orders)} orders waited in {TOPIC!r}; before Ctrl-C process_order() "
        f"returned for {len(done)} of them (missing {listing(missing)}), "
        f"{counted(polled(ex2.run.events), 'message was', 'messages were')} polled."
        + (skipped_by_latest(ex2) or " Decode each message's JSON value and call "
           "process_order(order).")
        + (f" {ex2.stalled}" if ex2.stalled else "") + f" {ex2.run.summary()}.")


def test_commits_after_every_10th_message(ex2: Evidence) -> None:
    before = [e for e in ex2.run.events if e["time"] < ex2.interrupted_at]
    received = polled(before)
    done = processed_count(before, len(before))
    assert received, (f"no message was consumed before Ctrl-C.{skipped_by_latest(ex2)} "
                      f"{ex2.run.summary()}.")
    # Read both ways: 10 received (poll() one by one), or 10 processed (a consume() batch
    # handled 10 at a time); either is the course's "every 10 messages".
    points = [index for index, event in enumerate(before) if event["kind"] == "commit"]
    by_received = [before[index].get("delivered") for index in points]
    by_processed = [processed_count(before, index) for index in points]
    expected = list(range(EVERY, received + 1, EVERY))
    expected_done = list(range(EVERY, done + 1, EVERY))
    # The processed reading needs something processed: a consumer that polls and never
    # processes nor commits has not committed "after every 10th processed".
    assert by_received == expected or (done and by_processed == expected_done), (
        f"of the {counted(received, 'message')} received before Ctrl-C"
        + (f" ({done} processed)" if done != received else "")
        + f", the consumer should have committed after messages {listing(expected)}"
        + (f" (or after processing {listing(expected_done)})" if done != received else "")
        + " and at no other time; "
        + (f"it committed after messages {listing(by_received)}" if points else "it never did")
        + (f" (having processed {listing(by_processed)})" if points and by_processed != by_received
           else "")
        + f": count processed messages and call commit() once every {EVERY}")


def test_commits_are_synchronous(ex2: Evidence) -> None:
    commits = ex2.run.of("commit")
    assert commits, f"commit() was never called. {ex2.run.summary()}."
    asynchronous = [event for event in commits if event.get("asynchronous") is not False]
    assert not asynchronous, (
        f"{len(asynchronous)} of {len(commits)} commits were asynchronous: pass "
        "asynchronous=False, so that the commit is done before the consumer goes on (and "
        "before close() on Ctrl-C)")


def test_commits_are_never_ahead_of_processing(ex2: Evidence) -> None:
    config = consumer_config(ex2)
    events = ex2.run.events
    done = {ex2.orders[order_id].position: index for order_id, index in processed(ex2).items()}
    inputs = {placed.position for placed in ex2.orders.values()}
    assert ex2.run.of("commit"), f"commit() was never called. {ex2.run.summary()}."
    ahead = commits_ahead(events, done, inputs, TOPIC,
                          not is_false(config, "enable.auto.offset.store", "true"))
    assert not ahead, (
        f"offsets were committed ahead of processing: {listing(ahead, 3)} (process_order() "
        "had not returned for it). A crash then skips that order for good: commit only after "
        "process_order() returned for every message the commit covers")


def test_final_commit_covers_exactly_the_processed_messages(ex2: Evidence) -> None:
    done = {ex2.orders[order_id].position for order_id in processed(ex2)}
    assert done, (f"no order was processed (process_order() never returned)."
                  f"{skipped_by_latest(ex2)} {ex2.run.summary()}.")
    inputs = {placed.position for placed in ex2.orders.values()}
    expected = contiguous_ends(done, inputs)
    uncovered = sorted(placed.order_id for placed in ex2.orders.values()
                       if placed.position in done
                       and placed.offset >= ex2.committed.get(placed.partition, 0))
    unprocessed = sorted(placed.order_id for placed in ex2.orders.values()
                         if placed.position not in done
                         and placed.offset < ex2.committed.get(placed.partition, 0))
    assert ex2.committed == expected, (
        f"after Ctrl-C the group {GROUP!r} has committed {dict(sorted(ex2.committed.items()))} "
        f"(partition: offset) where the {len(done)} processed orders end at "
        f"{dict(sorted(expected.items()))}"
        + (f"; {len(uncovered)} processed orders are not covered ({listing(uncovered)}): on "
           "Ctrl-C (except KeyboardInterrupt / finally) commit what was processed since the last "
           "commit, synchronously, before close()" if uncovered else "")
        + (f"; {len(unprocessed)} orders that were never processed are covered "
           f"({listing(unprocessed)})" if unprocessed else ""))


def closed_unheard(ex2: Evidence, closes: list[Event]) -> list[str]:
    """The names on the wire of the consumers the run reported closing that had joined
    their group and never told it they were leaving: the broker contradicts such a
    close. A static member (``group.instance.id``) leaves without a word, so it is taken
    at its run's word."""
    if not ex2.run.witnessed:
        return []
    clients = {(event.get("pid"), event.get("client_id")): event
               for event in ex2.run.of("client", client="consumer")}
    unheard = []
    for close in closes:
        client = clients.get((close.get("pid"), close.get("client_id"))) or {}
        name = str(client.get("wire_client_id"))
        if "group.instance.id" in (client.get("config") or {}):
            continue
        if group_requests(ex2.run.wire, name) and not left_group(ex2.run.wire, name):
            unheard.append(name)
    return unheard


def test_closes_the_consumer_on_ctrl_c(ex2: Evidence) -> None:
    closes = [event for event in ex2.run.of("close") if event["time"] >= ex2.interrupted_at]
    assert closes, (
        "after Ctrl-C the consumer was not closed"
        + (f" (the run had already ended: {ex2.run.summary()})"
           if ex2.interrupted_at == float("inf") else f"; {ex2.run.summary()}")
        + ": call consumer.close() in a finally block, so that the group learns at once that "
        "the member left")
    unheard = closed_unheard(ex2, closes)
    assert len(unheard) < len(closes), (
        "after Ctrl-C the run reported closing its consumer, but the broker never heard it "
        f"leave the group {GROUP!r} (no LeaveGroup request came from {', '.join(unheard)}): "
        "consumer.close() must run to its end before the program exits")


def last_lines(output: str, count: int = 3) -> list[str]:
    """The last ``count`` lines a submission wrote itself (librdkafka's logs left out)."""
    lines = [line for line in output.splitlines()
             if line.strip() and not LIBRDKAFKA_LOG.match(line)]
    return lines[-count:]


def test_prints_the_number_processed(ex2: Evidence) -> None:
    count = len(processed(ex2))
    assert count, f"no order was processed.{skipped_by_latest(ex2)} {ex2.run.summary()}."
    # print() goes to stdout, logging to stderr by default: the count may end either.
    tails = {"stdout": last_lines(ex2.run.stdout), "stderr": last_lines(ex2.run.stderr)}
    assert any(re.search(rf"(?<![\d-]){count}(?!\d)", TIME_STAMP.sub(" ", line))
               for tail in tails.values() for line in tail), (
        f"{count} orders were processed, but the last lines printed (or logged) do not say so: "
        + "; ".join(f"{name} ends {tail}" if tail else f"nothing on {name}"
                    for name, tail in tails.items())
        + "; print the number processed when the consumer stops")


def test_survives_a_broker_reported_error(ex2: Evidence) -> None:
    run = ex2.error_run
    assert run is not None, (
        "no consumer subscribed in the first run, so its handling of broker errors could not "
        "be tried")
    errors = broker_errors(run.events)
    assert errors, (
        f"the consumer was started before {TOPIC!r} existed, yet poll() returned no error "
        f"(did it create the topic itself?); {run.summary()}")
    crashed = run.of("raised")
    assert not crashed, (
        f"poll() returned a message carrying the broker's error ({errors[0]['error']}) and "
        f"main() then raised {crashed[0]['error']}: check msg.error() before using a message, "
        "report it, and continue polling")
    assert ex2.later, (
        f"main() ended right after poll() returned a message carrying the broker's error "
        f"({errors[0]['error']}); {run.summary()}. Report the error and continue polling")
    done = {order_id for order_id in successes(run.events) if order_id in ex2.later}
    assert done == set(ex2.later), (
        f"after poll() returned the broker's error ({errors[0]['error']}), the consumer did not "
        f"go on to process the {len(ex2.later)} orders produced next (processed {len(done)}); "
        + (f"{ex2.error_stalled} " if ex2.error_stalled else "")
        + f"{run.summary()}. Report the error and continue polling")
