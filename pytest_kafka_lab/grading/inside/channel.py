"""The run's side of its one channel to the grader: events, one JSON object a line keyed
``"kind"``, appended to the file the grader names in ``KAFKA_LAB_EVENTS`` (the grader
reads them with ``pytest_kafka_lab.events.EventLog``). Not stdout: a graded submission's
output is the student's, and must not be mixed with what the harness observes."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

EVENTS_VARIABLE = "KAFKA_LAB_EVENTS"

_lock = threading.Lock()
_channel: int | None = None  # the file's descriptor, opened by the first emit
_pid = os.getpid()
# Made once: json.dumps(default=...) builds an encoder per call.
_encode = json.JSONEncoder(default=repr).encode


def _forked() -> None:
    """In a forked child: its own pid, its own descriptor, a lock no other thread holds."""
    global _lock, _channel, _pid
    _lock, _channel, _pid = threading.Lock(), None, os.getpid()


os.register_at_fork(after_in_child=_forked)


def emit(kind: str, **fields: Any) -> None:
    """Report one event (with ``time`` and ``pid``, which ``fields`` may override); a
    no-op in a process the grader does not listen to."""
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
