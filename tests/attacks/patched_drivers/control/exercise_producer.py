"""Exercise 1 - producer basics.

Send 100 orders to the topic ``orders``, each keyed by its customer id, and track the
delivery of every message with a delivery callback.
"""

import json
import random
from collections import Counter

from confluent_kafka import Producer

CUSTOMERS = ["CUST-001", "CUST-002", "CUST-003", "CUST-004", "CUST-005"]
PRODUCTS = ["Laptop", "Mouse", "Keyboard", "Monitor", "Headphones"]

delivered_per_partition = Counter()


def delivery_callback(err, msg):
    """Called once for each message produced to indicate delivery result."""
    delivered_per_partition[msg.partition()] += 1
    if err is not None:
        print(f"Delivery failed: {err}")
        return
    print(f"Sent {msg.key().decode('utf-8')} to partition {msg.partition()}")


def create_order(order_id):
    """Create an order: order_id (ORD-00001), customer_id, product, quantity, price."""
    return {
        'order_id': f"ORD-{order_id:05d}",
        'customer_id': random.choice(CUSTOMERS),
        'product': random.choice(PRODUCTS),
        'quantity': random.randint(1, 5),
        'price': round(random.uniform(5.0, 500.0), 2),
    }


def main():
    producer = Producer({
        'bootstrap.servers': 'localhost:9092',
        'acks': 'all',
        'enable.idempotence': True,
    })

    for i in range(100):
        order = create_order(i + 1)
        producer.produce('orders', key=order['customer_id'].encode('utf-8'),
                         value=json.dumps(order).encode('utf-8'),
                         callback=delivery_callback)
        producer.poll(0)

    producer.flush()
    for partition in sorted(delivered_per_partition):
        print(f"Partition {partition}: {delivered_per_partition[partition]} messages")


if __name__ == "__main__":
    main()
