"""
Exercise 2: Consumer with Manual Commits
Module 2 - Kafka Producers and Consumers

Task: consume orders from 'orders' in the group 'order-processor', process each one,
and commit offsets manually: synchronously after every 10 processed messages, and once
more when the consumer is stopped with Ctrl-C.
"""
import json

from confluent_kafka import Consumer


def process_order(order):
    """Process an order (simulate business logic)"""
    print(f"Processing order {order['order_id']}: "
          f"{order['quantity']}x {order['product']} for {order['customer_id']}")


def main():
    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'order-processor',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False,
    })

    consumer.subscribe(['orders'])

    processed = 0

    try:
        while True:
            msg = consumer.poll(1.0)

            if msg is None:
                continue

            if msg.error():
                print(f"Consumer error: {msg.error()}")
                continue

            order = json.loads(msg.value().decode('utf-8'))
            process_order(order)
            processed += 1

            # TODO: Commit synchronously after every 10 messages (one commit at the end
            # will do for now)

    except KeyboardInterrupt:
        print(f"\nProcessed {processed} orders")
    finally:
        if processed:
            consumer.commit(asynchronous=False)
        consumer.close()


if __name__ == '__main__':
    main()
