"""The grade of one submission: per exercise a status, points, and every check."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("passed", "failed", "error", "missing")


@dataclass
class Check:
    name: str
    status: str  # passed, failed, error or missing
    message: str = ""
    points: int = 1


@dataclass
class Exercise:
    id: str
    title: str = ""
    checks: list[Check] = field(default_factory=list)

    @property
    def status(self) -> str:
        """missing if its files are absent, error if it could not run, failed if any
        check failed, passed if every check passed."""
        statuses = {check.status for check in self.checks}
        for status in ("missing", "error", "failed"):
            if status in statuses:
                return status
        return "passed"

    @property
    def points(self) -> int:
        return sum(check.points for check in self.checks if check.status == "passed")

    @property
    def max_points(self) -> int:
        return sum(check.points for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "status": self.status, "points": self.points,
                "max_points": self.max_points, "checks": [asdict(c) for c in self.checks]}


@dataclass
class Grade:
    submission: str
    exercises: dict[str, Exercise] = field(default_factory=dict)

    def exercise(self, exercise_id: str, title: str = "") -> Exercise:
        return self.exercises.setdefault(exercise_id, Exercise(exercise_id, title))

    def as_dict(self) -> dict[str, Any]:
        return {"submission": self.submission,
                "exercises": {key: self.exercises[key].as_dict()
                              for key in sorted(self.exercises)}}

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")

    def markdown(self) -> str:
        """A summary for GitHub's job page: one row per exercise, failed checks below."""
        lines = [f"### Kafka lab grade: `{self.submission}`", "",
                 "| exercise | status | points |", "|---|---|---|"]
        for key in sorted(self.exercises):
            exercise = self.exercises[key]
            lines.append(f"| {key} {exercise.title} | {exercise.status} | "
                         f"{exercise.points}/{exercise.max_points} |")
        failures = [(key, check) for key in sorted(self.exercises)
                    for check in self.exercises[key].checks if check.status in ("failed", "error")]
        if failures:
            lines += ["", "| check | message |", "|---|---|"]
            for key, check in failures:
                message = check.message.splitlines()[0] if check.message else ""
                lines.append(f"| {key} `{check.name}` | {message.replace('|', '/')} |")
        return "\n".join(lines) + "\n"
