"""The class to grade: each submission folder with a name of its own, in a fixed order,
and the slice of it (``--shard K/N``) that one CI job grades.

Names and order (the same on every machine that is given the same folders):

- a submission is named by its folder's name (``submissions/alice`` is ``alice``);
- folders of the same name in different parents (``a/alice``, ``b/alice``) are named by
  as many trailing path parts as it takes to tell them apart (``a/alice``, ``b/alice``):
  none is lost, no two rows collide;
- the class is sorted by folder name, then by that name (so ``a/alice`` and ``b/alice``
  sit together, where ``alice`` would), never by where the folders live on disk;
- the same folder given twice is graded once.

A shard is every N-th submission of that order starting at the K-th, so N jobs given the
same folders grade the class between them, each submission exactly once.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Submission:
    """A submission folder and its name in the gradebook."""

    folder: Path
    name: str


def sort_key(name: str) -> tuple[str, str]:
    """Folder name first, then the whole name: the gradebook's order."""
    return name.rpartition("/")[2], name


def class_list(folders: Iterable[Path]) -> list[Submission]:
    """The submissions in ``folders``, named and sorted (see the module's docstring)."""
    unique = sorted({folder.resolve() for folder in folders})
    by_name: dict[str, list[Path]] = defaultdict(list)
    for folder in unique:
        by_name[folder.name].append(folder)
    submissions = [Submission(folder, name)
                   for group in by_name.values() for folder, name in distinct_names(group)]
    return sorted(submissions, key=lambda submission: sort_key(submission.name))


def distinct_names(folders: list[Path]) -> list[tuple[Path, str]]:
    """Name folders that share a name by their shortest trailing parts that differ."""
    depth = 1
    while True:
        names = ["/".join(folder.parts[1:][-depth:]) for folder in folders]
        if len(set(names)) == len(names):
            return list(zip(folders, names, strict=True))
        depth += 1


@dataclass(frozen=True)
class Shard:
    """``--shard K/N``: the K-th of N slices (1-based)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def of(self, submissions: list[Submission]) -> list[Submission]:
        """This slice: every ``count``-th submission, from the ``index``-th."""
        return submissions[self.index - 1::self.count]


def parse_shard(text: str) -> Shard:
    """An argparse ``type``: ``"2/3"`` gives ``Shard(2, 3)``; anything else is refused."""
    index, slash, count = text.partition("/")
    if not (slash and index.isdigit() and count.isdigit()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not K/N: give this job's slice and the number of slices, "
            "e.g. --shard 2/3 for the second of three")
    shard = Shard(int(index), int(count))
    if not 1 <= shard.index <= shard.count:
        raise argparse.ArgumentTypeError(
            f"{text!r}: K must be from 1 to N (N={shard.count}), e.g. --shard 1/{shard.count or 3}")
    return shard
