"""The three admin requests a lane's reset needs that confluent-kafka's ``AdminClient``
(2.16) cannot send: client quotas (``DescribeClientQuotas``, ``AlterClientQuotas``: the
client has no quota API) and a change to the cluster-wide default broker configs
(``IncrementalAlterConfigs`` on the broker resource ``""``, which ``ConfigResource``
refuses as invalid).

Each is one request at its version 0 (not flexible, accepted by every Kafka since 2.6)
on a connection of its own to the broker, read back with the wire proxy's ``Reader``.
``kafka-configs`` does the same in a JVM that takes seconds to start; this takes
milliseconds, so the reset can run between every two submissions.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from pytest_kafka_lab.grading.wire.protocol import Reader

DESCRIBE_CLIENT_QUOTAS, ALTER_CLIENT_QUOTAS, INCREMENTAL_ALTER_CONFIGS = 48, 49, 44
BROKER_RESOURCE, SET, DELETE = 4, 0, 1
CLIENT_ID = "kafka-lab-lane-reset"
TIMEOUT = 10.0

# A quota entity: ((entity type, name or None for the default), ...), e.g.
# (("client-id", None),) for ``--entity-type clients --entity-default``.
Entity = tuple[tuple[str, str | None], ...]


class AdminWireError(Exception):
    """The broker answered an admin request with an error."""


def string(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    data = value.encode()
    return struct.pack(">h", len(data)) + data


def array(items: list[bytes]) -> bytes:
    return struct.pack(">i", len(items)) + b"".join(items)


def entity_bytes(entity: Entity) -> bytes:
    return array([string(kind) + string(name) for kind, name in entity])


@dataclass(frozen=True)
class AdminWire:
    """Admin requests to the broker at ``host:port``."""

    host: str
    port: int

    @classmethod
    def of(cls, bootstrap: str) -> AdminWire:
        host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
        return cls(host.strip("[]"), int(port))

    def request(self, api_key: int, body: bytes) -> Reader:
        """One version-0 request and its response, past the correlation id."""
        header = struct.pack(">hhi", api_key, 0, 1) + string(CLIENT_ID)
        frame = header + body
        with socket.create_connection((self.host, self.port), TIMEOUT) as sock:
            sock.sendall(struct.pack(">i", len(frame)) + frame)
            size = struct.unpack(">i", receive(sock, 4))[0]
            reader = Reader(receive(sock, size))
        reader.int32()  # correlation id
        return reader

    def client_quotas(self) -> dict[Entity, dict[str, float]]:
        """Every client quota set on the broker, by entity."""
        reader = self.request(DESCRIBE_CLIENT_QUOTAS, array([]) + b"\x00")  # all, not strict
        reader.int32()  # throttle time
        error, message = reader.int16(), reader.string(False)
        if error:
            raise AdminWireError(f"DescribeClientQuotas: error {error}: {message}")
        quotas: dict[Entity, dict[str, float]] = {}
        for _ in range(max(reader.int32(), 0)):
            entity = tuple((str(reader.string(False)), reader.string(False))
                           for _ in range(reader.int32()))
            quotas[entity] = {str(reader.string(False)): reader.float64()
                              for _ in range(reader.int32())}
        return quotas

    def alter_client_quotas(self, quotas: dict[Entity, dict[str, float | None]]) -> None:
        """Set each entity's quotas to the values given; None removes one."""
        entries = [entity_bytes(entity) + array([
            string(key) + struct.pack(">d?", value or 0.0, value is None)
            for key, value in values.items()]) for entity, values in quotas.items()]
        reader = self.request(ALTER_CLIENT_QUOTAS, array(entries) + b"\x00")
        reader.int32()
        problems = []
        for _ in range(reader.int32()):
            error, message = reader.int16(), reader.string(False)
            for _ in range(reader.int32()):
                reader.string(False)
                reader.string(False)
            if error:
                problems.append(f"error {error}: {message}")
        if problems:
            raise AdminWireError("AlterClientQuotas: " + "; ".join(problems))

    def alter_default_broker_configs(self, configs: dict[str, str | None]) -> None:
        """Set cluster-wide default broker configs (``--entity-default``) to the values
        given; None deletes one."""
        changes = [string(name) + struct.pack(">b", DELETE if value is None else SET)
                   + string(value) for name, value in configs.items()]
        resource = struct.pack(">b", BROKER_RESOURCE) + string("") + array(changes)
        reader = self.request(INCREMENTAL_ALTER_CONFIGS, array([resource]) + b"\x00")
        reader.int32()
        for _ in range(reader.int32()):
            error, message = reader.int16(), reader.string(False)
            if error:
                raise AdminWireError(f"IncrementalAlterConfigs: error {error}: {message}")
            reader.int8()
            reader.string(False)


def receive(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection mid-answer")
        data += chunk
    return bytes(data)
