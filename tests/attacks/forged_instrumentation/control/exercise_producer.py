"""Exercise 1 - producer basics.

Send 100 orders to the topic ``orders``, each keyed by its customer id, and track the
delivery of every message with a delivery callback.
"""

import json
import random

from confluent_kafka import Producer

CUSTOMERS = ["CUST-001", "CUST-002", "CUST-003", "CUST-004", "CUST-005"]
PRODUCTS = ["Laptop", "Mouse", "Keyboard", "Monitor", "Headphones"]


def delivery_callback(err, msg):
    """Called once for each message produced to indicate delivery result."""
    # TODO: Report failed deliveries (err is not None)
    # TODO: Track successful deliveries per partition and print one line per message
    pass


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
    config = {
        'bootstrap.servers': 'localhost:9092',
        # TODO: Add recommended producer settings
    }
    producer = Producer(config)

    for i in range(100):
        order = create_order(i + 1)
        producer.produce('orders', key=order['customer_id'].encode('utf-8'),
                         value=json.dumps(order).encode('utf-8'))

    # TODO: Print the number of messages delivered to each partition

    producer.flush()
    print("All messages sent!")


if __name__ == "__main__":
    main()
