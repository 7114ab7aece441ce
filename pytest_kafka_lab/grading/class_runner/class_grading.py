"""A class graded by ``kafka-lab grade -j N``: up to N submissions at once, each on a
broker of its own.

The course's topic and group names are fixed, so two gradings on one broker would reset
and read each other's topics. Each of the N slots has its broker (built by ``broker_for``
from the command's ``--kafka-*`` options) and grades one submission after another on it;
every exercise starts by resetting the course's topics and groups, so a submission finds
nothing of the one before. A broker whose run overran the wall-clock limit is stopped
(a fresh one takes its place if submissions remain): whatever the killed run left behind,
members and open transactions, goes with it.

With fewer submissions than slots (one submission and ``-j 2``, say), the spare slots are
not left idle: each submission's exercises are split over ``-j`` ÷ submissions pytest-xdist
workers, each grading on a local broker of its own (``workers_per_submission``).

Nothing outlives the command: Ctrl-C or a crash stops every pytest run, then every broker.
"""

from __future__ import annotations

import importlib.util
import logging
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pytest_kafka_lab.backends import KafkaBroker, broker_for
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.grading.class_runner.class_list import Submission
from pytest_kafka_lab.grading.class_runner.class_progress import ClassProgress
from pytest_kafka_lab.grading.class_runner.gradebook import Grade, Gradebook
from pytest_kafka_lab.grading.class_runner.submission_files import nothing_to_grade, ungraded
from pytest_kafka_lab.grading.class_runner.submission_run import (
    GradingCancelled,
    GradingRefused,
    Runs,
    RunSettings,
    grade_submission,
)
from pytest_kafka_lab.grading.course import EXERCISE_FILES

LOG = logging.getLogger(__name__)


def refusal_of_jobs(config: LabConfig, jobs: int) -> str | None:
    """Why ``-j jobs`` cannot grade on the brokers ``config`` asks for, or None."""
    if jobs < 2:
        return None
    if config.backend == "external":
        return (f"-j {jobs} cannot grade on one existing cluster (--kafka-bootstrap "
                f"{config.bootstrap}): the course's topic and group names are fixed, so "
                "submissions graded at once there would reset and read each other's topics. "
                "Grade one at a time on it (-j 1), or split the class with --shard K/N over "
                "jobs that each have a broker of their own (docs/grading-a-class.md).")
    if config.port:
        return (f"-j {jobs} starts {jobs} brokers, which cannot all listen on --kafka-port "
                f"{config.port}: leave the port out (each takes a free one), or use -j 1")
    return None


def workers_per_submission(config: LabConfig, jobs: int, submissions: int) -> int:
    """Over how many pytest-xdist workers each submission's exercises are split: the slots
    that fewer submissions than ``jobs`` leave spare, on local single-node brokers (one a
    worker) and where pytest-xdist is installed; else one, on the slot's broker."""
    if (submissions >= jobs or config.backend != "local" or config.brokers != 1
            or importlib.util.find_spec("xdist") is None):
        return 1
    return min(jobs // max(submissions, 1), len(EXERCISE_FILES))


def local_broker_options(config: LabConfig) -> tuple[str, ...]:
    """The ``--kafka-*`` options a run's workers start their local brokers with."""
    options = ["--kafka-heap", config.heap, "--kafka-jit", config.jit,
               "--kafka-start-timeout", f"{config.start_timeout:g}"]
    for key, value in config.broker_properties:
        options += ["--kafka-broker-properties", f"{key}={value}"]
    return tuple(options)


class BrokerSlots(AbstractContextManager["BrokerSlots"]):
    """The brokers of one grading of a class. They are started from the thread that
    enters this (a local broker dies with the thread that started it) and all stopped on
    leaving it, however it is left; a failure to stop one is logged, not raised over the
    error that may be on its way out."""

    def __init__(self, config: LabConfig, progress: Any = None) -> None:
        self.config = config
        self.progress = progress
        self.started: list[KafkaBroker] = []
        self.idle: list[KafkaBroker] = []

    def add(self) -> KafkaBroker:
        broker = broker_for(self.config, self.progress).__enter__()
        self.started.append(broker)
        return broker

    def retire(self, broker: KafkaBroker) -> None:
        """Stop ``broker`` (a fresh one starts if more submissions wait); an existing
        cluster is not ours to stop, and goes back to work as it is."""
        if self.config.backend == "external":
            self.idle.append(broker)
            return
        self.started.remove(broker)
        self.stop(broker)

    @staticmethod
    def stop(broker: KafkaBroker) -> None:
        try:
            broker.__exit__(None, None, None)
        except Exception:
            LOG.exception("stopping the Kafka broker at %s failed", broker.bootstrap_servers)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        while self.started:
            self.stop(self.started.pop())


@dataclass(frozen=True)
class ClassGrading:
    """What ``kafka-lab grade`` was asked to grade, and how."""

    submissions: list[Submission]
    settings: RunSettings
    config: LabConfig
    jobs: int = 1


def graded_safely(submission: Submission, bootstrap: str | None, settings: RunSettings,
                  runs: Runs) -> Grade:
    """``grade_submission``, with a crash of the grader itself kept to this row."""
    try:
        return grade_submission(submission, bootstrap, settings, runs)
    except (GradingCancelled, GradingRefused):
        raise
    except Exception as error:
        LOG.exception("grading %s crashed", submission.name)
        return {"name": submission.name, "submission": str(submission.folder),
                "broker": bootstrap or settings.own_brokers(), "exercises": {},
                "error": f"the grader crashed on this submission: {error!r}"}


class ClassGrader:
    """One grading of a class under way: what waits, what runs on which broker, what is
    done. Driven from one thread, which also starts the brokers."""

    def __init__(self, grading: ClassGrading, book: Gradebook, progress: ClassProgress,
                 slots: BrokerSlots, pool: ThreadPoolExecutor, runs: Runs) -> None:
        self.grading, self.book, self.progress = grading, book, progress
        self.slots, self.pool, self.runs = slots, pool, runs
        self.pending = deque(grading.submissions)
        self.running: dict[Future[Grade], tuple[Submission, KafkaBroker | None]] = {}
        self.grades: list[Grade] = []

    def run(self) -> list[Grade]:
        self.note_nothing_to_grade()
        while self.pending or self.running:
            self.start_while_brokers_allow()
            self.collect_finished()
        return self.grades

    def note_nothing_to_grade(self) -> None:
        """Grade at once, with no run and no broker, the folders that hold none of the
        course's files: their note says what they hold."""
        for submission in list(self.pending):
            note = nothing_to_grade(submission.folder)
            if note is None:
                continue
            self.pending.remove(submission)
            grade = ungraded(submission.name, submission.folder, note)
            self.progress.started(submission.name)
            self.grades.append(grade)
            self.book.add(grade)
            self.progress.finished(submission.name, grade)

    def start_while_brokers_allow(self) -> None:
        """Give each idle broker a submission, starting brokers up to ``jobs``: one by
        one, while the first ones already grade."""
        if self.grading.settings.workers > 1:  # fewer than the slots: all at once
            while self.pending:
                self.start(self.pending.popleft(), None)
            return
        slots = self.slots
        while self.pending and (slots.idle or len(slots.started) < self.grading.jobs):
            broker = slots.idle.pop() if slots.idle else slots.add()
            self.start(self.pending.popleft(), broker)

    def start(self, submission: Submission, broker: KafkaBroker | None) -> None:
        self.progress.started(submission.name)
        future = self.pool.submit(graded_safely, submission,
                                  broker.bootstrap_servers if broker else None,
                                  self.grading.settings, self.runs)
        self.running[future] = (submission, broker)

    def collect_finished(self) -> None:
        done, _ = wait(self.running, return_when=FIRST_COMPLETED)
        for future in done:
            submission, broker = self.running.pop(future)
            grade = future.result()
            self.grades.append(grade)
            self.book.add(grade)
            self.progress.finished(submission.name, grade)
            if broker is None:  # its run's own brokers ended with it
                continue
            if grade.get("timed_out"):
                self.slots.retire(broker)
            else:
                self.slots.idle.append(broker)


def grade_class(grading: ClassGrading, book: Gradebook, progress: ClassProgress,
                broker_status: Any = None) -> list[Grade]:
    """Grade every submission, ``grading.jobs`` at a time; each grade goes into ``book``
    and ``progress`` as it is known. Returns the grades in the order they finished."""
    runs = Runs()
    with (BrokerSlots(grading.config, broker_status) as slots,
          ThreadPoolExecutor(grading.jobs, "kafka-lab-grade") as pool,
          progress):
        try:
            return ClassGrader(grading, book, progress, slots, pool, runs).run()
        except BaseException:
            runs.cancel()  # before the pool and the brokers are left: nothing waits on them
            raise
