"""An existing cluster: nothing is started, but it must answer before tests use it."""

from __future__ import annotations

from pytest_kafka_lab.backends import Backend
from pytest_kafka_lab.backends.base import ExistingBroker
from pytest_kafka_lab.config import LabConfig


class ExternalCluster(ExistingBroker):
    """A cluster the user runs (``--kafka-bootstrap``, with ``--kafka-client-config``)."""

    backend: Backend = "external"

    def __init__(self, config: LabConfig, kafka_version: str = "unknown (external)") -> None:
        assert config.bootstrap, "an external cluster needs a bootstrap address"
        super().__init__(config, config.bootstrap, kafka_version, origin=self.backend)
