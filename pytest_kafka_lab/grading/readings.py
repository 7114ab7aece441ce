"""What the grader accepts for each exercise, as the README's section "Readings the grader
accepts" words it, read from the installed package's own description (its README, which
every install carries in its metadata): a student's feedback quotes it, since a link to a
README.md beside the feedback would point at nothing in a student's repository."""

from __future__ import annotations

import functools
import importlib.metadata
import re

DISTRIBUTION = "pytest-kafka-lab"
SECTION = "### Readings the grader accepts"
# "#### ex1, producer basics" and the text below it, up to the next heading of its level
# or above.
EXERCISE_HEADING = re.compile(r"^#### (ex\d+), [^\n]*\n(.*?)(?=^#{1,4} |\Z)", re.M | re.S)


def section_of(readme: str) -> dict[str, str]:
    """``{exercise id: its readings}`` from the README's text; {} when it has none."""
    start = readme.find(SECTION)
    if start < 0:
        return {}
    body = readme[start + len(SECTION):]
    end = re.search(r"^#{1,3} ", body, re.M)
    body = body[:end.start()] if end else body
    return {match[1]: match[2].strip() for match in EXERCISE_HEADING.finditer(body)}


@functools.lru_cache(maxsize=1)
def readings() -> dict[str, str]:
    """``{exercise id: what the grader accepts}`` of the installed package; {} where its
    metadata holds no README."""
    try:
        metadata = importlib.metadata.metadata(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return {}
    # The README is the metadata's body, which ``json`` names ``description``.
    return section_of(str(metadata.json.get("description") or ""))
