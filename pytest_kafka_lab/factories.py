"""Fixture factories, in the style of pytest-postgresql's ``factories``: a broker (or a
cluster) with its own settings, in one line of a conftest.

    from pytest_kafka_lab import factories

    kafka_broker = factories.kafka_proc(jit="full")                 # the benchmarks' broker
    kafka_cluster = factories.kafka_proc(nodes=3, scope="session")  # one cluster per run
    fast_clients = factories.kafka_clients("kafka_broker")

A factory's arguments override the run's settings (``--kafka-*``, ini, environment);
what they leave out is the run's. A broker whose settings are the run's is the run's own
broker (started once, watched, shared with xdist workers); one with other settings is
started for the fixture's scope and stopped after it. A session-scoped ``kafka_broker``
made here, which every test of the run that needs a broker uses, *becomes* the run's broker:
the plugin starts it, before the first test, with these settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.clients import client_factory_fixture as kafka_clients
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.groups import group_factory_fixture as kafka_groups
from pytest_kafka_lab.lifecycle import holder_of
from pytest_kafka_lab.topics import topic_factory_fixture as kafka_topics

__all__ = ["kafka_clients", "kafka_groups", "kafka_proc", "kafka_topics", "overrides_of"]

Scope = Literal["session", "package", "module", "class", "function"]
# The attribute a factory's fixture function carries its overrides in (``overrides_of``).
OVERRIDES = "kafka_lab_overrides"


def kafka_proc(
    scope: Scope = "session",
    *,
    nodes: int | None = None,
    jit: Literal["quick", "full"] | None = None,
    heap: str | None = None,
    broker_properties: dict[str, str] | None = None,
    backend: Literal["local", "container", "external"] | None = None,
    bootstrap: str | None = None,
    start_timeout: float | None = None,
    doc: str | None = None,
) -> Any:
    """A broker fixture of ``scope``: the run's settings with these overrides (``nodes``:
    KRaft nodes, as ``--kafka-brokers``; ``broker_properties`` added to the run's).
    Yields a ``KafkaBroker`` (a ``LocalCluster`` for ``nodes`` >= 3); stopped after its
    scope unless it is the run's own broker. A bad value raises ``pytest.UsageError``."""
    chosen: dict[str, Any] = {"brokers": nodes, "jit": jit, "heap": heap, "backend": backend,
                              "bootstrap": bootstrap, "start_timeout": start_timeout}
    overrides = {name: value for name, value in chosen.items() if value is not None}
    extra = tuple((broker_properties or {}).items())

    def broker(request: pytest.FixtureRequest) -> Iterator[KafkaBroker]:
        holder = holder_of(request.config)
        with holder.broker_like(configured(holder.lab_config, overrides, extra)) as made:
            yield made

    broker.__doc__ = doc or describe(overrides, extra)
    setattr(broker, OVERRIDES, (overrides, extra))
    return pytest.fixture(scope=scope)(broker)


def configured(base: LabConfig, overrides: dict[str, Any],
               extra: tuple[tuple[str, str], ...]) -> LabConfig:
    """``base`` with a factory's overrides; broker properties are added to the run's."""
    if overrides.get("bootstrap") and "backend" not in overrides:
        overrides = {**overrides, "backend": "external"}
    return base.replace(**overrides, broker_properties=base.broker_properties + extra)


def overrides_of(fixture_function: Callable[..., Any]) -> tuple[dict[str, Any], tuple[
        tuple[str, str], ...]] | None:
    """The overrides a ``kafka_proc`` fixture was made with; None for any other fixture."""
    found: tuple[dict[str, Any], tuple[tuple[str, str], ...]] | None = getattr(
        fixture_function, OVERRIDES, None)
    return found


def describe(overrides: dict[str, Any], extra: tuple[tuple[str, str], ...]) -> str:
    """The docstring ``pytest --fixtures`` shows for a broker made by ``kafka_proc``."""
    changed = [f"{name}={value!r}" for name, value in overrides.items()]
    changed += [f"{key}={value}" for key, value in extra]
    settings = f"the run's settings with {', '.join(changed)}" if changed else \
        "the run's settings"
    return (f"A Kafka broker (``factories.kafka_proc``): {settings}. ``bootstrap_servers``, "
            "``client_config(**overrides)``; stopped after its scope unless it is the run's "
            "own broker.")


def session_broker_settings(items: list[pytest.Item], base: LabConfig) -> LabConfig | None:
    """The settings of the one session-scoped ``kafka_broker`` made by ``kafka_proc`` that
    every test using ``kafka_broker`` gets; None where they get the plugin's, or several."""
    definitions = set()
    for item in items:
        info = getattr(item, "_fixtureinfo", None)  # as ``deathwatch`` reads it
        found = info.name2fixturedefs.get("kafka_broker") if info is not None else None
        if found:
            definitions.add(found[-1])
    if len(definitions) != 1:
        return None
    [definition] = definitions
    made_with = overrides_of(definition.func)
    if made_with is None or definition.scope != "session":
        return None
    return configured(base, *made_with)


def adopt_session_broker(session: pytest.Session) -> None:
    """Before the run's broker starts: if the suite's ``kafka_broker`` is a session-scoped
    ``kafka_proc`` fixture, the run's broker is started with its settings (once, watched,
    as the plugin's own), not with the run's and then a second one."""
    holder = holder_of(session.config)
    config = session_broker_settings(session.items, holder.lab_config)
    if config is not None:
        holder.adopt(config)
