"""The partitioner model on its own (no broker): published hash vectors and the rules.

The vectors come from the projects whose behaviour the model copies: Kafka's
``UtilsTest.testMurmur2`` (Java client), librdkafka's ``unittest_murmur2`` and
``unittest_fnv1a`` (``src/rdmurmur2.c``, ``src/rdfnv1a.c``), and the FNV reference suite.
"""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_kafka_lab.partitioners import (
    PARTITIONERS,
    _rd_fnv1a,
    crc32,
    fnv1a_32,
    murmur2,
    predict_partition,
)

UNALIGNED = b"PreAmbleWillBeRemoved,ThePrePartThatIs"


def as_int32(value: int) -> int:
    """``value``'s 32 bits read as a Java ``int`` / C ``int32_t``."""
    return value - (1 << 32) if value >= 1 << 31 else value


# Kafka's clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
@pytest.mark.parametrize(
    ("data", "java_int"),
    [
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_matches_the_java_client(data: bytes, java_int: int) -> None:
    assert as_int32(murmur2(data)) == java_int


# librdkafka src/rdmurmur2.c unittest_murmur2 (the offsets test its unaligned reads)
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"kafka", 0xD067CF64),
        (b"giberish123456789", 0x8F552B0C),
        (b"1234", 0x9FC97B14),
        (b"234", 0xE7C009CA),
        (b"34", 0x873930DA),
        (b"4", 0x5A4B5CA1),
        (UNALIGNED, 0x78424F1C),
        (UNALIGNED[1:], 0x4A62B377),
        (UNALIGNED[2:], 0xE0E4E09E),
        (UNALIGNED[3:], 0x62B8B43F),
        (b"", 0x106E08D9),
    ],
)
def test_murmur2_matches_librdkafka(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


def test_murmur2_partition_masks_the_sign_bit_like_the_java_client() -> None:
    # librdkafka's older unit test lists these as Utils.toPositive(murmur2(key)).
    assert murmur2(b"kafka") & 0x7FFFFFFF == 1348980580
    assert predict_partition(b"kafka", 2**31 - 1, "murmur2") == 1348980580 % (2**31 - 1)
    assert predict_partition(b"kafka", 1000, "murmur2") == 1348980580 % 1000


# librdkafka src/rdfnv1a.c unittest_fnv1a: the hash after its Sarama-compatible abs()
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"kafka", 0x0D33C4E1),
        (b"giberish123456789", 0x77A58295),
        (b"1234", 0x023BDD03),
        (b"234", 0x2DEA3CD2),
        (b"34", 0x740FA83E),
        (b"4", 0x310CA263),
        (UNALIGNED, 0x65CBD69C),
        (UNALIGNED[1:], 0x6E49C79A),
        (UNALIGNED[2:], 0x69EED356),
        (UNALIGNED[3:], 0x6ABCC023),
        (b"", 0x7EE3623B),
    ],
)
def test_rd_fnv1a_matches_librdkafka(data: bytes, expected: int) -> None:
    assert _rd_fnv1a(data) == expected


# The FNV reference test suite (isthe.com/chongo/src/fnv/test_fnv.c), plain FNV-1a 32.
@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"", 0x811C9DC5), (b"a", 0xE40C292C), (b"foobar", 0xBF9CF968)],
)
def test_fnv1a_32_matches_the_reference(data: bytes, expected: int) -> None:
    assert fnv1a_32(data) == expected


def test_rd_fnv1a_keeps_int32_min_as_c_does() -> None:
    # -INT32_MIN wraps to INT32_MIN in C: the hash stays 0x80000000. This key was found by
    # a meet-in-the-middle search and its partitions checked against librdkafka 2.16.
    assert fnv1a_32(bytes.fromhex("025796df4d")) == 0x80000000
    assert _rd_fnv1a(bytes.fromhex("025796df4d")) == 0x80000000
    assert predict_partition(bytes.fromhex("025796df4d"), 7, "fnv1a") == 2**31 % 7


def test_crc32_check_value() -> None:
    assert crc32(b"123456789") == 0xCBF43926


@given(st.binary(max_size=256))
def test_crc32_is_zlibs(data: bytes) -> None:
    assert crc32(data) == zlib.crc32(data)


@given(data=st.binary(max_size=64), n=st.integers(1, 10_000), partitioner=st.sampled_from(
    [name for name in PARTITIONERS if name != "random"]))
def test_non_empty_keys_land_in_range_and_deterministically(
    data: bytes, n: int, partitioner: str
) -> None:
    key = data or b"k"
    partition = predict_partition(key, n, partitioner)
    assert partition is not None
    assert 0 <= partition < n
    assert predict_partition(key, n, partitioner) == partition


@given(data=st.binary(min_size=1, max_size=64))
def test_one_partition_means_partition_zero(data: bytes) -> None:
    for partitioner in ("consistent", "consistent_random", "murmur2", "murmur2_random",
                        "fnv1a", "fnv1a_random"):
        assert predict_partition(data, 1, partitioner) == 0


def test_default_partitioner_is_consistent_random() -> None:
    assert predict_partition(b"kafka", 7) == crc32(b"kafka") % 7
    assert predict_partition(None, 7) is None
    assert predict_partition(b"", 7) is None


@pytest.mark.parametrize(
    ("partitioner", "null_key", "empty_key"),
    [
        # Plain hashing partitioners hash a null key as empty (rdkafka_topic.c).
        ("consistent", 0, 0),
        ("murmur2", (0x106E08D9 & 0x7FFFFFFF) % 7, (0x106E08D9 & 0x7FFFFFFF) % 7),
        ("fnv1a", 0x7EE3623B % 7, 0x7EE3623B % 7),
        # consistent_random alone sends an empty key to the random partitioner.
        ("consistent_random", None, None),
        ("murmur2_random", None, (0x106E08D9 & 0x7FFFFFFF) % 7),
        ("fnv1a_random", None, 0x7EE3623B % 7),
        ("random", None, None),
    ],
)
def test_null_and_empty_keys(
    partitioner: str, null_key: int | None, empty_key: int | None
) -> None:
    assert predict_partition(None, 7, partitioner) == null_key
    assert predict_partition(b"", 7, partitioner) == empty_key


def test_random_never_predicts() -> None:
    assert predict_partition(b"kafka", 7, "random") is None


def test_partitioners_are_librdkafkas_names() -> None:
    assert set(PARTITIONERS) == {"random", "consistent", "consistent_random", "murmur2",
                                 "murmur2_random", "fnv1a", "fnv1a_random"}


def test_unknown_partitioner_lists_the_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown partitioner 'crc'") as excinfo:
        predict_partition(b"k", 3, "crc")
    for name in PARTITIONERS:
        assert name in str(excinfo.value)


@pytest.mark.parametrize("count", [0, -1])
def test_partition_count_must_be_positive(count: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        predict_partition(b"k", count)


@pytest.mark.parametrize("count", [2.0, True, "3"])
def test_partition_count_must_be_an_int(count: object) -> None:
    with pytest.raises(TypeError, match="partition_count must be an int"):
        predict_partition(b"k", count)  # type: ignore[arg-type]


def test_str_key_is_refused_with_a_hint() -> None:
    with pytest.raises(TypeError, match="encode it"):
        predict_partition("k", 3)  # type: ignore[arg-type]
