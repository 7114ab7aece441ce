"""Every check proven both ways. Every mistake the course's checks promise to catch is
caught, by the check meant for it, with a message naming it; and correct work passes
every check: the reference solutions, correct but differently written solutions
(``tests/submissions/{classes,logging,alternatives,processes}``, three gradings each, which must
agree), and the course's own code (``tests/submissions/course``), whose one real bug is
failed by its own check.

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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from queue import Queue
from typing import Any

import pytest

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.backends.local import LocalBroker
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.grading.course import EXERCISE_FILES
from pytest_kafka_lab.processes import die_with_parent
from tests.mutants import Mutant

ROOT = Path(__file__).parent.parent
REFERENCE = ROOT / "scenarios" / "reference"
SUBMISSIONS = Path(__file__).parent / "submissions"
TEMPLATE = SUBMISSIONS / "template"
COURSE = SUBMISSIONS / "course"
# Correct but differently written: each must pass every check, on every grading.
CORRECT = ("classes", "logging", "alternatives", "processes")
CORRECT_RUNS = int(os.environ.get("KAFKA_LAB_CORPUS_RUNS", "3"))
XDIST = "-n2"
# Graded under pytest -n 2 too, whose verdicts must be the serial ones.
UNDER_XDIST = ("reference", "round-0")
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
    """Grade ``submission`` with ``pytest scenarios/``, on the broker ``args`` name or on
    one of the run's own: the course's fixed topic names allow one grading per broker at
    a time."""
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
        elif params is not None and "solution" in params.params:
            jobs.update(corpus_jobs(params.params["solution"]))
        elif params is not None and "job" in params.params:
            jobs.update((params.params["job"], params.params["job"] + XDIST))
        elif item.originalname in JOB_OF_TEST:
            jobs.add(JOB_OF_TEST[item.originalname])
    return jobs


def grade_job(job: str, tmp: pytest.TempPathFactory, brokers: Queue[KafkaBroker]) -> dict[str, Any]:
    """Grade what ``job`` names; ``...-n2`` grades the same under ``pytest -n 2``, on the
    brokers its run starts. Any other job takes a broker of ``brokers`` for its run, as
    ``kafka-lab grade`` does: every exercise starts by resetting the course's topics and
    groups, so a grading finds nothing of the one before."""
    folder = tmp.mktemp(job)
    base, under_xdist = job.removesuffix(XDIST), job.endswith(XDIST)
    args = ["-n", "2"] if under_xdist else []
    if base == "reference":
        submission = REFERENCE
    elif base == "course":
        submission = COURSE
    elif base.startswith("corpus-"):
        submission = SUBMISSIONS / base.split("-")[1]
    elif base == "template":
        submission = TEMPLATE
        # Ten seconds a run: the templates' endless loops are cut at that deadline.
        args += ["--lab-timeout", "10"]
    else:
        submission = mutated_submission(folder / "submission", ROUNDS[int(base.split("-")[1])])
    if under_xdist:
        return grade(submission, folder / "grade.json", *args)
    broker = brokers.get()
    try:
        return grade(submission, folder / "grade.json", *args,
                     "--kafka-bootstrap", broker.bootstrap_servers)
    finally:
        brokers.put(broker)


@pytest.fixture(scope="session")
def grades(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    kafka_lab_config: LabConfig,
) -> Iterator[dict[str, dict[str, Any]]]:
    """The grade of every selected job, graded ``PARALLEL`` at a time. Each lane grades
    on a broker it keeps from job to job: a broker's start is a fifth of a grading's work
    on two cores."""
    jobs = selected_jobs(request.session)
    # Made here once: threads asking for it first would each make one of their own.
    tmp_path_factory.getbasetemp()
    with ExitStack() as stack:
        brokers: Queue[KafkaBroker] = Queue()
        # Started here: a local broker dies with the thread that started it.
        for _ in range(min(PARALLEL, len(jobs))):
            brokers.put(stack.enter_context(LocalBroker(kafka_lab_config)))
        with ThreadPoolExecutor(PARALLEL) as pool:
            # The slowest first, so that no lane is left with a long job at the end.
            order = sorted(jobs, key=lambda job: (job.startswith("round"), job))
            futures = {job: pool.submit(grade_job, job, tmp_path_factory, brokers)
                       for job in order}
            yield {job: future.result() for job, future in futures.items()}


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


def corpus_jobs(solution: str) -> list[str]:
    return [f"corpus-{solution}-{run}" for run in range(CORRECT_RUNS)]


def not_passed(report: dict[str, Any]) -> list[str]:
    """Each check that did not pass, as ``ex5 retries_a_failing_order_3_times (failed): ...``."""
    return [f"{key} {check['name']} ({check['status']}): {check['message']}"
            for key, exercise in sorted(report["exercises"].items())
            for check in exercise["checks"] if check["status"] != "passed"]


@pytest.mark.parametrize("solution", CORRECT)
def test_correct_but_different_solutions_pass_every_check_on_every_grading(
    solution: str, grades: dict[str, dict[str, Any]]
) -> None:
    reports = [grades[job] for job in corpus_jobs(solution)]
    for run, report in enumerate(reports, 1):
        assert set(report["exercises"]) == set(EXERCISE_FILES), report["exercises"].keys()
        failing = not_passed(report)
        assert not failing, (f"tests/submissions/{solution}, grading {run} of {len(reports)}: "
                             + "\n".join(failing))


def test_the_course_own_code_passes_but_for_its_ex5_bug(
    grades: dict[str, dict[str, Any]],
) -> None:
    """The course's published code, as students hand it in unchanged, never costs a point
    by itself; its ex5 solution reads the ``except ... as e`` name after the block (an
    UnboundLocalError at the first order failing every try), and that alone is failed."""
    report = grades["course"]
    assert set(report["exercises"]) == set(EXERCISE_FILES), report["exercises"].keys()
    ex5 = report["exercises"].pop("ex5")
    assert not not_passed(report), "\n".join(not_passed(report))
    checks = {check["name"]: check for check in ex5["checks"]}
    survives = checks["survives_an_order_that_fails_every_try"]
    assert survives["status"] == "failed", survives
    assert "UnboundLocalError" in survives["message"], survives["message"]
    assert not [check for check in ex5["checks"] if check["status"] == "error"], ex5



def verdicts(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {key: {check["name"]: check["status"] for check in exercise["checks"]}
            for key, exercise in report["exercises"].items()}


@pytest.mark.parametrize("job", UNDER_XDIST)
def test_grading_under_xdist_gives_the_serial_verdicts(
    job: str, grades: dict[str, dict[str, Any]]
) -> None:
    """``pytest scenarios -n 2``: each worker grades on a broker of its own, each exercise's
    checks stay together, and the report is the serial one."""
    assert verdicts(grades[job + XDIST]) == verdicts(grades[job])

JOB_OF_TEST = {
    test_reference_solutions_pass_every_check.__name__: "reference",
    test_the_course_templates_fail_every_check_cleanly.__name__: "template",
    test_the_course_own_code_passes_but_for_its_ex5_bug.__name__: "course",
}
