"""Exercise 1 - producer basics.

Send 100 orders to the topic ``orders``, each keyed by its customer id, with a
durable producer configuration and delivery callbacks.
"""

import json  # noqa: F401 - you will need it
import random  # noqa: F401 - you will need it

from confluent_kafka import Producer  # noqa: F401 - you will need it

TOPIC = "orders"
CUSTOMERS = [f"CUST-{number:03d}" for number in range(1, 6)]
PRODUCTS = ["keyboard", "mouse", "monitor", "headset", "webcam", "laptop stand"]


def delivery_callback(err, msg):
    """Called once per message: record its partition, or report its error."""
    # TODO: if err is not None, report the failure
    # TODO: otherwise count the delivery for msg.partition() and print one line for it
    pass


def create_order(order_id: int) -> dict:
    """Return one order: order_id (ORD-00001), customer_id, product, quantity, price."""
    # TODO: build the order dictionary
    pass


def main():
    config = {
        "bootstrap.servers": "localhost:9092",
        # TODO: add the settings of a durable producer (acks, enable.idempotence)
    }
    # TODO: create the producer with config
    # TODO: send orders 1-100, key = customer id, value = the order as JSON,
    #       with on_delivery=delivery_callback
    # TODO: flush, then print how many messages each partition received
    print(f"TODO: produce orders with {config}")


if __name__ == "__main__":
    main()
