"""
Exercise 2: Consumer with Manual Commits
Module 2 - Kafka Producers and Consumers

Solution: consume orders, process them, and commit offsets manually in batches of 10.
"""
import json

from confluent_kafka import Consumer, KafkaError


def process_order(order):
    """Process an order (simulate business logic)"""
    print(f"Processing order {order['order_id']}: "
          f"{order['quantity']}x {order['product']} for {order['customer_id']}")


def main():
    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'order-processor',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False
    })

    consumer.subscribe(['orders'])

    batch = []
    processed = 0

    try:
        while True:
            msg = consumer.poll(1.0)

            if msg is None:
                continue

            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    print(f"Reached end of partition {msg.partition()}")
                else:
                    print(f"Error: {msg.error()}")
                continue

            order = json.loads(msg.value().decode('utf-8'))
            process_order(order)
            batch.append(msg)
            processed += 1

            # Commit every 10 messages
            if len(batch) >= 10:
                consumer.commit(asynchronous=False)
                print(f"Committed {len(batch)} messages (total: {processed})")
                batch = []

    except KeyboardInterrupt:
        print(f"\nProcessed {processed} orders")
    finally:
        # Commit any remaining messages
        if batch:
            consumer.commit(asynchronous=False)
        consumer.close()


if __name__ == '__main__':
    main()
