"""Exercise 4 - exactly-once processing, with the processed ids in an sqlite3 database
beside this script (``processed.db``): a payment is marked in the same database
transaction that records it, only after it was processed. At the end a separate Python
process (a subprocess of this interpreter) reads the database and reports how many
payments it holds.
"""

import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Producer

TOPIC = "payments"
STORE = Path(__file__).resolve().with_name("processed.db")

_db = None


def db():
    global _db
    if _db is None:
        _db = sqlite3.connect(STORE)
        _db.execute("create table if not exists processed (payment_id text primary key)")
        _db.commit()
    return _db


def is_duplicate(message_id: str) -> bool:
    row = db().execute("select 1 from processed where payment_id = ?", (message_id,))
    return row.fetchone() is not None


def mark_processed(message_id: str):
    with db():
        db().execute("insert or ignore into processed values (?)", (message_id,))


def process_payment(payment: dict) -> bool:
    payment_id = payment["payment_id"]
    if is_duplicate(payment_id):
        print(f"SKIP (duplicate): {payment_id}", flush=True)
        return False
    print(f"PROCESS: {payment_id} - ${payment['amount']} from {payment['customer']}",
          flush=True)
    mark_processed(payment_id)
    return True


def produce_payments():
    producer = Producer({"bootstrap.servers": "localhost:9092"})
    for i in range(10):
        payment = {"payment_id": str(uuid.uuid4()), "amount": 100.00 + i,
                   "customer": f"CUST-{i:03d}"}
        producer.produce(TOPIC, key=payment["payment_id"], value=json.dumps(payment))
        producer.poll(0)
    producer.flush(30)


def consume_once(group, commit):
    consumer = Consumer({"bootstrap.servers": "localhost:9092", "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    seen = 0
    try:
        while True:
            msg = consumer.poll(2.0)
            if msg is None:
                if seen >= 10:
                    break
                continue
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    print(f"Consumer error: {msg.error()}", flush=True)
                continue
            process_payment(json.loads(msg.value().decode("utf-8")))
            seen += 1
            if commit:
                consumer.commit(msg)
    finally:
        consumer.close()


def stored_count():
    """How many ids the database holds, read by another Python process."""
    reader = ("import sqlite3, sys; "
              "print(sqlite3.connect(sys.argv[1]).execute("
              "'select count(*) from processed').fetchone()[0])")
    done = subprocess.run([sys.executable, "-c", reader, str(STORE)], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


def main():
    produce_payments()
    print("--- first pass ---", flush=True)
    consume_once("payment-processor", commit=True)
    print("--- second pass, after a restart ---", flush=True)
    consume_once("payment-processor-2", commit=False)
    print(f"{stored_count()} payments in {STORE.name}", flush=True)


if __name__ == "__main__":
    main()
