"""A pure-Python model of librdkafka's partitioners: which partition a key goes to.

``predict_partition(key, partition_count, partitioner)`` answers what a confluent-kafka
producer configured with ``partitioner=<name>`` does with a message produced without an
explicit partition, or ``None`` where librdkafka chooses at random.

It follows librdkafka's ``src/rdkafka_msg.c`` (``rd_kafka_msg_partitioner*``),
``src/rdkafka_topic.c`` (when the sticky partitioner takes over), ``src/rdmurmur2.c``
and ``src/rdfnv1a.c``:

* ``consistent``: ``crc32(key) % n``. A null key hashes as empty: partition 0.
* ``consistent_random`` (librdkafka's default): like ``consistent``, but a null *or
  empty* key goes to a random (sticky) partition.
* ``murmur2``: ``(murmur2(key) & 0x7fffffff) % n``, the Java client's choice. A null key
  hashes as empty.
* ``murmur2_random``: like ``murmur2``, but only a null key goes random; an empty key is
  hashed, so it always lands on one partition.
* ``fnv1a``: ``abs(fnv1a_32(key) as int32) % n`` (Sarama's hash partitioner). A null key
  hashes as empty.
* ``fnv1a_random``: like ``fnv1a``; only a null key goes random.
* ``random``: always random.

"Random" in librdkafka is sticky (``sticky.partitioning.linger.ms``): one partition for a
while, then another, so keyless messages spread over partitions only over time.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Final

__all__ = [
    "PARTITIONERS",
    "crc32",
    "fnv1a_32",
    "murmur2",
    "predict_partition",
]

_MASK32: Final = 0xFFFFFFFF

MURMUR2_SEED: Final = 0x9747B28C
"""The seed of Kafka's murmur2: the Java client's ``Utils.murmur2`` and ``rd_murmur2``."""
_MURMUR2_M: Final = 0x5BD1E995
_MURMUR2_R: Final = 24

FNV1A_32_OFFSET_BASIS: Final = 0x811C9DC5
FNV1A_32_PRIME: Final = 0x01000193


def crc32(data: bytes) -> int:
    """CRC-32 (the zlib / IEEE 802.3 one librdkafka's ``rd_crc32`` computes), unsigned."""
    return zlib.crc32(data) & _MASK32


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of ``data`` as an unsigned 32-bit int.

    The Java client's ``Utils.murmur2`` returns the same bits as a signed ``int``;
    librdkafka's ``rd_murmur2`` returns them unsigned, as here.
    """
    length = len(data)
    h = (MURMUR2_SEED ^ length) & _MASK32
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _MURMUR2_M) & _MASK32
        k ^= k >> _MURMUR2_R
        k = (k * _MURMUR2_M) & _MASK32
        h = (h * _MURMUR2_M) & _MASK32
        h ^= k
    tail = data[whole:]
    # The C and Java versions fall through their switch: 3 bytes left do all three steps.
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * _MURMUR2_M) & _MASK32
    h ^= h >> 13
    h = (h * _MURMUR2_M) & _MASK32
    h ^= h >> 15
    return h


def fnv1a_32(data: bytes) -> int:
    """The standard 32-bit FNV-1a hash of ``data``, unsigned.

    librdkafka's ``rd_fnv1a`` adds one step on top (the absolute value of the hash read
    as a signed int, to match Sarama); ``predict_partition`` applies it, this does not.
    """
    h = FNV1A_32_OFFSET_BASIS
    for byte in data:
        h = ((h ^ byte) * FNV1A_32_PRIME) & _MASK32
    return h


def _as_int32(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def _rd_fnv1a(data: bytes) -> int:
    """``rd_fnv1a``: ``abs`` of the hash as an ``int32_t``, returned as ``uint32_t``.

    ``-INT32_MIN`` wraps back to ``INT32_MIN`` in C, hence the mask: 0x80000000 stays.
    """
    return abs(_as_int32(fnv1a_32(data))) & _MASK32


def _consistent(key: bytes, n: int) -> int:
    return crc32(key) % n


def _murmur2(key: bytes, n: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % n


def _fnv1a(key: bytes, n: int) -> int:
    return _rd_fnv1a(key) % n


# name -> (hash-to-partition, which keys go random instead). librdkafka sends a null key
# to the sticky random partitioner unless the partitioner is one of the three plain
# hashing ones (rdkafka_topic.c, ``random_partitioner``); consistent_random alone also
# sends an empty key there (rdkafka_msg.c, ``rd_kafka_msg_partitioner``).
_NULL_ONLY: Final = "null"
_NULL_OR_EMPTY: Final = "null or empty"
_NEVER: Final = "never"
_ALWAYS: Final = "always"

_Rule = tuple[Callable[[bytes, int], int] | None, str]

_RULES: Final[dict[str, _Rule]] = {
    "random": (None, _ALWAYS),
    "consistent": (_consistent, _NEVER),
    "consistent_random": (_consistent, _NULL_OR_EMPTY),
    "murmur2": (_murmur2, _NEVER),
    "murmur2_random": (_murmur2, _NULL_ONLY),
    "fnv1a": (_fnv1a, _NEVER),
    "fnv1a_random": (_fnv1a, _NULL_ONLY),
}

PARTITIONERS: Final[tuple[str, ...]] = tuple(_RULES)
"""The values librdkafka's ``partitioner`` setting accepts, every one modelled here."""

DEFAULT_PARTITIONER: Final = "consistent_random"


def predict_partition(
    key: bytes | None, partition_count: int, partitioner: str = DEFAULT_PARTITIONER
) -> int | None:
    """The partition librdkafka's ``partitioner`` picks for ``key`` among ``partition_count``.

    Returns ``None`` when librdkafka would choose at random (keyless messages under the
    ``*_random`` partitioners, every message under ``random``). ``key`` is the key's
    bytes as produced: ``None`` is a null key, ``b""`` an empty one, which differ.
    """
    if partitioner not in _RULES:
        raise ValueError(
            f"unknown partitioner {partitioner!r}; librdkafka's are: {', '.join(PARTITIONERS)}"
        )
    if isinstance(partition_count, bool) or not isinstance(partition_count, int):
        raise TypeError(f"partition_count must be an int, not {type(partition_count).__name__}")
    if partition_count < 1:
        raise ValueError(f"partition_count must be at least 1, got {partition_count}")
    if key is not None and not isinstance(key, bytes):
        hint = " (encode it: confluent-kafka sends a str key as UTF-8)" if isinstance(
            key, str) else ""
        raise TypeError(f"key must be bytes or None, not {type(key).__name__}{hint}")

    to_partition, goes_random = _RULES[partitioner]
    if (
        goes_random == _ALWAYS
        or (key is None and goes_random != _NEVER)
        or (key == b"" and goes_random == _NULL_OR_EMPTY)
    ):
        return None
    assert to_partition is not None
    # A null key reaches the plain hashing partitioners as (NULL, 0): hashed as empty.
    return to_partition(key or b"", partition_count)
