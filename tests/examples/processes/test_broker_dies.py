"""Inner run: the broker is SIGKILLed during the second test; the third needs a broker.

Each test that had a broker records its JVM (jvm-<test>.txt, "pid create_time") and its
address (bootstrap-<test>.txt) for the outer test.
"""

import os
import signal
from pathlib import Path

import psutil

from pytest_kafka_lab.waiting import wait_for

HERE = Path(__file__).parent


def record(name, broker):
    jvm = psutil.Process(broker.pid)
    assert "kafka.Kafka" in jvm.cmdline(), f"pid {broker.pid} is not the broker JVM"
    (HERE / f"jvm-{name}.txt").write_text(f"{jvm.pid} {jvm.create_time()}")
    (HERE / f"bootstrap-{name}.txt").write_text(broker.bootstrap_servers)


def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_uses_the_broker(kafka_broker, kafka_admin):
    assert kafka_admin.list_topics(timeout=10).brokers
    record("first", kafka_broker)


def test_the_broker_dies(kafka_broker, kafka_admin):
    pid = kafka_broker.pid
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), 10, f"the broker JVM {pid} to die")
    # Nobody answers any more: this raises.
    kafka_admin.list_topics(timeout=3)


def test_gets_a_fresh_broker(kafka_broker, kafka_admin):
    # kafka_admin (session-scoped) follows the fresh broker too.
    assert kafka_admin.list_topics(timeout=10).brokers
    record("third", kafka_broker)
