"""A transactional copier's work (consume, transform, produce, and commit the input offsets
in the same transaction) as the promises watch it: ``Copy`` is one copy job, on topics, a
group and a transactional id of its own; ``CopiesThroughAFault`` is a copier of each group
protocol copying while input keeps arriving, through a fault that hits their transaction
coordinator (``test_one_broker_killed`` kills it). ``test_transactional_copy`` holds the
faults that hit the copier itself.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.backends.cluster import LocalCluster
from pytest_kafka_lab.clients import produce_until
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
# Through the coordinator's death input keeps arriving, and piles up while no transaction
# can commit: the copier then takes up to this many records into one transaction, as a
# copier under load does, instead of working the backlog off forty at a time.
BATCH_UNDER_FAULT = 200
PROTOCOLS = ["classic", "consumer"]
# Input through the coordinator's death: fifty records a second, a few per transaction.
FEED_INTERVAL = 0.02
# The committed offsets are asked of the broker through a fresh client: five times a
# second, so that the waiting does not load the brokers that the copy needs.
BROKER_POLL_INTERVAL = 0.2
# A live copier commits several transactions a second, and finds a new coordinator within
# a second or two of the cluster being whole again.
HUNG_AFTER = 10.0
OVERTAKEN = 3  # commits of its peer, through the same fault, while a copier's stands
ShortSessions = Callable[[Any, str, str], dict[str, Any]]


class Copy:
    """One copy job: its topics, group and transactional id, and the copiers started."""

    def __init__(self, broker: KafkaBroker | LocalCluster, topics: TopicFactory,
                 protocol: str, short_sessions: ShortSessions, batch: int = BATCH) -> None:
        self.broker = broker
        self.protocol = protocol
        self.source = topics(partitions=PARTITIONS)
        self.target = topics(partitions=PARTITIONS)
        group = unique_name("copy")
        self.spec: dict[str, Any] = {
            "config": broker.client_config(), "input": self.source, "output": self.target,
            "group": group, "transactional_id": unique_name("copier"),
            "protocol": protocol, "batch": batch,
            "session": short_sessions(broker, group, protocol)}
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
                              f"the group to commit the input's end {ends}",
                              interval=BROKER_POLL_INTERVAL)

    def input(self) -> list[bytes]:
        return [record.value or b"" for record in read_topic(self.broker, self.source,
                                                              timeout=30)]

    def output(self, isolation: str) -> Counter[bytes]:
        return Counter(record.value or b"" for record in
                       read_topic(self.broker, self.target, timeout=30, isolation=isolation))


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



def feed_steadily(cluster: LocalCluster, topic: str, stop: threading.Event) -> None:
    """Input every few milliseconds until ``stop``: the copy goes on through the fault."""
    producer = Producer(cluster.client_config(**{"acks": "all", "enable.idempotence": True,
                                                 "logger": CLIENT_LOGGER}))
    produce_until(stop, producer, topic, first=RECORDS, interval=FEED_INTERVAL)
    assert producer.flush(60) == 0, "input still unacknowledged after 60 s"


def transaction_coordinator(cluster: LocalCluster) -> int:
    """The broker leading the one partition of the transaction log (the lab makes one):
    the coordinator of every copier's transactions."""
    metadata = AdminClient(cluster.client_config()).list_topics("__transaction_state", timeout=10)
    [partition] = metadata.topics["__transaction_state"].partitions.values()
    return int(partition.leader)


def committing_again(job: Copy, copier: ReportingProcess, peer: ReportingProcess | None,
                     awaited: str) -> ReportingProcess:
    """The copier once it has committed three more transactions.

    A copier can hang in a commit after the coordinator's death: in librdkafka's
    ``send_offsets_to_transaction``, which waits forever on a group coordinator that left
    the metadata, past its own timeout (librdkafka issues 5511 and 5456, open in 2.16),
    or in ``commit_transaction`` waiting on its last records. It is seen hung when its
    commit has stood ``HUNG_AFTER`` seconds while its ``peer`` (the other protocol's
    copier, through the same fault) committed ``OVERTAKEN`` transactions, or when it
    commits nothing for ``HUNG_AFTER`` seconds after the cluster is whole again. It is
    SIGKILLed and a successor with its ``transactional.id`` takes over, as an operator
    would: the promise checked after is Kafka's, and must hold across that too.
    """
    if three_more_commits(copier, peer, awaited):
        return copier
    copier.kill()
    warnings.warn(f"the {job.protocol} copier hung in a commit after the coordinator's "
                  f"death (librdkafka issue 5511: {hung(copier, peer)}) and was replaced "
                  "by a successor", stacklevel=2)
    successor = job.start()
    if not three_more_commits(successor, None, awaited):
        raise WaitTimeout(f"{successor.name}: waited {HUNG_AFTER:g}s for {awaited}")
    return successor


def three_more_commits(copier: ReportingProcess, peer: ReportingProcess | None,
                       awaited: str) -> bool:
    """Whether ``copier`` commits three more transactions (False: it hung first)."""
    before = len(copier.of("committed"))

    def committed_or_hung(events: list[dict[str, Any]]) -> str | None:
        if sum(event["kind"] == "committed" for event in events) >= before + 3:
            return "committed"
        return "hung" if peer is not None and overtaken(events, peer) else None

    try:
        return bool(copier.wait_for_event(committed_or_hung, HUNG_AFTER, awaited)
                    == "committed")
    except WaitTimeout:
        return False


def overtaken(events: list[dict[str, Any]], peer: ReportingProcess) -> bool:
    """Whether the copier of ``events`` has been committing a transaction for
    ``HUNG_AFTER`` seconds while ``peer`` committed ``OVERTAKEN`` of its own.

    Both, because a commit begun before the kill rightly waits out the fencing, the
    restart and the new coordinator (up to 10 s measured), while a peer that began later
    may commit several in that time."""
    ends = [event for event in events
            if event["kind"] in ("committing", "committed", "aborted")]
    if not ends or ends[-1]["kind"] != "committing":
        return False
    since = ends[-1]["time"]
    return time.time() - since >= HUNG_AFTER and \
        len([event for event in peer.of("committed") if event["time"] > since]) >= OVERTAKEN


def hung(copier: ReportingProcess, peer: ReportingProcess | None) -> str:
    """How the copier was seen hung, for the warning."""
    if peer is not None and overtaken(copier.events, peer):
        return (f"committing for {HUNG_AFTER:.0f}s while the other copier committed "
                f"{OVERTAKEN} transactions")
    return f"nothing committed for {HUNG_AFTER:.0f}s"


@dataclass
class Survival:
    """One protocol's copy through the coordinator's death: its job, the copier doing it
    now, and what broke the promise (nothing, while it holds). A step that fails is noted
    and ends this copy, not the other protocol's, which goes on through the fault."""

    job: Copy
    copier: ReportingProcess | None = None
    problems: list[str] = field(default_factory=list)

    def step(self, action: Callable[[ReportingProcess], object]) -> None:
        if self.problems or self.copier is None:
            return
        try:
            action(self.copier)
        except AssertionError as failure:
            self.problems.append(str(failure))

    def three_committed(self, copier: ReportingProcess) -> None:
        copier.wait_for_event(lambda _: len(copier.of("committed")) >= 3, 60,
                              "three transactions committed")

    def again_after(self, coordinator: int,
                    peer: ReportingProcess | None) -> Callable[[ReportingProcess], None]:
        def again(copier: ReportingProcess) -> None:
            self.copier = committing_again(
                self.job, copier, peer, f"three more transactions committed after broker "
                                        f"{coordinator} was killed and restarted")
        return again

    def all_copied_once(self, copier: ReportingProcess) -> None:
        self.job.wait_until_all_committed(copier)
        self.problems += copied_once(self.job.input(), self.job.output("read_committed"))



class CopiesThroughAFault:
    """On three brokers (replication 3, ``min.insync.replicas=2``), input arriving all the
    while, a copier of each group protocol copies its own topic, through a fault that hits
    the broker coordinating their transactions (one transaction log partition: the same
    broker for both)."""

    def __init__(self, cluster: LocalCluster, short_sessions: ShortSessions) -> None:
        self.topics = TopicFactory(AdminClient(cluster.client_config()), "copy")
        self.copies = [Survival(Copy(cluster, self.topics, protocol, short_sessions,
                                     BATCH_UNDER_FAULT)) for protocol in PROTOCOLS]
        self.stop = threading.Event()
        self.feeders = [threading.Thread(target=feed_steadily,
                                         args=(cluster, copy.job.source, self.stop))
                        for copy in self.copies]

    def start(self) -> None:
        """Copy; return once each copier committed three transactions."""
        for copy in self.copies:
            copy.copier = copy.job.start()
        for feeder in self.feeders:
            feeder.start()
        for copy in self.copies:
            copy.step(copy.three_committed)

    def finish(self, coordinator: int) -> dict[str, list[str]]:
        """Once the coordinator is back: per protocol, what broke the promise."""
        for copy, other in zip(self.copies, reversed(self.copies), strict=True):
            copy.step(copy.again_after(coordinator, other.copier))
        self.stop_feeding()
        for copy in self.copies:
            copy.step(copy.all_copied_once)
        return {copy.job.protocol: copy.problems for copy in self.copies}

    def stop_feeding(self) -> None:
        self.stop.set()
        for feeder in self.feeders:
            if feeder.is_alive():
                feeder.join()

    def close(self) -> None:
        self.stop_feeding()
        for copy in self.copies:
            for started in copy.job.copiers:
                started.kill()
        self.topics.cleanup()
