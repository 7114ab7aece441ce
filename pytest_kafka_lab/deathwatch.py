"""The death watch, pytest's side: a test that uses the broker fails, in the phase during
which the broker died, with how it ended and its log tail; the next one gets a fresh
broker, and every fixture built on the dead one is built again.

The holder (``lifecycle``) notices the death; this module ties it to tests.
"""

from __future__ import annotations

import warnings
from collections.abc import Generator

import pytest

from pytest_kafka_lab.lifecycle import holder_of
from pytest_kafka_lab.progress import uncaptured


def broker_fixtures(config: pytest.Config) -> tuple[str, ...]:
    """The fixtures whose value is the session's broker: under ``--kafka-brokers 3`` or
    more ``kafka_cluster`` is that broker too, cached by a fixture of its own."""
    if holder_of(config).lab_config.brokers >= 3:
        return ("kafka_broker", "kafka_cluster")
    return ("kafka_broker",)


def uses_broker(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return any(name in names for name in broker_fixtures(item.config))


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
        death = holder_of(item.config).newly_dead() if uses_broker(item) else None
        if death is None:
            raise
        raise death from error
    death = holder_of(item.config).newly_dead() if uses_broker(item) else None
    if death is not None:
        raise death
    return result


def replace_dead_broker(item: pytest.Item) -> None:
    """Before a test that needs the broker: if it died, start a fresh one, announced like
    the first, and drop what pytest cached on the dead one. A failed start (or an xdist
    worker's refusal) stays with the holder, and the ``kafka_broker`` fixture raises it."""
    holder = holder_of(item.config)
    death = holder.bury_if_dead()
    if death is not None and holder.error is None:  # an xdist worker restarts nothing
        try:
            fresh = holder.get()
        except Exception:
            fresh = None
        if fresh is not None:
            announce(item.config, f"kafka-lab: the broker died ({death.ended}); started a "
                                  f"fresh one: {fresh.describe()}")
    forget_stale_broker(item)


def forget_stale_broker(item: pytest.Item) -> None:
    """Finish what pytest cached of a broker that is no longer the holder's, so that the
    next request gets the fresh one.

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
    if info is None:
        return
    holder, request = holder_of(item.config), getattr(item, "_request", None)
    for name in broker_fixtures(item.config):
        for definition in info.name2fixturedefs.get(name, ()):
            cached = definition.cached_result
            # A broker a factory started for its own fixture is not the holder's to replace.
            if cached is None or cached[0] is holder.broker or any(
                    cached[0] is other for other in holder.others):
                continue
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
