"""Consumer groups of N members, each in its own process, with their callbacks recorded.

A member can be stopped (it closes and leaves; the group rebalances at once) or killed
(SIGKILL; the broker notices only when its session times out), as in production.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import ConsumerGroupDescription

from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.processes import ReportingProcess
from pytest_kafka_lab.readers import assignment_in, describe_group, topic_partitions
from pytest_kafka_lab.waiting import wait_for

TopicPartitions = frozenset[tuple[str, int]]

# Short enough that a killed member is noticed within seconds, long enough for a loaded
# 2-core machine. The broker allows it: the local backend lowers its minimum.
CLASSIC_DEFAULTS: dict[str, Any] = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def compact(partitions: Iterable[tuple[str, int]]) -> str:
    """``topic[0,1,2]`` for each topic, in order."""
    by_topic: dict[str, list[int]] = {}
    for topic, partition in sorted(partitions):
        by_topic.setdefault(topic, []).append(partition)
    return " ".join(f"{topic}{parts}".replace(" ", "") for topic, parts in by_topic.items()) \
        or "nothing"


# What ``ConsumerGroup`` and ``wait_for_stable`` take, for errors about a wrong guess.
GROUP_ARGUMENTS = ("make(topics, members=N, strategy='cooperative-sticky' (or 'range', "
                   "'roundrobin'), protocol='classic' (or 'consumer'), group_id=None, "
                   "commit_every=0, **librdkafka properties)")
WAIT_ACCEPTS = ("wait_for_stable() takes nothing (every partition of the subscribed topics), "
                "a topic, a list of topics, a number of partitions (of a group subscribed to "
                "one topic), or (topic, partition) pairs; and counts=[...], how many "
                "partitions each live member owns")


class GroupDiedError(AssertionError):
    """Every member of a group ended on its own (a bad setting, say) before it settled."""


class Member(ReportingProcess):
    """One member process; ``events`` are its reports so far (``_member.py`` lists them)."""

    def __init__(self, index: int, spec: dict[str, Any]) -> None:
        super().__init__([sys.executable, "-m", "pytest_kafka_lab._member", json.dumps(spec)],
                         f"group member {index}")
        self.index = index
        self.ended_on_purpose = False

    def stop(self, timeout: float = 30.0) -> None:
        self.ended_on_purpose = True
        super().stop(timeout)

    def kill(self) -> None:
        self.ended_on_purpose = True
        super().kill()

    def last_words(self) -> str:
        """The last line the member wrote to stderr before it ended (librdkafka's error,
        for a member that could not start), or how it ended."""
        lines = [line.strip() for line in self.stderr_tail(4000).splitlines() if line.strip()]
        return lines[-1] if lines else f"no output, exit code {self.process.returncode}"

    @property
    def assignment(self) -> TopicPartitions:
        """What the member owns after its latest rebalance callback."""
        for event in reversed(self.events):
            if "assignment" in event:
                return frozenset((topic, p) for topic, p in event["assignment"])
        return frozenset()

    def callbacks(self) -> list[tuple[str, TopicPartitions]]:
        """Every rebalance callback so far: ``("assigned" | "revoked" | "lost", partitions)``."""
        return [(event["kind"], frozenset((t, p) for t, p in event["partitions"]))
                for event in self.events if event["kind"] in ("assigned", "revoked", "lost")]

    def consumed(self) -> list[tuple[str, int, int]]:
        """``(topic, partition, offset)`` of every message the member consumed."""
        return [(e["topic"], e["partition"], e["offset"]) for e in self.of("consumed")]

    def commits(self) -> list[list[tuple[str, int, int]]]:
        """The offsets of each synchronous commit (with ``commit_every``), in order."""
        return [[(t, p, o) for t, p, o in e["offsets"]] for e in self.of("committed")]


def state_of(description: ConsumerGroupDescription) -> str:
    """``STABLE``, ``EMPTY``, ``PREPARING_REBALANCE``...: the broker's name for the state."""
    return str(description.state).split(".")[-1]


def member_state(member: Member) -> str:
    """What a member owns and last did; how it ended, if it did."""
    if not member.alive:
        code = member.process.returncode
        return f"member {member.index} " + ("killed" if code == -signal.SIGKILL else
                                            f"exited ({code}): {member.stderr_tail(600)}")
    events = member.events
    last = (f"{events[-1]['kind']} {time.time() - events[-1]['time']:.1f}s ago"
            if events else "nothing")
    return f"member {member.index} owns {compact(member.assignment)}, last {last}"


class ConsumerGroup:
    """A group of member processes subscribed to ``topics``."""

    def __init__(
        self,
        client_config: Callable[..., dict[str, Any]],
        topics: list[str],
        members: int = 1,
        strategy: str = "cooperative-sticky",
        protocol: str = "classic",
        group_id: str | None = None,
        commit_every: int = 0,
        **config: Any,
    ) -> None:
        self.client_config = client_config
        self.topics = topics
        self.group_id = group_id or unique_name("group")
        self.protocol = protocol
        settings: dict[str, Any] = {"group.id": self.group_id, "auto.offset.reset": "earliest",
                                    "group.protocol": protocol}
        if protocol == "classic":
            settings.update(CLASSIC_DEFAULTS, **{"partition.assignment.strategy": strategy})
        if commit_every:
            settings["enable.auto.commit"] = False
        self.commit_every = commit_every
        self.incremental = protocol == "consumer" or strategy == "cooperative-sticky"
        self.config = client_config(**{**settings, **config})  # a property given wins
        self.members: list[Member] = []
        for _ in range(members):
            self.add_member()

    def add_member(self) -> Member:
        """Start one more member; it joins the group (and triggers a rebalance)."""
        spec = {"config": self.config, "topics": self.topics, "incremental": self.incremental,
                "commit_every": self.commit_every}
        member = Member(len(self.members), spec)
        self.members.append(member)
        return member

    @property
    def active(self) -> list[Member]:
        return [member for member in self.members if member.alive]

    def wait_for_stable(
        self, partitions: str | int | Iterable[str] | Iterable[tuple[str, int]] | None = None,
        counts: list[int] | None = None, timeout: float = 30.0,
    ) -> dict[int, TopicPartitions]:
        """Wait until the live members own ``partitions`` exactly once between them and the
        broker agrees; ``counts`` (sorted or not) demands how many each member owns.
        ``partitions``: nothing (every partition of the subscribed topics), a topic, a list
        of topics, a partition count (one subscribed topic), or ``(topic, partition)``
        pairs. Fails at once when every member ended on its own, with each one's last words.

        Returns ``{member index: partitions owned}``.
        """
        expected = self.expected_partitions(partitions)
        if counts is not None and sum(counts) != len(expected):
            raise ValueError(f"counts={counts} add up to {sum(counts)} partitions, but the "
                             f"group is to own {len(expected)}: {compact(expected)}")

        def settled() -> dict[int, TopicPartitions] | None:
            self.check_alive()
            owned = {member.index: member.assignment for member in self.active}
            union = [tp for parts in owned.values() for tp in parts]
            if len(union) != len(set(union)) or set(union) != expected:
                return None
            if counts is not None and sorted(map(len, owned.values())) != sorted(counts):
                return None
            description = describe_group(self.client_config(), self.group_id)
            if state_of(description) != "STABLE":
                return None
            broker_view = sorted(map(sorted, assignment_in(description).values()))
            return owned if broker_view == sorted(map(sorted, owned.values())) else None

        return wait_for(
            settled, timeout,
            f"group {self.group_id} to settle with {compact(expected)} owned once"
            + (f" in shares of {counts}" if counts else ""),
            self.describe,
        )

    def expected_partitions(self, partitions: Any) -> TopicPartitions:
        """What ``wait_for_stable`` is to see owned, from any form it accepts."""
        if partitions is None:
            return topic_partitions(self.client_config(), self.topics)
        if isinstance(partitions, str):
            return self.partitions_of_topics([partitions])
        if isinstance(partitions, Mapping):
            raise TypeError(f"wait_for_stable({partitions!r}): {WAIT_ACCEPTS}")
        if isinstance(partitions, int) and not isinstance(partitions, bool):
            if len(self.topics) != 1 or partitions < 1:
                raise TypeError(f"wait_for_stable({partitions}): a number of partitions "
                                f"needs one subscribed topic (subscribed: {self.topics}) and "
                                f"a count of 1 or more. {WAIT_ACCEPTS}")
            return frozenset((self.topics[0], partition) for partition in range(partitions))
        items = list(partitions) if isinstance(partitions, Iterable) else [partitions]
        if items and all(isinstance(item, str) for item in items):
            return self.partitions_of_topics(items)
        if all(isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
               and isinstance(item[1], int) for item in items):
            return frozenset(items)
        raise TypeError(f"wait_for_stable({partitions!r}): {WAIT_ACCEPTS}")

    def partitions_of_topics(self, topics: list[str]) -> TopicPartitions:
        """Every partition of ``topics``, each one the group subscribes to (asking for the
        metadata of another could create it)."""
        strangers = [topic for topic in topics if topic not in self.topics]
        if strangers:
            raise ValueError(f"wait_for_stable({topics!r}): the group subscribes to "
                             f"{self.topics}, not to {strangers}. {WAIT_ACCEPTS}")
        return topic_partitions(self.client_config(), topics)

    def check_alive(self) -> None:
        """Raise ``GroupDiedError`` at once when no member is left and one at least ended
        on its own, rather than let a wait time out: each member's last words say why."""
        if self.active or all(member.ended_on_purpose for member in self.members):
            return
        words = "; ".join(f"member {member.index} exited ({member.process.returncode}): "
                          f"{member.last_words()}" for member in self.members)
        raise GroupDiedError(
            f"every member of group {self.group_id} ended before the group settled: {words}. "
            f"A group is made with {GROUP_ARGUMENTS}; any other keyword reaches librdkafka "
            "as a property of each member's consumer.")

    def describe(self) -> str:
        """What each member owns and last did (or how it ended), and what the broker says
        of the group: the state a wait for the group reports when it times out."""
        members = "; ".join(map(member_state, self.members))
        try:
            description = describe_group(self.client_config(), self.group_id)
            shares = [compact(share) for share in assignment_in(description).values()]
            broker = (f"{state_of(description)} with {len(shares)} members"
                      + (f": {', '.join(shares)}" if shares else ""))
        except KafkaException as error:
            broker = f"not described ({error})"
        return f"{members}; the broker: {broker}"

    def close(self) -> None:
        """Stop every live member; kill any that will not stop."""
        for member in self.members:
            try:
                member.stop(timeout=15)
            except subprocess.TimeoutExpired:
                member.kill()


def group_factory_fixture(broker_fixture: str = "kafka_broker") -> Callable[..., Any]:
    """A fixture factory: makes ``ConsumerGroup``s for one test and closes them after."""

    @pytest.fixture
    def group_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., ConsumerGroup]]:
        """Make consumer groups of member processes: ``make(topics, members=1,
        strategy="cooperative-sticky", protocol="classic", group_id=None, commit_every=0,
        **librdkafka config)`` returns a ``ConsumerGroup`` (``wait_for_stable(topic,
        counts=[3, 3])``, ``add_member()``, ``members[i].stop()``/``.kill()``, each member's
        callbacks and messages). Every member is stopped after the test."""
        broker = request.getfixturevalue(broker_fixture)
        made: list[ConsumerGroup] = []

        def make_group(topics: str | list[str], members: int = 1, **kwargs: Any) -> ConsumerGroup:
            group = ConsumerGroup(broker.client_config,
                                  [topics] if isinstance(topics, str) else topics,
                                  members, **kwargs)
            made.append(group)
            return group

        yield make_group
        for group in made:
            group.close()

    return group_factory
