"""Exercise 2: a consumer with manual commits, written as a small class.

OrderConsumer reads the 'orders' topic in the 'order-processor' group, processes each
order and commits the offsets itself: after every 10 orders, and once more on Ctrl-C.
"""

import json
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError

COMMIT_BATCH = 10


def process_order(order: dict) -> None:
    """Business logic stand-in: show what was ordered."""
    print(f"[order] {order['order_id']} - {order['customer_id']} bought "
          f"{order['quantity']} x {order['product']} @ {order['price']:.2f}")


@dataclass
class Progress:
    processed: int = 0
    uncommitted: int = 0
    commits: int = 0


class OrderConsumer:
    def __init__(self, topic: str = "orders", group: str = "order-processor"):
        self.topic = topic
        self.progress = Progress()
        self.consumer = Consumer({
            "bootstrap.servers": "localhost:9092",
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        })

    def run(self) -> None:
        self.consumer.subscribe([self.topic])
        print(f"Consuming '{self.topic}'... (Ctrl-C to stop)")
        try:
            while True:
                msg = self.consumer.poll(1.0)
                if msg is None:
                    continue
                if msg.error():
                    self.on_error(msg.error())
                    continue
                self.handle(msg)
        except KeyboardInterrupt:
            print("Ctrl-C received")
        finally:
            self.shutdown()

    def on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        print(f"Kafka error: {error}")

    def handle(self, msg) -> None:
        order = json.loads(msg.value().decode("utf-8"))
        process_order(order)
        self.progress.processed += 1
        self.progress.uncommitted += 1
        if self.progress.uncommitted == COMMIT_BATCH:
            self.commit()

    def commit(self) -> None:
        self.consumer.commit(asynchronous=False)
        self.progress.commits += 1
        print(f"commit #{self.progress.commits}: {self.progress.uncommitted} orders")
        self.progress.uncommitted = 0

    def shutdown(self) -> None:
        if self.progress.uncommitted:
            self.commit()
        self.consumer.close()
        print(f"Total processed: {self.progress.processed}")


def main():
    OrderConsumer().run()


if __name__ == "__main__":
    main()
