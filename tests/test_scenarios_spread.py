"""``pytest scenarios/`` as typed spreads over the machine's cores (``scenarios/conftest.py``);
given ``-n``, an existing cluster, or ``--pdb``, it does as told. Nothing is run: a
selection that matches no test shows how the run was set up, and starts no broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_kafka_lab.grading.class_runner.grade_outcome import usable_cores

ROOT = Path(__file__).parent.parent
NO_TEST = "this_names_no_test"


def scenarios_run(*args: str) -> str:
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "scenarios/test_smoke.py", "-p", "no:cacheprovider",
         "-k", NO_TEST, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert finished.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, \
        finished.stdout[-2000:] + finished.stderr[-2000:]
    return finished.stdout


@pytest.mark.skipif(usable_cores() < 2, reason="one usable core: the scenarios stay serial")
def test_the_scenarios_as_typed_take_a_worker_more_than_the_cores() -> None:
    workers = min(usable_cores() + 1, 4)
    assert f"created: {workers}/{workers} workers" in scenarios_run()


@pytest.mark.parametrize("args", [
    ["-n", "0"],
    ["--kafka-bootstrap", "127.0.0.1:9"],
    ["--kafka-port", "39092"],
    ["-p", "no:xdist"],
    ["--pdb"],
], ids=["n0", "existing-cluster", "fixed-port", "no-xdist", "pdb"])
def test_told_otherwise_the_scenarios_stay_in_one_process(args: list[str]) -> None:
    assert "workers" not in scenarios_run(*args)


def test_a_given_worker_count_is_kept() -> None:
    assert "created: 1/1 worker" in scenarios_run("-n", "1")


def test_pytest_xdist_s_own_count_for_auto_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "1")
    assert "created: 1/1 worker" in scenarios_run()
