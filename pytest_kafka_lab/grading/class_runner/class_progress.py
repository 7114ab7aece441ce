"""What ``kafka-lab grade`` shows while a class is graded: on a terminal, a live bar
(done/total, the submissions being graded, an estimate of the time left) with each
gradebook row printed above it as it is known; elsewhere (a CI log, a pipe), plain lines.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from pytest_kafka_lab.grading.class_runner.gradebook import Grade, row_line


class ClassProgress(Protocol):
    """Told when each submission starts and finishes; called from one thread only."""

    def started(self, name: str) -> None: ...

    def finished(self, name: str, grade: Grade) -> None: ...

    def __enter__(self) -> ClassProgress: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None: ...


def eta_seconds(elapsed: float, done: int, total: int) -> float | None:
    """Time left at the class's pace so far (wall clock per finished submission, which
    already counts the submissions graded side by side); None before the first finishes."""
    if done == 0:
        return None
    return max(0.0, elapsed / done * (total - done))


class EtaColumn(ProgressColumn):
    """``ETA 3:05``, from the pace so far: rich's own estimate needs two finishes within
    its speed window, which submissions a minute apart rarely give it."""

    max_refresh = 0.5

    def render(self, task: Task) -> Text:
        left = eta_seconds(task.elapsed or 0.0, int(task.completed), int(task.total or 0))
        if left is None:
            return Text("ETA -:--", style="progress.remaining")
        minutes, seconds = divmod(int(left), 60)
        return Text(f"ETA {minutes}:{seconds:02d}", style="progress.remaining")


class LiveBar:
    """The rich bar, for a terminal."""

    def __init__(self, total: int, console: Console) -> None:
        self.progress = Progress(
            TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            EtaColumn(), TextColumn("{task.fields[current]}"), console=console)
        self.total = total
        self.current: list[str] = []
        self.task: TaskID | None = None

    def __enter__(self) -> LiveBar:
        self.progress.start()
        self.task = self.progress.add_task("grading", total=self.total, current="")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.progress.stop()

    def started(self, name: str) -> None:
        self.current.append(name)
        self._show()

    def finished(self, name: str, grade: Grade) -> None:
        self.current.remove(name)
        self.progress.console.print(row_line(grade), highlight=False, markup=False, soft_wrap=True)
        self._show(advance=1)

    def _show(self, advance: int = 0) -> None:
        assert self.task is not None
        self.progress.update(self.task, advance=advance, current=", ".join(self.current))


class PlainLines:
    """One line as each submission starts and finishes, for logs."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.began = time.monotonic()

    def __enter__(self) -> PlainLines:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        pass

    def started(self, name: str) -> None:
        print(f"grading {name} ...", flush=True)

    def finished(self, name: str, grade: Grade) -> None:
        self.done += 1
        left = eta_seconds(time.monotonic() - self.began, self.done, self.total)
        eta = f", about {left:.0f} s left" if left else ""
        print(f"[{self.done}/{self.total}{eta}] {row_line(grade)}", flush=True)


def class_progress(total: int) -> ClassProgress:
    """A live bar on a terminal, plain lines elsewhere."""
    console = Console(file=sys.stdout)
    return LiveBar(total, console) if console.is_terminal else PlainLines(total)
