"""Exercise 4 - exactly-once processing by deduplication.

Produce 10 payments to ``payments``, then consume them twice from the beginning (the
second time as after a restart): each payment must be processed exactly once.
"""

import json  # noqa: F401 - you will need it
import uuid  # noqa: F401 - you will need it

from confluent_kafka import Consumer, Producer  # noqa: F401 - you will need them

TOPIC = "payments"

processed_ids = set()


def is_duplicate(message_id: str) -> bool:
    """True if the payment with this id was processed before."""
    # TODO: look the id up in the store of processed ids
    pass


def mark_processed(message_id: str):
    """Remember that the payment with this id has been processed."""
    # TODO: add the id to the store of processed ids
    pass


def process_payment(payment: dict) -> bool:
    """Process a payment once: True if processed, False if skipped as a duplicate."""
    # TODO: skip a duplicate (by payment_id), else process it, then mark it processed
    pass


def main():
    # TODO: produce 10 payments (payment_id = str(uuid.uuid4()), amount, customer)
    # TODO: consume all payments from the beginning and process each one
    # TODO: consume them again from the beginning, as after a restart
    print("TODO: produce and consume payments")


if __name__ == "__main__":
    main()
