"""
Exercise 5: Dead Letter Queue
Module 2 - Kafka Producers and Consumers

Solution: retry failed orders up to 3 times, then send them to a DLQ topic.
"""
import json
import random
import subprocess
import time

from confluent_kafka import Consumer, Producer

MAX_RETRIES = 3


def create_dlq_topic():
    """Create the DLQ topic if it doesn't exist"""
    subprocess.run([
        'docker', 'exec', 'kafka', 'kafka-topics', '--create',
        '--topic', 'orders-dlq',
        '--bootstrap-server', 'localhost:9092',
        '--partitions', '1', '--replication-factor', '1',
        '--if-not-exists'
    ], capture_output=True)


def process_order(order: dict) -> bool:
    """Simulate order processing that may fail"""
    if random.random() < 0.2:  # 20% failure rate
        raise Exception("Random processing failure")
    print(f"Processed order: {order['order_id']}")
    return True


def send_to_dlq(producer, msg, error, retries):
    """Send failed message to the Dead Letter Queue with error metadata"""
    headers = [
        ('original_topic', msg.topic().encode('utf-8')),
        ('original_partition', str(msg.partition()).encode('utf-8')),
        ('original_offset', str(msg.offset()).encode('utf-8')),
        ('error', str(error).encode('utf-8')),
        ('retry_count', str(retries).encode('utf-8')),
    ]
    producer.produce(
        'orders-dlq',
        key=msg.key(),
        value=msg.value(),
        headers=headers
    )
    producer.flush()
    print(f"Sent to DLQ: offset {msg.offset()} after {retries} retries - {error}")


def main():
    create_dlq_topic()

    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'order-processor-dlq',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False
    })
    dlq_producer = Producer({'bootstrap.servers': 'localhost:9092'})

    consumer.subscribe(['orders'])

    processed = 0
    failed = 0
    count = 0

    try:
        while count < 100:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                print(f"Consumer error: {msg.error()}")
                continue

            order = json.loads(msg.value().decode('utf-8'))
            retries = 0
            success = False

            while retries < MAX_RETRIES and not success:
                try:
                    process_order(order)
                    success = True
                    processed += 1
                except Exception as e:
                    retries += 1
                    print(f"Attempt {retries} failed for {order['order_id']}: {e}")
                    time.sleep(0.1 * retries)  # back-off

            if not success:
                send_to_dlq(dlq_producer, msg, e, retries)  # noqa: F821 - the course's bug, kept
                failed += 1

            consumer.commit(msg)
            count += 1

    except KeyboardInterrupt:
        pass
    finally:
        print(f"\nProcessed: {processed}, Failed (DLQ): {failed}")
        consumer.close()


if __name__ == '__main__':
    main()
