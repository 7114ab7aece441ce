"""Child processes that never outlive the test run."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child before exec: start a new process group and die when the parent dies.

    A new group lets a stop signal reach the child's own children; the parent-death
    signal (Linux) kills the child even when pytest itself is SIGKILLed, which no
    ``atexit`` handler survives. Meant as ``preexec_fn``; the death signal holds only
    while the thread that spawned the child lives, so spawn from a long-lived thread.
    """
    os.setsid()
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
