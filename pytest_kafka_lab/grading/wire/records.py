"""Record batch headers (magic 2) inside a ``records`` field, read without decompressing.

A batch is 12 bytes of offset and length, then a 49-byte header, then its records
(compressed as a whole when the batch is). Only the headers are read: they say what a
producer sent (its id, epoch and sequence, the codec, how many records) and which
offsets a fetch returned. A fetch response may end with a partial batch (the broker cuts
at the byte limit), which is left out.
"""

from __future__ import annotations

import struct
from typing import Any

# Indexed by the low three bits of the attributes.
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
TIMESTAMP_TYPE = 0x08
TRANSACTIONAL = 0x10
CONTROL = 0x20

# base offset, batch length (the bytes after it), partition leader epoch, magic, crc,
# attributes, last offset delta, base timestamp, max timestamp, producer id, producer
# epoch, base sequence, record count.
_HEADER = struct.Struct(">qiibIhiqqqhii")
LOG_OVERHEAD = 12  # what precedes the batch length's bytes: offset and length
HEADER_SIZE = _HEADER.size  # 61


def codec_name(attributes: int) -> str:
    code = attributes & 0x07
    return CODECS[code] if code < len(CODECS) else f"unknown({code})"


def batches(blob: bytes | bytearray | memoryview | None,
            brief: bool = False) -> list[dict[str, Any]]:
    """The header of each whole batch in ``blob``, in order; a truncated last one is left
    out. Message sets of the old formats (magic 0 and 1) give offset, length and magic.

    ``brief``: what a fetch needs said (offsets, count, size, the transactional and
    control flags). A fetch response can carry thousands of batches, and the log keeps
    every one."""
    if not blob:
        return []
    found: list[dict[str, Any]] = []
    size = len(blob)
    pos = 0
    while size - pos >= LOG_OVERHEAD + 5:
        base_offset, length, _epoch = struct.unpack_from(">qii", blob, pos)
        end = pos + LOG_OVERHEAD + length
        if length < 0 or end > size:
            break  # the partial batch a fetch may end with
        magic = blob[pos + 16]
        if magic != 2 or length < HEADER_SIZE - LOG_OVERHEAD:
            found.append({"base_offset": base_offset, "batch_length": length,
                          "size_in_bytes": LOG_OVERHEAD + length, "magic": magic})
            pos = end
            continue
        (_, _, leader_epoch, _, _, attributes, last_offset_delta, base_timestamp,
         max_timestamp, producer_id, producer_epoch, base_sequence,
         record_count) = _HEADER.unpack_from(blob, pos)
        pos = end
        if brief:
            found.append({
                "base_offset": base_offset,
                "last_offset_delta": last_offset_delta,
                "record_count": record_count,
                "size_in_bytes": LOG_OVERHEAD + length,
                "transactional": bool(attributes & TRANSACTIONAL),
                "control": bool(attributes & CONTROL),
            })
            continue
        found.append({
            "base_offset": base_offset,
            "batch_length": length,
            "size_in_bytes": LOG_OVERHEAD + length,
            "partition_leader_epoch": leader_epoch,
            "magic": magic,
            "attributes": attributes,
            "compression": codec_name(attributes),
            "log_append_time": bool(attributes & TIMESTAMP_TYPE),
            "transactional": bool(attributes & TRANSACTIONAL),
            "control": bool(attributes & CONTROL),
            "last_offset_delta": last_offset_delta,
            "base_timestamp": base_timestamp,
            "max_timestamp": max_timestamp,
            "producer_id": producer_id,
            "producer_epoch": producer_epoch,
            "base_sequence": base_sequence,
            "record_count": record_count,
        })
    return found


def record_count(found: list[dict[str, Any]]) -> int:
    """How many records ``batches()`` found (control batches count: they are records)."""
    return sum(int(batch.get("record_count", 0)) for batch in found)
