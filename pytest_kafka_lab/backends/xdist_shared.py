"""The xdist controller's broker, shared with its workers.

Under pytest-xdist the controller owns the broker (any backend) and starts it only when a
worker's tests need one. The controller collects nothing, so the workers say so: each
worker is handed a meeting point, a folder of the controller's, and one whose collected
tests use the broker leaves a note there (``ask_for_broker``) before it reports its
collection. The controller reads the note as that report reaches it, before it hands out
a single test, starts the broker once, and leaves its address and version there (for
local nodes, what a worker needs to notice that one died: each node's pid and log), or
why it did not start (``hand_over``, ``hand_over_failure``). Only the controller writes
the broker's file, once, by an atomic rename, and no worker reads it before its first
test: no lock is needed. A worker uses the broker as an existing cluster and never stops
or restarts it: the controller owns it, and other workers share it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_kafka_lab.backends import Backend, KafkaBroker, watched_nodes
from pytest_kafka_lab.backends.base import ExistingBroker
from pytest_kafka_lab.backends.watching import WatchedPid, tails_of
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.exceptions import BrokerStartError

# The key of xdist's ``workerinput`` that names the meeting point.
MEETING = "kafka_lab_meeting"
# In the meeting point: a worker's note that its tests need the broker; the broker.
ASKED, HANDED = "asked", "broker.json"
# The keys of the broker's file.
BOOTSTRAP, VERSION, NODES, ERROR = "bootstrap", "version", "nodes", "error"


def meeting_point(workerinput: Mapping[str, Any] | None) -> Path | None:
    """Worker: the controller's meeting point, None outside xdist workers (or when the
    controller shares no broker: ``lifecycle.WORKERS_NEED_NO_BROKER``)."""
    folder = (workerinput or {}).get(MEETING)
    return Path(folder) if folder else None


def ask_for_broker(workerinput: Mapping[str, Any] | None) -> bool:
    """Worker: ask the controller for the broker (before reporting the collection); False
    where there is no controller to ask (or its folder is out of reach: a remote worker)."""
    folder = meeting_point(workerinput)
    if folder is None or not folder.is_dir():
        return False
    (folder / ASKED).touch()
    return True


def asked(folder: Path) -> bool:
    """Controller: whether a worker asked for the broker."""
    return (folder / ASKED).exists()


def hand_over(folder: Path, broker: KafkaBroker) -> None:
    """Controller: leave what a worker needs to use ``broker`` and watch its nodes."""
    nodes = [{"name": node.name, "bootstrap": node.bootstrap_servers, "pid": node.pid,
              "log": str(node.log_path)} for node in watched_nodes(broker) if node.pid]
    write(folder, {BOOTSTRAP: broker.bootstrap_servers, VERSION: broker.kafka_version,
                   NODES: nodes})


def hand_over_failure(folder: Path, error: Exception) -> None:
    """Controller: leave what makes each worker's use of the broker fail as its start did."""
    write(folder, {ERROR: str(error)})


def write(folder: Path, handed: dict[str, Any]) -> None:
    partial = folder / f"{HANDED}.partial"
    partial.write_text(json.dumps(handed))
    os.replace(partial, folder / HANDED)  # a reader sees the whole file or none


def from_controller(config: LabConfig, workerinput: Mapping[str, Any] | None
                    ) -> SharedBroker | None:
    """Worker: the controller's broker (not yet reached); None outside xdist workers, or
    when the controller started none (no worker's collection asked for it: a test that
    asks for the broker only by ``request.getfixturevalue``); a start that failed on the
    controller raises its error here."""
    folder = meeting_point(workerinput)
    if folder is None:
        return None
    try:
        handed = json.loads((folder / HANDED).read_text())
    except FileNotFoundError:
        return None
    if ERROR in handed:
        raise BrokerStartError(handed[ERROR])
    return SharedBroker(config, handed)


class SharedBroker(ExistingBroker):
    """An xdist worker's view of the controller's broker: used like an existing cluster,
    watched through its nodes' pids and logs, never stopped or restarted from here."""

    backend: Backend = "xdist-shared"

    def __init__(self, config: LabConfig, handed: Mapping[str, Any]) -> None:
        super().__init__(config, handed[BOOTSTRAP], handed[VERSION],
                         origin=f"{config.backend}, shared by the xdist controller")
        self.nodes = [WatchedPid(node["name"], node["bootstrap"], int(node["pid"]),
                                 Path(node["log"])) for node in handed[NODES]]

    @property
    def pid(self) -> int | None:
        """The controller's broker process (a cluster's first node); None for a broker
        whose process the controller does not run (an existing cluster, a container)."""
        return self.nodes[0].pid if self.nodes else None

    def log_tail(self, lines: int = 40) -> str:
        return tails_of(self.nodes, lines)

    def watched_nodes(self) -> Sequence[WatchedPid]:
        return self.nodes
