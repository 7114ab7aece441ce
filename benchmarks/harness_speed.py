"""Quick figures of the harness: broker start (warm cache), topic create and delete, a new
group's first assignment and a cooperative rebalance. Run: ``python benchmarks/harness_speed.py``.

It runs those cases of ``benchmarks/test_harness_speed.py`` (pytest-benchmark) and prints
their medians; ``pytest benchmarks/`` runs them all, with the grading figures.

``python benchmarks/harness_speed.py --class`` runs the class cases instead: ``kafka-lab
grade`` of one full submission (``-j 1``, and ``-j 2``: split over two workers; target 15 s
at most) and of six with ``-j 2``, and the ratio of six to one with ``-j 1`` (target: 3.5
at most).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
QUICK = "not grading and not whole_scenario"
CLASS = "grading_class"
CLASS_TARGET = 3.5
ONE_TARGET = 15.0


def run_cases(selection: str, extra: list[str]) -> list[dict[str, Any]] | None:
    """The benchmark records of the cases ``-k selection`` selects; None if they failed."""
    with tempfile.TemporaryDirectory() as scratch:
        figures = Path(scratch) / "harness.json"
        finished = subprocess.run(
            [sys.executable, "-m", "pytest", str(HERE / "test_harness_speed.py"), "-q",
             "-p", "no:cacheprovider", "-k", selection, f"--benchmark-json={figures}",
             *extra], cwd=HERE.parent, check=False)
        if finished.returncode != 0 or not figures.exists():
            return None
        return list(json.loads(figures.read_text())["benchmarks"])


def main() -> int:
    extra = sys.argv[1:]
    whole_class = "--class" in extra
    if whole_class:
        extra.remove("--class")
    benches = run_cases(CLASS if whole_class else QUICK, extra)
    if benches is None:
        return 1
    medians = {}
    for bench in benches:
        stats = bench["stats"]
        medians[bench["name"]] = stats["median"]
        print(f"{bench['name'].removeprefix('test_'):42} median {stats['median'] * 1000:7.0f}"
              f" ms   min {stats['min'] * 1000:7.0f} ms   ({stats['rounds']} rounds)")
    if whole_class and len(medians) == 3:
        ratio = (medians["test_grading_class_six_with_j2"]
                 / medians["test_grading_class_one_full_submission"])
        print(f"six with -j 2 / one with -j 1: {ratio:.2f} (target: at most {CLASS_TARGET})")
        split = medians["test_grading_class_one_full_submission_split_with_j2"]
        print(f"one with -j 2 (split over two workers): {split:.1f} s (target: at most "
              f"{ONE_TARGET:g} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
