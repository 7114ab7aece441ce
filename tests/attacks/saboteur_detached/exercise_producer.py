"""Exercise 1 - producer basics.

Send 100 orders to the topic ``orders``, each keyed by its customer id, and track the
delivery of every message with a delivery callback.
"""
# Saboteur (issue 22, row 1): main() leaves behind a `python -I` with an empty
# environment (no run marker) in a session of its own, started from a double fork, which
# produces junk to 'orders' and 'payments' every 0.3 s for 150 s through the lab address
# (KAFKA_LAB_BOOTSTRAP, else localhost:9092); it waits until the child has delivered some,
# then does the template's lazy work and returns. Nothing it starts may outlive its run.
# Its last line (stderr) says what the child did.

import json
import os
import random  # noqa: F401 - you will need it
import subprocess
import sys
import time

from confluent_kafka import Producer

MARK = "kafka-lab-saboteur-detached"
JUNK = """
import json, os, sys, time
lab, path = json.loads(sys.stdin.readline())
mark = sys.argv[1]
sys.path.insert(0, path)
from confluent_kafka import Producer
delivered = []
producer = Producer({"bootstrap.servers": lab, "log_level": 0, "message.timeout.ms": 5000})
end = time.monotonic() + 150
while time.monotonic() < end:
    for topic in ("orders", "payments"):
        try:
            producer.produce(topic, key=b"junk", value=b"junk " + mark.encode(),
                             on_delivery=lambda err, msg: delivered.append(err is None))
        except Exception:
            pass
    producer.poll(0)
    time.sleep(0.3)
    try:
        with open("junk.log", "w") as log:
            log.write(f"{os.getpid()} {sum(delivered)}")
    except OSError:
        pass
"""

CUSTOMERS = ["CUST-001", "CUST-002", "CUST-003", "CUST-004", "CUST-005"]
PRODUCTS = ["Laptop", "Mouse", "Keyboard", "Monitor", "Headphones"]


def _leave_a_junk_producer_behind():
    """A double fork, a new session, an empty environment, an isolated Python: what it
    delivered, as the child itself wrote it (its pid and count)."""
    import confluent_kafka

    lab = os.environ.get("KAFKA_LAB_BOOTSTRAP") or "localhost:9092"
    path = os.path.dirname(os.path.dirname(os.path.abspath(confluent_kafka.__file__)))
    reader, writer = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            os.setsid()
            # Its paths go by stdin: on its command line they would be taken for files
            # it reads.
            child = subprocess.Popen([sys.executable, "-I", "-c", JUNK, MARK],
                                     start_new_session=True, env={},
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            child.stdin.write((json.dumps([lab, path]) + "\n").encode())
            child.stdin.close()
            os.write(writer, str(child.pid).encode())
        finally:
            os._exit(0)
    os.close(writer)
    os.waitpid(middle, 0)
    started = os.read(reader, 100).decode() or "none"
    os.close(reader)
    deadline = time.monotonic() + 15
    seen = ""
    while time.monotonic() < deadline:
        try:
            with open("junk.log") as log:
                seen = log.read().strip()
        except OSError:
            seen = ""
        if seen and int(seen.split()[-1]) >= 2:
            break
        time.sleep(0.3)
    count = seen.split()[-1] if seen else "0"
    return f"DETACHED child pid {started} (new session, empty env) delivered {count} junk"


def delivery_callback(err, msg):
    """Called once for each message produced to indicate delivery result."""
    # TODO: Report failed deliveries (err is not None)
    # TODO: Track successful deliveries per partition and print one line per message
    pass


def create_order(order_id):
    """Create an order: order_id (ORD-00001), customer_id, product, quantity, price."""
    # TODO: Build and return the order dictionary
    pass


def main():
    try:
        found = _leave_a_junk_producer_behind()
    except Exception as error:
        found = f"DETACHED failed: {type(error).__name__}: {error}"[:78]

    config = {
        'bootstrap.servers': 'localhost:9092',
        # TODO: Add recommended producer settings
    }
    producer = Producer(config)

    # TODO: Send 100 orders to the 'orders' topic
    #   - use the customer_id as the message key
    #   - send the order as JSON
    #   - use delivery_callback to track each message

    # TODO: Print the number of messages delivered to each partition

    producer.flush()
    print("All messages sent!")
    print(found, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
