"""
Exercise 5: Dead Letter Queue
Module 2 - Kafka Producers and Consumers

Task: build a consumer that retries failed orders up to 3 times and sends persistently
failing orders to a DLQ topic.
"""
import json
import random
import time

from confluent_kafka import Consumer, Producer

MAX_RETRIES = 3


def process_order(order: dict) -> bool:
    """Simulate order processing that may fail"""
    if random.random() < 0.2:  # 20% failure rate
        raise Exception("Random processing failure")
    print(f"Processed order: {order['order_id']}")
    return True


def send_to_dlq(producer, msg, error: str, retry_count=MAX_RETRIES):
    """Send failed message to the Dead Letter Queue"""
    headers = [
        ('original_topic', msg.topic().encode('utf-8')),
        ('original_partition', str(msg.partition()).encode('utf-8')),
        ('original_offset', str(msg.offset()).encode('utf-8')),
        ('error', str(error).encode('utf-8')),
        ('retry_count', str(retry_count).encode('utf-8')),
    ]
    producer.produce('orders-dlq', key=msg.key(), value=msg.value(), headers=headers)
    producer.flush()


def main():
    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'order-processor-dlq',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False
    })
    dlq_producer = Producer({'bootstrap.servers': 'localhost:9092'})

    consumer.subscribe(['orders'])

    handled = 0
    try:
        while handled < 100:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                print(f"Consumer error: {msg.error()}")
                continue

            # Done with it as far as the group is concerned
            consumer.commit(message=msg, asynchronous=False)

            order = json.loads(msg.value().decode('utf-8'))
            error = None
            for attempt in range(1, MAX_RETRIES + 1):
                try:
                    process_order(order)
                    error = None
                    break
                except Exception as e:
                    error = e
                    if attempt < MAX_RETRIES:
                        time.sleep(0.1 * attempt)
            if error is not None:
                send_to_dlq(dlq_producer, msg, str(error), MAX_RETRIES)
            handled += 1

    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


if __name__ == '__main__':
    main()
