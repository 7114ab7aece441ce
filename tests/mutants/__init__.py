"""Mutated copies of the reference solutions, one mistake each, and the check meant to
catch it. ``tests/test_grading_mutants.py`` grades them and holds every check to it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """The reference with ``edits`` applied to ``file`` (each old text must occur)."""

    exercise: str
    mistake: str
    file: str
    edits: tuple[tuple[str, str], ...]
    check: str  # the check (test name without ``test_``) that must fail
    message: str  # a regular expression the check's message must match

    @property
    def id(self) -> str:
        return f"{self.exercise}-{self.mistake.replace(' ', '-')}"
