"""Shared by the consumer exercises' scenarios (ex2, ex5): the course's orders as the
harness produces them, the steps of a consumer's run (wait for it to subscribe, then for
its work; Ctrl-C), and what a run's events say was processed and committed."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.grading.sandbox import Event, SubmissionProcess
from pytest_kafka_lab.grading.wire.evidence import exchanges, fetched_batches
from pytest_kafka_lab.grading.wire.proxy import Exchange
from pytest_kafka_lab.readers import Source, client_config, committed_offsets
from pytest_kafka_lab.topics import create_topic

PRODUCTS = ("Laptop", "Phone", "Tablet", "Monitor", "Keyboard", "Mouse")
# Events older than this with nothing new means the submission sits in poll(): a Ctrl-C
# then lands between messages, never between processing a message and storing its offset.
QUIET = 0.5
# Seen waiting in poll() again with every message it was handed processed, it has nothing
# in hand: this much calm then says as much (a late error or message would show by then).
SETTLED = 0.1
SUBSCRIBE_TIMEOUT = 15.0  # seconds for a consumer to exist and subscribe
STOP_TIMEOUT = 10.0  # seconds from Ctrl-C (or the end of main()) to the end of the process
# A consumer seen this long in poll(), having been handed every record of its topic up to
# the topic's end and having handled each one, with nothing on its wire but fetches at that
# end and the group's heartbeats, is idle for good: nothing it awaits can come any more
# (the harness produces nothing meanwhile). Librdkafka's fetches return every 100 ms here,
# and a poll() timeout of a few seconds shows as calm, so this is well above both.
IDLE = 5.0
# What an idle consumer still sends: fetches that come back empty, the group's heartbeats,
# metadata refreshes and connection handshakes.
HOUSEKEEPING = frozenset({"Fetch", "Heartbeat", "ConsumerGroupHeartbeat", "Metadata",
                          "ApiVersions", "SaslHandshake", "SaslAuthenticate"})

Position = tuple[int, int]  # (partition, offset)


def course_order(number: int) -> dict[str, Any]:
    """Order ``number`` in the course's format; no price or quantity spells 37 or 100, so a
    printed count is not mistaken for an order's field."""
    return {"order_id": f"ORD-{number:05d}", "customer_id": f"CUST-{(number - 1) % 5 + 1:03d}",
            "product": PRODUCTS[number % len(PRODUCTS)], "quantity": number % 5 + 1,
            "price": 5.0 + (number % 7) * 1.5}


@dataclass(frozen=True)
class Placed:
    """An order the harness produced, where the broker put it."""

    order_id: str
    partition: int
    offset: int
    key: bytes
    value: bytes

    @property
    def position(self) -> Position:
        return (self.partition, self.offset)


def produce_orders(source: Source, numbers: range, topic: str = "orders") -> dict[str, Placed]:
    """Produce orders ``numbers`` keyed by customer id, as compact JSON (so a copy that was
    decoded and encoded again differs from the original); ``{order_id: Placed}``."""
    producer = Producer(client_config(source, **{"message.timeout.ms": 15000}))
    placed: dict[str, Placed] = {}
    failures: list[str] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            failures.append(str(error))
            return
        order_id = json.loads(message.value())["order_id"]
        placed[order_id] = Placed(order_id, message.partition(), message.offset(),
                                  message.key(), message.value())

    for number in numbers:
        order = course_order(number)
        producer.produce(topic, key=order["customer_id"].encode(),
                         value=json.dumps(order, separators=(",", ":")).encode(),
                         on_delivery=delivered)
    remaining = producer.flush(20)
    assert not remaining and not failures and len(placed) == len(numbers), (
        f"the harness could not produce its orders to {topic!r}: {remaining} undelivered, "
        f"errors {failures[:3]}")
    return placed


def create_if_absent(admin: AdminClient, topic: str, partitions: int) -> None:
    """Create ``topic``; one that the submission's clients created already is kept."""
    try:
        create_topic(admin, topic, partitions)
    except KafkaException as error:
        if "already exists" not in str(error).lower():
            raise


def group_offsets(source: Source, group: str, topic: str) -> dict[int, int]:
    """``{partition: offset}`` that ``group`` committed for ``topic``; {} for a group the
    broker does not know."""
    return {partition: offset
            for (_, partition), offset in committed_offsets(source, group, topic).items()}


def polled(events: list[Event]) -> int:
    """Messages (not errors) that the submission's consumers received."""
    return sum(1 for event in events if event["kind"] == "polled" and "error" not in event)


def quiet_after(count: Callable[[list[Event]], int], wanted: int,
                orders: dict[str, Placed] | None = None,
                topic: str = "orders") -> Callable[[list[Event]], bool]:
    """A ``wait_for_event`` check: ``count(events) >= wanted`` and nothing new for QUIET s;
    or, sooner, nothing new for SETTLED s since the consumer went back to waiting in
    ``poll()`` having processed (``process_order`` returned) every message it was handed,
    each one of ``orders`` in ``topic``."""

    def check(events: list[Event]) -> bool:
        if count(events) < wanted:
            return False
        calm = time.time() - events[-1]["time"]
        return calm >= QUIET or (calm >= SETTLED and orders is not None
                                 and events[-1]["kind"] == "waiting"
                                 and all_handled(events, orders, topic))

    return check


def all_handled(events: list[Event], orders: dict[str, Placed], topic: str) -> bool:
    """Whether every message the submission was handed is one of ``orders`` in ``topic``
    and was processed (its ``process_order`` call returned)."""
    which: dict[tuple[Any, ...], str] = {(topic, *placed.position): order_id
                                         for order_id, placed in orders.items()}
    handed = [which.get((event.get("topic"), event.get("partition"), event.get("offset")))
              for event in events if event["kind"] == "polled" and "error" not in event]
    done = successes(events)
    return all(order_id is not None and order_id in done for order_id in handed)


def fetch_positions(wire: list[Exchange], topic: str) -> dict[int, int]:
    """``{partition: offset}`` that the latest Fetch request for each partition of
    ``topic`` asked from. An incremental fetch session names a partition only when its
    offset changed, so each partition's latest mention is its position."""
    positions: dict[int, int] = {}
    for exchange in exchanges(wire, "Fetch"):
        for asked in exchange.request.get("topics") or []:
            if str(asked.get("topic")) == topic:
                for partition in asked.get("partitions") or []:
                    positions[int(partition.get("partition", -1))] = int(
                        partition.get("fetch_offset", -1))
    return positions


def handed_over(wire: list[Exchange], topic: str) -> set[Position]:
    """The positions of ``topic`` that Fetch responses handed to the client: the records
    of each batch at or past the offset its request asked from (a batch may start before
    it; librdkafka drops those records)."""
    handed: set[Position] = set()
    for exchange in exchanges(wire, "Fetch"):
        asked = {int(partition.get("partition", -1)): int(partition.get("fetch_offset", 0))
                 for requested in exchange.request.get("topics") or []
                 if str(requested.get("topic")) == topic
                 for partition in requested.get("partitions") or []}
        for index, first, last in fetched_batches(exchange, topic):
            handed.update((index, offset) for offset
                          in range(max(first, asked.get(index, 0)), last + 1))
    return handed


def back_in_poll(events: list[Event]) -> bool:
    """Whether the submission's consumers are waiting in ``poll()`` with nothing in hand:
    never handed anything, or seen waiting again after the last hand-over."""
    kinds = [event["kind"] for event in events if event["kind"] in ("polled", "waiting")]
    return not kinds or kinds[-1] == "waiting"


@dataclass(frozen=True)
class Idle:
    """When a consumer's run is idle for good: subscribed to ``topic``, whose partitions end
    at ``ends`` (``{partition: end offset}``, all the harness produced), it has fetched
    every partition to its end, handed every record fetched to the submission, which is
    back in ``poll()``, and for ``IDLE`` seconds nothing happened but housekeeping. A
    consumer at the end of every partition cannot receive an earlier record again, unless
    it seeks, which would show on its wire."""

    topic: str
    ends: dict[int, int]

    def __call__(self, process: SubmissionProcess) -> bool:
        events = process.events
        if not events or time.time() - events[-1]["time"] < IDLE or not back_in_poll(events):
            return False
        wire = process.wire
        positions = fetch_positions(wire, self.topic)
        if any(positions.get(partition, -1) < end for partition, end in self.ends.items()
               if end > 0):
            return False
        polled_positions = {(event.get("partition"), event.get("offset")) for event in events
                            if event["kind"] == "polled" and event.get("topic") == self.topic}
        if not handed_over(wire, self.topic) <= polled_positions:
            return False
        busy = [exchange.sent for exchange in wire if exchange.api not in HOUSEKEEPING]
        return not busy or time.monotonic() - max(busy) >= IDLE

    @classmethod
    def after(cls, orders: dict[str, Placed], topic: str = "orders") -> Idle:
        """Idle once the consumer is past ``orders`` (all that the harness produced)."""
        ends: dict[int, int] = {}
        for placed in orders.values():
            ends[placed.partition] = max(ends.get(placed.partition, 0), placed.offset + 1)
        return cls(topic, ends)


def await_quietly(process: SubmissionProcess, check: Callable[[list[Event]], Any],
                  timeout: float, awaited: str, idle: Callable[[SubmissionProcess], bool]
                  | None = None) -> str | None:
    """Wait for ``check``; instead of raising, say for a student what did not happen (None
    if it did). ``idle`` (such as ``Idle``) tells when the run shows that ``check`` can
    no longer come true: the wait then ends at once."""
    gave_up: list[bool] = []

    def done(events: list[Event]) -> Any:
        result = check(events)
        if not result and idle is not None and idle(process):
            gave_up.append(True)
            return True
        return result

    try:
        process.wait_for_event(done, timeout, awaited)
    except AssertionError:
        code = process.process.poll()
        if code is not None:
            return (f"The submission ended (exit code {code}) while the harness waited for "
                    f"{awaited}.")
        return f"The harness waited {timeout:g}s in vain for {awaited}."
    if gave_up:
        return (f"The harness stopped waiting for {awaited}: the consumer had reached the "
                "end of every partition, had been handed all it fetched, and then sat in "
                f"poll() for {IDLE:g}s with nothing left to receive.")
    return None


def subscribed(events: list[Event]) -> bool:
    """Whether one of the submission's consumers has subscribed."""
    return any(event["kind"] == "subscribe" for event in events)


def subscriptions(events: list[Event]) -> str:
    """The topics the submission's consumers subscribed to, as a message names them:
    ``'orders'``, ``'orders' and 'payments'``, or ``nothing``."""
    topics = [repr(str(topic)) for topic in dict.fromkeys(
        topic for event in events if event["kind"] == "subscribe"
        for topic in event.get("topics") or ())]
    if not topics:
        return "nothing"
    return topics[0] if len(topics) == 1 else f"{', '.join(topics[:-1])} and {topics[-1]}"


def await_work(process: SubmissionProcess, topic: str, work: Callable[[list[Event]], Any],
               timeout: float, awaited: str,
               idle: Callable[[SubmissionProcess], bool] | None = None) -> str | None:
    """A consumer exercise's run: wait for a consumer to subscribe to ``topic`` (at most
    SUBSCRIBE_TIMEOUT), then for ``work`` (``awaited``, at most ``timeout``, or until
    ``idle`` says it cannot come); say for a student what did not happen, or None when
    both did."""
    return await_quietly(process, subscribed, min(timeout, SUBSCRIBE_TIMEOUT),
                         f"a consumer to subscribe to {topic!r}") or await_quietly(
        process, work, timeout, awaited, idle)


def stop(process: SubmissionProcess) -> float:
    """Ctrl-C unless the run ended; return the moment of the Ctrl-C (or infinity)."""
    if process.process.poll() is not None:
        return float("inf")
    moment = time.time()
    process.interrupt()
    return moment


def calls(events: list[Event], function: str = "process_order") -> list[tuple[int, Event]]:
    """``(index in events, event)`` of each observed call of ``function``. A failure the
    grader injected is known from the grader's own record (``source: "grader"``); an
    outcome counts only once the grader answered that call's question, and only for a
    record the wire shows the run was handed (``integrity.mark_unfetched_calls``): a
    run reporting either on its own is not believed."""
    return [(index, event) for index, event in enumerate(events)
            if event["kind"] == "call" and event.get("function") == function
            and not event.get("unfetched")
            and (event.get("source") == "grader" if event.get("outcome") == "injected-failure"
                 else not event.get("unasked"))]


def tries_by_order(events: list[Event], function: str = "process_order"
                   ) -> dict[str, list[tuple[int, Event]]]:
    """``{order id: [(index in events, event), ...]}``: every observed call of ``function``
    for each order, in the order they were made."""
    tries: dict[str, list[tuple[int, Event]]] = {}
    for index, event in calls(events, function):
        if event.get("ident") is not None:
            tries.setdefault(str(event["ident"]), []).append((index, event))
    return tries


def processed_count(events: list[Event], before: int, function: str = "process_order") -> int:
    """Calls of ``function`` that returned among ``events[:before]``."""
    return sum(1 for index, event in calls(events[:before], function)
               if event["outcome"] == "returned")


def error_texts(event: Event) -> list[str]:
    """What names the error of a failed call: its ``str()`` and ``repr()`` (either is a
    fair way to record it); for an exception with an empty message, its repr only."""
    texts = [event.get("message") or "", event.get("error") or ""]
    if event.get("outcome") == "injected-failure":
        texts.append(f"injected failure for {event.get('ident')}")
    inner = re.fullmatch(r"\w+\((['\"])(.*)\1,?\)", event.get("error") or "", re.DOTALL)
    if inner:
        texts.append(inner.group(2))
    return [text for text in dict.fromkeys(texts) if text]


def successes(events: list[Event], function: str = "process_order") -> dict[str, int]:
    """``{order id: index of the event of its first call that returned}``."""
    done: dict[str, int] = {}
    for index, event in calls(events, function):
        if event["outcome"] == "returned" and event.get("ident") is not None:
            done.setdefault(str(event["ident"]), index)
    return done


def commit_points(events: list[Event], auto_store: bool = True
                  ) -> list[tuple[int, Event, dict[tuple[str, int], int]]]:
    """Each successful ``commit()`` as ``(index, event, {(topic, partition): offset})``.

    A synchronous commit reports what it committed; otherwise the explicit offsets or
    message tell. An asynchronous commit of "everything" commits each partition's position
    (last polled offset + 1) when offsets are stored on poll, and cannot be known when the
    submission stores them itself (``auto_store`` False): such commits are left out.
    """
    positions: dict[tuple[str, int], int] = {}
    points = []
    for index, event in enumerate(events):
        if event["kind"] == "polled" and "error" not in event:
            positions[(event["topic"], event["partition"])] = event["offset"] + 1
        if event["kind"] != "commit" or event.get("error"):
            continue
        if event.get("committed") is not None:
            offsets = {(t, p): o for t, p, o in event["committed"] if o >= 0}
        elif event.get("offsets"):
            offsets = {(t, p): o for t, p, o in event["offsets"] if o >= 0}
        elif event.get("message"):
            topic, partition, offset = event["message"]
            offsets = {(topic, partition): offset + 1}
        elif auto_store:
            offsets = dict(positions)
        else:
            continue
        points.append((index, event, offsets))
    return points


def commits_ahead(events: list[Event], done: dict[Position, int], inputs: set[Position],
                  topic: str, auto_store: bool = True) -> list[str]:
    """Commits that covered an input message not done at that moment (``done`` maps an
    input's position to the index of the event by which it was done), described."""
    problems = []
    for index, event, offsets in commit_points(events, auto_store):
        for (name, partition), offset in sorted(offsets.items()):
            pending = [position for position in sorted(inputs) if name == topic
                       and position[0] == partition and position[1] < offset
                       and done.get(position, len(events)) > index]
            if pending:
                problems.append(
                    f"the commit made after {event.get('delivered', '?')} polled messages "
                    f"committed offset {offset} of partition {partition}, covering offset "
                    f"{pending[0][1]} that was not yet done")
    return problems


def contiguous_ends(done: set[Position], inputs: set[Position]) -> dict[int, int]:
    """Per partition, the offset a commit must name to cover exactly the done messages:
    the first input offset not done (where done ones have gaps, the commit cannot be
    exact; the first gap is what a careful consumer commits)."""
    ends: dict[int, int] = {}
    for partition in sorted({p for p, _ in inputs}):
        offsets = sorted(o for p, o in inputs if p == partition)
        end = offsets[0]
        for offset in offsets:
            if (partition, offset) not in done:
                break
            end = offset + 1
        if end > offsets[0]:
            ends[partition] = end
    return ends


def config_value(config: dict[str, Any], name: str, default: str) -> str:
    """A client setting as librdkafka reads it: booleans as ``true``/``false``."""
    value = config.get(name, default)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def is_false(config: dict[str, Any], name: str, default: str) -> bool:
    return config_value(config, name, default) in ("false", "0")


def positions(orders: dict[str, Placed]) -> dict[str, Position]:
    """``{order id: (partition, offset)}`` of the orders the harness produced."""
    return {order_id: placed.position for order_id, placed in orders.items()}
