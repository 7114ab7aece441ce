"""``python -m pytest_kafka_lab.grading.class_runner.pytest_child ARGS``: pytest, tied
to the grader.

``kafka-lab grade`` starts each submission's pytest this way rather than with a
``preexec_fn`` (Python code between fork and exec is unsafe while the grader runs
threads): the child takes its own process group and its parent-death signal itself,
first thing, so the grader can stop its whole group, and a grader killed outright takes
its pytest runs (and through theirs, the students' processes) with it.
"""

from __future__ import annotations

import signal

import pytest

from pytest_kafka_lab.processes import die_with_parent


def main() -> int:
    die_with_parent()
    # die_with_parent() is made for a child before exec, and leaves SIGINT at its default,
    # which here would end pytest outright; Python's handler makes it a KeyboardInterrupt,
    # so an interrupted run tears down its sandboxes and writes what it graded.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return int(pytest.main())


if __name__ == "__main__":
    raise SystemExit(main())
