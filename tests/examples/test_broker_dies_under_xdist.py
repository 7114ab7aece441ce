"""Inner run (``-n 1``): the first test SIGKILLs the controller's broker, the second needs
it after. A worker does not restart a broker the controller owns: both must fail with the
death. The first records the JVM ("pid create_time") in jvm.txt for the outer test."""

from pathlib import Path

import psutil

from pytest_kafka_lab.waiting import wait_for


def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_kills_the_broker(kafka_broker, kafka_admin):
    jvm = psutil.Process(kafka_broker.pid)
    assert "kafka.Kafka" in jvm.cmdline(), f"pid {jvm.pid} is not the broker JVM"
    (Path(__file__).parent / "jvm.txt").write_text(f"{jvm.pid} {jvm.create_time()}")
    jvm.kill()
    wait_for(lambda: gone(jvm.pid), 10, f"the broker JVM {jvm.pid} to die")
    kafka_admin.list_topics(timeout=3)


def test_needs_the_broker_after(kafka_broker):
    assert kafka_broker.bootstrap_servers
