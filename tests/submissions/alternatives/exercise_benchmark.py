"""Exercise 6 - producer benchmark.

Each factor is varied on its own around a baseline (acks=all, 16 KB batches, no
compression); the baseline itself is measured once. Batch sizes are in decimal KB.
"""

import os
import time

from confluent_kafka import Producer

TOPIC = "benchmark-topic"
BASELINE = {"acks": -1, "batch.size": 16000, "compression.type": "none", "linger.ms": 10}
VARIATIONS = {
    "acks": [0, 1, -1],
    "batch.size": [16000, 32000, 64000],
    "compression.type": ["none", "zstd"],
}


def benchmark_producer(config: dict, num_messages: int, message_size: int) -> dict:
    producer = Producer({"bootstrap.servers": "localhost:9092",
                         "queue.buffering.max.messages": 2000, **config})
    # half random, half repeated: something a codec can work on
    payload = os.urandom(message_size // 2) + b"A" * (message_size - message_size // 2)
    counts = {"delivered": 0, "failed": 0, "bytes": 0}

    def report(err, msg):
        if err is not None:
            counts["failed"] += 1
        else:
            counts["delivered"] += 1
            counts["bytes"] += len(msg.value())

    began = time.perf_counter()
    for n in range(num_messages):
        while True:
            try:
                producer.produce(TOPIC, key=str(n), value=payload, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)  # local queue full: let deliveries drain it
        if n % 1000 == 0:
            producer.poll(0)
    left = producer.flush(60)
    seconds = time.perf_counter() - began

    return {
        "duration": seconds,
        "messages": counts["delivered"],
        "errors": counts["failed"] + left,
        "throughput": counts["delivered"] / seconds,
        "mb_per_sec": counts["bytes"] / seconds / 1e6,
    }


def configurations():
    seen = []
    for name, values in VARIATIONS.items():
        for value in values:
            config = {**BASELINE, name: value}
            if config not in seen:
                seen.append(config)
    return seen


def main():
    results = [(config, benchmark_producer(config, 3000, 100)) for config in configurations()]
    print(f"{'acks':>4} {'batch.size':>10} {'compression':>11} {'msg/s':>9} {'MB/s':>7}")
    for config, result in results:
        print(f"{config['acks']:>4} {config['batch.size']:>10} {config['compression.type']:>11}"
              f" {result['throughput']:>9.0f} {result['mb_per_sec']:>7.2f}")


if __name__ == "__main__":
    main()
