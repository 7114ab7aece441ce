"""``kafka-lab grade``: its options, and what it checks before grading anything."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_kafka_lab.config import (
    LAB_TIMEOUT,
    OPTIONS,
    LabConfig,
    build_config,
    positive_number,
)
from pytest_kafka_lab.exceptions import KafkaLabError
from pytest_kafka_lab.grading.class_runner.class_grading import (
    ClassGrading,
    grade_class,
    local_broker_options,
    refusal_of_jobs,
    workers_per_submission,
)
from pytest_kafka_lab.grading.class_runner.class_list import (
    Shard,
    Submission,
    class_list,
    parse_shard,
    sort_key,
)
from pytest_kafka_lab.grading.class_runner.class_progress import LiveBar, class_progress
from pytest_kafka_lab.grading.class_runner.console_summary import (
    EXERCISES,
    console_summary,
    exercise_selection,
)
from pytest_kafka_lab.grading.class_runner.grade_outcome import (
    TERMINATED,
    Terminated,
    grader_failures,
    sigterm_as_interrupt,
    step_summary,
    unreachable,
    usable_cores,
    write_not_graded,
)
from pytest_kafka_lab.grading.class_runner.gradebook import (
    Grade,
    Gradebook,
    GradebookError,
    markdown_table,
    merge_gradebooks,
)
from pytest_kafka_lab.grading.class_runner.submission_run import GradingRefused, RunSettings
from pytest_kafka_lab.grading.course import course_dir
from pytest_kafka_lab.grading.report import read_points
from pytest_kafka_lab.progress import status

DESCRIPTION = """Grade submission folders into a gradebook (.csv and .json).

    kafka-lab grade DIR...                       the class, one at a time, on one broker
    kafka-lab grade -j 4 DIR...                  four at once, each on a broker of its own
    kafka-lab grade -j 2 DIR                     one, its exercises split over two workers
    kafka-lab grade --shard 2/3 DIR...           the second of three slices of the class
    kafka-lab grade --merge book-*.json --out gradebook    the slices' gradebooks as one

Brokers come from the same --kafka-* options as in pytest: a class can be graded on an
existing cluster (--kafka-bootstrap HOST:PORT, one submission at a time), on local
clusters (--kafka-brokers 3) or in containers (--kafka-backend container).
Submissions are named and sorted by folder name (see docs/grading-a-class.md).
"""

# --kafka-reuse leaves a broker running after the command by design: grading starts and
# stops its own, so it is not offered here.
BROKER_OPTIONS = tuple(option for option in OPTIONS if option.name != "reuse")
# The grade's reports of one submission: (option of kafka-lab grade, option of pytest).
SINGLE_REPORTS = (("gradescope", "--lab-gradescope"), ("classroom", "--lab-classroom"),
                  ("feedback", "--lab-feedback"), ("junit", "--junitxml"))
AUTO = "auto"
# A run may take this many --timeout's before the submission's grading is stopped.
RUNS_PER_SUBMISSION = 15


class GradeUsageError(Exception):
    """A command line that cannot be graded; the message says what to change."""


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of 1 or more")
    return int(text)


def jobs_value(text: str) -> int | str:
    """``-j``: a whole number, or ``auto`` (``resolved_jobs``)."""
    return AUTO if text == AUTO else positive_int(text)


def resolved_jobs(jobs: int | str, config: LabConfig) -> int:
    """``-j auto``: the machine's cores, but one at a time on an existing cluster or a
    fixed port, where brokers cannot be one per slot."""
    if jobs != AUTO:
        return int(jobs)
    if config.backend == "external" or config.port:
        return 1
    return usable_cores()


def positive_seconds(text: str) -> float:
    """pytest's reading of seconds (``config.positive_number``), for argparse, which names
    the option itself."""
    try:
        return positive_number(text, "")
    except pytest.UsageError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a positive number of seconds") from None


def add_grade_parser(commands: Any) -> None:
    """Declare ``kafka-lab grade`` on the subcommands of ``kafka-lab``."""
    grade = commands.add_parser(
        "grade", help="grade submission folders into a gradebook", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    grade.add_argument("submissions", nargs="*", type=Path, metavar="DIR",
                       help="submission folders (named by folder name; see --shard)")
    grade.add_argument("-j", "--jobs", type=jobs_value, default=AUTO, metavar="N",
                       help="grade N submissions at once, each on a broker of its own; "
                       "fewer than N submissions are each split over the spare slots "
                       "(pytest-xdist workers, a broker each). Default: auto, the "
                       "machine's cores (1 on an existing cluster or a fixed --kafka-port)")
    grade.add_argument("--shard", type=parse_shard, metavar="K/N",
                       help="grade only the K-th of N slices of the class (sorted by folder "
                       "name): every N-th submission from the K-th")
    grade.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                       help="join the gradebooks (.json) of shards into --out; grades nothing")
    grade.add_argument("--out", type=Path, default=Path("gradebook"), metavar="PATH",
                       help="gradebook path without suffix: writes .csv and .json")
    grade.add_argument("--scenarios", type=Path, default=None, metavar="DIR",
                       help="the course's checks (default: the installed course)")
    grade.add_argument("--timeout", type=positive_seconds, default=LAB_TIMEOUT.typed_default,
                       metavar="S", help=LAB_TIMEOUT.full_help)  # pytest's --lab-timeout
    grade.add_argument("--submission-timeout", type=positive_seconds, default=None,
                       metavar="S",
                       help="wall-clock seconds for grading one submission, after which it "
                       f"is stopped and its row is an error (default {RUNS_PER_SUBMISSION} "
                       "x --timeout)")
    for name, inner in SINGLE_REPORTS:
        grade.add_argument(f"--{name}", type=Path, metavar="FILE",
                           help=f"passed to pytest as {inner} (one submission only)")
    grade.add_argument("--exercise", nargs="+", action="extend", choices=EXERCISES,
                       metavar="EX", help="grade only these exercises (ex1 ... ex6)")
    grade.add_argument("--points", type=Path, metavar="FILE",
                       help="passed to every submission's pytest as --lab-points")
    brokers = grade.add_argument_group("brokers (as pytest's --kafka-* options)")
    for option in BROKER_OPTIONS:
        action = "append" if option.kind == "linelist" else "store"
        brokers.add_argument(option.flag, dest=f"kafka_{option.name}", action=action,
                             metavar=option.name.upper(), help=option.full_help.replace("%", "%%"))
    grade.set_defaults(run=run_grade)


def broker_config(args: argparse.Namespace) -> LabConfig:
    """The ``--kafka-*`` options (then their environment variables) as pytest reads them."""
    values = {}
    for option in BROKER_OPTIONS:
        value = getattr(args, f"kafka_{option.name}")
        if value is None and option.env:
            value = os.environ.get(option.env)
        values[option.name] = value
    try:
        return build_config(values, rootdir=Path.cwd())
    except pytest.UsageError as error:
        raise GradeUsageError(str(error)) from error


def inner_options(args: argparse.Namespace, config: LabConfig) -> tuple[str, ...]:
    """Options every submission's pytest gets besides the broker's address."""
    options = ["--kafka-cache-dir", str(config.cache_dir.resolve())]
    if config.home:
        options += ["--kafka-home", str(config.home.resolve())]
    if config.client_config:
        options += ["--kafka-client-config", str(config.client_config.resolve())]
    if args.points:
        try:  # judged here, once, rather than refused by every submission's run
            read_points(args.points, "--points")
        except ValueError as error:
            raise GradeUsageError(str(error)) from None
        options += ["--lab-points", str(args.points.resolve())]
    for name, inner in SINGLE_REPORTS:
        if getattr(args, name):
            options += [inner, str(getattr(args, name).resolve())]
    return (*options, *exercise_selection(args.exercise))


def scenarios_folder(args: argparse.Namespace) -> Path:
    scenarios: Path = (args.scenarios or course_dir()).resolve()
    if not list(scenarios.glob("test_ex*.py")):
        raise GradeUsageError(f"{scenarios} holds no exercise scenarios (test_ex*.py); point "
                              "--scenarios at the course's checks, or leave it out to use the "
                              "installed course")
    return scenarios


def chosen_submissions(args: argparse.Namespace) -> list[Submission]:
    """The class, named and sorted, and of it this shard."""
    files = [str(path) for path in args.submissions if path.is_file()]
    if files:
        raise GradeUsageError(
            f"{', '.join(files)}: a file, where a submission is a folder; give the folder "
            "that holds the exercise files (for files in the current folder: .)")
    missing = [str(folder) for folder in args.submissions if not folder.is_dir()]
    if missing:
        raise GradeUsageError(f"no such submission folder(s): {', '.join(missing)}")
    everyone = class_list(args.submissions)
    chosen = args.shard.of(everyone) if args.shard else everyone
    single = [f"--{name}" for name, _ in SINGLE_REPORTS if getattr(args, name)]
    if single and len(chosen) != 1:
        raise GradeUsageError(f"{', '.join(single)} write(s) the report of one submission, "
                              f"and {len(chosen)} are to be graded: grade them one at a time")
    return chosen


def grading_of(args: argparse.Namespace) -> ClassGrading:
    """Everything ``kafka-lab grade DIR...`` needs, checked before any broker starts."""
    if not args.submissions:
        raise GradeUsageError("name the submission folders to grade (or --merge gradebooks)")
    submissions = chosen_submissions(args)
    config = broker_config(args)
    args.jobs = resolved_jobs(args.jobs, config)
    refusal = refusal_of_jobs(config, args.jobs)
    if refusal:
        raise GradeUsageError(refusal)
    if config.backend == "external" and config.bootstrap:
        problem = unreachable(config.bootstrap)
        if problem:
            raise GradeUsageError(problem)
    limit = args.submission_timeout or RUNS_PER_SUBMISSION * args.timeout
    settings = RunSettings(scenarios_folder(args), args.timeout, limit,
                           inner_options(args, config),
                           step_summary_per_run=False,  # the command writes it
                           workers=workers_per_submission(config, args.jobs, len(submissions)),
                           broker_args=local_broker_options(config))
    return ClassGrading(submissions, settings, config, args.jobs)


def run_grade(args: argparse.Namespace) -> int:
    """``kafka-lab grade``: 0 when every submission was graded (whatever points it lost),
    1 when the grader failed on one (its reason said, the gradebook written all the
    same), 2 for a command line it refuses, 130 or 143 when interrupted or terminated."""
    with sigterm_as_interrupt():
        try:
            if args.merge:
                if args.submissions:
                    raise GradeUsageError("--merge joins gradebooks and grades nothing: give "
                                          "either submission folders or --merge, not both")
                table, full = merge_gradebooks(args.merge, args.out)
                print(f"Gradebook: {table} and {full}")
                return 0
            return graded_and_told(args, grading_of(args))
        except (GradeUsageError, GradingRefused, GradebookError) as error:
            return failed(args, str(error), 2)
        except KafkaLabError as error:  # a broker that would not start, say
            return failed(args, str(error), 1)
        except KeyboardInterrupt as interrupt:
            book = Gradebook(args.out)
            held = (f"{book.table} and {book.full} hold the grades known so far"
                    if book.full.exists() else "no grade was known yet")
            how = "terminated" if isinstance(interrupt, Terminated) else "interrupted"
            print(f"\nkafka-lab grade: {how}; every run and broker is stopped, and {held}",
                  file=sys.stderr)
            return TERMINATED if isinstance(interrupt, Terminated) else 130


def single_reports(args: argparse.Namespace) -> dict[str, Path | None]:
    return {name: getattr(args, name, None) for name, _ in SINGLE_REPORTS}


def failed(args: argparse.Namespace, reason: str, code: int, detail: str = "") -> int:
    """Say why grading failed, on stderr and (a single submission's) in the reports that
    a platform reads; the exit status ``code``."""
    print(f"kafka-lab grade: {reason}", file=sys.stderr)
    if not args.merge:
        write_not_graded(single_reports(args), reason, grader_fault=True, detail=detail)
    return code


def graded_and_told(args: argparse.Namespace, grading: ClassGrading) -> int:
    """Grade, write the gradebook and GitHub's job summary, and say what failed."""
    grades, (table, full) = grade_chosen(grading, args.out, args.shard)
    single = len(grading.submissions) == 1
    if single and grades:
        append_step_summary(step_summary(grades[0]))
        if grades[0].get("nothing_to_grade"):
            write_not_graded(single_reports(args), grades[0]["note"], grader_fault=False)
    elif grades:
        append_step_summary(markdown_table(sorted(grades, key=lambda g: sort_key(g["name"]))))
    print(f"Gradebook: {table} and {full}")
    if single and grades:
        print(console_summary(grades[0], args.feedback), end="")
    failures = grader_failures(grades)
    if not failures:
        return 0
    return failed(args, f"the grader failed on {len(failures)} submission(s), whose rows "
                  "say so (a fault of the grader or the machine, not of the students): "
                  + "; ".join(failures), 1,
                  detail=str(grades[0].get("error", "")) if single else "")


def grade_chosen(grading: ClassGrading, out: Path, shard: Shard | None
                 ) -> tuple[list[Grade], tuple[Path, Path]]:
    """The grades (as the runs reported them), and the gradebook's files. A grading
    that fails before any grade (a run refused, a broker that would not start) leaves no
    gradebook behind; one interrupted leaves what is known."""
    if shard:
        print(f"Shard {shard}: {len(grading.submissions)} submission(s) of the class.")
    book = Gradebook(out)
    book.start()
    progress = class_progress(len(grading.submissions))
    # A broker's start status would fight the live bar for the terminal; plain lines
    # have room for it.
    broker_status = None if isinstance(progress, LiveBar) else (
        lambda first: status(None, first))
    try:
        grades = grade_class(grading, book, progress, broker_status)
    except Exception:
        if not book.grades:
            book.discard()
            raise
        book.finish()
        raise
    except BaseException:  # interrupted: the gradebook ends sorted with what is known
        book.finish()
        raise
    return grades, book.finish()


def append_step_summary(text: str) -> None:
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as page:
            page.write(text)
