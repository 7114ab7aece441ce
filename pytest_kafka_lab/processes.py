"""Child processes that never outlive the test run."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from typing import Any

from pytest_kafka_lab.waiting import wait_for

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
    """A child that reports on stdout, one JSON object a line; ``events`` fills as they
    arrive. It dies with this process, and can be stopped (SIGINT) or killed (SIGKILL)."""

    def __init__(self, argv: list[str], name: str) -> None:
        self.name = name
        self.events: list[dict[str, Any]] = []
        # A file, not a pipe: a chatty child must never block on a pipe nobody reads.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - read after the child ends
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            preexec_fn=die_with_parent,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.append(json.loads(line))

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def of(self, event: str) -> list[dict[str, Any]]:
        return [report for report in self.events if report["event"] == event]

    def wait_for_event(self, check: Callable[[list[dict[str, Any]]], Any], timeout: float,
                       awaited: str) -> Any:
        """Wait until ``check(events)`` is truthy; fail at once if the child ended first."""

        def satisfied() -> Any:
            exited = not self.alive
            result = check(self.events)
            if not result and exited:
                raise AssertionError(f"{self.name} exited (code {self.process.returncode}) "
                                     f"before {awaited}: {self.stderr_tail()}")
            return result

        return wait_for(satisfied, timeout, f"{self.name}: {awaited}",
                        lambda: f"{len(self.events)} events, last: {self.events[-1:]}; "
                                f"its stderr ends: {self.stderr_tail(1500)}")

    def stderr_tail(self, size: int = 2000) -> str:
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, self._stderr.tell() - size))
        return self._stderr.read().decode(errors="replace")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT: the child finishes its work in hand and closes its clients."""
        if self.alive:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout)
        self._reader.join(timeout)

    def kill(self) -> None:
        """SIGKILL: no goodbye to the broker, as in a crash."""
        if self.alive:
            self.process.kill()
            self.process.wait()
        self._reader.join(5)
