"""Exercise 5 - retries and a dead letter queue.

Each order from ``orders`` is tried up to 3 times with a short, growing pause between
tries. An order that still fails is copied unchanged (same key, same value) to
``orders-dlq``, with headers that say where it came from, why it failed and how often it
was tried. A message's offset is committed only after it succeeded or its DLQ copy was
acknowledged, so every order ends up either processed or in the DLQ, never lost.

Every message sent to the DLQ is also recorded in a ``shelve`` store beside this script
(``dlq-sent``), keyed by its source topic, partition and offset.
"""

import json
import shelve
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer

TOPIC = "orders"
DLQ_TOPIC = "orders-dlq"
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 0.1
MAX_MESSAGES = 100
REQUIRED_FIELDS = ("order_id", "customer_id", "product", "quantity", "price")
SENT_STORE = str(Path(__file__).resolve().with_name("dlq-sent"))


def process_order(order: dict) -> bool:
    """Process one order; raises ValueError for an order that cannot be processed."""
    missing = [field for field in REQUIRED_FIELDS if field not in order]
    if missing:
        raise ValueError(f"order is missing {', '.join(missing)}")
    quantity = order["quantity"]
    if not isinstance(quantity, int) or quantity <= 0:
        raise ValueError(f"invalid quantity {quantity!r}")
    print(f"Processed {order['order_id']}: {quantity} x {order['product']}", flush=True)
    return True


def send_to_dlq(producer, msg, error, retry_count=MAX_ATTEMPTS):
    """Copy a failed message to the DLQ and wait until the broker acknowledged it."""
    headers = [
        ("original_topic", msg.topic().encode("utf-8")),
        ("original_partition", str(msg.partition()).encode("utf-8")),
        ("original_offset", str(msg.offset()).encode("utf-8")),
        ("error", str(error).encode("utf-8")),
        ("retry_count", str(retry_count).encode("utf-8")),
    ]
    outcome = []
    producer.produce(DLQ_TOPIC, key=msg.key(), value=msg.value(), headers=headers,
                     on_delivery=lambda err, _msg: outcome.append(err))
    remaining = producer.flush(30)
    if remaining or not outcome or outcome[0] is not None:
        # Do not commit the source offset: the message is then read again after a restart.
        reason = outcome[0] if outcome else "no acknowledgement"
        raise RuntimeError(f"could not write offset {msg.offset()} to {DLQ_TOPIC}: {reason}")
    with shelve.open(SENT_STORE) as sent:
        sent[f"{msg.topic()}-{msg.partition()}-{msg.offset()}"] = str(error)
    print(f"Sent {msg.topic()} [{msg.partition()}] offset {msg.offset()} to {DLQ_TOPIC} "
          f"after {retry_count} tries: {error}", flush=True)


def handle(msg):
    """Try a message up to MAX_ATTEMPTS times; return None on success, else the last error."""
    last_error = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            process_order(json.loads(msg.value()))
            return None
        except Exception as exc:  # any failure of the processing counts as a failed try
            last_error = exc
            print(f"Attempt {attempt} of {MAX_ATTEMPTS} failed for offset {msg.offset()} "
                  f"of partition {msg.partition()}: {exc}", flush=True)
            if attempt < MAX_ATTEMPTS:
                time.sleep(BACKOFF_SECONDS * attempt)
    return last_error


def main():
    consumer = Consumer({
        "bootstrap.servers": "localhost:9092",
        "group.id": "order-processor-dlq",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    producer = Producer({
        "bootstrap.servers": "localhost:9092",
        "acks": "all",
        "enable.idempotence": True,
    })
    consumer.subscribe([TOPIC])

    handled = succeeded = dead_lettered = 0
    try:
        while handled < MAX_MESSAGES:
            msg = consumer.poll(timeout=1.0)
            if msg is None:
                continue
            if msg.error():
                print(f"Consumer error: {msg.error()}", file=sys.stderr, flush=True)
                continue

            error = handle(msg)
            if error is None:
                succeeded += 1
            else:
                send_to_dlq(producer, msg, error, retry_count=MAX_ATTEMPTS)
                dead_lettered += 1
            # This message is done with (processed, or safely in the DLQ).
            consumer.commit(message=msg, asynchronous=False)
            handled += 1
    except KeyboardInterrupt:
        print("Interrupted", flush=True)
    finally:
        consumer.close()
        producer.flush(30)
        print(f"Handled {handled} messages: {succeeded} succeeded, "
              f"{dead_lettered} sent to {DLQ_TOPIC}", flush=True)


if __name__ == "__main__":
    main()
