"""Exercise 6 - producer benchmark.

Compare producer throughput on the topic ``benchmark-topic``:

1. acks: 0 vs 1 vs all
2. batch.size: 16 KB vs 32 KB vs 64 KB
3. with vs without compression
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
    base_config = {'bootstrap.servers': 'localhost:9092'}
    num_messages = 2000
    message_size = 100
    results = []

    # 1. acks: 0 vs 1 vs all
    for acks in ['0', '1', 'all']:
        config = {**base_config, 'acks': acks}
        results.append((f'acks={acks}', benchmark_producer(config, num_messages, message_size)))

    # 2. batch.size: 16 KB vs 32 KB vs 64 KB
    for batch_size in [16384, 32768, 65536]:
        config = {**base_config, 'batch.size': batch_size}
        results.append((f'batch.size={batch_size}',
                        benchmark_producer(config, num_messages, message_size)))

    # 3. with vs without compression
    for compression in ['none', 'lz4']:
        config = {**base_config, 'compression.type': compression}
        results.append((f'compression={compression}',
                        benchmark_producer(config, num_messages, message_size)))

    print(f"\n{'Configuration':<22} {'Msgs/sec':>10} {'MB/sec':>8} {'Errors':>6}")
    print('-' * 50)
    for name, result in results:
        print(f"{name:<22} {result['throughput']:>10.0f} {result['mb_per_sec']:>8.2f} "
              f"{result['errors']:>6}")


if __name__ == "__main__":
    main()
