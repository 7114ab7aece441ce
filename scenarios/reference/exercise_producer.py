"""Exercise 1 - producer basics.

Sends 100 orders to the topic ``orders``, each keyed by its customer id so that all
orders of one customer land in one partition (and so stay in order). The producer is
configured for durability (``acks=all``, idempotence), learns the fate of every message
from its delivery callback, flushes before it exits and prints how many orders each
partition received.
"""

import json
import random
from collections import Counter

from confluent_kafka import Producer

TOPIC = "orders"
NUM_ORDERS = 100
CUSTOMERS = [f"CUST-{number:03d}" for number in range(1, 6)]
PRODUCTS = ["keyboard", "mouse", "monitor", "headset", "webcam", "laptop stand"]

# Filled in by delivery_callback, which librdkafka calls from poll() and flush().
delivered_per_partition: Counter[int] = Counter()
failed: list[str] = []


def delivery_callback(err, msg):
    """Record the outcome of one produce() call: its partition, or its error."""
    key = msg.key().decode("utf-8") if msg.key() is not None else None
    if err is not None:
        failed.append(f"{key}: {err}")
        print(f"Delivery failed for order of {key}: {err}", flush=True)
        return
    delivered_per_partition[msg.partition()] += 1
    order_id = json.loads(msg.value()).get("order_id")
    print(f"Delivered {order_id} (key {key}) to {msg.topic()} "
          f"[partition {msg.partition()}] at offset {msg.offset()}", flush=True)


def create_order(order_id: int) -> dict:
    """One order in the course's format; the id is shown as ``ORD-00001``."""
    return {
        "order_id": f"ORD-{order_id:05d}",
        "customer_id": random.choice(CUSTOMERS),
        "product": random.choice(PRODUCTS),
        "quantity": random.randint(1, 5),
        "price": round(random.uniform(5.0, 500.0), 2),
    }


def main():
    delivered_per_partition.clear()
    failed.clear()
    producer = Producer({
        "bootstrap.servers": "localhost:9092",
        # Wait for all in-sync replicas, and let the broker drop retried duplicates.
        "acks": "all",
        "enable.idempotence": True,
    })

    for order_id in range(1, NUM_ORDERS + 1):
        order = create_order(order_id)
        producer.produce(
            TOPIC,
            key=order["customer_id"].encode("utf-8"),
            value=json.dumps(order).encode("utf-8"),
            on_delivery=delivery_callback,
        )
        # Serve delivery callbacks of earlier messages as we go.
        producer.poll(0)

    remaining = producer.flush(30)

    print()
    print(f"Delivered {sum(delivered_per_partition.values())} of {NUM_ORDERS} orders, "
          f"{len(failed)} failed, {remaining} still undelivered")
    for partition in sorted(delivered_per_partition):
        print(f"Partition {partition}: {delivered_per_partition[partition]} messages")


if __name__ == "__main__":
    main()
