"""The run's side of its one channel to the grader: a socket the grader made and handed
to the run's first process (its descriptor in ``KAFKA_LAB_CHANNEL``). Each event is one
packet, a JSON object keyed ``"kind"``; the grader stamps it when it arrives, and keeps
it where the run cannot reach. ``ask`` waits for the grader's answer (whether to inject a
failure into a call): the decision, and the plan behind it, stay in the grader.

A forked child opens a channel of its own (a new socket pair, one end sent to the grader
over the parent's channel), so that answers never cross between processes. A process the
grader did not start (a ``python -I`` child, a program started with ``close_fds``) has
no channel: what it does, only the wire and the broker tell.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import threading
import time
from typing import Any

CHANNEL_VARIABLE = "KAFKA_LAB_CHANNEL"
PACKET_LIMIT = 60_000  # a packet is sent whole or not at all: long fields are cut
ANSWER_LIMIT = 4096

_lock = threading.Lock()
_channel: socket.socket | None = None
_opened = False
_pid = os.getpid()
# Made once: json.dumps(default=...) builds an encoder per call.
_encode = json.JSONEncoder(default=repr).encode


def _inherited() -> socket.socket | None:
    """The socket the grader handed this process, if the descriptor named is one."""
    try:
        descriptor = int(os.environ.get(CHANNEL_VARIABLE, ""))
        if not stat.S_ISSOCK(os.fstat(descriptor).st_mode):
            return None
        channel = socket.socket(fileno=os.dup(descriptor))
    except (ValueError, OSError):
        return None
    if channel.family != socket.AF_UNIX or channel.type != socket.SOCK_SEQPACKET:
        channel.close()
        return None
    return channel


def _open() -> socket.socket | None:
    global _channel, _opened
    if not _opened:
        _opened = True
        _channel = _inherited()
    return _channel


def _forked() -> None:
    """In a forked child: a channel of its own, announced over the parent's."""
    global _lock, _channel, _pid
    _lock, _pid = threading.Lock(), os.getpid()
    parent = _channel
    _channel = None
    if parent is None:
        return
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with contextlib.suppress(OSError):
        socket.send_fds(parent, [_encode({"kind": "channel", "pid": _pid}).encode()],
                        [theirs.fileno()])
        _channel = mine
    theirs.close()
    parent.close()


os.register_at_fork(after_in_child=_forked)


def packet(kind: str, fields: dict[str, Any]) -> bytes:
    data = _encode({"kind": kind, "time": time.time(), "pid": _pid, **fields}).encode()
    if len(data) <= PACKET_LIMIT:
        return data
    cut = {name: (value[:2000] + "...") if isinstance(value, str) and len(value) > 2000
           else value for name, value in fields.items()}
    return _encode({"kind": kind, "time": time.time(), "pid": _pid, **cut,
                    "cut": True}).encode()[:PACKET_LIMIT]


def emit(kind: str, **fields: Any) -> None:
    """Report one event; a no-op in a process without a channel."""
    with _lock:
        channel = _open()
        if channel is None:
            return
        with contextlib.suppress(OSError):
            channel.send(packet(kind, fields))


def ask(kind: str, **fields: Any) -> dict[str, Any]:
    """Report one event and wait for the grader's answer ({} without a channel)."""
    with _lock:
        channel = _open()
        if channel is None:
            return {}
        try:
            channel.send(packet(kind, {**fields, "ask": True}))
            answer = json.loads(channel.recv(ANSWER_LIMIT) or b"{}")
        except (OSError, ValueError):
            return {}
    return answer if isinstance(answer, dict) else {}
