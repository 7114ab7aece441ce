"""A root grader's runs as an unprivileged user (``nobody``), and the folders opened to it.

A run that keeps uid 0 (even without capabilities) owns every root-owned file the
Landlock read set grants: their modes refuse it nothing. As ``nobody``, a file's mode
holds too. But what a run needs often lies beneath folders closed to other users (a
pyenv Python under ``/root``, a tox venv in a ``.tox`` of mode 700, the jar cache under
``/root/.cache``, the sandbox's own folder), and the grader must not change their modes.

So, in the run's own mount namespace (``namespaces``), each closed folder on the way to a
needed path is *opened*: the entries beneath it that lead to needed paths are cloned
(``open_tree``), a tmpfs that anyone may enter (mode 755, root's) covers the folder, and
the clones are put back at their paths (``move_mount``); a symbolic link is made again.
Everything else of the folder is hidden from the run. A clone is the same files (the same
inodes): the Landlock rules the grader made from its own view still name them. Folders
are opened outermost first, so one nested in a clone (``/root/.cache`` inside ``/root``)
is opened in turn. The run's supervisor then becomes ``RUN_UID`` before it confines
itself (``inside/supervisor.confine``).

Only a root grader with a mount namespace of its own (no user namespace) can do this;
elsewhere runs keep the grader's user, and ``isolation`` says why.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pytest_kafka_lab.grading.inside.supervisor import mount, syscall

RUN_UID = RUN_GID = 65534  # nobody, nogroup: owns nothing of the machine's
SYS_OPEN_TREE, SYS_MOVE_MOUNT = 428, 429  # the same on every architecture but alpha
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC, AT_RECURSIVE = 1, os.O_CLOEXEC, 0x8000
AT_FDCWD, MOVE_MOUNT_F_EMPTY_PATH = -100, 4
MS_NOSUID, MS_NODEV = 2, 4
# A covering tmpfs holds only the folders and files its clones are mounted on.
COVER_OPTIONS = "size=1m,mode=0755"


@dataclass(frozen=True)
class RunUser:
    """Who a root grader's runs become: ``uid:gid`` on the supervisor's command line."""

    uid: int = RUN_UID
    gid: int = RUN_GID

    def argument(self) -> str:
        return f"{self.uid}:{self.gid}"


@dataclass(frozen=True)
class Entry:
    """An entry beneath an opened folder that leads to a needed path: a folder or a file
    (cloned, and mounted back on one made alike) or a symbolic link (made again)."""

    path: str
    kind: str  # "folder", "file" or "link"
    target: str = ""


@dataclass(frozen=True)
class Opening:
    """A folder closed to other users, and the entries to put back once it is covered."""

    folder: str
    entries: tuple[Entry, ...]


def enterable(folder: Path) -> bool:
    """Whether a user other than the owner may pass through ``folder``."""
    try:
        return bool(os.stat(folder).st_mode & stat.S_IXOTH)
    except OSError:
        return True  # not there: nothing to open


def closed_ancestors(path: Path) -> list[Path]:
    """The folders on the way to ``path`` (not ``path`` itself) that other users cannot
    enter, outermost first."""
    return [folder for folder in reversed(path.parents) if not enterable(folder)]


def beneath_closed(paths: Iterable[Path]) -> list[Path]:
    """The ``paths`` that lie beneath a folder closed to other users."""
    return [path for path in dict.fromkeys(paths) if closed_ancestors(path)]


def entry(path: Path) -> Entry:
    if path.is_symlink():
        return Entry(str(path), "link", os.readlink(path))
    return Entry(str(path), "folder" if path.is_dir() else "file")


def openings(paths: Iterable[Path]) -> tuple[Opening, ...]:
    """What opens every path of ``paths`` that exists to other users, outermost first:
    each closed folder on the way, with its entries that lead there."""
    leads: dict[Path, dict[Path, None]] = {}
    for path in paths:
        if not os.path.lexists(path):
            continue
        for folder in closed_ancestors(path):
            step = folder / path.relative_to(folder).parts[0]
            leads.setdefault(folder, {})[step] = None
    ordered = sorted(leads, key=lambda folder: len(folder.parts))
    return tuple(Opening(str(folder), tuple(entry(step) for step in leads[folder]))
                 for folder in ordered)


def open_up(plan: Iterable[Opening]) -> None:
    """In the child, in the run's mount namespace, before it execs: every opening of
    ``plan`` in order (syscalls and ``os`` alone)."""
    for opening in plan:
        open_folder(opening)


def open_folder(opening: Opening) -> None:
    """Clone the entries, cover the folder with a tmpfs, put the entries back."""
    clones: dict[Entry, int] = {}
    try:
        for item in opening.entries:
            if item.kind != "link":
                clones[item] = clone(item.path)
        mount("tmpfs", opening.folder, "tmpfs", MS_NOSUID | MS_NODEV, COVER_OPTIONS)
        for item in opening.entries:
            if item.kind == "link":
                os.symlink(item.target, item.path)
            else:
                put_back(item, clones[item])
    finally:
        for fd in clones.values():
            with contextlib.suppress(OSError):
                os.close(fd)


def clone(path: str) -> int:
    """A detached copy of the mount tree at ``path`` (a file descriptor)."""
    return syscall(SYS_OPEN_TREE, ctypes.c_int(AT_FDCWD), path.encode(),
                   ctypes.c_uint(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE))


def put_back(item: Entry, fd: int) -> None:
    """Mount the clone ``fd`` at the entry's path, on a folder or file made for it."""
    if item.kind == "folder":
        os.mkdir(item.path, 0o755)
    else:
        os.close(os.open(item.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    syscall(SYS_MOVE_MOUNT, ctypes.c_int(fd), b"", ctypes.c_int(AT_FDCWD),
            item.path.encode(), ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH))


def drops_to() -> RunUser | None:
    """The user a run may become here: ``RunUser()`` for a root grader, else None (a
    run keeps the grader's own user, unprivileged already)."""
    return RunUser() if os.geteuid() == 0 else None
