"""Exercise 1, by a student who leaves things behind on the broker: a topic of its own
with a message in it, and a consumer group with committed offsets on it. Graded by
``tests/test_lane_reset.py``, which expects the lane's reset to remove both before the
next submission; the orders themselves are never sent."""

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

CONFIG = {"bootstrap.servers": "localhost:9092"}
TOPIC = "my-scratch-topic"
GROUP = "my-scratch-group"


def delivery_callback(err, msg):
    if err is not None:
        print(f"Delivery failed: {err}")


def create_order(order_id):
    return {"order_id": f"ORD-{order_id:05d}", "customer_id": "CUST-001",
            "product": "Laptop", "quantity": 1, "price": 9.99}


def main():
    admin = AdminClient(CONFIG)
    for future in admin.create_topics([NewTopic(TOPIC, 1)]).values():
        future.result(15)
    producer = Producer(CONFIG)
    producer.produce(TOPIC, b"left behind", callback=delivery_callback)
    producer.flush(15)
    consumer = Consumer({**CONFIG, "group.id": GROUP, "enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition(TOPIC, 0, 1)], asynchronous=False)
    consumer.close()
    print(f"left topic {TOPIC} and group {GROUP} behind")


if __name__ == "__main__":
    main()
