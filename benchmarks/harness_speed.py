"""How fast the harness is: broker start (warm cache), topic create and delete, and a new
consumer group becoming stable. Run: ``python benchmarks/harness_speed.py [--rounds N]``.

Figures are wall-clock seconds on this machine: median and min over the rounds.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends.local import LocalBroker
from pytest_kafka_lab.config import build_config
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.topics import create_topic, delete_topics
from pytest_kafka_lab.waiting import wait_for


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def group_join(broker: LocalBroker, topic: str) -> float:
    """From a consumer's subscribe to its first assignment of every partition."""
    consumer = Consumer(broker.client_config(**{"group.id": unique_name("bench"),
                                                "auto.offset.reset": "earliest"}))
    assigned: list[int] = []
    started = time.perf_counter()
    consumer.subscribe(
        [topic], on_assign=lambda _c, parts: assigned.extend(p.partition for p in parts))

    def joined() -> bool:
        consumer.poll(0.01)
        return len(assigned) == 3

    wait_for(joined, 30, "the consumer's first assignment", lambda: assigned)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def report(name: str, samples: list[float]) -> None:
    print(f"{name:34} median {statistics.median(samples) * 1000:8.0f} ms   "
          f"min {min(samples) * 1000:8.0f} ms   ({len(samples)} rounds)")


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--rounds", type=int, default=5)
    options.add_argument("--cache-dir", type=Path, default=None)
    args = options.parse_args()
    rounds = args.rounds
    config = build_config({"cache_dir": args.cache_dir})

    starts = []
    for _ in range(rounds):
        broker = LocalBroker(config)
        starts.append(timed(broker.start))
        broker.stop()
    report("broker start (warm cache)", starts)

    with LocalBroker(config) as broker:
        admin = AdminClient(broker.client_config())
        creates, deletes, joins = [], [], []
        for _ in range(rounds):
            topic = unique_name("bench")
            creates.append(timed(functools.partial(create_topic, admin, topic, partitions=3)))
            joins.append(group_join(broker, topic))
            deletes.append(timed(functools.partial(delete_topics, admin, [topic])))
        report("topic create (3 partitions)", creates)
        report("topic delete", deletes)
        report("consumer group join (to assignment)", joins)


if __name__ == "__main__":
    main()
