from confluent_kafka import Producer
from collections import defaultdict
import json
import random

# Track message distribution across partitions
partition_counts = defaultdict(int)


def delivery_callback(err, msg):
    """Called once for each message produced to indicate delivery result."""
    if err is not None:
        print(f'Delivery failed: {err}')
    else:
        partition_counts[msg.partition()] += 1
        print(f'Sent {msg.key().decode("utf-8")} to partition {msg.partition()}')


def create_order(order_id):
    """Create a sample order."""
    customers = ['CUST-001', 'CUST-002', 'CUST-003', 'CUST-004', 'CUST-005']
    products = ['Laptop', 'Mouse', 'Keyboard', 'Monitor', 'Headphones']

    return {
        'order_id': f'ORD-{order_id:05d}',
        'customer_id': random.choice(customers),
        'product': random.choice(products),
        'quantity': random.randint(1, 5),
        'price': round(random.uniform(10.0, 1000.0), 2)
    }


def main():
    # Producer configuration with recommended settings
    config = {
        'bootstrap.servers': 'localhost:9092',
        'acks': 'all',                 # Wait for all replicas
        'enable.idempotence': True,    # Prevent duplicates
        'retries': 3,                  # Retry on failure
    }

    producer = Producer(config)

    print("Sending 100 orders...")
    for i in range(100):
        order = create_order(i + 1)
        producer.produce(
            topic='orders',
            key=order['customer_id'].encode('utf-8'),
            value=json.dumps(order).encode('utf-8'),
            callback=delivery_callback
        )
        # Trigger delivery callbacks
        producer.poll(0)

    # Wait for all messages to be delivered
    producer.flush()

    print("\nPartition distribution:")
    for partition, count in sorted(partition_counts.items()):
        print(f"  Partition {partition}: {count} messages")


if __name__ == '__main__':
    main()
