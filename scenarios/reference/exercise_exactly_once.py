"""Exercise 4 - exactly-once processing by deduplication.

Kafka delivers at least once: after a restart a consumer may read payments it already
handled. Each payment therefore carries a unique ``payment_id``; the consumer remembers
the ids it processed and skips a payment it has seen. ``main()`` produces 10 payments,
then reads the topic twice from the beginning, the second time as a consumer restarted
without committed offsets would: every payment is processed in the first pass and
recognised as a duplicate in the second.

The store of processed ids lives in memory for the run; a real service would keep it in
a database, updated in the same transaction as the payment's effect.
"""

import json
import random
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

TOPIC = "payments"
NUM_PAYMENTS = 10
CUSTOMERS = [f"CUST-{number:03d}" for number in range(1, 6)]
READ_TIMEOUT_SECONDS = 30

processed_ids = set()


def is_duplicate(message_id: str) -> bool:
    """True if the payment with this id was processed before."""
    return message_id in processed_ids


def mark_processed(message_id: str):
    """Remember that the payment with this id has been processed."""
    processed_ids.add(message_id)


def process_payment(payment: dict) -> bool:
    """Process a payment once: True if it was processed, False if skipped as a duplicate."""
    payment_id = payment["payment_id"]
    if is_duplicate(payment_id):
        print(f"Skipping duplicate payment {payment_id}", flush=True)
        return False
    print(f"Processing payment {payment_id}: {payment.get('amount')} "
          f"from {payment.get('customer')}", flush=True)
    # Marked only now that the payment went through: a crash before this line means the
    # payment is processed again after a restart rather than lost.
    mark_processed(payment_id)
    return True


def create_payment() -> dict:
    return {
        "payment_id": str(uuid.uuid4()),
        "amount": round(random.uniform(10.0, 1000.0), 2),
        "customer": random.choice(CUSTOMERS),
    }


def produce_payments(count: int) -> list:
    producer = Producer({
        "bootstrap.servers": "localhost:9092",
        "acks": "all",
        "enable.idempotence": True,
    })
    failures = []

    def delivery_callback(err, msg):
        if err is not None:
            failures.append(err)
            print(f"Delivery failed: {err}", file=sys.stderr, flush=True)

    payments = [create_payment() for _ in range(count)]
    for payment in payments:
        producer.produce(TOPIC, key=payment["payment_id"], value=json.dumps(payment),
                         on_delivery=delivery_callback)
        producer.poll(0)
    remaining = producer.flush(30)
    print(f"Produced {count - len(failures) - remaining} of {count} payments", flush=True)
    return payments


def consume_from_beginning(label: str) -> tuple:
    """Read every payment in the topic once, from the first offset to the end.

    A fresh consumer with no committed offsets, as after a restart that lost them. It
    stops when each partition reported its end (``enable.partition.eof``), not after a
    guessed sleep. Returns (processed, skipped).
    """
    consumer = Consumer({
        "bootstrap.servers": "localhost:9092",
        "group.id": "payment-processor",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    processed = skipped = 0
    try:
        metadata = consumer.list_topics(TOPIC, timeout=10)
        partitions = [TopicPartition(TOPIC, number, OFFSET_BEGINNING)
                      for number in metadata.topics[TOPIC].partitions]
        consumer.assign(partitions)
        at_end = set()
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        while len(at_end) < len(partitions):
            if time.monotonic() > deadline:
                print(f"{label}: gave up waiting for the end of {TOPIC}", file=sys.stderr,
                      flush=True)
                break
            msg = consumer.poll(timeout=1.0)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                else:
                    print(f"Consumer error: {msg.error()}", file=sys.stderr, flush=True)
                continue
            if process_payment(json.loads(msg.value())):
                processed += 1
            else:
                skipped += 1
    finally:
        consumer.close()
    print(f"{label}: processed {processed}, skipped {skipped} duplicates", flush=True)
    return processed, skipped


def main():
    produce_payments(NUM_PAYMENTS)
    print("--- First pass ---", flush=True)
    consume_from_beginning("First pass")
    print("--- Second pass, as after a restart ---", flush=True)
    consume_from_beginning("Second pass")
    print(f"{len(processed_ids)} distinct payments processed in total", flush=True)


if __name__ == "__main__":
    main()
