"""The one channel between a child process and its test: events in a file of their own
(``pytest_kafka_lab.events``), never mixed with what the child prints, read by
``ReportingProcess``, which group members, the copier and graded submissions all are."""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

import pytest

from pytest_kafka_lab.events import EventLog
from pytest_kafka_lab.processes import ReportingProcess

REPORTER = """
import sys
from pytest_kafka_lab.events import emit
print("hello from stdout")
emit("ready", step=1)
emit("ready", step=2)
print("stopping here", file=sys.stderr)
raise SystemExit(3)
"""


def test_a_child_keeps_its_events_apart_from_its_output_and_its_end_is_seen_at_once() -> None:
    child = ReportingProcess([sys.executable, "-c", REPORTER], "the reporter")
    started = time.monotonic()
    with pytest.raises(AssertionError,
                       match=r"the reporter exited \(code 3\) before the end.*stopping here"):
        child.wait_for_event(lambda _: False, 60, "the end")
    assert time.monotonic() - started < 30, "the wait outlived the child"
    assert [event["kind"] for event in child.events] == ["ready", "ready"]
    assert [event["step"] for event in child.of("ready", step=2)] == [2]
    assert (child.workdir / "stdout.txt").read_text() == "hello from stdout\n"


def test_a_childs_folder_goes_with_it() -> None:
    child = ReportingProcess([sys.executable, "-c", "pass"], "a quiet child")
    child.process.wait(60)
    workdir = child.workdir
    assert (workdir / "events.jsonl").exists()
    del child
    gc.collect()
    assert not workdir.exists(), "a reporting child's folder outlived it"


def test_a_line_being_written_waits_and_garbage_is_no_event(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    with log.path.open("ab") as out:
        out.write(b'{"kind": "one"}\nnot json\n[1, 2]\n{"kind": "two", "n"')
    assert [event["kind"] for event in log.events()] == ["one"]
    with log.path.open("ab") as out:
        out.write(b': 2}\n')
    assert log.events() == [{"kind": "one"}, {"kind": "two", "n": 2}]
    # Two values on one line are no JSON line, whole lines around them still are.
    with log.path.open("ab") as out:
        out.write(b'{"kind": "three"}\n{"kind": "x"}, {"kind": "y"}\n{"kind": "four"}\n')
    assert [event["kind"] for event in log.events()] == ["one", "two", "three", "four"]
    with log.path.open("ab") as out:
        out.write(b'\n{"kind": "five"}\n')
    assert [event["kind"] for event in log.events()][-1:] == ["five"]
