"""Exercise 3: consumer for the scaling demo.

Differences from the handout: batches with consume(), no auto-commit (I commit the
offsets of what I processed myself, and always before a partition is taken away), and
a SIGINT handler that lets the loop finish its batch instead of a KeyboardInterrupt.
"""

import signal
import uuid

from confluent_kafka import Consumer, KafkaException, TopicPartition

TOPIC = "high-volume"
BATCH_SIZE = 50
COMMIT_EVERY_BATCHES = 10

me = uuid.uuid4().hex[:6]
running = True
owned = set()
next_offsets = {}  # partition -> offset of the next message to process


def on_sigint(signum, frame):
    global running
    print(f"[{me}] Ctrl-C received, finishing the current batch")
    running = False


def commit(consumer, partitions):
    offsets = [TopicPartition(TOPIC, p, next_offsets[p]) for p in sorted(partitions)
               if p in next_offsets]
    if offsets:
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            # A rebalance can refuse a commit; the next owner then re-reads a little.
            print(f"[{me}] commit of {offsets} refused: {error}")
            return {}
    return {tp.partition: tp.offset for tp in offsets}


def on_assign(consumer, partitions):
    owned.update(tp.partition for tp in partitions)
    print(f"[{me}] assigned {[tp.partition for tp in partitions]}, owning {sorted(owned)}")


def on_revoke(consumer, partitions):
    lost = [tp.partition for tp in partitions]
    committed = commit(consumer, lost)
    for p in lost:
        owned.discard(p)
        next_offsets.pop(p, None)
    print(f"[{me}] revoked {lost} (committed {committed}), owning {sorted(owned)}")


def main():
    signal.signal(signal.SIGINT, on_sigint)
    consumer = Consumer({
        "bootstrap.servers": "localhost:9092",
        "group.id": "scaling-demo",
        "partition.assignment.strategy": "cooperative-sticky",
        "auto.offset.reset": "latest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke)
    processed = batches = 0
    try:
        while running:
            batch = consumer.consume(num_messages=BATCH_SIZE, timeout=1.0)
            for msg in batch:
                if msg.error():
                    print(f"[{me}] error: {msg.error()}")
                    continue
                if msg.partition() not in owned:
                    continue  # left over from a partition given away meanwhile
                processed += 1
                next_offsets[msg.partition()] = msg.offset() + 1
            batches += 1
            if batches % COMMIT_EVERY_BATCHES == 0:
                commit(consumer, owned)
                print(f"[{me}] {processed} processed, positions {next_offsets}")
        commit(consumer, owned)
    finally:
        consumer.close()
    print(f"[{me}] closed, {processed} messages processed")


if __name__ == "__main__":
    main()
