"""The gradebook of ``kafka-lab grade``: ``NAME.csv`` (one row per submission, one column
per exercise) and ``NAME.json`` (every check), written as each grade comes in, and shard
gradebooks merged into one.

A grade is the JSON of ``--lab-report`` with, added by ``kafka-lab grade``: ``name`` (the
submission's name in the class, see ``class_list``), ``broker`` (the bootstrap address it
was graded on), ``seconds``, and ``error`` when grading itself failed (no report, or the
wall-clock limit tripped: then ``timed_out`` is true too). The report's ``isolation``
(``{"in_force": [layer, ...], "refused": {layer: why}}``: the layers of isolation its
runs had) stays in the JSON row; the CSV's ``refused`` column lists the layers refused
(``none`` when every layer held, empty when no run said, as when grading wrote no report).

Also added: ``note`` (the folder graded was one down, or there was nothing to grade:
then ``nothing_to_grade`` is true, and no run was made), ``left_out`` (what of the folder
no run needed: virtual environments, caches, large files). In the JSON, a check's
``points`` is what it earned and its ``max_points`` what it is worth, as an exercise's.
"""

from __future__ import annotations

import copy
import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_kafka_lab.exceptions import KafkaLabError
from pytest_kafka_lab.grading.class_runner.class_list import sort_key
from pytest_kafka_lab.grading.course import EXERCISE_FILES

Grade = dict[str, Any]
EXERCISES = sorted(EXERCISE_FILES)
COLUMNS = ["submission", *EXERCISES, "total", "note", "refused"]


class GradebookError(KafkaLabError):
    """Shard gradebooks that cannot be merged (unreadable, or a submission twice)."""


def cell(grade: Grade, exercise: str) -> str | int:
    """Points, or ``missing``/``error``; ``error`` too where grading produced no report."""
    result = grade["exercises"].get(exercise)
    if result is None:
        return "error"
    if result["status"] in ("missing", "error"):
        return str(result["status"])
    return int(result["points"])


def name_of(grade: Grade) -> str:
    """The submission's name in the class (gradebooks before names: its folder's name)."""
    return str(grade.get("name") or Path(grade["submission"]).name)


def refused_layers(grade: Grade) -> str:
    """The layers of isolation its runs did not have, by name (``none``: every one held;
    empty: no run said)."""
    isolation = grade.get("isolation")
    if not isinstance(isolation, dict) or not isolation:
        return ""
    return " ".join(sorted(isolation.get("refused") or {})) or "none"


def row(grade: Grade) -> list[str | int]:
    cells = [cell(grade, exercise) for exercise in EXERCISES]
    total = sum(value for value in cells if isinstance(value, int))
    note = str(grade.get("error") or grade.get("note") or "").strip()
    return [name_of(grade), *cells, total, note.splitlines()[0] if note else "",
            refused_layers(grade)]


def with_points_earned(grade: Grade) -> Grade:
    """The grade with each check's ``points`` what it earned and ``max_points`` what it
    is worth, as an exercise's are (a report gives a check's worth as its ``points``)."""
    grade = copy.deepcopy(grade)
    for exercise in grade.get("exercises", {}).values():
        for check in exercise.get("checks", []):
            worth = check.setdefault("max_points", check.get("points", 1))
            check["points"] = worth if check.get("status") == "passed" else 0
    return grade


def row_line(grade: Grade) -> str:
    """The row as one line for the terminal or a CI log."""
    name, *cells, total, note, _ = row(grade)
    scores = "  ".join(f"{exercise} {value}" for exercise, value in
                       zip(EXERCISES, cells, strict=True))
    return f"{name}: {scores}  total {total}" + (f"  ({note})" if note else "")


def markdown_table(grades: Iterable[Grade]) -> str:
    """The gradebook for GitHub's job page: one row per submission (a class's step summary;
    each submission's own checks are in the JSON)."""
    lines = ["### Kafka lab gradebook", "", "| " + " | ".join(COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for grade in grades:
        cells = [str(value).replace("|", "/") for value in row(grade)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def replace_file(path: Path, text: str) -> None:
    """Write through a temporary file, so a reader never sees half a gradebook."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


class Gradebook:
    """``out.csv`` and ``out.json``. ``add`` appends a grade's CSV row at once and rewrites
    the JSON, so a gradebook is readable while the class is graded; ``finish`` rewrites
    both in the class's order."""

    def __init__(self, out: Path) -> None:
        # `--out book` and `--out book.csv` both mean book.csv and book.json.
        base = out.with_suffix("") if out.suffix in (".csv", ".json") else out
        self.table = base.with_name(base.name + ".csv")
        self.full = base.with_name(base.name + ".json")
        self.grades: list[Grade] = []

    def start(self) -> None:
        self.table.parent.mkdir(parents=True, exist_ok=True)
        with self.table.open("w", newline="") as sheet:
            csv.writer(sheet).writerow(COLUMNS)
        replace_file(self.full, "[]\n")

    def add(self, grade: Grade) -> None:
        self.grades.append(with_points_earned(grade))
        with self.table.open("a", newline="") as sheet:
            csv.writer(sheet).writerow(row(grade))
        replace_file(self.full, json.dumps(self.grades, indent=2) + "\n")

    def finish(self) -> tuple[Path, Path]:
        self.grades.sort(key=lambda grade: sort_key(name_of(grade)))
        with self.table.open("w", newline="") as sheet:
            writer = csv.writer(sheet)
            writer.writerow(COLUMNS)
            writer.writerows(row(grade) for grade in self.grades)
        replace_file(self.full, json.dumps(self.grades, indent=2) + "\n")
        return self.table, self.full

    def discard(self) -> None:
        """Remove the gradebook's files: a grading that failed before any grade leaves
        no empty gradebook to be mistaken for one."""
        for path in (self.table, self.full):
            path.unlink(missing_ok=True)


def write_gradebook(grades: Iterable[Grade], out: Path) -> tuple[Path, Path]:
    """``out.csv`` and ``out.json`` of ``grades``, in the class's order."""
    book = Gradebook(out)
    book.start()
    book.grades.extend(with_points_earned(grade) for grade in grades)
    return book.finish()


def read_shard(path: Path) -> list[Grade]:
    try:
        grades = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise GradebookError(f"cannot read the gradebook {path}: {error}") from error
    if not (isinstance(grades, list) and all(isinstance(g, dict) and "exercises" in g
                                             for g in grades)):
        raise GradebookError(f"{path} is not the JSON of a `kafka-lab grade` gradebook "
                             "(a list of grades, each with its exercises)")
    return grades


def merge_gradebooks(shards: list[Path], out: Path) -> tuple[Path, Path]:
    """One gradebook of the shards' gradebooks (their ``.json``); a submission present in
    two of them is refused, naming both files."""
    seen: dict[str, Path] = {}
    merged: list[Grade] = []
    for shard in shards:
        for grade in read_shard(shard):
            name = name_of(grade)
            if name in seen:
                raise GradebookError(
                    f"{name} is graded in both {seen[name]} and {shard}: were the shards "
                    "made with different --shard N, or from different folder lists? "
                    "Grade each submission in one shard only, then merge again.")
            seen[name] = shard
            merged.append(grade)
    return write_gradebook(merged, out)
