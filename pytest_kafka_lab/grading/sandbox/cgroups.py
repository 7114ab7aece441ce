"""Caps on a run's processes and memory: a cgroup of its own in each cgroup v1 hierarchy
that bounds them (``pids``: ``pids.max``; ``memory``: ``memory.limit_in_bytes``).

Each run's cgroups are made beneath the grader's own (so they also stay inside whatever
bounds the grader), joined by the run's first process between fork and exec (so that
everything it starts is inside before it can start anything), and at the end emptied
(every process left in them killed: a second guarantee beside the PID namespace) and
removed; those a grader killed mid-run left behind, the next sandbox sweeps (``sweep``).
A run cannot leave them: moving a process needs a write to ``/sys``, which Landlock and
the dropped capabilities refuse.

Where a hierarchy is missing (a machine with cgroup v2 alone) or the grader may not make
cgroups (not root, no delegation), ``refused`` says why and runs go without that cap.
``RLIMIT_NPROC`` is no substitute: it counts every process of the user, machine-wide,
and root's processes are many.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HIERARCHIES = Path("/sys/fs/cgroup")
PIDS_MAX = 256  # tasks: processes and their threads (a JVM holds about 30, librdkafka ~10)
MEMORY_MAX = 1536 * 1024 * 1024  # the docker stand-in's JVM alone takes about 300 MB
# What each controller's cgroup of a run is given: its files and values, in order (the
# memory-and-swap limit may not fall below the memory limit).
LIMITS: dict[str, tuple[tuple[str, int], ...]] = {
    "pids": (("pids.max", PIDS_MAX),),
    "memory": (("memory.limit_in_bytes", MEMORY_MAX),
               ("memory.memsw.limit_in_bytes", MEMORY_MAX)),
}
OPTIONAL = {"memory.memsw.limit_in_bytes"}  # present only where swap is accounted
EMPTY_TIMEOUT = 10.0
RUN_PREFIX = "kafka-lab-run-"
# A run's cgroup is empty only for an instant after it is made and once its run ended:
# empty and older than this, it was left by a grader that died (SIGKILL) before its end.
STALE_AFTER = 60.0


def own_cgroup(controller: str, table: str | None = None) -> Path | None:
    """This process's cgroup folder in ``controller``'s v1 hierarchy, where it is
    mounted here; None where it is not."""
    if table is None:
        try:
            table = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    for line in table.splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            folder = HIERARCHIES / controller / path.lstrip("/")
            return folder if (folder / "cgroup.procs").exists() else None
    return None


def make(controller: str, name: str) -> Path:
    """A cgroup ``name`` beneath this process's own in ``controller``, with its limits."""
    parent = own_cgroup(controller)
    if parent is None:
        raise FileNotFoundError(f"no cgroup v1 {controller} hierarchy at "
                                f"{HIERARCHIES / controller}")
    folder = parent / name
    folder.mkdir()
    try:
        for file, value in LIMITS[controller]:
            if file in OPTIONAL and not (folder / file).exists():
                continue
            (folder / file).write_text(str(value))
    except BaseException:
        folder.rmdir()
        raise
    return folder


def refused(controller: str) -> str | None:
    """Why a run can get no cgroup in ``controller`` here (tried once), or None."""
    try:
        make(controller, f"kafka-lab-probe-{uuid.uuid4().hex}").rmdir()
    except OSError as error:
        said = f"{error.strerror}: {error.filename}" if error.filename else str(error)
        return f"cannot make a {controller} cgroup ({said})"
    return None


@dataclass(frozen=True)
class RunCgroups:
    """One run's cgroups, by controller."""

    folders: Mapping[str, Path]

    @classmethod
    def make(cls, controllers: tuple[str, ...], name: str) -> RunCgroups:
        folders: dict[str, Path] = {}
        try:
            for controller in controllers:
                folders[controller] = make(controller, name)
        except BaseException:
            cls(folders).remove()
            raise
        return cls(folders)

    def join(self) -> None:
        """In the child, before exec: move this process into each of the run's cgroups."""
        pid = str(os.getpid()).encode()
        for folder in self.folders.values():
            fd = os.open(folder / "cgroup.procs", os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)

    def processes(self) -> set[int]:
        found: set[int] = set()
        for folder in self.folders.values():
            with contextlib.suppress(OSError):
                found |= {int(line) for line in (folder / "cgroup.procs").read_text().split()}
        return found

    def kill(self, timeout: float = EMPTY_TIMEOUT) -> set[int]:
        """SIGKILL whatever is in the run's cgroups until they are empty; what is left
        after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := self.processes()) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        return left

    def remove(self) -> None:
        """Empty and remove the run's cgroups (a cgroup in use cannot be removed; one
        that will not empty is left, and its processes were killed as far as could be)."""
        self.kill()
        for folder in self.folders.values():
            with contextlib.suppress(OSError):
                remove_when_empty(folder)


def remove_when_empty(folder: Path, timeout: float = 2.0) -> None:
    """``rmdir``, retried while the kernel still counts a process that just died."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return  # removed already
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def refusals() -> dict[str, str | None]:
    """For each controller that caps runs: why a run gets no cgroup of it here, or None."""
    return {controller: refused(controller) for controller in LIMITS}


def sweep(controllers: tuple[str, ...], stale_after: float = STALE_AFTER) -> list[Path]:
    """Remove the run cgroups that dead graders left beside ours: empty, and older than
    ``stale_after`` seconds. A cgroup in use refuses ``rmdir``; what was removed."""
    removed = []
    for controller in controllers:
        parent = own_cgroup(controller)
        for folder in parent.glob(f"{RUN_PREFIX}*") if parent else ():
            with contextlib.suppress(OSError):
                if time.time() - folder.stat().st_mtime > stale_after \
                        and not (folder / "cgroup.procs").read_text().strip():
                    folder.rmdir()
                    removed.append(folder)
    return removed
