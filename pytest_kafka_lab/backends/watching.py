"""Watching a broker's processes: how one ended, whether one is dying, and its log's tail.

Shared by the backends whose processes this run can see (a local node, every node of a
local cluster, the xdist controller's broker seen from a worker) and by the death watch.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_kafka_lab.backends import WatchedNode

PROC = Path("/proc")
PF_EXITING = 0x4  # a task's flag (field 9 of /proc/PID/stat) from its first step of exit
SIGKILL_PENDING = 1 << (signal.SIGKILL - 1)


def tail_of(log: Path, lines: int = 40) -> str:
    """The last ``lines`` of the file ``log``; empty if it is not there (any more)."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def describe_exit(code: int) -> str:
    """``Popen.returncode`` in words: a signal by its name, else the exit code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def proc_file(pid: int, name: str) -> str | None:
    """``/proc/PID/NAME``, or None when there is no such process (any more)."""
    try:
        return (PROC / str(pid) / name).read_text()
    except FileNotFoundError:
        return None


def process_gone(pid: int) -> bool:
    """True once process ``pid`` has ended: absent, or a zombie waiting for its parent
    (an xdist worker's view of the controller's child, whose exit code it cannot see)."""
    if not PROC.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    stat = proc_file(pid, "stat")
    return stat is None or stat.rpartition(")")[2].split()[0] in ("Z", "X")


def process_dying(pid: int) -> bool:
    """True from the moment a SIGKILL reaches process ``pid`` (or it starts to exit) until
    it is reaped. A killed JVM closes its sockets, thread by thread, before it can be
    reaped, so its clients can see the death first; a check seeing this waits for the end.
    """
    if not PROC.is_dir():
        return process_gone(pid)  # elsewhere only the end itself shows
    stat, status = proc_file(pid, "stat"), proc_file(pid, "status")
    if stat is None or status is None:
        return True
    fields = stat.rpartition(")")[2].split()  # from field 3, the state; 9 is the flags
    state, flags = fields[0], int(fields[6])
    pending = 0
    for line in status.splitlines():
        if line.startswith(("SigPnd:", "ShdPnd:")):
            pending |= int(line.split()[1], 16)
    return state in ("Z", "X") or bool(flags & PF_EXITING or pending & SIGKILL_PENDING)


@dataclass(frozen=True)
class WatchedPid:
    """A node another process started and owns (the xdist controller's), watched through
    its pid and log only: its exit code is not ours to see, nor its log ours to keep."""

    name: str
    bootstrap_servers: str
    pid: int
    log_path: Path

    def ended(self) -> str | None:
        return "its process is gone" if process_gone(self.pid) else None

    def log_tail(self, lines: int = 40) -> str:
        return tail_of(self.log_path, lines)

    def keep_log(self, name: str) -> Path | None:
        return None


def tails_of(nodes: Sequence[WatchedNode], lines: int = 40) -> str:
    """The logs' tails of ``nodes``: one as it is, several each under its node's name."""
    if len(nodes) == 1:
        return nodes[0].log_tail(lines)
    return "\n".join(f"--- {node.name} ---\n{node.log_tail(lines)}" for node in nodes)
