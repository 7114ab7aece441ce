"""The grader's end of a run's channel (``inside/channel.py`` is the run's).

Events arrive as packets on sockets the grader holds: the one handed to the run's first
process, and one for each process it forks. Each event is stamped on arrival with the
grader's clock (``time``; the run's own stays as ``reported_time``) and kept here, out of
the run's reach: a run can add events, never retract or reorder one. A question
(``ask``) is answered from the run's failure plans, which never enter the run: the
grader decides which call fails, and records its own decision as an event
(``source: "grader"``), so that an injected failure is known from the grader alone.

A benchmark's run sends a hundred thousand events, each looked at by many checks: a
socket's packets are read in bursts, each parsed by the JSON scanner alone where it is
one UTF-8 JSON value and nothing around it, as the run sends them (anything else is left
to ``json.loads``, as before), and indexed by kind (``of``, an ``events.KindIndex``), so
that a check reads the kind it asks for, not every event.

What a run may send is capped (``EVENTS_MAX`` events, ``EVENT_BYTES_MAX`` bytes,
``CHANNELS_MAX`` sockets, one per process that reported): past a cap the grader closes
every socket of the run, reads nothing more and says why (``overflow``), which the
verdict blames on the submission. Honest work stays far below: the course's exercise 6,
every configuration with 10,000 messages, sends about 360,000 events of about 220 bytes.
A stored event takes about 1.4 KB of the grader's memory, so a run holds at most about
0.55 GB of it, however much it sends.
"""

from __future__ import annotations

import array
import contextlib
import json
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from pytest_kafka_lab.events import Event, KindIndex

PACKET_LIMIT = 65536
EVENTS_MAX = 400_000
EVENT_BYTES_MAX = 96 * 1024 * 1024
CHANNELS_MAX = 1024
CHANNEL_VARIABLE = "KAFKA_LAB_CHANNEL"
# A packet carries at most this many descriptors (a forked child's socket); the kernel
# closes any beyond them.
FDS_MAX = 4
_FD_BYTES = array.array("i").itemsize
_ANCILLARY = socket.CMSG_LEN(FDS_MAX * _FD_BYTES)
# Packets read from one socket before the others get their turn: a chatty process is
# read in bursts (one readiness check per burst, not per packet), never to the others'
# exclusion.
BURST = 256
# The C scanner behind json.loads, called straight on the packet's text: json.loads of
# bytes first guesses their encoding and strips whitespace, which costs about as much as
# the parse of a small event.
_scan: Callable[[str, int], tuple[Any, int]] = \
    json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in its __init__


class FailurePlan:
    """``{ident: n}``: the first n calls of one observed function for a first argument
    whose ``key`` field is ident fail, injected by the grader."""

    def __init__(self, key: str, failures: Mapping[str, int]) -> None:
        self.key = key
        self.left = dict(failures)

    def decide(self, ident: Any) -> bool:
        if ident is None or self.left.get(str(ident), 0) <= 0:
            return False
        self.left[str(ident)] -= 1
        return True


class RunChannel:
    """One run's events and answers. ``child_end`` is handed to the run's process
    (``pass_fds``) and closed here once it started (``started``)."""

    def __init__(self, plans: Mapping[str, FailurePlan] | None = None) -> None:
        self.plans = dict(plans or {})
        self._mine, self.child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._events: list[Event] = []
        # The same events by kind: checks ask for one kind at a time.
        self._kinds = KindIndex()
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._mine, selectors.EVENT_READ)
        self._closed = False
        self.received = 0  # bytes of events, all sockets together
        self.channels = 1
        # Why the grader stopped reading the run's events (a cap passed), or None.
        self.overflow: str | None = None
        # Questions answered, per (pid, function, ident), that no outcome has used yet.
        self._asked: dict[tuple[Any, str, str], int] = {}
        self._thread = threading.Thread(target=self._serve, name="kafka-lab run channel",
                                        daemon=True)
        self._thread.start()

    def environment(self) -> dict[str, str]:
        return {CHANNEL_VARIABLE: str(self.child_end.fileno())}

    def started(self) -> None:
        self.child_end.close()

    @property
    def events(self) -> list[Event]:
        """Every event so far, including any still waiting in the sockets."""
        with self._lock:
            if not self._closed:
                self._drain(0)
            return list(self._events)

    def of(self, kind: str, **match: Any) -> list[Event]:
        """The events of ``kind`` so far whose fields equal ``match`` (as ``events_of``
        on ``events``, without a copy of every event)."""
        with self._lock:
            if not self._closed:
                self._drain(0)
            return self._kinds.of(self._events, kind, **match)

    def _serve(self) -> None:
        while not self._closed:
            with self._lock:
                if self._closed:
                    return
                self._drain(0)
            with contextlib.suppress(OSError, ValueError):
                self._selector.select(0.05)

    def _drain(self, timeout: float) -> None:
        """Take in every packet ready now (the lock held)."""
        while True:
            ready = self._selector.select(timeout)
            if not ready:
                return
            for key, _ in ready:
                for _ in range(BURST):
                    if not self._receive(key.fileobj):  # type: ignore[arg-type]
                        break

    def _receive(self, sock: socket.socket) -> bool:
        """Take in one packet of ``sock``; False when it has none ready now, or is closed."""
        if self.overflow is not None:  # its sockets closed by an earlier packet of this round
            return False
        try:
            data, ancillary, _, _ = sock.recvmsg(PACKET_LIMIT, _ANCILLARY,
                                                 socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            data, ancillary = b"", []
        fds = descriptors(ancillary) if ancillary else []
        if not data:
            self._selector.unregister(sock)
            sock.close()
            return False
        self.received += len(data)
        if self.received > EVENT_BYTES_MAX or len(self._events) >= EVENTS_MAX:
            for descriptor in fds:
                socket.close(descriptor)
            self._stop_reading(f"{len(self._events):,} events in {self.received:,} bytes "
                               f"(at most {EVENTS_MAX:,} events, {EVENT_BYTES_MAX:,} bytes)")
            return False
        event = decoded(data)
        if not isinstance(event, dict) or not isinstance(event.get("kind"), str):
            for descriptor in fds:
                socket.close(descriptor)
            return True
        self._take(sock, event, fds)
        return True

    def _take(self, sock: socket.socket, event: dict[str, Any], fds: list[int]) -> None:
        event["reported_time"] = event.get("time")
        event["time"] = time.time()
        event.pop("source", None)  # "grader" is the grader's word alone
        if event["kind"] == "channel" and fds:
            child = socket.socket(fileno=fds.pop(0))
            self.channels += 1
            if self.channels > CHANNELS_MAX:
                child.close()
                for descriptor in fds:
                    socket.close(descriptor)
                self._stop_reading(f"{self.channels:,} processes reporting (at most "
                                   f"{CHANNELS_MAX:,})")
                return
            self._selector.register(child, selectors.EVENT_READ)
        for descriptor in fds:
            socket.close(descriptor)
        if event.pop("ask", False):
            answer = self._answer(event)
            with contextlib.suppress(OSError):
                sock.send(json.dumps(answer).encode())
        elif event["kind"] == "call":
            self._pair(event)
        self._events.append(event)

    def _pair(self, event: dict[str, Any]) -> None:
        """An outcome of a call counts only after the grader answered that call's question
        (``asked``): an outcome reported without one the grader marks ``unasked``."""
        if event.get("ident") is None:
            return
        question = (event.get("pid"), str(event.get("function")), str(event.get("ident")))
        if self._asked.get(question, 0) > 0:
            self._asked[question] -= 1
            event["asked"] = True
        else:
            event["unasked"] = True

    def _answer(self, event: dict[str, Any]) -> dict[str, Any]:
        if event["kind"] != "calling":
            return {}
        plan = self.plans.get(str(event.get("function")))
        if plan is None or not plan.decide(event.get("ident")):
            question = (event.get("pid"), str(event.get("function")), str(event.get("ident")))
            self._asked[question] = self._asked.get(question, 0) + 1
            return {"inject": False}
        message = f"injected failure for {event.get('ident')}"
        self._events.append({"kind": "call", "function": event.get("function"),
                             "ident": event.get("ident"), "outcome": "injected-failure",
                             "error": repr(RuntimeError(message)), "message": message,
                             "time": time.time(), "pid": event.get("pid"),
                             "source": "grader"})
        return {"inject": True, "message": message}

    def _stop_reading(self, why: str) -> None:
        """Past a cap: close every socket of the run (the lock held); its events so far
        are kept, nothing more is read."""
        self.overflow = f"the submission sent the grader {why}"
        for key in list(self._selector.get_map().values()):
            self._selector.unregister(key.fileobj)
            with contextlib.suppress(OSError):
                key.fileobj.close()  # type: ignore[union-attr]

    def close(self) -> None:
        """Take in what is left, then close every socket (the run has ended)."""
        with self._lock:
            self._drain(0)
            self._closed = True
            for key in list(self._selector.get_map().values()):
                with contextlib.suppress(OSError):
                    key.fileobj.close()  # type: ignore[union-attr]
            self._selector.close()
        with contextlib.suppress(OSError):
            self.child_end.close()
        self._thread.join(1)


def descriptors(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    """The file descriptors a packet carried (as ``socket.recv_fds`` reads them)."""
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % _FD_BYTES])
    return list(fds)


def decoded(data: bytes) -> Any:
    """The JSON value of one packet, as ``json.loads`` reads it; None for a packet that is
    none (a nesting too deep for the parser too: it must not stop the reading)."""
    try:
        text = data.decode()
        value, end = _scan(text, 0)
        if end == len(text):
            return value
    except (ValueError, StopIteration, RecursionError):
        pass
    # Not the run's usual form (whitespace, another encoding, or garbage): json.loads
    # decides, exactly as it would have alone.
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None
