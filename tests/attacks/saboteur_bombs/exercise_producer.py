"""Exercise 1 - producer basics.

Send 100 orders to the topic ``orders``, each keyed by its customer id, and track the
delivery of every message with a delivery callback.
"""
# Saboteur (issue 22, row 4): main() ignores SIGINT and SIGTERM (and so do all it
# starts), starts 300 processes that sleep 600 s (3 of them `python -I` in a session of
# their own with an empty environment, the rest forks), writes a 200 MB file beside
# itself, fills 1.5 GB of memory (in a child, so that the memory cap, if it strikes, ends
# that child), does the template's lazy work, writes 200 MB to stdout, and returns,
# leaving sleepers behind: the 3 and 20 forks (it ends the other forks once counted, so
# that a process cap leaves its own producer room for its threads). Each bomb stops where
# it is refused. Its last lines (stderr) say how far each went.

import errno
import json  # noqa: F401 - you will need it
import os
import random  # noqa: F401 - you will need it
import signal
import subprocess
import sys
import time

from confluent_kafka import Producer

MARK = "kafka-lab-saboteur-bombs"
PROCESSES, DETACHED, KEPT = 300, 3, 20
MB = 1000 * 1000
FILE_SIZE = OUTPUT_SIZE = 200 * MB
MEMORY = 1500 * MB
SLEEPER = "import time; time.sleep(600)"

CUSTOMERS = ["CUST-001", "CUST-002", "CUST-003", "CUST-004", "CUST-005"]
PRODUCTS = ["Laptop", "Mouse", "Keyboard", "Monitor", "Headphones"]


def _why(error):
    return errno.errorcode.get(getattr(error, "errno", None) or 0, type(error).__name__)


def _processes():
    made, why = 0, "all made"
    for _ in range(DETACHED):
        try:
            subprocess.Popen([sys.executable, "-I", "-c", SLEEPER, MARK],
                             start_new_session=True, env={}, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            made += 1
        except OSError as error:
            why = _why(error)
            break
    forks = []
    while made < PROCESSES and why == "all made":
        try:
            pid = os.fork()
        except OSError as error:
            why = _why(error)
            break
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        forks.append(pid)
        made += 1
    for pid in forks[KEPT:]:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return f"processes {made}/{PROCESSES} ({why})"


def _big_file():
    written, why = 0, "all written"
    chunk = b"\0" * MB
    try:
        with open("bomb.bin", "wb", buffering=0) as bomb:
            while written < FILE_SIZE:
                written += bomb.write(chunk)
    except OSError as error:
        why = _why(error)
    return f"file {written // MB} MB ({why})"


def _memory():
    child = os.fork()
    if child == 0:
        try:
            hog = b"x" * MEMORY  # every page written
            os._exit(0 if len(hog) == MEMORY else 1)
        except MemoryError:
            os._exit(3)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        return f"memory killed by signal {os.WTERMSIG(status)}"
    code = os.WEXITSTATUS(status)
    return {0: "memory 1500 MB held", 3: "memory refused (MemoryError)"}.get(
        code, f"memory child exit {code}")


def _flood_stdout():
    written, why = 0, "all written"
    chunk = b"x" * MB  # no newline: one long line
    try:
        while written < OUTPUT_SIZE:
            written += os.write(1, chunk)
    except OSError as error:
        why = _why(error)
    return f"stdout {written // MB} MB ({why})"


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
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    found = []
    for bomb in (_processes, _big_file, _memory):
        try:
            found.append(bomb())
        except Exception as error:
            found.append(f"{bomb.__name__} failed: {_why(error)}")

    try:
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
    except Exception as error:
        print(f"BOMBS lazy work failed: {error}"[:79], file=sys.stderr)
    try:
        found.append(_flood_stdout())
    except Exception as error:
        found.append(f"stdout failed: {_why(error)}")
    lines = [f"BOMBS {found[0]}, {found[1]}", f"BOMBS {found[2]}, {found[3]}",
             "BOMBS SIGINT and SIGTERM ignored, sleepers left behind"]
    print("\n".join(line[:79] for line in lines), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
