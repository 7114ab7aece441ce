"""Exercise 6 - producer benchmark, the configurations measured by a process pool.

``main()`` hands the 18 configurations (acks x batch.size x compression) to a
``multiprocessing.Pool`` of two workers. A ``multiprocessing.Lock`` shared with the
workers lets one measure at a time, so two benchmarks never share the broker and the
figures stay honest; the pool still saves starting a producer process per run.
"""

import itertools
import json
import multiprocessing
import time

from confluent_kafka import Producer

TOPIC = "benchmark-topic"
ACKS = ["0", "1", "all"]
BATCH_SIZES = [16384, 32768, 65536]
COMPRESSIONS = ["none", "snappy"]
NUM_MESSAGES = 2000
MESSAGE_SIZE = 500

_measure_lock = None


def benchmark_producer(config: dict, num_messages: int, message_size: int) -> dict:
    producer = Producer({"bootstrap.servers": "localhost:9092", **config})
    errors = 0
    delivered = 0

    def on_delivery(err, msg):
        nonlocal errors, delivered
        if err is not None:
            errors += 1
        else:
            delivered += 1

    value = json.dumps({"data": "x" * message_size}).encode()
    start = time.time()
    for _ in range(num_messages):
        while True:
            try:
                producer.produce(TOPIC, value=value, callback=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(60)
    duration = time.time() - start
    return {
        "duration": duration,
        "messages": delivered,
        "errors": errors,
        "throughput": delivered / duration,
        "mb_per_sec": delivered * len(value) / duration / (1024 * 1024),
    }


def _share_lock(lock):
    global _measure_lock
    _measure_lock = lock


def _measure(config):
    with _measure_lock:
        return config, benchmark_producer(config, NUM_MESSAGES, MESSAGE_SIZE)


def configurations():
    for acks, batch_size, compression in itertools.product(ACKS, BATCH_SIZES, COMPRESSIONS):
        yield {"acks": acks, "batch.size": batch_size, "compression.type": compression}


def main():
    lock = multiprocessing.Lock()
    with multiprocessing.Pool(2, initializer=_share_lock, initargs=(lock,)) as pool:
        results = pool.map(_measure, list(configurations()))
        pool.close()
        pool.join()
    print(f"{'acks':<5} {'batch.size':>10} {'compression':<11} {'msg/s':>10} {'MB/s':>8}")
    for config, result in results:
        print(f"{config['acks']:<5} {config['batch.size']:>10} "
              f"{config['compression.type']:<11} {result['throughput']:>10.0f} "
              f"{result['mb_per_sec']:>8.2f}")


if __name__ == "__main__":
    main()
