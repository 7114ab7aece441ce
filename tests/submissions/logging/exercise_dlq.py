"""
Exercise 5: Dead Letter Queue (logging instead of print)

Starts from the course's code: process_order still fails by itself 20% of the time, the
DLQ topic is created with docker exec, and each order gets up to MAX_RETRIES tries.
"""
import json
import logging
import random
import subprocess
import time

from confluent_kafka import Consumer, Producer

MAX_RETRIES = 3
DLQ_TOPIC = 'orders-dlq'

logger = logging.getLogger(__name__)


def create_dlq_topic():
    result = subprocess.run([
        'docker', 'exec', 'kafka', 'kafka-topics', '--create',
        '--topic', DLQ_TOPIC,
        '--bootstrap-server', 'localhost:9092',
        '--partitions', '1', '--replication-factor', '1',
        '--if-not-exists'
    ], capture_output=True, text=True)
    if result.returncode != 0:
        logger.warning("could not create %s: %s", DLQ_TOPIC, result.stderr.strip())


def process_order(order: dict) -> bool:
    """Simulate order processing that may fail"""
    if random.random() < 0.2:  # 20% failure rate
        raise Exception("Random processing failure")
    logger.info("Processed order: %s", order['order_id'])
    return True


def send_to_dlq(producer, msg, error, retries):
    headers = [
        ('original_topic', msg.topic().encode('utf-8')),
        ('original_partition', str(msg.partition()).encode('utf-8')),
        ('original_offset', str(msg.offset()).encode('utf-8')),
        ('error', str(error).encode('utf-8')),
        ('retry_count', str(retries).encode('utf-8')),
    ]
    producer.produce(DLQ_TOPIC, key=msg.key(), value=msg.value(), headers=headers)
    producer.flush()
    logger.warning("Sent offset %d to DLQ after %d retries: %s", msg.offset(), retries, error)


def main():
    logging.basicConfig(level=logging.INFO, format='%(asctime)s [%(levelname)s] %(message)s')
    create_dlq_topic()

    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'order-processor-dlq',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False
    })
    dlq_producer = Producer({'bootstrap.servers': 'localhost:9092'})
    consumer.subscribe(['orders'])

    processed = failed = count = 0
    try:
        while count < 100:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                logger.error("Consumer error: %s", msg.error())
                continue

            order = json.loads(msg.value().decode('utf-8'))
            retries = 0
            success = False
            last_error = None
            while retries < MAX_RETRIES and not success:
                try:
                    process_order(order)
                    success = True
                    processed += 1
                except Exception as e:
                    last_error = e  # `e` itself is gone after the except block
                    retries += 1
                    logger.info("Attempt %d failed for %s: %s", retries, order['order_id'], e)
                    time.sleep(0.1 * retries)

            if not success:
                send_to_dlq(dlq_producer, msg, last_error, retries)
                failed += 1

            consumer.commit(msg)
            count += 1
    except KeyboardInterrupt:
        pass
    finally:
        logger.info("Processed: %d, Failed (DLQ): %d", processed, failed)
        consumer.close()


if __name__ == '__main__':
    main()
