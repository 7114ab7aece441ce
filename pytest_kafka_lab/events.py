"""The one channel between a child process and the test that started it: events, one JSON
object a line keyed ``"kind"``, appended to the file the parent names in
``KAFKA_LAB_EVENTS``. A file, not stdout: a graded submission's output is the student's,
and must not be mixed with what the harness observes.

The child writes with ``emit``; the parent reads with an ``EventLog``
(``processes.ReportingProcess`` does both ends for you). Imported at the start of every
graded Python process: standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

EVENTS_VARIABLE = "KAFKA_LAB_EVENTS"

Event = dict[str, Any]

_lock = threading.Lock()
_channel: int | None = None  # the file's descriptor, opened by the first emit
_pid = os.getpid()
# Made once: json.dumps(default=...) builds an encoder per call, and a benchmark's
# producer reports two events per message.
_encode = json.JSONEncoder(default=repr).encode


def _forked() -> None:
    """In a forked child: its own pid, its own descriptor, a lock no other thread holds."""
    global _lock, _channel, _pid
    _lock, _channel, _pid = threading.Lock(), None, os.getpid()


os.register_at_fork(after_in_child=_forked)


def emit(kind: str, **fields: Any) -> None:
    """Append one event (with ``time`` and ``pid``, which ``fields`` may override); a
    no-op in a process nobody listens to."""
    global _channel
    path = os.environ.get(EVENTS_VARIABLE)
    if not path:
        return
    line = _encode({"kind": kind, "time": time.time(), "pid": _pid, **fields})
    with _lock:
        if _channel is None:
            _channel = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        # One write per line with O_APPEND keeps lines whole across threads and processes.
        os.write(_channel, (line + "\n").encode())


def events_of(events: list[Event], kind: str, **match: Any) -> list[Event]:
    """The events of ``kind`` whose fields equal ``match``."""
    return matching([event for event in events if event["kind"] == kind], match)


def matching(events: Iterable[Event], match: dict[str, Any]) -> list[Event]:
    """The ``events`` whose fields equal ``match``. A check matches one field or none,
    on every event of a kind (a benchmark's deliveries): those compare it directly."""
    if not match:
        return list(events)
    if len(match) == 1:
        ((name, value),) = match.items()
        return [event for event in events if event.get(name) == value]
    return [event for event in events if matches(event, match)]


def matches(event: Event, match: dict[str, Any]) -> bool:
    """Whether the fields of ``event`` named in ``match`` equal its values."""
    return all(event.get(name) == value for name, value in match.items())


class KindIndex:
    """A list of events by kind, for a list that only grows (a finished run's): built on
    first use and extended by what was appended since, so that asking for one kind many
    times reads that kind's events alone."""

    def __init__(self) -> None:
        self._source: list[Event] | None = None
        self._last: Event | None = None  # the last event indexed: the list's end then
        self._indexed = 0
        self._by_kind: dict[str, list[Event]] = {}

    def of(self, events: list[Event], kind: str, **match: Any) -> list[Event]:
        """As ``events_of(events, kind, **match)``."""
        if not self._extends(events):
            self._source, self._last, self._indexed, self._by_kind = events, None, 0, {}
        for event in events[self._indexed:]:
            self._by_kind.setdefault(event["kind"], []).append(event)
        self._indexed = len(events)
        self._last = events[-1] if events else None
        return matching(self._by_kind.get(kind, ()), match)

    def _extends(self, events: list[Event]) -> bool:
        """Whether ``events`` is the list indexed, grown at its end alone since. Another
        list, or one cut or changed at its end, is indexed afresh; a change before its
        end goes unseen, which a run's events never have (nothing reorders them)."""
        return events is self._source and len(events) >= self._indexed and (
            self._indexed == 0 or events[self._indexed - 1] is self._last)


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
            self._events += [value for value in json_lines(whole)
                             if isinstance(value, dict) and "kind" in value]
            return list(self._events)


def json_lines(data: bytes) -> list[Any]:
    """The values of whole lines of JSON, a line that is none left out. Read as one JSON
    array (one call to the parser, not one per line: a benchmark's log has 100,000 lines)
    when that reads one value a line, else line by line."""
    if not data:
        return []
    with contextlib.suppress(ValueError):
        values: list[Any] = json.loads(b"[" + data[:-1].replace(b"\n", b",") + b"]")
        # A blank line fails the array; a line such as "1, 2" is two values and no JSON.
        if len(values) == data.count(b"\n"):
            return values
    values = []
    for line in data.split(b"\n")[:-1]:
        with contextlib.suppress(ValueError):
            values.append(json.loads(line))
    return values
