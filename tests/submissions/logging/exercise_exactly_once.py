"""Exercise 4 - process every payment exactly once, even when Kafka delivers it again."""

import json
import logging
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("payments")

CONF = {"bootstrap.servers": "localhost:9092"}
TOPIC = "payments"

# payment_id -> when it was processed
processed_ids = {}


def is_duplicate(message_id: str) -> bool:
    return message_id in processed_ids


def mark_processed(message_id: str):
    processed_ids[message_id] = time.time()


def process_payment(payment: dict) -> bool:
    payment_id = payment["payment_id"]
    if is_duplicate(payment_id):
        log.info("SKIP %s: already processed", payment_id)
        return False
    log.info("PROCESS %s: %.2f from %s", payment_id, payment["amount"], payment["customer"])
    mark_processed(payment_id)
    return True


def produce_payments(n=10):
    producer = Producer({**CONF, "acks": "all"})
    for i in range(n):
        payment = {
            "payment_id": str(uuid.uuid4()),
            "amount": 50 + 10 * i,
            "customer": f"CUST-{i % 4:03d}",
        }
        # str key and value: the client encodes them as UTF-8
        producer.produce(TOPIC, key=payment["payment_id"], value=json.dumps(payment))
    left = producer.flush(15)
    log.info("produced %d payments (%d not delivered)", n, left)


def read_all(label):
    """Read partition 0 of the topic from its first offset up to its end."""
    consumer = Consumer({**CONF, "group.id": "payment-reader", "enable.auto.commit": False})
    partition = TopicPartition(TOPIC, 0, OFFSET_BEGINNING)
    consumer.assign([partition])
    low, high = consumer.get_watermark_offsets(partition, timeout=10)
    log.info("%s: reading offsets %d..%d", label, low, high - 1)
    started = time.perf_counter()
    processed = skipped = 0
    next_offset = low
    try:
        while next_offset < high and time.perf_counter() - started < 30:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                log.warning("%s: %s", label, msg.error())
                continue
            next_offset = msg.offset() + 1
            if process_payment(json.loads(msg.value().decode("utf-8"))):
                processed += 1
            else:
                skipped += 1
    finally:
        consumer.close()
    log.info("%s: %d processed, %d skipped in %.2fs", label, processed, skipped,
             time.perf_counter() - started)


def main():
    produce_payments()
    read_all("pass 1")
    # a restart: a new consumer starts over from the first offset
    read_all("pass 2")
    log.info("%d distinct payments processed", len(processed_ids))


if __name__ == "__main__":
    main()
