"""Exercise 2 - consumer with manual commits (logs instead of prints)."""

import json
import logging
import time

from confluent_kafka import Consumer, KafkaError

log = logging.getLogger("orders.consumer")

COMMIT_EVERY = 10


def process_order(order: dict):
    log.info("order %s from %s: %s x %s", order["order_id"], order["customer_id"],
             order["quantity"], order["product"])


def main():
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    conf = {
        "bootstrap.servers": "localhost:9092",
        "group.id": "order-processor",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }
    consumer = Consumer(conf)
    consumer.subscribe(["orders"])
    log.info("subscribed to orders as %s", conf["group.id"])

    total = 0
    pending = 0
    start = time.perf_counter()
    try:
        while True:
            msg = consumer.poll(timeout=1.0)
            if msg is None:
                continue
            err = msg.error()
            if err:
                if err.code() == KafkaError._PARTITION_EOF:
                    log.debug("end of partition %d", msg.partition())
                else:
                    log.error("consumer error: %s", err)
                continue

            key = msg.key().decode("utf-8") if msg.key() else None
            value = msg.value().decode("utf-8")
            log.debug("got %s from partition %d", key, msg.partition())
            process_order(json.loads(value))
            total += 1
            pending += 1

            if pending >= COMMIT_EVERY:
                consumer.commit(asynchronous=False)
                log.info("committed (%d so far)", total)
                pending = 0
    except KeyboardInterrupt:
        log.warning("interrupted by user")
    finally:
        if pending:
            consumer.commit(asynchronous=False)
            log.info("final commit of %d pending orders", pending)
        consumer.close()
        elapsed = time.perf_counter() - start
        log.info("processed %d orders in %.1fs", total, elapsed)


if __name__ == "__main__":
    main()
