"""Kafka's promise to a transactional copier (consume, transform, produce, and commit the
input offsets in the same transaction): a ``read_committed`` reader of the output sees
every input record exactly once, whatever happened to the copier.

Modelled on Kafka's transactions system test: the copier (``copier.py``, its own process)
is SIGKILLed with a transaction open and written, and a successor with the same
``transactional.id`` finishes the copy; in a second run the copier aborts a transaction
and rewinds. The same output read with ``read_uncommitted`` (the guarantee switched off)
holds the abandoned records a second time, so each check can fail. Under both group
protocols. The copies run side by side, each on topics, a group and a transactional id
of its own, so that their waits overlap. (The copy through its transaction coordinator's
death is in ``test_one_broker_killed``.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from transactional_copies import PROTOCOLS, RECORDS, Copy, ShortSessions, copied_once

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.readiness import CLIENT_LOGGER
from pytest_kafka_lab.topics import TopicFactory


def held_then_killed(job: Copy) -> dict[str, Any]:
    """Kill the copier with its third transaction open; a successor finishes the copy."""
    crashed = job.start(hold_at=3)
    holding = crashed.wait_for_event(lambda _: crashed.of("holding"), 60,
                                     "the third transaction to be written and held open")
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


@dataclass
class Outcome:
    """What one copy showed after its fault: what broke the promise, and how many records
    of the abandoned transaction there were and a ``read_uncommitted`` reader saw twice."""

    problems: list[str]
    abandoned: int
    seen_twice: int


def through_a_fault(job: Copy, fault: str) -> Outcome:
    abandoned = FAULTS[fault](job)
    problems = copied_once(job.input(), job.output("read_committed"))
    seen_twice = sum(count - 1 for count in job.output("read_uncommitted").values())
    return Outcome(problems, abandoned["records"], seen_twice)


@pytest.fixture(scope="module")
def faults_survived(kafka_broker: KafkaBroker, short_sessions: ShortSessions
                    ) -> Iterator[dict[tuple[str, str], Future[Outcome]]]:
    """Every fault under both protocols, each copy on topics, a group and a transactional
    id of its own, side by side: the copies wait out sessions and aborts together. The
    outcome of each, by (fault, protocol); its ``result()`` raises what stopped it."""
    topics = TopicFactory(AdminClient(kafka_broker.client_config()), "copy")
    producer = Producer(kafka_broker.client_config(**{"logger": CLIENT_LOGGER}))
    jobs = {(fault, protocol): Copy(kafka_broker, topics, protocol, short_sessions)
            for fault in FAULTS for protocol in PROTOCOLS}
    try:
        for job in jobs.values():
            for number in range(RECORDS):
                producer.produce(job.source, key=f"k{number % 50}", value=f"{number:05d}")
        assert producer.flush(30) == 0, "the input is still unacknowledged after 30 s"
        # Each copier dies with the thread that started it, so each job runs to its end
        # in a thread of its own.
        with ThreadPoolExecutor(len(jobs), thread_name_prefix="copy") as pool:
            outcomes = {key: pool.submit(through_a_fault, job, key[0])
                        for key, job in jobs.items()}
            wait(outcomes.values())
        yield outcomes
    finally:
        for job in jobs.values():
            for copier in job.copiers:
                copier.kill()
        topics.cleanup()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_read_committed_reader_sees_every_input_record_once(
    faults_survived: dict[tuple[str, str], Future[Outcome]], fault: str, protocol: str
) -> None:
    outcome = faults_survived[fault, protocol].result()
    assert not outcome.problems, f"after the {fault}: " + "; ".join(outcome.problems)
    # The guarantee switched off: the abandoned transaction's records were really written.
    assert outcome.seen_twice == outcome.abandoned, (
        f"read_uncommitted should show the {outcome.abandoned} abandoned records again, "
        f"showed {outcome.seen_twice}")


def test_the_check_fails_on_missing_doubled_or_foreign_records() -> None:
    source = [b"%05d" % number for number in range(RECORDS)]
    complete = Counter(b"copied:" + value for value in source)
    assert copied_once(source, complete) == []
    assert "never copied" in copied_once(source, complete - Counter([b"copied:00007"]))[0]
    assert "copied twice" in copied_once(source, complete + Counter([b"copied:00007"]))[0]
    assert "no copy" in copied_once(source, complete + Counter([b"00007"]))[0]
