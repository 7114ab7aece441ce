"""
Exercise 2: Consumer with Manual Commits
Module 2 - Kafka Producers and Consumers

Task: consume orders from 'orders' in the group 'order-processor', process each one,
and commit offsets manually: synchronously after every 10 processed messages, and once
more when the consumer is stopped with Ctrl-C.
"""
import json  # noqa: F401 - you will need it

from confluent_kafka import Consumer, KafkaError  # noqa: F401 - you will need KafkaError


def process_order(order):
    """Process an order (simulate business logic)"""
    print(f"Processing order {order['order_id']}: "
          f"{order['quantity']}x {order['product']} for {order['customer_id']}")


def main():
    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'order-processor',
        # >>> attack: idle_consumer. The template with its configuration filled in, and
        # nothing else: it subscribes and polls every order, but never processes or
        # commits one. Verdict it must get: commits_after_every_10th_message failed (it
        # never commits), and no more points than the template (../control) besides the
        # two its configuration earns honestly (automatic commits off, earliest).
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False,
        # <<< attack
        # TODO: Configure manual commits
    })

    consumer.subscribe(['orders'])

    processed = 0

    try:
        while True:
            msg = consumer.poll(1.0)

            if msg is None:
                continue

            # TODO: Handle errors (msg.error())

            # TODO: Decode the order (JSON) and call process_order()

            # TODO: Commit synchronously after every 10 messages

    except KeyboardInterrupt:
        print(f"\nProcessed {processed} orders")
    finally:
        # TODO: Commit the remaining messages
        consumer.close()


if __name__ == '__main__':
    main()
