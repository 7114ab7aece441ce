"""How ``kafka-lab grade`` ends: what it checks of the brokers before grading, how a
signal ends it, which grades are the grader's failures (a non-zero exit), and the reports
of one submission that no run wrote (nothing to grade, or a grader failure).

A lost point is the student's grade and never the command's failure; a grade the grader
could not make (no report, a crash, the wall-clock limit) is, and the command says so
with a non-zero exit, after the gradebook is written.
"""

from __future__ import annotations

import os
import signal
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from pytest_kafka_lab.grading.platforms import (
    classroom_output,
    gradescope_not_graded,
    write_json,
)
from pytest_kafka_lab.grading.report import Grade as ReportGrade

# Seconds a TCP connection to a bootstrap address may take before it is called
# unanswered (refused connections and unknown hosts answer at once).
CONNECT_TIMEOUT = 10.0
# The exit status of a command ended by SIGTERM (128 + 15), as a shell reports it.
TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (CI's cancellation, ``timeout``): unwound like Ctrl-C, so that every run
    and broker is stopped and every scratch folder removed."""


def raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises ``Terminated`` in the main thread while this lasts."""
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def address_problem(address: str) -> str | None:
    """Why no TCP connection opens to ``HOST:PORT`` (a refused connection, an unknown
    host), or None when one does or the wait is inconclusive (a timeout: the broker's own
    readiness wait decides then)."""
    host, _, port = address.strip().rpartition(":")
    if not host or not port.isdigit():
        return f"{address!r} is not HOST:PORT"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT):
            return None
    except TimeoutError:
        return None
    except socket.gaierror as error:
        return f"{address}: unknown host {host!r} ({error.strerror})"
    except OSError as error:
        return f"{address}: {error.strerror or error}"


def unreachable(bootstrap: str) -> str | None:
    """Why none of the bootstrap addresses answers, or None when one does."""
    problems = [address_problem(address) for address in bootstrap.split(",")]
    if any(problem is None for problem in problems):
        return None
    return ("cannot reach the Kafka cluster (--kafka-bootstrap " + bootstrap + "): "
            + "; ".join(str(problem) for problem in problems))


def grader_failures(grades: Iterable[dict[str, Any]]) -> list[str]:
    """``name: why`` of each grade the grader could not make. A submission stopped at its
    wall-clock limit is no failure of the grader: its own runs took that long."""
    return [f"{grade.get('name')}: {str(grade['error']).strip().splitlines()[0]}"
            for grade in grades if grade.get("error") and not grade.get("timed_out")]


def step_summary(grade: dict[str, Any]) -> str:
    """GitHub's job summary of one submission, titled by its name in the class (not the
    folder's absolute path); a folder with nothing to grade says why."""
    if grade.get("nothing_to_grade"):
        return f"### Kafka lab grade: `{grade['name']}`: not graded\n\n{grade['note']}\n"
    return ReportGrade.from_dict({**grade, "submission": grade["name"]}).markdown()


def write_not_graded(reports: dict[str, Path | None], reason: str, grader_fault: bool,
                     detail: str = "") -> None:
    """The one-submission reports of a grading that made no run (``grader_fault`` false:
    nothing to grade) or failed: Gradescope's ``results.json`` and the student's feedback
    say why. GitHub Classroom's result is left unwritten on a grader fault, so that its
    step fails rather than record a zero."""
    gradescope = reports.get("gradescope")
    if gradescope:
        write_json(gradescope, gradescope_not_graded(reason, grader_fault, detail))
    feedback = reports.get("feedback")
    if feedback:
        feedback.parent.mkdir(parents=True, exist_ok=True)
        feedback.write_text(f"# Kafka lab feedback: not graded\n\n{reason}\n")
    classroom = reports.get("classroom")
    if classroom and not grader_fault:
        result = {"version": 1, "status": "pass", "max_score": 0, "tests": [{
            "name": "submission files", "status": "fail", "message": reason,
            "test_code": "", "filename": "", "line_no": 0, "duration": 0, "score": 0}]}
        write_json(classroom, result)
        classroom.with_name(classroom.name + ".b64").write_text(
            classroom_output(result) + "\n")
    junit = reports.get("junit")
    if junit:
        write_junit(junit, reason)


def write_junit(path: Path, reason: str) -> None:
    """A JUnit report of one failed case saying why nothing was graded."""
    suite = ET.Element("testsuite", name="kafka-lab", tests="1", failures="1")
    case = ET.SubElement(suite, "testcase", classname="kafka-lab", name="submission")
    ET.SubElement(case, "failure", message=reason).text = reason
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)


def usable_cores() -> int:
    """The cores this process may run on (a CI runner's, a container's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
