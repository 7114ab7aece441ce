"""One broker per test run: started on first need, shared by xdist workers, always stopped.

Under pytest-xdist the controller owns the broker and hands its address to the workers,
so two workers never start two brokers and none stops it while another still tests.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import pytest

from pytest_kafka_lab import detached
from pytest_kafka_lab.backends import KafkaBroker, broker_for
from pytest_kafka_lab.backends.external import ExternalCluster
from pytest_kafka_lab.backends.local import LocalBroker
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.distribution import KAFKA_VERSION
from pytest_kafka_lab.exceptions import BrokerStartError
from pytest_kafka_lab.progress import status

LOG = logging.getLogger(__name__)

WORKER_KEYS = ("kafka_lab_bootstrap", "kafka_lab_version", "kafka_lab_description")


class BrokerHolder:
    """Starts the configured broker once, remembers a failed start, stops it at the end."""

    def __init__(self, lab_config: LabConfig, pytest_config: pytest.Config | None = None) -> None:
        self.lab_config = lab_config
        self.pytest_config = pytest_config
        self.broker: KafkaBroker | None = None
        self.error: Exception | None = None

    @property
    def started(self) -> bool:
        return self.broker is not None

    def get(self) -> KafkaBroker:
        """The running broker, starting it on first call; a failed start raises every time."""
        if self.error is not None:
            raise self.error
        if self.broker is None:
            shared = self.from_xdist_controller() or self.reusable()
            candidate = shared or broker_for(
                self.lab_config, functools.partial(status, self.pytest_config)
            )
            try:
                self.broker = candidate.__enter__()
            except Exception as error:
                self.error = error
                raise
            except BaseException:  # Ctrl-C while starting: undo, remember nothing
                candidate.__exit__(None, None, None)
                raise
            if isinstance(self.broker, LocalBroker) and self.lab_config.reuse:
                # Recorded at once, so that even a killed run leaves it findable.
                detached.record(self.broker, self.lab_config)
        return self.broker

    def from_xdist_controller(self) -> KafkaBroker | None:
        workerinput: dict[str, Any] | None = getattr(self.pytest_config, "workerinput", None)
        if workerinput and "kafka_lab_error" in workerinput:
            raise BrokerStartError(workerinput["kafka_lab_error"])
        if not workerinput or "kafka_lab_bootstrap" not in workerinput:
            return None
        address = workerinput["kafka_lab_bootstrap"]
        shared = ExternalCluster(self.lab_config.replace(bootstrap=address),
                                 workerinput["kafka_lab_version"])
        shared.backend = f"{self.lab_config.backend}, shared by the xdist controller"
        return shared

    def reusable(self) -> KafkaBroker | None:
        """With ``--kafka-reuse``: a broker an earlier run left running, if one answers."""
        if not (self.lab_config.reuse and self.lab_config.backend == "local"):
            return None
        found = detached.find_reusable(self.lab_config, KAFKA_VERSION)
        if found is None:
            return None
        reused = ExternalCluster(self.lab_config.replace(bootstrap=found.bootstrap_servers),
                                 found.version)
        reused.backend = f"local, reused (pid {found.pid}; `kafka-lab down --port {found.port}`)"
        return reused

    def worker_input(self) -> dict[str, str]:
        """What an xdist worker needs to use this (the controller's) broker."""
        broker = self.get()
        return dict(zip(WORKER_KEYS, (broker.bootstrap_servers, broker.kafka_version,
                                      broker.describe()), strict=True))

    def close(self) -> None:
        if isinstance(self.broker, LocalBroker) and self.lab_config.reuse:
            self.broker = None  # kept for the next run; `kafka-lab down` stops it
        if self.broker is not None:
            try:
                self.broker.__exit__(None, None, None)
            except Exception:
                LOG.exception("stopping the Kafka broker failed")
            self.broker = None
