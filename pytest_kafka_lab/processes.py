"""Child processes that never outlive the test run."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_kafka_lab.events import EVENTS_VARIABLE, Event, EventLog, events_of
from pytest_kafka_lab.waiting import POLL_INTERVAL, wait_for

_PR_SET_PDEATHSIG = 1


def hear_ctrl_c() -> None:
    """In a child before exec: take SIGINT again. Started from a background job
    (``pytest ... &`` in a script), a child inherits SIGINT ignored, and Python then never
    raises KeyboardInterrupt: a Ctrl-C sent by the harness would go unheard."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def die_with_parent() -> None:
    """In a child before exec: start a new process group and die when the parent dies.

    A new group lets a stop signal reach the child's own children; the parent-death
    signal (Linux) kills the child even when pytest itself is SIGKILLed, which no
    ``atexit`` handler survives. Meant as ``preexec_fn``; the death signal holds only
    while the thread that spawned the child lives, so spawn from a long-lived thread.
    """
    os.setsid()
    hear_ctrl_c()
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        # The parent died before prctl took effect.
        os._exit(1)


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal the process group led by ``pid``; a group already gone is no error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class ReportingProcess:
    """A child that reports events (``events.emit``: JSON lines keyed ``"kind"``, in a
    file of ``workdir`` named to it in ``KAFKA_LAB_EVENTS``), its output kept apart in
    ``workdir``'s ``stdout.txt`` and ``stderr.txt``. It can be stopped (SIGINT) or
    killed (SIGKILL); with the default ``preexec_fn`` it runs in a process group of its
    own and dies with this process.

    Used for group members (``groups.Member``), the promises' copier, and graded
    submissions (``grading.sandbox.SubmissionProcess``). ``workdir`` defaults to a
    temporary folder, removed when this object goes; ``env`` defaults to this process's
    environment.
    """

    def __init__(self, argv: Sequence[str], name: str, *, workdir: Path | None = None,
                 cwd: Path | None = None, env: Mapping[str, str] | None = None,
                 preexec_fn: Callable[[], None] = die_with_parent,
                 pass_fds: Sequence[int] = (), event_file: bool = True) -> None:
        self.name = name
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="kafka-lab-child-"))
            weakref.finalize(self, shutil.rmtree, workdir, ignore_errors=True)
        self.workdir = workdir
        self.log = EventLog(workdir / "events.jsonl")
        environment = {**(os.environ if env is None else env),
                       **({EVENTS_VARIABLE: str(self.log.path)} if event_file else {})}
        # Files, not pipes: a chatty child must never block on a pipe nobody reads.
        with (workdir / "stdout.txt").open("wb") as out, \
                (workdir / "stderr.txt").open("wb") as err:
            self.process = subprocess.Popen(
                list(argv), cwd=cwd, env=environment, stdin=subprocess.DEVNULL, stdout=out,
                stderr=err, preexec_fn=preexec_fn, pass_fds=tuple(pass_fds),
            )
        self.started = time.monotonic()

    @property
    def events(self) -> list[Event]:
        """Every event reported so far."""
        return self.log.events()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def of(self, kind: str, **match: Any) -> list[Event]:
        """The events of ``kind`` so far whose fields equal ``match``."""
        return events_of(self.events, kind, **match)

    def wait_for_event(self, check: Callable[[list[Event]], Any], timeout: float,
                       awaited: str, interval: float = POLL_INTERVAL) -> Any:
        """Wait until ``check(events)`` is truthy, and return that; fail at once if the
        child ended first. ``interval`` spaces the checks (see ``wait_for``)."""

        def satisfied() -> Any:
            exited = not self.alive  # before reading: its last events are then in the file
            result = check(self.events)
            if not result and exited:
                raise AssertionError(f"{self.name} exited (code {self.process.returncode}) "
                                     f"before {awaited}: {self.stderr_tail()}")
            return result

        def seen() -> str:
            events = self.events
            return (f"{len(events)} events, last: {events[-1:]}; "
                    f"its stderr ends: {self.stderr_tail(1500)}")

        return wait_for(satisfied, timeout, f"{self.name}: {awaited}", seen, interval)

    def stderr_tail(self, size: int = 2000) -> str:
        with (self.workdir / "stderr.txt").open("rb") as stderr:
            stderr.seek(0, os.SEEK_END)
            stderr.seek(max(0, stderr.tell() - size))
            return stderr.read().decode(errors="replace")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT: the child finishes its work in hand and closes its clients."""
        if self.alive:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no goodbye to the broker, as in a crash."""
        if self.alive:
            self.process.kill()
            self.process.wait()
