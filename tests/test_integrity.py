"""Evidence that disagrees: a run that rewrites what its instrumentation reports of its
consumers is caught by what its requests carried, and an honest run is not."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.grading.integrity import contradictions
from pytest_kafka_lab.grading.sandbox import Run, Sandbox
from pytest_kafka_lab.topics import create_topic, delete_topics

# A consumer that joins its group with librdkafka's default assignors (range and
# roundrobin) and starts a new group where RESET says, and, where FORGE is set, reports
# itself otherwise (as the course asks: a member of the course's group that offers
# cooperative-sticky and reads from the earliest offset).
CONSUMER = """
    from confluent_kafka import Consumer

    FORGE = {forge}
    if FORGE:
        from kafka_lab_inside import instrument

        honest = instrument.emit

        def emit(kind, **fields):
            if kind == "client":
                fields["config"] = dict(fields["config"], **FORGE)
            return honest(kind, **fields)

        instrument.emit = emit

    consumer = Consumer({{"bootstrap.servers": "localhost:9092", "group.id": "{group}",
                         "auto.offset.reset": "{reset}"}})
    consumer.subscribe(["{topic}"])
    for _ in range(60):
        consumer.poll(0.5)
        if consumer.assignment():
            break
    consumer.close()
"""


@pytest.fixture
def lab_topic(lab_admin: AdminClient, kafka_unique_name: Callable[[], str]) -> Iterator[str]:
    """A topic on the broker the sandbox's runs reach (under xdist, a worker's own)."""
    name = create_topic(lab_admin, kafka_unique_name())
    yield name
    delete_topics(lab_admin, [name])


def consumer_run(sandbox: Sandbox, tmp_path: Path, topic: str, group: str,
                 forge: dict[str, str] | None, reset: str) -> Run:
    folder = tmp_path / ("attack" if forge else "control")
    folder.mkdir()
    source = CONSUMER.format(forge=forge or None, group=group, topic=topic, reset=reset)
    (folder / "consume.py").write_text(textwrap.dedent(source))
    run = sandbox.start_script(folder, "consume.py").finish(60)
    assert run.exit_code == 0, run.stderr
    return run


@pytest.mark.parametrize(("reset", "forged", "contradicted"), [
    ("latest", {"auto.offset.reset": "earliest"},
     "auto.offset.reset=earliest, but it asked the broker for the latest offsets only"),
    ("earliest", {"partition.assignment.strategy": "cooperative-sticky"},
     "partition.assignment.strategy=cooperative-sticky, but it offered its group "
     "range,roundrobin"),
    ("earliest", {"group.id": "order-processor"},
     "group.id='order-processor', but its group requests named"),
    ("earliest", {"group.protocol": "consumer"},
     "group.protocol=consumer, but it joined its group with JoinGroup"),
])
def test_a_consumer_reported_otherwise_than_it_joined_is_contradicted(
    lab_sandbox: Sandbox, lab_topic: str, kafka_unique_name: Callable[[], str],
    tmp_path: Path, reset: str, forged: dict[str, str], contradicted: str,
) -> None:
    control = consumer_run(lab_sandbox, tmp_path, lab_topic, kafka_unique_name(), None, reset)
    attack = consumer_run(lab_sandbox, tmp_path, lab_topic, kafka_unique_name(), forged, reset)
    assert control.witnessed
    assert contradictions(control) == []
    [config] = attack.client_configs("consumer")
    assert all(config[name] == value for name, value in forged.items())  # the forgery held
    assert any(contradicted in problem for problem in contradictions(attack)), \
        contradictions(attack)
