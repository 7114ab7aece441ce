"""An existing cluster: nothing is started, but it must answer before tests use it."""

from __future__ import annotations

import time
from typing import Any

from pytest_kafka_lab.config import LabConfig, read_properties
from pytest_kafka_lab.readiness import wait_until_ready


class ExternalCluster:
    """A cluster the user runs (``--kafka-bootstrap``), or one an xdist controller shares."""

    backend = "external"

    def __init__(self, config: LabConfig, kafka_version: str = "unknown (external)") -> None:
        assert config.bootstrap, "an external cluster needs a bootstrap address"
        self.config = config
        self.bootstrap_servers = config.bootstrap
        self.kafka_version = kafka_version
        self.startup_seconds = 0.0
        self.extra = read_properties(config.client_config) if config.client_config else {}

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        return {**self.extra, "bootstrap.servers": self.bootstrap_servers, **overrides}

    def describe(self) -> str:
        secured = f", client config {self.config.client_config}" if self.extra else ""
        return (f"Kafka {self.kafka_version}, backend {self.backend}, bootstrap "
                f"{self.bootstrap_servers}{secured}, answered in {self.startup_seconds:.1f}s")

    def log_tail(self, lines: int = 40) -> str:
        return ""

    def __enter__(self) -> ExternalCluster:
        started = time.monotonic()
        wait_until_ready(self.client_config(), self.config.start_timeout)
        self.startup_seconds = time.monotonic() - started
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Nothing to stop: the cluster is not ours. Fixtures delete what they made."""
