from confluent_kafka import Consumer
import os
import socket

consumer_id = f"{socket.gethostname()}-{os.getpid()}"


def on_assign(consumer, partitions):
    print(f"[{consumer_id}] ASSIGNED: {[p.partition for p in partitions]}")


def on_revoke(consumer, partitions):
    print(f"[{consumer_id}] REVOKED: {[p.partition for p in partitions]}")


consumer = Consumer({
    'bootstrap.servers': 'localhost:9092',
    'group.id': 'scaling-demo',
    'auto.offset.reset': 'latest',
    'partition.assignment.strategy': 'cooperative-sticky'
})

consumer.subscribe(['high-volume'], on_assign=on_assign, on_revoke=on_revoke)

print(f"[{consumer_id}] Started, waiting for partition assignment...")

message_count = 0
try:
    while True:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            print(f"[{consumer_id}] Error: {msg.error()}")
            continue

        message_count += 1
        if message_count % 100 == 0:
            assignment = [p.partition for p in consumer.assignment()]
            print(f"[{consumer_id}] Processed {message_count} messages, "
                  f"partitions: {assignment}")

except KeyboardInterrupt:
    print(f"\n[{consumer_id}] Shutting down...")
finally:
    consumer.close()
