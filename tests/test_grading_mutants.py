"""Every mistake the course's checks promise to catch is caught, by the check meant for
it, with a message naming it; and the reference solutions pass every check.

Mutants of different exercises share a graded submission (a "round"): a round holds at
most one mutant per exercise, and only the files of its exercises, so the others are
"missing" and cost nothing.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pytest_kafka_lab.grading.course import EXERCISE_FILES
from pytest_kafka_lab.processes import die_with_parent
from tests.mutants import Mutant

ROOT = Path(__file__).parent.parent
REFERENCE = ROOT / "scenarios" / "reference"
TEMPLATE = Path(__file__).parent / "submissions" / "template"
EXERCISES = ("ex1", "ex2", "ex3", "ex4", "ex5", "ex6")
# Rounds graded side by side, each inner run on a broker of its own. Much of a round is
# waiting on submissions, so two cores carry more than two.
PARALLEL = int(os.environ.get("KAFKA_LAB_MUTANT_PARALLEL", "4"))


def all_mutants() -> list[Mutant]:
    mutants: list[Mutant] = []
    for exercise in EXERCISES:
        try:
            module = importlib.import_module(f"tests.mutants.{exercise}")
        except ModuleNotFoundError:
            continue
        mutants.extend(module.MUTANTS)
    return mutants


MUTANTS = all_mutants()


def rounds(mutants: list[Mutant]) -> list[list[Mutant]]:
    """Deal mutants into rounds, each with at most one mutant per exercise."""
    by_exercise: dict[str, list[Mutant]] = defaultdict(list)
    for mutant in mutants:
        by_exercise[mutant.exercise].append(mutant)
    count = max((len(group) for group in by_exercise.values()), default=0)
    return [[group[i] for group in by_exercise.values() if i < len(group)] for i in range(count)]


ROUNDS = rounds(MUTANTS)
ROUND_OF = {mutant.id: index for index, group in enumerate(ROUNDS) for mutant in group}


def mutated_submission(folder: Path, group: list[Mutant]) -> Path:
    """The reference files of ``group``'s exercises, each with its mutant's edits."""
    folder.mkdir(parents=True)
    for mutant in group:
        for name in EXERCISE_FILES[mutant.exercise]:
            shutil.copy(REFERENCE / name, folder / name)
        path = folder / mutant.file
        source = path.read_text()
        for old, new in mutant.edits:
            assert old in source, f"mutant {mutant.id}: {old!r} is not in the reference"
            source = source.replace(old, new)
        path.write_text(source)
    return folder


def grade(submission: Path, report: Path, *args: str) -> dict[str, Any]:
    """Grade ``submission`` with ``pytest scenarios/`` on a broker of the inner run's own,
    so that gradings run side by side: the course's fixed topic names allow one grading
    per broker at a time."""
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "scenarios"), "-p", "no:cacheprovider",
         "-q", "--lab-submission", str(submission), "--lab-report", str(report), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
        preexec_fn=die_with_parent,
    )
    assert report.exists(), (f"no report was written for {submission}:\n"
                             f"{finished.stdout[-3000:]}{finished.stderr[-2000:]}")
    return dict(json.loads(report.read_text()))


def selected_jobs(session: pytest.Session) -> set[str]:
    """What this run must grade: the rounds of the selected mutants (``-k`` may pick a
    few), and the reference and the templates when their tests are selected."""
    jobs: set[str] = set()
    for item in session.items:
        if not isinstance(item, pytest.Function) or item.module is None \
                or item.module.__name__ != __name__:
            continue
        params = getattr(item, "callspec", None)
        if params is not None and "mutant" in params.params:
            jobs.add(f"round-{ROUND_OF[params.params['mutant'].id]}")
        elif item.originalname in JOB_OF_TEST:
            jobs.add(JOB_OF_TEST[item.originalname])
    return jobs


def grade_job(job: str, tmp: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp.mktemp(job)
    if job == "reference":
        return grade(REFERENCE, folder / "grade.json")
    if job == "template":
        # Ten seconds a run: the templates' endless loops are cut at that deadline.
        return grade(TEMPLATE, folder / "grade.json", "--lab-timeout", "10")
    submission = mutated_submission(folder / "submission", ROUNDS[int(job.split("-")[1])])
    return grade(submission, folder / "grade.json")


@pytest.fixture(scope="session")
def grades(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """The grade of every selected job, graded ``PARALLEL`` at a time."""
    with ThreadPoolExecutor(PARALLEL) as pool:
        # The slowest first, so that no lane is left with a long job at the end.
        order = sorted(selected_jobs(request.session), key=lambda job: job.startswith("round"))
        jobs = {job: pool.submit(grade_job, job, tmp_path_factory) for job in order}
        return {job: future.result() for job, future in jobs.items()}


@pytest.mark.parametrize("mutant", MUTANTS, ids=[mutant.id for mutant in MUTANTS])
def test_mutant_is_caught_by_its_check(
    mutant: Mutant, grades: dict[str, dict[str, Any]]
) -> None:
    report = grades[f"round-{ROUND_OF[mutant.id]}"]
    exercise = report["exercises"][mutant.exercise]
    checks = {check["name"]: check for check in exercise["checks"]}
    assert mutant.check in checks, f"no check {mutant.check!r}; checks: {sorted(checks)}"
    check = checks[mutant.check]
    assert check["status"] == "failed", (
        f"{mutant.mistake!r} was not caught by {mutant.check}: {check}")
    assert re.search(mutant.message, check["message"]), (
        f"{mutant.check} failed for {mutant.mistake!r}, but its message does not name the "
        f"mistake ({mutant.message!r}): {check['message']}")


def test_reference_solutions_pass_every_check(grades: dict[str, dict[str, Any]]) -> None:
    report = grades["reference"]
    failing = {key: [c for c in exercise["checks"] if c["status"] != "passed"]
               for key, exercise in report["exercises"].items() if exercise["status"] != "passed"}
    assert not failing, f"the reference solutions fail: {failing}"
    assert set(report["exercises"]) == set(EXERCISE_FILES)


def test_the_course_templates_fail_every_check_cleanly(
    grades: dict[str, dict[str, Any]],
) -> None:
    """Unsolved templates (TODO bodies, endless loops) fail, never error or hang."""
    report = grades["template"]
    statuses = {key: exercise["status"] for key, exercise in report["exercises"].items()}
    # ex3's scripts are handed out complete by the course: the template holds them solved.
    assert statuses.pop("ex3") == "passed", report["exercises"]["ex3"]
    assert set(statuses.values()) == {"failed"}, statuses
    for key in statuses:
        checks = report["exercises"][key]["checks"]
        assert not [c for c in checks if c["status"] == "error"], (key, checks)
        assert all(c["message"] for c in checks if c["status"] == "failed"), (key, checks)


JOB_OF_TEST = {
    test_reference_solutions_pass_every_check.__name__: "reference",
    test_the_course_templates_fail_every_check_cleanly.__name__: "template",
}
