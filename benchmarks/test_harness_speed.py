"""The harness's own speed: broker start (warm cache), topic create and delete, a new
group's first assignment, a cooperative rebalance when a second member joins, grading one
full submission, the whole ``pytest scenarios/`` run, ``kafka-lab grade`` of one full
submission and of six with ``-j 2``, and what a run's isolation adds to its start-up."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import time
from copy import copy as shallow_copy
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.backends.local import LocalBroker
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.grading.course import EXERCISE_FILES, course_dir
from pytest_kafka_lab.grading.sandbox import Sandbox
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.topics import TopicFactory, create_topic, delete_topics
from pytest_kafka_lab.waiting import wait_for

ROOT = Path(__file__).parent.parent


def test_broker_start_warm_cache(benchmark: Any, kafka_lab_config: LabConfig) -> None:
    benchmark.group = "harness"
    brokers: list[LocalBroker] = []

    def start() -> None:
        brokers.append(LocalBroker(kafka_lab_config).start())

    def stop_previous() -> None:
        for broker in brokers:
            broker.stop()

    try:
        benchmark.pedantic(start, setup=stop_previous, rounds=3, warmup_rounds=1,
                           iterations=1)
    finally:
        for broker in brokers:
            broker.stop()


def test_topic_create_and_delete(benchmark: Any, kafka_admin: AdminClient) -> None:
    benchmark.group = "harness"

    def create_and_delete() -> None:
        topic = unique_name("bench")
        create_topic(kafka_admin, topic, partitions=3)
        delete_topics(kafka_admin, [topic])

    benchmark.pedantic(create_and_delete, rounds=10, warmup_rounds=1, iterations=1)


class Member:
    """An in-process consumer whose owned partitions follow its callbacks."""

    def __init__(self, broker: KafkaBroker, group: str, topic: str) -> None:
        self.group = group
        self.owned: set[int] = set()
        self.consumer = Consumer(broker.client_config(**{
            "group.id": group, "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}))
        self.consumer.subscribe(
            [topic],
            on_assign=lambda _c, parts: self.owned.update(p.partition for p in parts),
            on_revoke=lambda _c, parts: self.owned.difference_update(p.partition for p in parts))

    def poll(self) -> None:
        self.consumer.poll(0.01)


def settle(members: list[Member], shares: list[int]) -> None:
    def settled() -> bool:
        for member in members:
            member.poll()
        return sorted(len(member.owned) for member in members) == shares

    wait_for(settled, 30, f"shares {shares}", lambda: [sorted(m.owned) for m in members])


def test_new_group_first_assignment(benchmark: Any, kafka_broker: KafkaBroker,
                                    kafka_topic_factory: TopicFactory) -> None:
    benchmark.group = "harness"
    topic = kafka_topic_factory(partitions=6)
    members: list[Member] = []

    def join() -> None:
        members.append(Member(kafka_broker, unique_name("bench"), topic))
        settle(members[-1:], [6])

    try:
        benchmark.pedantic(join, rounds=5, warmup_rounds=1, iterations=1)
    finally:
        for member in members:
            member.consumer.close()


def test_cooperative_rebalance_second_member(benchmark: Any, kafka_broker: KafkaBroker,
                                             kafka_topic_factory: TopicFactory) -> None:
    benchmark.group = "harness"
    topic = kafka_topic_factory(partitions=6)
    members: list[Member] = []

    def setup() -> None:
        for member in members:
            member.consumer.close()
        members.clear()
        members.append(Member(kafka_broker, unique_name("bench"), topic))
        settle(members, [6])

    def second_joins() -> None:
        members.append(Member(kafka_broker, members[0].group, topic))
        settle(members, [3, 3])

    try:
        benchmark.pedantic(second_joins, setup=setup, rounds=3, iterations=1)
    finally:
        for member in members:
            member.consumer.close()


def run_pytest(*args: str) -> float:
    started = time.perf_counter()
    finished = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *args], cwd=ROOT, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stdout[-3000:]
    return time.perf_counter() - started


def test_grading_one_full_submission(benchmark: Any, kafka_broker: KafkaBroker) -> None:
    """The reference solutions graded against the running broker (no broker start)."""
    benchmark.group = "grading"
    benchmark.pedantic(run_pytest, args=("scenarios", "--kafka-bootstrap",
                                         kafka_broker.bootstrap_servers), rounds=1, iterations=1)


def test_whole_scenario_suite(benchmark: Any) -> None:
    """``pytest scenarios/`` as a student runs it: its own broker, every exercise."""
    benchmark.group = "grading"
    benchmark.pedantic(run_pytest, args=("scenarios",), rounds=1, iterations=1)


# --- kafka-lab grade: a class -------------------------------------------------------------

KAFKA_LAB = Path(sys.executable).with_name("kafka-lab")


def copies_of_the_reference(root: Path, count: int) -> list[Path]:
    copies = [root / f"student-{number}" for number in range(1, count + 1)]
    for copy in copies:
        shutil.copytree(course_dir() / "reference", copy)
    return copies


def kafka_lab_grade(out: Path, *args: str | Path) -> float:
    """``kafka-lab grade ARGS`` as course staff run it (its brokers' start included);
    every submission must pass every exercise."""
    started = time.perf_counter()
    finished = subprocess.run([str(KAFKA_LAB), "grade", *map(str, args), "--out", str(out)],
                              capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    for grade in json.loads(out.with_suffix(".json").read_text()):
        statuses = {key: exercise["status"] for key, exercise in grade["exercises"].items()}
        assert statuses == dict.fromkeys(EXERCISE_FILES, "passed"), (
            grade["name"], statuses, grade.get("error"))
    return seconds


def test_grading_class_one_full_submission(benchmark: Any, tmp_path: Path) -> None:
    """``kafka-lab grade`` of one full submission (the reference, all six exercises)."""
    benchmark.group = "grading a class"
    (one,) = copies_of_the_reference(tmp_path, 1)
    benchmark.pedantic(kafka_lab_grade, args=(tmp_path / "book", one), rounds=1, iterations=1)


def test_grading_class_one_full_submission_split_with_j2(benchmark: Any, tmp_path: Path
                                                          ) -> None:
    """``kafka-lab grade -j 2`` of one full submission: its exercises split over two
    workers, each on a broker of its own (target: 15 s at most)."""
    benchmark.group = "grading a class"
    (one,) = copies_of_the_reference(tmp_path, 1)
    benchmark.pedantic(kafka_lab_grade, args=(tmp_path / "book", "-j", "2", one), rounds=1,
                       iterations=1)


def test_grading_class_six_with_j2(benchmark: Any, tmp_path: Path) -> None:
    """``kafka-lab grade -j 2`` of six copies of the reference: the target is at most 3.5
    times one submission's time."""
    benchmark.group = "grading a class"
    six = copies_of_the_reference(tmp_path, 6)
    benchmark.pedantic(kafka_lab_grade, args=(tmp_path / "book", "-j", "2", *six), rounds=1,
                       iterations=1)


def bare(sandbox: Sandbox, root: Path, layers: str) -> Sandbox:
    """``sandbox`` without the layers that cost a run its start-up: no PID namespace (and
    its supervisor), no cgroups; or, ``"every layer but its own user"``, without the
    unprivileged user alone (uid 0 without capabilities, no folders opened)."""
    weak = shallow_copy(sandbox)
    weak.root, weak.runs = root, 0
    root.mkdir()
    if layers == "every layer but its own user" and sandbox.layers.namespaces is not None:
        weak.layers = dataclasses.replace(sandbox.layers, namespaces=dataclasses.replace(
            sandbox.layers.namespaces, run_user=None))
    else:
        weak.layers = dataclasses.replace(sandbox.layers, namespaces=None, controllers=())
    return weak


@pytest.mark.parametrize("layers", ["every layer", "every layer but its own user",
                                    "without namespaces or cgroups"])
def test_trivial_run(benchmark: Any, lab_sandbox: Sandbox, tmp_path: Path,
                     layers: str) -> None:
    """A run of a script that does nothing, started and finished: the difference between
    the first and the last is what a run's isolation adds (issue 22: at most 0.5 s per
    exercise, of one to four runs); between the first two, what its own user adds."""
    benchmark.group = "run isolation"
    sandbox = lab_sandbox if layers == "every layer" else \
        bare(lab_sandbox, tmp_path / "bare", layers)
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "nothing.py").write_text("pass\n")

    def run() -> None:
        assert sandbox.start_script(folder, "nothing.py").finish(30).exit_code == 0

    benchmark.pedantic(run, rounds=20, warmup_rounds=2, iterations=1)
