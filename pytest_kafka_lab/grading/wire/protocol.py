"""Kafka's wire protocol, read: request and response frames into plain dicts.

A frame is a 4-byte big-endian length and a body; the proxy hands the body over. A request
body starts with its header (API key, version, correlation id, client id, and from the
API's first flexible version on, tagged fields); a response body with the correlation id
(and tagged fields when flexible, except for ApiVersions, whose response header stays v0
so that a client can read it before it knows what the broker speaks).

The messages are described below as field lists, each field with the versions that carry
it, transcribed from Kafka 4.4's JSON message schemas
(``clients/src/main/resources/common/message``): the names are the schemas' in
snake_case. Fields the schemas mark as tagged are not listed: they live in the tagged
section every struct ends with in flexible versions, which is skipped. A topic id
(a UUID, written as Kafka prints it: 22 characters of URL-safe base64) is paired with the
topic's name when the proxy has seen it in a Metadata or CreateTopics response.

Decoding never raises: ``decode_request`` and ``decode_response`` return what they read,
with ``error`` saying what could not be read and where.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_kafka_lab.grading.wire import records

# key: (name, oldest version Kafka 4.4 accepts, newest, first flexible version; 99: none).
# Keys 4-7 were the ZooKeeper-era controller APIs, gone from Kafka 4.
API_VERSIONS: dict[int, tuple[str, int, int, int]] = {
    0: ("Produce", 3, 13, 9), 1: ("Fetch", 4, 18, 12), 2: ("ListOffsets", 1, 11, 6),
    3: ("Metadata", 0, 13, 9), 4: ("LeaderAndIsr", -1, -1, 4),
    5: ("StopReplica", -1, -1, 2), 6: ("UpdateMetadata", -1, -1, 6),
    7: ("ControlledShutdown", -1, -1, 3), 8: ("OffsetCommit", 2, 10, 8),
    9: ("OffsetFetch", 1, 10, 6), 10: ("FindCoordinator", 0, 6, 3),
    11: ("JoinGroup", 0, 9, 6), 12: ("Heartbeat", 0, 4, 4), 13: ("LeaveGroup", 0, 5, 4),
    14: ("SyncGroup", 0, 5, 4), 15: ("DescribeGroups", 0, 6, 5), 16: ("ListGroups", 0, 5, 3),
    17: ("SaslHandshake", 0, 1, 99), 18: ("ApiVersions", 0, 5, 3),
    19: ("CreateTopics", 2, 7, 5), 20: ("DeleteTopics", 1, 6, 4),
    21: ("DeleteRecords", 0, 2, 2), 22: ("InitProducerId", 0, 6, 2),
    23: ("OffsetForLeaderEpoch", 2, 4, 4), 24: ("AddPartitionsToTxn", 0, 5, 3),
    25: ("AddOffsetsToTxn", 0, 4, 3), 26: ("EndTxn", 0, 5, 3),
    27: ("WriteTxnMarkers", 1, 2, 1), 28: ("TxnOffsetCommit", 0, 6, 3),
    29: ("DescribeAcls", 1, 3, 2), 30: ("CreateAcls", 1, 3, 2), 31: ("DeleteAcls", 1, 3, 2),
    32: ("DescribeConfigs", 1, 4, 4), 33: ("AlterConfigs", 0, 2, 2),
    34: ("AlterReplicaLogDirs", 1, 2, 2), 35: ("DescribeLogDirs", 1, 5, 2),
    36: ("SaslAuthenticate", 0, 2, 2), 37: ("CreatePartitions", 0, 3, 2),
    38: ("CreateDelegationToken", 1, 3, 2), 39: ("RenewDelegationToken", 1, 2, 2),
    40: ("ExpireDelegationToken", 1, 2, 2), 41: ("DescribeDelegationToken", 1, 3, 2),
    42: ("DeleteGroups", 0, 3, 2), 43: ("ElectLeaders", 0, 2, 2),
    44: ("IncrementalAlterConfigs", 0, 1, 1), 45: ("AlterPartitionReassignments", 0, 1, 0),
    46: ("ListPartitionReassignments", 0, 0, 0), 47: ("OffsetDelete", 0, 0, 99),
    48: ("DescribeClientQuotas", 0, 1, 1), 49: ("AlterClientQuotas", 0, 1, 1),
    50: ("DescribeUserScramCredentials", 0, 0, 0), 51: ("AlterUserScramCredentials", 0, 0, 0),
    52: ("Vote", 0, 2, 0), 53: ("BeginQuorumEpoch", 0, 1, 1), 54: ("EndQuorumEpoch", 0, 1, 1),
    55: ("DescribeQuorum", 0, 2, 0), 56: ("AlterPartition", 2, 3, 0),
    57: ("UpdateFeatures", 0, 2, 0), 58: ("Envelope", 0, 0, 0), 59: ("FetchSnapshot", 0, 1, 0),
    60: ("DescribeCluster", 0, 2, 0), 61: ("DescribeProducers", 0, 0, 0),
    62: ("BrokerRegistration", 0, 4, 0), 63: ("BrokerHeartbeat", 0, 2, 0),
    64: ("UnregisterBroker", 0, 0, 0), 65: ("DescribeTransactions", 0, 0, 0),
    66: ("ListTransactions", 0, 2, 0), 67: ("AllocateProducerIds", 0, 0, 0),
    68: ("ConsumerGroupHeartbeat", 0, 1, 0), 69: ("ConsumerGroupDescribe", 0, 1, 0),
    70: ("ControllerRegistration", 0, 0, 0), 71: ("GetTelemetrySubscriptions", 0, 0, 0),
    72: ("PushTelemetry", 0, 0, 0), 73: ("AssignReplicasToDirs", 0, 0, 0),
    74: ("ListConfigResources", 0, 1, 0), 75: ("DescribeTopicPartitions", 0, 0, 0),
    76: ("ShareGroupHeartbeat", 1, 1, 0), 77: ("ShareGroupDescribe", 1, 1, 0),
    78: ("ShareFetch", 1, 2, 0), 79: ("ShareAcknowledge", 1, 2, 0),
    80: ("AddRaftVoter", 0, 1, 0), 81: ("RemoveRaftVoter", 0, 0, 0),
    82: ("UpdateRaftVoter", 0, 0, 0), 83: ("InitializeShareGroupState", 0, 0, 0),
    84: ("ReadShareGroupState", 0, 0, 0), 85: ("WriteShareGroupState", 0, 1, 0),
    86: ("DeleteShareGroupState", 0, 0, 0), 87: ("ReadShareGroupStateSummary", 0, 1, 0),
    88: ("StreamsGroupHeartbeat", 0, 1, 0), 89: ("StreamsGroupDescribe", 0, 1, 0),
    90: ("DescribeShareGroupOffsets", 0, 1, 0), 91: ("AlterShareGroupOffsets", 0, 0, 0),
    92: ("DeleteShareGroupOffsets", 0, 0, 0),
    93: ("StreamsGroupTopologyDescriptionUpdate", 0, 0, 0),
    94: ("UnregisterController", 0, 0, 0),
}
API_NAMES: dict[int, str] = {key: entry[0] for key, entry in API_VERSIONS.items()}
API_KEYS: dict[str, int] = {name: key for key, name in API_NAMES.items()}
API_VERSIONS_KEY = 18
NO_FLEXIBLE = 99


def api_name(key: int) -> str:
    return API_NAMES.get(key, f"Unknown({key})")


def is_flexible(key: int, version: int) -> bool:
    entry = API_VERSIONS.get(key)
    return entry is not None and version >= entry[3]


# --- reading primitives --------------------------------------------------------------------


class DecodeError(ValueError):
    """What could not be read, at which byte of the body, inside which fields."""

    def __init__(self, what: str, pos: int) -> None:
        super().__init__(what)
        self.what = what
        self.pos = pos
        self.path: list[str] = []

    def __str__(self) -> str:
        where = ".".join(self.path)
        return f"{self.what} at byte {self.pos}" + (f" (in {where})" if where else "")


_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_U16 = struct.Struct(">H")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_F64 = struct.Struct(">d")


class Reader:
    """A cursor over a body. Every read checks the bounds: a truncated or garbled frame
    becomes a ``DecodeError``, never a read past its end."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes | bytearray | memoryview, pos: int = 0) -> None:
        self.buf = memoryview(buf)
        self.pos = pos
        self.end = len(self.buf)

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _fixed(self, shape: struct.Struct) -> Any:
        pos = self.pos
        if pos + shape.size > self.end:
            raise DecodeError(f"{shape.size} bytes wanted, {self.end - pos} left", pos)
        self.pos = pos + shape.size
        return shape.unpack_from(self.buf, pos)[0]

    def int8(self) -> int:
        return int(self._fixed(_I8))

    def int16(self) -> int:
        return int(self._fixed(_I16))

    def uint16(self) -> int:
        return int(self._fixed(_U16))

    def int32(self) -> int:
        return int(self._fixed(_I32))

    def int64(self) -> int:
        return int(self._fixed(_I64))

    def float64(self) -> float:
        return float(self._fixed(_F64))

    def boolean(self) -> bool:
        return self.int8() != 0

    def uvarint(self) -> int:
        """An unsigned varint of at most 32 bits (5 bytes), as Kafka writes lengths."""
        value = shift = 0
        pos = self.pos
        for _ in range(5):
            if pos >= self.end:
                raise DecodeError("varint runs past the end", pos)
            byte = self.buf[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                self.pos = pos
                return value
            shift += 7
        raise DecodeError("varint longer than 5 bytes", self.pos)

    def take(self, size: int) -> memoryview:
        pos = self.pos
        if size < 0 or pos + size > self.end:
            raise DecodeError(f"{size} bytes wanted, {self.end - pos} left", pos)
        self.pos = pos + size
        return self.buf[pos:pos + size]

    def uuid(self) -> str:
        return base64.urlsafe_b64encode(bytes(self.take(16))).decode().rstrip("=")

    def length(self, flexible: bool) -> int:
        """A string's, bytes' or array's length; -1 for null."""
        if flexible:
            return self.uvarint() - 1
        return self.int32()

    def string(self, flexible: bool) -> str | None:
        size = self.uvarint() - 1 if flexible else self.int16()
        if size < 0:
            return None
        pos = self.pos
        try:
            return str(self.take(size), "utf-8")
        except UnicodeDecodeError as error:
            raise DecodeError("a string that is not UTF-8", pos) from error

    def bytes_(self, flexible: bool) -> memoryview | None:
        size = self.length(flexible)
        return None if size < 0 else self.take(size)

    def skip_tagged_fields(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()  # the tag: none of the fields we read is tagged
            self.take(self.uvarint())


# --- message descriptions ------------------------------------------------------------------

INT8, INT16, UINT16, INT32, INT64 = "int8", "int16", "uint16", "int32", "int64"
FLOAT64, BOOL, STRING, BYTES, UUID = "float64", "bool", "string", "bytes", "uuid"
# Records: each batch's header (see ``records``); brief for fetches, which can carry many.
RECORDS, RECORDS_BRIEF = "records", "records_brief"
OPEN = 1 << 15  # "N+": every version from N on

Fields = tuple["Field", ...]
Then = Callable[[memoryview, "_Context"], Any]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: str | Fields  # a primitive's name, or the fields of a struct
    low: int
    high: int
    many: bool  # an array of ``kind``
    nullable: bool  # a struct that is not an array: null is written as a -1 marker
    resolve: str | None  # a topic id's field: the key its topic's name goes under
    then: Then | None  # what bytes mean (a consumer protocol's metadata, an assignment)


def _range(versions: str) -> tuple[int, int]:
    if versions.endswith("+"):
        return int(versions[:-1]), OPEN
    low, _, high = versions.partition("-")
    return int(low), int(high or low)


def one(name: str, kind: str | Fields, versions: str = "0+", *, nullable: bool = False,
        resolve: str | None = None, then: Then | None = None) -> Field:
    low, high = _range(versions)
    return Field(name, kind, low, high, False, nullable, resolve, then)


def many(name: str, kind: str | Fields, versions: str = "0+") -> Field:
    low, high = _range(versions)
    return Field(name, kind, low, high, True, False, None, None)


@dataclass(frozen=True)
class Message:
    """A body's fields; ``complete`` when every field of it is listed, so that its tagged
    section (flexible versions) is read and leftover bytes mean a mistake. A message
    listed only as far as its first fields (``complete=False``) is read that far."""

    fields: Fields
    complete: bool = True


@dataclass
class _Context:
    topic_names: Mapping[str, str]
    protocol_type: str | None = None
    problems: list[str] = field(default_factory=list)


# --- the consumer protocol: what a classic group's members and leader exchange ------------


def _topic_partitions(reader: Reader) -> dict[str, list[int]]:
    assigned: dict[str, list[int]] = {}
    for _ in range(_count(reader, reader.int32())):
        topic = reader.string(False) or ""
        assigned[topic] = [reader.int32() for _ in range(_count(reader, reader.int32()))]
    return assigned


def consumer_assignment(data: memoryview | bytes) -> dict[str, Any] | None:
    """ConsumerProtocolAssignment (versions 0-3 share one layout): version, topic →
    partitions, and the size of the assignor's user data. Empty bytes: no assignment
    (what a follower's SyncGroup carries, or an error's answer)."""
    if len(data) == 0:
        return None
    reader = Reader(data)
    version = reader.int16()
    assigned = _topic_partitions(reader)
    user_data = reader.bytes_(False) if reader.remaining >= 4 else None
    return {"version": version, "assigned_partitions": assigned,
            "user_data_size": None if user_data is None else len(user_data)}


def consumer_subscription(data: memoryview | bytes) -> dict[str, Any]:
    """ConsumerProtocolSubscription: the topics a member subscribes to, and from version 1
    the partitions it owns (what the cooperative assignors keep), from 2 its generation,
    from 3 its rack. Later versions may add fields at the end: they are not read."""
    reader = Reader(data)
    version = reader.int16()
    topics = [reader.string(False) for _ in range(_count(reader, reader.int32()))]
    user_data = reader.bytes_(False)
    found: dict[str, Any] = {"version": version, "topics": topics,
                             "user_data_size": None if user_data is None else len(user_data)}
    if version >= 1:
        found["owned_partitions"] = _topic_partitions(reader)
    if version >= 2:
        found["generation_id"] = reader.int32()
    if version >= 3:
        found["rack_id"] = reader.string(False)
    return found


def _consumer_protocol(decode: Callable[[memoryview], Any]) -> Then:
    """Bytes that a group of the ``consumer`` protocol type fills with the consumer
    protocol; other group types (Connect's) keep their own format: only its size is
    kept. Before SyncGroup v5 the type is not on the wire: the consumer's is tried."""

    def then(data: memoryview, context: _Context) -> Any:
        if context.protocol_type not in (None, "consumer"):
            return {"size": len(data)}
        try:
            return decode(data)
        except DecodeError as error:
            if context.protocol_type == "consumer":
                context.problems.append(f"consumer protocol bytes: {error}")
            return {"size": len(data)}

    return then


ASSIGNMENT = _consumer_protocol(consumer_assignment)
SUBSCRIPTION = _consumer_protocol(consumer_subscription)


# --- the messages decoded ------------------------------------------------------------------

_TOPIC = (one("name", STRING), many("partitions", INT32))
_PARTITION_ERROR = (one("partition_index", INT32), one("error_code", INT16))

REQUESTS: dict[int, Message] = {
    0: Message((  # Produce
        one("transactional_id", STRING, "3+"),
        one("acks", INT16),
        one("timeout_ms", INT32),
        many("topic_data", (
            one("name", STRING, "0-12"),
            one("topic_id", UUID, "13+", resolve="name"),
            many("partition_data", (one("index", INT32), one("records", RECORDS))),
        )),
    )),
    1: Message((  # Fetch
        one("replica_id", INT32, "0-14"),
        one("max_wait_ms", INT32),
        one("min_bytes", INT32),
        one("max_bytes", INT32, "3+"),
        one("isolation_level", INT8, "4+"),
        one("session_id", INT32, "7+"),
        one("session_epoch", INT32, "7+"),
        many("topics", (
            one("topic", STRING, "0-12"),
            one("topic_id", UUID, "13+", resolve="topic"),
            many("partitions", (
                one("partition", INT32),
                one("current_leader_epoch", INT32, "9+"),
                one("fetch_offset", INT64),
                one("last_fetched_epoch", INT32, "12+"),
                one("log_start_offset", INT64, "5+"),
                one("partition_max_bytes", INT32),
            )),
        )),
        many("forgotten_topics_data", (
            one("topic", STRING, "7-12"),
            one("topic_id", UUID, "13+", resolve="topic"),
            many("partitions", INT32),
        ), "7+"),
        one("rack_id", STRING, "11+"),
    )),
    2: Message((  # ListOffsets
        one("replica_id", INT32),
        one("isolation_level", INT8, "2+"),
        many("topics", (
            one("name", STRING),
            many("partitions", (
                one("partition_index", INT32),
                one("current_leader_epoch", INT32, "4+"),
                one("timestamp", INT64),
            )),
        )),
        one("timeout_ms", INT32, "10+"),
    )),
    3: Message((  # Metadata
        many("topics", (one("topic_id", UUID, "10+"), one("name", STRING))),
        one("allow_auto_topic_creation", BOOL, "4+"),
        one("include_cluster_authorized_operations", BOOL, "8-10"),
        one("include_topic_authorized_operations", BOOL, "8+"),
    )),
    8: Message((  # OffsetCommit
        one("group_id", STRING),
        one("generation_id_or_member_epoch", INT32, "1+"),
        one("member_id", STRING, "1+"),
        one("group_instance_id", STRING, "7+"),
        one("retention_time_ms", INT64, "2-4"),
        many("topics", (
            one("name", STRING, "0-9"),
            one("topic_id", UUID, "10+", resolve="name"),
            many("partitions", (
                one("partition_index", INT32),
                one("committed_offset", INT64),
                one("committed_leader_epoch", INT32, "6+"),
                one("committed_metadata", STRING),
            )),
        )),
    )),
    9: Message((  # OffsetFetch
        one("group_id", STRING, "0-7"),
        many("topics", (one("name", STRING), many("partition_indexes", INT32)), "0-7"),
        many("groups", (
            one("group_id", STRING),
            one("member_id", STRING, "9+"),
            one("member_epoch", INT32, "9+"),
            many("topics", (
                one("name", STRING, "8-9"),
                one("topic_id", UUID, "10+", resolve="name"),
                many("partition_indexes", INT32),
            )),
        ), "8+"),
        one("require_stable", BOOL, "7+"),
    )),
    10: Message((  # FindCoordinator
        one("key", STRING, "0-3"),
        one("key_type", INT8, "1+"),
        many("coordinator_keys", STRING, "4+"),
    )),
    11: Message((  # JoinGroup
        one("group_id", STRING),
        one("session_timeout_ms", INT32),
        one("rebalance_timeout_ms", INT32, "1+"),
        one("member_id", STRING),
        one("group_instance_id", STRING, "5+"),
        one("protocol_type", STRING),
        many("protocols", (one("name", STRING), one("metadata", BYTES, then=SUBSCRIPTION))),
        one("reason", STRING, "8+"),
    )),
    12: Message((  # Heartbeat
        one("group_id", STRING),
        one("generation_id", INT32),
        one("member_id", STRING),
        one("group_instance_id", STRING, "3+"),
    )),
    13: Message((  # LeaveGroup
        one("group_id", STRING),
        one("member_id", STRING, "0-2"),
        many("members", (
            one("member_id", STRING),
            one("group_instance_id", STRING),
            one("reason", STRING, "5+"),
        ), "3+"),
    )),
    14: Message((  # SyncGroup
        one("group_id", STRING),
        one("generation_id", INT32),
        one("member_id", STRING),
        one("group_instance_id", STRING, "3+"),
        one("protocol_type", STRING, "5+"),
        one("protocol_name", STRING, "5+"),
        many("assignments", (
            one("member_id", STRING),
            one("assignment", BYTES, then=ASSIGNMENT),
        )),
    )),
    15: Message((  # DescribeGroups
        many("groups", STRING),
        one("include_authorized_operations", BOOL, "3+"),
    )),
    16: Message((  # ListGroups
        many("states_filter", STRING, "4+"),
        many("types_filter", STRING, "5+"),
    )),
    18: Message((  # ApiVersions
        one("client_software_name", STRING, "3+"),
        one("client_software_version", STRING, "3+"),
        one("cluster_id", STRING, "5+"),
        one("node_id", INT32, "5+"),
    )),
    19: Message((  # CreateTopics
        many("topics", (
            one("name", STRING),
            one("num_partitions", INT32),
            one("replication_factor", INT16),
            many("assignments", (one("partition_index", INT32), many("broker_ids", INT32))),
            many("configs", (one("name", STRING), one("value", STRING))),
        )),
        one("timeout_ms", INT32),
        one("validate_only", BOOL, "1+"),
    )),
    20: Message((  # DeleteTopics
        many("topics", (one("name", STRING), one("topic_id", UUID, resolve="name")), "6+"),
        many("topic_names", STRING, "0-5"),
        one("timeout_ms", INT32),
    )),
    22: Message((  # InitProducerId
        one("transactional_id", STRING),
        one("transaction_timeout_ms", INT32),
        one("producer_id", INT64, "3+"),
        one("producer_epoch", INT16, "3+"),
        one("enable2_pc", BOOL, "6+"),
        one("keep_prepared_txn", BOOL, "6+"),
    )),
    24: Message((  # AddPartitionsToTxn: v4+ is the brokers' batched form
        many("transactions", (
            one("transactional_id", STRING),
            one("producer_id", INT64),
            one("producer_epoch", INT16),
            one("verify_only", BOOL),
            many("topics", _TOPIC),
        ), "4+"),
        one("v3_and_below_transactional_id", STRING, "0-3"),
        one("v3_and_below_producer_id", INT64, "0-3"),
        one("v3_and_below_producer_epoch", INT16, "0-3"),
        many("v3_and_below_topics", _TOPIC, "0-3"),
    )),
    25: Message((  # AddOffsetsToTxn
        one("transactional_id", STRING),
        one("producer_id", INT64),
        one("producer_epoch", INT16),
        one("group_id", STRING),
    )),
    26: Message((  # EndTxn
        one("transactional_id", STRING),
        one("producer_id", INT64),
        one("producer_epoch", INT16),
        one("committed", BOOL),
    )),
    28: Message((  # TxnOffsetCommit
        one("transactional_id", STRING),
        one("group_id", STRING),
        one("producer_id", INT64),
        one("producer_epoch", INT16),
        one("generation_id_or_member_epoch", INT32, "3+"),
        one("member_id", STRING, "3+"),
        one("group_instance_id", STRING, "3+"),
        many("topics", (
            one("name", STRING, "0-5"),
            one("topic_id", UUID, "6+", resolve="name"),
            many("partitions", (
                one("partition_index", INT32),
                one("committed_offset", INT64),
                one("committed_leader_epoch", INT32, "2+"),
                one("committed_metadata", STRING),
            )),
        )),
    )),
    32: Message((  # DescribeConfigs
        many("resources", (
            one("resource_type", INT8),
            one("resource_name", STRING),
            many("configuration_keys", STRING),
        )),
        one("include_synonyms", BOOL, "1+"),
        one("include_documentation", BOOL, "3+"),
    )),
    33: Message((  # AlterConfigs
        many("resources", (
            one("resource_type", INT8),
            one("resource_name", STRING),
            many("configs", (one("name", STRING), one("value", STRING))),
        )),
        one("validate_only", BOOL),
    )),
    42: Message((many("groups_names", STRING),)),  # DeleteGroups
    44: Message((  # IncrementalAlterConfigs
        many("resources", (
            one("resource_type", INT8),
            one("resource_name", STRING),
            many("configs", (
                one("name", STRING),
                one("config_operation", INT8),
                one("value", STRING),
            )),
        )),
        one("validate_only", BOOL),
    )),
    68: Message((  # ConsumerGroupHeartbeat (KIP-848)
        one("group_id", STRING),
        one("member_id", STRING),
        one("member_epoch", INT32),
        one("instance_id", STRING),
        one("rack_id", STRING),
        one("rebalance_timeout_ms", INT32),
        many("subscribed_topic_names", STRING),
        one("subscribed_topic_regex", STRING, "1+"),
        one("server_assignor", STRING),
        many("topic_partitions", (
            one("topic_id", UUID, resolve="name"),
            many("partitions", INT32),
        )),
    )),
}

_TXN_TOPIC_RESULT = (
    one("name", STRING),
    many("results_by_partition", (
        one("partition_index", INT32),
        one("partition_error_code", INT16),
    )),
)
_OFFSET_FETCH_PARTITION = (
    one("partition_index", INT32),
    one("committed_offset", INT64),
)

RESPONSES: dict[int, Message] = {
    0: Message((  # Produce
        many("responses", (
            one("name", STRING, "0-12"),
            one("topic_id", UUID, "13+", resolve="name"),
            many("partition_responses", (
                one("index", INT32),
                one("error_code", INT16),
                one("base_offset", INT64),
                one("log_append_time_ms", INT64, "2+"),
                one("log_start_offset", INT64, "5+"),
                many("record_errors", (
                    one("batch_index", INT32),
                    one("batch_index_error_message", STRING),
                ), "8+"),
                one("error_message", STRING, "8+"),
            )),
        )),
        one("throttle_time_ms", INT32, "1+"),
    )),
    1: Message((  # Fetch
        one("throttle_time_ms", INT32, "1+"),
        one("error_code", INT16, "7+"),
        one("session_id", INT32, "7+"),
        many("responses", (
            one("topic", STRING, "0-12"),
            one("topic_id", UUID, "13+", resolve="topic"),
            many("partitions", (
                one("partition_index", INT32),
                one("error_code", INT16),
                one("high_watermark", INT64),
                one("last_stable_offset", INT64, "4+"),
                one("log_start_offset", INT64, "5+"),
                many("aborted_transactions", (
                    one("producer_id", INT64),
                    one("first_offset", INT64),
                ), "4+"),
                one("preferred_read_replica", INT32, "11+"),
                one("records", RECORDS_BRIEF),
            )),
        )),
    )),
    2: Message((  # ListOffsets
        one("throttle_time_ms", INT32, "2+"),
        many("topics", (
            one("name", STRING),
            many("partitions", (
                one("partition_index", INT32),
                one("error_code", INT16),
                one("timestamp", INT64, "1+"),
                one("offset", INT64, "1+"),
                one("leader_epoch", INT32, "4+"),
            )),
        )),
    )),
    3: Message((  # Metadata: where the brokers are (the proxy, through it) and topic ids
        one("throttle_time_ms", INT32, "3+"),
        many("brokers", (
            one("node_id", INT32),
            one("host", STRING),
            one("port", INT32),
            one("rack", STRING, "1+"),
        )),
        one("cluster_id", STRING, "2+"),
        one("controller_id", INT32, "1+"),
        many("topics", (
            one("error_code", INT16),
            one("name", STRING),
            one("topic_id", UUID, "10+"),
            one("is_internal", BOOL, "1+"),
            many("partitions", (
                one("error_code", INT16),
                one("partition_index", INT32),
                one("leader_id", INT32),
                one("leader_epoch", INT32, "7+"),
                many("replica_nodes", INT32),
                many("isr_nodes", INT32),
                many("offline_replicas", INT32, "5+"),
            )),
            one("topic_authorized_operations", INT32, "8+"),
        )),
        one("cluster_authorized_operations", INT32, "8-10"),
        one("error_code", INT16, "13+"),
    )),
    8: Message((  # OffsetCommit
        one("throttle_time_ms", INT32, "3+"),
        many("topics", (
            one("name", STRING, "0-9"),
            one("topic_id", UUID, "10+", resolve="name"),
            many("partitions", _PARTITION_ERROR),
        )),
    )),
    9: Message((  # OffsetFetch
        one("throttle_time_ms", INT32, "3+"),
        many("topics", (
            one("name", STRING),
            many("partitions", (
                *_OFFSET_FETCH_PARTITION,
                one("committed_leader_epoch", INT32, "5-7"),
                one("metadata", STRING),
                one("error_code", INT16),
            )),
        ), "0-7"),
        one("error_code", INT16, "2-7"),
        many("groups", (
            one("group_id", STRING),
            many("topics", (
                one("name", STRING, "8-9"),
                one("topic_id", UUID, "10+", resolve="name"),
                many("partitions", (
                    *_OFFSET_FETCH_PARTITION,
                    one("committed_leader_epoch", INT32),
                    one("metadata", STRING),
                    one("error_code", INT16),
                )),
            )),
            one("error_code", INT16),
        ), "8+"),
    )),
    10: Message((  # FindCoordinator
        one("throttle_time_ms", INT32, "1+"),
        one("error_code", INT16, "0-3"),
        one("error_message", STRING, "1-3"),
        one("node_id", INT32, "0-3"),
        one("host", STRING, "0-3"),
        one("port", INT32, "0-3"),
        many("coordinators", (
            one("key", STRING),
            one("node_id", INT32),
            one("host", STRING),
            one("port", INT32),
            one("error_code", INT16),
            one("error_message", STRING),
        ), "4+"),
    )),
    11: Message((  # JoinGroup
        one("throttle_time_ms", INT32, "2+"),
        one("error_code", INT16),
        one("generation_id", INT32),
        one("protocol_type", STRING, "7+"),
        one("protocol_name", STRING),
        one("leader", STRING),
        one("skip_assignment", BOOL, "9+"),
        one("member_id", STRING),
        many("members", (
            one("member_id", STRING),
            one("group_instance_id", STRING, "5+"),
            one("metadata", BYTES, then=SUBSCRIPTION),
        )),
    )),
    12: Message((  # Heartbeat
        one("throttle_time_ms", INT32, "1+"),
        one("error_code", INT16),
    )),
    13: Message((  # LeaveGroup
        one("throttle_time_ms", INT32, "1+"),
        one("error_code", INT16),
        many("members", (
            one("member_id", STRING),
            one("group_instance_id", STRING),
            one("error_code", INT16),
        ), "3+"),
    )),
    14: Message((  # SyncGroup
        one("throttle_time_ms", INT32, "1+"),
        one("error_code", INT16),
        one("protocol_type", STRING, "5+"),
        one("protocol_name", STRING, "5+"),
        one("assignment", BYTES, then=ASSIGNMENT),
    )),
    # ApiVersions: the error alone. An unsupported version is answered in v0's layout,
    # which the first field shares with every other.
    18: Message((one("error_code", INT16),), complete=False),
    19: Message((  # CreateTopics
        one("throttle_time_ms", INT32, "2+"),
        many("topics", (
            one("name", STRING),
            one("topic_id", UUID, "7+"),
            one("error_code", INT16),
            one("error_message", STRING, "1+"),
            one("num_partitions", INT32, "5+"),
            one("replication_factor", INT16, "5+"),
            many("configs", (
                one("name", STRING),
                one("value", STRING),
                one("read_only", BOOL),
                one("config_source", INT8),
                one("is_sensitive", BOOL),
            ), "5+"),
        )),
    )),
    22: Message((  # InitProducerId
        one("throttle_time_ms", INT32),
        one("error_code", INT16),
        one("producer_id", INT64),
        one("producer_epoch", INT16),
        one("ongoing_txn_producer_id", INT64, "6+"),
        one("ongoing_txn_producer_epoch", INT16, "6+"),
    )),
    24: Message((  # AddPartitionsToTxn
        one("throttle_time_ms", INT32),
        one("error_code", INT16, "4+"),
        many("results_by_transaction", (
            one("transactional_id", STRING),
            many("topic_results", _TXN_TOPIC_RESULT),
        ), "4+"),
        many("results_by_topic_v3_and_below", _TXN_TOPIC_RESULT, "0-3"),
    )),
    25: Message((one("throttle_time_ms", INT32), one("error_code", INT16))),  # AddOffsetsToTxn
    26: Message((  # EndTxn
        one("throttle_time_ms", INT32),
        one("error_code", INT16),
        one("producer_id", INT64, "5+"),
        one("producer_epoch", INT16, "5+"),
    )),
    28: Message((  # TxnOffsetCommit
        one("throttle_time_ms", INT32),
        many("topics", (
            one("name", STRING, "0-5"),
            one("topic_id", UUID, "6+", resolve="name"),
            many("partitions", _PARTITION_ERROR),
        )),
    )),
    68: Message((  # ConsumerGroupHeartbeat
        one("throttle_time_ms", INT32),
        one("error_code", INT16),
        one("error_message", STRING),
        one("member_id", STRING),
        one("member_epoch", INT32),
        one("heartbeat_interval_ms", INT32),
        one("assignment", (
            many("topic_partitions", (
                one("topic_id", UUID, resolve="name"),
                many("partitions", INT32),
            )),
        ), nullable=True),
    )),
}


# --- the interpreter ---------------------------------------------------------------------


def _count(reader: Reader, count: int) -> int:
    """An array's length, checked against what is left: every element takes a byte or
    more, so a garbled length fails here rather than after a long loop."""
    if count > reader.remaining:
        raise DecodeError(f"an array of {count} in {reader.remaining} bytes", reader.pos)
    return count


def _primitive(reader: Reader, kind: str, flexible: bool) -> Any:
    if kind == STRING:
        return reader.string(flexible)
    if kind == INT32:
        return reader.int32()
    if kind == INT16:
        return reader.int16()
    if kind == INT64:
        return reader.int64()
    if kind in (RECORDS, RECORDS_BRIEF):
        return reader.bytes_(flexible)
    if kind == BYTES:
        return reader.bytes_(flexible)
    if kind == BOOL:
        return reader.boolean()
    if kind == INT8:
        return reader.int8()
    if kind == UUID:
        return reader.uuid()
    if kind == UINT16:
        return reader.uint16()
    if kind == FLOAT64:
        return reader.float64()
    raise AssertionError(f"no such type: {kind}")


def _value(reader: Reader, spec: Field, version: int, flexible: bool,
           context: _Context) -> Any:
    kind = spec.kind
    if isinstance(kind, tuple):
        if spec.nullable and not spec.many and reader.int8() < 0:
            return None
        return _struct(reader, kind, version, flexible, context, {}, True)
    value = _primitive(reader, kind, flexible)
    if isinstance(value, memoryview):
        if kind in (RECORDS, RECORDS_BRIEF):
            return value  # read by ``_struct``, which keeps the blob's size beside it
        value = bytes(value) if spec.then is None else spec.then(value, context)
    return value


def _struct(reader: Reader, fields: Fields, version: int, flexible: bool, context: _Context,
            out: dict[str, Any], complete: bool) -> dict[str, Any]:
    """Read ``fields`` into ``out`` (filled as it goes, so that a failure keeps what came
    before it)."""
    for spec in fields:
        if not spec.low <= version <= spec.high:
            continue
        try:
            if spec.many:
                count = reader.length(flexible)
                value: Any = None if count < 0 else [
                    _value(reader, spec, version, flexible, context)
                    for _ in range(_count(reader, count))]
            else:
                value = _value(reader, spec, version, flexible, context)
        except DecodeError as error:
            error.path.insert(0, spec.name)
            raise
        if isinstance(value, memoryview):
            # The size tells what a fetch's trailing partial batch took, which no batch
            # header counts.
            out[f"{spec.name}_size"] = len(value)
            value = records.batches(value, brief=spec.kind == RECORDS_BRIEF)
        out[spec.name] = value
        if spec.name == "protocol_type":
            context.protocol_type = value
        if spec.resolve is not None and spec.resolve not in out:
            out[spec.resolve] = context.topic_names.get(value) if value else None
    if complete and flexible:
        reader.skip_tagged_fields()
    return out


def _body(reader: Reader, message: Message, version: int, flexible: bool,
          topic_names: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    context = _Context(topic_names)
    out: dict[str, Any] = {}
    try:
        _struct(reader, message.fields, version, flexible, context, out, message.complete)
    except (DecodeError, ValueError, OverflowError) as error:
        return out, str(error)
    if message.complete and reader.remaining:
        context.problems.append(f"{reader.remaining} bytes left over after the last field")
    return out, "; ".join(context.problems) or None


# --- frames --------------------------------------------------------------------------------


@dataclass
class DecodedRequest:
    api_key: int
    version: int
    correlation_id: int
    client_id: str | None
    api: str
    body: dict[str, Any]
    error: str | None = None


@dataclass
class DecodedResponse:
    correlation_id: int
    body: dict[str, Any]
    error: str | None = None


_HEADER = struct.Struct(">hhi")
_EMPTY: Mapping[str, str] = {}


def peek_api_key(frame: bytes | bytearray | memoryview) -> int | None:
    """A request's API key, from its first two bytes (None for a frame shorter)."""
    return int(_I16.unpack_from(frame, 0)[0]) if len(frame) >= 2 else None


def _version_problem(api_key: int, version: int) -> str | None:
    entry = API_VERSIONS.get(api_key)
    if entry is None:
        return f"unknown API key {api_key}"
    name, low, high, _ = entry
    if high < 0:
        return f"{name} is gone from Kafka 4"
    if not low <= version <= high:
        return f"{name} v{version} is outside the versions Kafka 4.4 knows ({low}-{high})"
    return None


def decode_request(frame: bytes | bytearray | memoryview,
                   topic_names: Mapping[str, str] = _EMPTY) -> DecodedRequest:
    """A request frame's body (without its length): header, and the body's fields for the
    APIs decoded here; ``error`` says what could not be read."""
    if len(frame) < _HEADER.size:
        return DecodedRequest(-1, -1, -1, None, "?", {},
                              f"a request of {len(frame)} bytes: too short for a header")
    api_key, version, correlation_id = _HEADER.unpack_from(frame, 0)
    decoded = DecodedRequest(api_key, version, correlation_id, None, api_name(api_key), {})
    reader = Reader(frame, _HEADER.size)
    try:
        # Header v1 and v2 both carry the client id as a classic (non-compact) string.
        decoded.client_id = reader.string(False)
    except DecodeError as error:
        decoded.error = f"request header: {error}"
        return decoded
    problem = _version_problem(api_key, version)
    if problem is not None:
        decoded.error = problem
        return decoded
    flexible = is_flexible(api_key, version)
    try:
        if flexible:
            reader.skip_tagged_fields()
    except DecodeError as error:
        decoded.error = f"request header: {error}"
        return decoded
    message = REQUESTS.get(api_key)
    if message is not None:
        decoded.body, decoded.error = _body(reader, message, version, flexible, topic_names)
    return decoded


def response_correlation_id(frame: bytes | bytearray | memoryview) -> int | None:
    return int(_I32.unpack_from(frame, 0)[0]) if len(frame) >= 4 else None


def decode_response(api_key: int, version: int, frame: bytes | bytearray | memoryview,
                    topic_names: Mapping[str, str] = _EMPTY) -> DecodedResponse:
    """A response frame's body (without its length) to a request of ``api_key`` at
    ``version``: a response does not say which API it answers, its request does."""
    if len(frame) < 4:
        return DecodedResponse(-1, {}, f"a response of {len(frame)} bytes: too short")
    decoded = DecodedResponse(int(_I32.unpack_from(frame, 0)[0]), {})
    message = RESPONSES.get(api_key)
    if message is None or _version_problem(api_key, version) is not None:
        return decoded  # the request's record says why it was not decoded
    flexible = is_flexible(api_key, version)
    reader = Reader(frame, 4)
    if flexible and api_key != API_VERSIONS_KEY:
        try:
            reader.skip_tagged_fields()
        except DecodeError as error:
            decoded.error = f"response header: {error}"
            return decoded
    decoded.body, decoded.error = _body(reader, message, version, flexible, topic_names)
    return decoded
