"""Exercise 5 - retries and a dead letter queue.

Try each order from ``orders`` up to 3 times; send an order that still fails to
``orders-dlq`` with its original key and value and headers that explain the failure.
"""

import json  # noqa: F401 - you will need it
import time  # noqa: F401 - you will need it

from confluent_kafka import Consumer, Producer  # noqa: F401 - you will need them

TOPIC = "orders"
DLQ_TOPIC = "orders-dlq"
MAX_RETRIES = 3


def process_order(order: dict) -> bool:
    """Process one order; raise an exception if it cannot be processed."""
    # TODO: validate the order (required fields, quantity > 0) and process it
    pass


def send_to_dlq(producer, msg, error, retry_count=MAX_RETRIES):
    """Send the failed message to the DLQ topic with headers describing the failure."""
    # TODO: produce msg's key and value unchanged to DLQ_TOPIC with the headers
    #       original_topic, original_partition, original_offset, error, retry_count
    pass


def main():
    consumer_config = {
        "bootstrap.servers": "localhost:9092",
        "group.id": "order-processor-dlq",
        # TODO: start from the earliest offset and switch automatic commits off
    }
    producer_config = {"bootstrap.servers": "localhost:9092"}
    print(f"TODO: consume with {consumer_config}, produce with {producer_config}")
    # TODO: create the consumer and the producer, subscribe to TOPIC

    handled = 0
    try:
        while True:
            # TODO: poll for a message; skip None, report msg.error()
            # TODO: try process_order up to MAX_RETRIES times with a short back-off
            # TODO: if it still fails, send_to_dlq
            # TODO: commit the message's offset, count it, stop after 100 messages
            pass
    except KeyboardInterrupt:
        print("Interrupted")
    finally:
        # TODO: close the consumer and flush the producer
        print(f"Handled {handled} messages")


if __name__ == "__main__":
    main()
