"""Exercise 6: producer benchmark over acks x batch.size x compression (every combination)."""

import itertools
import string
import time
from dataclasses import asdict, dataclass

from confluent_kafka import Producer

TOPIC = "benchmark-topic"


@dataclass
class BenchmarkResult:
    acks: str
    batch_size: int
    compression: str
    duration: float
    messages: int
    errors: int
    throughput: float
    mb_per_sec: float


class DeliveryTracker:
    """Delivery callback as an object: counts what the broker acknowledged."""

    def __init__(self):
        self.ok = 0
        self.failed = 0
        self.bytes = 0

    def __call__(self, err, msg):
        if err is None:
            self.ok += 1
            self.bytes += len(msg.value())
        else:
            self.failed += 1


class ProducerBenchmark:
    POLL_INTERVAL = 100

    def __init__(self, config: dict, message_size: int):
        self.config = config
        self.producer = Producer({"bootstrap.servers": "localhost:9092", **config})
        letters = string.ascii_letters * (message_size // len(string.ascii_letters) + 1)
        self.payload = letters[:message_size].encode()

    def run(self, num_messages: int) -> BenchmarkResult:
        tracker = DeliveryTracker()
        start = time.monotonic()
        for i in range(num_messages):
            self.producer.produce(TOPIC, self.payload, callback=tracker)
            if i % self.POLL_INTERVAL == 0:
                self.producer.poll(0)
        unsent = self.producer.flush(30)
        duration = time.monotonic() - start
        return BenchmarkResult(
            acks=str(self.config.get("acks", "all")),
            batch_size=self.config.get("batch.size", 0),
            compression=self.config.get("compression.type", "none"),
            duration=duration,
            messages=tracker.ok,
            errors=tracker.failed + unsent,
            throughput=tracker.ok / duration,
            mb_per_sec=tracker.bytes / duration / 1_000_000,
        )


def benchmark_producer(config: dict, num_messages: int, message_size: int) -> dict:
    return asdict(ProducerBenchmark(config, message_size).run(num_messages))


def main():
    results = []
    for acks, batch_size, compression in itertools.product(
            ["0", "1", "all"], [16384, 32768, 65536], ["none", "gzip"]):
        config = {"acks": acks, "batch.size": batch_size, "compression.type": compression,
                  "linger.ms": 5}
        results.append(benchmark_producer(config, num_messages=500, message_size=200))

    print(f"{'acks':>4} | {'batch':>6} | {'codec':>5} | {'msg/s':>9} | {'MB/s':>6} | errors")
    for r in sorted(results, key=lambda r: -r["throughput"]):
        print(f"{r['acks']:>4} | {r['batch_size']:>6} | {r['compression']:>5} | "
              f"{r['throughput']:>9.0f} | {r['mb_per_sec']:>6.2f} | {r['errors']}")


if __name__ == "__main__":
    main()
