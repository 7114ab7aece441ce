"""``pytest scenarios/`` as typed spreads the scenarios over the machine's cores.

Much of the run is waiting: on a reference solution's run, on a killed broker's
successor, on a group's session. With pytest-xdist installed and no ``-n`` given, the
run takes ``-n auto``, which here means one worker more than the usable cores, at most
``MOST_WORKERS``: the extra worker's waits fill the others' idle time (on two cores, 43 to
45 s with three workers, 52 to 56 s with two). Each worker grades on a broker of its own, and the
course's scheduler keeps each exercise, and the promises that share a cluster, on one
worker.

It stays serial where spreading cannot help or is not wanted: ``-n`` given (``-n 0`` for
one process), one usable core, ``--pdb``, an xdist worker's own start, and an existing
cluster or a fixed port (``--kafka-bootstrap``, ``--kafka-port``), where workers could
not each have a broker. ``kafka-lab grade`` always passes one or the other of ``-n`` and
``--kafka-bootstrap``, so its runs are as it decides.
"""

from __future__ import annotations

import os

import pytest

from pytest_kafka_lab.config import get_config
from pytest_kafka_lab.grading.class_runner.grade_outcome import usable_cores

# Past four workers the run is bound by its longest module (the promises' cluster), and
# each worker costs a broker's memory.
MOST_WORKERS = 4


def spreads(config: pytest.Config) -> bool:
    """Whether this run, as typed, takes ``-n auto``."""
    option = config.option
    if not config.pluginmanager.has_plugin("xdist") or \
            getattr(option, "numprocesses", 0) is not None:
        return False
    if hasattr(config, "workerinput") or option.usepdb or usable_cores() < 2:
        return False
    lab = get_config(config)
    return lab.backend != "external" and not lab.port


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent without it
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` for the scenarios: a worker more than the cores (pytest-xdist's own
    reading of ``PYTEST_XDIST_AUTO_NUM_WORKERS`` first)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return min(usable_cores() + 1, MOST_WORKERS)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    # Called for initial conftests, before pytest-xdist's own reading of -n.
    if spreads(config):
        config.option.numprocesses = "auto"
        if not config.option.maxprocesses:
            config.option.maxprocesses = MOST_WORKERS
