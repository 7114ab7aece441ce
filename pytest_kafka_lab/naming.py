"""Names that cannot collide: across tests, xdist workers, parallel runs and shared clusters.

Everything the plugin creates is named ``lab-<run>-<worker>-...``; the run prefix lets a
session sweep away whatever it left on a shared cluster.
"""

from __future__ import annotations

import os
import re
import uuid

RUN_ID = uuid.uuid4().hex[:6]


def worker_id() -> str:
    """The pytest-xdist worker (``gw0``, ...), or ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def run_prefix() -> str:
    """The prefix of every name this process creates."""
    return f"lab-{RUN_ID}-{worker_id()}-"


def unique_name(hint: str = "") -> str:
    """A fresh topic or group name; ``hint`` (a test name, say) makes it readable."""
    readable = re.sub(r"[^a-zA-Z0-9._-]+", "-", hint).strip("-")[:60]
    middle = f"{readable}-" if readable else ""
    return f"{run_prefix()}{middle}{uuid.uuid4().hex[:8]}"
