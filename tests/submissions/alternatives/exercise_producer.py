"""Exercise 1 - producer basics.

This version creates the ``orders`` topic itself with the AdminClient (and carries on
when it already exists), sends ``str`` keys and values, and sums the deliveries up with a
``collections.Counter``.
"""

import json
import random
import sys
from collections import Counter

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = "localhost:9092"
TOPIC = "orders"

partition_counter = Counter()
delivery_errors = []


def ensure_topic(name, partitions=4):
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions,
                                            replication_factor=1)])
    for topic, future in futures.items():
        try:
            future.result()
            print(f"created topic {topic}")
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            print(f"topic {topic} already exists, using it")


def delivery_callback(err, msg):
    if err is not None:
        delivery_errors.append(err)
        print(f"!! could not deliver {msg.key()!r}: {err.str()}", file=sys.stderr)
        return
    partition_counter[msg.partition()] += 1
    order = json.loads(msg.value())
    print(f"{msg.topic()}[{msg.partition()}]@{msg.offset()}: {order['order_id']} "
          f"({msg.key().decode()})")


def create_order(order_id: int) -> dict:
    return dict(
        order_id=f"ORD-{order_id:05d}",
        customer_id=f"CUST-{random.randint(1, 5):03d}",
        product=random.choice(("tea", "coffee", "mug", "grinder")),
        quantity=random.randint(1, 5),
        price=float(random.randint(300, 9000)) / 100,
    )


def main():
    ensure_topic(TOPIC)
    producer = Producer({
        "bootstrap.servers": BOOTSTRAP,
        "acks": -1,
        "enable.idempotence": "true",
        "compression.type": "snappy",
    })
    orders = [create_order(i) for i in range(1, 101)]
    for order in orders:
        while True:
            try:
                producer.produce(topic=TOPIC, key=order["customer_id"], value=json.dumps(order),
                                 on_delivery=delivery_callback)
                break
            except BufferError:
                producer.poll(0.5)  # local queue full: let deliveries drain
        producer.poll(0)
    producer.flush()

    print(f"{sum(partition_counter.values())}/{len(orders)} delivered, "
          f"{len(delivery_errors)} errors")
    print(partition_counter)


if __name__ == "__main__":
    main()
