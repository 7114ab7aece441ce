"""Exercise 6 - producer benchmark.

Compare producer throughput on the topic ``benchmark-topic``:

1. acks: 0 vs 1 vs all
2. batch.size: 16 KB vs 32 KB vs 64 KB
3. with vs without compression

benchmark_producer() is complete: use it from main() and print a comparison table.
"""

import json
import time

from confluent_kafka import Producer


def benchmark_producer(config, num_messages=10000, message_size=100):
    """Send num_messages messages with the given producer config and measure throughput."""
    producer = Producer(config)
    message = json.dumps({'data': 'x' * message_size}).encode()

    errors = []

    def delivery_report(err, msg):
        if err:
            errors.append(err)

    start_time = time.time()

    for i in range(num_messages):  # noqa: B007 - the course's code as handed out
        producer.produce('benchmark-topic', value=message, callback=delivery_report)
        producer.poll(0)

    producer.flush()
    duration = time.time() - start_time

    return {
        'duration': duration,
        'messages': num_messages,
        'errors': len(errors),
        'throughput': num_messages / duration,
        'mb_per_sec': (num_messages * len(message)) / duration / 1024 / 1024,
    }


def main():
    base_config = {'bootstrap.servers': 'localhost:9092'}  # noqa: F841 - for your configs

    # TODO: Test different acks settings (0, 1, all)

    # TODO: Test different batch sizes (16384, 32768, 65536)

    # TODO: Test with and without compression

    # TODO: Print a comparison table
    print("TODO: run the benchmarks")


if __name__ == "__main__":
    main()
