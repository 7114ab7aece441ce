"""Reports for course platforms, read from real gradings of exercise 1: Gradescope's
``results.json``, GitHub Classroom's grader result, pytest's JUnit XML, the student's
feedback and the course's points per check. Each JSON format is validated against a schema
written here from the platform's documented fields:

- Gradescope: https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output
  format": top-level and per-test fields, visibility values, output formats, and a test's
  status "passed" or "failed");
- GitHub Classroom: the result object its graders (``autograding-command-grader``,
  ``-io-grader``, ``-python-grader``) give as the base64 step output ``result``, which
  ``autograding-grading-reporter`` decodes and reads.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from pytest_kafka_lab.grading.platforms import (
    README_SECTION,
    classroom_output,
    classroom_result,
    feedback_markdown,
    github_anchor,
    gradescope_results,
    readme_link,
)
from pytest_kafka_lab.grading.report import (
    Check,
    Exercise,
    Grade,
    read_points,
    unknown_points,
    without_grader_frames,
)
from pytest_kafka_lab.grading.sandbox.isolation import Isolation

ROOT = Path(__file__).parent.parent
EX1 = ROOT / "scenarios" / "test_ex1_producer.py"
REFERENCE = ROOT / "scenarios" / "reference"
EX1_CHECKS = 10  # the checks of scenarios/test_ex1_producer.py
# Two checks weigh more than the default point: 10 - 2 + 3 + 2 points in all.
POINTS = "[ex1]\nflushes_before_exiting = 3\nall_100_orders_arrive_exactly_once = 2\n"
EX1_MAX = EX1_CHECKS - 2 + 3 + 2
BASE_URL = "https://example.org/pytest-kafka-lab/blob/v0.1.0"
VISIBILITY = ["hidden", "after_due_date", "after_published", "visible"]
FORMATS = ["text", "html", "simple_format", "md", "ansi"]

GRADESCOPE_TEST = {
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "max_score": {"type": "number"},
        "status": {"enum": ["passed", "failed"]},
        "name": {"type": "string"},
        "name_format": {"enum": FORMATS},
        "number": {"type": "string"},
        "output": {"type": "string"},
        "output_format": {"enum": FORMATS},
        "tags": {"type": "array", "items": {"type": "string"}},
        "visibility": {"enum": VISIBILITY},
        "extra_data": {"type": "object"},
    },
    # What the issue asks of each test, beyond Gradescope's all-optional fields.
    "required": ["name", "score", "max_score", "status", "output", "visibility"],
    "additionalProperties": False,
}
GRADESCOPE_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": {"enum": FORMATS},
        "test_output_format": {"enum": FORMATS},
        "test_name_format": {"enum": FORMATS},
        "visibility": {"enum": VISIBILITY},
        "stdout_visibility": {"enum": VISIBILITY},
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": GRADESCOPE_TEST},
        "leaderboard": {"type": "array"},
    },
    "required": ["score", "tests"],
    "additionalProperties": False,
}
CLASSROOM_STATUS = {"enum": ["pass", "fail", "error"]}
CLASSROOM_SCHEMA = {
    "type": "object",
    "properties": {
        "version": {"const": 1},
        "status": CLASSROOM_STATUS,
        "max_score": {"type": "number"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "status": CLASSROOM_STATUS,
                "message": {"type": ["string", "null"]},
                "test_code": {"type": "string"},
                "filename": {"type": "string"},
                "line_no": {"type": "integer"},
                "duration": {"type": "number"},
                "score": {"type": "number"},
            },
            "required": ["name", "status", "message", "test_code", "filename", "line_no",
                         "duration", "score"],
            "additionalProperties": False,
        }},
    },
    "required": ["version", "status", "max_score", "tests"],
    "additionalProperties": False,
}
# The JSON report (--lab-report), as the README documents it, with its points.
REPORT_SCHEMA = {
    "type": "object",
    "properties": {
        "submission": {"type": "string"},
        "points": {"type": "integer"},
        "max_points": {"type": "integer"},
        "isolation": {"type": "object", "properties": {
            "in_force": {"type": "array", "items": {"type": "string"}},
            "refused": {"type": "object", "additionalProperties": {"type": "string"}},
        }, "required": ["in_force", "refused"]},
        "exercises": {"type": "object", "additionalProperties": {
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "status": {"enum": ["passed", "failed", "error", "missing"]},
                "points": {"type": "integer"},
                "max_points": {"type": "integer"},
                "checks": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "status": {"enum": ["passed", "failed", "error", "missing"]},
                        "message": {"type": "string"},
                        "points": {"type": "integer", "minimum": 1},
                        "duration": {"type": "number"},
                    },
                    "required": ["name", "status", "message", "points"],
                }},
            },
            "required": ["title", "status", "points", "max_points", "checks"],
        }},
    },
    "required": ["submission", "points", "max_points", "exercises"],
}


@dataclass
class Graded:
    """One ``pytest scenarios/test_ex1_producer.py`` grading and the files it wrote."""

    finished: subprocess.CompletedProcess[str]
    folder: Path

    def read(self, name: str) -> str:
        path = self.folder / name
        assert path.exists(), (f"{name} was not written:\n{self.finished.stdout[-3000:]}"
                               f"{self.finished.stderr[-2000:]}")
        return path.read_text()

    def json(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self.read(name)))

    def junit_properties(self) -> dict[str, dict[str, str]]:
        """{test name: {property: value}} of the JUnit XML."""
        root = ET.fromstring(self.read("junit.xml"))
        return {case.get("name", ""): {p.get("name", ""): p.get("value", "")
                                       for p in case.iter("property")}
                for case in root.iter("testcase")}


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pytest`` on ex1 in one process (the scenarios spread over the cores unless told),
    or as ``args`` say (a later ``-n`` wins)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(EX1), "-p", "no:cacheprovider", "-q", "-n", "0",
         *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(folder / "summary.md")},
    )


def grade_ex1(submission: Path, folder: Path, *args: str) -> Graded:
    """Grade ``submission``'s ex1 with every output, and the course's points."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "points.toml").write_text(POINTS)
    outputs = {"--lab-report": "report.json", "--lab-gradescope": "results.json",
               "--lab-classroom": "classroom.json", "--lab-feedback": "feedback.md",
               "--junitxml": "junit.xml"}
    paths = [arg for option, name in outputs.items() for arg in (option, str(folder / name))]
    finished = run_pytest(folder, "--lab-submission", str(submission), "--lab-points",
                          str(folder / "points.toml"), *paths, *args)
    return Graded(finished, folder)


def broken_copy(folder: Path, old: str, new: str) -> Path:
    """The reference ex1 with ``old`` replaced by ``new``."""
    folder.mkdir(parents=True)
    source = (REFERENCE / "exercise_producer.py").read_text()
    assert old in source
    (folder / "exercise_producer.py").write_text(source.replace(old, new))
    return folder


# A delivery callback that compiles a broken line: the syntax error surfaces from inside
# the grader's instrumentation (its flush() and callback wrappers), whose frames the raw
# message carries and a student must not be shown.
CRASHING = '''"""A producer whose delivery callback compiles a broken line of code."""
from confluent_kafka import Producer


def delivery_callback(err, msg):
    compile("total = (", "orders_report.py", "exec")


def create_order(order_id):
    return {"order_id": f"ORD-{order_id:05d}"}


def main():
    producer = Producer({"bootstrap.servers": "localhost:9092"})
    producer.produce("orders", key=b"CUST-001", value=b"{}", on_delivery=delivery_callback)
    producer.flush(10)


if __name__ == "__main__":
    main()
'''


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    return grade_ex1(REFERENCE, tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="module")
def unflushed_submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Without its flush the producer exits with the orders still queued: nothing arrives.
    return broken_copy(tmp_path_factory.mktemp("unflushed") / "submission",
                       "remaining = producer.flush(30)", "remaining = len(producer)")


@pytest.fixture(scope="module")
def unflushed(unflushed_submission: Path, tmp_path_factory: pytest.TempPathFactory) -> Graded:
    return grade_ex1(unflushed_submission, tmp_path_factory.mktemp("unflushed-serial"))


@pytest.fixture(scope="module")
def unflushed_xdist(unflushed_submission: Path,
                    tmp_path_factory: pytest.TempPathFactory) -> Graded:
    return grade_ex1(unflushed_submission, tmp_path_factory.mktemp("unflushed-xdist"),
                     "-n", "2", "--lab-feedback-base-url", BASE_URL)


@pytest.fixture(scope="module")
def crashing(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    submission = tmp_path_factory.mktemp("crashing") / "submission"
    submission.mkdir()
    (submission / "exercise_producer.py").write_text(CRASHING)
    return grade_ex1(submission, tmp_path_factory.mktemp("crashing-graded"))


def by_check(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {test["name"].removeprefix("ex1 producer basics: "): test
            for test in results["tests"]}


# --- Gradescope ---------------------------------------------------------------------------


def test_gradescope_results_of_a_passing_and_a_failing_submission(
    reference: Graded, unflushed: Graded
) -> None:
    passing, failing = reference.json("results.json"), unflushed.json("results.json")
    for results in (passing, failing):
        jsonschema.validate(results, GRADESCOPE_SCHEMA)
        assert len(results["tests"]) == EX1_CHECKS
        assert results["score"] == sum(test["score"] for test in results["tests"])
        assert sum(test["max_score"] for test in results["tests"]) == EX1_MAX
        assert {test["visibility"] for test in results["tests"]} == {"visible"}
        assert sorted(test["number"] for test in results["tests"]) == sorted(
            f"1.{n}" for n in range(1, EX1_CHECKS + 1))
    assert passing["score"] == EX1_MAX
    assert {test["status"] for test in passing["tests"]} == {"passed"}
    checks = by_check(failing)
    flush = checks["flushes_before_exiting"]
    assert (flush["status"], flush["score"], flush["max_score"]) == ("failed", 0, 3)
    assert "flush()" in flush["output"]
    assert failing["score"] < EX1_MAX
    report = unflushed.json("report.json")
    assert failing["score"] == report["points"]


# --- GitHub Classroom ----------------------------------------------------------------------


def test_classroom_result_and_its_base64_step_output(reference: Graded,
                                                    unflushed: Graded) -> None:
    # A lost point is the student's grade, never a failed job: both are "pass".
    for graded, status in ((reference, "pass"), (unflushed, "pass")):
        result = graded.json("classroom.json")
        jsonschema.validate(result, CLASSROOM_SCHEMA)
        encoded = graded.read("classroom.json.b64")
        assert encoded.count("\n") == 1, "one line, for $GITHUB_OUTPUT"
        # The reporter: JSON.parse(Buffer.from(RESULTS, "base64").toString("utf-8")).
        assert json.loads(base64.b64decode(encoded.strip()).decode("utf-8")) == result
        assert result["status"] == status
        assert result["max_score"] == EX1_MAX
        assert {test["filename"] for test in result["tests"]} == {"exercise_producer.py"}
    passing = reference.json("classroom.json")
    assert sum(test["score"] for test in passing["tests"]) == EX1_MAX
    assert all(test["message"] is None for test in passing["tests"])
    failing = {test["name"]: test for test in unflushed.json("classroom.json")["tests"]}
    flush = failing["ex1 producer basics: flushes_before_exiting"]
    assert (flush["status"], flush["score"]) == ("fail", 0)
    assert "flush()" in flush["message"]


# --- points ----------------------------------------------------------------------------------


def test_the_points_file_sets_each_checks_points_in_every_report(
    reference: Graded, unflushed: Graded
) -> None:
    report = reference.json("report.json")
    jsonschema.validate(report, REPORT_SCHEMA)
    points = {c["name"]: c["points"] for c in report["exercises"]["ex1"]["checks"]}
    assert points["flushes_before_exiting"] == 3
    assert points["all_100_orders_arrive_exactly_once"] == 2
    assert sorted(points.values()).count(1) == EX1_CHECKS - 2
    assert report["exercises"]["ex1"]["max_points"] == report["max_points"] == EX1_MAX
    assert report["points"] == EX1_MAX
    failing = unflushed.json("report.json")
    jsonschema.validate(failing, REPORT_SCHEMA)
    ex1 = failing["exercises"]["ex1"]
    assert ex1["points"] == sum(c["points"] for c in ex1["checks"] if c["status"] == "passed")
    assert f"| ex1 producer basics | failed | {ex1['points']}/{EX1_MAX} |" in unflushed.read(
        "summary.md")


def test_the_report_says_which_layers_of_isolation_held(unflushed: Graded,
                                                        unflushed_xdist: Graded) -> None:
    """Each layer in force or refused with its reason, as the sandbox that ran the
    submission found them: under -n 2 a worker's, carried to the controller."""
    for graded in (unflushed, unflushed_xdist):
        isolation = graded.json("report.json")["isolation"]
        assert set(isolation["in_force"]) | set(isolation["refused"]) == \
            set(Isolation.layers()), isolation
        assert all(isolation["refused"].values()), isolation


def test_points_apply_alike_with_and_without_xdist(unflushed: Graded,
                                                  unflushed_xdist: Graded) -> None:
    """Under -n 2 the checks run on a worker, the points are applied on the controller."""
    serial, parallel = unflushed.json("results.json"), unflushed_xdist.json("results.json")
    weights = [{name: test["max_score"] for name, test in by_check(results).items()}
               for results in (serial, parallel)]
    assert weights[0] == weights[1]
    assert weights[0]["flushes_before_exiting"] == 3
    for results in (serial, parallel):
        for test in results["tests"]:
            earned = test["max_score"] if test["status"] == "passed" else 0
            assert test["score"] == earned, test
    assert by_check(parallel)["flushes_before_exiting"]["score"] == 0


@pytest.mark.parametrize(("points", "says"), [
    ("[ex1]\nflushes = 2\n",
     "[ex1] has no check 'flushes'; the checks of ex1 are: a_failed_delivery_is_not_reported"),
    ("[ex9]\nflushes_before_exiting = 2\n",
     "no exercise [ex9] in the course; its exercises are: ex1, ex2, ex3, ex4, ex5, ex6"),
    ("[ex1]\nflushes_before_exiting = 0\n",
     "[ex1] flushes_before_exiting = 0: points must be a positive whole number"),
    ("[ex1]\nflushes_before_exiting = 1.5\n",
     "[ex1] flushes_before_exiting = 1.5: points must be a positive whole number"),
    ("ex1 = 2\n", "ex1 = 2 is not a table"),
    ("[ex1\n", "not valid TOML"),
], ids=["unknown-check", "unknown-exercise", "zero", "fraction", "not-a-table", "syntax"])
def test_a_bad_points_file_is_a_usage_error(points: str, says: str, tmp_path: Path) -> None:
    (tmp_path / "points.toml").write_text(points)
    finished = run_pytest(tmp_path, "--lab-submission", str(REFERENCE), "--lab-points",
                          str(tmp_path / "points.toml"), "--lab-report",
                          str(tmp_path / "report.json"))
    assert finished.returncode == pytest.ExitCode.USAGE_ERROR, finished.stdout[-2000:]
    assert f"ERROR: --lab-points {tmp_path / 'points.toml'}: " in finished.stderr
    assert says in finished.stderr, finished.stderr
    assert not (tmp_path / "report.json").exists()


@pytest.mark.parametrize("rootdir", ["checkout", "elsewhere"])
def test_a_bad_points_file_is_a_usage_error_under_xdist(rootdir: str, tmp_path: Path) -> None:
    """The controller judges the file on the workers' collections, before any check runs
    (a worker's own usage error would reach it as an internal error, without a word); also
    when the course lies outside the rootdir, as an installed one run with --pyargs does,
    and pytest's node ids name no module."""
    (tmp_path / "points.toml").write_text("[ex1]\nheaders = 2\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    elsewhere = ["--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini")]
    finished = run_pytest(tmp_path, "-n", "2", "--lab-submission", str(REFERENCE),
                          "--lab-points", str(tmp_path / "points.toml"),
                          *(elsewhere if rootdir == "elsewhere" else []))
    assert finished.returncode == pytest.ExitCode.USAGE_ERROR, finished.stdout[-2000:]
    assert "[ex1] has no check 'headers'; the checks of ex1 are: " in finished.stderr
    assert "INTERNALERROR" not in finished.stdout + finished.stderr


# --- JUnit XML ---------------------------------------------------------------------------------


def test_junitxml_carries_each_checks_exercise_and_points(unflushed: Graded,
                                                         unflushed_xdist: Graded) -> None:
    for graded in (unflushed, unflushed_xdist):
        report = graded.json("report.json")
        expected = {f"test_{c['name']}": {
            "exercise": "ex1", "check": c["name"],
            "points": str(c["points"] if c["status"] == "passed" else 0),
            "max_points": str(c["points"])} for c in report["exercises"]["ex1"]["checks"]}
        assert graded.junit_properties() == expected, graded.read("junit.xml")[:3000]
        assert expected["test_flushes_before_exiting"]["points"] == "0"
        assert expected["test_flushes_before_exiting"]["max_points"] == "3"


# --- feedback ----------------------------------------------------------------------------------


def test_feedback_links_every_failed_check_to_what_the_grader_accepts(unflushed: Graded,
                                                         unflushed_xdist: Graded) -> None:
    feedback = unflushed.read("feedback.md")
    failed = [c["name"] for c in unflushed.json("report.json")["exercises"]["ex1"]["checks"]
              if c["status"] != "passed"]
    assert failed
    items = [line for line in feedback.splitlines() if line.startswith("- ")]
    for name in failed:
        item = next((line for line in items if f"**{name}**" in line), None)
        assert item is not None, (name, feedback)
        # No published README named: the link is to the feedback's own account of what
        # the grader accepts (a README.md beside it is in no student's repository).
        assert "(#what-the-grader-accepts-for-ex1)" in item, item
    assert "\n### What the grader accepts for ex1\n" in feedback, feedback
    assert "*One line per delivered message*" in feedback, feedback
    # The costliest first: 3 points, then 2, then the others.
    assert items[0].startswith("- **flushes_before_exiting**: failed, 0/3 points."), items
    assert items[1].startswith("- **all_100_orders_arrive_exactly_once**: failed, 0/2"), items
    linked = unflushed_xdist.read("feedback.md")
    assert f"({BASE_URL}/README.md#ex1-producer-basics)" in linked


def test_the_linked_readme_section_exists() -> None:
    headings = [line.lstrip("#").strip() for line in (ROOT / "README.md").read_text()
                .splitlines() if line.startswith("#")]
    assert README_SECTION in headings
    assert readme_link().endswith("#" + github_anchor(README_SECTION))
    assert github_anchor(README_SECTION) == "readings-the-grader-accepts"
    # Each exercise's heading, as its checks' marker names it, is the link's target.
    for module in sorted((ROOT / "scenarios").glob("test_ex*.py")):
        marker = re.search(r'pytest\.mark\.exercise\("(\w+)", "([^"]+)"\)', module.read_text())
        assert marker is not None, module
        exercise_id, title = marker.groups()
        assert f"{exercise_id}, {title}" in headings, (module.name, headings)
        link = readme_link(exercise=Exercise(exercise_id, title))
        assert link.endswith("#" + github_anchor(f"{exercise_id}, {title}"))


GRADER_FRAME = re.compile(
    r'File "[^"]*(pytest_kafka_lab/grading|kafka_lab_inside)/\w+\.py", line \d+')


def test_feedback_shows_no_grader_traceback_but_the_students_own(crashing: Graded) -> None:
    raw = crashing.json("report.json")["exercises"]["ex1"]["checks"][0]["message"]
    # The raw message does hold the grader's frames: the test can fail.
    assert GRADER_FRAME.search(raw), raw
    shown = {"feedback": crashing.read("feedback.md"),
             "gradescope": "\n".join(t["output"] for t in crashing.json("results.json")["tests"]),
             "classroom": "\n".join(t["message"] or "" for t in
                                    crashing.json("classroom.json")["tests"])}
    for name, text in shown.items():
        assert not GRADER_FRAME.search(text), (name, text)
        assert "pytest_kafka_lab" not in text, (name, text)
        assert "site-packages" not in text, (name, text)
        # The student's own frames stay, named as in their folder.
        assert 'File "exercise_producer.py", line 6, in delivery_callback' in text, (name, text)
        assert "SyntaxError: '(' was never closed" in text, (name, text)
    feedback = shown["feedback"]
    # One item for the checks that failed alike, with its link.
    items = [line for line in feedback.splitlines() if line.startswith("- ")]
    assert len(items) == 1, items
    assert items[0].count("**") == 2 * EX1_CHECKS, items
    assert "(#what-the-grader-accepts-for-ex1)" in items[0]
    assert "Traceback (most recent call last):" in feedback


# --- inert --------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_the_plugin_is_inert_in_a_run_that_grades_nothing(
    lab_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: tuple[str, ...]
) -> None:
    """No report, no grading fixture in ``pytest --fixtures``, and under xdist its own
    scheduler, in a run that collects none of the course's checks (nor names a
    submission or the course's folder), even with the grading outputs asked for."""
    pytester = lab_pytester
    pytester.makepyfile(test_plain="def test_one():\n    assert 1 + 1 == 2\n\n"
                                   "def test_two():\n    assert 2 * 2 == 4\n")
    (pytester.path / "points.toml").write_text("[ex1]\nflushes_before_exiting = 2\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "summary.md"))
    outputs = ["report.json", "results.json", "classroom.json", "feedback.md"]
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-v", *workers, "--lab-points", "points.toml",
        *[arg for option, name in zip(
            ["--lab-report", "--lab-gradescope", "--lab-classroom", "--lab-feedback"],
            outputs, strict=True) for arg in (option, name)])
    result.assert_outcomes(passed=2)
    assert "kafka-lab grading" not in result.stdout.str()
    if workers:  # the grader's scheduler is not xdist's ``load``
        result.stdout.fnmatch_lines(["scheduling tests via LoadScheduling"])
    written = [name for name in [*outputs, "classroom.json.b64", "summary.md"]
               if (pytester.path / name).exists()]
    assert not written
    listed = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures", *workers)
    assert listed.ret == pytest.ExitCode.OK, listed.stdout.str()
    fixtures = re.findall(r"^(\w+)", listed.stdout.str(), re.MULTILINE)
    assert "kafka_broker" in fixtures, listed.stdout.str()  # the plugin's own: its API
    assert [name for name in fixtures if name.startswith("lab_")] == [], listed.stdout.str()


def test_a_test_that_asks_for_a_grading_fixture_gets_it_under_xdist(
    lab_pytester: pytest.Pytester,
) -> None:
    """The ``lab_*`` fixtures join a run once a test asks for one, on each xdist worker."""
    lab_pytester.makepyfile(test_timeout="""
        import pathlib, os

        def test_timeout(lab_timeout):
            pathlib.Path(os.environ["PYTEST_XDIST_WORKER"]).write_text(repr(lab_timeout))
    """)
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                               "--lab-timeout", "7")
    result.assert_outcomes(passed=1)
    [seen] = [path.read_text() for path in lab_pytester.path.glob("gw*")]
    assert seen == "7.0"


# --- the writers on a hand-built grade --------------------------------------------------------


def hand_built() -> Grade:
    grade = Grade("/submissions/alice")
    ex1 = grade.exercise("ex1", "producer basics")
    ex1.checks += [Check("flushes_before_exiting", "passed", points=2, duration=0.5),
                   Check("prints_one_line_per_delivered_message", "failed", "no lines")]
    ex2 = grade.exercise("ex2", "consumer with manual commits")
    ex2.checks += [Check("commits_after_every_10th_message", "failed", "committed at 7", 3),
                   Check("closes_the_consumer_on_ctrl_c", "error", "grader error: boom")]
    grade.exercise("ex5", "dead letter queue").checks += [
        Check(name, "missing", "missing: exercise_dlq.py not in /submissions/alice")
        for name in ("no_order_is_lost", "stops_after_100_messages")]
    return grade


def test_the_writers_follow_the_platforms_on_a_hand_built_grade() -> None:
    grade = hand_built()
    results = gradescope_results(grade)
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    assert results["score"] == 2
    names = {test["name"]: test for test in results["tests"]}
    assert names["ex5 dead letter queue: no_order_is_lost"]["output"] == (
        "not graded: the submission does not have this exercise's files "
        "(exercise_dlq.py not in /submissions/alice)")
    assert names["ex2 consumer with manual commits: closes_the_consumer_on_ctrl_c"][
        "status"] == "failed"
    assert names["ex5 dead letter queue: stops_after_100_messages"]["number"] == "5.2"
    result = classroom_result(grade)
    jsonschema.validate(result, CLASSROOM_SCHEMA)
    assert result["status"] == "pass"
    assert result["max_score"] == 2 + 1 + 3 + 1 + 1 + 1
    statuses = {test["name"].split(": ")[1]: test["status"] for test in result["tests"]}
    assert statuses["closes_the_consumer_on_ctrl_c"] == "error"
    assert statuses["no_order_is_lost"] == "fail"
    assert json.loads(base64.b64decode(classroom_output(result))) == result


def test_lost_points_never_make_the_classroom_result_fail_the_job() -> None:
    """The reporter calls ``core.setFailed`` on a result whose status is ``fail`` or
    ``error``: a grading that ran is ``pass`` however many points it lost, and each test
    keeps its own status."""
    grade = Grade("x")
    grade.exercise("ex1").checks.append(Check("a", "passed"))
    grade.exercise("ex2").checks.append(Check("b", "error", "could not import"))
    grade.exercise("ex3").checks.append(Check("c", "failed", "wrong"))
    result = classroom_result(grade)
    assert result["status"] == "pass"
    assert [test["status"] for test in result["tests"]] == ["pass", "error", "fail"]


def test_feedback_puts_the_costliest_exercise_first_and_errors_before_failures() -> None:
    feedback = feedback_markdown(hand_built())
    order = [feedback.index(text) for text in (
        "## ex2 consumer with manual commits: 0/4 points",
        "**closes_the_consumer_on_ctrl_c**: error",
        "**commits_after_every_10th_message**: failed, 0/3 points",
        "## ex5 dead letter queue: 0/2 points",
        "## ex1 producer basics: 2/3 points")]
    assert order == sorted(order), feedback
    assert "**flushes_before_exiting**" not in feedback  # it passed
    table = feedback.split("\n\n")[1]
    assert table.splitlines()[2:] == [
        "| ex2 consumer with manual commits | error | 0/4 |",
        "| ex5 dead letter queue | missing | 0/2 |",
        "| ex1 producer basics | failed | 2/3 |"]


TRACEBACK = """the submission could not be imported:
Traceback (most recent call last):
  File "{purelib}/pytest_kafka_lab/grading/runner.py", line 122, in main
    module = load(Path(spec["file"]).resolve())
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "<frozen importlib._bootstrap>", line 1204, in _gcd_import
  File "/tmp/kafka-lab-grading-x1/run-2/submission/exercise_dlq.py", line 9, in <module>
    import missing_helper
  File "{package}/grading/instrument.py", line 40, in find_spec
    raise error
ModuleNotFoundError: No module named 'missing_helper'"""


def test_grader_frames_are_taken_out_and_the_students_kept() -> None:
    package = Path(__file__).parent.parent / "pytest_kafka_lab"
    shown = without_grader_frames(TRACEBACK.format(
        package=package.resolve(), purelib=sysconfig.get_paths()["purelib"]))
    assert shown.splitlines() == [
        "the submission could not be imported:",
        "Traceback (most recent call last):",
        '  File "exercise_dlq.py", line 9, in <module>',
        "    import missing_helper",
        "ModuleNotFoundError: No module named 'missing_helper'"]


def test_a_traceback_of_grader_frames_only_is_dropped_whole() -> None:
    text = ('Traceback (most recent call last):\n  File "<frozen runpy>", line 198, in _run\n'
            "KeyError: 'x'")
    assert without_grader_frames(text) == "KeyError: 'x'"


def test_points_files_are_judged_against_the_collected_checks(tmp_path: Path) -> None:
    path = tmp_path / "points.toml"
    path.write_text("[ex1]\nflushes_before_exiting = 3\n[ex5]\nheaders = 2\n")
    points = read_points(path)
    assert points == {"ex1": {"flushes_before_exiting": 3}, "ex5": {"headers": 2}}
    collected = {"ex1": {"flushes_before_exiting", "a_failed_delivery"}}
    # ex5 is the course's but not graded in this run: its entries cannot cost anything.
    assert unknown_points(points, collected, ["ex1", "ex5"]) is None
    collected["ex5"] = {"dead_letter_headers_describe_the_failure"}
    assert unknown_points(points, collected, ["ex1", "ex5"]) == (
        "[ex5] has no check 'headers'; the checks of ex5 are: "
        "dead_letter_headers_describe_the_failure")
    path.write_text("[ex1]\nflushes_before_exiting = true\n")
    with pytest.raises(ValueError, match="= true: points must be a positive whole number"):
        read_points(path)

