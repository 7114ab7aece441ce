"""Evidence that disagrees: what a run reported of itself, held against what the
grader saw from outside it.

A run reports its clients' settings, its deliveries, polls and commits, and what its
callbacks printed; it could forge every word of that. The grader's proxy saw what its
clients really sent and were sent (``Run.wire``), and the grader read its output. A report
that the wire or the output contradicts makes the exercise an ``error`` that says what
the run reported and what was seen (``contradictions``): never a pass, and never a point
won by the report.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pytest_kafka_lab.grading.sandbox import OUTPUT_LIMIT, Run
from pytest_kafka_lab.grading.wire.evidence import (
    ACKS_NAMES,
    LATEST_OFFSET,
    accepted_commits,
    acknowledged_records,
    asked_offsets,
    fetched,
    group_requests,
    sent_batches,
)

ACKS = {"all": -1, "-1": -1, "1": 1, "0": 0}
CODECS = {"none", "gzip", "snappy", "lz4", "zstd"}


def contradictions(run: Run) -> list[str]:
    """What the run reported that the wire or its output contradicts (empty where the
    run was not witnessed: no proxy stood before its broker)."""
    if not run.witnessed:
        return []
    return [*producer_settings(run), *consumer_settings(run), *deliveries(run),
            *polls(run), *commits(run), *printed(run)]


def claimed_acks(config: dict[str, Any]) -> int | None:
    value = str(config.get("acks", config.get("request.required.acks", "all"))).lower()
    return ACKS.get(value)


def claimed_codec(config: dict[str, Any]) -> str | None:
    value = str(config.get("compression.type", config.get("compression.codec", "none")))
    return value.lower() if value.lower() in CODECS else None


def truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def producer_settings(run: Run) -> list[str]:
    """Each producer's reported ``acks``, ``compression.type`` and idempotence against
    the requests its name (``client.id``) carried."""
    producers = run.of("client", client="producer")
    names = Counter(event.get("wire_client_id") for event in producers)
    batches = sent_batches(run.wire)
    problems = []
    for event in producers:
        name, config = event.get("wire_client_id"), event.get("config") or {}
        if not name or names[name] > 1:
            continue  # one name for several producers: the wire cannot tell them apart
        sent = [batch for batch in batches if batch.client_id == name]
        if not sent:
            continue
        idempotent = truthy(config.get("enable.idempotence"))
        # An idempotent producer sends acks=all whatever else it was told.
        acks = -1 if idempotent else claimed_acks(config)
        codec = claimed_codec(config)
        seen_acks = {batch.acks for batch in sent}
        if acks is not None and seen_acks != {acks}:
            problems.append(
                f"the run reported a producer configured with acks="
                f"{ACKS_NAMES.get(acks)}, but its Produce requests carried acks="
                f"{', '.join(sorted(ACKS_NAMES.get(a, str(a)) for a in seen_acks))}")
        codecs = {batch.compression for batch in sent} - {"none"}
        if codec is not None and codecs - {codec}:
            problems.append(
                f"the run reported a producer with compression.type={codec}, but its "
                f"batches were sent with {', '.join(sorted(codecs))}")
        if idempotent and any(
                batch.producer_id < 0 for batch in sent):
            problems.append("the run reported an idempotent producer, but its batches "
                            "carried no producer id")
    return problems


def claimed_assignors(config: dict[str, Any]) -> set[str]:
    value = str(config.get("partition.assignment.strategy", "range,roundrobin"))
    return {name.strip().lower() for name in value.split(",") if name.strip()}


def consumer_settings(run: Run) -> list[str]:
    """Each consumer's reported ``group.id``, ``group.protocol`` and assignors against
    the group requests its name (``client.id``) carried: the groups it joined, whether it
    joined the classic way (JoinGroup) or the new (ConsumerGroupHeartbeat), and the
    assignors its JoinGroup offered."""
    clients = run.of("client")
    names = Counter(event.get("wire_client_id") for event in clients)
    problems = []
    for event in run.of("client", client="consumer"):
        name, config = event.get("wire_client_id"), event.get("config") or {}
        if not name or names[name] > 1:
            continue  # one name for several clients: the wire cannot tell them apart
        joined = group_requests(run.wire, name)
        if not joined:
            continue
        group = str(config.get("group.id"))
        groups = {request.group for request in joined}
        if groups - {group}:
            problems.append(f"the run reported a consumer of group.id={group!r}, but its "
                            f"group requests named {', '.join(map(repr, sorted(groups)))}")
        protocol = str(config.get("group.protocol", "classic")).lower()
        apis = {request.api for request in joined}
        expected = "JoinGroup" if protocol == "classic" else "ConsumerGroupHeartbeat"
        if apis - {expected}:
            problems.append(f"the run reported a consumer with group.protocol={protocol}, "
                            f"but it joined its group with {', '.join(sorted(apis))}")
        problems += offset_reset(run, name, config)
        offered = {name for request in joined if request.api == "JoinGroup"
                   for name in request.assignors}
        if offered and protocol == "classic" and offered != claimed_assignors(config):
            problems.append(
                "the run reported a consumer with partition.assignment.strategy="
                f"{','.join(sorted(claimed_assignors(config)))}, but it offered its group "
                f"{','.join(sorted(offered))}")
    return problems


def offset_reset(run: Run, name: str, config: dict[str, Any]) -> list[str]:
    """A consumer reported to start from the earliest offset that asked the broker only
    for the latest (ListOffsets with timestamp -1, never -2). The other way round is no
    contradiction: a consumer may assign its partitions at their beginning itself."""
    reset = str(config.get("auto.offset.reset", "latest")).lower()
    asked = asked_offsets(run.wire, name)
    if reset in ("earliest", "smallest", "beginning") and asked and asked <= {LATEST_OFFSET}:
        return [f"the run reported a consumer with auto.offset.reset={reset}, but it asked "
                "the broker for the latest offsets only"]
    return []


def deliveries(run: Run) -> list[str]:
    """Reported deliveries without an error, per topic, against the records the broker
    acknowledged to this run; and per name on the wire, what the producers of that name
    (one, or several that share a ``client.id`` the submission chose) reported, against
    what requests carrying that name had acknowledged."""
    delivered = [event for event in run.of("delivered") if not event.get("error")]
    reported = Counter(str(event.get("topic")) for event in delivered)
    problems = []
    for topic, count in sorted(reported.items()):
        acknowledged = acknowledged_records(run.wire, topic)
        if count > acknowledged:
            problems.append(f"the run reported {count} messages delivered to '{topic}', "
                            f"but the broker acknowledged {acknowledged} to it")
    names = {(event.get("pid"), event.get("client_id")): event.get("wire_client_id")
             for event in run.of("client", client="producer")}
    by_name = Counter((names.get((event.get("pid"), event.get("client_id"))),
                       str(event.get("topic"))) for event in delivered)
    for (name, topic), count in sorted(by_name.items(), key=str):
        if name is None:
            problems.append(f"the run reported {count} messages delivered to '{topic}' by a "
                            "producer it never reported creating, or that named itself to "
                            "nothing on the wire")
            continue
        acknowledged = acknowledged_records(
            [exchange for exchange in run.wire if exchange.client_id == name], topic)
        if count > acknowledged:
            problems.append(f"the run reported {count} messages delivered to '{topic}' by "
                            f"its producer(s) named {name}, but the broker acknowledged "
                            f"{acknowledged} from requests with that name")
    return problems


def polls(run: Run) -> list[str]:
    """Each record the run reported polling must have come in a Fetch response to it."""
    by_topic: dict[str, list[tuple[int, int]]] = {}
    for event in run.of("polled"):
        if "error" not in event and event.get("topic") is not None:
            by_topic.setdefault(str(event["topic"]), []).append(
                (int(event.get("partition", -1)), int(event.get("offset", -1))))
    problems = []
    for topic, reported in sorted(by_topic.items()):
        handed = fetched(run.wire, topic)
        unseen = [(p, o) for p, o in reported if o not in handed.get(p, set())]
        if unseen:
            partition, offset = unseen[0]
            problems.append(
                f"the run reported polling {len(unseen)} record(s) of '{topic}' that no "
                f"Fetch response handed it (e.g. offset {offset} of partition {partition})")
    return problems


def commits(run: Run) -> list[str]:
    """Synchronous commits the run reported as done, against those the broker accepted;
    and, where none of its consumers commits by itself, commits the broker accepted
    from it that it never reported (``commit()`` calls hidden from the grader)."""
    calls = run.of("commit")
    done = [event for event in calls if not event.get("error")
            and event.get("asynchronous") is False]
    commits = [commit for commit in accepted_commits(run.wire)
               if commit.api == "OffsetCommit"]
    if len(done) > len(commits):
        return [f"the run reported {len(done)} synchronous commit(s), but the broker "
                f"accepted {len(commits)} from it"]
    # Its consumers that commit only when told to, by the name their requests carry.
    manual = {event.get("wire_client_id") for event in run.of("client", client="consumer")
              if not truthy((event.get("config") or {}).get("enable.auto.commit", "true"))}
    by_manual = [commit for commit in commits if commit.client_id in manual]
    if len(by_manual) > len(calls):
        return [f"the broker accepted {len(by_manual)} offset commit(s) from the run's "
                f"consumers, which reported {len(calls)} call(s) of commit()"]
    return []


def printed(run: Run) -> list[str]:
    """What the run said its callbacks printed must be in what it printed."""
    if max(len(run.stdout), len(run.stderr)) >= OUTPUT_LIMIT:
        return []  # the output was cut: what is missing may lie beyond the cut
    output = run.stdout + "\n" + run.stderr
    for event in run.events:
        for line in str(event.get("printed") or "").splitlines():
            if line.strip() and line.strip() not in output:
                return [f"the run reported that a callback printed {line.strip()[:80]!r}, "
                        "which is not in its output"]
    return []


def mark_unfetched_calls(run: Run, function: str, topic: str,
                         positions: dict[str, tuple[int, int]]) -> list[str]:
    """Mark ``unfetched`` each reported call of ``function`` for a record of ``topic``
    (its ident one of ``positions``: ``{ident: (partition, offset)}``) that no Fetch
    response had handed the run: such a call does not count (``consumer_evidence.calls``),
    whatever the run says it returned. The idents so marked, sorted."""
    if not run.witnessed:
        return []
    handed = fetched(run.wire, topic)
    marked = set()
    for event in run.of("call", function=function):
        ident = str(event.get("ident"))
        if ident in positions and positions[ident][1] not in handed.get(
                positions[ident][0], set()):
            event["unfetched"] = True
            marked.add(ident)
    return sorted(marked)
