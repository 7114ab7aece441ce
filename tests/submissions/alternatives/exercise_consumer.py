"""Exercise 2: manual commits, with consume() batches, explicit offsets and a SIGINT flag.

Instead of catching KeyboardInterrupt, a SIGINT handler asks the loop to stop; the loop
finishes the batch it is in, commits what it processed and closes the consumer.
"""

import json
import signal
import sys

from confluent_kafka import Consumer, KafkaError, TopicPartition

TOPIC = "orders"
COMMIT_INTERVAL = 10
BATCH = 100

running = True


def request_stop(signum, frame):
    global running
    running = False


def process_order(order: dict):
    total = order["quantity"] * order["price"]
    print(f"{order['order_id']:>10}  {order['customer_id']}  {order['product']:<9} "
          f"{order['quantity']} x {order['price']:6.2f} = {total:7.2f}")


def commit_offsets(consumer, offsets):
    """Commit exactly the given next offsets, {(topic, partition): offset}."""
    consumer.commit(offsets=[TopicPartition(topic, partition, offset)
                             for (topic, partition), offset in offsets.items()],
                    asynchronous=False)


def main():
    global running
    running = True
    signal.signal(signal.SIGINT, request_stop)

    consumer = Consumer({
        "bootstrap.servers": "localhost:9092",
        "group.id": "order-processor",
        "auto.offset.reset": "smallest",
        "enable.auto.commit": "false",
    })
    consumer.subscribe([TOPIC])

    next_offsets = {}
    since_commit = 0
    processed = 0
    try:
        while running:
            for msg in consumer.consume(num_messages=BATCH, timeout=1.0):
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        print(f"error from broker: {msg.error()}", file=sys.stderr)
                    continue
                process_order(json.loads(msg.value()))
                processed += 1
                since_commit += 1
                next_offsets[(msg.topic(), msg.partition())] = msg.offset() + 1
                if since_commit == COMMIT_INTERVAL:
                    commit_offsets(consumer, next_offsets)
                    since_commit = 0
    finally:
        if since_commit:
            commit_offsets(consumer, next_offsets)
        consumer.close()
    print(f"{processed} orders processed")


if __name__ == "__main__":
    main()
