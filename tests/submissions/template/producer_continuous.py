"""Exercise 3 - a steady stream of small messages to ``high-volume`` until Ctrl-C.

Keys run ``0`` ... ``5``; each key is sent to the partition of the same number, because
the default partitioner happens to map these six short keys onto only three of the six
partitions, and the scaling demo wants traffic on every partition.
"""

import json
import time

from confluent_kafka import KafkaException, Producer

TOPIC = "high-volume"
NUM_KEYS = 6
PAUSE_SECONDS = 0.02


def partition_count(producer):
    """The topic's partition count, or 0 if the broker does not know the topic yet."""
    try:
        metadata = producer.list_topics(TOPIC, timeout=10)
    except KafkaException:
        return 0
    topic = metadata.topics.get(TOPIC)
    if topic is None or topic.error is not None:
        return 0
    return len(topic.partitions)


def delivery_callback(err, msg):
    if err is not None:
        print(f"Delivery failed: {err}", flush=True)


def main():
    producer = Producer({"bootstrap.servers": "localhost:9092"})
    partitions = partition_count(producer)
    sent = 0
    print(f"Producing to {TOPIC} ({partitions} partitions), Ctrl-C to stop", flush=True)
    try:
        while True:
            key = str(sent % NUM_KEYS)
            value = json.dumps({"id": sent, "key": key, "timestamp": time.time()})
            extra = {"partition": int(key) % partitions} if partitions else {}
            try:
                producer.produce(TOPIC, key=key, value=value, on_delivery=delivery_callback,
                                 **extra)
            except BufferError:
                # The local queue is full: let deliveries drain, then try again.
                producer.poll(0.5)
                continue
            sent += 1
            producer.poll(0)
            if sent % 100 == 0:
                print(f"Sent {sent} messages", flush=True)
            time.sleep(PAUSE_SECONDS)
    except KeyboardInterrupt:
        print("Interrupted", flush=True)
    finally:
        remaining = producer.flush(10)
        print(f"Stopped after {sent} messages ({remaining} not delivered)", flush=True)


if __name__ == "__main__":
    main()
