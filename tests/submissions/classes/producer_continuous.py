"""Exercise 3: keep a steady stream of messages flowing into high-volume.

Run it in its own terminal and leave it running while consumers come and go;
Ctrl-C stops it after everything queued was delivered.
"""

import json
import time
from collections import Counter
from dataclasses import dataclass

from confluent_kafka import Producer


@dataclass
class StreamSettings:
    topic: str = "high-volume"
    keys: int = 6
    pause: float = 0.01
    report_every: int = 200


class ContinuousProducer:
    """Sends small JSON events round-robin over a handful of keys until stopped."""

    def __init__(self, settings: StreamSettings):
        self.settings = settings
        self.producer = Producer({"bootstrap.servers": "localhost:9092", "linger.ms": 5})
        self.sent = 0
        self.delivered = Counter()
        self.failed = 0

    def on_delivery(self, err, msg):
        if err is not None:
            self.failed += 1
            print(f"delivery failed: {err}")
        else:
            self.delivered[msg.partition()] += 1

    def send_one(self):
        key = str(self.sent % self.settings.keys)
        event = {"seq": self.sent, "key": key, "created": time.time()}
        self.producer.produce(self.settings.topic, key=key.encode("utf-8"),
                              value=json.dumps(event).encode("utf-8"),
                              on_delivery=self.on_delivery)
        self.sent += 1

    def run(self):
        print(f"producing to {self.settings.topic} - press Ctrl-C to stop")
        try:
            while True:
                try:
                    self.send_one()
                except BufferError:
                    self.producer.poll(1)
                    continue
                self.producer.poll(0)
                if self.sent % self.settings.report_every == 0:
                    print(f"sent {self.sent}, delivered per partition: {dict(self.delivered)}")
                time.sleep(self.settings.pause)
        except KeyboardInterrupt:
            print("stopping...")
        finally:
            self.producer.flush(15)
            print(f"done: {self.sent} sent, {sum(self.delivered.values())} delivered, "
                  f"{self.failed} failed")


if __name__ == "__main__":
    ContinuousProducer(StreamSettings()).run()
