"""Inner run under ``pytest -n 2``: four tests, each with its own topic, each recording
its worker, topic, broker address and the broker JVMs it can see."""

import json
import os
from pathlib import Path

import psutil
import pytest

from pytest_kafka_lab.readers import read_topic

RECORDS = Path(__file__).parent / "records"


def kafka_jvms_under(process):
    return [child for child in process.children(recursive=True)
            if "kafka.Kafka" in child.cmdline()]


@pytest.mark.parametrize("n", range(4))
def test_a_topic_of_its_own(n, kafka_broker, kafka_topic, kafka_producer):
    kafka_producer.produce(kafka_topic, f"message {n}".encode())
    kafka_producer.flush()
    assert [r.value for r in read_topic(kafka_broker, kafka_topic)] == [f"message {n}".encode()]
    controller = psutil.Process().parent()
    RECORDS.mkdir(exist_ok=True)
    (RECORDS / f"{n}.json").write_text(json.dumps({
        "worker": os.environ.get("PYTEST_XDIST_WORKER"),
        "topic": kafka_topic,
        "bootstrap": kafka_broker.bootstrap_servers,
        "controller": controller.pid,
        "jvms_under_controller": [[p.pid, p.create_time()] for p in kafka_jvms_under(controller)],
        "jvms_under_worker": [p.pid for p in kafka_jvms_under(psutil.Process())],
    }))
