"""The one channel between a child process and the test that started it: events, one JSON
object a line keyed ``"kind"``, appended to the file the parent names in
``KAFKA_LAB_EVENTS``. A file, not stdout: a graded submission's output is the student's,
and must not be mixed with what the harness observes.

The child writes with ``emit``; the parent reads with an ``EventLog``
(``processes.ReportingProcess`` does both ends for you). Imported at the start of every
graded Python process: standard library only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

EVENTS_VARIABLE = "KAFKA_LAB_EVENTS"

Event = dict[str, Any]

_lock = threading.Lock()
_channel: tuple[int, int] | None = None  # (pid, fd): a forked child opens its own


def _fd(path: str) -> int:
    global _channel
    if _channel is None or _channel[0] != os.getpid():
        _channel = (os.getpid(), os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    return _channel[1]


def emit(kind: str, **fields: Any) -> None:
    """Append one event (with ``time`` and ``pid``, which ``fields`` may override); a
    no-op in a process nobody listens to."""
    path = os.environ.get(EVENTS_VARIABLE)
    if not path:
        return
    line = json.dumps({"kind": kind, "time": time.time(), "pid": os.getpid(), **fields},
                      default=repr)
    with _lock:
        # One write per line with O_APPEND keeps lines whole across threads and processes.
        os.write(_fd(path), (line + "\n").encode())


def events_of(events: list[Event], kind: str, **match: Any) -> list[Event]:
    """The events of ``kind`` whose fields equal ``match``."""
    return [event for event in events if event["kind"] == kind
            and all(event.get(name) == value for name, value in match.items())]


class EventLog:
    """The events a child appended to ``path`` so far, taken in as the file grows (a
    chatty child's log is long, and is looked at many times a second). A line still
    being written waits for its end; a line that is no JSON object is no evidence."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()
        self._read = 0  # bytes taken in so far
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def events(self) -> list[Event]:
        """Every whole event so far, in the order written."""
        with self._lock:
            try:
                with self.path.open("rb") as log:
                    log.seek(self._read)
                    data = log.read()
            except FileNotFoundError:  # cleaned up already: what was read is all there is
                data = b""
            whole = data[:data.rfind(b"\n") + 1]
            self._read += len(whole)
            for line in whole.split(b"\n")[:-1]:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and "kind" in event:
                    self._events.append(event)
            return list(self._events)
