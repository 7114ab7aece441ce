"""What a student reads in the terminal after ``kafka-lab check`` (or ``kafka-lab grade``
of one folder): each exercise and check with the points it earned of what it is worth,
and the first lines of each failure's message, then where the full feedback is.

It reads a gradebook row (a grade's JSON report with the gradebook's additions), in which
a check's worth is its ``max_points`` (or, in a report as pytest wrote it, its
``points``)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_kafka_lab.grading.course import EXERCISE_FILES
from pytest_kafka_lab.grading.report import MISSING

EXERCISES = sorted(EXERCISE_FILES)

# The lines of a failure's message shown under its check; the feedback holds all of it.
MESSAGE_LINES = 3
WIDTH = 100
MARKS = {"passed": "ok", "failed": "FAIL", "error": "ERROR", "missing": "--"}


def worth(check: Mapping[str, Any]) -> int:
    """What a check is worth: its ``max_points`` in a gradebook, else its ``points``."""
    return int(check.get("max_points", check.get("points", 1)))


def earned(check: Mapping[str, Any]) -> int:
    return worth(check) if check.get("status") == "passed" else 0


def message_lines(message: str, limit: int = MESSAGE_LINES) -> list[str]:
    """The first ``limit`` lines of ``message`` as the terminal shows them (wrapped at
    ``WIDTH``), with a mark where more follows."""
    wrapped = [line for paragraph in message.strip().splitlines()
               for line in textwrap.wrap(paragraph, WIDTH - 8) or [""]]
    shown = wrapped[:limit]
    if len(wrapped) > limit:
        shown[-1] += " [...]"
    return shown


def exercise_lines(key: str, exercise: Mapping[str, Any]) -> list[str]:
    checks = exercise.get("checks", [])
    total = sum(worth(check) for check in checks)
    points = sum(earned(check) for check in checks)
    title = f"{key} {exercise.get('title', '')}".strip()
    lines = [f"{title}: {exercise.get('status', '?')}, {points}/{total} points"]
    if exercise.get("status") == "missing":
        detail = next((str(c.get("message", "")) for c in checks if c.get("status") == "missing"),
                      "").removeprefix(MISSING).strip()
        absent = "    not graded: this exercise's files are absent"
        return [*lines, f"{absent} ({detail})" if detail else absent]
    for check in checks:
        mark = MARKS.get(str(check.get("status")), "?")
        lines.append(f"  {mark:5} {check.get('name')}  {earned(check)}/{worth(check)}")
        if check.get("status") != "passed":
            lines += [f"        {line}" for line in message_lines(str(check.get("message", "")))]
    return lines


def console_summary(grade: Mapping[str, Any], feedback: Path | str | None = None) -> str:
    """The grade of one submission for the terminal; ``feedback``: where its full
    feedback (every message whole, and what the grader accepts) was written."""
    exercises: Mapping[str, Mapping[str, Any]] = grade.get("exercises", {})
    lines: list[str] = []
    for key in sorted(exercises):
        lines += ["", *exercise_lines(key, exercises[key])]
    checks = [check for exercise in exercises.values() for check in exercise.get("checks", [])]
    lines += ["", f"Total: {sum(map(earned, checks))}/{sum(map(worth, checks))} points"]
    if grade.get("error"):
        lines.append(f"Grading fell short: {str(grade['error']).strip().splitlines()[0]}")
    if feedback:
        lines.append(f"Full feedback (every message whole, and what the grader accepts): "
                     f"{feedback}")
    return "\n".join(lines) + "\n"


def exercise_selection(exercises: Iterable[str] | None) -> tuple[str, ...]:
    """pytest's ``-k`` that keeps the checks of ``exercises`` alone (each exercise's
    module is ``test_exN_*.py``; no check's own name starts with ``exN_``); () for all."""
    chosen = sorted(set(exercises or ()))
    return ("-k", " or ".join(f"test_{exercise}_" for exercise in chosen)) if chosen else ()
