"""What the backend modules share, so that none of them imports another: the base classes
of a broker, free loopback ports, and the broker settings made for tests.

``BrokerBase`` is a context manager over ``start``/``stop`` with client settings made from
the bootstrap address; ``LoopbackBroker`` is one node on a 127.0.0.1 port we run;
``ExistingBroker`` is one this run did not start and never stops, ready once it answers.
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Self

from pytest_kafka_lab.config import LabConfig, read_properties
from pytest_kafka_lab.readiness import INCURABLE_WHEN_EXISTING, wait_until_ready

# Settings made for tests: one replica of everything, no initial rebalance delay, small
# internal topics, and group timeouts that a test killing a member can afford to wait.
TEST_BROKER_SETTINGS: dict[str, str] = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "share.coordinator.state.topic.num.partitions": "1",
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "1000",
    "group.consumer.min.session.timeout.ms": "1000",
    "group.consumer.session.timeout.ms": "6000",
    "group.consumer.min.heartbeat.interval.ms": "500",
    "group.consumer.heartbeat.interval.ms": "1000",
    "num.partitions": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "auto.create.topics.enable": "true",
    "delete.topic.enable": "true",
    "log.segment.bytes": "16777216",
    "num.network.threads": "2",
    "num.io.threads": "4",
}


@functools.cache
def listening_ports() -> frozenset[int]:
    """Ports worth listening on: unassigned by IANA and outside the kernel's ephemeral
    range (port-for reads it on Linux and the BSDs), where the kernel could hand a port to
    a client's outgoing connection between our probe and the broker's bind, or while a
    killed node is down and its clients reconnect in a loop. Computed once: it takes ms."""
    import port_for  # imported here (with its table of ports): a run may start nothing

    return frozenset(port_for.available_good_ports())


def free_port() -> int:
    """A loopback port nothing listens on or is bound to, from ``listening_ports()``."""
    import port_for

    return port_for.select_random(set(listening_ports()))


def port_in_use(port: int) -> bool:
    """True when something listens on ``port`` of 127.0.0.1 (a port a closed connection
    still holds is not in use: the broker binds with SO_REUSEADDR)."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class BrokerBase:
    """A broker as every backend offers it: a context manager over ``start``/``stop``,
    with client settings made from its bootstrap address (and ``extra`` ones)."""

    # Client settings besides the address: an existing cluster's --kafka-client-config.
    extra: Mapping[str, str] = MappingProxyType({})
    outlives_run = False
    startup_seconds = 0.0

    @property
    def bootstrap_servers(self) -> str:
        raise NotImplementedError

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        return {**self.extra, "bootstrap.servers": self.bootstrap_servers, **overrides}

    def timed_start(self, starting: Callable[[], object]) -> Self:
        """Run ``starting`` and time it into ``startup_seconds``. A failure or a Ctrl-C
        half-way stops first, so no process, container, data folder or open log stays."""
        began = time.monotonic()
        try:
            starting()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class LoopbackBroker(BrokerBase):
    """One node that this run starts on a port of 127.0.0.1."""

    port: int

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"


class ExistingBroker(BrokerBase):
    """A broker this run did not start: ready once it answers a metadata request, never
    stopped from here. ``origin`` says where it comes from, for ``describe()``."""

    outlives_run = True

    def __init__(self, config: LabConfig, bootstrap: str, kafka_version: str,
                 origin: str) -> None:
        self.config = config
        self._bootstrap = bootstrap
        self.kafka_version = kafka_version
        self.origin = origin
        self.extra = read_properties(config.client_config) if config.client_config else {}

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    def describe(self) -> str:
        secured = f", client config {self.config.client_config}" if self.extra else ""
        return (f"Kafka {self.kafka_version}, backend {self.origin}, bootstrap "
                f"{self.bootstrap_servers}{secured}, answered in {self.startup_seconds:.1f}s")

    def log_tail(self, lines: int = 40) -> str:
        return ""

    def start(self) -> Self:
        return self.timed_start(
            lambda: wait_until_ready(self.client_config(), self.config.start_timeout,
                                     gives_up_on=INCURABLE_WHEN_EXISTING))

    def stop(self) -> None:
        """Nothing to stop: the broker is not ours. Fixtures delete what they made."""
