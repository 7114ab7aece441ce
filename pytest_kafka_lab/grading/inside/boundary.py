"""Where a graded run may go on disk: the folders it may read, and those it may write.

The sandbox hands the boundary to the kernel (``confinement``: Landlock), which refuses
everything else with a bare ``PermissionError``, and, through the environment, to an
audit hook in the run's own Python, which reports each attempt to cross it as an
``outside-access`` event: so that the verdict can say what the submission tried.

Imported at the start of every graded Python process: keep it light.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .channel import emit

READABLE_VARIABLE = "KAFKA_LAB_READABLE"
WRITABLE_VARIABLE = "KAFKA_LAB_WRITABLE"
LISTABLE_VARIABLE = "KAFKA_LAB_LISTABLE"
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
WATCHED = frozenset({"open", "os.listdir", "os.scandir", "subprocess.Popen", "os.system"})
REPORT_LIMIT = 20  # distinct attempts reported: a loop of them must not flood the events


def within(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


@dataclass(frozen=True)
class Boundary:
    """Absolute paths (folders or single files) of what a run may read, and may write;
    and folders it may only list (the standard library's, where site-packages may lie)."""

    readable: tuple[str, ...]
    writable: tuple[str, ...]
    listable: tuple[str, ...] = ()

    @classmethod
    def of(cls, readable: Iterable[str | os.PathLike[str]],
           writable: Iterable[str | os.PathLike[str]],
           listable: Iterable[str | os.PathLike[str]] = ()) -> Boundary:
        """Each path as given and as the kernel sees it: symbolic links resolved."""
        return cls(spelled_both_ways(readable), spelled_both_ways(writable),
                   spelled_both_ways(listable))

    def environment(self) -> dict[str, str]:
        return {READABLE_VARIABLE: os.pathsep.join(self.readable),
                WRITABLE_VARIABLE: os.pathsep.join(self.writable),
                LISTABLE_VARIABLE: os.pathsep.join(self.listable)}

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Boundary | None:
        if READABLE_VARIABLE not in environment:
            return None
        return cls(*(tuple(filter(None, environment.get(name, "").split(os.pathsep)))
                     for name in (READABLE_VARIABLE, WRITABLE_VARIABLE, LISTABLE_VARIABLE)))

    def allows(self, path: str, mode: str) -> bool:
        """Whether ``path`` (absolute) may be used so; links are followed when needed."""
        roots = {"write": self.writable, "list": self.readable + self.writable + self.listable
                 }.get(mode, self.readable + self.writable)
        return within(path, roots) or within(os.path.realpath(path), roots)


def spelled_both_ways(paths: Iterable[str | os.PathLike[str]]) -> tuple[str, ...]:
    absolute = [os.path.abspath(path) for path in paths]
    return tuple(dict.fromkeys(absolute + [os.path.realpath(path) for path in absolute]))


def command_words(argv: Any) -> list[str]:
    """A command line (a list, or one string for a shell) as its words."""
    words = [argv] if isinstance(argv, (str, bytes, os.PathLike)) else list(argv or [])
    return [token for word in words for token in os.fsdecode(os.fspath(word)).split()]


def attempts(event: str, args: tuple[Any, ...]) -> list[tuple[Any, str, str | None]]:
    """(path, mode, program) of what an audited operation is about to touch."""
    if event == "open":
        return [(args[0], "write" if args[2] & WRITE_FLAGS else "read", None)]
    if event in ("os.listdir", "os.scandir"):
        return [(args[0] if args[0] is not None else ".", "list", None)]
    # A command: the words with a slash that follow the program are taken as the files it
    # is given (``cat /x``, ``--file=/x``); the program itself is the kernel's to refuse.
    words = command_words(args[1] if event == "subprocess.Popen" else args[0])
    program = os.path.basename(words[0]) if words else None
    named = (word.rpartition("=")[2].strip("'\"") for word in words[1:])
    return [(path, "read", program) for path in named if os.sep in path]


class Watch:
    """The audit hook: reports attempts to cross the boundary, which the kernel refuses."""

    def __init__(self, boundary: Boundary) -> None:
        self.boundary = boundary
        self.reported: set[tuple[str, str]] = set()

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event not in WATCHED:
            return  # most audit events: keep this path short
        # A hook that raises aborts the operation it watches: the watch never may.
        with contextlib.suppress(Exception):
            for path, mode, program in attempts(event, args):
                self.check(path, mode, program)

    def check(self, path: Any, mode: str, program: str | None) -> None:
        if isinstance(path, int):
            return  # an open file descriptor: its path was checked when it was opened
        where = os.path.abspath(os.fsdecode(os.fspath(path)))
        if (where, mode) in self.reported or len(self.reported) >= REPORT_LIMIT \
                or self.boundary.allows(where, mode):
            return
        # Looking for what does not exist reveals nothing; any write is an attempt.
        there = exists(where)
        if mode != "write" and there is False:
            return
        self.reported.add((where, mode))
        # Unseen: beyond a folder closed to the run's user, the grader tells (``verdicts``).
        emit("outside-access", path=where, mode=mode, program=program,
             **({"unseen": True} if there is None else {}))


def exists(path: str) -> bool | None:
    """Whether ``path`` exists; None where the run cannot tell (it lies in a folder
    closed to the run's user: a root grader's runs are ``nobody``)."""
    try:
        os.lstat(path)
    except PermissionError:
        return None
    except (OSError, ValueError):
        return False
    return True


def watch() -> None:
    """In a graded run, install the audit hook (elsewhere, a no-op)."""
    boundary = Boundary.from_environment(os.environ)
    if boundary is not None:
        sys.addaudithook(Watch(boundary))
