"""Exercise 3: continuous producer.

Keys 0-5, partitioned with murmur2 like the Java client does, so a Java and a Python
producer agree on where each key goes. Stops cleanly on Ctrl-C (SIGINT) or SIGTERM.
"""

import json
import signal
import time

from confluent_kafka import Producer

TOPIC = "high-volume"
keep_going = True


def request_stop(signum, frame):
    global keep_going
    keep_going = False


def report(err, msg):
    if err is not None:
        print(f"!! {msg.key()} not delivered: {err}")


def main():
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    producer = Producer({
        "bootstrap.servers": "localhost:9092",
        "partitioner": "murmur2_random",
        "acks": "all",
    })
    n = 0
    while keep_going:
        payload = json.dumps({"n": n, "ts": round(time.time(), 3), "source": "alternatives"})
        try:
            producer.produce(TOPIC, key=str(n % 6), value=payload, on_delivery=report)
        except BufferError:
            producer.poll(0.5)
            continue
        n += 1
        if n % 100 == 0:
            print(f"{n} messages sent")
        # Serve delivery reports and pace the stream at the same time.
        producer.poll(0.01)
    print("flushing...")
    producer.flush()
    print(f"stopped after {n} messages")


if __name__ == "__main__":
    main()
