"""Exercise 6, producer benchmark: honest figures for every configuration of the matrix.

``benchmark_producer(config, num_messages, message_size)`` is called alone for a few
configurations the harness chooses, one run each, one after the other, so that the
growth of ``benchmark-topic``'s end offset during a run is that run's own. Then
``main()`` runs once; the producers it created show which configurations it measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.course import reset_course
from pytest_kafka_lab.grading.evidence import listing
from pytest_kafka_lab.grading.plugin import require_exercise, require_ran
from pytest_kafka_lab.grading.sandbox import Run, Sandbox
from pytest_kafka_lab.readers import end_offsets

pytestmark = pytest.mark.exercise("ex6", "producer benchmark")

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
# Between the event clock (time.time) and the submission's, and for a little rounding.
CLOCK_SLACK = 0.002
# Figures may be rounded: relative, and absolute for 2 decimals.
RELATIVE, ABSOLUTE = 0.02, 0.006


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
def ex6(
    lab_submission: Path, lab_sandbox: Sandbox, lab_timeout: float, kafka_broker: KafkaBroker,
    kafka_admin: AdminClient,
) -> list[Measurement]:
    require_exercise(lab_submission, "ex6")
    reset_course(kafka_admin, {TOPIC: 1})
    measurements = []
    for config, num_messages, message_size in CALLS:
        before = sum(end_offsets(kafka_broker, TOPIC).values())
        run = require_ran(lab_sandbox.start_call(
            lab_submission, FILE, call="benchmark_producer",
            args=[config, num_messages, message_size]).finish(lab_timeout))
        received = sum(end_offsets(kafka_broker, TOPIC).values()) - before
        measurements.append(Measurement(config, num_messages, message_size, run, received))
    return measurements


@pytest.fixture(scope="module")
def ex6_main(
    ex6: list[Measurement], lab_submission: Path, lab_sandbox: Sandbox, lab_timeout: float,
) -> Run:
    return require_ran(lab_sandbox.start_call(lab_submission, FILE, call="main")
                       .finish(lab_timeout))


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
        f"{m.label}: the broker received {m.received} messages in '{TOPIC}', not "
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
        volume = messages * m.message_size / duration
        accepted = (volume / 1e6, volume / 2**20)
        assert any(close(result["mb_per_sec"], each) for each in accepted), (
            f"{m.label} reported mb_per_sec={result['mb_per_sec']:g}, but messages x "
            f"message_size / duration = {volume:.0f} bytes per second, which is "
            f"{accepted[0]:.3f} MB/s (10^6 bytes) or {accepted[1]:.3f} MiB/s (2^20 bytes); "
            "either is accepted")


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
        taken = reports[-1]["time"] - produced[0]["time"]
        assert duration >= taken - CLOCK_SLACK, (
            f"the clock stopped before every message was delivered: {m.label} reported "
            f"duration={duration:.3f} s, but {taken:.3f} s passed from its first produce() "
            "to its last delivery report; stop the clock after flush() returns")


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


def test_main_measures_every_configuration_of_the_matrix(ex6_main: Run) -> None:
    measured = [settings(config) for config in ex6_main.client_configs("producer")]
    missing = []
    for acks in ACKS:
        for batch, spellings in BATCH_SIZES.items():
            for compressed in (False, True):
                if not any(a == acks and b in spellings and (c in CODECS) == compressed
                           and (compressed or c == "none") for a, b, c in measured):
                    missing.append(f"acks={acks} batch.size={batch} compression="
                                   + ("a codec" if compressed else "none"))
    used = listing(sorted(set(map(label, measured))), 6) or "none"
    assert not missing, (
        f"main() did not measure {len(missing)} of the 18 configurations: "
        f"{listing(missing, 6)}. Its producers were created with: {used} "
        f"({ex6_main.summary()}). Run benchmark_producer for acks 0, 1 and all, batch.size "
        "16384, 32768 and 65536, and compression.type none and one codec (e.g. lz4), and "
        "pass each configuration on to the Producer")
