"""The default backend: one KRaft node as a child JVM, ready once it answers a metadata
request; with ``--kafka-reuse``, one kept running for the next run (or reused from the
last).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Self

from pytest_kafka_lab import detached
from pytest_kafka_lab.backends import Backend
from pytest_kafka_lab.backends.base import ExistingBroker
from pytest_kafka_lab.backends.kraft import KraftNode, StatusFactory
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.distribution import KAFKA_VERSION
from pytest_kafka_lab.exceptions import BrokerStartError


class LocalBroker(KraftNode):
    """A single KRaft node: the local backend's broker, and the one node it watches."""

    backend: Backend = "local"

    def describe(self) -> str:
        origin = self.distribution.origin if self.distribution else "?"
        return (f"Kafka {self.kafka_version}, backend local (jars from {origin}), "
                f"bootstrap {self.bootstrap_servers}, ready in {self.startup_seconds:.1f}s")

    def watched_nodes(self) -> Sequence[LocalBroker]:
        return (self,)

    def start(self) -> Self:
        """Fetch the jars if needed, format storage, start the JVM, wait for an answer."""
        self.resolve()
        return self.timed_start(self._start_with_retries)

    def _start_with_retries(self) -> None:
        attempts = 1 if self.config.port else 3
        with self.progress(f"Starting Kafka {self.kafka_version} (local KRaft node)"):
            for attempt in range(1, attempts + 1):
                self._prepare_storage()
                try:
                    self._launch()
                    return
                except BrokerStartError:
                    # A free port can be taken between choosing it and the JVM binding it.
                    if attempt == attempts or "Address already in use" not in self.log_tail(200):
                        raise
                    self.port = 0
                    self.quorum.controller_ports.pop(self.node_id, None)


class KeptBroker(LocalBroker):
    """A local broker that outlives the run (``--kafka-reuse``): once started, it is
    recorded in the cache folder and let go, so that the next run finds and reuses it;
    ``kafka-lab down`` stops it."""

    outlives_run = True

    def start(self) -> Self:
        super().start()
        # Recorded at once, so that even a killed run leaves it findable.
        detached.record(self, self.config)
        return self


class ReusedBroker(ExistingBroker):
    """The local broker an earlier ``--kafka-reuse`` run kept: used as it is, not stopped."""

    backend: Backend = "reused"

    def __init__(self, config: LabConfig, found: detached.DetachedBroker) -> None:
        super().__init__(config, found.bootstrap_servers, found.version,
                         origin=f"local, reused (pid {found.pid}; "
                                f"`kafka-lab down --port {found.port}`)")


def reusable_broker(config: LabConfig, progress: StatusFactory | None = None
                    ) -> ReusedBroker | KeptBroker:
    """With ``--kafka-reuse``: the broker an earlier run kept, if one of this version and
    these settings answers; else a fresh one that this run keeps."""
    found = detached.find_reusable(config, KAFKA_VERSION)
    if found is not None:
        return ReusedBroker(config, found)
    # Its own data folder, not tied to pytest: it is meant to outlive this run.
    data_dir = config.cache_dir / f"reuse-{uuid.uuid4().hex[:8]}"
    return KeptBroker(config, progress=progress, data_dir=data_dir, die_with_parent=False)
