"""Exercise 3, consumer group scaling: a cooperative rebalance, observed as it happens.

The harness plays the course's demonstration with the two scripts, against a fresh
``high-volume`` topic (6 partitions) and group ``scaling-demo``:

1. ``producer_continuous.py`` and one ``consumer_scaling.py`` start; the consumer must
   come to own all 6 partitions and consume from each;
2. a second consumer starts; each must come to own 3 and consume from them;
3. the second gets Ctrl-C; the first must own all 6 again and consume from them;
4. the producer gets Ctrl-C; the first consumer reads to the end, then gets Ctrl-C.

Each step waits for what it expects, seen both in the consumers' rebalance callbacks
(the instrumentation records every call) and in the broker's description of the group
when it is stable, never for a fixed time. A step that never comes is noted, and the
steps after it are not played. Every wait is shorter than the classic protocol's 45 s
session timeout, so a member that leaves without telling the group is noticed.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.course import reset_course
from pytest_kafka_lab.grading.evidence import listing
from pytest_kafka_lab.grading.plugin import require_exercise, require_ran
from pytest_kafka_lab.grading.sandbox import Event, Run, Sandbox, SubmissionProcess
from pytest_kafka_lab.readers import describe_group, end_offsets
from pytest_kafka_lab.waiting import WaitTimeout, wait_for

pytestmark = pytest.mark.exercise("ex3", "consumer group scaling")

TOPIC = "high-volume"
GROUP = "scaling-demo"
ALL = frozenset(range(6))
# Long enough for a classic rebalance (a member notices it at its next heartbeat, 3 s by
# default, and cooperative-sticky takes two rounds), shorter than a 45 s session timeout.
STEP_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


# settled(events of each consumer, each member's partitions as the broker has them, or
# None for a first look at the events alone): whether a step's awaited state has come.
Settled = Callable[[list[list[Event]], list[frozenset[int]] | None], bool]


@dataclass
class Step:
    """What one step of the demonstration awaited and what was seen when it ended."""

    reached: bool = False
    problem: str = "an earlier step of the demonstration never came"
    started: float = 0.0  # event clock (time.time) when the step began
    first: frozenset[int] = frozenset()  # partitions the first consumer owned at its end
    second: frozenset[int] = frozenset()
    broker: str = ""  # the broker's view of the group at its end


@dataclass
class Evidence:
    producer: Run | None = None
    first: Run | None = None
    second: Run | None = None
    alone: Step = field(default_factory=Step)
    shared: Step = field(default_factory=Step)
    taken_back: Step = field(default_factory=Step)
    ends: dict[int, int] = field(default_factory=dict)  # end offsets after the producer stopped


def owned(events: list[Event], until: float | None = None) -> frozenset[int]:
    """The partitions of ``TOPIC`` a consumer owns after its rebalance callbacks so far."""
    partitions: set[int] = set()
    for event in events:
        if event["kind"] != "rebalance" or (until is not None and event["time"] > until):
            continue
        changed = {number for topic, number, _ in event["partitions"] if topic == TOPIC}
        if event["callback"] == "on_assign":
            partitions |= changed
        else:
            partitions -= changed
    return frozenset(partitions)


def polled(events: list[Event], since: float = 0.0) -> dict[int, set[int]]:
    """``{partition: offsets}`` of the messages of ``TOPIC`` a consumer polled."""
    offsets: dict[int, set[int]] = defaultdict(set)
    for event in events:
        if event["kind"] == "polled" and event.get("topic") == TOPIC and event["time"] >= since:
            offsets[event["partition"]].add(event["offset"])
    return dict(offsets)


def seen_at_the_end(step: Step, whose: str) -> str:
    """What was observed when ``step`` ended, or why it was not played."""
    if not step.started:
        return f"this was not observed: {step.problem}"
    return f"{whose}, and {step.broker} ({step.problem})"


def numbers(partitions: Any) -> str:
    return "[" + ", ".join(map(str, sorted(partitions))) + "]"


def broker_members(source: KafkaBroker) -> tuple[bool, list[frozenset[int]], str]:
    """(stable, each member's partitions, a description for messages) of the group."""
    try:
        group = describe_group(source, GROUP, timeout=5)
    except Exception as error:  # an unknown group, a coordinator moving: not there yet
        return False, [], f"the broker could not describe group {GROUP!r} ({error})"
    members = sorted((frozenset(tp.partition for tp in member.assignment.topic_partitions
                                if tp.topic == TOPIC) for member in group.members), key=sorted)
    shown = ", ".join(numbers(member) for member in members) or "no members"
    return (group.state == ConsumerGroupState.STABLE, members,
            f"the broker shows group {GROUP!r} {group.state.name.lower()} with {shown}")


def await_step(step: Step, processes: dict[str, SubmissionProcess], broker: KafkaBroker,
               settled: Settled, awaited: str, timeout: float) -> None:
    """Wait until ``settled(events of each process, broker members)`` holds while the
    group is stable; note on ``step`` what was seen either way."""
    step.started = step.started or time.time()
    seen: dict[str, Any] = {}

    def check() -> bool:
        for name, process in processes.items():
            if process.process.poll() is not None:
                raise AssertionError(f"the {name} consumer exited (code "
                                     f"{process.process.returncode}) before {awaited}")
        events = [process.events for process in processes.values()]
        seen["owned"] = [owned(each) for each in events]
        if not settled(events, None):
            seen["broker"] = ""
            return False
        stable, members, seen["broker"] = broker_members(broker)
        return stable and bool(settled(events, members))

    try:
        wait_for(check, timeout, awaited)
        step.reached, step.problem = True, ""
    except AssertionError as error:  # a timeout, or a consumer that died
        step.problem = str(error)
    finally:
        mine = seen.get("owned", [])
        step.first = mine[0] if mine else frozenset()
        step.second = mine[1] if len(mine) > 1 else frozenset()
        step.broker = seen.get("broker") or broker_members(broker)[2]


def alone(events: list[list[Event]], members: list[frozenset[int]] | None) -> bool:
    """The first consumer owns all 6, has consumed from each, and the broker agrees."""
    (first,) = events
    if owned(first) != ALL or set(polled(first)) != ALL:
        return False
    return members is None or members == [ALL]


def shared(events: list[list[Event]], members: list[frozenset[int]] | None) -> bool:
    """Both consumers own partitions between them all, the second has consumed from
    each of its own, and the broker agrees (sizes are judged by the check)."""
    first, second = (owned(each) for each in events)
    if not first or not second or first & second or first | second != ALL:
        return False
    if not set(polled(events[1])) >= second:
        return False
    return members is None or sorted([first, second], key=sorted) == members


def play(evidence: Evidence, sandbox: Sandbox, submission: Path, broker: KafkaBroker,
         step_timeout: float) -> None:
    """Run the demonstration; every process it starts is stopped when it returns."""
    producer = sandbox.start_script(submission, "producer_continuous.py")
    first = sandbox.start_script(submission, "consumer_scaling.py")
    second: SubmissionProcess | None = None
    try:
        await_step(evidence.alone, {"first": first}, broker, alone,
                   "one consumer to own all 6 partitions of 'high-volume'", step_timeout)
        if not evidence.alone.reached:
            return
        evidence.shared.started = time.time()
        second = sandbox.start_script(submission, "consumer_scaling.py")
        await_step(evidence.shared, {"first": first, "second": second}, broker, shared,
                   "two consumers to share the 6 partitions", step_timeout)
        if not evidence.shared.reached:
            return
        second.interrupt()
        evidence.second = second.finish(STOP_TIMEOUT)
        second = None
        left = time.time()
        takeover = ALL - evidence.shared.first

        def alone_again(events: list[list[Event]], members: list[frozenset[int]] | None) -> bool:
            (mine,) = events
            return (owned(mine) == ALL and set(polled(mine, since=left)) >= takeover
                    and (members is None or members == [ALL]))

        evidence.taken_back.started = left
        await_step(evidence.taken_back, {"first": first}, broker, alone_again,
                   "the first consumer to own all 6 partitions again", step_timeout)
        if not evidence.taken_back.reached:
            return
        producer.interrupt()
        evidence.producer = producer.finish(STOP_TIMEOUT)
        evidence.ends = end_offsets(broker, TOPIC)
        ends = evidence.ends

        def read_to_the_end() -> bool:
            offsets = polled(first.events)
            return all(ends[p] == 0 or max(offsets.get(p, {-1})) >= ends[p] - 1 for p in ends)

        # Should it not, the check on consumed messages names what is missing.
        with contextlib.suppress(WaitTimeout):
            wait_for(read_to_the_end, step_timeout, "the first consumer to read to the end")
    finally:
        for process in (second, first, producer):
            if process is not None and process.process.poll() is None:
                process.interrupt()
        if second is not None:
            evidence.second = second.finish(STOP_TIMEOUT)
        evidence.first = first.finish(STOP_TIMEOUT)
        if evidence.producer is None:
            evidence.producer = producer.finish(STOP_TIMEOUT)


@pytest.fixture(scope="module")
def ex3(
    lab_submission: Path, lab_sandbox: Sandbox, lab_timeout: float, kafka_broker: KafkaBroker,
    kafka_admin: AdminClient,
) -> Evidence:
    require_exercise(lab_submission, "ex3")
    reset_course(kafka_admin, {TOPIC: 6})
    evidence = Evidence()
    play(evidence, lab_sandbox, lab_submission, kafka_broker, min(STEP_TIMEOUT, lab_timeout))
    for run in (evidence.producer, evidence.first, evidence.second):
        if run is not None:
            require_ran(run)
    return evidence


def first_run(ex3: Evidence) -> Run:
    assert ex3.first is not None
    return ex3.first


def test_consumer_is_configured_for_cooperative_rebalancing(ex3: Evidence) -> None:
    configs = [config for run in (ex3.first, ex3.second) if run is not None
               for config in run.client_configs("consumer")]
    assert configs, f"consumer_scaling.py created no Consumer. {first_run(ex3).summary()}."
    for config in configs:
        # librdkafka's defaults: the classic protocol, and the latest offset.
        strategy = str(config.get("partition.assignment.strategy", "range,roundrobin"))
        protocol = str(config.get("group.protocol", "classic"))
        reset = str(config.get("auto.offset.reset", "latest"))
        group = config.get("group.id")
        assert (strategy == "cooperative-sticky" and protocol == "classic"
                and reset in ("latest", "largest", "end") and group == GROUP), (
            f"the consumer was configured with group.id={group}, "
            f"partition.assignment.strategy={strategy}, group.protocol={protocol} and "
            f"auto.offset.reset={reset}: the exercise uses group.id '{GROUP}', "
            "'partition.assignment.strategy': 'cooperative-sticky' with 'group.protocol': "
            "'classic' (the client chooses the assignment), and 'auto.offset.reset': 'latest'")


def test_one_consumer_owns_all_six_partitions(ex3: Evidence) -> None:
    step = ex3.alone
    assert step.reached, (
        f"expected the first consumer, alone in group '{GROUP}', to own all 6 partitions of "
        f"'{TOPIC}' and consume from each; "
        + seen_at_the_end(step, f"its rebalance callbacks gave it {numbers(step.first)}")
        + f". {first_run(ex3).summary()}.")


def test_two_consumers_share_the_partitions_three_each(ex3: Evidence) -> None:
    step = ex3.shared
    assert step.reached, (
        f"expected the two consumers of group '{GROUP}' to share the 6 partitions when the "
        "second joined; "
        + seen_at_the_end(step, f"the first owned {numbers(step.first)}, the second "
                                f"{numbers(step.second)}")
        + f". Both consumers must join the one group '{GROUP}' and subscribe to '{TOPIC}'.")
    assert len(step.first) == len(step.second) == 3, (
        f"unbalanced assignment: the first consumer owns {numbers(step.first)}, the second "
        f"{numbers(step.second)}; cooperative-sticky gives two members of a 6-partition "
        "topic 3 partitions each")


def test_first_consumer_gives_up_only_the_partitions_it_loses(ex3: Evidence) -> None:
    step = ex3.shared
    events = [event for event in first_run(ex3).of("rebalance")
              if event["callback"] != "on_assign" and event["time"] >= step.started
              and (not ex3.taken_back.started or event["time"] < ex3.taken_back.started)]
    revoked = {number for event in events for topic, number, _ in event["partitions"]
               if topic == TOPIC}
    kept = step.first
    assert not revoked & kept, (
        f"when the second consumer joined, the first one's on_revoke took away "
        f"{numbers(revoked)}, including {numbers(revoked & kept)} that it kept (it owns "
        f"{numbers(kept)} afterwards): a full revoke, as an eager strategy does. With "
        "'partition.assignment.strategy': 'cooperative-sticky' a member gives up only the "
        "partitions that move, and goes on consuming the others during the rebalance")
    assert step.reached, (
        "the rebalance when the second consumer joined was not observed to its end: "
        + step.problem)
    lost = ALL - kept
    assert revoked == lost, (
        f"the first consumer lost {numbers(lost)} to the second, but its rebalance callbacks "
        f"revoked {numbers(revoked)}: with cooperative-sticky, on_revoke names exactly the "
        "partitions that move")


def test_partitions_are_taken_back_when_a_member_leaves(ex3: Evidence) -> None:
    step = ex3.taken_back
    assert step.reached, (
        "expected the first consumer to own all 6 partitions again after the second was "
        "stopped with Ctrl-C; "
        + seen_at_the_end(step, f"its rebalance callbacks gave it {numbers(step.first)}")
        + ". A consumer stopped with Ctrl-C must close() and so leave the group at once; one "
        "that does not (or a static member, with group.instance.id) keeps its partitions "
        "until its session times out")


def test_messages_keep_being_consumed_through_rebalances(ex3: Evidence) -> None:
    assert ex3.ends, (
        "the demonstration did not get as far as stopping the producer, so consumption "
        "through the rebalances could not be judged: "
        + (ex3.taken_back.problem or ex3.shared.problem or ex3.alone.problem))
    seen: dict[int, set[int]] = defaultdict(set)
    for run in (ex3.first, ex3.second):
        for partition, offsets in polled(run.events if run else []).items():
            seen[partition] |= offsets
    # Where the first consumer began in each partition: it was assigned all 6 first.
    first_polled = polled(first_run(ex3).events)
    missing: dict[int, list[int]] = {}
    for partition, end in sorted(ex3.ends.items()):
        start = min(first_polled.get(partition) or seen[partition] or {end})
        absent = [offset for offset in range(start, end) if offset not in seen[partition]]
        if absent:
            missing[partition] = absent
    assert not missing, (
        "messages produced after the first assignment were never consumed: "
        + "; ".join(f"partition {p}: {len(gone)} messages, offsets {listing(gone, 4)}"
                    for p, gone in missing.items())
        + f" (the topic ends at {dict(sorted(ex3.ends.items()))}). Offsets must be "
        "committed for the partitions a consumer gives up, so that the member taking them "
        "over goes on from there instead of from the latest offset")
