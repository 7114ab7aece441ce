"""Exercise 2 - consumer with manual commits.

Read orders from ``orders`` in the group ``order-processor`` with automatic commits
switched off; commit after every 10 processed messages, and once more on Ctrl-C.
"""

import json  # noqa: F401 - you will need it

from confluent_kafka import Consumer  # noqa: F401 - you will need it

TOPIC = "orders"


def process_order(order: dict):
    """Process one order."""
    # TODO: print the order's id, customer and product
    pass


def main():
    config = {
        "bootstrap.servers": "localhost:9092",
        "group.id": "order-processor",
        # TODO: start from the earliest offset and switch automatic commits off
    }
    print(f"TODO: consume with {config}")
    # TODO: create the consumer and subscribe to TOPIC

    processed = 0
    try:
        while True:
            # TODO: poll for a message (timeout 1.0 s); skip None
            # TODO: report msg.error() and continue
            # TODO: decode the JSON value, call process_order, count it
            # TODO: commit synchronously after every 10 processed messages
            pass
    except KeyboardInterrupt:
        print("Interrupted")
    finally:
        # TODO: commit what was processed since the last commit, close the consumer
        print(f"Processed {processed} messages")


if __name__ == "__main__":
    main()
