"""One submission graded by ``kafka-lab grade``: the course's checks in a pytest process of
their own, against a broker given to it, within a wall-clock limit.

The pytest run must load nothing of the student's: a submission (and the folder the grader
stands in) may hold a ``conftest.py``, a ``pytest.ini`` or a module that shadows a library,
and student code may only ever run inside the sandbox. So the run
- starts in an empty scratch folder, with ``python -P`` (nothing prepended to
  ``sys.path``);
- reads no configuration file (``-c`` the null device) and is rooted at the course's
  folder (``--rootdir``), loading conftests from there and below only (``--confcutdir``);
- names the submission only as the value of ``--lab-submission``, never as a path for
  pytest to collect.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_kafka_lab.grading.class_runner.class_list import Submission
from pytest_kafka_lab.grading.class_runner.gradebook import Grade
from pytest_kafka_lab.grading.class_runner.lane_reset import Lanes, reset_after
from pytest_kafka_lab.grading.class_runner.submission_files import prepare
from pytest_kafka_lab.processes import kill_group

# How long a stopped run may tidy up (its sandboxes, its clients) before it is killed.
STOP_GRACE = 10.0
OUTPUT_TAIL = 3000


@dataclass(frozen=True)
class RunSettings:
    """What every submission's run shares."""

    scenarios: Path
    run_timeout: float  # --lab-timeout: one run of the student's code
    submission_limit: float  # wall clock for the whole pytest run of one submission
    extra_args: tuple[str, ...] = ()  # e.g. --lab-points FILE, --kafka-client-config FILE
    # A class's runs leave GitHub's job summary to the command (one gradebook table, not a
    # table per submission); a single submission's run writes its own, checks and all.
    step_summary_per_run: bool = True
    # More than one: the run's exercises are split over this many pytest-xdist workers,
    # each grading on a local broker of its own started with ``broker_args``.
    workers: int = 1
    broker_args: tuple[str, ...] = ()

    def own_brokers(self) -> str:
        """The ``broker`` of a grade whose run started its own."""
        return f"{self.workers} of its own (pytest -n {self.workers})"

    def environment(self) -> dict[str, str]:
        if self.step_summary_per_run:
            return dict(os.environ)
        return {name: value for name, value in os.environ.items()
                if name != "GITHUB_STEP_SUMMARY"}

    def command(self, submission: Path, report: Path, bootstrap: str | None) -> list[str]:
        """The pytest run of ``submission``: on the broker at ``bootstrap``, or (None) split
        over ``workers`` with brokers of their own."""
        scenarios = self.scenarios.resolve()
        brokers = (["--kafka-bootstrap", bootstrap] if bootstrap is not None
                   else ["-n", str(self.workers), *self.broker_args])
        return [sys.executable, "-P", "-m", "pytest_kafka_lab.grading.class_runner.pytest_child",
                str(scenarios), "-q", "-p", "no:cacheprovider", "-c", os.devnull,
                "--rootdir", str(scenarios), "--confcutdir", str(scenarios),
                "--lab-submission", str(submission), "--lab-report", str(report),
                "--lab-timeout", str(self.run_timeout), *brokers, *self.extra_args]


class Runs:
    """The pytest runs in progress, so that Ctrl-C can stop every one of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self.cancelled = threading.Event()
        self.lanes = Lanes()  # each lane's broker, reset after each of its submissions

    def start(self, command: list[str], cwd: Path, output: Path, env: dict[str, str]
              ) -> subprocess.Popen[bytes]:
        with self._lock:
            if self.cancelled.is_set():
                raise GradingCancelled
            with output.open("wb") as sink:
                process = subprocess.Popen(command, cwd=cwd, env=env, stdout=sink,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self._running.add(process)
        return process

    def finished(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(process)

    def cancel(self) -> None:
        """Stop every run now; runs not yet started will not start."""
        with self._lock:
            self.cancelled.set()
            running = list(self._running)
        stop(*running)


class GradingCancelled(Exception):
    """The class's grading was interrupted; this submission has no grade."""


class GradingRefused(Exception):
    """pytest refused a run's command line (a usage error: a points file naming a check
    the course lacks, say). Every submission's run would be refused alike, so the class's
    grading stops; the message is pytest's."""


def refuse_a_usage_error(returncode: int | None, output: Path) -> None:
    """Raise ``GradingRefused`` with pytest's own words when the run ended in a usage
    error."""
    if returncode != pytest.ExitCode.USAGE_ERROR:
        return
    said = [line.removeprefix("ERROR: ").strip() for line in tail(output).splitlines()
            if line.startswith("ERROR: ")]
    raise GradingRefused("; ".join(said) or "pytest refused the run's command line:\n"
                         + tail(output))


def signal_run(process: subprocess.Popen[bytes], sig: int) -> None:
    """Signal a run's process group, or the run alone while it has not yet moved to a
    group of its own (``pytest_child`` does so as it starts, before it has children).
    Never both: pytest takes a second SIGINT as a second Ctrl-C, and cuts its teardown
    short."""
    try:
        moved = os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return
    if moved:
        kill_group(process.pid, sig)
    else:
        process.send_signal(sig)


def stop(*processes: subprocess.Popen[bytes]) -> None:
    """Interrupt runs (pytest tears their sandboxes down); kill what is left after
    ``STOP_GRACE`` seconds."""
    for process in processes:
        signal_run(process, signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_run(process, signal.SIGKILL)
            process.wait()


def tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-OUTPUT_TAIL:]
    return ""


def grade_submission(submission: Submission, bootstrap: str | None, settings: RunSettings,
                     runs: Runs) -> Grade:
    """The grade of ``submission`` on the broker at ``bootstrap`` (None: on its workers'
    own, see ``RunSettings.workers``): its ``--lab-report``, or an ``error`` grade when the
    run wrote none or overran the wall-clock limit."""
    started = time.monotonic()
    lane = runs.lanes.before(bootstrap)
    with tempfile.TemporaryDirectory(prefix="kafka-lab-grade-") as scratch:
        report, output = Path(scratch) / "grade.json", Path(scratch) / "pytest.log"
        workdir = Path(scratch) / "cwd"  # empty: nothing there for Python or pytest to load
        workdir.mkdir()
        prepared = prepare(submission.folder, Path(scratch))
        process = runs.start(settings.command(prepared.folder, report, bootstrap),
                             workdir, output, settings.environment())
        try:
            process.wait(settings.submission_limit)
            overran = False
        except subprocess.TimeoutExpired:
            stop(process)
            overran = True
        finally:
            runs.finished(process)
        if runs.cancelled.is_set():
            raise GradingCancelled
        refuse_a_usage_error(process.returncode, output)
        grade = read_report(report, output, overran, settings.submission_limit)
    grade.update(name=submission.name, submission=str(submission.folder),
                 broker=bootstrap or settings.own_brokers(),
                 seconds=round(time.monotonic() - started, 1))
    grade.update(prepared.annotations())
    reset_after(lane, grade)
    return grade


def read_report(report: Path, output: Path, overran: bool, limit: float) -> Grade:
    """The run's report (an interrupted run still writes what it graded), else none, with
    an ``error`` saying why grading fell short."""
    grade: Grade = dict(json.loads(report.read_text())) if report.exists() else {}
    grade.setdefault("exercises", {})
    if overran:
        grade["timed_out"] = True
        grade["error"] = (f"grading stopped after {limit:g} s, the wall-clock limit per "
                          "submission (--submission-timeout); its pytest output ended with:\n"
                          + tail(output))
    elif not report.exists():
        grade["error"] = "grading wrote no report; its pytest output ended with:\n" + tail(output)
    return grade
