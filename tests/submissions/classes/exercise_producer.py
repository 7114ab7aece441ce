"""Exercise 1 - producer basics, built from two small classes.

``DeliveryReport`` keeps the outcome of every message (its ``on_delivery`` method is the
delivery callback) and ``OrderProducer`` wraps the confluent_kafka Producer.
"""

import json
import random
from dataclasses import asdict, dataclass

from confluent_kafka import Producer

TOPIC = "orders"
CUSTOMERS = ["CUST-001", "CUST-002", "CUST-003", "CUST-004", "CUST-005"]
PRODUCTS = {"Laptop": 999.99, "Mouse": 24.5, "Keyboard": 79.0, "Monitor": 249.99,
            "USB-C cable": 12.0}


@dataclass
class Order:
    order_id: str
    customer_id: str
    product: str
    quantity: int
    price: float

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode("utf-8")


class DeliveryReport:
    """Counts deliveries per partition and remembers the failures."""

    def __init__(self):
        self.per_partition = {}
        self.errors = []

    def on_delivery(self, err, msg):
        if err is not None:
            self.errors.append(str(err))
            print(f"[FAILED] message for {msg.key().decode()} not delivered: {err}")
            return
        partition = msg.partition()
        self.per_partition[partition] = self.per_partition.get(partition, 0) + 1
        order_id = json.loads(msg.value())["order_id"]
        print(f"[OK] {order_id} -> {msg.topic()} partition {partition} @ offset {msg.offset()}")

    @property
    def delivered(self):
        return sum(self.per_partition.values())


report = DeliveryReport()
# The course's delivery_callback(err, msg) is the report's bound method.
delivery_callback = report.on_delivery


class OrderProducer:
    def __init__(self, topic, on_delivery):
        self.topic = topic
        self.on_delivery = on_delivery
        self.producer = Producer({
            "bootstrap.servers": "localhost:9092",
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
        })

    def send(self, order: Order):
        self.producer.produce(self.topic, key=order.customer_id.encode("utf-8"),
                              value=order.to_json(), on_delivery=self.on_delivery)
        self.producer.poll(0)

    def close(self):
        """Wait until every message is delivered (or failed); returns how many are left."""
        return self.producer.flush(30)


def create_order(order_id: int) -> dict:
    product = random.choice(list(PRODUCTS))
    order = Order(order_id=f"ORD-{order_id:05d}", customer_id=random.choice(CUSTOMERS),
                  product=product, quantity=random.randint(1, 5), price=PRODUCTS[product])
    return asdict(order)


def main():
    producer = OrderProducer(TOPIC, delivery_callback)
    for number in range(1, 101):
        producer.send(Order(**create_order(number)))
    left = producer.close()

    print(f"\n{report.delivered} delivered, {len(report.errors)} failed, {left} left in queue")
    print("Messages per partition:", dict(sorted(report.per_partition.items())))


if __name__ == "__main__":
    main()
