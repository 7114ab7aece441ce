"""Each run in a PID and a mount namespace of its own, under its supervisor.

The grader's child, between fork and exec (``Namespaces.enter``), unshares a PID and a
mount namespace (with a user namespace of its own where the grader lacks
``CAP_SYS_ADMIN``), makes every mount private (nothing it mounts reaches the grader's
namespace), mounts a private ``/dev/shm`` of bounded size (multiprocessing's semaphores
live there; the grader's is shared by every process of the machine), grants the run
that folder in its Landlock ruleset (a rule names a mount: the grader's ``/dev/shm`` is
another), for a root grader opens the folders closed to other users on the way to what
the run needs (``run_user``), mounts a size-capped tmpfs over the run's own folder (its
writable copy of the submission, its ``HOME`` and ``TMPDIR``; the run's user's) with a
copy of the submission in it, grants that too, then execs the supervisor
(``inside/supervisor.py``), whose first child is the namespace's init: a fresh
``/proc``, the run's user (``nobody``, for a root grader), the command as PID 2, and
when the command ends, the kernel kills everything left in the namespace.

Where namespaces are refused (no privilege and no unprivileged user namespaces, a
container's seccomp profile), ``detect`` says why and runs go without: the grader then
finds what a run left behind by its environment marker (``kill_marked``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_kafka_lab.grading.inside.supervisor import (
    FORWARDED,
    NO_RULESET,
    NO_USER,
    allow_beneath,
    checked,
    libc,
    mount,
    private_mounts,
)
from pytest_kafka_lab.grading.sandbox.read_set import interpreter_paths
from pytest_kafka_lab.grading.sandbox.run_user import (
    Opening,
    RunUser,
    drops_to,
    open_up,
    openings,
)
from pytest_kafka_lab.processes import die_with_parent

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x10000000, 0x20000000
CAP_SYS_ADMIN = 21
MS_NOSUID, MS_NODEV = 2, 4
SHARED_MEMORY_SIZE = 64 * 1024 * 1024  # a run's /dev/shm: a tmpfs, charged to its memory
SHARED_MEMORY = "/dev/shm"
# All a run may write in its own folder, together (the folder is a tmpfs of this size, in
# memory, charged to the run's memory cap): RLIMIT_FSIZE caps each file alone.
FOLDER_SIZE = 256 * 1024 * 1024
COPIED = "submission"  # the part of the run's folder copied into its tmpfs
CHUNK = 1024 * 1024
PROBE_TIMEOUT = 20.0
# The probe's command, under the supervisor: it must be PID 2, see only itself and init
# in /proc, and write to a /dev/shm of the run's own size.
PROBE = ("import os\n"
         "assert os.getpid() == 2, os.getpid()\n"
         "seen = sorted(int(name) for name in os.listdir('/proc') if name.isdigit())\n"
         "assert seen == [1, 2], seen\n"
         "open('/dev/shm/probe', 'w').close()\n"
         "shm = os.statvfs('/dev/shm')\n"
         f"assert shm.f_blocks * shm.f_frsize <= {SHARED_MEMORY_SIZE}, shm\n")


@dataclass(frozen=True)
class Namespaces:
    """How this machine gives a run its namespaces: ``user`` when it takes a user
    namespace of its own too (an unprivileged grader); ``run_user``: who the run becomes
    (a root grader's), or None, and ``run_user_refused`` why not."""

    user: bool
    run_user: RunUser | None = None
    run_user_refused: str = field(default="", compare=False)

    @property
    def flags(self) -> int:
        return CLONE_NEWPID | CLONE_NEWNS | (CLONE_NEWUSER if self.user else 0)

    def enter(self, ruleset: int | None, shared_memory_rights: int,
              folder: Path | None = None, plan: Sequence[Opening] = ()) -> None:
        """In the child, before it execs the supervisor: the namespaces, a private
        ``/dev/shm``, the closed folders of ``plan`` opened to the run's user, the run's
        ``folder`` on a capped tmpfs of that user's (``own_folder``), and both in the
        run's Landlock ``ruleset``."""
        # Held until the supervisor can forward them (the mask survives exec): a Ctrl-C
        # that comes while it starts reaches the command, never kills the supervisor.
        signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
        uid, gid = os.getuid(), os.getgid()
        checked(libc().unshare(self.flags), "unshare")
        if self.user:
            map_to_root(uid, gid)
        private_mounts()
        mount("tmpfs", SHARED_MEMORY, "tmpfs", MS_NOSUID | MS_NODEV,
              f"size={SHARED_MEMORY_SIZE},mode=1777")
        if ruleset is not None:
            allow_beneath(ruleset, SHARED_MEMORY, shared_memory_rights)
        open_up(plan)  # before the run's folder is covered: it may lie in a closed one
        if folder is not None:
            own_folder(folder, self.run_user)
            if ruleset is not None:
                allow_beneath(ruleset, str(folder), shared_memory_rights)

    def supervised(self, supervisor: Path, ruleset: int | None, command: Sequence[str]
                   ) -> list[str]:
        """The command line that runs ``command`` under its supervisor."""
        user = NO_USER if self.run_user is None else self.run_user.argument()
        return [sys.executable, "-I", "-S", str(supervisor),
                NO_RULESET if ruleset is None else str(ruleset), user, "--", *command]

    def openings(self, paths: Sequence[Path]) -> tuple[Opening, ...]:
        """What opens ``paths`` to the run's user (nothing where the run keeps the
        grader's user)."""
        return () if self.run_user is None else openings(paths)


def own_folder(folder: Path, owner: RunUser | None = None) -> None:
    """Over ``folder`` (the run's, in its mount namespace alone), a tmpfs of
    ``FOLDER_SIZE`` (``owner``'s, where the run becomes another user), holding a copy of
    its ``COPIED`` part: all the run writes there is capped together, and gone with the
    namespace. What the grader opened in it before (the run's stdout and stderr) stays
    open on the grader's disk."""
    cwd = os.getcwd()  # set before this runs, on the folder's disk copy beneath the tmpfs
    source = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    owned = "" if owner is None else f",uid={owner.uid},gid={owner.gid}"
    try:
        mount("tmpfs", str(folder), "tmpfs", MS_NOSUID | MS_NODEV,
              f"size={FOLDER_SIZE},mode=0700{owned}")
        copy_beneath(source, COPIED, folder, owner)
    finally:
        os.close(source)
    os.chdir(cwd)  # the same path, now the tmpfs copy


def copy_beneath(source: int, top: str, target: Path, owner: RunUser | None = None
                 ) -> None:
    """Copy ``top`` (relative to the folder open as ``source``) into ``target``: folders,
    files and symbolic links, with their modes (and ``owner``'s, where there is one)."""
    for path, _, files, fd in os.fwalk(top, dir_fd=source):
        here = target / path
        here.mkdir(mode=stat.S_IMODE(os.stat(fd).st_mode) | stat.S_IRWXU, exist_ok=True)
        hand_over(here, owner)
        for name in files:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(name, dir_fd=fd), here / name)
            elif stat.S_ISREG(info.st_mode):
                copy_file(fd, name, here / name, stat.S_IMODE(info.st_mode))
            else:
                continue
            hand_over(here / name, owner)


def hand_over(path: Path, owner: RunUser | None) -> None:
    if owner is not None:
        os.chown(path, owner.uid, owner.gid, follow_symlinks=False)


def copy_file(folder: int, name: str, target: Path, mode: int) -> None:
    reader = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder)
    try:
        writer = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            while chunk := os.read(reader, CHUNK):
                os.write(writer, chunk)
        finally:
            os.close(writer)
    finally:
        os.close(reader)


def map_to_root(uid: int, gid: int) -> None:
    """In a new user namespace: be its root (the supervisor keeps the capabilities to
    mount ``/proc`` across exec; it drops them all before the command starts), the
    grader's own ids outside it."""
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


def privileged() -> bool:
    """Whether this process holds ``CAP_SYS_ADMIN`` (root, outside a user namespace)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        effective = next(line for line in status if line.startswith("CapEff:"))
        return bool(int(effective.split()[1], 16) >> CAP_SYS_ADMIN & 1)
    return False


def candidates() -> list[Namespaces]:
    """The ways to give a run its namespaces, best first: a root grader's (with an
    unprivileged user for the run, then without), then a user namespace of its own."""
    if not privileged():
        return [Namespaces(user=True)]
    run_user = drops_to()
    as_user = [Namespaces(user=False, run_user=run_user)] if run_user else []
    return [*as_user, Namespaces(user=False), Namespaces(user=True)]


def detect(supervisor: Path) -> Namespaces | str:
    """The namespaces a run gets here, tried once with a probe under the supervisor; or
    why it gets none. A root grader's namespaces without the run's own user say why not
    (``run_user_refused``)."""
    if not sys.platform.startswith("linux"):
        return f"no PID namespaces on {sys.platform}"
    reasons: list[str] = []
    for namespaces in candidates():
        reason = probe(namespaces, supervisor)
        if reason is None:
            return dataclasses.replace(namespaces, run_user_refused="; ".join(reasons))
        reasons.append(reason)
    return "; ".join(reason for reason in reasons if not reason.startswith(AS_USER))


AS_USER = "an unprivileged user"


def probe(namespaces: Namespaces, supervisor: Path) -> str | None:
    """Why a run under ``namespaces`` fails here, or None when it works."""
    plan = namespaces.openings([*interpreter_paths(), supervisor])

    def enter() -> None:
        die_with_parent()
        try:
            namespaces.enter(None, 0, plan=plan)
        except OSError as error:  # said on its stderr: a preexec_fn's error is not
            os.write(2, f"{error.strerror or error}\n".encode())
            os._exit(126)

    command = namespaces.supervised(supervisor, None, [sys.executable, "-I", "-S", "-c",
                                                       probe_source(namespaces)])
    kind = "a user namespace" if namespaces.user else \
        AS_USER if namespaces.run_user else "PID and mount namespaces"
    try:
        result = subprocess.run(command, preexec_fn=enter, capture_output=True, text=True,
                                timeout=PROBE_TIMEOUT, cwd="/")
    except (OSError, subprocess.SubprocessError) as error:
        return f"{kind} refused: {error}"
    if result.returncode != 0:
        said = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        return f"{kind} refused: {said}"
    return None


def probe_source(namespaces: Namespaces) -> str:
    """``PROBE``, and for a run that becomes another user: that it is that user."""
    if namespaces.run_user is None:
        return PROBE
    return PROBE + f"assert os.getuid() == {namespaces.run_user.uid}, os.getuid()\n"


def namespace_of(pid: int) -> str | None:
    """The PID namespace a process's children are born in (the run's, for the grader's
    child that unshared it); None when the process is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid_for_children")
    except OSError:
        return None


def members(namespace: str) -> list[int]:
    """The live processes of a PID namespace (zombies have left it), init first."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry.name}/ns/pid") == namespace:
                    found.append(int(entry.name))
    return sorted(found)


def kill_namespace(namespace: str, timeout: float = 10.0,
                   sleep: Callable[[float], None] = time.sleep) -> list[int]:
    """SIGKILL every process of ``namespace`` (init's end kills the rest: the kernel's
    guarantee) and wait until none is left; what is left after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (left := members(namespace)) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        sleep(0.01)
    return left

