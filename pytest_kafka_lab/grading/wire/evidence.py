"""What one run's wire says, in the terms checks use: the Produce requests a client sent
(acks, codec, producer id, records per batch), the records the broker acknowledged, the
offsets Fetch responses handed over, the commits the broker accepted, the assignors a
member offered. Read from the exchanges the grader's proxy recorded for that run alone
(``Run.wire``), which the run could not write.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pytest_kafka_lab.grading.wire.proxy import Exchange

ACKS_NAMES = {0: "0", 1: "1", -1: "all"}
# ListOffsets' timestamps that ask for an end of a partition rather than a time.
LATEST_OFFSET, EARLIEST_OFFSET = -1, -2


@dataclass(frozen=True)
class SentBatch:
    """One record batch of a Produce request, as the client sent it."""

    client_id: str | None
    connection: int
    acks: int
    topic: str
    partition: int
    compression: str
    producer_id: int
    base_sequence: int
    records: int
    size: int
    transactional_id: str | None
    sent: float
    acknowledged: bool  # the broker answered without error (acks=0: never answered)


def exchanges(wire: Iterable[Exchange], api: str) -> Iterator[Exchange]:
    return (exchange for exchange in wire if exchange.api == api and not exchange.refused)


def partition_errors(exchange: Exchange) -> dict[tuple[str, int], int]:
    """``{(topic, partition): error code}`` of a Produce response."""
    errors: dict[tuple[str, int], int] = {}
    for topic in (exchange.response or {}).get("responses") or []:
        for partition in topic.get("partition_responses") or []:
            errors[(str(topic.get("name")), int(partition.get("index", -1)))] = int(
                partition.get("error_code", -1))
    return errors


def sent_batches(wire: Iterable[Exchange], topic: str | None = None) -> list[SentBatch]:
    """Every batch of every Produce request (to ``topic``), in the order sent."""
    found = []
    for exchange in exchanges(wire, "Produce"):
        request = exchange.request
        acks = int(request.get("acks", -1))
        errors = partition_errors(exchange)
        for data in request.get("topic_data") or []:
            name = str(data.get("name"))
            if topic is not None and name != topic:
                continue
            for partition in data.get("partition_data") or []:
                index = int(partition.get("index", -1))
                acknowledged = errors.get((name, index)) == 0 or acks == 0
                for batch in partition.get("records") or []:
                    found.append(SentBatch(
                        exchange.client_id, exchange.connection, acks, name, index,
                        str(batch.get("compression", "none")),
                        int(batch.get("producer_id", -1)), int(batch.get("base_sequence", -1)),
                        int(batch.get("record_count", 0)), int(batch.get("size_in_bytes", 0)),
                        request.get("transactional_id"), exchange.sent, acknowledged))
    return found


def acknowledged_records(wire: Iterable[Exchange], topic: str) -> int:
    """Records to ``topic`` the broker acknowledged (or, under acks=0, that were sent).
    A batch sent again after a lost answer counts once: the same producer id and
    sequence (an idempotent producer's retry) is one batch."""
    seen: set[tuple[Any, ...]] = set()
    total = 0
    for batch in sent_batches(wire, topic):
        if not batch.acknowledged:
            continue
        identity = ((batch.producer_id, batch.partition, batch.base_sequence)
                    if batch.producer_id >= 0 else (id(batch),))
        if identity in seen:
            continue
        seen.add(identity)
        total += batch.records
    return total


def fetched_batches(exchange: Exchange, topic: str) -> Iterator[tuple[int, int, int]]:
    """``(partition, first offset, last offset)`` of each batch of records (control
    batches left out) that one Fetch response handed over from ``topic``."""
    for response in (exchange.response or {}).get("responses") or []:
        if str(response.get("topic")) != topic:
            continue
        for partition in response.get("partitions") or []:
            index = int(partition.get("partition_index", -1))
            for batch in partition.get("records") or []:
                if not batch.get("control"):
                    first = int(batch.get("base_offset", 0))
                    yield index, first, first + int(batch.get("last_offset_delta", 0))


def fetched(wire: Iterable[Exchange], topic: str) -> dict[int, set[int]]:
    """``{partition: offsets}`` that Fetch responses handed over from ``topic``."""
    offsets: dict[int, set[int]] = {}
    for exchange in exchanges(wire, "Fetch"):
        for index, first, last in fetched_batches(exchange, topic):
            offsets.setdefault(index, set()).update(range(first, last + 1))
    return offsets


@dataclass(frozen=True)
class WireCommit:
    """An offset commit the broker accepted: ``offsets`` ``{(topic, partition): offset}``."""

    api: str  # OffsetCommit, or TxnOffsetCommit
    client_id: str | None
    group: str
    member: str | None
    offsets: dict[tuple[str, int], int]
    sent: float
    connection: int


def accepted_commits(wire: Iterable[Exchange], group: str | None = None) -> list[WireCommit]:
    found = []
    for exchange in (e for e in wire if e.api in ("OffsetCommit", "TxnOffsetCommit")
                     and not e.refused):
        request = exchange.request
        if group is not None and request.get("group_id") != group:
            continue
        failed = {(str(topic.get("name")), int(partition.get("partition_index", -1)))
                  for topic in (exchange.response or {}).get("topics") or []
                  for partition in topic.get("partitions") or []
                  if partition.get("error_code")}
        offsets = {(str(topic.get("name")), int(partition.get("partition_index", -1))):
                   int(partition.get("committed_offset", -1))
                   for topic in request.get("topics") or []
                   for partition in topic.get("partitions") or []}
        offsets = {key: value for key, value in offsets.items() if key not in failed}
        if exchange.response is not None and offsets:
            found.append(WireCommit(exchange.api, exchange.client_id,
                                    str(request.get("group_id")),
                                    request.get("member_id"), offsets, exchange.sent,
                                    exchange.connection))
    return found


def offered_assignors(wire: Iterable[Exchange], group: str) -> set[str]:
    """The assignors a member of ``group`` offered (JoinGroup), or asked of the broker
    (ConsumerGroupHeartbeat: ``server_assignor``, or ``consumer-protocol`` when unset)."""
    names: set[str] = set()
    for exchange in exchanges(wire, "JoinGroup"):
        if exchange.request.get("group_id") == group:
            names.update(str(protocol.get("name"))
                         for protocol in exchange.request.get("protocols") or [])
    for exchange in exchanges(wire, "ConsumerGroupHeartbeat"):
        if exchange.request.get("group_id") == group:
            names.add(str(exchange.request.get("server_assignor") or "consumer-protocol"))
    return names


@dataclass(frozen=True)
class GroupRequest:
    """A request by which a member joined, or stayed in, its group."""

    api: str  # JoinGroup (the classic protocol), or ConsumerGroupHeartbeat
    group: str
    assignors: tuple[str, ...]  # the JoinGroup's protocols, or the heartbeat's server_assignor


def group_requests(wire: Iterable[Exchange], client_id: str) -> list[GroupRequest]:
    """The JoinGroup and ConsumerGroupHeartbeat requests whose ``client.id`` is
    ``client_id``, in the order sent."""
    found = []
    for exchange in wire:
        if exchange.refused or exchange.client_id != client_id:
            continue
        request = exchange.request
        if exchange.api == "JoinGroup":
            assignors = tuple(str(protocol.get("name")).lower()
                              for protocol in request.get("protocols") or [])
        elif exchange.api == "ConsumerGroupHeartbeat":
            assignors = tuple(filter(None, [request.get("server_assignor")]))
        else:
            continue
        found.append(GroupRequest(exchange.api, str(request.get("group_id")), assignors))
    return found


def asked_offsets(wire: Iterable[Exchange], client_id: str) -> set[int]:
    """The timestamps the client named ``client_id`` asked ListOffsets for: -2 for a
    partition's earliest offset, -1 for its latest, else a time."""
    return {int(partition.get("timestamp", 0))
            for exchange in exchanges(wire, "ListOffsets") if exchange.client_id == client_id
            for topic in exchange.request.get("topics") or []
            for partition in topic.get("partitions") or []}


def left_group(wire: Iterable[Exchange], client_id: str) -> bool:
    """Whether the client named ``client_id`` told its group it was leaving: a LeaveGroup
    (the classic protocol), or a ConsumerGroupHeartbeat with a leaving epoch (-1, or -2
    for a static member)."""
    for exchange in exchanges(wire, "LeaveGroup"):
        if exchange.client_id == client_id:
            return True
    return any(exchange.client_id == client_id
               and int(exchange.request.get("member_epoch", 0)) < 0
               for exchange in exchanges(wire, "ConsumerGroupHeartbeat"))


def produce_settings(batches: Iterable[SentBatch]) -> Counter[tuple[str, str, bool]]:
    """``{(acks, codec, idempotent): batches}``: the settings as sent."""
    return Counter((ACKS_NAMES.get(batch.acks, str(batch.acks)), batch.compression,
                    batch.producer_id >= 0) for batch in batches)
