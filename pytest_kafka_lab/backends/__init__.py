"""One broker interface, several implementations: a local process, a container, a cluster.

Each backend gives a bootstrap address and client settings, and is a context manager
that is ready (it answered a metadata request) once entered and cleaned up once left.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, Self, runtime_checkable

from pytest_kafka_lab.config import LabConfig


@runtime_checkable
class KafkaBroker(Protocol):
    """What every backend offers the fixtures."""

    @property
    def backend(self) -> str:
        """``local``, ``container`` or ``external``."""
        ...

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


def broker_for(config: LabConfig, progress: Any = None) -> KafkaBroker:
    """The backend that ``config`` asks for, not yet started (enter it to start)."""
    if config.backend == "external":
        from pytest_kafka_lab.backends.external import ExternalCluster

        return ExternalCluster(config)
    if config.backend == "container":
        from pytest_kafka_lab.backends.container import ContainerBroker

        return ContainerBroker(config)
    from pytest_kafka_lab.backends.local import LocalBroker

    if config.brokers > 1:
        from pytest_kafka_lab.backends.cluster import LocalCluster

        return LocalCluster(config, config.brokers, progress=progress)
    if config.reuse:
        # A broker meant to outlive this run: its own data folder, not tied to pytest.
        data_dir = config.cache_dir / f"reuse-{uuid.uuid4().hex[:8]}"
        return LocalBroker(config, progress=progress, data_dir=data_dir, die_with_parent=False)
    return LocalBroker(config, progress=progress)
