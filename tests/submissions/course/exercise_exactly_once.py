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
    payment_id = payment['payment_id']

    if is_duplicate(payment_id):
        print(f"SKIP (duplicate): {payment_id}")
        return False

    # Process the payment
    print(f"PROCESS: {payment_id} - ${payment['amount']} from {payment['customer']}")

    # Mark as processed only after processing succeeded
    mark_processed(payment_id)
    return True


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

    # First pass: process every payment
    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'payment-processor',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False,
    })
    consumer.subscribe(['payments'])

    print("\n--- First pass ---")
    messages_seen = 0
    while True:
        msg = consumer.poll(timeout=5.0)
        if msg is None:
            if messages_seen >= 10:
                break
            continue
        if msg.error():
            print(f"Error: {msg.error()}")
            continue

        payment = json.loads(msg.value().decode('utf-8'))
        process_payment(payment)
        consumer.commit(msg)
        messages_seen += 1

    consumer.close()

    # Second pass: simulate a restart that reads everything again
    print("\n--- Second pass (simulating redelivery) ---")
    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'payment-processor-2',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False,
    })
    consumer.subscribe(['payments'])

    messages_seen = 0
    while True:
        msg = consumer.poll(timeout=5.0)
        if msg is None:
            if messages_seen >= 10:
                break
            continue
        if msg.error():
            print(f"Error: {msg.error()}")
            continue

        payment = json.loads(msg.value().decode('utf-8'))
        process_payment(payment)
        messages_seen += 1

    consumer.close()
    print(f"\nTotal unique payments processed: {len(processed_ids)}")


if __name__ == "__main__":
    main()
