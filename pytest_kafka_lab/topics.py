"""Topics: created with a unique name, visible in metadata before use, deleted after."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.waiting import wait_for

# What an admin request meets on a cluster whose brokers come and go (a node just killed
# or restarted): librdkafka drops the handle of a broker missing from one metadata
# response, failing what it had in flight. The request is sent again.
TRANSIENT = frozenset({KafkaError._DESTROY_BROKER, KafkaError._TRANSPORT,
                       KafkaError._ALL_BROKERS_DOWN, KafkaError.NOT_CONTROLLER})
RETRY_BACK_OFF = 0.2


def is_transient(error: KafkaError) -> bool:
    """Whether ``error`` says the request may succeed when sent again."""
    return error.code() in TRANSIENT or error.retriable()


def settle(request: Callable[[], Future[Any]], reached: int, timeout: float,
           sent: Future[Any] | None = None) -> None:
    """Wait for an admin ``request`` (already ``sent``, or sent here) to succeed, sending it
    again on transient errors until ``timeout``. After a transient failure, the error code
    ``reached`` (the state asked for, such as a topic that already exists) counts as
    success: the failed attempt may have done its work before its answer was lost."""
    deadline = time.monotonic() + timeout
    retried = False
    future = sent or request()
    while True:
        try:
            future.result(max(deadline - time.monotonic(), 1.0))
            return
        except KafkaException as failure:
            error = failure.args[0]
            if retried and error.code() == reached:
                return
            if not is_transient(error) or time.monotonic() >= deadline:
                raise
            retried = True
            time.sleep(RETRY_BACK_OFF)
            future = request()


def partitions_with_leaders(admin: AdminClient, topic: str) -> int:
    """How many partitions of ``topic`` the broker's metadata shows with a leader."""
    metadata = admin.list_topics(topic=topic, timeout=5).topics.get(topic)
    if metadata is None or metadata.error is not None:
        return 0
    return sum(1 for partition in metadata.partitions.values() if partition.leader >= 0)


def create_topic(
    admin: AdminClient,
    name: str,
    partitions: int = 1,
    config: dict[str, str] | None = None,
    replication_factor: int = -1,
    timeout: float = 30.0,
) -> str:
    """Create ``name`` and wait until every partition has a leader; return the name.

    A replication factor of -1 takes the broker's ``default.replication.factor``.
    """
    new_topic = NewTopic(name, num_partitions=partitions,
                         replication_factor=replication_factor, config=config or {})
    create_new_topic(admin, new_topic, timeout)
    wait_for(
        lambda: partitions_with_leaders(admin, name) == partitions,
        timeout, f"all {partitions} partitions of topic {name!r} to have a leader",
        lambda: f"{partitions_with_leaders(admin, name)} with a leader",
    )
    return name


def create_new_topic(admin: AdminClient, new_topic: NewTopic, timeout: float = 30.0) -> None:
    """Create ``new_topic`` as given (a replica assignment, say), through transient errors."""
    name = new_topic.topic
    settle(lambda: admin.create_topics([new_topic], operation_timeout=timeout)[name],
           KafkaError.TOPIC_ALREADY_EXISTS, timeout)


def delete_topics(admin: AdminClient, names: list[str], timeout: float = 30.0) -> None:
    """Delete ``names`` and wait until the broker's metadata no longer lists them."""
    if not names:
        return

    def delete_again(name: str) -> Callable[[], Future[Any]]:
        return lambda: admin.delete_topics([name], operation_timeout=timeout)[name]

    for name, future in admin.delete_topics(names, operation_timeout=timeout).items():
        settle(delete_again(name), KafkaError.UNKNOWN_TOPIC_OR_PART, timeout, sent=future)

    def remaining() -> list[str]:
        return sorted(set(names) & set(admin.list_topics(timeout=5).topics))

    wait_for(lambda: not remaining(), timeout, f"topics {names} to be deleted", remaining)


class TopicFactory:
    """Makes topics for one test and deletes them all at its end."""

    def __init__(self, admin: AdminClient, hint: str = "") -> None:
        self.admin = admin
        self.hint = hint
        self.created: list[str] = []

    def __call__(
        self,
        partitions: int = 1,
        config: dict[str, str] | None = None,
        name: str | None = None,
        replication_factor: int = -1,
    ) -> str:
        """Create a topic (a unique name unless ``name`` is given) and return its name."""
        topic = name or unique_name(self.hint)
        create_topic(self.admin, topic, partitions, config, replication_factor)
        self.created.append(topic)
        return topic

    def cleanup(self) -> None:
        delete_topics(self.admin, self.created)
        self.created.clear()


def topic_factory_fixture(admin_fixture: str = "kafka_admin") -> Callable[..., Any]:
    """A fixture factory: a ``TopicFactory`` bound to the admin client ``admin_fixture``."""

    @pytest.fixture
    def topic_factory(request: pytest.FixtureRequest) -> Iterator[TopicFactory]:
        """Make topics: ``factory(partitions=1, config=None, name=None)`` returns a unique
        topic's name once every partition has a leader; all are deleted after the test."""
        factory = TopicFactory(request.getfixturevalue(admin_fixture), request.node.name)
        yield factory
        factory.cleanup()

    return topic_factory


def sweep(client_config: dict[str, Any], prefix: str) -> None:
    """Delete every topic and group named with ``prefix``: a shared cluster stays clean
    even where a test's own teardown did not run."""
    admin = AdminClient(client_config)
    leftover_topics = [name for name in admin.list_topics(timeout=10).topics
                       if name.startswith(prefix)]
    if leftover_topics:
        delete_topics(admin, leftover_topics)
    groups = admin.list_consumer_groups(request_timeout=10).result(10).valid
    leftover_groups = [group.group_id for group in groups if group.group_id.startswith(prefix)]
    if not leftover_groups:
        return
    for future in admin.delete_consumer_groups(leftover_groups, request_timeout=10).values():
        with contextlib.suppress(Exception):
            future.result(10)
