"""Reading the evidence of a graded run: broker records and what the submission printed."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from typing import Any

from pytest_kafka_lab.readers import Record

PARTITION_COUNT = re.compile(r"partition\s*\[?(\d+)\]?\s*(?:[:=]|->|-)\s*(\d+)", re.IGNORECASE)


def json_values(records: list[Record]) -> list[dict[str, Any] | None]:
    """Each record's value as a JSON object, or None where it is not one."""
    values: list[dict[str, Any] | None] = []
    for record in records:
        try:
            value = json.loads(record.value or b"")
        except ValueError:
            value = None
        values.append(value if isinstance(value, dict) else None)
    return values


def partitions_by(records: list[Record], field: str) -> dict[str, set[int]]:
    """``{value of field: partitions its records are in}``."""
    found: dict[str, set[int]] = defaultdict(set)
    for record, value in zip(records, json_values(records), strict=True):
        if value is not None and field in value:
            found[str(value[field])].add(record.partition)
    return dict(found)


def count_by_partition(records: list[Record]) -> dict[int, int]:
    return dict(Counter(record.partition for record in records))


def printed_partition_counts(stdout: str) -> dict[int, int]:
    """Per-partition counts a submission printed, e.g. ``Partition 2: 27``; the last
    line naming a partition wins, since a summary comes after per-message lines."""
    counts: dict[int, int] = {}
    for line in stdout.splitlines():
        match = PARTITION_COUNT.search(line)
        if match and "offset" not in line.lower():
            counts[int(match.group(1))] = int(match.group(2))
    return counts


def duplicates(items: list[str]) -> list[str]:
    return sorted(item for item, count in Counter(items).items() if count > 1)


def listing(items: Any, limit: int = 8) -> str:
    """A short human list: ``a, b, c and 12 more``."""
    items = list(items)
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
