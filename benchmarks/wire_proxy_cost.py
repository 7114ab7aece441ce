"""What the grader's recording proxy costs a producer: 54,000 messages of 112 bytes
(acks=all, linger.ms=5) straight to the broker, then through the proxy, on one broker.
Run from the project's root: ``python -m benchmarks.wire_proxy_cost [rounds]``.

The broker gets a second listener advertising the proxy, as in grading; each round
measures both paths on fresh topics, alternating which goes first, and the best round of
each is reported (the machine's noise only ever slows a round down). The producer runs in
a process of its own, as a student's code does when graded: in this one, its loop would
hold the GIL that the proxy's thread needs.
"""

from __future__ import annotations

import multiprocessing
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from benchmarks.throughput import Round, produce_loop
from pytest_kafka_lab.backends.base import free_port
from pytest_kafka_lab.backends.local import LocalBroker
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.grading.wire.proxy import BROKER_WIDE, WireProxy
from pytest_kafka_lab.topics import create_topic

MESSAGES = 54_000
SIZE = 112
WARM_UP = 20_000


def measure(bootstrap: str, topic: str, count: int) -> Round:
    """In the producer's process: ``count`` messages to ``topic``, timed to the flush."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    return produce_loop(producer, topic, count, bytes(SIZE))


def run(producers: ProcessPoolExecutor, bootstrap: str, admin: AdminClient,
        count: int) -> Round:
    topic = create_topic(admin, f"wire-cost-{uuid.uuid4().hex[:8]}")
    return producers.submit(measure, bootstrap, topic, count).result(120)


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    proxy = WireProxy(refuse=BROKER_WIDE)
    runs_port = free_port()
    # As the throughput benchmarks do: a broker with C2, as production runs one.
    broker = LocalBroker(LabConfig(jit="full"),
                         extra_listeners={"RUNS": (runs_port, proxy.address)})
    broker.start()
    producers = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        proxy.upstream = f"127.0.0.1:{runs_port}"
        proxy.start()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        paths = {"direct": broker.bootstrap_servers, "proxy": proxy.address}
        for bootstrap in paths.values():
            run(producers, bootstrap, admin, WARM_UP)
        best: dict[str, Round] = {}
        for number in range(rounds):
            order = list(paths) if number % 2 == 0 else list(reversed(paths))
            for path in order:
                measured = run(producers, paths[path], admin, MESSAGES)
                print(f"round {number + 1} {path:6} {measured.messages_per_second:10,.0f} msg/s"
                      f"  {measured.mb_per_second:6.2f} MB/s  ({measured.seconds:.3f} s)")
                if path not in best or measured.seconds < best[path].seconds:
                    best[path] = measured
        proxy.sync()
        produced = proxy.log.exchanges("Produce")
        records = sum(batch["record_count"] for item in produced
                      for data in item.request["topic_data"]
                      for partition in data["partition_data"]
                      for batch in partition["records"] or ())
        errors = sum(1 for item in proxy.log.exchanges() if item.error)
    finally:
        producers.shutdown()
        proxy.stop()
        broker.stop()
    direct, proxied = best["direct"], best["proxy"]
    print(f"{MESSAGES:,} messages of {SIZE} bytes, acks=all, linger.ms=5; best of {rounds}:")
    print(f"  direct      {direct.messages_per_second:10,.0f} msg/s  "
          f"{direct.mb_per_second:6.2f} MB/s")
    print(f"  via proxy   {proxied.messages_per_second:10,.0f} msg/s  "
          f"{proxied.mb_per_second:6.2f} MB/s  "
          f"({proxied.messages_per_second / direct.messages_per_second:.0%} of direct)")
    print(f"  the proxy recorded {len(produced):,} Produce requests carrying {records:,} "
          f"records; {errors} exchanges undecoded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
