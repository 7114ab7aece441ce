"""Exercise 5: retries and a dead letter queue, organised in classes.

RetryPolicy says how often an order is tried; DeadLetterQueue writes what still fails to
'orders-dlq'; OrderProcessor ties the consumer, the retries and the DLQ together. The
retry_count header counts the retries after the first try (2 when all 3 tries failed).
"""

import json
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Producer

REQUIRED = ("order_id", "customer_id", "product", "quantity", "price")


class InvalidOrder(Exception):
    pass


def process_order(order: dict) -> bool:
    for field in REQUIRED:
        if field not in order:
            raise InvalidOrder(f"missing field {field!r}")
    if order["quantity"] < 1:
        raise InvalidOrder(f"bad quantity {order['quantity']}")
    print(f"processed {order['order_id']} ({order['quantity']} x {order['product']})")
    return True


def send_to_dlq(producer, msg, error, retry_count):
    headers = [
        ("original_topic", msg.topic().encode()),
        ("original_partition", str(msg.partition()).encode()),
        ("original_offset", str(msg.offset()).encode()),
        ("error", str(error).encode()),
        ("retry_count", str(retry_count).encode()),
    ]
    producer.produce("orders-dlq", key=msg.key(), value=msg.value(), headers=headers)
    if producer.flush(10) > 0:
        raise KafkaException(f"DLQ write for offset {msg.offset()} not acknowledged")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff: float = 0.05  # seconds, doubled after each failed try

    def pause(self, failed_tries: int) -> None:
        time.sleep(self.backoff * 2 ** (failed_tries - 1))


@dataclass
class Result:
    ok: bool
    tries: int
    error: Exception | None = None

    @property
    def retries(self) -> int:
        return self.tries - 1


class DeadLetterQueue:
    def __init__(self, producer: Producer):
        self.producer = producer
        self.sent = 0

    def publish(self, msg, result: Result) -> None:
        send_to_dlq(self.producer, msg, result.error, result.retries)
        self.sent += 1
        print(f"-> DLQ: partition {msg.partition()} offset {msg.offset()} "
              f"({result.retries} retries): {result.error}")


class OrderProcessor:
    def __init__(self, limit: int = 100, policy: RetryPolicy = RetryPolicy()):
        self.limit = limit
        self.policy = policy
        self.consumer = Consumer({
            "bootstrap.servers": "localhost:9092",
            "group.id": "order-processor-dlq",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        })
        self.dlq = DeadLetterQueue(Producer({"bootstrap.servers": "localhost:9092",
                                             "acks": "all"}))
        self.handled = 0
        self.succeeded = 0

    def attempt(self, order: dict) -> Result:
        error = None
        for tries in range(1, self.policy.attempts + 1):
            try:
                process_order(order)
                return Result(True, tries)
            except Exception as exc:
                error = exc
                if tries < self.policy.attempts:
                    self.policy.pause(tries)
        return Result(False, self.policy.attempts, error)

    def run(self) -> None:
        self.consumer.subscribe(["orders"])
        try:
            while self.handled < self.limit:
                msg = self.consumer.poll(1.0)
                if msg is None:
                    continue
                if msg.error():
                    print(f"consumer error: {msg.error()}")
                    continue
                result = self.attempt(json.loads(msg.value()))
                if result.ok:
                    self.succeeded += 1
                else:
                    self.dlq.publish(msg, result)
                self.consumer.commit(message=msg, asynchronous=False)
                self.handled += 1
        finally:
            self.consumer.close()
        print(f"{self.handled} handled: {self.succeeded} ok, {self.dlq.sent} dead-lettered")


def main():
    OrderProcessor().run()


if __name__ == "__main__":
    main()
