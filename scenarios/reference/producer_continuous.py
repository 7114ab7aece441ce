"""Exercise 3 - a steady stream of small messages to ``high-volume`` until Ctrl-C.

Keys run ``0`` ... ``5`` and the default partitioner places them, as in the course's
own script: it hashes these six short keys into only three of the six partitions
(1, 4 and 5), so the other three stay empty while the consumers share them all.
"""

import json
import time

from confluent_kafka import Producer

TOPIC = "high-volume"
NUM_KEYS = 6
PAUSE_SECONDS = 0.02


def delivery_callback(err, msg):
    if err is not None:
        print(f"Delivery failed: {err}", flush=True)


def main():
    producer = Producer({"bootstrap.servers": "localhost:9092"})
    sent = 0
    print(f"Producing to {TOPIC}, Ctrl-C to stop", flush=True)
    try:
        while True:
            key = str(sent % NUM_KEYS)
            value = json.dumps({"id": sent, "key": key, "timestamp": time.time()})
            try:
                producer.produce(TOPIC, key=key, value=value, on_delivery=delivery_callback)
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
