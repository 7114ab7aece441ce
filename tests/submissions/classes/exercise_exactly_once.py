"""Exercise 4: exactly-once processing by deduplication.

Payments are produced once and then read twice from the topic: a first consumer group
processes them, a second group (as a service restarted without its offsets would) reads
them all again. The store of processed ids makes the second pass skip every payment.
"""

import json
import time
import uuid
from dataclasses import asdict, dataclass

from confluent_kafka import Consumer, KafkaError, Producer

BOOTSTRAP_SERVERS = "localhost:9092"
TOPIC = "payments"
PAYMENT_COUNT = 10


@dataclass
class Payment:
    payment_id: str
    amount: float
    customer: str

    @classmethod
    def random(cls, number: int) -> "Payment":
        return cls(payment_id=str(uuid.uuid4()), amount=round(19.99 * (number + 1), 2),
                   customer=f"CUST-{number % 3 + 1:03d}")

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class ProcessedStore:
    """Remembers which payment ids were processed (a database table in real life)."""

    def __init__(self):
        self._ids = set()

    def __contains__(self, payment_id):
        return payment_id in self._ids

    def __len__(self):
        return len(self._ids)

    def add(self, payment_id):
        self._ids.add(payment_id)


store = ProcessedStore()


def is_duplicate(message_id: str) -> bool:
    return message_id in store


def mark_processed(message_id: str):
    store.add(message_id)


def process_payment(payment: dict) -> bool:
    payment_id = payment["payment_id"]
    if is_duplicate(payment_id):
        print(f"  duplicate, skipped: {payment_id}")
        return False
    print(f"  charged {payment['customer']} {payment['amount']:.2f} EUR ({payment_id})")
    mark_processed(payment_id)
    return True


class PaymentPublisher:
    def __init__(self):
        self.producer = Producer({"bootstrap.servers": BOOTSTRAP_SERVERS,
                                  "enable.idempotence": True})
        self.failed = 0

    def _on_delivery(self, err, msg):
        if err is not None:
            self.failed += 1
            print(f"delivery failed: {err}")

    def publish(self, payments):
        for payment in payments:
            self.producer.produce(TOPIC, key=payment.payment_id.encode(),
                                  value=payment.to_json().encode(),
                                  on_delivery=self._on_delivery)
        self.producer.flush(10)
        print(f"published {len(payments) - self.failed} payments")


class PaymentPass:
    """One read of the whole topic by one consumer group."""

    def __init__(self, group_id, commit=True):
        self.commit = commit
        self.consumer = Consumer({
            "bootstrap.servers": BOOTSTRAP_SERVERS,
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        })
        self.processed = 0
        self.skipped = 0

    def run(self, expected, timeout=30.0):
        self.consumer.subscribe([TOPIC])
        seen = 0
        at_end = False
        deadline = time.time() + timeout
        try:
            while not (at_end and seen >= expected) and time.time() < deadline:
                msg = self.consumer.poll(1.0)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        at_end = True
                    else:
                        print(f"consumer error: {msg.error()}")
                    continue
                at_end = False
                seen += 1
                if process_payment(json.loads(msg.value())):
                    self.processed += 1
                else:
                    self.skipped += 1
                if self.commit:
                    self.consumer.commit(message=msg, asynchronous=False)
        finally:
            self.consumer.close()
        return self


def main():
    payments = [Payment.random(number) for number in range(PAYMENT_COUNT)]
    PaymentPublisher().publish(payments)

    print("first pass:")
    first = PaymentPass("payment-processor").run(len(payments))
    print(f"first pass: {first.processed} processed, {first.skipped} skipped")

    print("second pass (restarted service, new group, no offsets):")
    second = PaymentPass(f"payment-processor-restart-{uuid.uuid4().hex[:8]}",
                         commit=False).run(len(payments))
    print(f"second pass: {second.processed} processed, {second.skipped} skipped")
    print(f"{len(store)} payments processed in total")


if __name__ == "__main__":
    main()
