"""A consumer group member in its own process, so that it can really be killed.

Started by ``groups.ConsumerGroup`` as ``python -m pytest_kafka_lab._member SPEC``. It
reports events (``events.emit``): ``joined``, every ``assigned``/``revoked``/``lost``
callback with the partitions it names and the assignment after it, and each message
consumed. SIGINT or SIGTERM closes the consumer (leaving the group); SIGKILL
leaves it to the session timeout, as a crash would. With ``commit_every`` N it commits
synchronously after every N messages (``committed`` events, or ``commit-failed`` when a
rebalance refused one), as a careful consumer does.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from pytest_kafka_lab.events import emit

stopping = False


def names(partitions: list[TopicPartition]) -> list[list[Any]]:
    return sorted([tp.topic, tp.partition] for tp in partitions)


def main() -> None:
    spec = json.loads(sys.argv[1])
    incremental = spec["incremental"]
    commit_every = int(spec.get("commit_every", 0))
    consumed = 0
    owned: set[tuple[str, int]] = set()
    consumer = Consumer(spec["config"])

    def on_assign(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if not incremental:
            owned.clear()
        owned.update((tp.topic, tp.partition) for tp in partitions)
        emit("assigned", partitions=names(partitions), assignment=sorted(owned))

    def on_revoke(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if incremental:
            owned.difference_update((tp.topic, tp.partition) for tp in partitions)
        else:
            owned.clear()
        emit("revoked", partitions=names(partitions), assignment=sorted(owned))

    def on_lost(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
        owned.difference_update((tp.topic, tp.partition) for tp in partitions)
        emit("lost", partitions=names(partitions), assignment=sorted(owned))

    def stop(_signum: int, _frame: Any) -> None:
        global stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    consumer.subscribe(spec["topics"], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    emit("joined")
    while not stopping:
        message = consumer.poll(0.1)
        if message is None:
            continue
        if message.error():
            emit("error", error=str(message.error()))
            continue
        emit("consumed", topic=message.topic(), partition=message.partition(),
             offset=message.offset())
        consumed += 1
        if commit_every and consumed % commit_every == 0:
            commit(consumer)
    consumer.close()
    emit("closed")


def commit(consumer: Consumer) -> None:
    """Commit what was consumed, as a careful consumer does: a commit the coordinator
    refuses because a rebalance began (classic protocol: ILLEGAL_GENERATION or
    REBALANCE_IN_PROGRESS) is reported and consumption goes on; the next commit covers it."""
    try:
        committed = consumer.commit(asynchronous=False)
    except KafkaException as error:
        emit("commit-failed", error=str(error.args[0]))
        return
    # Partitions not consumed from yet come back as OFFSET_INVALID: not committed.
    emit("committed", offsets=sorted([tp.topic, tp.partition, tp.offset]
                                     for tp in committed or [] if tp.offset >= 0))


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.stderr.flush()
        # The consumer's destructor would close it, and a close in mid-rebalance can
        # block: a member that failed must end, so that the test sees it ended.
        os._exit(1)
