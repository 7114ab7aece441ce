"""The supervisor of a graded run in a PID namespace of its own, and the kernel calls that
confine a run (shared with the grader's ``sandbox/confinement``).

The grader's child unshares a PID and a mount namespace (``sandbox/namespaces``) and
execs this file as ``python -I -S supervisor.py RULESET USER -- COMMAND...`` (``-`` for
either: no ruleset, no other user). The process that runs it stays in the grader's
namespace (the *outer* one: the grader's child, whose exit the grader waits for); the
first child it forks is PID 1 of the new namespace, the run's *init*, which:

- mounts a fresh ``/proc`` (the run sees its own processes, and no other run's command
  line), adds it to the Landlock ruleset, becomes ``USER`` (``uid:gid``, for a root
  grader: ``sandbox/run_user``), forbids itself new privileges, drops every capability
  and enters the ruleset: so does all it starts;
- forks the command as PID 2, in a session of its own, and execs it;
- forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to the command's process group (Ctrl-C
  from the grader reaches the command's group once, as a terminal sends it), reaps the
  orphans the command leaves to it, and, when the command ends, tells the outer process
  how (its wait status) and exits: the kernel then SIGKILLs whatever is left in the
  namespace, however it detached (a new session, an empty environment, a double fork).

The outer process forwards the same signals to init and ends as the command ended (its
exit code, or killed by the same signal): the grader sees the command's status.

Run with ``-I -S`` from the run library: the standard library alone, no ``site`` (no
``sitecustomize``), nothing of the submission's folder (its cwd) on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import select
import signal
import struct
import sys
from collections.abc import Sequence
from functools import cache
from typing import NoReturn

# Syscall numbers (the same on every Linux architecture but alpha) and flags of
# <linux/landlock.h>, <linux/prctl.h>, <linux/capability.h> and <sys/mount.h>.
SYS_ADD_RULE, SYS_RESTRICT_SELF = 445, 446
RULE_PATH_BENEATH = 1
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
LAST_CAPABILITY = 63  # beyond the kernel's last, PR_CAPBSET_DROP fails harmlessly
CAPABILITY_VERSION_3 = 0x20080522
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
READ_RIGHTS = (1 << 0) | (1 << 2) | (1 << 3)  # Landlock: execute, read file, read dir
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
NO_RULESET = NO_USER = "-"
STATUS = struct.Struct("i")  # the command's wait status, from init to the outer process


class CapabilityHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapabilityData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@cache
def libc() -> ctypes.CDLL:
    library = ctypes.CDLL(None, use_errno=True)
    library.syscall.restype = ctypes.c_long
    return library


def checked(result: int, what: str) -> int:
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")
    return result


def syscall(number: int, *args: object) -> int:
    return checked(int(libc().syscall(ctypes.c_long(number), *args)), f"syscall {number}")


def prctl(option: int, value: int) -> None:
    checked(libc().prctl(option, value, 0, 0, 0), f"prctl({option})")


def mount(source: str, target: str, kind: str | None, flags: int, data: str = "") -> None:
    checked(libc().mount(source.encode(), target.encode(), kind.encode() if kind else None,
                         ctypes.c_ulong(flags), data.encode() if data else None),
            f"mount {target}")


def private_mounts() -> None:
    """In a new mount namespace: nothing mounted here propagates to the grader's."""
    mount("none", "/", None, MS_REC | MS_PRIVATE)


def allow_beneath(ruleset: int, path: str, rights: int) -> None:
    """Add ``rights`` on the folder ``path`` (as mounted now) to a Landlock ruleset."""
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC | os.O_DIRECTORY)
    try:
        attr = PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                ctypes.byref(attr), ctypes.c_uint32(0))
    finally:
        os.close(fd)


def drop_bounding_set() -> None:
    """No capability gained by any later exec (done while ``CAP_SETPCAP`` is held)."""
    for capability in range(LAST_CAPABILITY + 1):
        libc().prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)


def clear_capabilities() -> None:
    """None now: a run that keeps uid 0 is root without root's powers (it cannot read a
    non-dumpable process's ``/proc`` files, nor unmount its ``/proc``)."""
    header = CapabilityHeader(CAPABILITY_VERSION_3, 0)
    checked(libc().capset(ctypes.byref(header), ctypes.byref((CapabilityData * 2)())),
            "capset")


def become(user: str) -> None:
    """Become ``user`` (``uid:gid``) for good, with no supplementary groups: needs
    ``CAP_SETUID`` and ``CAP_SETGID``, so it comes before the capabilities go (leaving
    uid 0 clears them anyway)."""
    uid, gid = (int(part) for part in user.split(":"))
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def confine(ruleset: int | None, user: str = NO_USER) -> None:
    """For good, for this process and all it will start: no capability to gain, the run's
    ``user`` where there is one, no new privileges (the price of an unprivileged
    Landlock, and no setuid escape), no capabilities, and the Landlock ``ruleset`` where
    there is one."""
    drop_bounding_set()
    if user != NO_USER:
        become(user)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    clear_capabilities()
    if ruleset is not None:
        syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))


def become_command(command: Sequence[str]) -> NoReturn:
    """In init's child: a session of its own (a Ctrl-C for its group), the signals as a
    fresh process has them, then the command."""
    os.setsid()
    for number in (*FORWARDED, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(number, signal.SIG_DFL)  # Python ignores SIGPIPE and SIGXFSZ
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    try:
        os.execvp(command[0], list(command))
    except OSError as error:
        print(f"kafka-lab supervisor: cannot run {command[0]}: {error}", file=sys.stderr)
    os._exit(127)


def set_up_init(ruleset: int | None, user: str, lifeline: int) -> None:
    """Init's own set-up, while it still holds the capabilities its parent had."""
    tie_to_outer(lifeline)
    os.setsid()  # out of the outer process's group: the grader's Ctrl-C comes through it
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if ruleset is not None:
        allow_beneath(ruleset, "/proc", READ_RIGHTS)  # the rule on the grader's /proc
    confine(ruleset, user)                             # does not reach this new mount
    if ruleset is not None:
        os.close(ruleset)
    # The kernel forgets a parent-death signal when a process changes its user: set
    # again, or a run's init would outlive a grader killed with SIGKILL.
    tie_to_outer(lifeline)
    os.close(lifeline)
    prctl(PR_SET_DUMPABLE, 0)  # the run cannot read init's memory or descriptors


def tie_to_outer(lifeline: int) -> None:
    """Die with the outer process: its death signal, and, had it died before that took
    hold, its end of the ``lifeline`` pipe closed already."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if select.select([lifeline], [], [], 0)[0]:
        raise OSError(errno.ESRCH, "the grader's child is gone")


def be_init(command: Sequence[str], ruleset: int | None, user: str, status_out: int,
            lifeline: int) -> int:
    """PID 1 of the run's namespace: start the command, forward signals, reap orphans;
    write the command's wait status to ``status_out`` when it ends. ``lifeline`` reads
    the end of a pipe the outer process holds open until it dies."""
    try:
        set_up_init(ruleset, user, lifeline)
    except OSError as error:
        print(f"kafka-lab supervisor: {error}", file=sys.stderr)
        return 125
    child = os.fork()
    if child == 0:
        become_command(command)

    def forward(number: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, number)

    for number in FORWARDED:
        signal.signal(number, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)  # what came meanwhile, now
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == child:
            os.write(status_out, STATUS.pack(status))
            return 0


def end_as(status: int) -> NoReturn:
    """End this process as a process with wait ``status`` ended: killed by the same
    signal, or exiting with the same code."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):
            signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
        os.kill(os.getpid(), number)
        os._exit(128 + number)  # a signal that does not kill (SIGCHLD): never seen
    os._exit(os.waitstatus_to_exitcode(status))


def be_outer(init: int, status_in: int) -> NoReturn:
    """The grader's child: forward signals to init, wait for it, end as the command did
    (or as init did, had it no word)."""

    def forward(number: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(init, number)

    for number in FORWARDED:
        signal.signal(number, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    _, init_status = os.waitpid(init, 0)
    reported = os.read(status_in, STATUS.size)
    end_as(STATUS.unpack(reported)[0] if len(reported) == STATUS.size else init_status)


def main(argv: Sequence[str]) -> NoReturn:
    ruleset_arg, user, separator, *command = argv
    if separator != "--" or not command:
        print("usage: supervisor.py RULESET|- UID:GID|- -- COMMAND...", file=sys.stderr)
        os._exit(2)
    ruleset = None if ruleset_arg == NO_RULESET else int(ruleset_arg)
    # Blocked until each process has its handlers: a forwarded signal waits, never lost
    # (a namespace's init drops a signal it has no handler for).
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    status_in, status_out = os.pipe()
    lifeline, held = os.pipe()  # held open by this process alone, till it dies
    init = os.fork()
    if init == 0:
        os.close(status_in)
        os.close(held)
        os._exit(be_init(command, ruleset, user, status_out, lifeline))
    os.close(status_out)
    os.close(lifeline)
    if ruleset is not None:
        os.close(ruleset)
    be_outer(init, status_in)


if __name__ == "__main__":
    main(sys.argv[1:])
