"""``kafka-lab grade``: its options, and what it checks before grading anything."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_kafka_lab.config import OPTIONS, LabConfig, build_config, positive_number
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
)
from pytest_kafka_lab.grading.class_runner.class_progress import LiveBar, class_progress
from pytest_kafka_lab.grading.class_runner.gradebook import (
    Gradebook,
    markdown_table,
    merge_gradebooks,
)
from pytest_kafka_lab.grading.class_runner.submission_run import RunSettings
from pytest_kafka_lab.grading.course import course_dir
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
# A run may take this many --timeout's before the submission's grading is stopped.
RUNS_PER_SUBMISSION = 15


class GradeUsageError(Exception):
    """A command line that cannot be graded; the message says what to change."""


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of 1 or more")
    return int(text)


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
    grade.add_argument("-j", "--jobs", type=positive_int, default=1, metavar="N",
                       help="grade N submissions at once, each on a broker of its own; "
                       "fewer than N submissions are each split over the spare slots "
                       "(pytest-xdist workers, a broker each)")
    grade.add_argument("--shard", type=parse_shard, metavar="K/N",
                       help="grade only the K-th of N slices of the class (sorted by folder "
                       "name): every N-th submission from the K-th")
    grade.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                       help="join the gradebooks (.json) of shards into --out; grades nothing")
    grade.add_argument("--out", type=Path, default=Path("gradebook"), metavar="PATH",
                       help="gradebook path without suffix: writes .csv and .json")
    grade.add_argument("--scenarios", type=Path, default=None, metavar="DIR",
                       help="the course's checks (default: the installed course)")
    grade.add_argument("--timeout", type=positive_seconds, default=60.0, metavar="S",
                       help="seconds one run of a submission may take (default 60)")
    grade.add_argument("--submission-timeout", type=positive_seconds, default=None,
                       metavar="S",
                       help="wall-clock seconds for grading one submission, after which it "
                       f"is stopped and its row is an error (default {RUNS_PER_SUBMISSION} "
                       "x --timeout)")
    for name, inner in SINGLE_REPORTS:
        grade.add_argument(f"--{name}", type=Path, metavar="FILE",
                           help=f"passed to pytest as {inner} (one submission only)")
    grade.add_argument("--points", type=Path, metavar="FILE",
                       help="passed to every submission's pytest as --lab-points")
    brokers = grade.add_argument_group("brokers (as pytest's --kafka-* options)")
    for option in BROKER_OPTIONS:
        action = "append" if option.kind == "linelist" else "store"
        brokers.add_argument(option.flag, dest=f"kafka_{option.name}", action=action,
                             metavar=option.name.upper(), help=option.help.replace("%", "%%"))
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
        if not args.points.is_file():
            raise GradeUsageError(f"--points {args.points}: no such file")
        options += ["--lab-points", str(args.points.resolve())]
    for name, inner in SINGLE_REPORTS:
        if getattr(args, name):
            options += [inner, str(getattr(args, name).resolve())]
    return tuple(options)


def scenarios_folder(args: argparse.Namespace) -> Path:
    scenarios: Path = (args.scenarios or course_dir()).resolve()
    if not list(scenarios.glob("test_ex*.py")):
        raise GradeUsageError(f"{scenarios} holds no exercise scenarios (test_ex*.py); point "
                              "--scenarios at the course's checks, or leave it out to use the "
                              "installed course")
    return scenarios


def chosen_submissions(args: argparse.Namespace) -> list[Submission]:
    """The class, named and sorted, and of it this shard."""
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
    refusal = refusal_of_jobs(config, args.jobs)
    if refusal:
        raise GradeUsageError(refusal)
    limit = args.submission_timeout or RUNS_PER_SUBMISSION * args.timeout
    settings = RunSettings(scenarios_folder(args), args.timeout, limit,
                           inner_options(args, config),
                           step_summary_per_run=len(submissions) == 1,
                           workers=workers_per_submission(config, args.jobs, len(submissions)),
                           broker_args=local_broker_options(config))
    return ClassGrading(submissions, settings, config, args.jobs)


def run_grade(args: argparse.Namespace) -> int:
    try:
        if args.merge:
            if args.submissions:
                raise GradeUsageError("--merge joins gradebooks and grades nothing: give "
                                      "either submission folders or --merge, not both")
            table, full = merge_gradebooks(args.merge, args.out)
        else:
            table, full = grade_chosen(grading_of(args), args.out, args.shard)
    except GradeUsageError as error:
        print(f"kafka-lab grade: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        book = Gradebook(args.out)
        print(f"\nkafka-lab grade: interrupted; every run and broker is stopped, and "
              f"{book.table} and {book.full} hold the grades known so far", file=sys.stderr)
        return 130
    print(f"Gradebook: {table} and {full}")
    return 0


def grade_chosen(grading: ClassGrading, out: Path, shard: Shard | None) -> tuple[Path, Path]:
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
        grade_class(grading, book, progress, broker_status)
    finally:  # interrupted or not, the gradebook ends sorted with what is known
        paths = book.finish()
        if not grading.settings.step_summary_per_run:
            append_step_summary(markdown_table(book.grades))
    return paths


def append_step_summary(text: str) -> None:
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as page:
            page.write(text)
