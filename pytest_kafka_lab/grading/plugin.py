"""Grading options, fixtures and the report, for ``pytest scenarios/``.

    pytest scenarios/                                # grade the reference solutions
    pytest scenarios/ --lab-submission DIR --lab-report grade.json

Each check is a test marked ``@pytest.mark.exercise("ex1", "title")``; its outcome is
the check's status, its assertion message the check's message.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker, broker_for
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.distribution import resolve_distribution
from pytest_kafka_lab.grading import confinement
from pytest_kafka_lab.grading.course import EXERCISE_FILES, reset_course
from pytest_kafka_lab.grading.report import Check, Grade
from pytest_kafka_lab.grading.sandbox import Run, Sandbox
from pytest_kafka_lab.progress import status

GRADE = pytest.StashKey[Grade]()
SYNTAX_ERROR = re.compile(r"^(SyntaxError|IndentationError|TabError)\b", re.MULTILINE)
MISSING = "missing:"
CHECK_PROPERTY = "kafka_lab_check"


class SubmissionError(Exception):
    """The submission could not run at all (syntax error, crash on import, no such
    function or not one the course can call), or reached outside its folder."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kafka-lab-grading", "grading course submissions")
    for name, text in (
        ("submission", "the submission folder to grade (default: the reference solutions)"),
        ("report", "write the grade as JSON to this file"),
        ("timeout", "seconds one run of a submission may take (default 60)"),
    ):
        group.addoption(f"--lab-{name}", dest=f"lab_{name}", help=text)
        parser.addini(f"lab_{name}", text)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "exercise(id, title): a check of that course exercise")
    config.addinivalue_line("markers", "course_names: uses the course's fixed topic and group "
                            "names (on lab_broker, which is a worker's own under xdist)")
    config.stash[GRADE] = Grade(str(submission_folder(config)))
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(GradeRecorder(config), "kafka-lab-grade-recorder")


def option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"lab_{name}") or config.getini(f"lab_{name}")
    return str(value) if value else None


def submission_folder(config: pytest.Config) -> Path:
    chosen = option(config, "submission")
    folder = Path(chosen) if chosen else config.rootpath / "scenarios" / "reference"
    if not folder.is_dir():
        raise pytest.UsageError(f"--lab-submission {folder}: no such folder")
    return folder.resolve()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Grading a submission runs only the exercises' checks: the smoke scenario and the
    promises of ``scenarios/promises`` test Kafka and the harness, not the student."""
    if not option(config, "submission"):
        return
    others = [item for item in items if item.get_closest_marker("exercise") is None]
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = [item for item in items if item.get_closest_marker("exercise") is not None]


def pytest_report_header(config: pytest.Config) -> list[str]:
    confined = confinement.unavailable() or (
        f"runs confined to their folder (Landlock ABI {confinement.abi()})")
    return [f"kafka-lab grading: {config.stash[GRADE].submission}",
            f"kafka-lab grading: {confined}"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    marker = item.get_closest_marker("exercise")
    if marker is None:
        return
    report = outcome.get_result()
    status, message = check_status(report, call)
    if status is None:
        return
    exercise, title = (*marker.args, "")[:2]
    # Carried by the report, which pytest-xdist hands from a worker to the controller.
    report.user_properties.append((CHECK_PROPERTY, {
        "exercise": exercise, "title": title, "name": item.name.removeprefix("test_"),
        "status": status, "message": message, "points": marker.kwargs.get("points", 1)}))


def check_status(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[str | None, str]:
    """(status, message) that this phase of a check decides, or (None, "")."""
    error = call.excinfo.value if call.excinfo else None
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        reason = reason.removeprefix("Skipped: ")
        return ("missing" if reason.startswith(MISSING) else "failed"), reason
    if report.passed or report.when not in ("setup", "call"):
        return (("passed", "") if report.when == "call" and report.passed else (None, ""))
    if isinstance(error, SubmissionError | pytest.UsageError):
        return "error", str(error).strip()
    if report.when == "setup" or not judged(error):
        return "error", grader_fault(error, report)
    return "failed", student_message(error, report)


def judged(error: BaseException | None) -> bool:
    """Whether a check's exception is its verdict (an assertion, ``pytest.fail``), as
    opposed to a crash of the grader's own code."""
    return error is None or isinstance(error, AssertionError | pytest.fail.Exception)


def student_message(error: BaseException | None, report: pytest.TestReport) -> str:
    """The check's own words, without pytest's introspection of the assertion."""
    text = str(error) if error is not None else report.longreprtext
    return text.split("\nassert ", 1)[0].strip()


def grader_fault(error: BaseException | None, report: pytest.TestReport) -> str:
    """A crash of the harness, named as the grader's and never blamed on the student."""
    what = f"{type(error).__name__}: {error}" if error is not None else report.longreprtext
    where = "setting up" if report.when == "setup" else "running"
    return (f"grader error: the grader itself failed while {where} this check ({what.strip()}"
            "); this is a fault of the grader, not of the submission: report it to the "
            "course staff")


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's ``load``, but each module that uses the course's names stays on one
    worker: an exercise's checks share one run of the submission (a module fixture), which
    would otherwise be repeated on every worker that gets one of them, and tests of one
    module would reset each other's course topics on that worker's broker. (pytest-xdist's
    own ``xdist_group`` cannot serve: under pytest 9 its worker no longer renames items.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ExercisesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if declares_exercise(config.rootpath / path) else nodeid

    return ExercisesTogether(config, log)


@functools.lru_cache
def declares_exercise(module: Path) -> bool:
    """Whether a test module uses the course's names (it marks its tests ``exercise`` or
    ``course_names``): the scheduler sees node ids only, not markers."""
    try:
        source = module.read_text()
    except OSError:
        return False
    return "pytest.mark.exercise(" in source or "pytest.mark.course_names" in source


def uses_course_names(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in ("exercise", "course_names"))


class GradeRecorder:
    """Gathers the checks' outcomes into the grade, and writes it at the end. Registered on
    the controller (or a run without xdist) only: a worker's checks reach it through their
    reports."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, check in report.user_properties:
            if name == CHECK_PROPERTY and isinstance(check, dict):
                exercise = self.config.stash[GRADE].exercise(check["exercise"], check["title"])
                exercise.checks.append(Check(check["name"], check["status"], check["message"],
                                             check["points"]))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        grade = self.config.stash[GRADE]
        if not grade.exercises:
            return
        path = option(self.config, "report")
        if path:
            grade.write_json(Path(path))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a") as page:
                page.write(grade.markdown())


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lab_submission(pytestconfig: pytest.Config) -> Path:
    """The folder being graded."""
    return submission_folder(pytestconfig)


@pytest.fixture(scope="session")
def lab_timeout(pytestconfig: pytest.Config) -> float:
    """Seconds one run of a submission may take before it is stopped."""
    return float(option(pytestconfig, "timeout") or 60)


@pytest.fixture(scope="session")
def lab_broker(request: pytest.FixtureRequest, kafka_lab_config: LabConfig
               ) -> Iterator[KafkaBroker]:
    """The broker the course is graded on: the session's ``kafka_broker``, except on a
    pytest-xdist worker of a run that grades exercises, which starts a local broker of its
    own (stopped at its end). The course's topic and group names are fixed, so two workers
    grading side by side on one broker would reset and read each other's topics."""
    grading = any(map(uses_course_names, request.session.items))
    if not (grading and hasattr(request.config, "workerinput")):
        yield request.getfixturevalue("kafka_broker")
        return
    if kafka_lab_config.backend != "local":
        raise pytest.UsageError(
            f"the course's checks cannot run under pytest-xdist on the {kafka_lab_config.backend}"
            " backend: each worker needs a broker of its own (the course's topic and group "
            "names are fixed, so two workers on one cluster collide); run them without -n, "
            "or on the local backend")
    single = kafka_lab_config.replace(brokers=1, reuse=False, port=0)
    with broker_for(single, functools.partial(status, request.config)) as broker:
        yield broker


@pytest.fixture(scope="session")
def lab_admin(lab_broker: KafkaBroker) -> AdminClient:
    """An ``AdminClient`` of ``lab_broker``."""
    return AdminClient(lab_broker.client_config())


@pytest.fixture(scope="session")
def lab_sandbox(lab_broker: KafkaBroker, kafka_lab_config: LabConfig) -> Iterator[Sandbox]:
    """Starts submission runs against ``lab_broker``."""
    distribution = getattr(lab_broker, "distribution", None) or resolve_distribution(
        kafka_lab_config.cache_dir, kafka_lab_config.home)
    sandbox = Sandbox(lab_broker.bootstrap_servers, distribution)
    yield sandbox
    sandbox.cleanup()


@pytest.fixture
def lab_course(lab_admin: AdminClient) -> Callable[[dict[str, int]], None]:
    """``lab_course({"orders": 4})``: the course's topics and groups reset, these created."""
    return lambda topics: reset_course(lab_admin, topics)


def require_exercise(submission: Path, exercise: str) -> None:
    """Skip as *missing* when the submission lacks the exercise's files."""
    absent = [name for name in EXERCISE_FILES[exercise] if not (submission / name).is_file()]
    if absent:
        pytest.skip(f"{MISSING} {', '.join(absent)} not in {submission}")


def require_ran(run: Run) -> Run:
    """Raise ``SubmissionError`` when the submission could not even start its work, or
    tried to reach outside its folder (which the kernel refused)."""
    problem = outside_access(run) or unfit_function(run)
    if problem:
        raise SubmissionError(problem)
    failed = run.of("import-failed")
    if failed:
        raise SubmissionError(f"the submission could not be imported: {failed[0]['error']}")
    if run.exit_code not in (0, None) and SYNTAX_ERROR.search(run.stderr):
        raise SubmissionError(f"the submission has a syntax error:\n{run.stderr[-800:]}")
    return run


def outside_access(run: Run) -> str | None:
    attempts = run.of("outside-access")
    if not attempts:
        return None
    first = attempts[0]
    through = f" (through {first['program']})" if first.get("program") else ""
    others = f" and {len(attempts) - 1} other path(s)" if len(attempts) > 1 else ""
    return (f"the submission tried to {first['mode']} {first['path']}{through}{others}, "
            "outside its folder; submissions may only use their own files")


def unfit_function(run: Run) -> str | None:
    for event in run.of("missing-function"):
        defined = ", ".join(f"{name}()" for name in event.get("defined", [])) or "none"
        return (f"{event['file']} has no function {event['function']}(); the course asks "
                f"for one there, which the grader calls as {event['expected']} "
                f"(functions it has: {defined})")
    for event in run.of("wrong-signature"):
        return (f"{event['file']} defines {event['actual']}, but the course calls it as "
                f"{event['expected']} ({event['reason']})")
    return None
