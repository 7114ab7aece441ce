"""Exercise 3: one member of the scaling-demo consumer group.

Start several copies in separate terminals and watch the partitions move between
them. Each copy prints the partitions it gains and loses.
"""

import os
import socket

from confluent_kafka import Consumer, KafkaError


class ScalingConsumer:
    TOPIC = "high-volume"

    def __init__(self, group_id="scaling-demo"):
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.owned = set()
        self.count = 0
        self.consumer = Consumer({
            "bootstrap.servers": "localhost:9092",
            "group.id": group_id,
            "group.protocol": "classic",
            "partition.assignment.strategy": "cooperative-sticky",
            "auto.offset.reset": "latest",
            # commit automatically, but only what I actually processed
            "enable.auto.offset.store": False,
        })

    # -- rebalance listeners --------------------------------------------------
    def handle_assign(self, consumer, partitions):
        gained = sorted(tp.partition for tp in partitions)
        self.owned.update(gained)
        print(f"{self.name} + gained {gained} -> now {sorted(self.owned)}")

    def handle_revoke(self, consumer, partitions):
        lost = sorted(tp.partition for tp in partitions)
        self.owned.difference_update(lost)
        print(f"{self.name} - gave up {lost} -> now {sorted(self.owned)}")

    def handle_lost(self, consumer, partitions):
        lost = sorted(tp.partition for tp in partitions)
        self.owned.difference_update(lost)
        print(f"{self.name} ! lost {lost} (session expired) -> now {sorted(self.owned)}")

    # -- main loop -------------------------------------------------------------
    def process(self, msg):
        self.count += 1
        if self.count % 100 == 0:
            print(f"{self.name} processed {self.count} messages, owns {sorted(self.owned)}")

    def run(self):
        self.consumer.subscribe([self.TOPIC], on_assign=self.handle_assign,
                                on_revoke=self.handle_revoke, on_lost=self.handle_lost)
        print(f"{self.name} joined, waiting for partitions")
        try:
            while True:
                msg = self.consumer.poll(1.0)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        print(f"{self.name} error: {msg.error()}")
                    continue
                self.process(msg)
                self.consumer.store_offsets(message=msg)
        except KeyboardInterrupt:
            print(f"{self.name} interrupted")
        finally:
            self.consumer.close()
            print(f"{self.name} closed after {self.count} messages")


if __name__ == "__main__":
    ScalingConsumer().run()
