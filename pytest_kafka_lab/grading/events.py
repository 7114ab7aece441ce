"""The channel between an instrumented submission and the harness: JSON lines appended
to a file the harness names in ``KAFKA_LAB_EVENTS``."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

EVENTS_VARIABLE = "KAFKA_LAB_EVENTS"
BOOTSTRAP_VARIABLE = "KAFKA_LAB_BOOTSTRAP"

_lock = threading.Lock()
_channel: tuple[int, int] | None = None  # (pid, fd): a forked child opens its own


def _fd(path: str) -> int:
    global _channel
    if _channel is None or _channel[0] != os.getpid():
        _channel = (os.getpid(), os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    return _channel[1]


def emit(kind: str, **fields: Any) -> None:
    """Append one event; a no-op outside a graded run."""
    path = os.environ.get(EVENTS_VARIABLE)
    if not path:
        return
    line = json.dumps({"kind": kind, "time": time.time(), "pid": os.getpid(), **fields},
                      default=repr)
    with _lock:
        # One write per line with O_APPEND keeps lines whole across threads and processes.
        os.write(_fd(path), (line + "\n").encode())


def read_events(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every whole event in the file so far (a line still being written is left out)."""
    try:
        with open(path, "rb") as channel:
            data = channel.read()
    except FileNotFoundError:
        return []
    events = []
    for line in data.split(b"\n")[:-1]:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue  # garbage is no evidence
    return events
