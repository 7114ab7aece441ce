"""Kafka's promise to a transactional copier (consume, transform, produce, and commit the
input offsets in the same transaction): a ``read_committed`` reader of the output sees
every input record exactly once, whatever happened to the copier.

Modelled on Kafka's transactions system test: the copier (``copier.py``, its own process)
is SIGKILLed with a transaction open and written, and a successor with the same
``transactional.id`` finishes the copy; in a second run the copier aborts a transaction
and rewinds. The same output read with ``read_uncommitted`` (the guarantee switched off)
holds the abandoned records a second time, so each check can fail. On a three-broker
cluster, the broker coordinating the copier's transactions is SIGKILLed mid-copy. Under
both group protocols.
"""

from __future__ import annotations

import json
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.backends.cluster import LocalCluster
from pytest_kafka_lab.clients import RecordingProducer, produce_until
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.processes import ReportingProcess
from pytest_kafka_lab.readers import committed_offsets, end_offsets, read_topic
from pytest_kafka_lab.readiness import CLIENT_LOGGER
from pytest_kafka_lab.topics import TopicFactory
from pytest_kafka_lab.waiting import WaitTimeout

COPIER = Path(__file__).parent / "copier.py"
RECORDS = 600
PARTITIONS = 3
BATCH = 40
PROTOCOLS = ["classic", "consumer"]
HUNG_AFTER = 15.0  # a live copier commits several transactions a second


class Copy:
    """One copy job: its topics, group and transactional id, and the copiers started."""

    def __init__(self, broker: KafkaBroker | LocalCluster, topics: TopicFactory,
                 protocol: str) -> None:
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

    def input(self) -> list[bytes]:
        return [record.value or b"" for record in read_topic(self.broker, self.source,
                                                              timeout=30)]

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


def copied_once(source: list[bytes], output: Counter[bytes]) -> list[str]:
    """What breaks the promise: input records missing from the output, or there twice."""
    expected = {b"copied:" + value for value in source}
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


@pytest.mark.parametrize("copy_job", PROTOCOLS, indirect=True)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_read_committed_reader_sees_every_input_record_once(copy_job: Copy, fault: str) -> None:
    abandoned = FAULTS[fault](copy_job)
    problems = copied_once(copy_job.input(), copy_job.output("read_committed"))
    assert not problems, f"after the {fault}: " + "; ".join(problems)
    # The guarantee switched off: the abandoned transaction's records were really written.
    seen_twice = sum(count - 1 for count in copy_job.output("read_uncommitted").values())
    assert seen_twice == abandoned["records"], (
        f"read_uncommitted should show the {abandoned['records']} abandoned records again, "
        f"showed {seen_twice}")


def test_the_check_fails_on_missing_doubled_or_foreign_records() -> None:
    source = [b"%05d" % number for number in range(RECORDS)]
    complete = Counter(b"copied:" + value for value in source)
    assert copied_once(source, complete) == []
    assert "never copied" in copied_once(source, complete - Counter([b"copied:00007"]))[0]
    assert "copied twice" in copied_once(source, complete + Counter([b"copied:00007"]))[0]
    assert "no copy" in copied_once(source, complete + Counter([b"00007"]))[0]


def feed_steadily(cluster: LocalCluster, topic: str, stop: threading.Event) -> None:
    """Input every few milliseconds until ``stop``: the copy goes on through the fault."""
    producer = Producer(cluster.client_config(**{"acks": "all", "enable.idempotence": True,
                                                 "logger": CLIENT_LOGGER}))
    produce_until(stop, producer, topic, first=RECORDS)
    assert producer.flush(60) == 0, "input still unacknowledged after 60 s"


def transaction_coordinator(cluster: LocalCluster) -> int:
    """The broker leading the one partition of the transaction log (the lab makes one)."""
    metadata = AdminClient(cluster.client_config()).list_topics("__transaction_state", timeout=10)
    [partition] = metadata.topics["__transaction_state"].partitions.values()
    return int(partition.leader)


def committing_again(job: Copy, copier: ReportingProcess, awaited: str) -> ReportingProcess:
    """The copier once it has committed three more transactions.

    A copier that commits nothing for ``HUNG_AFTER`` seconds is hung in librdkafka's
    ``send_offsets_to_transaction``, which waits forever on a group coordinator that
    left the metadata, past its own timeout (librdkafka issues 5511 and 5456, open in
    2.16). It is SIGKILLed and a successor with its ``transactional.id`` takes over, as
    an operator would: the promise checked after is Kafka's, and must hold across that
    too.
    """
    try:
        three_more_commits(copier, awaited)
        return copier
    except WaitTimeout:
        copier.kill()
        warnings.warn(f"the copier hung for {HUNG_AFTER:.0f}s after the coordinator's death "
                      "(librdkafka issue 5511) and was replaced by a successor", stacklevel=2)
    successor = job.start()
    three_more_commits(successor, awaited)
    return successor


def three_more_commits(copier: ReportingProcess, awaited: str) -> None:
    before = len(copier.of("committed"))
    copier.wait_for_event(
        lambda events: sum(event["kind"] == "committed" for event in events) >= before + 3,
        HUNG_AFTER, awaited)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_copy_survives_its_transaction_coordinator_hard_killed(
    kafka_faults: LocalCluster, protocol: str
) -> None:
    """On three brokers (replication 3, ``min.insync.replicas=2``), input arriving all the
    while: the broker coordinating the copier's transactions is SIGKILLed and restarted
    in the middle of the copy."""
    topics = TopicFactory(AdminClient(kafka_faults.client_config()), "copy")
    job = Copy(kafka_faults, topics, protocol)
    stop = threading.Event()
    feeding = threading.Thread(target=feed_steadily, args=(kafka_faults, job.source, stop))
    try:
        copier = job.start()
        feeding.start()
        copier.wait_for_event(lambda _: len(copier.of("committed")) >= 3, 60,
                              "three transactions committed")
        coordinator = transaction_coordinator(kafka_faults)
        kafka_faults.kill_node(coordinator)  # returns once the cluster has fenced it
        kafka_faults.restart_node(coordinator)  # a hard bounce, as Kafka's system test does
        copier = committing_again(job, copier, f"three more transactions committed after "
                                               f"broker {coordinator} was killed and restarted")
        stop.set()
        feeding.join()
        job.wait_until_all_committed(copier)
        problems = copied_once(job.input(), job.output("read_committed"))
        assert not problems, f"across the coordinator's death: {'; '.join(problems)}"
    finally:
        stop.set()
        if feeding.is_alive():
            feeding.join()
        for started in job.copiers:
            started.kill()
        topics.cleanup()
