"""Hypothesis strategies for Kafka data: keys, values, headers, messages, topic layouts.

Everything drawn here survives a trip through confluent-kafka and a real broker byte for
byte, so a property that fails points at the code under test, not at the data::

    from hypothesis import given
    from pytest_kafka_lab.hypothesis_strategies import messages

    @given(message=messages())
    def test_round_trip(message): ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from hypothesis import strategies as st

__all__ = [
    "COMPACTION_POLICIES",
    "SAFE_TOPIC_CONFIGS",
    "Header",
    "Message",
    "TopicLayout",
    "header_names",
    "headers",
    "keys",
    "messages",
    "topic_layouts",
    "values",
]

Header = tuple[str, bytes | None]
"""One record header as confluent-kafka takes and returns it: a name and a value."""


@dataclass(frozen=True)
class Message:
    """A message to produce: key, value and headers, each possibly empty or null."""

    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()

    def produce_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``producer.produce(topic, **message.produce_kwargs())``."""
        return {"key": self.key, "value": self.value, "headers": list(self.headers)}


@dataclass(frozen=True)
class TopicLayout:
    """A topic's shape: a partition count and topic-level configs (all strings)."""

    partitions: int
    # Left out of the hash: a dict has none, and the partition count tells layouts apart.
    config: dict[str, str] = field(default_factory=dict, hash=False)


SAFE_TOPIC_CONFIGS: Final[Mapping[str, tuple[str, ...]]] = {
    "cleanup.policy": ("delete",),
    # Never short enough to delete records during a test: they carry the current time.
    "retention.ms": ("-1", "3600000", "86400000", "604800000"),
    # Never below the broker's default (1 MiB + 12), which librdkafka's default
    # message.max.bytes (1 000 000) is sized to fit.
    "max.message.bytes": ("1048588", "2097152", "8388608"),
    "compression.type": ("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"),
}
"""Topic configs ``topic_layouts`` draws from: none of them loses or refuses a record."""

COMPACTION_POLICIES: Final = ("compact", "compact,delete")
"""Added to ``cleanup.policy`` by ``topic_layouts(allow_compaction=True)``."""


def keys(*, max_size: int = 64, allow_null: bool = True) -> st.SearchStrategy[bytes | None]:
    """Message keys: any bytes up to ``max_size`` including ``b""``, and ``None`` too
    unless ``allow_null`` is false.

    Empty and null keys differ in Kafka and in librdkafka's partitioners, so both come.
    """
    binary = st.binary(max_size=max_size)
    return st.none() | binary if allow_null else binary


def values(*, max_size: int = 1024, allow_null: bool = False) -> st.SearchStrategy[bytes | None]:
    """Message values: any bytes up to ``max_size`` including ``b""``; ``None`` (a
    tombstone) too when ``allow_null`` is true."""
    binary = st.binary(max_size=max_size)
    return st.none() | binary if allow_null else binary


def header_names(*, max_size: int = 16) -> st.SearchStrategy[str]:
    """Header names: any text, empty included, without NUL or lone surrogates.

    confluent-kafka hands names to librdkafka as C strings, so a NUL silently cuts the
    name short; a lone surrogate cannot be encoded and crashes the interpreter
    (seen with confluent-kafka 2.16).
    """
    return st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        max_size=max_size,
    )


def headers(
    *, max_headers: int = 6, max_value_size: int = 64
) -> st.SearchStrategy[list[Header]]:
    """Header lists: up to ``max_headers`` ``(name, value)`` pairs, in order.

    Names repeat (Kafka keeps every header, in order, even under the same name) and
    values are binary, empty, or ``None``.
    """

    @st.composite
    def draw_headers(draw: st.DrawFn) -> list[Header]:
        # A small pool of names makes repeated names common instead of a rare collision.
        pool = draw(st.lists(header_names(), min_size=1, max_size=3, unique=True))
        value = st.none() | st.binary(max_size=max_value_size)
        return draw(st.lists(st.tuples(st.sampled_from(pool), value), max_size=max_headers))

    return draw_headers()


def messages(
    *,
    key: st.SearchStrategy[bytes | None] | None = None,
    value: st.SearchStrategy[bytes | None] | None = None,
    header_lists: st.SearchStrategy[list[Header]] | None = None,
) -> st.SearchStrategy[Message]:
    """``Message``s drawn from ``key``, ``value`` and ``header_lists``, by default
    ``keys()``, ``values()`` and ``headers()``."""
    return st.builds(
        Message,
        key=key if key is not None else keys(),
        value=value if value is not None else values(),
        headers=(header_lists if header_lists is not None else headers()).map(tuple),
    )


def topic_layouts(
    *,
    max_partitions: int = 8,
    configs: Mapping[str, Sequence[str]] | None = None,
    allow_compaction: bool = False,
) -> st.SearchStrategy[TopicLayout]:
    """``TopicLayout``s: 1 to ``max_partitions`` partitions and a subset of ``configs``
    (by default ``SAFE_TOPIC_CONFIGS``), each with one of its values.

    Compaction is opt-in: a compacted topic refuses records with a null key.
    """
    if max_partitions < 1:
        raise ValueError(f"max_partitions must be at least 1, got {max_partitions}")
    choices = {name: tuple(options) for name, options in (configs or SAFE_TOPIC_CONFIGS).items()}
    if allow_compaction:
        choices["cleanup.policy"] = (*choices.get("cleanup.policy", ()), *COMPACTION_POLICIES)
    empty = [name for name, options in choices.items() if not options]
    if empty:
        raise ValueError(f"configs {empty} have no values to choose from")
    config = st.fixed_dictionaries(
        {}, optional={name: st.sampled_from(options) for name, options in choices.items()}
    )
    return st.builds(
        TopicLayout,
        partitions=st.integers(min_value=1, max_value=max_partitions),
        config=config,
    )
