"""One broker interface, several implementations: a local process, a local cluster, a
container, an existing cluster, and the xdist controller's broker as a worker sees it.

Each backend gives a bootstrap address and client settings; ``start()`` returns once it
answered a metadata request, ``stop()`` cleans up (entering and leaving it as a context
manager does the same). Local nodes and clusters add the *watched* part: the processes
whose death the run notices, with how each ended and its log.

The backend modules import this interface and the neutral ``base`` and ``watching``,
never one another; only ``broker_for`` below knows them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, Self, runtime_checkable

from pytest_kafka_lab.config import LabConfig

# What ``KafkaBroker.backend`` says; each backend class sets its own.
Backend = Literal["local", "local cluster", "container", "external", "reused", "xdist-shared"]


@runtime_checkable
class KafkaBroker(Protocol):
    """What every backend offers the fixtures."""

    @property
    def backend(self) -> Backend: ...

    @property
    def kafka_version(self) -> str: ...

    @property
    def bootstrap_servers(self) -> str:
        """``host:port[,host:port]`` for ``bootstrap.servers``."""
        ...

    @property
    def startup_seconds(self) -> float:
        """How long the broker took to answer its first metadata request."""
        ...

    @property
    def outlives_run(self) -> bool:
        """True for a broker that others use after this run (an existing cluster, the
        xdist controller's, one kept by ``--kafka-reuse``): what the run made on it is
        swept at the end."""
        ...

    def start(self) -> Self:
        """Start (or reach) the broker and wait until it answers; a failed start cleans up
        after itself and raises."""
        ...

    def stop(self) -> None:
        """Stop what ``start`` started and remove its data (nothing for a broker that is
        not ours)."""
        ...

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        """Settings for a ``confluent_kafka`` client of this broker, with ``overrides``."""
        ...

    def describe(self) -> str:
        """One line for pytest's header: version, backend, address, start time."""
        ...

    def log_tail(self, lines: int = 40) -> str:
        """The end of the broker's log, or an empty string where there is none to read."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...


class WatchedNode(Protocol):
    """One broker process whose death this run can notice."""

    @property
    def name(self) -> str:
        """``node 2``: the node's id in its cluster."""
        ...

    @property
    def bootstrap_servers(self) -> str:
        """This node's own address."""
        ...

    @property
    def pid(self) -> int | None:
        """The process id (None once this run stopped or let go of the process)."""
        ...

    @property
    def log_path(self) -> Path: ...

    def ended(self) -> str | None:
        """How the process ended, in words (``killed by SIGKILL``); None while it runs
        and once this run stopped or let go of it."""
        ...

    def log_tail(self, lines: int = 40) -> str: ...

    def keep_log(self, name: str) -> Path | None:
        """Copy the log, before its data folder goes, to the cache as ``name``; None where
        the log is not this process's to keep."""
        ...


@runtime_checkable
class Watched(Protocol):
    """The optional part of a broker whose processes this run can watch."""

    def watched_nodes(self) -> Sequence[WatchedNode]:
        """The nodes that should be running now (not those a test stopped on purpose)."""
        ...


def watched_nodes(broker: KafkaBroker | None) -> Sequence[WatchedNode]:
    """The nodes of ``broker`` to watch; none for a broker not watched from here."""
    return broker.watched_nodes() if isinstance(broker, Watched) else ()


def broker_for(config: LabConfig, progress: Any = None) -> KafkaBroker:
    """The backend that ``config`` asks for, not yet started (``start()`` starts it)."""
    if config.backend == "external":
        from pytest_kafka_lab.backends.external import ExternalCluster

        return ExternalCluster(config)
    if config.backend == "container":
        from pytest_kafka_lab.backends.container import ContainerBroker

        return ContainerBroker(config)
    if config.brokers > 1:
        from pytest_kafka_lab.backends.cluster import LocalCluster

        return LocalCluster(config, config.brokers, progress=progress)
    from pytest_kafka_lab.backends.local import LocalBroker, reusable_broker

    if config.reuse:
        return reusable_broker(config, progress)
    return LocalBroker(config, progress=progress)
