"""The kernel keeps a graded run inside its boundary: Landlock, Linux's unprivileged
security module (kernel 5.13 and later).

The grader builds a ruleset for each run (``build``): read and execute on what Python
and Java need, read and write in the run's own folder. The child, between fork and
exec, forbids itself new privileges and enters the ruleset (``enter``); in a PID
namespace of its own, the run's supervisor does, once it has added the run's own
``/proc`` and ``/dev/shm`` (``inside/supervisor``, ``namespaces``). The rules hold for
the run and every process it starts, and anything else on disk fails with ``EACCES``.
Where Landlock is missing (another system, an older kernel, the module switched off)
runs go unconfined, and ``unavailable()`` says why.

Landlock leaves ``/proc/PID/environ`` of a process of the same user readable (seen on
Linux 6.18), and lets a run signal any such process. So the grader makes itself
non-dumpable (``hide_grader``), which keeps its ``/proc`` files from anyone without
``CAP_SYS_PTRACE``; the child drops every capability before exec (a root grader's run
is ``nobody`` in its namespaces, ``run_user``, or else root without root's powers); and
where the ABI knows it (6+), the ruleset forbids signals to processes outside the run.
"""

from __future__ import annotations

import ctypes
import os
import platform
import stat
import sys
from collections.abc import Collection
from functools import cache

from pytest_kafka_lab.grading.inside.boundary import Boundary
from pytest_kafka_lab.grading.inside.supervisor import confine

# Syscall numbers (the same on every Linux architecture but alpha) and flags of
# <linux/landlock.h> and <linux/prctl.h>.
SYS_CREATE_RULESET, SYS_ADD_RULE = 444, 445
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_DUMPABLE = 4
SCOPE_SIGNAL = 1 << 1  # ABI 6: no signals to processes outside the domain
RULE_NET_PORT = 2
CONNECT_TCP = 1 << 1  # ABI 4: LANDLOCK_ACCESS_NET_CONNECT_TCP

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
MAKE_CHAR, MAKE_BLOCK, TRUNCATE, IOCTL_DEV = 1 << 6, 1 << 11, 1 << 14, 1 << 15
# The filesystem rights each ABI version knows: 13 in the first, then REFER (2),
# TRUNCATE (3), IOCTL_DEV (5); versions 4, 6 and 7 added network and other rules.
FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
READ = EXECUTE | READ_FILE | READ_DIR
# Never granted: a block device node made by a run as root would open the disk.
MAKE_DEVICE = MAKE_CHAR | MAKE_BLOCK
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # all a file may get



class ConfinementError(OSError):
    """Landlock is there, but refused the ruleset: a fault of the grader, not of a run."""


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class NetPortAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@cache
def libc() -> ctypes.CDLL:
    library = ctypes.CDLL(None, use_errno=True)
    library.syscall.restype = ctypes.c_long
    return library


def syscall(number: int, *args: object) -> int:
    result = int(libc().syscall(ctypes.c_long(number), *args))
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return result


@cache
def abi() -> int:
    """The Landlock ABI version the kernel speaks; 0 where there is none."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        return syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                       ctypes.c_uint32(CREATE_RULESET_VERSION))
    except (OSError, AttributeError):  # ENOSYS, EOPNOTSUPP; no syscall() in this libc
        return 0


def unavailable() -> str | None:
    """Why runs cannot be confined here, or None when they can."""
    if abi() > 0:
        return None
    return (f"Landlock is not available on this system ({sys.platform}, "
            f"{platform.release()}): submissions run unconfined")


def handled_rights() -> int:
    return FS_RIGHTS_BY_ABI[max(version for version in FS_RIGHTS_BY_ABI if version <= abi())]


def confines_connections() -> bool:
    """Whether the kernel can limit the TCP ports a run connects to (ABI 4 and later)."""
    return abi() >= 4


def build(boundary: Boundary, connect_ports: Collection[int] | None = None) -> int:
    """A Landlock ruleset (a file descriptor, closed on exec) for ``boundary``; with
    ``connect_ports``, TCP connections to those ports only, where the kernel can."""
    handled = handled_rights()
    ports = connect_ports if connect_ports is not None and confines_connections() else None
    attr = RulesetAttr(handled_access_fs=handled, handled_access_net=0 if ports is None
                       else CONNECT_TCP, scoped=SCOPE_SIGNAL if abi() >= 6 else 0)
    try:
        ruleset = syscall(SYS_CREATE_RULESET, ctypes.byref(attr),
                          ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    except OSError as error:
        raise ConfinementError(error.errno, f"landlock_create_ruleset: {error.strerror}") \
            from error
    try:
        for path in boundary.listable:
            allow(ruleset, path, READ_DIR & handled)
        for path in boundary.readable:
            allow(ruleset, path, READ & handled)
        for path in boundary.writable:
            allow(ruleset, path, handled & ~MAKE_DEVICE)
        for port in ports or ():
            allow_connect(ruleset, port)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def allow(ruleset: int, path: str, rights: int) -> None:
    """Grant ``rights`` on ``path`` and all beneath it; a path that does not exist is no
    rule (what is not there cannot be read)."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS  # a file takes no folder rights (EINVAL)
        attr = PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                ctypes.byref(attr), ctypes.c_uint32(0))
    except OSError as error:
        raise ConfinementError(error.errno, f"landlock_add_rule {path}: {error.strerror}") \
            from error
    finally:
        os.close(fd)


def allow_connect(ruleset: int, port: int) -> None:
    attr = NetPortAttr(allowed_access=CONNECT_TCP, port=port)
    try:
        syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_NET_PORT),
                ctypes.byref(attr), ctypes.c_uint32(0))
    except OSError as error:
        raise ConfinementError(error.errno, f"landlock_add_rule port {port}: "
                                            f"{error.strerror}") from error


def enter(ruleset: int) -> None:
    """In the child, before exec: confine this process and all it will start, for good
    (where no supervisor does it for the run: ``supervisor.confine``)."""
    confine(ruleset)


def hide_grader() -> None:
    """Make this process non-dumpable: its ``/proc/PID/environ`` (the grader's secrets)
    and memory are then closed to processes without ``CAP_SYS_PTRACE``, as runs are."""
    if sys.platform.startswith("linux"):
        libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
