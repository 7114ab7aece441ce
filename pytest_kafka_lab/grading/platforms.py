"""A grade in the formats that course platforms read, and as feedback for the student.

Pure functions from a ``Grade`` to dicts and text, so that the pytest plugin and
``kafka-lab grade`` write the same files:

- ``gradescope_results``: Gradescope's autograder ``results.json``
  (https://gradescope-autograders.readthedocs.io/en/latest/specs/).
- ``classroom_result``: the result a GitHub Classroom grader step gives the autograding
  reporter (``classroom-resources/autograding-grading-reporter``) as its output
  ``result``, base64-encoded (``classroom_output``).
- ``feedback_markdown``: what a student reads in their repository: what cost points,
  worst first, each with a link to the README's account of what the grader accepts.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from pytest_kafka_lab.grading.course import EXERCISE_FILES
from pytest_kafka_lab.grading.readings import readings
from pytest_kafka_lab.grading.report import (
    Check,
    Exercise,
    Grade,
    escape_markdown,
    first_line,
    missing_text,
    without_grader_frames,
)

# The README section that says what the grader accepts, with a heading per exercise
# ("#### ex1, producer basics", as the exercise's marker names it).
README_SECTION = "Readings the grader accepts"


def student_text(exercise: Exercise, check: Check) -> str:
    """A check's outcome in words for the student, without the grader's stack frames."""
    if check.status == "passed":
        return "passed"
    if check.status == "missing":
        return missing_text(exercise)
    return without_grader_frames(check.message).strip()


def exercise_number(exercise: Exercise, position: int) -> str:
    """``1`` for ``ex1``; an exercise not named ``exN`` gets its place in the grade."""
    digits = exercise.id.removeprefix("ex")
    return digits if digits.isdigit() else str(position)


# --- Gradescope --------------------------------------------------------------------------


def gradescope_results(grade: Grade) -> dict[str, Any]:
    """Gradescope's ``results.json``: the total ``score`` and one test per check. Every
    test is ``visible``: a student's feedback is the point of the checks' messages."""
    tests = [gradescope_test(exercise, exercise_number(exercise, place), number, check)
             for place, exercise in enumerate(grade.ordered(), 1)
             for number, check in enumerate(exercise.checks, 1)]
    summary = "\n".join(f"{e.name}: {e.points}/{e.max_points} points ({e.status})"
                        for e in grade.worst_first())
    return {
        "score": grade.points,
        "execution_time": round(sum(c.duration for e in grade.ordered() for c in e.checks)),
        "output": summary,
        "output_format": "text",
        "tests": tests,
    }


def plain_text(text: str) -> str:
    """A message as plain text: Gradescope shows ``output_format`` text as it is, so the
    Markdown code marks the checks' messages carry (`flush()`) are taken out."""
    return re.sub(r"`+([^`]*)`+", r"\1", text)


def gradescope_test(exercise: Exercise, exercise_no: str, number: int, check: Check
                    ) -> dict[str, Any]:
    return {
        "name": f"{exercise.name}: {check.name}",
        "number": f"{exercise_no}.{number}",
        "score": check.earned,
        "max_score": check.points,
        # Gradescope knows passed and failed only: an error or a missing file fails.
        "status": "passed" if check.status == "passed" else "failed",
        "output": plain_text(student_text(exercise, check)),
        "output_format": "text",
        "tags": [exercise.id],
        "visibility": "visible",
    }


def gradescope_not_graded(reason: str, grader_fault: bool, detail: str = "") -> dict[str, Any]:
    """Gradescope's ``results.json`` for a submission that was not graded: one with
    nothing to grade (``reason`` tells the student what to upload), or one the grader
    failed on (``grader_fault``: the student is told it is no fault of theirs, and the
    staff get ``detail``, such as the grader's output, in a test hidden from students)."""
    if grader_fault:
        output = (f"The autograder could not grade this submission: {reason}\n"
                  "This is a fault of the autograder, not of your code; the course staff "
                  "can see what went wrong and will grade it again.")
    else:
        output = reason[:1].upper() + reason[1:]
    results: dict[str, Any] = {"score": 0, "output": output, "output_format": "text",
                               "tests": []}
    if grader_fault:
        results["extra_data"] = {"grader_error": reason}
        results["tests"].append({
            "name": "autograder failure (for the staff)", "score": 0, "max_score": 0,
            "status": "failed", "output": f"{reason}\n\n{detail}".strip(),
            "output_format": "text", "visibility": "hidden"})
    return results


# --- GitHub Classroom --------------------------------------------------------------------

CLASSROOM_STATUS = {"passed": "pass", "failed": "fail", "missing": "fail", "error": "error"}


def classroom_result(grade: Grade) -> dict[str, Any]:
    """The result object of a Classroom grader step (version 1), one test per check."""
    return {
        "version": 1,
        "status": classroom_status(grade),
        "max_score": grade.max_points,
        "tests": [classroom_test(exercise, check)
                  for exercise in grade.ordered() for check in exercise.checks],
    }


def classroom_status(grade: Grade) -> str:
    """``pass``: the grading ran to its end, whatever points it gave. The reporter
    (``autograding-grading-reporter``) fails the job on a result of ``fail`` or ``error``,
    and a lost point is the student's grade, not a failed job: each test keeps its own
    status, and a workflow fails the job on lost points only where the instructor asks
    (``fail-on-lost-points``). A grading that could not run writes no result at all, and
    its command fails the job with the reason."""
    del grade  # every grade written is a grading that ran
    return "pass"


def classroom_test(exercise: Exercise, check: Check) -> dict[str, Any]:
    return {
        "name": f"{exercise.name}: {check.name}",
        "status": CLASSROOM_STATUS[check.status],
        # The reporter shows the message of an errored test; the graders give a passed
        # one none (null).
        "message": None if check.status == "passed" else student_text(exercise, check),
        "test_code": "",
        # The student's files the check grades: the check's own module is the grader's.
        "filename": ", ".join(EXERCISE_FILES.get(exercise.id, ())),
        "line_no": 0,
        "duration": round(check.duration, 3),  # seconds, as the Python grader gives it
        "score": check.earned,
    }


def classroom_output(result: dict[str, Any]) -> str:
    """The step output ``result``: the JSON, base64-encoded on one line."""
    return base64.b64encode(json.dumps(result).encode()).decode()


# --- feedback for the student -------------------------------------------------------------


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces
    turned into hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def readme_link(base_url: str = "", exercise: Exercise | None = None) -> str:
    """The README's account of what the grader accepts for ``exercise`` (or of the whole
    section): relative to pytest-kafka-lab's repository by default, under ``base_url``
    (where its README is published) if given."""
    base = base_url.rstrip("/") + "/" if base_url else ""
    heading = f"{exercise.id}, {exercise.title}" if exercise and exercise.title else README_SECTION
    return f"{base}README.md#{github_anchor(heading)}"


def accepts_heading(exercise: Exercise) -> str:
    return f"What the grader accepts for {exercise.id}"


def accepts_link(base_url: str, exercise: Exercise) -> str:
    """Where the feedback sends a student for what the grader accepts for ``exercise``: the
    published README (``base_url``), or else a section at the end of the feedback itself
    (a README.md beside the feedback is in no student's repository)."""
    if base_url or exercise.id not in readings():
        return readme_link(base_url, exercise)
    return "#" + github_anchor(accepts_heading(exercise))


def accepts_sections(grade: Grade, base_url: str) -> list[str]:
    """The readings of each exercise that lost points, quoted, where no published README
    is linked instead."""
    if base_url:
        return []
    lines: list[str] = []
    for exercise in grade.worst_first():
        text = readings().get(exercise.id)
        if exercise.status != "passed" and text:
            lines += ["", f"### {accepts_heading(exercise)}", "", text]
    return ["", "## What the grader accepts", *lines] if lines else []


def feedback_markdown(grade: Grade, base_url: str = "") -> str:
    """What cost points, worst first: per exercise its points, then each check that failed
    with its message and a link to what the grader accepts for that exercise: in the
    published README under ``base_url``, else in a section of this feedback."""
    lines = [f"# Kafka lab feedback: {grade.points}/{grade.max_points} points", "",
             "| exercise | status | points |", "|---|---|---|"]
    lines += [f"| {e.name} | {e.status} | {e.points}/{e.max_points} |"
              for e in grade.worst_first()]
    for exercise in grade.worst_first():
        if exercise.status == "passed":
            continue
        link = accepts_link(base_url, exercise)
        lines += ["", f"## {exercise.name}: {exercise.points}/{exercise.max_points} points",
                  ""]
        accepts = f"[What the grader accepts for {exercise.id}]({link})"
        if exercise.status == "missing":
            lines.append(f"{escape_markdown(missing_text(exercise))}. {accepts}")
            continue
        for group in exercise.failure_groups():
            lines += feedback_item(exercise, group, accepts)
    if all(e.status == "passed" for e in grade.exercises.values()):
        lines += ["", "Every check passed."]
    lines += accepts_sections(grade, base_url)
    return "\n".join(lines).rstrip() + "\n"


def feedback_item(exercise: Exercise, checks: list[Check], accepts: str) -> list[str]:
    """A list item: the checks (that failed alike), their status and points, the message's
    first line; the rest of it (a traceback of the student's own code, say) below."""
    text = student_text(exercise, checks[0])
    head = escape_markdown(first_line(text))
    points = sum(check.points for check in checks)
    names = ", ".join(f"**{check.name}**" for check in checks)
    judged = (f" Judged from: {', '.join(checks[0].evidence)}."
              if checks[0].evidence else "")
    item = [f"- {names}: {checks[0].status}, 0/{points} point{'s' if points > 1 else ''}. "
            f"{head}{judged} ({accepts})"]
    rest = text.strip().splitlines()[1:]
    if rest:
        item += ["", "  ```text", *(f"  {line}" for line in rest), "  ```", ""]
    return item


# --- files ---------------------------------------------------------------------------------


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def write_classroom(path: Path, grade: Grade) -> Path:
    """The result as JSON to ``path`` and base64 to ``path.b64``, the line a workflow
    passes on: ``echo "result=$(cat FILE.b64)" >> "$GITHUB_OUTPUT"``."""
    result = classroom_result(grade)
    write_json(path, result)
    encoded = path.with_name(path.name + ".b64")
    encoded.write_text(classroom_output(result) + "\n")
    return encoded


def write_feedback(path: Path, grade: Grade, base_url: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(feedback_markdown(grade, base_url))
