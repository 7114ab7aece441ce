"""Exercise 4 - exactly-once processing by deduplication.

The processed payment ids are kept in a JSON file next to this script, so they survive a
real restart of the program. The "restart" inside main() rewinds the same consumer to
the beginning of the partition with seek(), which redelivers every payment.
"""

import json
import os
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = {"bootstrap.servers": "localhost:9092"}
TOPIC = "payments"
STORE_FILE = Path(__file__).resolve().parent / "processed_payments.json"
BATCH = 4

_processed = None  # loaded from STORE_FILE on first use


def _store() -> set:
    global _processed
    if _processed is None:
        try:
            _processed = set(json.loads(STORE_FILE.read_text()))
        except FileNotFoundError:
            _processed = set()
    return _processed


def is_duplicate(message_id: str) -> bool:
    return message_id in _store()


def mark_processed(message_id: str):
    ids = _store()
    ids.add(message_id)
    # write a new file and swap it in, so a crash never leaves half a store behind
    tmp = STORE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(ids)))
    os.replace(tmp, STORE_FILE)


def process_payment(payment: dict) -> bool:
    pid = payment["payment_id"]
    if is_duplicate(pid):
        print(f"[dup]  {pid} already processed, skipping")
        return False
    amount = float(payment["amount"])
    print(f"[ok]   {pid}: {payment['customer']} pays {amount:.2f}")
    mark_processed(pid)
    return True


def ensure_topic():
    admin = AdminClient(BOOTSTRAP)
    futures = admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])
    for topic, future in futures.items():
        try:
            future.result()
            print(f"created topic {topic}")
        except Exception as e:
            if e.args and e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                print(f"topic {topic} already exists")
            else:
                raise


def send_payments(count=10):
    producer = Producer({**BOOTSTRAP, "enable.idempotence": True})
    sent = []
    for n in range(count):
        payment = {"payment_id": str(uuid.uuid4()), "amount": 12.5 * (n + 1),
                   "customer": f"CUST-{(n * 7) % 5 + 1:03d}"}
        producer.produce(TOPIC, key=payment["payment_id"].encode(),
                         value=json.dumps(payment).encode())
        sent.append(payment["payment_id"])
    producer.flush()
    return sent


def consume_to_end(consumer, commit):
    """Process batches until every assigned partition is read up to its end."""
    done = 0
    deadline = time.time() + 30
    while time.time() < deadline:
        for msg in consumer.consume(num_messages=BATCH, timeout=1.0):
            if msg.error():
                print("error:", msg.error())
                continue
            process_payment(json.loads(msg.value()))
            done += 1
            if commit:
                consumer.commit(offsets=[TopicPartition(msg.topic(), msg.partition(),
                                                        msg.offset() + 1)],
                                asynchronous=False)
        assignment = consumer.assignment()
        if assignment and all(reached_end(consumer, tp) for tp in assignment):
            break
    return done


def reached_end(consumer, tp):
    low, high = consumer.get_watermark_offsets(tp, timeout=5)
    position = consumer.position([tp])[0].offset
    return high == low or position >= high


def main():
    ensure_topic()
    ids = send_payments()
    print(f"sent {len(ids)} payments")

    consumer = Consumer({**BOOTSTRAP, "group.id": "payment-processor",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    try:
        print("first pass:", consume_to_end(consumer, commit=True), "messages")

        # simulate a crash before the commits: go back to the start of each partition
        for tp in consumer.assignment():
            low, _ = consumer.get_watermark_offsets(tp, timeout=5)
            consumer.seek(TopicPartition(tp.topic, tp.partition, low))
        print("second pass:", consume_to_end(consumer, commit=False), "messages")
    finally:
        consumer.close()
    print(f"{len(_store())} payment ids in {STORE_FILE.name}")


if __name__ == "__main__":
    main()
