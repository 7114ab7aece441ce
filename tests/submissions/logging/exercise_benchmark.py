"""Exercise 6 - producer benchmark: one factor at a time."""

import logging
import time

from confluent_kafka import Producer

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(message)s")
log = logging.getLogger("benchmark")

TOPIC = "benchmark-topic"


def benchmark_producer(config: dict, num_messages: int, message_size: int) -> dict:
    producer = Producer({"bootstrap.servers": "localhost:9092", **config})
    value = "x" * message_size  # a str value, sent as UTF-8
    stats = {"ok": 0, "failed": 0}

    def on_delivery(err, msg):
        if err:
            stats["failed"] += 1
            log.error("delivery failed: %s", err)
        else:
            stats["ok"] += 1

    t0 = time.perf_counter()
    for _ in range(num_messages):
        producer.produce(TOPIC, value=value, on_delivery=on_delivery)
        producer.poll(0)
    producer.flush()
    elapsed = time.perf_counter() - t0

    sent_bytes = stats["ok"] * len(value.encode("utf-8"))
    result = {
        "duration": elapsed,
        "messages": stats["ok"],
        "errors": stats["failed"],
        "throughput": stats["ok"] / elapsed,
        "mb_per_sec": sent_bytes / elapsed / (1024 * 1024),
    }
    log.info("%s: %d msgs in %.3fs = %.0f msg/s, %.2f MB/s", config, result["messages"],
             elapsed, result["throughput"], result["mb_per_sec"])
    return result


def main():
    n, size = 1000, 256
    experiments = {
        "acks": [{"acks": a} for a in ("0", "1", "all")],
        "batch.size": [{"batch.size": b} for b in (16 * 1024, 32 * 1024, 64 * 1024)],
        "compression": [{"compression.type": c} for c in ("none", "snappy")],
    }
    rows = []
    for factor, configs in experiments.items():
        log.info("--- varying %s ---", factor)
        for config in configs:
            rows.append((factor, config, benchmark_producer(config, n, size)))

    log.info("%-12s %-28s %10s %8s %6s", "factor", "config", "msg/s", "MB/s", "errors")
    for factor, config, r in rows:
        setting = ", ".join(f"{k}={v}" for k, v in config.items())
        log.info("%-12s %-28s %10.0f %8.2f %6d", factor, setting, r["throughput"],
                 r["mb_per_sec"], r["errors"])


if __name__ == "__main__":
    main()
