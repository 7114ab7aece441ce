"""Exercise 2 - consumer with manual commits.

Reads orders from ``orders`` in the group ``order-processor`` with automatic commits off.
An offset is stored only after its message was processed, and the stored offsets are
committed synchronously after every 10 processed messages, so the committed position is
never ahead of the work done. On Ctrl-C it commits what was processed since the last
commit, closes the consumer (leaving the group at once) and prints the count.

Each processed order is also logged to ``consumer.log`` beside this script.
"""

import json
import logging
import sys
from pathlib import Path

from confluent_kafka import Consumer

TOPIC = "orders"
COMMIT_EVERY = 10
log = logging.getLogger("order-processor")


def process_order(order: dict):
    """The business logic: here, show the order (and log it)."""
    log.info("processing %s", order.get("order_id"))
    print(f"Processing {order.get('order_id')} for {order.get('customer_id')}: "
          f"{order.get('quantity')} x {order.get('product')} at {order.get('price')}",
          flush=True)


def main():
    logging.basicConfig(filename=Path(__file__).with_name("consumer.log"), level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    consumer = Consumer({
        "bootstrap.servers": "localhost:9092",
        "group.id": "order-processor",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        # Store an offset only once its message is processed (see store_offsets below),
        # so that a commit never covers a message that was merely fetched.
        "enable.auto.offset.store": False,
    })
    consumer.subscribe([TOPIC])

    processed = 0
    uncommitted = 0
    try:
        while True:
            msg = consumer.poll(timeout=1.0)
            if msg is None:
                continue
            if msg.error():
                # Broker-reported problems (e.g. an unknown topic) are logged, not fatal.
                print(f"Consumer error: {msg.error()}", file=sys.stderr, flush=True)
                continue

            try:
                order = json.loads(msg.value())
            except (TypeError, ValueError) as exc:
                # A message that is not an order is handled by skipping it.
                print(f"Skipping undecodable message at {msg.topic()} [{msg.partition()}] "
                      f"offset {msg.offset()}: {exc}", file=sys.stderr, flush=True)
            else:
                process_order(order)

            consumer.store_offsets(message=msg)
            processed += 1
            uncommitted += 1
            if uncommitted >= COMMIT_EVERY:
                consumer.commit(asynchronous=False)
                uncommitted = 0
                print(f"Committed after {processed} messages", flush=True)
    except KeyboardInterrupt:
        print("Interrupted, shutting down", flush=True)
    finally:
        if uncommitted:
            try:
                consumer.commit(asynchronous=False)
                print(f"Final commit of {uncommitted} messages", flush=True)
            except Exception as exc:  # whatever went wrong, the consumer still closes
                print(f"Final commit failed: {exc}", file=sys.stderr, flush=True)
        consumer.close()
        print(f"Processed {processed} messages", flush=True)


if __name__ == "__main__":
    main()
