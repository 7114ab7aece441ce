"""``pytest --benchmark-compare`` typed at the project's root, as the design card says:
it runs the benchmark suite (not the plugin's tests) and compares each case with its last
saved run, or says how to save a first one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
NO_SAVED_RUN = "benchmarks: no saved run to compare with yet"


def collect(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def collected_folders(run: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.split("/", 1)[0] for line in run.stdout.splitlines() if "::" in line}


def test_compare_at_the_root_runs_the_benchmarks_and_says_how_to_save(tmp_path: Path) -> None:
    comparing = collect("--benchmark-compare", f"--benchmark-storage=file://{tmp_path}")
    assert comparing.returncode == 0, comparing.stderr
    assert collected_folders(comparing) == {"benchmarks"}
    assert NO_SAVED_RUN in comparing.stdout
    assert "--benchmark-autosave" in comparing.stdout


def test_with_a_saved_run_it_compares_without_advice(tmp_path: Path) -> None:
    machine = tmp_path / "Linux-CPython-3.11-64bit"
    machine.mkdir()
    (machine / "0001_first.json").write_text("{}")
    comparing = collect("--benchmark-compare", f"--benchmark-storage=file://{tmp_path}")
    assert collected_folders(comparing) == {"benchmarks"}
    assert NO_SAVED_RUN not in comparing.stdout


def test_saving_a_run_at_the_root_runs_the_benchmarks(tmp_path: Path) -> None:
    saving = collect("--benchmark-autosave", f"--benchmark-storage=file://{tmp_path}")
    assert collected_folders(saving) == {"benchmarks"}


def test_without_benchmark_options_the_root_runs_the_tests() -> None:
    assert collected_folders(collect()) == {"tests"}
    assert collected_folders(collect("scenarios", "--benchmark-compare")) == {"scenarios"}
