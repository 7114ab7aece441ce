"""Quick figures of the harness: broker start (warm cache), topic create and delete, a new
group's first assignment and a cooperative rebalance. Run: ``python benchmarks/harness_speed.py``.

It runs those cases of ``benchmarks/test_harness_speed.py`` (pytest-benchmark) and prints
their medians; ``pytest benchmarks/`` runs them all, with the grading figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
QUICK = "not grading and not whole_scenario"


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        figures = Path(scratch) / "harness.json"
        finished = subprocess.run(
            [sys.executable, "-m", "pytest", str(HERE / "test_harness_speed.py"), "-q",
             "-p", "no:cacheprovider", "-k", QUICK, f"--benchmark-json={figures}",
             *sys.argv[1:]], cwd=HERE.parent, check=False)
        if finished.returncode != 0 or not figures.exists():
            return finished.returncode or 1
        for bench in json.loads(figures.read_text())["benchmarks"]:
            stats = bench["stats"]
            print(f"{bench['name'].removeprefix('test_'):42} median {stats['median'] * 1000:7.0f}"
                  f" ms   min {stats['min'] * 1000:7.0f} ms   ({stats['rounds']} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
