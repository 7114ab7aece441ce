"""pytest-kafka-lab's entry point: options, hooks, and the default fixtures.

The work lives in named modules: ``config`` (settings), ``backends`` (where the broker
comes from), ``topics``, ``clients`` and ``groups`` (fixture families), ``readers``
(broker truth). This file only wires them together.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Callable, Generator, Iterator
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
from pytest_kafka_lab.exceptions import BrokerDiedError
from pytest_kafka_lab.groups import group_factory_fixture
from pytest_kafka_lab.lifecycle import BrokerHolder
from pytest_kafka_lab.naming import run_prefix, unique_name
from pytest_kafka_lab.progress import status, uncaptured
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
    holder.bury_if_dead()  # nothing left to sweep, and a dead address would only time out
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


def uses_broker(item: pytest.Item) -> bool:
    return "kafka_broker" in getattr(item, "fixturenames", ())


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


def failing_if_the_broker_dies(item: pytest.Item) -> Generator[None, object, object]:
    """Wrap a phase of a test that uses the broker: if the broker died meanwhile, the phase
    fails with how it ended and its log tail (chained to the test's own error, if any),
    so the cause shows where the symptom (a client timing out) would otherwise be alone."""
    __tracebackhide__ = True
    try:
        result = yield
    except (KeyboardInterrupt, pytest.exit.Exception):
        raise
    except BaseException as error:
        death = newly_dead(item)
        if death is None:
            raise
        raise death from error
    death = newly_dead(item)
    if death is not None:
        raise death
    return result


def newly_dead(item: pytest.Item) -> BrokerDiedError | None:
    return item.config.stash[HOLDER].newly_dead() if uses_broker(item) else None


def replace_dead_broker(item: pytest.Item) -> None:
    """Before a test that needs the broker: if it died, drop what pytest cached on it and
    start a fresh one, announced like the first. A failed start (or an xdist worker's
    refusal) stays with the holder, and the ``kafka_broker`` fixture raises it."""
    holder = item.config.stash[HOLDER]
    death = holder.bury_if_dead()
    if death is None:
        return
    forget_cached_broker(item)
    if holder.error is not None:  # an xdist worker's: it does not restart the broker
        return
    try:
        fresh = holder.get()
    except Exception:
        return
    announce(item.config, f"kafka-lab: the broker died ({death.ended}); started a fresh "
                          f"one: {fresh.describe()}")


def forget_cached_broker(item: pytest.Item) -> None:
    """Finish pytest's cached ``kafka_broker``, so that the next request gets the fresh one.

    ``kafka_broker`` stays session-scoped and is the real broker object, not a proxy whose
    address changes under it: a proxy would leave pytest's cache of everything built on
    the old broker (``kafka_admin``'s client, a suite's session topics) pointing at a dead
    address, or missing on the new broker. Finishing the fixture makes pytest first finish
    every fixture that depends on it, whatever its scope (``kafka_admin``, ``kafka_tools``,
    the suite's own), and build each again when next asked, on the fresh broker. Tests
    that already hold the old address are not retried. pytest has no public call for this;
    ``FixtureDef.finish`` is what it uses itself when a parametrized fixture changes.
    """
    info = getattr(item, "_fixtureinfo", None)
    request = getattr(item, "_request", None)
    for definition in info.name2fixturedefs.get("kafka_broker", ()) if info else ():
        try:
            definition.finish(request)
        except Exception as error:  # a teardown that still wanted the dead broker
            warnings.warn(pytest.PytestWarning(
                f"tearing down fixtures built on the dead Kafka broker failed: {error!r}"),
                stacklevel=1)


def announce(config: pytest.Config, line: str) -> None:
    """A line in the terminal, between tests' progress, past pytest's capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        with uncaptured(config):
            reporter.write_line(line)


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
    ``kafka_version``. Started on first use, stopped when the run ends. A local broker
    that dies fails the test during which it died; the next test gets a fresh one, and
    the fixtures built on the dead one are built again (see ``forget_cached_broker``)."""
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
