"""Progress on long waits (a first download, a broker start), shown past pytest's capture."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

import pytest


@contextlib.contextmanager
def uncaptured(config: pytest.Config | None) -> Iterator[None]:
    """Let output through while pytest captures it (inside fixture setup, say)."""
    capture = config.pluginmanager.getplugin("capturemanager") if config else None
    if capture is None:
        yield
        return
    with capture.global_and_fixture_disabled():
        yield


@contextlib.contextmanager
def status(config: pytest.Config | None, first: str) -> Iterator[Callable[[str], None]]:
    """A one-line status that updates in place on a terminal, or prints lines elsewhere.

    Yields ``report(text)``. Off a terminal (CI logs) nothing shows until something is
    reported, then a line at most every five seconds: a slow download shows life without
    flooding the log, and a quick step stays silent.
    """
    from rich.console import Console  # imported here: a run that starts nothing needs none

    console = Console(file=sys.stderr, highlight=False)
    with uncaptured(config):
        if console.is_terminal:
            with console.status(first) as spinner:
                yield lambda text: spinner.update(text)
            return
        last = 0.0

        def report(text: str) -> None:
            nonlocal last
            if time.monotonic() - last >= 5:
                console.print(text)
                last = time.monotonic()

        yield report
