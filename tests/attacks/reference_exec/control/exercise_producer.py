"""Exercise 1 - producer basics.

Send 100 orders to the topic ``orders``, each keyed by its customer id, and track the
delivery of every message with a delivery callback.
"""

import json  # noqa: F401 - you will need it
import random  # noqa: F401 - you will need it

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
    # TODO: Build and return the order dictionary
    pass


def main():
    config = {
        'bootstrap.servers': 'localhost:9092',
        # TODO: Add recommended producer settings
    }
    producer = Producer(config)

    # TODO: Send 100 orders to the 'orders' topic
    #   - use the customer_id as the message key
    #   - send the order as JSON
    #   - use delivery_callback to track each message

    # TODO: Print the number of messages delivered to each partition

    producer.flush()
    print("All messages sent!")


if __name__ == "__main__":
    main()
