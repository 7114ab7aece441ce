"""A student's loop (issue 21): ``kafka-lab check`` grades their folder and writes nothing
into it; a template's consumer is judged as soon as its run shows it cannot do what is
awaited, while a correct but slow one is waited for; the messages read as a person
writes them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.cli import check_output
from pytest_kafka_lab.grading.class_runner.console_summary import (
    console_summary,
    exercise_selection,
)
from pytest_kafka_lab.grading.consumer_evidence import subscriptions
from pytest_kafka_lab.grading.course import EXERCISE_FILES
from pytest_kafka_lab.grading.evidence import counted
from pytest_kafka_lab.grading.readings import section_of
from tests.test_grading_report import grade

ROOT = Path(__file__).parent.parent
SUBMISSIONS = Path(__file__).parent / "submissions"
REFERENCE = ROOT / "scenarios" / "reference"

# The reference's dead-letter consumer, made to stop only once poll() has waited 8 s in
# vain after its 100th message: correct, and idle in poll() well past the grader's calm.
SLOW_TO_STOP = (
    ("        while handled < MAX_MESSAGES:\n            msg = consumer.poll(timeout=1.0)\n"
     "            if msg is None:\n                continue\n",
     "        while True:\n            msg = consumer.poll(timeout=8.0)\n"
     "            if msg is None:\n                if handled >= MAX_MESSAGES:\n"
     "                    break\n                continue\n"),
)


def test_counts_and_topics_read_as_a_person_writes_them() -> None:
    assert counted(1, "message") == "1 message"
    assert counted(37, "message") == "37 messages"
    assert counted(1, "message was", "messages were") == "1 message was"
    events = [{"kind": "subscribe", "topics": ["orders"], "time": 0.0},
              {"kind": "subscribe", "topics": ["orders", "payments"], "time": 1.0}]
    assert subscriptions(events[:1]) == "'orders'"
    assert subscriptions(events) == "'orders' and 'payments'"
    assert subscriptions([]) == "nothing"


def test_the_feedback_quotes_what_the_grader_accepts_for_every_exercise() -> None:
    quoted = section_of((ROOT / "README.md").read_text())
    assert set(quoted) == set(EXERCISE_FILES)
    assert all(text and not text.startswith("#") for text in quoted.values()), quoted


def test_the_console_summary_shows_points_of_each_check_and_the_start_of_its_message(
) -> None:
    row = {"exercises": {"ex1": {"title": "producer basics", "status": "failed", "checks": [
        {"name": "flushes_before_exiting", "status": "failed", "points": 0, "max_points": 3,
         "message": "messages not flushed\n" + "\n".join(f"line {n}" for n in range(9))},
        {"name": "all_100_orders_arrive_exactly_once", "status": "passed", "points": 2}]},
        "ex2": {"title": "consumer", "status": "missing", "checks": [
            {"name": "x", "status": "missing", "message": "missing: no exercise_consumer.py"}]}}}
    text = console_summary(row, "/cache/FEEDBACK.md")
    assert "ex1 producer basics: failed, 2/5 points" in text
    assert "FAIL  flushes_before_exiting  0/3\n        messages not flushed\n" in text
    assert "line 1 [...]" in text
    assert "line 2" not in text
    assert "ok    all_100_orders_arrive_exactly_once  2/2" in text
    assert "not graded: this exercise's files are absent (no exercise_consumer.py)" in text
    assert "Total: 2/6 points" in text
    assert text.rstrip().endswith("/cache/FEEDBACK.md")
    assert exercise_selection(["ex2", "ex1"]) == ("-k", "test_ex1_ or test_ex2_")
    assert exercise_selection(None) == ()


def test_a_template_consumer_is_judged_once_idle_and_told_in_plain_words(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    folder = tmp_path / "student"
    folder.mkdir()
    # ex2's template (no auto.offset.reset: it starts at the end and reads nothing);
    # the course's ex5 solution (its UnboundLocalError after the first message).
    shutil.copy(SUBMISSIONS / "template" / "exercise_consumer.py", folder)
    shutil.copy(SUBMISSIONS / "course" / "exercise_dlq.py", folder)
    report, _ = grade(folder, kafka_broker.bootstrap_servers, tmp_path)
    ex2 = {check["name"]: check["message"] for check in report["exercises"]["ex2"]["checks"]}
    joins = ex2["joins_order_processor_from_the_earliest_offset"]
    assert "subscribed to 'orders':" in joins, joins
    assert "auto.offset.reset='latest'" not in joins, joins  # it was unset, and said so
    assert joins.count("no auto.offset.reset (librdkafka's default is latest)") == 2, joins
    # Both waits ended on the run's own evidence (at the end of every partition, nothing
    # in hand, idle), not at the deadline.
    for name in ("processes_every_order_before_ctrl_c", "survives_a_broker_reported_error"):
        assert "The harness stopped waiting for the consumer to receive" in ex2[name], ex2[name]
        assert "in vain" not in ex2[name], ex2[name]
    stops = next(check["message"] for check in report["exercises"]["ex5"]["checks"]
                 if check["name"] == "stops_after_100_messages")
    assert "the consumer received 1 message and main() ended" in stops, stops


def test_kafka_lab_check_grades_a_slow_but_correct_consumer_and_writes_nothing_there(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    folder = tmp_path / "student"
    folder.mkdir()
    source = (REFERENCE / "exercise_dlq.py").read_text()
    for old, new in SLOW_TO_STOP:
        assert old in source
        source = source.replace(old, new)
    (folder / "exercise_dlq.py").write_text(source)
    shutil.copy(REFERENCE / "exercise_producer.py", folder)  # present, and not checked
    reports = tmp_path / "reports"
    finished = subprocess.run(
        [sys.executable, "-m", "pytest_kafka_lab.cli", "check", "5", "--output", str(reports)],
        cwd=folder, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "KAFKA_LAB_BOOTSTRAP": kafka_broker.bootstrap_servers},
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output
    assert "ex5 dead letter queue: passed, 12/12 points" in output, output
    assert "ok    stops_after_100_messages  1/1" in output, output
    assert "ex1" not in output.split("Gradebook:")[-1], output  # ex1 was not asked for
    assert f"Full feedback (every message whole, and what the grader accepts): " \
           f"{reports / 'FEEDBACK.md'}" in output, output
    assert (reports / "FEEDBACK.md").exists()
    assert sorted(path.name for path in folder.iterdir()) == [
        "exercise_dlq.py", "exercise_producer.py"]
    default = check_output(Path("/cache"), folder)
    assert default.parent == Path("/cache/check")
    assert default.name.startswith("student-")
