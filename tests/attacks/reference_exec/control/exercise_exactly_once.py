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
    # TODO: Implement
    pass


def mark_processed(message_id: str):
    """Mark a message as processed."""
    # TODO: Implement
    pass


def process_payment(payment: dict) -> bool:
    """Process a payment exactly once. Returns True if processed, False if duplicate."""
    # TODO: Check if duplicate
    # TODO: Process the payment
    # TODO: Mark as processed
    pass


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

    # TODO: Consume the payments (group 'payment-processor') and process each one

    # TODO: Consume them again from the beginning, as after a restart, and check
    #       that every payment is skipped as a duplicate


if __name__ == "__main__":
    main()
