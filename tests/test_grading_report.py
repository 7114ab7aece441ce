"""The grade as users meet it: the JSON report, GitHub's job summary, the gradebook of
``kafka-lab grade``, and the course's unsolved templates failing cleanly."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.course import EXERCISE_FILES
from pytest_kafka_lab.grading.report import Check, Grade

ROOT = Path(__file__).parent.parent
REFERENCE = ROOT / "scenarios" / "reference"


def grade(submission: Path, bootstrap: str, tmp_path: Path, *args: str,
          env: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    report = tmp_path / "grade.json"
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "scenarios", "-p", "no:cacheprovider", "-q",
         "--lab-submission", str(submission), "--lab-report", str(report),
         "--kafka-bootstrap", bootstrap, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, **(env or {})},
    )
    assert report.exists(), finished.stdout[-3000:] + finished.stderr[-3000:]
    return json.loads(report.read_text()), finished.stdout


def test_an_empty_submission_is_missing_everywhere_and_summarised_for_github(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    summary = tmp_path / "summary.md"
    summary.write_text("earlier steps\n")
    report, _ = grade(empty, kafka_broker.bootstrap_servers, tmp_path,
                      env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert report["submission"] == str(empty.resolve())
    assert set(report["exercises"]) == set(EXERCISE_FILES)
    for key, exercise in report["exercises"].items():
        assert exercise["status"] == "missing", (key, exercise)
        assert exercise["points"] == 0
        assert all(check["status"] == "missing" for check in exercise["checks"])
    page = summary.read_text()
    assert page.startswith("earlier steps\n")
    assert "| ex1 producer basics | missing | 0/" in page


def test_kafka_lab_grade_writes_a_gradebook_for_a_class(tmp_path: Path) -> None:
    # Alice's ex1 is the reference; her ex2 cannot take the course's call of main():
    # an error of ex2 alone, named, with ex1 graded all the same.
    only_ex1 = tmp_path / "alice"
    only_ex1.mkdir()
    shutil.copy(REFERENCE / "exercise_producer.py", only_ex1)
    (only_ex1 / "exercise_consumer.py").write_text("def main(topic):\n    pass\n")
    nothing = tmp_path / "bob"
    nothing.mkdir()
    out = tmp_path / "book" / "gradebook"
    finished = subprocess.run(
        [sys.executable, "-m", "pytest_kafka_lab.cli", "grade", str(only_ex1), str(nothing),
         "--scenarios", str(ROOT / "scenarios"), "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert [row["submission"] for row in rows] == ["alice", "bob"]
    alice, bob = rows
    assert int(alice["ex1"]) > 0
    assert alice["ex1"] == alice["total"]
    assert alice["ex2"] == "error"
    assert all(alice[key] == "missing" for key in ("ex3", "ex4", "ex5", "ex6"))
    assert all(bob[key] == "missing" for key in EXERCISE_FILES)
    assert bob["total"] == "0"
    full = json.loads(out.with_suffix(".json").read_text())
    assert full[0]["exercises"]["ex1"]["status"] == "passed"
    ex2 = full[0]["exercises"]["ex2"]
    assert ex2["status"] == "error"
    assert {check["message"] for check in ex2["checks"]} == {
        "exercise_consumer.py defines main(topic), but the course calls it as main() "
        "(missing a required argument: 'topic')"}


def test_kafka_lab_grade_explains_a_wrong_folder(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "pytest_kafka_lab.cli", "grade", str(tmp_path / "nobody")],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )
    assert finished.returncode == 2
    assert "no such submission folder" in finished.stderr


def summarised() -> Grade:
    grade = Grade("/submissions/alice")
    grade.exercise("ex1", "producer basics").checks += [
        Check("flushes_before_exiting", "passed", points=2),
        Check("prints_one_line_per_delivered_message", "failed", "no line | printed <here>")]
    grade.exercise("ex2", "consumer with manual commits").checks += [
        Check("commits_after_every_10th_message", "failed", "committed at 7\nthen 14", 3),
        Check("closes_the_consumer_on_ctrl_c", "error", "the submission could not run"),
        Check("prints_the_number_processed", "error", "the submission could not run")]
    grade.exercise("ex5", "dead letter queue").checks.append(
        Check("no_order_is_lost", "missing", "missing: exercise_dlq.py not in /x"))
    return grade


def test_the_summary_lists_points_and_lost_checks_worst_first() -> None:
    page = summarised().markdown()
    assert page.startswith("### Kafka lab grade: `/submissions/alice`: 2/9 points\n")
    rows = [line for line in page.splitlines() if re.match(r"\| ex\d", line)]
    assert rows == ["| ex2 consumer with manual commits | error | 0/5 |",
                    "| ex1 producer basics | failed | 2/3 |",
                    "| ex5 dead letter queue | missing | 0/1 |"]
    lost = [line for line in page.splitlines() if line.startswith("- ")]
    assert lost == [
        # Errors first, those alike together; then failures, the first line of each.
        "- error `closes_the_consumer_on_ctrl_c`, `prints_the_number_processed` (0/2): "
        "the submission could not run",
        "- failed `commits_after_every_10th_message` (0/3): committed at 7",
        "- failed `prints_one_line_per_delivered_message` (0/1): "
        "no line \\| printed &lt;here&gt;",
        "- not graded: the submission does not have this exercise's files "
        "(exercise_dlq.py not in /x)"]


def test_a_grade_reads_back_from_its_json_report(tmp_path: Path) -> None:
    grade = summarised()
    grade.write_json(tmp_path / "grade.json")
    report = json.loads((tmp_path / "grade.json").read_text())
    assert (report["points"], report["max_points"]) == (2, 9)
    assert Grade.from_dict(report) == grade


# --- options -----------------------------------------------------------------------------------

TIMEOUT_SEEN = """
def test_timeout(lab_timeout):
    print(f"lab_timeout={lab_timeout!r}")
"""


@pytest.mark.parametrize("value", ["abc", "0", "-3"])
def test_a_bad_lab_timeout_is_a_usage_error_naming_the_option(
    pytester: pytest.Pytester, value: str
) -> None:
    pytester.makepyfile(TIMEOUT_SEEN)
    result = pytester.runpytest("-p", "no:cacheprovider", "--lab-timeout", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines(
        [f"ERROR: --lab-timeout={value!r}: expected a positive number of seconds*"])


def test_a_bad_lab_timeout_in_the_ini_file_is_named_there(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TIMEOUT_SEEN)
    pytester.makeini("[pytest]\nlab_timeout = soon\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines(
        ["ERROR: lab_timeout (ini)='soon': expected a positive number of seconds*"])


@pytest.mark.parametrize(("args", "seconds"), [((), 60.0), (("--lab-timeout", "2.5"), 2.5)])
def test_lab_timeout_is_the_option_or_60_seconds(
    pytester: pytest.Pytester, args: tuple[str, ...], seconds: float
) -> None:
    pytester.makepyfile(TIMEOUT_SEEN)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*lab_timeout={seconds!r}*"])


def test_every_check_names_what_its_verdict_rests_on() -> None:
    """Each exercise module's ``EVIDENCE`` names every check it declares, each with
    kinds of evidence the reports know (``report.EVIDENCE``)."""
    import ast

    from pytest_kafka_lab.grading.course import course_dir
    from pytest_kafka_lab.grading.report import EVIDENCE

    modules = sorted(course_dir().glob("test_ex*.py"))
    assert len(modules) == 6
    for module in modules:
        tree = ast.parse(module.read_text())
        checks = {node.name.removeprefix("test_") for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
        table = next(ast.literal_eval(node.value) for node in tree.body
                     if isinstance(node, ast.Assign)
                     and getattr(node.targets[0], "id", None) == "EVIDENCE")
        assert set(table) == checks, module.name
        unknown = {kind for kinds in table.values() for kind in kinds} - set(EVIDENCE)
        assert not unknown, (module.name, unknown)
        assert all(table.values()), module.name


def test_the_report_carries_the_isolation_of_its_runs() -> None:
    isolation = {"in_force": ["landlock", "pid_namespace"],
                 "refused": {"pids_cap": "cannot make a pids cgroup (Permission denied)"}}
    grade = Grade("submission", isolation=isolation)
    report = grade.as_dict()
    assert report["isolation"] == isolation
    assert Grade.from_dict(json.loads(json.dumps(report))) == grade
    assert "isolation" not in Grade("submission").as_dict()  # no run said: not claimed
