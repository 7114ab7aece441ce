"""Members that nobody runs any more, removed from their groups at once (issue 21, item 3).

A run stopped at its deadline is killed: its consumer never leaves its group, whose member
stays until its session times out (45 s at the classic protocol's default, the broker's
``group.consumer.session.timeout.ms`` under the consumer protocol), and until then the
group cannot be deleted (``GROUP_NOT_EMPTY``). confluent-kafka (2.16) cannot remove a
member: Kafka's ``RemoveMembersFromConsumerGroup`` is the Java admin client's alone, and
sends a LeaveGroup request naming the members. This sends, on the dead members' behalf,
what a closing consumer of the group's protocol sends itself, to the group's coordinator
(as DescribeGroups names it):

- a classic group: one ``LeaveGroup`` (v5) naming every member, with its group instance id;
- a consumer group (KIP-848): a ``ConsumerGroupHeartbeat`` (v0) per member with the member
  epoch -1, "leaving" (with its instance id for a static member, which -1 removes too).

Each request goes on a connection of its own, as ``class_runner/admin_wire`` does, and its
answer is read with the wire proxy's decoders. Such a connection speaks PLAINTEXT only: a
listener that asks for SASL or TLS refuses it, and a caller falls back to waiting out the
session.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from typing import Any

from confluent_kafka import ConsumerGroupType
from confluent_kafka.admin import AdminClient, ConsumerGroupDescription, MemberDescription

from pytest_kafka_lab.grading.wire.protocol import API_KEYS, decode_response

LEAVE_GROUP, LEAVE_GROUP_VERSION = API_KEYS["LeaveGroup"], 5
HEARTBEAT, HEARTBEAT_VERSION = API_KEYS["ConsumerGroupHeartbeat"], 0
LEAVING = -1  # the member epoch of a member that leaves its consumer group for good
CLIENT_ID = "kafka-lab-eviction"
REASON = "kafka-lab: the run that owned this member was stopped"
TIMEOUT = 10.0
TAGS = b"\x00"  # an empty tagged-field section
NULL = b"\x00"  # a null compact array


class EvictionError(Exception):
    """The coordinator refused to remove a member, or its answer could not be read."""


def uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def compact_string(value: str | None) -> bytes:
    """A flexible version's string: its length + 1 as a varint (0: null), then UTF-8."""
    if value is None:
        return uvarint(0)
    data = value.encode()
    return uvarint(len(data) + 1) + data


def compact_array(items: list[bytes]) -> bytes:
    return uvarint(len(items) + 1) + b"".join(items)


def request_frame(api_key: int, version: int, body: bytes) -> bytes:
    """A flexible request (header v2: the client id a classic string, then tags), framed."""
    client = CLIENT_ID.encode()
    frame = struct.pack(">hhih", api_key, version, 1, len(client)) + client + TAGS + body
    return struct.pack(">i", len(frame)) + frame


def leave_group_body(group: str, members: Iterable[MemberDescription]) -> bytes:
    """LeaveGroup v5: the group and each member to remove (id, instance id, reason)."""
    entries = [compact_string(member.member_id) + compact_string(member.group_instance_id)
               + compact_string(REASON) + TAGS for member in members]
    return compact_string(group) + compact_array(entries) + TAGS


def leave_heartbeat_body(group: str, member: MemberDescription) -> bytes:
    """ConsumerGroupHeartbeat v0 of ``member`` leaving: epoch -1, nothing subscribed."""
    return (compact_string(group) + compact_string(member.member_id)
            + struct.pack(">i", LEAVING) + compact_string(member.group_instance_id)
            + compact_string(None)  # rack
            + struct.pack(">i", -1)  # rebalance timeout: unchanged
            + NULL + compact_string(None)  # topics, server assignor
            + NULL + TAGS)  # owned partitions


def exchange(address: tuple[str, int], api_key: int, version: int, body: bytes
             ) -> dict[str, Any]:
    """One request to the broker at ``address`` and its decoded answer."""
    with socket.create_connection(address, TIMEOUT) as sock:
        sock.sendall(request_frame(api_key, version, body))
        size = struct.unpack(">i", receive(sock, 4))[0]
        answer = decode_response(api_key, version, receive(sock, size))
    if answer.error:
        raise EvictionError(f"the answer to request {api_key} v{version}: {answer.error}")
    return answer.body


def receive(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection mid-answer (a listener "
                                  "that wants SASL or TLS closes a plain one)")
        data += chunk
    return bytes(data)


def refused(what: str, code: int, message: str | None = None) -> EvictionError:
    return EvictionError(f"{what}: error code {code}" + (f" ({message})" if message else ""))


def evict_classic(address: tuple[str, int], group: ConsumerGroupDescription) -> None:
    answer = exchange(address, LEAVE_GROUP, LEAVE_GROUP_VERSION,
                      leave_group_body(group.group_id, group.members))
    if answer["error_code"]:
        raise refused(f"LeaveGroup of group {group.group_id!r}", answer["error_code"])
    for member in answer["members"]:
        if member["error_code"]:
            raise refused(f"LeaveGroup of member {member['member_id']} of group "
                          f"{group.group_id!r}", member["error_code"])


def evict_consumers(address: tuple[str, int], group: ConsumerGroupDescription) -> None:
    for member in group.members:
        answer = exchange(address, HEARTBEAT, HEARTBEAT_VERSION,
                          leave_heartbeat_body(group.group_id, member))
        if answer["error_code"]:
            raise refused(f"the leaving heartbeat of member {member.member_id} of group "
                          f"{group.group_id!r}", answer["error_code"], answer["error_message"])


def evict(group: ConsumerGroupDescription) -> list[str]:
    """Remove every member of ``group`` (as described a moment ago) through its
    coordinator; the ids of the members removed."""
    if not group.members:
        return []
    address = (group.coordinator.host, group.coordinator.port)
    if group.type == ConsumerGroupType.CONSUMER:
        evict_consumers(address, group)
    else:
        evict_classic(address, group)
    return [member.member_id for member in group.members]


def evict_members(admin: AdminClient, groups: list[str], timeout: float = TIMEOUT
                  ) -> dict[str, list[str]]:
    """Remove every member of ``groups`` at once, whatever its protocol; ``{group: ids of
    the members removed}`` for the groups that had any. Raises ``EvictionError`` or
    ``OSError`` when a coordinator refused or could not be reached."""
    if not groups:
        return {}
    described = admin.describe_consumer_groups(groups, request_timeout=timeout)
    removed = {name: evict(future.result(timeout)) for name, future in described.items()}
    return {name: ids for name, ids in removed.items() if ids}
