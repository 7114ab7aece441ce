"""What of a submission folder ``kafka-lab grade`` hands its run: the folder's own files,
without what no run needs, and where the exercise files really are.

A student's repository carries more than its exercises: a virtual environment (tens of
megabytes), caches (a CI job's jar cache inside the project folder is hundreds), version
control. Every run of the submission works in a copy of what it is given, so each byte
left out here is copied six times less. Left out:

- folders no run reads: virtual environments (any folder holding ``pyvenv.cfg``),
  caches (``__pycache__``, ``.pytest_cache``, ``.mypy_cache``, ``.cache``, ...),
  ``node_modules``, version control (``.git``, ``.hg``, ``.svn``);
- files larger than ``LARGEST_FILE`` (an exercise file is never that large);
- links that lead outside the folder (the grader reads nothing of the machine for a
  student).

Where the course's files are: at the top of the folder, or one folder down when the
top holds none and exactly one folder does (a Gradescope upload of ``module2/...``); a
folder with none of them gets a note naming the Python files it does hold, at once,
without starting a run.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pytest_kafka_lab.grading.course import EXERCISE_FILES

SKIPPED_FOLDERS = frozenset({
    ".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
    ".hypothesis", ".tox", ".nox", ".cache", ".m2", "node_modules", ".venv", "venv",
    ".ipynb_checkpoints", ".idea", ".vscode",
})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
LARGEST_FILE = 8 * 1024 * 1024
COURSE_FILES = tuple(name for names in EXERCISE_FILES.values() for name in names)
# How many of the Python files found a note names.
NAMED_AT_MOST = 8


@dataclass
class Prepared:
    """A submission made ready for its run: the folder to grade (a trimmed copy), what was
    left out, and a note for the gradebook (where the files were found, or why there is
    nothing to grade)."""

    folder: Path
    left_out: list[str] = field(default_factory=list)
    note: str = ""
    nothing_to_grade: bool = False

    def annotations(self) -> dict[str, object]:
        """What a grade says of how its folder was read: ``note``, ``left_out``."""
        return {**({"note": self.note} if self.note else {}),
                **({"left_out": self.left_out} if self.left_out else {})}


def skipped_folder(folder: Path) -> bool:
    return folder.name in SKIPPED_FOLDERS or (folder / "pyvenv.cfg").is_file()


def holds_course_files(folder: Path) -> bool:
    return any((folder / name).is_file() for name in COURSE_FILES)


def exercise_root(folder: Path) -> Path | None:
    """The folder the course's files are in: ``folder`` itself, or its one subfolder
    holding them; None when neither (or several subfolders) hold any."""
    if holds_course_files(folder):
        return folder
    below = [sub for sub in sorted(folder.iterdir())
             if sub.is_dir() and not sub.is_symlink() and not skipped_folder(sub)
             and holds_course_files(sub)]
    return below[0] if len(below) == 1 else None


def python_files(folder: Path) -> list[str]:
    """The ``.py`` files of ``folder`` and its subfolders (what no run needs left out),
    relative to it."""
    found = []
    for parent, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders
                            if not skipped_folder(Path(parent) / name))
        found += [os.path.relpath(Path(parent) / name, folder)
                  for name in sorted(files) if name.endswith(".py")]
    return found


def inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def copy_needed(source: Path, destination: Path, root: Path, left_out: list[str]) -> None:
    """Copy ``source`` into ``destination``, leaving out (and listing) what no run needs."""
    destination.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        shown = entry.relative_to(root).as_posix()
        if entry.is_symlink() and not inside(entry, root):
            left_out.append(f"{shown} (a link outside the folder)")
        elif entry.is_dir():
            if skipped_folder(entry):
                left_out.append(f"{shown}/")
            else:
                copy_needed(entry, destination / entry.name, root, left_out)
        elif entry.is_file():
            if entry.name.endswith(SKIPPED_SUFFIXES):
                continue
            size = entry.stat().st_size
            if size > LARGEST_FILE:
                left_out.append(f"{shown} ({size / 2**20:.0f} MiB)")
            else:
                shutil.copyfile(entry, destination / entry.name)


def nothing_to_grade_note(folder: Path) -> str:
    found = python_files(folder)
    expected = ", ".join(COURSE_FILES)
    if not found:
        return (f"nothing to grade: the folder holds no Python file (the course's files "
                f"are {expected}, at the top of the submission)")
    named = ", ".join(found[:NAMED_AT_MOST]) + (", ..." if len(found) > NAMED_AT_MOST else "")
    return (f"nothing to grade: none of the course's files ({expected}) at the top of the "
            f"submission or one folder down; it holds {named}. Name the files as the "
            "course does")


def nothing_to_grade(folder: Path) -> str | None:
    """Why ``folder`` has nothing to grade (no course file at the top or one folder
    down), or None."""
    return nothing_to_grade_note(folder) if exercise_root(folder) is None else None


def ungraded(name: str, folder: Path, note: str) -> dict[str, object]:
    """The grade of a folder with nothing to grade: every exercise missing, and why."""
    missing = {"title": "", "status": "missing", "points": 0, "max_points": 0, "checks": []}
    return {"name": name, "submission": str(folder), "broker": "", "seconds": 0.0,
            "nothing_to_grade": True, "note": note,
            "exercises": {exercise: dict(missing) for exercise in EXERCISE_FILES}}


def prepare(folder: Path, scratch: Path) -> Prepared:
    """``folder`` made ready for its run, in ``scratch`` (see the module's docstring)."""
    root = exercise_root(folder)
    if root is None:
        return Prepared(folder, note=nothing_to_grade_note(folder), nothing_to_grade=True)
    copy = scratch / "submission"
    left_out: list[str] = []
    copy_needed(root, copy, root, left_out)
    note = "" if root == folder else (
        f"graded {root.relative_to(folder).as_posix()}/, the one folder holding the "
        "course's files")
    return Prepared(copy, left_out, note)
