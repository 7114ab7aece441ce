"""
Exercise 5: Dead Letter Queue
Module 2 - Kafka Producers and Consumers

Task: build a consumer that retries failed orders up to 3 times and sends persistently
failing orders to a DLQ topic.
"""
import json
import random
import time  # noqa: F401 - you will need it

from confluent_kafka import Consumer, Producer

MAX_RETRIES = 3


def process_order(order: dict) -> bool:
    """Simulate order processing that may fail"""
    if random.random() < 0.2:  # 20% failure rate
        raise Exception("Random processing failure")
    print(f"Processed order: {order['order_id']}")
    return True


def send_to_dlq(producer, msg, error: str):
    """Send failed message to the Dead Letter Queue"""
    # TODO: Send the message to the DLQ with error metadata in its headers
    pass


def main():
    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'order-processor-dlq',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False
    })
    dlq_producer = Producer({'bootstrap.servers': 'localhost:9092'})  # noqa: F841 - for the DLQ

    consumer.subscribe(['orders'])

    try:
        while True:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                print(f"Consumer error: {msg.error()}")
                continue

            order = json.loads(msg.value().decode('utf-8'))  # noqa: F841 - to process

            # TODO: Implement the retry logic (up to MAX_RETRIES tries, with a back-off)

            # TODO: Send the order to the DLQ if all the retries failed

            # TODO: Commit the message's offset

    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


if __name__ == '__main__':
    main()
