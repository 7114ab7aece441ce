"""Grading options, fixtures and the report, for ``pytest scenarios/``.

    pytest scenarios/                                # grade the reference solutions
    pytest scenarios/ --lab-submission DIR --lab-report grade.json
    pytest scenarios/ --lab-submission DIR --lab-points points.toml \
        --lab-gradescope results.json --lab-classroom classroom.json --lab-feedback FB.md

Each check is a test marked ``@pytest.mark.exercise("ex1", "title")``; its outcome is
the check's status, its assertion message the check's message. The formats for course
platforms are written by ``platforms.py``.

Installed into every pytest run of the environment, the grader stays out of the way of a
run that grades nothing: it declares its options and markers, and joins a run
(``start_grading``: its hooks, its scheduler, its ``lab_*`` fixtures, the recorder of the
grade) only once the run shows that it grades: it names a submission or the course's
folder (known from the command line), or it collects the course's checks or a test that
asks for a ``lab_*`` fixture (known after collection; under pytest-xdist the controller,
which collects nothing, reads the first worker's collection).
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
from collections import defaultdict
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

import pytest

from pytest_kafka_lab.config import LAB_OPTIONS, add_options
from pytest_kafka_lab.grading import fixtures
from pytest_kafka_lab.grading.course import EXERCISE_FILES, LONGEST_FIRST, course_dir
from pytest_kafka_lab.grading.fixtures import (
    option,
    run_timeout,
    submission_folder,
    uses_course_names,
)
from pytest_kafka_lab.grading.platforms import (
    gradescope_results,
    write_classroom,
    write_feedback,
    write_json,
)
from pytest_kafka_lab.grading.report import (
    MISSING,
    Check,
    Grade,
    Points,
    read_points,
    unknown_points,
)
from pytest_kafka_lab.lifecycle import WORKERS_NEED_NO_BROKER

# The sandbox (the wire proxy, the verdicts, which import it) is imported where a grading
# run uses it: the grader's entry point is loaded into every pytest run of the environment.

GRADE = pytest.StashKey[Grade]()
GRADING = pytest.StashKey["GradingRun"]()  # set in a run that grades, by start_grading
FIRST_COLLECTION_SEEN = pytest.StashKey[bool]()  # on an xdist controller
# The installed course, as ``--pyargs`` names it.
COURSE_PACKAGE = "pytest_kafka_lab.course"
# The check's record, JSON-encoded: carried by the teardown report (from an xdist worker
# to the controller), where the GradeRecorder takes it before --junitxml writes properties.
CHECK_PROPERTY = "kafka_lab_check"


def pytest_addoption(parser: pytest.Parser) -> None:
    # Declared, with their defaults, in the settings model (``config.LAB_OPTIONS``).
    add_options(parser, LAB_OPTIONS, ("kafka-lab-grading", "grading course submissions"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "exercise(id, title): a check of that course exercise")
    config.addinivalue_line("markers", "course_names: uses the course's fixed topic and group "
                            "names (on lab_broker, which is a worker's own under xdist)")
    run_timeout(config)  # a bad value is a usage error before anything runs
    if option(config, "submission"):
        # Only the exercises' checks run, each worker on a lab broker of its own.
        config.stash[WORKERS_NEED_NO_BROKER] = "grading a submission"
        start_grading(config)
    elif names_the_course(config):
        start_grading(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without xdist, or on an xdist worker: a run that grades by what it collected (the
    course's checks, or a test that asks for a ``lab_*`` fixture) gets its grader now.
    pytest finds a fixture registered after collection when a test first asks for it, as
    it finds one named by ``request.getfixturevalue``."""
    if GRADING not in config.stash and any(map(asks_the_grader, items)):
        start_grading(config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """xdist controller, which collects nothing: the first worker's collection shows
    whether the run grades (a module of the course's checks among it; every worker
    collects the same tests). If it does, the grader joins the run: the recorder judges the
    points file on this collection, and the course's scheduler takes over xdist's."""
    config = node.config
    if GRADING in config.stash or FIRST_COLLECTION_SEEN in config.stash:
        return
    config.stash[FIRST_COLLECTION_SEEN] = True
    modules = {config.rootpath / path for path in module_paths(ids) if path}
    if not any(map(declares_exercise, modules)):
        return
    recorder = start_grading(config)
    if recorder is not None:  # registered too late for this call of the hook
        recorder.pytest_xdist_node_collection_finished(node, ids)
    take_over_scheduling(config)


def names_the_course(config: pytest.Config) -> bool:
    """Whether the command line names the course's folder or something in it
    (``pytest scenarios/``, ``scenarios/promises``) or the installed course (``--pyargs
    pytest_kafka_lab.course``)."""
    try:
        course = course_dir()
    except ModuleNotFoundError:
        return False
    for arg in config.args:
        name = arg.split("::")[0]
        if name == COURSE_PACKAGE or name.startswith(f"{COURSE_PACKAGE}."):
            return True
        if Path(config.invocation_params.dir, name).resolve().is_relative_to(course):
            return True
    return False


def asks_the_grader(item: pytest.Item) -> bool:
    """Whether a test is one of the course's checks, uses the course's names, or asks for
    a ``lab_*`` fixture."""
    return uses_course_names(item) or not fixtures.NAMES.isdisjoint(
        getattr(item, "fixturenames", ()))


def start_grading(config: pytest.Config) -> GradeRecorder | None:
    """Make the run a grading run: the grader's hooks (``GradingRun``) and ``lab_*``
    fixtures, and, on the controller or without xdist, the recorder of the grade
    (returned; None on an xdist worker)."""
    grading = GradingRun()
    config.stash[GRADING] = grading
    config.stash[GRADE] = Grade(str(submission_folder(config)))
    config.pluginmanager.register(grading, "kafka-lab-grading-run")
    config.pluginmanager.register(fixtures, "kafka-lab-grading-fixtures")
    if hasattr(config, "workerinput"):
        return None
    recorder = GradeRecorder(config, course_points(config))
    config.pluginmanager.register(recorder, "kafka-lab-grade-recorder")
    return recorder


def module_paths(ids: Iterable[str]) -> set[str]:
    """The module paths (rootdir-relative) of node ids; "" for a module that pytest names
    by its tests alone (one outside the rootdir)."""
    return {nodeid.split("::")[0] for nodeid in ids}


def course_points(config: pytest.Config) -> Points:
    """The points per check that ``--lab-points`` names (none: every check its default)."""
    path = option(config, "points")
    if not path:
        return {}
    try:
        return read_points(Path(path))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


class GradingRun:
    """The grader's hooks, registered by ``start_grading`` in a run that grades only."""

    def pytest_collection_modifyitems(self, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        """Grading a submission runs only the exercises' checks: the smoke scenario and the
        promises of ``scenarios/promises`` test Kafka and the harness, not the student."""
        if not option(config, "submission"):
            return
        others = [item for item in items if item.get_closest_marker("exercise") is None]
        if others:
            config.hook.pytest_deselected(items=others)
            items[:] = [item for item in items if item.get_closest_marker("exercise") is not None]

    def pytest_report_collectionfinish(self, config: pytest.Config, items: list[pytest.Item]
                                       ) -> list[str]:
        """Said only when the run holds the course's checks."""
        if not any(item.get_closest_marker("exercise") for item in items):
            return []
        from pytest_kafka_lab.grading.inside import supervisor
        from pytest_kafka_lab.grading.sandbox.isolation import detect

        layers = detect(Path(supervisor.__file__)).isolation  # as a sandbox will find them
        return [f"kafka-lab grading: {config.stash[GRADE].submission}",
                *(f"kafka-lab grading: {line}" for line in layers.describe())]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
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
        name = item.name.removeprefix("test_")
        # On the item, so the teardown report carries them: --junitxml writes the
        # properties of that report, and pytest-xdist hands it from a worker to the
        # controller, where the GradeRecorder adds the points (it holds the course's
        # points per check).
        record = {"exercise": exercise, "title": title, "name": name, "status": status,
                  "message": message, "points": marker.kwargs.get("points", 1),
                  "evidence": list(getattr(getattr(item, "module", None), "EVIDENCE", {})
                                   .get(name, ())),
                  "isolation": isolation_of(item)}
        item.user_properties += [("exercise", exercise), ("check", name),
                                 (CHECK_PROPERTY, json.dumps(record))]

    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """pytest-xdist's ``load`` becomes the course's scheduler (``course_scheduler``)."""
        if config.getvalue("dist") != "load":
            return None
        return course_scheduler(config, log)


def isolation_of(item: pytest.Item) -> dict[str, Any]:
    """The isolation of the sandbox that ran a check's submission ({} if none did)."""
    from pytest_kafka_lab.grading.sandbox import Sandbox

    sandbox = getattr(item, "funcargs", {}).get("lab_sandbox")
    return sandbox.isolation.as_dict() if isinstance(sandbox, Sandbox) else {}


def check_status(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[str | None, str]:
    """(status, message) that this phase of a check decides, or (None, "")."""
    from pytest_kafka_lab.grading.verdicts import SubmissionError

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


# The scope of every test that stands on the three-node cluster (see ``shared_scopes``).
ONE_CLUSTER = "the three-node cluster"
CLUSTER_FIXTURES = frozenset({"kafka_cluster", "kafka_faults"})


def course_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's ``load``, but each module that uses the course's names stays on one
    worker: an exercise's checks share one run of the submission (a module fixture), which
    would otherwise be repeated on every worker that gets one of them, and tests of one
    module would reset each other's course topics on that worker's broker. (pytest-xdist's
    own ``xdist_group`` cannot serve: under pytest 9 its worker no longer renames items.)

    Likewise the tests that share a module-scoped fixture of their module stay together,
    so that it runs once; and the tests that stand on a three-node cluster stay on one
    worker, so that a session-wide cluster is started once, not once per worker. Since
    most of their time is a fault waited out, they are handed out first. A worker gets
    more work only when it is down to its last test: a long test never holds up work that
    an idle worker could do."""
    from xdist.scheduler import LoadScopeScheduling

    class ExercisesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path, _, test = nodeid.partition("::")
            module = config.rootpath / path
            if declares_exercise(module):
                return path
            shared = shared_scopes(module).get(test.split("[")[0])
            if shared is None:
                return nodeid
            return shared if shared == ONE_CLUSTER else f"{path}::{shared}"

        def _assign_work_unit(self, node: Any) -> None:
            # Longest first, so that no long unit starts last while the other worker idles;
            # units of one rank keep their order (a module's tests run as written).
            for scope in reversed(sorted(self.workqueue, key=self._rank)):
                self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

        def _rank(self, scope: str) -> int:
            """Lower goes first: the cluster's tests, then the exercises, longest first."""
            if scope == ONE_CLUSTER:
                return -1
            exercise = exercise_of(config.rootpath / scope.partition("::")[0])
            return LONGEST_FIRST.index(exercise) if exercise in LONGEST_FIRST \
                else len(LONGEST_FIRST)

        def _reschedule(self, node: Any) -> None:
            # pytest-xdist tops a worker up while it has two tests left; a worker holds
            # its last test until it knows the next one, so one is the least.
            if node.shutting_down or not self.workqueue:
                super()._reschedule(node)
            elif self._pending_of(self.assigned_work[node]) <= 1:
                self._assign_work_unit(node)

    return ExercisesTogether(config, log)


def take_over_scheduling(config: pytest.Config) -> None:
    """xdist controller: the course's scheduler in place of xdist's own ``load``, in a run
    found to grade only by its first worker's collection. pytest-xdist makes its scheduler
    before any worker has collected, and asks no plugin again: the session's scheduler is
    replaced while it holds the workers and no collection yet, and told of the same
    workers."""
    from xdist.scheduler import LoadScheduling

    session = config.pluginmanager.getplugin("dsession")
    scheduler: Any = getattr(session, "sched", None)
    if config.getvalue("dist") != "load" or type(scheduler) is not LoadScheduling \
            or scheduler.node2collection:
        return  # another plugin's scheduler, or one that already has work: left alone
    ours = course_scheduler(config, session.log)
    for node in scheduler.nodes:
        ours.add_node(node)
    session.sched = ours


@functools.lru_cache
def shared_scopes(module: Path) -> dict[str, str]:
    """``{test function: what it shares}`` for the tests of a module that share something
    with others: ``ONE_CLUSTER`` for a test that asks for the three-node cluster
    (``kafka_cluster`` or ``kafka_faults``), else the name of a module-scoped fixture of
    the module that it asks for, directly or through other fixtures of the module. Read
    from the source, as the scheduler knows node ids only."""
    try:
        tree = ast.parse(module.read_text())
    except (OSError, SyntaxError, ValueError):
        return {}
    functions = {node.name: {arg.arg for arg in node.args.args}
                 for node in tree.body if isinstance(node, ast.FunctionDef)}
    module_scoped = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)
                     and any(module_scope(decorator) for decorator in node.decorator_list)}

    def needs(name: str) -> set[str]:
        found: set[str] = set()
        todo = [name]
        while todo:
            for arg in functions.get(todo.pop(), set()) - found:
                found.add(arg)
                todo.append(arg)
        return found

    scopes = {}
    for name in functions:
        if not name.startswith("test_"):
            continue
        wanted = needs(name)
        if wanted & CLUSTER_FIXTURES:
            scopes[name] = ONE_CLUSTER
        elif wanted & module_scoped:
            scopes[name] = min(wanted & module_scoped)
    return scopes


def module_scope(decorator: ast.expr) -> bool:
    """Whether a decorator is ``pytest.fixture(scope="module")``."""
    return isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "fixture" \
        and any(keyword.arg == "scope" and isinstance(keyword.value, ast.Constant)
                and keyword.value.value == "module" for keyword in decorator.keywords)


@functools.lru_cache
def exercise_of(module: Path) -> str | None:
    """The exercise a test module's checks grade (its ``exercise`` marker's id), if any."""
    try:
        found = re.search(r"pytest\.mark\.exercise\(\s*[\"'](\w+)[\"']", module.read_text())
    except OSError:
        return None
    return found.group(1) if found else None


@functools.lru_cache
def declares_exercise(module: Path) -> bool:
    """Whether a test module uses the course's names (it marks its tests ``exercise`` or
    ``course_names``): the scheduler sees node ids only, not markers."""
    try:
        source = module.read_text()
    except OSError:
        return False
    return "pytest.mark.exercise(" in source or "pytest.mark.course_names" in source


@functools.lru_cache
def declared_checks(module: Path) -> dict[str, frozenset[str]]:
    """``{exercise: check names}`` of a test module: its ``test_*`` functions under
    ``pytest.mark.exercise("exN", ...)``, the module's ``pytestmark`` or their own. Read
    from the source, as the scheduler reads it: under xdist the controller collects
    nothing and knows the node ids only, and a points file must be judged the same way
    with or without xdist, and whatever ``-k`` deselects."""
    try:
        tree = ast.parse(module.read_text())
    except (OSError, SyntaxError, ValueError):
        return {}
    default = None
    for node in tree.body:
        if isinstance(node, ast.Assign) \
                and any(getattr(target, "id", "") == "pytestmark" for target in node.targets):
            default = marked_exercise(node.value) or default
    checks: dict[str, set[str]] = defaultdict(set)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                and node.name.startswith("test_"):
            own = next(filter(None, map(marked_exercise, node.decorator_list)), None)
            exercise = own or default
            if exercise:
                checks[exercise].add(node.name.removeprefix("test_"))
    return {exercise: frozenset(names) for exercise, names in checks.items()}


def marked_exercise(node: ast.AST) -> str | None:
    """``"ex1"`` of a ``pytest.mark.exercise("ex1", ...)`` somewhere in ``node``."""
    for call in ast.walk(node):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "exercise" \
                and call.args and isinstance(call.args[0], ast.Constant) \
                and isinstance(call.args[0].value, str):
            return call.args[0].value
    return None


class GradeRecorder:
    """Gathers the checks' outcomes into the grade, and writes it at the end. Registered on
    the controller (or a run without xdist) only: a worker's checks reach it through their
    reports.

    The course's points per check are applied here, and only here: one process reads the
    points file and judges it, so a check weighs the same whichever worker ran it, and a
    worker needs neither the file nor a way to report a bad one (a worker's usage error
    reaches the controller as an internal error, without its message)."""

    def __init__(self, config: pytest.Config, points: Points) -> None:
        self.config = config
        self.points = points
        self.points_judged = False
        self.durations: dict[str, float] = defaultdict(float)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.judge_points(item.path for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        paths = module_paths(ids)
        modules = [self.config.rootpath / path for path in paths if path]
        if "" in paths:
            # pytest names a module outside the rootdir by its tests alone (``::test_x``):
            # the installed course run with --pyargs. Its own modules stand in for it.
            modules += course_dir().glob("test_*.py")
        self.judge_points(modules)

    def judge_points(self, modules: Iterable[Path]) -> None:
        """A usage error, before any check runs, for a points file naming an exercise or
        a check that does not exist, listing the valid names."""
        if not self.points or self.points_judged:
            return
        self.points_judged = True
        checks: dict[str, set[str]] = defaultdict(set)
        for module in set(modules):
            for exercise, names in declared_checks(module).items():
                checks[exercise] |= names
        problem = unknown_points(self.points, checks, EXERCISE_FILES) if checks else None
        if problem:
            raise pytest.UsageError(f"--lab-points {option(self.config, 'points')}: {problem}")

    @pytest.hookimpl(tryfirst=True)  # before --junitxml writes the report's properties
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.durations[report.nodeid] += report.duration
        if report.when != "teardown":
            return
        duration = self.durations.pop(report.nodeid, 0.0)
        for name, value in list(report.user_properties):
            if name != CHECK_PROPERTY:
                continue
            record: dict[str, Any] = json.loads(str(value))
            points = self.points.get(record["exercise"], {}).get(record["name"],
                                                                 record["points"])
            check = Check(record["name"], record["status"], record["message"], points,
                          round(duration, 3), list(record.get("evidence") or []))
            grade = self.config.stash[GRADE]
            grade.exercise(record["exercise"], record["title"]).checks.append(check)
            grade.isolation = grade.isolation or record.get("isolation") or {}
            # The record is taken: --junitxml keeps exercise, check and the points.
            report.user_properties.remove((name, value))
            report.user_properties += [("points", check.earned), ("max_points", points)]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        grade = self.config.stash[GRADE]
        if not grade.exercises:
            return
        for name, write in (
            ("report", grade.write_json),
            ("gradescope", lambda path: write_json(path, gradescope_results(grade))),
            ("classroom", lambda path: write_classroom(path, grade)),
            ("feedback", lambda path: write_feedback(
                path, grade, option(self.config, "feedback_base_url") or "")),
        ):
            path = option(self.config, name)
            if path:
                write(Path(path))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a") as page:
                page.write(grade.markdown())

