"""pytest-kafka-lab's entry point: options, hooks, and the default fixtures.

The work lives in named modules: ``config`` (settings), ``backends`` (where the broker
comes from), ``topics``, ``clients`` and ``groups`` (fixture families), ``readers``
(broker truth). This file only wires them together.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab import topics
from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.backends.cluster import LocalCluster
from pytest_kafka_lab.backends.external import ExternalCluster
from pytest_kafka_lab.clients import ClientFactory, RecordingProducer, client_factory_fixture
from pytest_kafka_lab.config import LabConfig, add_options, get_config
from pytest_kafka_lab.distribution import KAFKA_VERSION, resolve_distribution
from pytest_kafka_lab.groups import group_factory_fixture
from pytest_kafka_lab.lifecycle import BrokerHolder
from pytest_kafka_lab.naming import run_prefix, unique_name
from pytest_kafka_lab.progress import status
from pytest_kafka_lab.readiness import CLIENT_LOGGER
from pytest_kafka_lab.tools import KafkaTools

HOLDER = pytest.StashKey[BrokerHolder]()


# --- hooks -------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
    help_text = ("Hypothesis profile for broker-backed properties: ci, dev or thorough "
                 "(default: $KAFKA_LAB_HYPOTHESIS_PROFILE; Hypothesis' own otherwise)")
    parser.getgroup("kafka-lab").addoption(
        "--kafka-hypothesis-profile", dest="kafka_hypothesis_profile", help=help_text)
    parser.addini("kafka_hypothesis_profile", help_text)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[HOLDER] = BrokerHolder(get_config(config), config)
    profile = (config.getoption("kafka_hypothesis_profile")
               or config.getini("kafka_hypothesis_profile") or None)
    if profile or os.environ.get("KAFKA_LAB_HYPOTHESIS_PROFILE"):
        from pytest_kafka_lab.hypothesis_profiles import load_profile  # only when asked

        try:
            load_profile(profile)
        except ValueError as error:
            raise pytest.UsageError(f"--kafka-hypothesis-profile: {error}") from error


def pytest_unconfigure(config: pytest.Config) -> None:
    holder = config.stash.get(HOLDER, None)
    if holder is None:
        return
    if isinstance(holder.broker, ExternalCluster):
        topics.sweep(holder.broker.client_config(), run_prefix())
    holder.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    lab = config.stash[HOLDER].lab_config
    where = {
        "local": f"{lab.brokers} local KRaft node{'s' if lab.brokers > 1 else ''}, "
                 f"jars cached in {lab.home or lab.cache_dir}",
        "container": f"container {lab.image}",
        "external": f"existing cluster at {lab.bootstrap}",
    }[lab.backend]
    return [f"kafka-lab: Kafka {KAFKA_VERSION} pinned, backend {lab.backend} ({where})"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the broker before the first test when one needs it, so the start is reported
    once, up front, instead of inside a test's setup time."""
    holder = session.config.stash[HOLDER]
    if session.config.option.collectonly:
        return
    if any("kafka_broker" in getattr(item, "fixturenames", ()) for item in session.items):
        # A failed start is kept by the holder and raised by every use of the fixture.
        with contextlib.suppress(Exception):
            holder.get()


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    holder = config.stash[HOLDER]
    if holder.broker is not None:
        return [f"kafka-lab: {holder.broker.describe()}"]
    if holder.error is not None:
        return [f"kafka-lab: the broker did not start: {str(holder.error).splitlines()[0]}"]
    return []


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: start the broker once and hand its address to every worker."""
    holder = node.config.stash[HOLDER]
    try:
        node.workerinput.update(holder.worker_input())
    except Exception as error:
        node.workerinput["kafka_lab_error"] = str(error)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_lab_config(pytestconfig: pytest.Config) -> LabConfig:
    """The settings in effect (command line, ini, environment and defaults resolved)."""
    return pytestconfig.stash[HOLDER].lab_config


@pytest.fixture(scope="session")
def kafka_broker(pytestconfig: pytest.Config) -> KafkaBroker:
    """The session's broker: ``bootstrap_servers``, ``client_config(**overrides)``,
    ``kafka_version``. Started on first use, stopped when the run ends."""
    return pytestconfig.stash[HOLDER].get()


@pytest.fixture(scope="module")
def kafka_cluster(pytestconfig: pytest.Config, kafka_lab_config: LabConfig
                  ) -> Iterator[LocalCluster]:
    """A local cluster of three KRaft nodes (replication 3, min.insync.replicas=2): the
    session's broker under ``--kafka-brokers 3``, else one started for the module that asks
    (three JVMs: not kept beyond the tests that need them)."""
    holder = pytestconfig.stash[HOLDER]
    if kafka_lab_config.brokers >= 3:
        broker = holder.get()
        assert isinstance(broker, LocalCluster)
        yield broker
        return
    with LocalCluster(kafka_lab_config.replace(brokers=3), 3,
                      functools.partial(status, pytestconfig)) as cluster:
        yield cluster


@pytest.fixture
def kafka_faults(kafka_cluster: LocalCluster) -> Iterator[LocalCluster]:
    """``kafka_cluster`` for a test that stops, kills, pauses or restarts its nodes
    (``stop_node(id)``, ``kill_node``, ``pause_node``, ``resume_node``, ``restart_node``,
    each waiting until the cluster noticed); every node is up again after the test."""
    yield kafka_cluster
    kafka_cluster.heal()


@pytest.fixture(scope="session")
def kafka_admin(kafka_broker: KafkaBroker) -> AdminClient:
    """An ``AdminClient`` of the session's broker (logging through Python's ``logging``)."""
    return AdminClient(kafka_broker.client_config(logger=CLIENT_LOGGER))


@pytest.fixture(scope="session")
def kafka_tools(kafka_broker: KafkaBroker, kafka_lab_config: LabConfig) -> KafkaTools:
    """The real Kafka command-line tools (``kafka_tools.run("kafka-topics", ...)``)."""
    distribution = getattr(kafka_broker, "distribution", None) or resolve_distribution(
        kafka_lab_config.cache_dir, kafka_lab_config.home)
    return KafkaTools(distribution, kafka_broker.bootstrap_servers)


kafka_topic_factory = topics.topic_factory_fixture("kafka_admin")


@pytest.fixture
def kafka_topic(kafka_topic_factory: topics.TopicFactory) -> str:
    """A fresh one-partition topic, deleted after the test."""
    return kafka_topic_factory()


kafka_clients = client_factory_fixture("kafka_broker")


@pytest.fixture
def kafka_producer_factory(kafka_clients: ClientFactory) -> Callable[..., RecordingProducer]:
    """Make producers that record every delivery report: ``kafka_producer_factory(**config)``.
    Flushed after the test."""
    return kafka_clients.producer


@pytest.fixture
def kafka_producer(kafka_clients: ClientFactory) -> RecordingProducer:
    """A recording producer with the test defaults."""
    return kafka_clients.producer()


@pytest.fixture
def kafka_consumer_factory(kafka_clients: ClientFactory) -> Callable[..., Any]:
    """Make consumers: ``kafka_consumer_factory(topics=None, group_id=None, **config)``;
    closed after the test, and their groups deleted."""
    return kafka_clients.consumer


kafka_group_factory = group_factory_fixture("kafka_broker")


@pytest.fixture
def kafka_unique_name(request: pytest.FixtureRequest) -> Callable[[], str]:
    """Fresh names for topics or groups, unique across tests, workers and runs."""
    return lambda: unique_name(request.node.name)
