"""Two of Kafka's promises through one hard-killed broker, on three nodes (replication 3,
``min.insync.replicas=2``):

- to an idempotent ``acks=all`` producer (``acknowledged_sends``): what was acknowledged
  survives its partition leader's death, exactly once and in order; an ``acks=0``
  producer beside it, on a partition led by the same broker, loses messages it counted
  as delivered (the guarantee switched off, so the check can fail);
- to a transactional copier (``transactional_copies``): a ``read_committed`` reader of
  the output sees every input record once across the death of the broker coordinating
  its transactions, under both group protocols, input arriving all the while.

The broker killed is the transaction coordinator, and it leads the producers' partitions
too: one fault (a hang until the cluster fences it, a SIGKILL, a restart), waited out
once, hits every one of them mid-work.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from acknowledged_sends import GUARANTEED, SWITCHED_OFF, SendersThroughAFault, exactly_once_in_order
from transactional_copies import (
    PROTOCOLS,
    CopiesThroughAFault,
    ShortSessions,
    transaction_coordinator,
)

from pytest_kafka_lab.backends.cluster import LocalCluster


@dataclass
class Killed:
    """What broke each promise through the one killed broker: per producer setting, and
    per group protocol. Each ``result()`` raises what stopped that work."""

    broker: int
    sends: Future[dict[str, list[str]]]
    copies: Future[dict[str, list[str]]]


@pytest.fixture(scope="module")
def broker_killed(kafka_cluster: LocalCluster, short_sessions: ShortSessions) -> Killed:
    """The copiers copy first (their transactions choose the coordinator), then the
    producers send to partitions it leads; once both are under way it hangs until the
    cluster fenced it, is SIGKILLed and restarted (a hard bounce, as Kafka's system tests
    do), and both see the work through to the end side by side."""
    copies = CopiesThroughAFault(kafka_cluster, short_sessions)
    sends = SendersThroughAFault(kafka_cluster)
    try:
        copies.start()
        broker = transaction_coordinator(kafka_cluster)
        sends.start(leader=broker)
        # Hung first: what the producers send it stays in its socket, taken and never
        # written on, so that the acks=0 producer surely counts some of it as delivered
        # (a crash alone loses only the few messages of a replication's lag).
        kafka_cluster.pause_node(broker)
        kafka_cluster.kill_node(broker)
        kafka_cluster.restart_node(broker)
        with ThreadPoolExecutor(2, thread_name_prefix="after-the-kill") as pool:
            sent = pool.submit(sends.finish)
            copied = pool.submit(copies.finish, broker)
        return Killed(broker, sent, copied)
    finally:
        sends.close()
        copies.close()
        kafka_cluster.heal()


def test_every_acknowledged_message_survives_a_killed_leader_once_in_order(
    broker_killed: Killed,
) -> None:
    problems = broker_killed.sends.result()[GUARANTEED]
    assert not problems, "; ".join(problems)


def test_without_acknowledgements_a_killed_leader_loses_messages(broker_killed: Killed) -> None:
    """The guarantee switched off (``acks=0``, no idempotence): messages written to the
    hung leader's socket count as delivered, and are gone."""
    problems = broker_killed.sends.result()[SWITCHED_OFF]
    assert any("lost" in problem for problem in problems), problems


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_copy_survives_its_transaction_coordinator_hard_killed(
    broker_killed: Killed, protocol: str
) -> None:
    """Input arriving all the while: the broker coordinating the copier's transactions
    hangs, is SIGKILLed and restarted in the middle of the copy."""
    problems = broker_killed.copies.result()[protocol]
    assert not problems, f"across the coordinator's death: {'; '.join(problems)}"


def test_the_check_fails_on_lost_duplicated_or_reordered_messages() -> None:
    """No producer loses or duplicates on demand, so the check itself is shown to fail."""
    sent = [b"1", b"2", b"3"]
    assert exactly_once_in_order(sent, [b"1", b"2", b"3"]) == []
    assert "lost" in exactly_once_in_order(sent, [b"1", b"3"])[0]
    assert "read twice" in exactly_once_in_order(sent, [b"1", b"2", b"2", b"3"])[0]
    assert "order" in exactly_once_in_order(sent, [b"2", b"1", b"3"])[0]
