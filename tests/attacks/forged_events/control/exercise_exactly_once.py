"""Exercise 4 - exactly-once processing by deduplication.

Kafka may deliver a message more than once. Make payment processing idempotent:
remember the ids of the payments already processed and skip duplicates.
"""

import json
import uuid

from confluent_kafka import Consumer, Producer  # noqa: F401 - you will need Consumer

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
    if is_duplicate(payment['payment_id']):
        print(f"SKIP (duplicate): {payment['payment_id']}")
        return False
    print(f"PROCESS: {payment['payment_id']} - ${payment['amount']} from {payment['customer']}")
    mark_processed(payment['payment_id'])
    return True


def main():
    # Topic 'payments' already exists (created on first use)
    producer = Producer({'bootstrap.servers': 'localhost:9092'})

    # Produce some payments
    payments = []
    for i in range(10):
        payment = {
            'payment_id': str(uuid.uuid4()),
            'amount': 100.00 + i,
            'customer': f'CUST-{i:03d}',
        }
        payments.append(payment)
        producer.produce('payments', key=payment['payment_id'], value=json.dumps(payment))
    producer.flush()
    print("Produced 10 payments")

    # TODO: Consume the payments (group 'payment-processor'); for now they are still in
    # memory, so process them from there, once and then again "after a restart"
    for label in ("First pass", "Second pass"):
        processed = skipped = 0
        for offset, payment in enumerate(payments):
            if process_payment(payment):
                processed += 1
            else:
                skipped += 1
        print(f"{label}: processed {processed}, skipped {skipped} duplicates")


if __name__ == "__main__":
    main()
