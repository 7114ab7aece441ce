"""Kafka's promise to a transactional copier (consume, transform, produce, and commit the
input offsets in the same transaction): a ``read_committed`` reader of the output sees
every input record exactly once, whatever happened to the copier.

Modelled on Kafka's transactions system test: the copier (``copier.py``, its own process)
is SIGKILLed with a transaction open and written, and a successor with the same
``transactional.id`` finishes the copy; in a second run the copier aborts a transaction
and rewinds. The same output read with ``read_uncommitted`` (the guarantee switched off)
holds the abandoned records a second time, so each check can fail. Under both group
protocols.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.clients import RecordingProducer
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.processes import ReportingProcess
from pytest_kafka_lab.readers import committed_offsets, end_offsets, read_topic
from pytest_kafka_lab.topics import TopicFactory

COPIER = Path(__file__).parent / "copier.py"
RECORDS = 600
PARTITIONS = 3
BATCH = 40
PROTOCOLS = ["classic", "consumer"]


class Copy:
    """One copy job: its topics, group and transactional id, and the copiers started."""

    def __init__(self, broker: KafkaBroker, topics: TopicFactory, protocol: str) -> None:
        self.broker = broker
        self.source = topics(partitions=PARTITIONS)
        self.target = topics(partitions=PARTITIONS)
        self.spec: dict[str, Any] = {
            "config": broker.client_config(), "input": self.source, "output": self.target,
            "group": unique_name("copy"), "transactional_id": unique_name("copier"),
            "protocol": protocol, "batch": BATCH}
        self.copiers: list[ReportingProcess] = []

    def start(self, **faults: int) -> ReportingProcess:
        copier = ReportingProcess(
            [sys.executable, str(COPIER), json.dumps({**self.spec, **faults})],
            f"copier {len(self.copiers) + 1}")
        self.copiers.append(copier)
        return copier

    def wait_until_all_committed(self, copier: ReportingProcess) -> None:
        """Until the group's committed offsets (the broker's) reach the input's end."""
        ends = {(self.source, p): end for p, end in end_offsets(self.broker, self.source).items()}

        def committed() -> dict[tuple[str, int], int]:
            return committed_offsets(self.broker, self.spec["group"], self.source)

        copier.wait_for_event(lambda _: committed() == ends, 90,
                              f"the group to commit the input's end {ends}")

    def output(self, isolation: str) -> Counter[bytes]:
        return Counter(record.value or b"" for record in
                       read_topic(self.broker, self.target, timeout=30, isolation=isolation))


@pytest.fixture
def copy_job(kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory,
             kafka_producer: RecordingProducer, request: pytest.FixtureRequest) -> Iterator[Copy]:
    job = Copy(kafka_broker, kafka_topic_factory, request.param)
    for number in range(RECORDS):
        kafka_producer.produce(job.source, key=f"k{number % 50}", value=f"{number:05d}")
    kafka_producer.flush()
    yield job
    for copier in job.copiers:
        copier.kill()


def copied_once(output: Counter[bytes]) -> list[str]:
    """What breaks the promise: input records missing from the output, or there twice."""
    expected = {b"copied:%05d" % number for number in range(RECORDS)}
    problems = []
    missing = sorted(expected - set(output))
    if missing:
        problems.append(f"{len(missing)} input records never copied, e.g. {missing[:3]}")
    doubled = sorted(value for value, count in output.items() if count > 1)
    if doubled:
        problems.append(f"{len(doubled)} records copied twice, e.g. {doubled[:3]}")
    strangers = sorted(set(output) - expected)
    if strangers:
        problems.append(f"{len(strangers)} records that are no copy of the input")
    return problems


def held_then_killed(job: Copy) -> dict[str, Any]:
    """Kill the copier with its third transaction open; a successor finishes the copy."""
    crashed = job.start(hold_at=3)
    holding = crashed.wait_for_event(lambda events: [e for e in events
                                                     if e["event"] == "holding"],
                                     60, "the third transaction to be written and held open")
    crashed.kill()
    job.wait_until_all_committed(job.start())
    return dict(holding[0])


def aborted_once(job: Copy) -> dict[str, Any]:
    copier = job.start(abort_at=2)
    job.wait_until_all_committed(copier)
    [aborted] = copier.of("aborted")
    return aborted


FAULTS: dict[str, Callable[[Copy], dict[str, Any]]] = {
    "copier killed mid-transaction": held_then_killed,
    "transaction aborted": aborted_once,
}


@pytest.mark.parametrize("copy_job", PROTOCOLS, indirect=True)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_read_committed_reader_sees_every_input_record_once(copy_job: Copy, fault: str) -> None:
    abandoned = FAULTS[fault](copy_job)
    problems = copied_once(copy_job.output("read_committed"))
    assert not problems, f"after the {fault}: " + "; ".join(problems)
    # The guarantee switched off: the abandoned transaction's records were really written.
    seen_twice = sum(count - 1 for count in copy_job.output("read_uncommitted").values())
    assert seen_twice == abandoned["records"], (
        f"read_uncommitted should show the {abandoned['records']} abandoned records again, "
        f"showed {seen_twice}")


def test_the_check_fails_on_missing_doubled_or_foreign_records() -> None:
    complete = Counter(b"copied:%05d" % number for number in range(RECORDS))
    assert copied_once(complete) == []
    assert "never copied" in copied_once(complete - Counter([b"copied:00007"]))[0]
    assert "copied twice" in copied_once(complete + Counter([b"copied:00007"]))[0]
    assert "no copy" in copied_once(complete + Counter([b"00007"]))[0]

