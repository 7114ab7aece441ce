"""The xdist controller's broker, shared with its workers.

Under pytest-xdist the controller starts the broker (any backend) and hands each worker
its address and version and, for local nodes, what a worker needs to notice that one
died: each node's pid and log. A worker uses it as an existing cluster and never stops or
restarts it: the controller owns it, and other workers share it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_kafka_lab.backends import Backend, KafkaBroker, watched_nodes
from pytest_kafka_lab.backends.base import ExistingBroker
from pytest_kafka_lab.backends.watching import WatchedPid, tails_of
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.exceptions import BrokerStartError

# The keys of xdist's ``workerinput`` that carry the controller's broker to a worker.
BOOTSTRAP, VERSION, NODES, ERROR = ("kafka_lab_bootstrap", "kafka_lab_version",
                                    "kafka_lab_nodes", "kafka_lab_error")


def handover(broker: KafkaBroker) -> dict[str, str]:
    """Controller: what a worker needs to use ``broker`` and watch its nodes."""
    nodes = [{"name": node.name, "bootstrap": node.bootstrap_servers, "pid": node.pid,
              "log": str(node.log_path)} for node in watched_nodes(broker) if node.pid]
    return {BOOTSTRAP: broker.bootstrap_servers, VERSION: broker.kafka_version,
            NODES: json.dumps(nodes)}


def handover_failed(error: Exception) -> dict[str, str]:
    """Controller: what makes each worker's use of the broker fail as its start did."""
    return {ERROR: str(error)}


def from_controller(config: LabConfig, workerinput: Mapping[str, Any] | None
                    ) -> SharedBroker | None:
    """Worker: the controller's broker (not yet reached), None outside xdist workers; a
    start that failed on the controller raises its error here."""
    if workerinput and ERROR in workerinput:
        raise BrokerStartError(workerinput[ERROR])
    if not workerinput or BOOTSTRAP not in workerinput:
        return None
    return SharedBroker(config, workerinput)


class SharedBroker(ExistingBroker):
    """An xdist worker's view of the controller's broker: used like an existing cluster,
    watched through its nodes' pids and logs, never stopped or restarted from here."""

    backend: Backend = "xdist-shared"

    def __init__(self, config: LabConfig, handed: Mapping[str, Any]) -> None:
        super().__init__(config, handed[BOOTSTRAP], handed[VERSION],
                         origin=f"{config.backend}, shared by the xdist controller")
        self.nodes = [WatchedPid(node["name"], node["bootstrap"], int(node["pid"]),
                                 Path(node["log"])) for node in json.loads(handed[NODES])]

    @property
    def pid(self) -> int | None:
        """The controller's broker process (a cluster's first node); None for a broker
        whose process the controller does not run (an existing cluster, a container)."""
        return self.nodes[0].pid if self.nodes else None

    def log_tail(self, lines: int = 40) -> str:
        return tails_of(self.nodes, lines)

    def watched_nodes(self) -> Sequence[WatchedPid]:
        return self.nodes
