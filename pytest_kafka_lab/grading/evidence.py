"""Reading the evidence of a graded run: broker records and what the submission printed."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from pytest_kafka_lab.readers import Record

# What a line carries besides counts, taken out before numbers are read: timestamps (a
# logging format's asctime), ids such as ORD-00001 or CUST-003, and "offset N".
NOISE = [
    re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"),
    re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"),
    re.compile(r"\b(?!part(?:ition)?s?-)[A-Za-z]{2,}-\d+\b"),
    re.compile(r"offsets?\W{0,4}-?\d+", re.IGNORECASE),
]
# The ways students label a partition's count, each read as (partition, count):
# "Partition 0: 23 messages", "partition 0 -> 23", "Partition [0] received 23",
# "partition=0 count=23", "P0=23", and the other way round "23 messages in partition 0".
LABELLED = [
    (re.compile(r"\bpartition[\s_#=:\-]*[\[(]?\s*(\d+)\s*[\])]?\s*"
                r"(?:[:=,|]|->|=>|→|-|\bhas\b|\bhad\b|\bgot\b|\breceived\b|\bholds\b)?\s*"
                r"(?:(?:count|messages|msgs|orders|deliveries|delivered|total)\s*[:=]?\s*)?"
                r"(\d+)(?![\d.]|\s*%)", re.IGNORECASE), False),
    (re.compile(r"\bp(\d+)\s*(?:[:=]|->)\s*(\d+)\b", re.IGNORECASE), False),
    (re.compile(r"\b(\d+)\s+(?:messages?|msgs?|orders?|records?|deliveries)\b[^\d\n]{0,30}?"
                r"\bpartition\s*[\[#]?\s*(\d+)", re.IGNORECASE), True),
]
DICT = re.compile(r"\{([^{}]*)\}")
DICT_ENTRY = re.compile(r"""['"]?(\d+)['"]?\s*:\s*(\d+)(?![\d.])""")
LOG_PREFIX = re.compile(r"^.*?\b(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\b\s*[:\-|\]]*\s*"
                        r"(?:[A-Za-z_][\w.]*\s*(?::|\s-\s)\s*)?")
TABLE_ROW = re.compile(r"^[|\s]*(\d+)\s*(?:[|:=]|->|→|\s)\s*(\d+)"
                       r"\s*(?:\|?\s*[\d.]+\s*%?\s*)*\|?\s*$")


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


def without_noise(line: str) -> str:
    for pattern in NOISE:
        line = pattern.sub(" ", line)
    return line


def partition_count_readings(*outputs: str) -> list[dict[int, int]]:
    """Every reasonable reading of the per-partition counts printed in ``outputs`` (stdout,
    stderr), the likeliest first: each labelled form, a printed dict (``{0: 23}``,
    ``Counter({...})``, ``defaultdict(<class 'int'>, {...})``, str keys) and table rows
    (``| 0 | 23 |``, ``0   23``). Within a form the last line naming a partition wins,
    since a summary comes after per-message lines; stdout and stderr are read alone and
    together (a ``logging`` summary goes to stderr)."""
    texts = [text for text in outputs if text] + ([] if len(outputs) < 2 else
                                                  ["\n".join(outputs)])
    readings: list[dict[int, int]] = []
    for text in texts:
        lines = [without_noise(line) for line in text.splitlines()]
        labelled = [pairs_labelled(lines, pattern, reversed_) for pattern, reversed_ in LABELLED]
        merged: dict[int, int] = {}
        for line in lines:
            for pattern, reversed_ in LABELLED:
                merged.update(line_pairs(line, pattern, reversed_))
        readings += [merged, *labelled, *printed_dicts(text), table_rows(lines)]
    unique: list[dict[int, int]] = []
    for reading in readings:
        if reading and reading not in unique:
            unique.append(reading)
    return unique


def line_pairs(line: str, pattern: re.Pattern[str], reversed_: bool) -> dict[int, int]:
    pairs = {}
    for match in pattern.finditer(line):
        first, second = int(match.group(1)), int(match.group(2))
        partition, count = (second, first) if reversed_ else (first, second)
        pairs[partition] = count
    return pairs


def pairs_labelled(lines: list[str], pattern: re.Pattern[str],
                   reversed_: bool) -> dict[int, int]:
    counts: dict[int, int] = {}
    for line in lines:
        counts.update(line_pairs(line, pattern, reversed_))
    return counts


def printed_dicts(text: str) -> list[dict[int, int]]:
    """Each printed mapping of partition numbers to counts, e.g. ``{0: 23, '1': 25}``."""
    found = []
    for match in DICT.finditer(text):
        entries = {int(key): int(count) for key, count in DICT_ENTRY.findall(match.group(1))}
        if entries:
            found.append(entries)
    return found


def table_rows(lines: list[str]) -> dict[int, int]:
    """Rows of two numbers, partition then count: ``| 0 | 23 |`` or ``0      23``."""
    counts: dict[int, int] = {}
    for line in lines:
        match = TABLE_ROW.match(LOG_PREFIX.sub("", line, count=1))
        if match:
            counts[int(match.group(1))] = int(match.group(2))
    return counts


def counts_agree(printed: dict[int, int], actual: dict[int, int]) -> bool:
    """Whether a reading equals the broker's counts; a count of 0 printed for a partition
    that holds nothing is a true statement, not a difference."""
    shown = {partition: count for partition, count in printed.items()
             if count or partition in actual}
    return shown == actual


def printed_partition_counts(*outputs: str) -> dict[int, int]:
    """The likeliest reading of the per-partition counts printed in ``outputs``."""
    readings = partition_count_readings(*outputs)
    return readings[0] if readings else {}


# A line that reports a failure: a word for it, or the error's own text.
FAILURE_WORDS = re.compile(
    r"\b(?:fail\w*|error\w*|err|could\s*n[o']t|cannot|can't|unable|undeliver\w*|"
    r"not\s+(?:be\s+)?(?:delivered|sent|acknowledged)|exception|problem|reject\w*|lost|"
    r"dropped|unknown)\b|[✗✘❌]", re.IGNORECASE)
LEVELS = {"debug", "info", "warning", "warn", "critical"}


def reports_failure(printed: str, error: str) -> bool:
    """Whether ``printed`` says that a delivery failed: a word such as *failed*, *error*
    or *could not*, or the text of ``error`` (librdkafka's ``str="..."`` or its code)."""
    if FAILURE_WORDS.search(printed):
        return True
    inner = re.search(r'str="([^"]+)"', error)
    code = re.search(r"code=(\w+)", error)
    texts = [error, inner.group(1) if inner else "", code.group(1) if code else ""]
    return any(part and part.lower() in printed.lower() for part in texts)


def line_shape(line: str) -> tuple[str, ...]:
    """A printed line's words once ids, keys, numbers and ``None`` are taken out, and a
    ``logging`` level: ``Sent CUST-003 to partition 2`` reads ``('sent', 'to',
    'partition')``, as ``Sent CUST-002 to partition 99`` does."""
    text = re.sub(r"[A-Za-z]{2,}-\d+|-?\d+(?:[.,:]\d+)*|\bNone\b", " ", line)
    return tuple(word for word in re.findall(r"[A-Za-z]+", text.lower())
                 if word not in LEVELS and len(word) > 1)


def looks_like(lines: Iterable[str], examples: Iterable[str], leading: int = 3) -> list[str]:
    """The ``lines`` whose leading words (see ``line_shape``) are those of an example."""
    shapes = {line_shape(example)[:leading] for example in examples}
    shapes.discard(())
    return [line for line in lines if line_shape(line)[:leading] in shapes]


def duplicates(items: list[str]) -> list[str]:
    return sorted(item for item, count in Counter(items).items() if count > 1)


def listing(items: Any, limit: int = 8) -> str:
    """A short human list: ``a, b, c and 12 more``."""
    items = list(items)
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 message``, ``2 messages``: a count with its noun in the right number."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
