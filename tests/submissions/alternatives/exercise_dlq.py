"""Exercise 5 - DLQ, another way.

* orders-dlq is created with the AdminClient (an existing topic is fine);
* "retries up to 3 times" read literally: the first try plus 3 retries, and the
  retry_count header says how many retries were made;
* headers as a dict of strings; offsets committed explicitly with TopicPartition.
The course's process_order, which fails by itself now and then, is kept.
"""

import json
import random
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = "localhost:9092"
SOURCE = "orders"
DLQ = "orders-dlq"
RETRIES = 3
STOP_AFTER = 100


def ensure_dlq_topic():
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    futures = admin.create_topics([NewTopic(DLQ, num_partitions=1, replication_factor=1)])
    for topic, future in futures.items():
        try:
            future.result()
            print(f"created {topic}")
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def process_order(order: dict) -> bool:
    """Simulate order processing that may fail"""
    if random.random() < 0.2:  # 20% failure rate
        raise Exception("Random processing failure")
    print(f"Processed order: {order['order_id']}")
    return True


def send_to_dlq(producer, msg, error, retries=RETRIES):
    headers = {
        "original_topic": msg.topic(),
        "original_partition": str(msg.partition()),
        "original_offset": str(msg.offset()),
        "error": repr(error),
        "retry_count": str(retries),
    }
    producer.produce(DLQ, key=msg.key(), value=msg.value(), headers=headers)
    producer.flush()


def try_with_retries(order):
    """Return (None, retries) on success, else (last exception, retries made)."""
    for retry in range(RETRIES + 1):
        if retry:
            time.sleep(0.05 * retry)
        try:
            process_order(order)
            return None, retry
        except Exception as exc:
            error = exc
    return error, RETRIES


def main():
    ensure_dlq_topic()
    consumer = Consumer({
        "bootstrap.servers": BOOTSTRAP,
        "group.id": "order-processor-dlq",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
    consumer.subscribe([SOURCE])

    seen = dead = 0
    try:
        while seen < STOP_AFTER:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                if msg is not None:
                    print("poll error:", msg.error())
                continue
            error, retries = try_with_retries(json.loads(msg.value()))
            if error is not None:
                send_to_dlq(producer, msg, error, retries)
                dead += 1
                print(f"{msg.key().decode()} @ {msg.partition()}/{msg.offset()} -> {DLQ} "
                      f"after {retries} retries ({error})")
            consumer.commit(offsets=[TopicPartition(msg.topic(), msg.partition(),
                                                    msg.offset() + 1)],
                            asynchronous=False)
            seen += 1
    finally:
        consumer.close()
    print(f"done: {seen} messages, {dead} in {DLQ}")


if __name__ == "__main__":
    main()
