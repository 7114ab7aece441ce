"""``kafka-lab grade``: a whole class against one broker, into a gradebook.

Each submission is graded by ``pytest SCENARIOS --lab-submission DIR`` in a process of its
own, pointed at the one broker this command started; the gradebook has one row per
submission and one column per exercise (its points, or ``missing``/``error``).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pytest_kafka_lab.backends.local import LocalBroker
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.grading.course import EXERCISE_FILES


def grade_one(submission: Path, scenarios: Path, bootstrap: str, timeout: float) -> dict[str, Any]:
    """The JSON grade of one submission (an ``error`` row when grading itself failed)."""
    with tempfile.TemporaryDirectory(prefix="kafka-lab-grade-") as scratch:
        report = Path(scratch) / "grade.json"
        finished = subprocess.run(
            [sys.executable, "-m", "pytest", str(scenarios), "-q", "-p", "no:cacheprovider",
             "--lab-submission", str(submission), "--lab-report", str(report),
             "--lab-timeout", str(timeout), "--kafka-bootstrap", bootstrap],
            capture_output=True, text=True, check=False, cwd=scenarios.parent,
        )
        if report.exists():
            return dict(json.loads(report.read_text()))
        return {"submission": str(submission), "exercises": {}, "error":
                finished.stdout[-2000:] + finished.stderr[-2000:]}


def cell(grade: dict[str, Any], exercise: str) -> str | int:
    result = grade["exercises"].get(exercise)
    if result is None:
        return "error"
    if result["status"] in ("missing", "error"):
        return str(result["status"])
    return int(result["points"])


def write_gradebook(grades: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """``out.csv`` (one row per submission) and ``out.json`` (every check)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    table, full = out.with_suffix(".csv"), out.with_suffix(".json")
    exercises = sorted(EXERCISE_FILES)
    with table.open("w", newline="") as sheet:
        writer = csv.writer(sheet)
        writer.writerow(["submission", *exercises, "total"])
        for grade in grades:
            cells = [cell(grade, exercise) for exercise in exercises]
            total = sum(value for value in cells if isinstance(value, int))
            writer.writerow([Path(grade["submission"]).name, *cells, total])
    full.write_text(json.dumps(grades, indent=2) + "\n")
    return table, full


def grade_class(submissions: list[Path], scenarios: Path, out: Path, config: LabConfig,
                timeout: float) -> tuple[Path, Path]:
    with LocalBroker(config) as broker:
        grades = []
        for submission in submissions:
            print(f"grading {submission} ...", flush=True)
            grades.append(grade_one(submission.resolve(), scenarios.resolve(),
                                    broker.bootstrap_servers, timeout))
    return write_gradebook(grades, out)
