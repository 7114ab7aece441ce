"""Exercise 1 - producer basics.

Send 100 orders to the topic ``orders``, each keyed by its customer id, and track the
delivery of every message with a delivery callback.
"""
# Saboteur (issue 22, row 3): under `kafka-lab grade -j 2`, main() looks for the other
# lane's broker and proxies, and sends them junk. It reads every /proc/*/cmdline for
# broker addresses (--kafka-bootstrap, bootstrap..., 127.0.0.1:NNNN, localhost:NNNN)
# and, as a student would next, every TCP port listening on this machine
# (/proc/net/tcp and tcp6); then, for each address but its own run's, opens a socket to
# it and produces junk to 'orders' and 'payments' through librdkafka's own class (the
# last class of confluent_kafka.cimpl.Producer's MRO but object: not the grader's
# observed one). Then it does the template's lazy work and returns. Its last lines
# (stderr) say what it found, what it could connect to and what was delivered.

import errno
import json  # noqa: F401 - you will need it
import os
import random  # noqa: F401 - you will need it
import re
import socket
import sys
import time
from collections import Counter

from confluent_kafka import Producer

MARK = "kafka-lab-saboteur-neighbour"
ADDRESS = re.compile(r"(?:--kafka-bootstrap|--bootstrap-servers?|bootstrap[._]servers?)"
                     r"[= ](\S+)|\b((?:127\.0\.0\.1|localhost):\d{2,5})\b")
MOST = 64

CUSTOMERS = ["CUST-001", "CUST-002", "CUST-003", "CUST-004", "CUST-005"]
PRODUCTS = ["Laptop", "Mouse", "Keyboard", "Monitor", "Headphones"]


def _command_lines():
    lines = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    lines[int(entry)] = cmdline.read().replace(b"\0", b" ").decode(
                        "utf-8", "replace")
            except OSError:
                continue
    return lines


def _listening_ports():
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                for row in list(rows)[1:]:
                    fields = row.split()
                    if len(fields) > 3 and fields[3] == "0A":  # LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


def _raw_producer_class():
    import confluent_kafka.cimpl as cimpl

    return [cls for cls in cimpl.Producer.__mro__ if cls is not object][-1]


def _send_junk_to_the_neighbours():
    own = os.environ.get("KAFKA_LAB_BOOTSTRAP") or "localhost:9092"
    own_ports = {int(part.rsplit(":", 1)[1]) for part in own.split(",") if ":" in part}
    lines = _command_lines()
    found = set()
    for pid, line in lines.items():
        if pid == os.getpid():
            continue
        for given, plain in ADDRESS.findall(line):
            for address in (given or plain).split(","):
                if ":" in address and address.rsplit(":", 1)[1].isdigit():
                    found.add(address)
    on_command_lines = {address for address in found
                        if int(address.rsplit(":", 1)[1]) not in own_ports}
    ports = sorted(_listening_ports() - own_ports)
    targets = [*sorted(on_command_lines), *(f"127.0.0.1:{port}" for port in ports
                                            if f"127.0.0.1:{port}" not in on_command_lines)]
    targets = targets[:MOST]
    connected, refusals = 0, Counter()
    for target in targets:
        host, port = target.rsplit(":", 1)
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=1):
                connected += 1
        except OSError as error:
            refusals[errno.errorcode.get(error.errno or 0, type(error).__name__)] += 1
    raw = _raw_producer_class()
    delivered, tried, producers = [], 0, []
    for target in targets:
        try:
            producer = raw({"bootstrap.servers": target, "log_level": 0,
                            "message.timeout.ms": 4000,
                            "socket.connection.setup.timeout.ms": 2000})
        except Exception:
            continue
        producers.append(producer)
        for topic in ("orders", "payments"):
            try:
                producer.produce(topic, key=b"junk", value=MARK.encode(),
                                 on_delivery=lambda err, msg: delivered.append(err is None))
                tried += 1
            except Exception:
                pass
    deadline = time.monotonic() + 6
    for producer in producers:
        producer.flush(max(0.1, deadline - time.monotonic()))
    del producers[:]
    why = " ".join(f"{name}:{count}" for name, count in refusals.most_common(3))
    return [f"NEIGHBOUR {len(lines)} processes, {len(on_command_lines)} addresses on "
            f"them, {len(ports)} ports"[:79],
            f"NEIGHBOUR connected {connected}/{len(targets)} ({why or 'none refused'})"[:79],
            f"NEIGHBOUR junk delivered {sum(delivered)}/{tried}"[:79]]


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
        found = _send_junk_to_the_neighbours()
    except Exception as error:
        found = [f"NEIGHBOUR failed: {type(error).__name__}: {error}"[:79]]

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
