"""The one rewrite the proxy makes: where the broker says it is.

A client finds brokers through three answers: Metadata (its bootstrap and every
refresh), FindCoordinator (its group's or transaction's coordinator) and DescribeCluster
(the Java admin client). Each names hosts and ports; the proxy puts its own address in
their place, so that a run's clients, however they reconnect, come back through the
proxy, and the lab broker needs no listener of its own for runs (an existing cluster,
the container backend and a broker shared by a class are proxied alike). One proxy
stands for one broker: every node named becomes the proxy (the course's brokers have
one node).

Only the broker list is rebuilt; the bytes after it are copied as they came. Versions
follow Kafka's message schemas (``MetadataResponse.json``, ``FindCoordinatorResponse.json``,
``DescribeClusterResponse.json``): flexible from 9, 3 and 0 on.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

METADATA, FIND_COORDINATOR, DESCRIBE_CLUSTER = 3, 10, 60
FIRST_FLEXIBLE = {METADATA: 9, FIND_COORDINATOR: 3, DESCRIBE_CLUSTER: 0}


class Reader:
    """A cursor over a response body, reading Kafka's primitive types."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.offset = offset

    def take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise ValueError("response ended inside a field")
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def int8(self) -> int:
        return int(struct.unpack(">b", self.take(1))[0])

    def int16(self) -> int:
        return int(struct.unpack(">h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self.take(4))[0])

    def uvarint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 35:
                raise ValueError("varint too long")

    def string(self, flexible: bool) -> bytes | None:
        """The raw bytes of a (nullable) string, compact when ``flexible``."""
        size = self.uvarint() - 1 if flexible else self.int16()
        return None if size < 0 else self.take(size)

    def tagged_fields(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())

    def array_length(self, flexible: bool) -> int:
        return self.uvarint() - 1 if flexible else self.int32()


def uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def string(value: bytes | None, flexible: bool) -> bytes:
    if value is None:
        return uvarint(0) if flexible else struct.pack(">h", -1)
    return (uvarint(len(value) + 1) if flexible else struct.pack(">h", len(value))) + value


def array_length(count: int, flexible: bool) -> bytes:
    return uvarint(count + 1) if flexible else struct.pack(">i", count)


def skip_header(reader: Reader, flexible: bool) -> None:
    reader.int32()  # correlation id
    if flexible:
        reader.tagged_fields()


def endpoint(reader: Reader, flexible: bool, host: bytes, port: int) -> bytes:
    """Read a host and a port, and return them as the proxy's."""
    reader.string(flexible)
    reader.int32()
    return string(host, flexible) + struct.pack(">i", port)


def metadata(body: bytes, version: int, host: bytes, port: int) -> bytes:
    flexible = version >= FIRST_FLEXIBLE[METADATA]
    reader = Reader(body)
    skip_header(reader, flexible)
    if version >= 3:
        reader.int32()  # throttle time
    head = body[:reader.offset]
    count = reader.array_length(flexible)
    brokers = bytearray(array_length(count, flexible))
    for _ in range(max(count, 0)):
        brokers += reader.take(4)  # node id
        brokers += endpoint(reader, flexible, host, port)
        start = reader.offset
        if version >= 1:
            reader.string(flexible)  # rack
        if flexible:
            reader.tagged_fields()
        brokers += body[start:reader.offset]
    return head + bytes(brokers) + body[reader.offset:]


def find_coordinator(body: bytes, version: int, host: bytes, port: int) -> bytes:
    flexible = version >= FIRST_FLEXIBLE[FIND_COORDINATOR]
    reader = Reader(body)
    skip_header(reader, flexible)
    if version < 4:
        if version >= 1:
            reader.int32()  # throttle time
        reader.int16()  # error code
        if version >= 1:
            reader.string(flexible)  # error message
        reader.int32()  # node id
        head = body[:reader.offset]
        return head + endpoint(reader, flexible, host, port) + body[reader.offset:]
    reader.int32()
    head = body[:reader.offset]
    count = reader.array_length(flexible)
    coordinators = bytearray(array_length(count, flexible))
    for _ in range(max(count, 0)):
        start = reader.offset
        reader.string(flexible)  # key
        reader.int32()  # node id
        coordinators += body[start:reader.offset]
        coordinators += endpoint(reader, flexible, host, port)
        start = reader.offset
        reader.int16()  # error code
        reader.string(flexible)  # error message
        reader.tagged_fields()
        coordinators += body[start:reader.offset]
    return head + bytes(coordinators) + body[reader.offset:]


def describe_cluster(body: bytes, version: int, host: bytes, port: int) -> bytes:
    reader = Reader(body)
    skip_header(reader, True)
    reader.int32()  # throttle time
    reader.int16()  # error code
    reader.string(True)  # error message
    if version >= 1:
        reader.int8()  # endpoint type
    reader.string(True)  # cluster id
    reader.int32()  # controller id
    head = body[:reader.offset]
    count = reader.array_length(True)
    brokers = bytearray(array_length(count, True))
    for _ in range(max(count, 0)):
        brokers += reader.take(4)  # broker id
        brokers += endpoint(reader, True, host, port)
        start = reader.offset
        reader.string(True)  # rack
        if version >= 2:
            reader.int8()  # is fenced
        reader.tagged_fields()
        brokers += body[start:reader.offset]
    return head + bytes(brokers) + body[reader.offset:]


REWRITERS: dict[int, Callable[[bytes, int, bytes, int], bytes]] = {
    METADATA: metadata, FIND_COORDINATOR: find_coordinator, DESCRIBE_CLUSTER: describe_cluster}


def rewrite(api_key: int, version: int, body: bytes, address: tuple[str, int]) -> bytes:
    """``body`` (a response frame without its length) with every broker address in it
    made ``address``; any other response as it is. A body that does not parse as its
    schema says is returned unchanged: the client then sees what the broker said."""
    rewriter = REWRITERS.get(api_key)
    if rewriter is None:
        return body
    try:
        return rewriter(body, version, address[0].encode(), address[1])
    except (ValueError, struct.error):
        return body
