"""Waiting on events with a deadline, and a message that says what was awaited and seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL = 0.05


class WaitTimeout(AssertionError):
    """A condition did not hold before its deadline (an ``AssertionError``: a test fails)."""


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    awaited: str,
    seen: Callable[[], object] | None = None,
    interval: float = POLL_INTERVAL,
) -> T:
    """Call ``check`` until it returns something truthy, and return that.

    ``awaited`` says what the caller waits for; ``seen`` describes the last observed state
    for the error raised when ``timeout`` seconds pass first. ``interval`` spaces the
    calls: a check that asks the broker through a fresh client costs the broker a
    connection each time.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            observed = f"; last seen: {seen()}" if seen else ""
            raise WaitTimeout(f"waited {timeout:g}s for {awaited}{observed}")
        time.sleep(interval)
