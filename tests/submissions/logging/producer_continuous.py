"""Exercise 3 - continuous producer for the consumer scaling demo (Ctrl-C to stop)."""

import json
import logging
import time

from confluent_kafka import Producer

log = logging.getLogger("producer_continuous")

TOPIC = "high-volume"


def on_delivery(err, msg):
    if err:
        log.error("delivery to %s failed: %s", msg.topic(), err)


def main():
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    producer = Producer({"bootstrap.servers": "localhost:9092"})
    count = 0
    started = time.perf_counter()
    log.info("sending to %s, Ctrl-C to stop", TOPIC)
    try:
        while True:
            key = str(count % 6)
            value = json.dumps({"n": count, "at": time.time()})
            producer.produce(TOPIC, key=key, value=value, callback=on_delivery)
            producer.poll(0)
            count += 1
            if count % 250 == 0:
                rate = count / (time.perf_counter() - started)
                log.info("sent %d messages (%.0f msg/s)", count, rate)
            time.sleep(0.005)
    except KeyboardInterrupt:
        log.info("interrupted")
    finally:
        left = producer.flush(10)
        log.info("sent %d messages in total, %d undelivered", count, left)


if __name__ == "__main__":
    main()
