"""A transactional copier: consume a batch, transform it, produce it and commit the input
offsets in one transaction (``send_offsets_to_transaction``), as Kafka's transactions
system test does. Run as ``python copier.py SPEC`` by ``test_transactional_copy``.

SPEC (JSON): ``config`` (the client settings), ``input``, ``output``, ``group``,
``transactional_id``, ``protocol``, ``batch``, ``session`` (the consumer's session
settings, if any: a crashed copier's partitions move to its successor once its session
has ended), and two faults: ``hold_at`` N (the Nth transaction, once written, is held
open until the copier is killed) and ``abort_at`` N (the Nth is aborted, and the input
rewound to the last commit, as a copier must).

Reports events (``pytest_kafka_lab.events.emit``): ``ready``, ``copying``, ``holding``,
``committing`` (as it sends the offsets and commits), ``aborted`` and ``committed`` (with
the input offsets the transaction committed). SIGINT stops it between transactions.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from pytest_kafka_lab.events import emit

stopping = False


def transform(value: bytes) -> bytes:
    return b"copied:" + value


def consumer_for(spec: dict[str, Any]) -> Consumer:
    settings = {**spec["config"], "group.id": spec["group"], "enable.auto.commit": False,
                "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                "group.protocol": spec["protocol"]}
    if spec["protocol"] == "classic":
        settings["partition.assignment.strategy"] = "cooperative-sticky"
    return Consumer({**settings, **spec.get("session", {})})


def positions(consumer: Consumer) -> list[TopicPartition]:
    """Where the next transaction starts, for the partitions consumed from so far."""
    return [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]


def rewind(consumer: Consumer) -> None:
    """Back to the last committed offsets: what an aborted transaction read is read again."""
    for tp in consumer.committed(consumer.assignment(), timeout=30):
        consumer.seek(TopicPartition(tp.topic, tp.partition,
                                     tp.offset if tp.offset >= 0 else OFFSET_BEGINNING))


def copy_batch(producer: Producer, consumer: Consumer, spec: dict[str, Any],
               batch: list[Message], number: int) -> None:
    emit("copying", transaction=number, records=len(batch))
    producer.begin_transaction()
    for message in batch:
        producer.produce(spec["output"], key=message.key(),
                         value=transform(message.value() or b""))
    if number == spec.get("hold_at"):
        producer.flush(30)  # in the log, inside a transaction never ended
        emit("holding", transaction=number, records=len(batch))
        while True:  # until SIGKILL: a crash, not a goodbye
            signal.pause()
    if number == spec.get("abort_at"):
        producer.flush(30)  # written to the log, so that the abort has something to undo
    offsets = positions(consumer)
    emit("committing", transaction=number)  # the offsets, then the commit: where it can hang
    try:
        producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 60)
        if number == spec.get("abort_at"):
            abandon(producer, consumer, number, len(batch), "abort_at")
            return
        commit(producer)
    except KafkaException as failure:
        if not failure.args[0].txn_requires_abort():
            raise  # fatal (fenced, say): this copier ends, a successor takes over
        abandon(producer, consumer, number, len(batch), str(failure))
        return
    emit("committed", transaction=number,
         offsets=sorted([tp.partition, tp.offset] for tp in offsets))


def abandon(producer: Producer, consumer: Consumer, number: int, records: int,
            reason: str) -> None:
    """Abort, and read again from the last commit what the transaction had read."""
    producer.abort_transaction(60)
    rewind(consumer)
    emit("aborted", transaction=number, records=records, reason=reason)


def commit(producer: Producer) -> None:
    """Commit, retrying what librdkafka calls retriable (a coordinator moving, say)."""
    for _ in range(5):
        try:
            producer.commit_transaction(60)
            return
        except KafkaException as failure:
            if not failure.args[0].retriable():
                raise
    producer.commit_transaction(60)


def main() -> None:
    spec = json.loads(sys.argv[1])

    def stop(_signum: int, _frame: Any) -> None:
        global stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    # A successor with the same transactional.id aborts what its crashed predecessor left
    # open, before anything is consumed.
    producer = Producer({**spec["config"], "transactional.id": spec["transactional_id"],
                         "transaction.timeout.ms": 60000})
    producer.init_transactions(60)
    consumer = consumer_for(spec)
    consumer.subscribe([spec["input"]])
    emit("ready")
    number = 0
    while not stopping:
        batch = [m for m in consumer.consume(spec["batch"], 0.5) if m.error() is None]
        if batch:
            number += 1
            copy_batch(producer, consumer, spec, batch, number)
    consumer.close()


if __name__ == "__main__":
    main()
