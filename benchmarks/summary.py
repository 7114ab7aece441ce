"""Print the figures of a benchmark run: the producer matrix in messages per second, the
produce()/produce_batch() pair, Python's rate against Kafka's own perf tool, the consumer,
and the harness's timings.

    pytest benchmarks/ --benchmark-json=run.json && python benchmarks/summary.py run.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

CASE = re.compile(r"test_producer\[acks(\w+)-batch(\d+)k-(\w+)\]")


def rows(benchmarks: list[dict[str, Any]]) -> None:
    matrix = {}
    for bench in benchmarks:
        match = CASE.fullmatch(bench["name"])
        if match:
            matrix[match.groups()] = bench["extra_info"]["msgs_per_sec"]
    if matrix:
        codecs = ["none", "lz4", "zstd", "snappy", "gzip"]
        print("producer msg/s      " + "".join(f"{codec:>10}" for codec in codecs))
        for acks in ("0", "1", "all"):
            for batch in ("16", "32", "64"):
                cells = [matrix.get((acks, batch, codec)) for codec in codecs]
                print(f"acks={acks:<3} batch={batch}k "
                      + "".join(f"{cell:>10,}" if cell else f"{'-':>10}" for cell in cells))
    for bench in benchmarks:
        info, name = bench["extra_info"], bench["name"]
        if "python_to_java" in info:
            print(f"{name}: python {info['msgs_per_sec']:,} msg/s, java "
                  f"{info['java_msgs_per_sec']:,} msg/s, ratio {info['python_to_java']}")
        elif name.startswith(("test_producer_api", "test_consumer")):
            print(f"{name}: {info['msgs_per_sec']:,} msg/s ({info['mb_per_sec']} MB/s)")
        elif not CASE.fullmatch(name):
            stats = bench["stats"]
            print(f"{name}: median {stats['median'] * 1000:,.0f} ms "
                  f"(min {stats['min'] * 1000:,.0f}, {stats['rounds']} rounds)")


if __name__ == "__main__":
    rows(json.loads(Path(sys.argv[1]).read_text())["benchmarks"])
