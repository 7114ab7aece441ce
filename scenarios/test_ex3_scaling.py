"""Exercise 3, consumer group scaling: a cooperative rebalance, observed as it happens.

The harness plays the course's demonstration with the two scripts, against a fresh
``high-volume`` topic (6 partitions) and group ``scaling-demo``:

1. ``producer_continuous.py`` and one ``consumer_scaling.py`` start; the consumer must
   come to own all 6 partitions and consume what arrives in them;
2. a second consumer starts; each must come to own 3 and consume what arrives in theirs;
3. the second gets Ctrl-C; the first must own all 6 again and consume what arrives;
4. the producer gets Ctrl-C; the first consumer reads to the end, then gets Ctrl-C.

Ownership is judged from assignments: the consumers' rebalance callbacks (the
instrumentation records every call) and the broker's description of the group, which
must agree while the group is stable. Consumption is judged only for the partitions that
really receive data, as the broker's end offsets show: the course's producer leaves
partitioning to the default partitioner, which puts its six keys into three partitions.
Each step waits for what it expects, never for a fixed time. A step that never comes is
noted, and the steps after it are not played. Every wait is shorter than the classic
protocol's 45 s session timeout, so a member that leaves without telling the group is
noticed.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupState, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.evidence import counted, listing
from pytest_kafka_lab.grading.exercise_setup import ExerciseLab, exercise_setup
from pytest_kafka_lab.grading.sandbox import Event, Run, Sandbox, SubmissionProcess
from pytest_kafka_lab.grading.verdicts import require_ran
from pytest_kafka_lab.readers import end_offsets
from pytest_kafka_lab.waiting import WaitTimeout, wait_for

pytestmark = pytest.mark.exercise("ex3", "consumer group scaling")

# What each check's verdict rests on (see ``grading.report.EVIDENCE``).
EVIDENCE = {
    "consumer_is_configured_for_cooperative_rebalancing": ("report", "wire"),
    "rebalance_callbacks_show_every_assignment_and_revocation": ("report", "output"),
    "one_consumer_owns_all_six_partitions": ("report", "broker"),
    "two_consumers_share_the_partitions_three_each": ("report", "broker"),
    "first_consumer_gives_up_only_the_partitions_it_loses": ("report", "broker"),
    "partitions_are_taken_back_when_a_member_leaves": ("report", "broker"),
    "messages_keep_being_consumed_through_rebalances": ("report", "wire", "broker"),
}

TOPIC = "high-volume"
GROUP = "scaling-demo"
ALL = frozenset(range(6))
# Long enough for a classic rebalance (a member notices it at its next heartbeat, 3 s by
# default, and cooperative-sticky takes two rounds) on a machine loaded by two gradings,
# each run's traffic through its proxy (20 s was once too short for an eager group under
# pytest -n 2), and shorter than a 45 s session timeout. A step ends when it is reached.
STEP_TIMEOUT = 30.0
# A step never waits less, whatever --lab-timeout says: the consumers run until the
# harness stops them, and a cooperative rebalance is two rounds, each noticed by a
# member only at its next heartbeat.
SHORTEST_STEP = 15.0
STOP_TIMEOUT = 15.0
BROKER_TIMEOUT = 5.0

lab = exercise_setup("ex3", {TOPIC: 6})

# settled(the partitions each consumer owns after its rebalance callbacks): whether the
# ownership a step awaits has come, as the consumers see it.
Settled = Callable[[list[frozenset[int]]], bool]


@dataclass
class Step:
    """What one step of the demonstration awaited and what was seen when it ended."""

    reached: bool = False
    problem: str = "an earlier step of the demonstration never came"
    started: float = 0.0  # event clock (time.time) when the step began
    owners: list[frozenset[int]] = field(default_factory=list)  # each consumer's, at its end
    broker: str = ""  # the broker's view of the group at its end
    # Once the awaited ownership held (callbacks and broker agreeing): the partitions
    # whose end offset grew since, and those of them whose owner consumed nothing new.
    measured: bool = False
    receiving: frozenset[int] = frozenset()
    behind: frozenset[int] = frozenset()
    producer_exited: bool = False  # the step ended because the producer stopped by itself

    @property
    def first(self) -> frozenset[int]:
        return self.owners[0] if self.owners else frozenset()

    @property
    def second(self) -> frozenset[int]:
        return self.owners[1] if len(self.owners) > 1 else frozenset()


@dataclass
class Evidence:
    producer: Run | None = None
    first: Run | None = None
    second: Run | None = None
    alone: Step = field(default_factory=Step)
    shared: Step = field(default_factory=Step)
    taken_back: Step = field(default_factory=Step)
    ends: dict[int, int] = field(default_factory=dict)  # end offsets after the producer stopped


class Consumed:
    """A running consumer's rebalance callbacks and the furthest offset it polled in each
    partition, read from its event log as it grows (a fast producer makes the log long,
    and a step looks at it many times a second)."""

    def __init__(self, process: SubmissionProcess) -> None:
        self.process = process
        self.seen = 0  # events taken in so far
        self.owned: set[int] = set()
        self.furthest: dict[int, int] = {}

    def update(self) -> None:
        events = self.process.events
        for event in events[self.seen:]:
            if event.get("kind") == "rebalance":
                changed = {number for topic, number, _ in event["partitions"] if topic == TOPIC}
                if event["callback"] == "on_assign":
                    self.owned |= changed
                else:
                    self.owned -= changed
            elif event.get("kind") == "polled" and event.get("topic") == TOPIC:
                partition = event["partition"]
                self.furthest[partition] = max(self.furthest.get(partition, -1), event["offset"])
        self.seen = len(events)


def polled(events: list[Event]) -> dict[int, set[int]]:
    """``{partition: offsets}`` of the messages of ``TOPIC`` a consumer polled."""
    offsets: dict[int, set[int]] = defaultdict(set)
    for event in events:
        if event["kind"] == "polled" and event.get("topic") == TOPIC:
            offsets[event["partition"]].add(event["offset"])
    return dict(offsets)


def numbers(partitions: Any) -> str:
    return "[" + ", ".join(map(str, sorted(partitions))) + "]"


def traffic(step: Step) -> str:
    """Which partitions received messages while the step's ownership held, which none,
    and which of them their owner did not consume."""
    if not step.measured:
        return ""
    if not step.receiving:
        return (f"; no partition of '{TOPIC}' received a message meanwhile "
                "(producer_continuous.py must keep producing until Ctrl-C)")
    idle = ALL - step.receiving
    text = (f"; partitions {numbers(step.receiving)} received messages meanwhile"
            + (f", and {numbers(idle)} received none (so nothing was due from them)"
               if idle else ""))
    if step.behind:
        text += (f", but nothing new was consumed from {numbers(step.behind)} by the "
                 "consumer that owns them")
    return text


def seen_at_the_end(step: Step, whose: str) -> str:
    """What was observed when ``step`` ended, or why it was not played."""
    if not step.started:
        return f"this was not observed: {step.problem}"
    return f"{whose}, and {step.broker}{traffic(step)} ({step.problem})"


def broker_members(admin: AdminClient) -> tuple[bool, list[frozenset[int]], str]:
    """(stable, each member's partitions, a description for messages naming the members)
    of the group as the broker has it."""
    try:
        group = admin.describe_consumer_groups(
            [GROUP], request_timeout=BROKER_TIMEOUT)[GROUP].result(BROKER_TIMEOUT)
    except Exception as error:  # an unknown group, a coordinator moving: not there yet
        return False, [], f"the broker could not describe group {GROUP!r} ({error})"
    members = sorted(((frozenset(tp.partition for tp in member.assignment.topic_partitions
                                 if tp.topic == TOPIC), member.member_id)
                      for member in group.members), key=lambda pair: sorted(pair[0]))
    shown = ", ".join(f"{short(member)} owning {numbers(parts)}" for parts, member in members)
    return (group.state == ConsumerGroupState.STABLE, [parts for parts, _ in members],
            f"the broker shows group {GROUP!r} {group.state.name.lower()} with "
            + (f"{len(members)} member(s): {shown}" if members else "no members"))


def short(member_id: str) -> str:
    """``rdkafka-1a2b3c4d…``: enough of a member id to tell members apart."""
    return member_id if len(member_id) <= 17 else member_id[:16] + "…"


def latest_offsets(admin: AdminClient) -> dict[int, int] | None:
    """The end offset of each partition of ``TOPIC`` now, or None while it cannot be read."""
    request = {TopicPartition(TOPIC, partition): OffsetSpec.latest() for partition in ALL}
    try:
        futures = admin.list_offsets(request, request_timeout=BROKER_TIMEOUT)
        return {tp.partition: future.result(BROKER_TIMEOUT).offset
                for tp, future in futures.items()}
    except KafkaException:  # a leader moving: asked again, it answers
        return None


def await_step(step: Step, consumers: dict[str, Consumed], producer: SubmissionProcess,
               admin: AdminClient, settled: Settled, awaited: str, timeout: float) -> None:
    """Wait until ``settled(each consumer's partitions)`` holds, the broker holds the group
    stable with the same assignment, and, from then on, each partition that receives
    messages has had new ones consumed by its owner; note on ``step`` what was seen."""
    step.started = step.started or time.time()
    since: dict[int, int] = {}  # end offsets when the awaited ownership was first seen

    def check() -> bool:
        for name, process in (("producer_continuous.py", producer),
                              *((f"the {name} consumer", each.process)
                                for name, each in consumers.items())):
            if process.process.poll() is not None:
                step.producer_exited = process is producer
                raise AssertionError(f"{name} exited (code {process.process.returncode}) "
                                     f"before {awaited}")
        for each in consumers.values():
            each.update()
        step.owners = [frozenset(each.owned) for each in consumers.values()]
        ends = None
        if settled(step.owners):
            stable, members, step.broker = broker_members(admin)
            if stable and members == sorted(step.owners, key=sorted):
                ends = latest_offsets(admin)
        else:
            step.broker = ""
        if ends is None:  # the awaited ownership does not hold (yet, or any more)
            since.clear()
            step.measured, step.receiving, step.behind = False, frozenset(), frozenset()
            return False
        if not since:
            since.update(ends)
        step.measured = True
        step.receiving = frozenset(p for p, end in ends.items() if end > since[p])
        owner = {p: each for each, mine in zip(consumers.values(), step.owners, strict=True)
                 for p in mine}
        step.behind = frozenset(p for p in step.receiving
                                if owner[p].furthest.get(p, -1) < since[p])
        return bool(step.receiving) and not step.behind

    try:
        wait_for(check, timeout, awaited)
        step.reached, step.problem = True, ""
    except AssertionError as error:  # a timeout, or a process that died
        step.problem = str(error)
    finally:
        step.broker = step.broker or broker_members(admin)[2]


def alone(owners: list[frozenset[int]]) -> bool:
    """The one consumer owns all 6."""
    return owners == [ALL]


def shared(owners: list[frozenset[int]]) -> bool:
    """Both consumers own partitions, each partition once between them (sizes are judged
    by the check)."""
    first, second = owners
    return bool(first) and bool(second) and not first & second and first | second == ALL


def play(evidence: Evidence, sandbox: Sandbox, submission: Path, broker: KafkaBroker,
         admin: AdminClient, step_timeout: float) -> None:
    """Run the demonstration; every process it starts is stopped when it returns."""
    producer = sandbox.start_script(submission, "producer_continuous.py")
    first = sandbox.start_script(submission, "consumer_scaling.py")
    second: SubmissionProcess | None = None
    try:
        await_step(evidence.alone, {"first": Consumed(first)}, producer, admin, alone,
                   "one consumer to own all 6 partitions of 'high-volume' and consume "
                   "what arrives in them", step_timeout)
        if not evidence.alone.reached:
            return
        evidence.shared.started = time.time()
        second = sandbox.start_script(submission, "consumer_scaling.py")
        await_step(evidence.shared, {"first": Consumed(first), "second": Consumed(second)},
                   producer, admin, shared, "two consumers to share the 6 partitions and "
                   "consume what arrives in theirs", step_timeout)
        if not evidence.shared.reached:
            return
        second.interrupt()
        evidence.second = second.finish(STOP_TIMEOUT)
        second = None
        evidence.taken_back.started = time.time()
        await_step(evidence.taken_back, {"first": Consumed(first)}, producer, admin, alone,
                   "the first consumer to own all 6 partitions again and consume what "
                   "arrives in them", step_timeout)
        if not evidence.taken_back.reached:
            return
        producer.interrupt()
        evidence.producer = producer.finish(STOP_TIMEOUT)
        evidence.ends = end_offsets(broker, TOPIC)
        ends = evidence.ends
        reader = Consumed(first)

        def read_to_the_end() -> bool:
            reader.update()
            return all(reader.furthest.get(p, -1) >= end - 1 for p, end in ends.items() if end)

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
def ex3(lab: ExerciseLab) -> Evidence:
    evidence = Evidence()
    play(evidence, lab.sandbox, lab.submission, lab.broker, lab.admin,
         max(SHORTEST_STEP, min(STEP_TIMEOUT, lab.timeout)))
    for run in (evidence.producer, evidence.first, evidence.second):
        if run is not None:
            require_ran(run)
    return evidence


def first_run(ex3: Evidence) -> Run:
    assert ex3.first is not None
    return ex3.first


def summary(ex3: Evidence) -> str:
    """How the first consumer's run ended, and the producer's if it ended by itself."""
    text = f"consumer_scaling.py: {first_run(ex3).summary()}"
    if ex3.producer is not None and not ex3.producer.interrupted:
        text += f"; producer_continuous.py: {ex3.producer.summary()}"
    return text


def advice(ex3: Evidence, step: Step, text: str) -> str:
    """What to change, for a step that ended without what it awaited: the producer if it
    stopped by itself, the consumption if the ownership came but messages were not
    consumed, else ``text``."""
    if not step.started:
        return ""
    if step.producer_exited and ex3.producer is not None:
        return (f" producer_continuous.py must keep producing until Ctrl-C: "
                f"{ex3.producer.summary()}{raised(ex3.producer)}.")
    if step.behind:
        return (" Each consumer must go on polling, and so consuming, every partition it "
                "owns, through and after each rebalance.")
    return text


def raised(run: Run) -> str:
    """The exception a script died of, as Python printed it last, or ""."""
    if "Traceback" not in run.stderr:
        return ""
    errors = [line for line in run.stderr.splitlines()
              if re.match(r"[A-Za-z_][\w.]*(Error|Exception|Interrupt)\b", line)]
    return f"; it raised {errors[-1]}" if errors else ""


def consumer_runs(ex3: Evidence) -> list[tuple[str, Run]]:
    return [(name, run) for name, run in (("first", ex3.first), ("second", ex3.second))
            if run is not None]


def test_consumer_is_configured_for_cooperative_rebalancing(ex3: Evidence) -> None:
    configs = [config for _, run in consumer_runs(ex3) for config in run.client_configs("consumer")]
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


def test_rebalance_callbacks_show_every_assignment_and_revocation(ex3: Evidence) -> None:
    """The course's observation is what the consumers' own on_assign and on_revoke print
    (or log): each must be given to subscribe(), be called, and show every call that
    moved partitions."""
    calls = [(name, event) for name, run in consumer_runs(ex3) for event in run.of("rebalance")]
    for callback in ("on_assign", "on_revoke"):
        mine = [(name, event) for name, event in calls if event["callback"] == callback]
        without = sorted({name for name, event in mine if not event.get("user_callback")})
        assert not without, (
            f"the {' and the '.join(without)} consumer subscribed without an {callback} "
            f"callback of its own, so its rebalances showed nothing: the exercise is to watch "
            "each assignment and revocation as the consumers' rebalance callbacks print them. "
            f"Pass subscribe(['{TOPIC}'], on_assign=..., on_revoke=...) functions that print "
            "(or log) the partitions they receive")
        assert mine, (
            f"the consumers' {callback} callback was never called during the demonstration, "
            "though a consumer's partitions are assigned when it joins and revoked when "
            f"another joins or it closes. {summary(ex3)}.")
        silent = [(name, event) for name, event in mine
                  if any(topic == TOPIC for topic, _, _ in event["partitions"])
                  and not str(event.get("printed") or "").strip()]
        assert not silent, (
            f"the {callback} callback showed nothing when it was called with "
            + "; ".join(f"{numbers(p for t, p, _ in event['partitions'] if t == TOPIC)} in "
                        f"the {name} consumer" for name, event in silent[:4])
            + f": it printed nothing to stdout or stderr and logged nothing there. The course "
            f"observes each rebalance through what {callback} prints, e.g. "
            + ("'[id] ASSIGNED: [0, 1, 2]'" if callback == "on_assign" else
               "'[id] REVOKED: [3, 4, 5]'"))


def test_one_consumer_owns_all_six_partitions(ex3: Evidence) -> None:
    step = ex3.alone
    assert step.reached, (
        f"expected the first consumer, alone in group '{GROUP}', to own all 6 partitions of "
        f"'{TOPIC}' and consume the messages arriving in them; "
        + seen_at_the_end(step, f"its rebalance callbacks gave it {numbers(step.first)}")
        + f". consumer_scaling.py: {first_run(ex3).summary()}." + advice(ex3, step, ""))


def test_two_consumers_share_the_partitions_three_each(ex3: Evidence) -> None:
    step = ex3.shared
    assert step.reached, (
        f"expected the two consumers of group '{GROUP}' to share the 6 partitions when the "
        "second joined, and to consume the messages arriving in their own; "
        + seen_at_the_end(step, f"the first owned {numbers(step.first)}, the second "
                                f"{numbers(step.second)}")
        + "." + advice(ex3, step, f" Both consumers must join the one group '{GROUP}' and "
                                  f"subscribe to '{TOPIC}'."))
    assert len(step.first) == len(step.second) == 3, (
        f"unbalanced assignment: the first consumer owns {numbers(step.first)}, the second "
        f"{numbers(step.second)} ({step.broker}); cooperative-sticky gives two members of a "
        "6-partition topic 3 partitions each")


def test_first_consumer_gives_up_only_the_partitions_it_loses(ex3: Evidence) -> None:
    step = ex3.shared
    # Until the second left, or the first closed (which revokes all it owns).
    ends = [ex3.taken_back.started or float("inf"),
            *(event["time"] for event in first_run(ex3).of("close"))]
    events = [event for event in first_run(ex3).of("rebalance")
              if event["callback"] != "on_assign" and step.started <= event["time"] < min(ends)]
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
        "stopped with Ctrl-C, and to consume the messages arriving in them; "
        + seen_at_the_end(step, f"its rebalance callbacks gave it {numbers(step.first)}")
        + "." + advice(ex3, step, " A consumer stopped with Ctrl-C must close() and so leave "
                       "the group at once; one that does not (or a static member, with "
                       "group.instance.id) keeps its partitions until its session times out"))


def in_hand_at_ctrl_c(ex3: Evidence) -> set[tuple[int, int]]:
    """``(partition, offset)`` of the messages the second consumer may have been handed as
    Ctrl-C stopped it: in each partition it owned, the one after the last polled there
    before it closed. With offsets stored automatically (the default, as in the course's
    script), a message counts as consumed as poll() returns it, and a KeyboardInterrupt
    raised right then leaves the code no chance to see it: not a rebalance's doing."""
    if ex3.second is None or not ex3.second.interrupted:
        return set()
    closed = [event["time"] for event in ex3.second.of("close")]
    until = closed[0] if closed else float("inf")
    last: dict[int, int] = {}
    for _, run in consumer_runs(ex3):
        for event in run.of("polled", topic=TOPIC):
            if event["time"] <= until:
                last[event["partition"]] = max(last.get(event["partition"], -1), event["offset"])
    return {(partition, last[partition] + 1) for partition in ex3.shared.second
            if partition in last}


def test_messages_keep_being_consumed_through_rebalances(ex3: Evidence) -> None:
    assert ex3.ends, (
        "the demonstration did not get as far as stopping the producer, so consumption "
        "through the rebalances could not be judged: "
        + (ex3.taken_back.problem or ex3.shared.problem or ex3.alone.problem))
    seen: dict[int, set[int]] = defaultdict(set)
    for _, run in consumer_runs(ex3):
        for partition, offsets in polled(run.events).items():
            seen[partition] |= offsets
    # Where the first consumer began in each partition: it was assigned all 6 first.
    first_polled = polled(first_run(ex3).events)
    in_hand = in_hand_at_ctrl_c(ex3)
    missing: dict[int, list[int]] = {}
    for partition, end in sorted(ex3.ends.items()):
        start = min(first_polled.get(partition) or seen[partition] or {end})
        absent = [offset for offset in range(start, end) if offset not in seen[partition]
                  and (partition, offset) not in in_hand]
        if absent:
            missing[partition] = absent
    idle = sorted(partition for partition, end in ex3.ends.items() if not end)
    assert not missing, (
        "messages produced after the first assignment were never consumed: "
        + "; ".join(f"partition {p}: {counted(len(gone), 'message')}, offsets {listing(gone, 4)}"
                    for p, gone in missing.items())
        + f" (the topic ends at {dict(sorted(ex3.ends.items()))}"
        + (f"; partitions {numbers(idle)} received no messages" if idle else "")
        + "). Offsets must be committed for the partitions a consumer gives up, so that the "
        "member taking them over goes on from there instead of from the latest offset")
