"""What the course's checks conclude before they judge the work itself: an exercise whose
files are absent is *missing*, and a submission that could not run as asked is an *error*
(``SubmissionError``), not a failure. Used by the scenarios and by the grading plugin,
which turns these into a check's status.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pytest_kafka_lab.grading.course import EXERCISE_FILES
from pytest_kafka_lab.grading.integrity import contradictions
from pytest_kafka_lab.grading.report import MISSING, TRACEBACK
from pytest_kafka_lab.grading.sandbox import Run

SYNTAX_ERROR = re.compile(r"^(SyntaxError|IndentationError|TabError)\b", re.MULTILINE)


class SubmissionError(Exception):
    """The submission could not run at all (syntax error, crash on import, no such
    function or not one the course can call), or reached outside its folder."""


def require_exercise(submission: Path, exercise: str) -> None:
    """Skip as *missing* when the submission lacks the exercise's files."""
    absent = [name for name in EXERCISE_FILES[exercise] if not (submission / name).is_file()]
    if absent:
        pytest.skip(f"{MISSING} {', '.join(absent)} not in {submission}")


class IntegrityError(SubmissionError):
    """What the run reported of itself disagrees with what the grader saw from outside
    it (the wire, its output): the exercise is an error, never a pass."""


def require_honest(run: Run, *more: str) -> Run:
    """Raise ``IntegrityError`` when the run's own reports contradict the wire or its
    output (``integrity.contradictions``, and the exercise's own findings ``more``)."""
    problems = [*contradictions(run), *more]
    if problems:
        raise IntegrityError(
            "the grader cannot trust this run: " + "; ".join(problems[:3])
            + ". A submission's reports of itself must agree with what its clients sent "
            "and what it printed; course staff should look at this submission")
    return run


def require_ran(run: Run) -> Run:
    """Raise ``SubmissionError`` when the submission could not even start its work, or
    tried to reach outside its folder (which the kernel refused), or reported of itself
    what the wire or its output contradicts."""
    problem = outside_access(run) or unfit_function(run) or flooded(run)
    if problem:
        raise SubmissionError(problem)
    require_honest(run)
    failed = run.of("import-failed")
    if failed:
        raise SubmissionError(f"the submission could not be imported: {failed[0]['error']}")
    if run.exit_code not in (0, None) and SYNTAX_ERROR.search(run.stderr):
        raise SubmissionError(f"the submission has a syntax error:\n{last_traceback(run.stderr)}")
    return run


def last_traceback(stderr: str, longest: int = 4000) -> str:
    """The last traceback in ``stderr``, whole: a fixed tail would cut its first lines
    when the scratch copy's paths are long. Without a traceback (a syntax error in the
    script itself), the tail."""
    start = stderr.rfind(TRACEBACK)
    quoted = stderr[start:] if start >= 0 else stderr[-800:]
    return quoted[-longest:]


def flooded(run: Run) -> str | None:
    """Why the grader stopped reading the run's events (a cap passed), or None."""
    if run.flooded is None:
        return None
    return (f"{run.flooded}; the grader stopped reading them there, so this run cannot "
            "be judged (the course's own exercise 6 sends under a tenth of that): send no "
            "more messages than the exercise asks, and nothing to the grader's channel")


def outside_access(run: Run) -> str | None:
    """What the submission tried outside its folder (the first attempt, and how many
    more), or None. A read the run could not see the end of (``unseen``: beyond a folder
    closed to its user) counts where the path is there, as the grader sees it."""
    attempts = [attempt for attempt in run.of("outside-access")
                if not attempt.get("unseen") or attempt["mode"] == "write"
                or os.path.lexists(str(attempt["path"]))]
    if not attempts:
        return None
    first = attempts[0]
    through = f" (through {first['program']})" if first.get("program") else ""
    others = f" and {len(attempts) - 1} other path(s)" if len(attempts) > 1 else ""
    return (f"the submission tried to {first['mode']} {first['path']}{through}{others}, "
            "outside its folder; submissions may only use their own files")


def unfit_function(run: Run) -> str | None:
    """Why the function the course calls is absent or cannot take the course's call, or
    None."""
    for event in run.of("missing-function"):
        defined = ", ".join(f"{name}()" for name in event.get("defined", [])) or "none"
        return (f"{event['file']} has no function {event['function']}(); the course asks "
                f"for one there, which the grader calls as {event['expected']} "
                f"(functions it has: {defined})")
    for event in run.of("wrong-signature"):
        return (f"{event['file']} defines {event['actual']}, but the course calls it as "
                f"{event['expected']} ({event['reason']})")
    return None
