"""Draw the producer matrix from a pytest-benchmark JSON file.

    pytest benchmarks/test_producer_matrix.py --benchmark-json=matrix.json
    python benchmarks/chart.py matrix.json -o docs/producer-matrix.svg   # or .png

One panel per acks setting; bars are messages per second (median round) for each
batch size and compression codec.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

CASE = re.compile(r"test_producer\[acks(?P<acks>\w+)-batch(?P<batch>\d+)k-(?P<codec>\w+)\]")


def load_matrix(path: Path) -> dict[str, dict[tuple[int, str], float]]:
    """``{acks: {(batch KB, codec): msgs/s}}`` from the benchmark file."""
    matrix: dict[str, dict[tuple[int, str], float]] = {}
    for bench in json.loads(path.read_text())["benchmarks"]:
        match = CASE.fullmatch(bench["name"])
        if match:
            cell = (int(match["batch"]), match["codec"])
            matrix.setdefault(match["acks"], {})[cell] = bench["extra_info"]["msgs_per_sec"]
    if not matrix:
        raise SystemExit(f"{path} holds no test_producer[...] cases")
    return matrix


def draw(matrix: dict[str, dict[tuple[int, str], float]], out: Path) -> None:
    panels = sorted(matrix, key=["0", "1", "all"].index)
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2), sharey=True,
                                squeeze=False)
    for axis, acks in zip(axes[0], panels, strict=True):
        cells = matrix[acks]
        batches = sorted({batch for batch, _ in cells})
        codecs = sorted({codec for _, codec in cells}, key=lambda c: (c != "none", c))
        width = 0.8 / len(codecs)
        for index, codec in enumerate(codecs):
            axis.bar([b + index * width for b in range(len(batches))],
                     [cells.get((batch, codec), 0) / 1000 for batch in batches],
                     width, label=codec)
        axis.set_xticks([b + 0.4 - width / 2 for b in range(len(batches))],
                        [f"{batch} KB" for batch in batches])
        axis.set_title(f"acks={acks}")
        axis.set_xlabel("batch.size")
    axes[0][0].set_ylabel("thousand messages / s (median round)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, title="compression", loc="lower center",
                  ncol=len(labels), fontsize="small")
    figure.suptitle("Python producer (confluent-kafka) on the embedded broker")
    figure.tight_layout(rect=(0, 0.12, 1, 1))  # room for the legend below the panels
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("benchmark_json", type=Path)
    options.add_argument("-o", "--out", type=Path, default=Path("producer-matrix.svg"))
    args = options.parse_args()
    draw(load_matrix(args.benchmark_json), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
