"""The grade of one submission: per exercise a status, points, and every check; and the
course's points per check, read from a TOML file."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sysconfig
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

STATUSES = ("passed", "failed", "error", "missing")
# What a check's verdict can rest on, and how a report names it.
EVIDENCE = {
    "broker": "what the broker holds, read by the grader's own clients",
    "wire": "what the run's clients sent and were sent, recorded by the grader's proxy",
    "calls": "calls of the course's functions, reported to the grader's own channel "
             "and stamped there; injected failures decided by the grader",
    "output": "what the run printed, read by the grader",
    "report": "what the run reported of itself (configuration, callbacks, commit() "
              "calls), believed only where the wire and its output do not contradict it",
}
MISSING = "missing:"

# Points per check: {exercise: {check: points}}.
Points = dict[str, dict[str, int]]


@dataclass
class Check:
    name: str
    status: str  # passed, failed, error or missing
    message: str = ""
    points: int = 1  # what the check is worth; earned only when it passed
    duration: float = 0.0  # seconds of its setup, call and teardown
    # What the verdict rests on (``EVIDENCE``): seen by the grader outside the run, or
    # reported by the run (and then held against the wire and its output).
    evidence: list[str] = field(default_factory=list)

    @property
    def earned(self) -> int:
        return self.points if self.status == "passed" else 0


@dataclass
class Exercise:
    id: str
    title: str = ""
    checks: list[Check] = field(default_factory=list)

    @property
    def status(self) -> str:
        """missing if its files are absent, error if it could not run, failed if any
        check failed, passed if every check passed."""
        statuses = {check.status for check in self.checks}
        for status in ("missing", "error", "failed"):
            if status in statuses:
                return status
        return "passed"

    @property
    def points(self) -> int:
        return sum(check.earned for check in self.checks)

    @property
    def max_points(self) -> int:
        return sum(check.points for check in self.checks)

    @property
    def name(self) -> str:
        """``ex1 producer basics``: how platforms and pages name the exercise."""
        return f"{self.id} {self.title}".strip()

    def failures(self) -> list[Check]:
        """The checks that cost points, the ones to read first first: errors (it could
        not run) before failures, the costliest before the cheaper."""
        rank = {"error": 0, "failed": 1, "missing": 2}
        lost = [check for check in self.checks if check.status != "passed"]
        return sorted(lost, key=lambda check: (rank.get(check.status, 3), -check.points))

    def failure_groups(self) -> list[list[Check]]:
        """``failures()``, with the checks that failed alike together (one status, one
        message): an exercise that could not run fails every check with one message."""
        groups: dict[tuple[str, str], list[Check]] = {}
        for check in self.failures():
            groups.setdefault((check.status, check.message), []).append(check)
        return list(groups.values())

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "status": self.status, "points": self.points,
                "max_points": self.max_points, "checks": [asdict(c) for c in self.checks]}


@dataclass
class Grade:
    submission: str
    exercises: dict[str, Exercise] = field(default_factory=dict)
    # The layers of isolation the runs had ({"in_force": [...], "refused": {layer: why}}),
    # as the sandbox reported them; empty when no run said.
    isolation: dict[str, Any] = field(default_factory=dict)

    def exercise(self, exercise_id: str, title: str = "") -> Exercise:
        return self.exercises.setdefault(exercise_id, Exercise(exercise_id, title))

    @property
    def points(self) -> int:
        return sum(exercise.points for exercise in self.exercises.values())

    @property
    def max_points(self) -> int:
        return sum(exercise.max_points for exercise in self.exercises.values())

    def ordered(self) -> list[Exercise]:
        return [self.exercises[key] for key in sorted(self.exercises)]

    def worst_first(self) -> list[Exercise]:
        """The exercises that lost the most points first (then by id): what a student
        should look at first."""
        return sorted(self.ordered(), key=lambda e: -(e.max_points - e.points))

    def as_dict(self) -> dict[str, Any]:
        return {"submission": self.submission, "points": self.points,
                "max_points": self.max_points,
                **({"isolation": self.isolation} if self.isolation else {}),
                "exercises": {e.id: e.as_dict() for e in self.ordered()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grade:
        """A grade back from its JSON report (``as_dict``), for tools that read reports,
        such as ``kafka-lab grade``; fields a report lacks keep their defaults."""
        known = {f.name for f in fields(Check)}
        grade = cls(str(data["submission"]), isolation=dict(data.get("isolation") or {}))
        for key, exercise in data.get("exercises", {}).items():
            grade.exercise(key, exercise.get("title", "")).checks.extend(
                Check(**{k: v for k, v in check.items() if k in known})
                for check in exercise.get("checks", []))
        return grade

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")

    def markdown(self) -> str:
        """A summary for GitHub's job page: each exercise's points, worst first, then each
        check that cost points with its message."""
        lines = [f"### Kafka lab grade: `{self.submission}`: {self.points}/{self.max_points}"
                 " points", "", "| exercise | status | points |", "|---|---|---|"]
        lines += [f"| {e.name} | {e.status} | {e.points}/{e.max_points} |"
                  for e in self.worst_first()]
        for exercise in self.worst_first():
            if exercise.status == "passed":
                continue
            lines += ["", f"**{exercise.name}**: {exercise.points}/{exercise.max_points}"]
            if exercise.status == "missing":
                lines.append(f"- {missing_text(exercise)}")
                continue
            lines += [f"- {group[0].status} {', '.join(f'`{c.name}`' for c in group)} "
                      f"(0/{sum(c.points for c in group)}): "
                      f"{escape_markdown(first_line(group[0].message))}"
                      for group in exercise.failure_groups()]
        return "\n".join(lines) + "\n"


def first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""


def escape_markdown(text: str) -> str:
    """Text shown as is: ``<stdin>`` would otherwise be swallowed as an HTML tag, and a
    ``|`` would end a table cell."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace("|", "\\|")


def missing_text(exercise: Exercise) -> str:
    """What a missing exercise tells the student: which files the grader looked for."""
    detail = next((c.message for c in exercise.checks if c.status == "missing"), "")
    detail = detail.removeprefix(MISSING).strip()
    return ("not graded: the submission does not have this exercise's files"
            + (f" ({detail})" if detail else ""))


# --- the grader's own stack frames, kept out of what a student reads -------------------


@functools.lru_cache(maxsize=1)
def grader_roots() -> tuple[str, ...]:
    """Where the grader's code lives: this package, the course's checks (``scenarios/``
    of a checkout is outside the package), Python's library and installed packages. The
    submission runs from a copy in a scratch folder, never in one of these."""
    folders = [Path(__file__).parent.parent]
    course = importlib.util.find_spec("pytest_kafka_lab.course")
    if course is not None and course.submodule_search_locations:
        folders += [Path(folder) for folder in course.submodule_search_locations]
    paths = sysconfig.get_paths()
    folders += [Path(paths[name]) for name in ("stdlib", "platstdlib", "purelib", "platlib")]
    return tuple(str(folder.resolve()) for folder in folders)


# A run's copy of the submission (sandbox.py): its files shown as the student knows them.
SCRATCH_COPY = re.compile(r"/[^\s\"']*/kafka-lab-grading-[^/\s]+/run-\d+/submission/")
# The run library: the grader's in-process code, copied for the run (``run_library``).
RUN_LIBRARY = re.compile(r"/kafka-lab-grading-[^/\s]+/lib/")
FRAME = re.compile(r'^(?P<indent>\s*)File "(?P<path>[^"]+)", line \d+')
LOCATION = re.compile(r"^(?P<path>/\S+?\.py):\d+:")


def graders_path(path: str) -> bool:
    """Whether a traceback's file is the grader's (this package, Python's library, the
    installed packages) rather than the student's, whose files are the submission's."""
    if path.startswith("<frozen "):
        return True  # Python's own machinery (<frozen runpy>); <string> may be the student's
    if RUN_LIBRARY.search(path):
        return True
    resolved = str(Path(path).resolve()) if Path(path).is_absolute() else path
    return any(resolved.startswith(root + "/") for root in grader_roots())


def without_grader_frames(text: str) -> str:
    """``text`` with the frames of the grader's own code taken out of every traceback
    (a frame's ``File ...`` line, and its source and caret lines below it): a student's
    own frames, which point at the mistake, stay, with their file named as in the
    submission rather than in the run's scratch copy."""
    kept: list[str] = []
    skip_below: int | None = None  # indent of a dropped frame line, while in its body
    for line in text.splitlines():
        if skip_below is not None:
            indent = len(line) - len(line.lstrip())
            if line.strip() and indent > skip_below:
                continue
            skip_below = None
        frame = FRAME.match(line)
        if frame and graders_path(frame["path"]):
            skip_below = len(frame["indent"])
            continue
        location = LOCATION.match(line)
        if location and graders_path(location["path"]):
            continue
        kept.append(line)
    return SCRATCH_COPY.sub("", "\n".join(drop_empty_tracebacks(kept)))


TRACEBACK = "Traceback (most recent call last):"


def drop_empty_tracebacks(lines: list[str]) -> list[str]:
    """A ``Traceback (most recent call last):`` whose frames were all the grader's says
    nothing: the exception line below it stays. A header cut short by the tail of an
    output (``t recent call last):``) is made whole."""
    kept = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if len(line.strip()) > 10 and TRACEBACK.endswith(line.strip()):
            if not FRAME.match(following):
                continue
            line = TRACEBACK
        kept.append(line)
    return kept


# --- points per check ------------------------------------------------------------------


def read_points(path: Path, option: str = "--lab-points") -> Points:
    """``{exercise: {check: points}}`` from a TOML file such as

        [ex5]
        dead_letter_headers_describe_the_failure = 2

    Raises ``ValueError`` naming the file and the bad entry when the file cannot be read or
    a value is not a positive whole number. Exercise and check names are checked later,
    against the checks collected (``unknown_points``)."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"{option} {path}: cannot be read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{option} {path}: not valid TOML ({error})") from None
    points: Points = {}
    for exercise, checks in data.items():
        if not isinstance(checks, dict):
            raise ValueError(
                f"{option} {path}: {exercise} = {checks!r} is not a table; write a table "
                f"per exercise, e.g. [{exercise}] then one line per check: name = points")
        for check, value in checks.items():
            # bool is an int to Python, and 2.0 is not a whole number to TOML.
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"{option} {path}: [{exercise}] {check} = {json.dumps(value, default=str)}"
                    ": points must be a positive whole number (1, 2, ...)")
        points[exercise] = dict(checks)
    return points


def unknown_points(points: Points, checks: Mapping[str, Iterable[str]],
                   course: Iterable[str] = ()) -> str | None:
    """Why ``points`` does not fit the collected ``checks`` ({exercise: names}), or None.

    An exercise of the course (``course``) that this run does not collect is not graded
    here, so its entries cannot cost anything and are let be: one file serves the whole
    course, and a run of one exercise."""
    exercises = sorted(set(checks) | set(course))
    for exercise, weights in points.items():
        if exercise not in exercises:
            return (f"no exercise [{exercise}] in the course; its exercises are: "
                    + ", ".join(exercises))
        names = sorted(checks.get(exercise, ()))
        for check in weights:
            if names and check not in names:
                return (f"[{exercise}] has no check {check!r}; the checks of {exercise} are: "
                        + ", ".join(names))
    return None
