"""Exercise 6, producer benchmark: honest figures for every configuration of the matrix.

``benchmark_producer(config, num_messages, message_size)`` is called alone for a few
configurations the harness chooses, one run each, one after the other, so that the
growth of ``benchmark-topic``'s end offset during a run is that run's own. Then
``main()`` runs once; the producers it created, and the deliveries each of them had,
show which configurations it measured.

The course's task lists three comparisons: acks 0 vs 1 vs all, batch.size 16 vs 32 vs
64 KB, with vs without compression. Both the full product (18 runs) and one factor at a
time (3 + 3 + 2 runs) read it correctly, so ``main()`` is held to measuring every level
of every factor at least once, with librdkafka's defaults standing for what a
configuration leaves unset (acks=all, no compression).
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest
from confluent_kafka import Consumer

from pytest_kafka_lab.grading.evidence import counted, listing
from pytest_kafka_lab.grading.exercise_setup import ExerciseLab, exercise_setup
from pytest_kafka_lab.grading.sandbox import Run
from pytest_kafka_lab.grading.verdicts import require_ran
from pytest_kafka_lab.grading.wire.evidence import ACKS_NAMES, SentBatch, sent_batches
from pytest_kafka_lab.readers import fresh_consumer, high_watermark, partitions_of
from pytest_kafka_lab.waiting import WaitTimeout, wait_for

pytestmark = pytest.mark.exercise("ex6", "producer benchmark")

# What each check's verdict rests on (see ``grading.report.EVIDENCE``).
EVIDENCE = {
    "returns_every_figure": ("report",),
    "broker_receives_exactly_the_messages_asked_for": ("broker",),
    "messages_figure_matches_the_broker": ("report", "broker"),
    "figures_agree_with_each_other": ("report",),
    "producer_uses_the_given_configuration": ("report", "wire"),
    "clock_covers_every_delivery": ("wire", "report"),
    "main_measures_every_level_of_every_factor": ("report", "wire"),
    "main_measures_messages_really_delivered": ("report", "wire", "broker"),
}

FILE = "exercise_benchmark.py"
TOPIC = "benchmark-topic"
FIGURES = ("duration", "messages", "errors", "throughput", "mb_per_sec")

# (config, num_messages, message_size). The first sends large messages: delivering them
# takes long after the last produce(), so a clock stopped before flush() shows.
CALLS: list[tuple[dict[str, Any], int, int]] = [
    ({"acks": "all", "batch.size": 16384, "compression.type": "none"}, 1000, 10_000),
    ({"acks": "1", "batch.size": 65536, "compression.type": "lz4"}, 3000, 1000),
    ({"acks": "0", "batch.size": 32768, "compression.type": "zstd"}, 2000, 500),
]

ACKS = ("0", "1", "all")
# "16 KB" read either way; the course means 16384.
BATCH_SIZES = {16384: (16384, 16000), 32768: (32768, 32000), 65536: (65536, 64000)}
CODECS = ("gzip", "snappy", "lz4", "zstd")
MB, MIB = 10**6, 2**20
# Seconds the broker may take to append what was reported delivered (acks=0: when sent).
BROKER_CATCH_UP = 5.0
# Between the event clock (time.time) and the submission's, and for a little rounding.
CLOCK_SLACK = 0.002
# Figures may be rounded: relative, and absolute for 2 decimals.
RELATIVE, ABSOLUTE = 0.02, 0.006

lab = exercise_setup("ex6", {TOPIC: 1})


@dataclass(frozen=True)
class Measurement:
    """One call of benchmark_producer and what the broker received meanwhile."""

    config: dict[str, Any]
    num_messages: int
    message_size: int
    run: Run
    received: int

    @property
    def label(self) -> str:
        return (f"benchmark_producer({self.config}, {self.num_messages}, "
                f"{self.message_size})")

    @property
    def result(self) -> Any:
        returned = self.run.of("returned")
        return returned[0]["result"] if returned else None

    def outcome(self) -> str:
        if self.run.of("returned"):
            return f"returned {self.result!r}"
        return self.run.summary().removeprefix("the submission ")


@pytest.fixture(scope="module")
def ex6_reader(lab: ExerciseLab) -> Iterator[Consumer]:
    """The grader's reader of ``benchmark-topic``'s end offsets, for the whole exercise:
    it asks the broker afresh each time, and connects once."""
    with fresh_consumer(lab.broker) as consumer:
        yield consumer


@pytest.fixture(scope="module")
def ex6(lab: ExerciseLab, ex6_reader: Consumer) -> list[Measurement]:
    measurements = []
    for config, num_messages, message_size in CALLS:
        before = stored(ex6_reader)
        run = require_ran(lab.sandbox.start_call(
            lab.submission, FILE, call="benchmark_producer",
            args=[config, num_messages, message_size]).finish(lab.timeout))
        received = received_since(ex6_reader, before, len(successful_deliveries(run)))
        measurements.append(Measurement(config, num_messages, message_size, run, received))
    return measurements


@dataclass(frozen=True)
class MainRun:
    """The run of main() and how far ``benchmark-topic``'s end offsets grew meanwhile."""

    run: Run
    received: int

    def producers(self) -> list[dict[str, Any]]:
        """The ``client`` events of main()'s producers, in the order it created them."""
        return self.run.of("client", client="producer")

    @cached_property
    def produced(self) -> Counter[tuple[Any, Any]]:
        """``{(pid, client id): messages it produced to the topic}`` (read once: main() sends
        tens of thousands)."""
        return Counter(producer_of(event) for event in self.run.of("produce", topic=TOPIC))

    @cached_property
    def delivered(self) -> Counter[tuple[Any, Any]]:
        """``{(pid, client id): delivery reports without an error, from the topic}``."""
        return Counter(producer_of(event) for event in successful_deliveries(self.run))

    def measured(self) -> list[tuple[str, int | str, str]]:
        """The settings of every producer that had a message delivered to the topic: its
        acks and compression as its requests carried them on the wire (its batch.size as
        it reported it), where the wire tells producers apart by the name their requests
        carry; a producer the wire never saw deliver measured nothing."""
        delivered = self.delivered
        reported = [event for event in self.producers() if delivered[producer_of(event)]]
        if not self.run.witnessed:
            return [settings(event.get("config") or {}) for event in reported]
        sent: dict[str | None, list[SentBatch]] = {}
        for batch in sent_batches(self.run.wire, TOPIC):
            if batch.acknowledged:
                sent.setdefault(batch.client_id, []).append(batch)
        names = Counter(event.get("wire_client_id") for event in self.producers())
        measured = []
        for event in reported:
            name = event.get("wire_client_id")
            claimed = settings(event.get("config") or {})
            if name not in sent:
                continue
            if names[name] > 1:  # one name for several producers: their own account
                measured.append(claimed)
                continue
            acks = {ACKS_NAMES.get(batch.acks, str(batch.acks)) for batch in sent[name]}
            codecs = {batch.compression for batch in sent[name]} - {"none"}
            measured.append((acks.pop() if len(acks) == 1 else claimed[0], claimed[1],
                             codecs.pop() if len(codecs) == 1 else "none"))
        return measured


@pytest.fixture(scope="module")
def ex6_main(ex6: list[Measurement], lab: ExerciseLab, ex6_reader: Consumer) -> MainRun:
    before = stored(ex6_reader)
    run = require_ran(lab.sandbox.start_call(lab.submission, FILE, call="main")
                      .finish(lab.timeout))
    return MainRun(run, received_since(ex6_reader, before, len(successful_deliveries(run))))


def stored(reader: Consumer) -> int:
    """How many records ``benchmark-topic`` has taken so far (its end offsets' sum), as the
    broker answers now."""
    return sum(high_watermark(reader, TOPIC, partition)
               for partition in partitions_of(reader, TOPIC))


def received_since(reader: Consumer, before: int, reported: int) -> int:
    """How many records the topic took since it held ``before``, once it holds what
    ``reported`` deliveries promise, or when ``BROKER_CATCH_UP`` seconds have passed: an
    acks=0 delivery is reported when it is sent, the broker appends it a moment later."""
    grown = [stored(reader) - before]

    def caught_up() -> bool:
        grown.append(stored(reader) - before)
        return grown[-1] >= reported

    if grown[0] < reported:
        with contextlib.suppress(WaitTimeout):
            wait_for(caught_up, BROKER_CATCH_UP, f"{reported} records in '{TOPIC}'")
    return grown[-1]


def successful_deliveries(run: Run) -> list[dict[str, Any]]:
    """The delivery reports without an error for messages to the topic."""
    return [event for event in run.of("delivered", topic=TOPIC) if not event.get("error")]


def producer_of(event: dict[str, Any]) -> tuple[Any, Any]:
    """Which producer an event is of: client ids count per process."""
    return event.get("pid"), event.get("client_id")


def figures(measurement: Measurement) -> dict[str, float]:
    """The returned figures; fails the check, for the student, if they are not all there."""
    result = measurement.result
    assert isinstance(result, dict), f"{measurement.label} {measurement.outcome()}: return a dict"
    absent = [name for name in FIGURES if not is_number(result.get(name))]
    assert not absent, (
        f"{measurement.label} returned {result!r}: it has no number for "
        f"{', '.join(absent)}; return a dict with {', '.join(FIGURES)}")
    return {name: float(result[name]) for name in FIGURES}


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def close(value: float, expected: float) -> bool:
    return abs(value - expected) <= max(RELATIVE * abs(expected), ABSOLUTE)


def test_returns_every_figure(ex6: list[Measurement]) -> None:
    for measurement in ex6:
        figures(measurement)


def test_broker_receives_exactly_the_messages_asked_for(ex6: list[Measurement]) -> None:
    wrong = [m for m in ex6 if m.received != m.num_messages]
    assert not wrong, "; ".join(
        f"{m.label}: the broker received {counted(m.received, 'message')} in '{TOPIC}', not "
        f"{m.num_messages} ({m.outcome()})" for m in wrong
    ) + ": produce num_messages messages to 'benchmark-topic' and flush() before returning"


def test_messages_figure_matches_the_broker(ex6: list[Measurement]) -> None:
    for m in ex6:
        result = figures(m)
        failed = m.num_messages - m.received
        assert result["messages"] == m.received and result["errors"] == failed, (
            f"{m.label} reported messages={result['messages']:g} and errors="
            f"{result['errors']:g}, but the broker received {m.received} of the "
            f"{m.num_messages} messages: count a message when its delivery report says it "
            "was delivered, and an error when it says it failed (or flush() left it queued)")


def test_figures_agree_with_each_other(ex6: list[Measurement]) -> None:
    for m in ex6:
        result = figures(m)
        messages, duration = result["messages"], result["duration"]
        assert duration > 0, f"{m.label} reported a duration of {duration:g} seconds"
        throughput = messages / duration
        assert close(result["throughput"], throughput), (
            f"{m.label} reported throughput={result['throughput']:g}, but messages / "
            f"duration = {messages:g} / {duration:g} s = {throughput:.1f} messages per second: "
            "throughput is messages delivered per second of duration")
        volumes = data_volumes(m, messages)
        accepted = [volume / duration / unit for volume in volumes for unit in (MB, MIB)]
        assert any(close(result["mb_per_sec"], each) for each in accepted), (
            f"{m.label} reported mb_per_sec={result['mb_per_sec']:g}, but over its duration "
            f"of {duration:g} s "
            + "; ".join(f"{' = '.join(names)} = {volume} bytes make "
                        f"{volume / duration / MB:.3f} MB/s or "
                        f"{volume / duration / MIB:.3f} MiB/s"
                        for volume, names in volumes.items())
            + ". Any of these is accepted: MB/s is the bytes sent per second of duration, "
            "divided by 10^6 (MB) or 2^20 (MiB)")


def data_volumes(m: Measurement, messages: float) -> dict[int, list[str]]:
    """``{bytes: how they are counted}``: the data a run moved, each way a student may
    fairly count it: the figure asked for, and the values the submission really produced
    (the course's own code sends a JSON envelope, 12 bytes more than message_size) or
    had delivered."""
    counted = {
        "messages x message_size": round(messages * m.message_size),
        "the values produced": sum(event.get("size") or 0
                                   for event in m.run.of("produce", topic=TOPIC)),
        "the values delivered": sum(event.get("size") or 0
                                    for event in successful_deliveries(m.run)),
    }
    volumes: dict[int, list[str]] = {}
    for name, volume in counted.items():
        volumes.setdefault(volume, []).append(name)
    return volumes


def test_producer_uses_the_given_configuration(ex6: list[Measurement]) -> None:
    for m in ex6:
        configs = m.run.client_configs("producer")
        assert configs, f"{m.label} created no Producer ({m.outcome()})"
        wanted = settings(m.config)
        wrong = [config for config in configs if settings(config) != wanted]
        assert not wrong, (
            f"{m.label} created a producer with {shown(wrong[0])} instead of the "
            f"configuration it was given ({shown(m.config)}): pass config to Producer(), e.g. "
            "Producer({'bootstrap.servers': 'localhost:9092', **config})")


def test_clock_covers_every_delivery(ex6: list[Measurement]) -> None:
    for m in ex6:
        produced = m.run.of("produce", topic=TOPIC)
        assert produced, f"{m.label} produced nothing to '{TOPIC}' ({m.outcome()})"
        returned = m.run.of("returned")
        # Delivery reports run inside flush() or poll(), in the submission's own thread:
        # those that came before it returned are the deliveries its clock could wait for.
        reports = [e for e in m.run.of("delivered", topic=TOPIC)
                   if returned and e["time"] <= returned[0]["time"]]
        assert len(reports) >= len(produced), (
            f"{m.label} returned with {len(produced) - len(reports)} of its {len(produced)} "
            "messages not yet delivered: the clock must run until every message is "
            "delivered; call producer.flush() before you stop it")
        duration = figures(m)["duration"]
        taken, between = time_taken(m.run, reports, produced)
        assert duration >= taken - CLOCK_SLACK, (
            f"the clock stopped before every message was delivered: {m.label} reported "
            f"duration={duration:.3f} s, but {taken:.3f} s passed {between}; stop the clock "
            "after flush() returns")


def time_taken(run: Run, reports: list[dict[str, Any]], produced: list[dict[str, Any]]
               ) -> tuple[float, str]:
    """The least time the deliveries took, and between what: on the wire, from the first
    request that carried a message to the broker's last answer (the client heard of it
    later still); where no proxy witnessed the run, the run's own account of its first
    produce() and last delivery report."""
    requests = [e for e in run.wire if e.api == "Produce"
                and any(str(t.get("name")) == TOPIC for t in e.request.get("topic_data") or [])]
    if run.witnessed and requests:
        last = max(e.answered if e.answered is not None else e.sent for e in requests)
        return last - requests[0].sent, ("from the first request that carried a message "
                                          "to the broker's answer to the last")
    first = produced[0].get("reported_time") or produced[0]["time"]
    last_report = reports[-1].get("reported_time") or reports[-1]["time"]
    return last_report - first, "from its first produce() to its last delivery report"


def settings(config: dict[str, Any]) -> tuple[str, int | str, str]:
    """(acks, batch.size, compression) in effect, with librdkafka's defaults and aliases."""
    acks = str(config.get("acks", config.get("request.required.acks", "all"))).lower()
    batch = config.get("batch.size", "default")
    with_codec = str(config.get("compression.type", config.get("compression.codec", "none")))
    try:
        batch = int(batch)
    except (TypeError, ValueError):
        batch = str(batch)
    return ("all" if acks == "-1" else acks), batch, with_codec.lower()


def shown(config: dict[str, Any]) -> str:
    return label(settings(config))


def label(setting: tuple[str, int | str, str]) -> str:
    acks, batch, codec = setting
    return f"acks={acks} batch.size={batch} compression={codec}"


def test_main_measures_every_level_of_every_factor(ex6_main: MainRun) -> None:
    run = ex6_main.run
    measured = ex6_main.measured()
    created = listing(sorted(set(shown(event.get("config") or {})
                                 for event in ex6_main.producers())), 6)
    assert measured, (
        "main() measured nothing: "
        + (f"none of its {len(ex6_main.producers())} producers ({created}) had a message "
           f"delivered to '{TOPIC}'" if ex6_main.producers() else "it created no producer")
        + f" ({run.summary()}). Run benchmark_producer for each configuration you compare "
        "and print a table of the results")
    missing = missing_levels(measured)
    used = listing(sorted(set(map(label, measured))), 8)
    assert not missing, (
        f"main() did not measure every level of the three factors: no run with "
        f"{' and none with '.join(missing)}. The configurations it measured (producers "
        f"that delivered messages to '{TOPIC}'): {used} ({run.summary()}). Compare acks "
        "0, 1 and all; batch.size 16384, 32768 and 65536; and compression.type none and "
        "a codec (e.g. lz4), either one factor at a time or every combination, and pass "
        "each configuration on to the Producer")


def missing_levels(measured: list[tuple[str, int | str, str]]) -> list[str]:
    """The levels of the course's three factors that no measured configuration has."""
    missing = [f"acks={acks}" for acks in ACKS if all(a != acks for a, _, _ in measured)]
    missing += [f"batch.size={batch}" for batch, spellings in BATCH_SIZES.items()
                if all(b not in spellings for _, b, _ in measured)]
    if all(c != "none" for _, _, c in measured):
        missing.append("compression.type=none (no compression)")
    if all(c not in CODECS for _, _, c in measured):
        missing.append(f"compression (compression.type one of {', '.join(CODECS)})")
    return missing


def test_main_measures_messages_really_delivered(ex6_main: MainRun) -> None:
    run, produced, delivered = ex6_main.run, ex6_main.produced, ex6_main.delivered
    producers = ex6_main.producers()
    assert produced, (
        f"main() produced no message to '{TOPIC}'"
        + (f", though it created {len(producers)} producers" if producers else "")
        + f" ({run.summary()}): a benchmark measures messages it sends; call "
        "benchmark_producer with a number of messages for each configuration")
    silent = [event for event in producers
              if produced[producer_of(event)] and not delivered[producer_of(event)]]
    first = producer_of(silent[0]) if silent else None
    errors = [event.get("error") for event in run.of("delivered", topic=TOPIC)
              if producer_of(event) == first and event.get("error")]
    assert not silent, (
        f"{len(silent)} of main()'s producers produced messages to '{TOPIC}' and had none "
        f"of them delivered, e.g. the one with {shown(silent[0].get('config') or {})} "
        f"({counted(produced[first], 'message')} produced, "
        + (f"{len(errors)} delivery errors such as {errors[0]}" if errors
           else "no delivery report")
        + f"; {run.summary()}): every configuration measured must have its messages "
        "delivered before its figures are taken (flush() the producer)")
    reported = sum(delivered.values())
    assert ex6_main.received >= reported, (
        f"main()'s producers were told that "
        f"{counted(reported, 'message was', 'messages were')} delivered to '{TOPIC}', "
        f"but the broker's end offset grew by only {ex6_main.received} while "
        "main() ran")
