"""Exercise 3 - scaling consumer: run 1, 2, ... copies and watch the rebalances."""

import logging
import os

from confluent_kafka import Consumer

log = logging.getLogger(f"consumer-{os.getpid()}")

CONFIG = {
    "bootstrap.servers": "localhost:9092",
    "group.id": "scaling-demo",
    "auto.offset.reset": "latest",
    "partition.assignment.strategy": "cooperative-sticky",
}


def partition_numbers(partitions):
    return sorted(p.partition for p in partitions)


def on_assign(consumer, partitions):
    log.info("ASSIGNED %s", partition_numbers(partitions))


def on_revoke(consumer, partitions):
    log.warning("REVOKED %s", partition_numbers(partitions))


def on_lost(consumer, partitions):
    log.error("LOST %s", partition_numbers(partitions))


def main():
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s [%(name)s] %(levelname)s %(message)s")
    consumer = Consumer(CONFIG)
    consumer.subscribe(["high-volume"], on_assign=on_assign, on_revoke=on_revoke,
                       on_lost=on_lost)
    seen = 0
    try:
        while True:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                log.error("consumer error: %s", msg.error())
                continue
            seen += 1
            log.debug("p%d@%d key=%s", msg.partition(), msg.offset(), msg.key())
            if seen % 500 == 0:
                log.info("consumed %d so far, assignment %s", seen,
                         partition_numbers(consumer.assignment()))
    except KeyboardInterrupt:
        log.info("Ctrl-C, leaving the group")
    finally:
        consumer.close()
        log.info("closed after %d messages", seen)


if __name__ == "__main__":
    main()
