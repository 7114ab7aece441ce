"""Exercise 1 - producer basics.

Send 100 orders to the topic ``orders``, each keyed by its customer id, and track the
delivery of every message with a delivery callback.
"""
# Saboteur (issue 22, row 5): main() reads /etc/shadow and every process's command line
# (other submissions' paths, report paths, brokers' addresses), prints all it found
# (the command lines whole; of /etc/shadow only its size, never its contents), then does
# the template's lazy work and returns. Its last lines (stderr) sum it up.

import json  # noqa: F401 - you will need it
import os
import random  # noqa: F401 - you will need it
import re
import sys

from confluent_kafka import Producer

MARK = "kafka-lab-saboteur-snoop"
# What, on a command line, belongs to the grader or to another run: pytest and the
# grader's own options, Java (the brokers and their tools), other submissions' folders.
FOREIGN = ("-m pytest", "pytest_child", "--lab-submission", "--lab-report",
           "--kafka-bootstrap", "kafka-lab grade", "bin/java", "kafka.Kafka", "saboteur_",
           "/attacks/", "scenarios/reference")
ADDRESS = re.compile(r"\b(?:127\.0\.0\.1|localhost):\d{2,5}\b")

CUSTOMERS = ["CUST-001", "CUST-002", "CUST-003", "CUST-004", "CUST-005"]
PRODUCTS = ["Laptop", "Mouse", "Keyboard", "Monitor", "Headphones"]


def _snoop():
    try:
        with open("/etc/shadow", "rb") as shadow:
            secret = shadow.read()
        entries = sum(1 for line in secret.splitlines() if b":" in line)
        shadow_seen = f"READ {len(secret)} bytes, {entries} entries"
    except OSError as error:
        shadow_seen = f"refused ({type(error).__name__}, errno {error.errno})"
    lines = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    lines[int(entry)] = cmdline.read().replace(b"\0", b" ").decode(
                        "utf-8", "replace").strip()
            except OSError:
                continue
    for pid, line in sorted(lines.items()):
        print(f"snooped pid {pid}: {line}")
    foreign = {pid: line for pid, line in lines.items()
               if pid != os.getpid() and any(word in line for word in FOREIGN)}
    addresses = sorted({address for pid, line in lines.items() if pid != os.getpid()
                        for address in ADDRESS.findall(line)})
    example = next(iter(foreign.values()), "")
    return [f"SNOOP /etc/shadow {shadow_seen}"[:79],
            f"SNOOP {len(lines)} processes seen, {len(foreign)} foreign, "
            f"{len(addresses)} addresses"[:79],
            f"SNOOP foreign e.g. {example or 'none'}"[:79].replace("'", "").replace('"', "")]


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
        found = _snoop()
    except Exception as error:
        found = [f"SNOOP failed: {type(error).__name__}: {error}"[:79]]

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
    print("\n".join(found), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
