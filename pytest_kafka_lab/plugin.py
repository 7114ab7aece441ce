"""pytest-kafka-lab's entry point: options, hooks, and the default fixtures.

The work lives in named modules: ``config`` (settings), ``backends`` (where the broker
comes from), ``lifecycle`` and ``deathwatch`` (one broker per run, watched), ``topics``,
``clients`` and ``groups`` (fixture families), ``readers`` (broker truth). This file only
wires them together.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab import topics
from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.clients import ClientFactory, RecordingProducer, client_factory_fixture
from pytest_kafka_lab.config import LabConfig, add_options, get_config, load_hypothesis_profile
from pytest_kafka_lab.deathwatch import failing_if_the_broker_dies, replace_dead_broker, uses_broker
from pytest_kafka_lab.distribution import resolve_distribution
from pytest_kafka_lab.factories import adopt_session_broker, kafka_proc
from pytest_kafka_lab.groups import group_factory_fixture
from pytest_kafka_lab.lifecycle import HOLDER, BrokerHolder, holder_of
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.readiness import CLIENT_LOGGER
from pytest_kafka_lab.tools import KafkaTools

if TYPE_CHECKING:
    from pytest_kafka_lab.backends.cluster import LocalCluster

# --- hooks -------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[HOLDER] = BrokerHolder(get_config(config), config)
    load_hypothesis_profile(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    holder = config.stash.get(HOLDER, None)
    if holder is not None:
        holder.finish()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"kafka-lab: {holder_of(config).lab_config.describe()}"]


@pytest.hookimpl(tryfirst=True)  # on an xdist worker: before it reports its collection
def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the broker before the first test when one needs it (on an xdist worker: ask
    the controller for it); a run whose tests use none starts none."""
    if session.config.option.collectonly:
        return
    if any(map(uses_broker, session.items)):
        adopt_session_broker(session)
        holder_of(session.config).prepare()


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    holder = holder_of(config)
    if holder.broker is not None:
        return [f"kafka-lab: {holder.broker.describe()}"]
    if holder.error is not None:
        return [f"kafka-lab: the broker did not start: {str(holder.error).splitlines()[0]}"]
    return []


# The death watch (``deathwatch``): each phase of a test that uses the broker fails if the
# broker died during it; before the next such test, a dead broker is replaced.


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    __tracebackhide__ = True
    if uses_broker(item):
        replace_dead_broker(item)
    return (yield from failing_if_the_broker_dies(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    __tracebackhide__ = True  # the failure is the broker's, not this hook's
    return (yield from failing_if_the_broker_dies(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    __tracebackhide__ = True  # the failure is the broker's, not this hook's
    return (yield from failing_if_the_broker_dies(item))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: tell each worker where to ask for the broker and find it."""
    node.workerinput.update(holder_of(node.config).worker_input())


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """xdist controller: start the broker, once, if a worker's tests asked for it, before
    the first test is handed out."""
    holder_of(node.config).serve_workers()


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_lab_config(pytestconfig: pytest.Config) -> LabConfig:
    """The settings in effect (command line, ini, environment and defaults resolved)."""
    return holder_of(pytestconfig).lab_config


kafka_broker = kafka_proc(doc="""The session's broker: ``bootstrap_servers``,
    ``client_config(**overrides)``, ``kafka_version``, ``describe()``, ``log_tail()``. Started
    before the first test that needs it, stopped when the run ends. A local broker (or a node
    of a local cluster) that dies fails the test during which it died; the next test gets a
    fresh one, and the fixtures built on the dead one are built again (see ``deathwatch``).
    Another broker: ``factories.kafka_proc(...)`` in a conftest.""")

kafka_cluster = kafka_proc("module", nodes=3, doc="""A local cluster of three KRaft nodes
    (replication 3, min.insync.replicas=2; a ``LocalCluster``): the session's broker under
    ``--kafka-brokers 3``, else one started for the module that asks (three JVMs: not kept
    beyond the tests that need them). A session-wide one:
    ``kafka_cluster = factories.kafka_proc(nodes=3)`` in a conftest.""")


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
