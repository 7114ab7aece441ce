"""What the promises share: one three-node cluster for the whole run, and consumer groups
that notice a killed member within seconds.

The plugin's ``kafka_cluster`` starts three nodes for each module that asks; here every
promise that needs a cluster (a killed leader, a killed transaction coordinator) uses one,
started when the first of them asks and stopped when the run ends. Under pytest-xdist the
grading plugin's scheduler keeps the tests that use it on one worker, so that one cluster
is started, not one per worker. Each promise heals what it broke before the next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from pytest_kafka_lab import factories
from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.readers import client_config

# A member that dies without leaving is noticed after this long: the promises that kill a
# member wait this out once per kill. Heartbeats go out six times a session.
SESSION_TIMEOUT_MS = 3000
HEARTBEAT_INTERVAL_MS = 500


# The run's local cluster of three KRaft nodes (replication 3, min.insync.replicas=2), or
# the session's broker under ``--kafka-brokers 3``.
kafka_cluster = factories.kafka_proc(nodes=3)


def shorten_sessions(broker: Any, group: str, protocol: str) -> dict[str, Any]:
    """Make ``group`` notice a killed member after ``SESSION_TIMEOUT_MS``; return the client
    settings that takes. The classic protocol's session is each member's setting; the
    consumer protocol's (KIP-848) is the group's, set on the broker (a group config)."""
    if protocol == "classic":
        return {"session.timeout.ms": SESSION_TIMEOUT_MS,
                "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS}
    admin = AdminClient(client_config(broker))
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry(name, str(value), incremental_operation=AlterConfigOpType.SET)
        for name, value in (("consumer.session.timeout.ms", SESSION_TIMEOUT_MS),
                            ("consumer.heartbeat.interval.ms", HEARTBEAT_INTERVAL_MS))])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(10)
    return {}


@pytest.fixture(scope="session")
def short_sessions() -> Callable[[Any, str, str], dict[str, Any]]:
    """``short_sessions(broker, group, protocol)``: ``shorten_sessions``, for tests."""
    return shorten_sessions


class ShortSessionBroker:
    """A broker whose consumer groups notice a killed member after ``SESSION_TIMEOUT_MS``:
    the client settings of a group member (they name ``group.id``) get the short session,
    set on the broker first for a group of the consumer protocol."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        group = overrides.get("group.id")
        if group is not None:
            overrides.update(shorten_sessions(self.broker, str(group),
                                              str(overrides.get("group.protocol", "classic"))))
        return self.broker.client_config(**overrides)


@pytest.fixture(scope="session")
def short_session_broker(kafka_broker: KafkaBroker) -> ShortSessionBroker:
    """``kafka_broker``, for groups that notice a killed member within seconds: a group's
    ``client_config`` (``ConsumerGroup(short_session_broker.client_config, ...)``, or
    ``group_factory_fixture("short_session_broker")``)."""
    return ShortSessionBroker(kafka_broker)
