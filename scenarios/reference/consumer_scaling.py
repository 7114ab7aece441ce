"""Exercise 3 - watch a consumer group rebalance cooperatively.

Start one copy: it owns all six partitions of ``high-volume``. Start a second: each owns
three, and the first gives up only the three it loses (incremental, cooperative
rebalance). Stop one with Ctrl-C: the other owns all six again. The rebalance callbacks
print every change; with ``cooperative-sticky`` they receive only the partitions that
move, and librdkafka applies the change itself after the callback returns.
"""

import os

from confluent_kafka import Consumer

TOPIC = "high-volume"
NAME = f"consumer-{os.getpid()}"

# The partitions this member owns, kept up to date from the incremental callbacks.
owned = set()


def numbers(partitions):
    return sorted(tp.partition for tp in partitions)


def on_assign(consumer, partitions):
    owned.update(numbers(partitions))
    print(f"[{NAME}] Assigned partitions {numbers(partitions)}; now owns {sorted(owned)}",
          flush=True)


def on_revoke(consumer, partitions):
    owned.difference_update(numbers(partitions))
    print(f"[{NAME}] Revoked partitions {numbers(partitions)}; now owns {sorted(owned)}",
          flush=True)


def on_lost(consumer, partitions):
    owned.difference_update(numbers(partitions))
    print(f"[{NAME}] Lost partitions {numbers(partitions)}; now owns {sorted(owned)}",
          flush=True)


def main():
    consumer = Consumer({
        "bootstrap.servers": "localhost:9092",
        "group.id": "scaling-demo",
        # The classic group protocol, where the client picks the assignment strategy.
        "group.protocol": "classic",
        "partition.assignment.strategy": "cooperative-sticky",
        "auto.offset.reset": "latest",
        # Offsets are committed automatically, but only those stored after a message was
        # shown: one fetched as Ctrl-C arrives is then read again by the member that takes
        # over its partition, not skipped.
        "enable.auto.offset.store": False,
    })
    consumer.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    print(f"[{NAME}] Joining group scaling-demo, Ctrl-C to stop", flush=True)

    consumed = 0
    try:
        while True:
            msg = consumer.poll(timeout=1.0)
            if msg is None:
                continue
            if msg.error():
                print(f"[{NAME}] Consumer error: {msg.error()}", flush=True)
                continue
            consumed += 1
            key = msg.key().decode("utf-8") if msg.key() is not None else None
            print(f"[{NAME}] partition {msg.partition()} offset {msg.offset()} key {key}",
                  flush=True)
            consumer.store_offsets(message=msg)
    except KeyboardInterrupt:
        print(f"[{NAME}] Interrupted", flush=True)
    finally:
        # Leaving the group at once lets the other members take over without waiting
        # for the session timeout.
        consumer.close()
        print(f"[{NAME}] Closed after consuming {consumed} messages", flush=True)


if __name__ == "__main__":
    main()
