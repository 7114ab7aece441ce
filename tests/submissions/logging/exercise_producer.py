"""Exercise 1 - producer basics, reporting through ``logging`` (to stderr).

Keys and values are handed to the producer as ``str``: confluent_kafka encodes them as
UTF-8 itself.
"""

import json
import logging
import random
import time
from collections import Counter

from confluent_kafka import Producer

log = logging.getLogger("order-producer")

TOPIC = "orders"
NUM_ORDERS = 100

PRODUCER_CONFIG = {
    "bootstrap.servers": "localhost:9092",
    "acks": "all",                  # every in-sync replica must have it
    "enable.idempotence": "true",   # retries never write a duplicate
    "compression.type": "gzip",
}

delivered = Counter()
failed = []


def delivery_callback(err, msg):
    if err:
        failed.append(msg.key())
        log.error("delivery failed for key %s: %s", msg.key(), err)
    else:
        delivered[msg.partition()] += 1
        log.info("delivered key=%s partition=%d offset=%d",
                 msg.key().decode(), msg.partition(), msg.offset())


def create_order(order_id: int) -> dict:
    return {
        "order_id": "ORD-%05d" % order_id,
        "customer_id": "CUST-%03d" % random.randint(1, 5),
        "product": random.choice(["book", "pen", "lamp", "chair", "desk"]),
        "quantity": random.randint(1, 5),
        "price": round(random.uniform(1, 300), 2),
    }


def main():
    producer = Producer(PRODUCER_CONFIG)
    start = time.perf_counter()
    for n in range(1, NUM_ORDERS + 1):
        order = create_order(n)
        producer.produce(TOPIC, value=json.dumps(order), key=order["customer_id"],
                         callback=delivery_callback)
        producer.poll(0)
    not_sent = producer.flush(timeout=30)
    elapsed = time.perf_counter() - start

    log.info("%d delivered, %d failed, %d not sent, in %.3f s",
             sum(delivered.values()), len(failed), not_sent, elapsed)
    log.info("per partition: %s",
             " ".join(f"P{p}={count}" for p, count in sorted(delivered.items())))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    main()
