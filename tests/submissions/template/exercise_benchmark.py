"""Exercise 6 - producer benchmark.

Measure throughput for acks 0/1/all, batch.size 16/32/64 KB, with and without
compression, on the topic ``benchmark-topic``.
"""

import time  # noqa: F401 - you will need it

from confluent_kafka import Producer  # noqa: F401 - you will need it

TOPIC = "benchmark-topic"


def benchmark_producer(config: dict, num_messages: int, message_size: int) -> dict:
    """Send num_messages messages of message_size bytes with config; return the figures.

    The result holds duration, messages, errors, throughput (messages per second) and
    mb_per_sec.
    """
    # TODO: create a producer with config, start the clock, produce the messages,
    #       flush, stop the clock, return the figures
    pass


def main():
    # TODO: run benchmark_producer for every combination of acks, batch.size and
    #       compression.type, then print a comparison table
    print("TODO: run the benchmarks")


if __name__ == "__main__":
    main()
