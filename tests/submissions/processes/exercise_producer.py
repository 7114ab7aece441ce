"""Exercise 1 - producer basics, with a thread that serves delivery reports.

A background thread calls poll() while the main thread produces, so delivery callbacks
run in that thread; the per-partition counts are guarded by a lock. Every delivery is
also logged to ``producer.log`` beside this script.
"""

import json
import logging
import random
import threading
from collections import Counter
from pathlib import Path

from confluent_kafka import Producer

TOPIC = "orders"
CUSTOMERS = [f"CUST-{n:03d}" for n in range(1, 6)]
PRODUCTS = ["Laptop", "Mouse", "Keyboard", "Monitor", "Headphones"]

log = logging.getLogger("orders")
counts_lock = threading.Lock()
per_partition = Counter()
failures = []


def setup_logging():
    handler = logging.FileHandler(Path(__file__).with_name("producer.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def delivery_callback(err, msg):
    if err is not None:
        with counts_lock:
            failures.append(str(err))
        print(f"Delivery failed: {err}", flush=True)
        return
    with counts_lock:
        per_partition[msg.partition()] += 1
    print(f"Sent {msg.key().decode()} to partition {msg.partition()}", flush=True)
    log.info("delivered %s to partition %d at offset %d", msg.key().decode(),
             msg.partition(), msg.offset())


def create_order(order_id):
    return {
        "order_id": f"ORD-{order_id:05d}",
        "customer_id": random.choice(CUSTOMERS),
        "product": random.choice(PRODUCTS),
        "quantity": random.randint(1, 5),
        "price": round(random.uniform(10, 500), 2),
    }


def serve_reports(producer, stop):
    while not stop.is_set():
        producer.poll(0.05)


def main():
    setup_logging()
    per_partition.clear()
    failures.clear()
    producer = Producer({"bootstrap.servers": "localhost:9092", "acks": "all",
                         "enable.idempotence": True})
    stop = threading.Event()
    poller = threading.Thread(target=serve_reports, args=(producer, stop), name="poller")
    poller.start()
    try:
        for i in range(100):
            order = create_order(i + 1)
            producer.produce(TOPIC, key=order["customer_id"].encode("utf-8"),
                             value=json.dumps(order).encode("utf-8"),
                             callback=delivery_callback)
    finally:
        stop.set()
        poller.join()
    producer.flush(30)
    print("Partition distribution:")
    with counts_lock:
        for partition in sorted(per_partition):
            print(f"  Partition {partition}: {per_partition[partition]} messages")
    log.info("done: %d delivered, %d failed", sum(per_partition.values()), len(failures))


if __name__ == "__main__":
    main()
