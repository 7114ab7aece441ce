"""Exercise 4 - exactly-once processing by deduplication.

Kafka may deliver a message more than once. Make payment processing idempotent:
remember the ids of the payments already processed and skip duplicates.
"""

import json
import uuid

from confluent_kafka import Consumer, Producer

# In production this would be a database or Redis
processed_ids = set()


def is_duplicate(message_id: str) -> bool:
    """Check if a message was already processed."""
    return message_id in processed_ids


def mark_processed(message_id: str):
    """Mark a message as processed."""
    processed_ids.add(message_id)


def process_payment(payment: dict) -> bool:
    """Process a payment exactly once. Returns True if processed, False if duplicate."""
    # The same customer paying the same amount twice is a duplicate, isn't it?
    key = f"{payment['customer']}:{payment['amount']}"
    if is_duplicate(key):
        print(f"SKIP (duplicate): {payment['payment_id']}")
        return False
    mark_processed(key)
    print(f"PROCESS: {payment['payment_id']} - ${payment['amount']} from {payment['customer']}")
    return True


def consume(group):
    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': group,
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False,
    })
    consumer.subscribe(['payments'])
    seen = processed = 0
    try:
        while True:
            msg = consumer.poll(2.0)
            if msg is None:
                if seen >= 10:
                    break
                continue
            if msg.error():
                print(f"Consumer error: {msg.error()}")
                continue
            seen += 1
            if process_payment(json.loads(msg.value())):
                processed += 1
            consumer.commit(msg)
    finally:
        consumer.close()
    print(f"{group}: {seen} payments read, {processed} processed")


def main():
    # Topic 'payments' already exists (created on first use)
    producer = Producer({'bootstrap.servers': 'localhost:9092'})

    # Produce some payments
    for i in range(10):
        payment = {
            'payment_id': str(uuid.uuid4()),
            'amount': 100.00 + i,
            'customer': f'CUST-{i:03d}',
        }
        producer.produce('payments', key=payment['payment_id'], value=json.dumps(payment))
    producer.flush()
    print("Produced 10 payments")

    consume('payment-processor')
    consume('payment-processor-2')  # as after a restart: every payment again


if __name__ == "__main__":
    main()
