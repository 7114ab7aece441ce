"""Brokers that outlive the process that started them: ``kafka-lab up --detach`` and
``pytest --kafka-reuse``. Each is recorded in ``up-<port>.json`` in the cache folder, so
``kafka-lab status/down`` find it and a later run can reuse it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.processes import kill_group
from pytest_kafka_lab.readiness import answers_metadata
from pytest_kafka_lab.waiting import WaitTimeout, wait_for

if TYPE_CHECKING:  # the local backend records its brokers here
    from pytest_kafka_lab.backends.local import LocalBroker


@dataclass(frozen=True)
class DetachedBroker:
    pid: int
    port: int
    data_dir: str
    version: str
    settings: str = ""

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def answers(self, timeout: float = 3.0) -> bool:
        return self.alive() and answers_metadata(
            {"bootstrap.servers": self.bootstrap_servers}, timeout)


def settings_key(config: LabConfig) -> str:
    """What must match for a broker to be reused: the settings a test could observe."""
    return hashlib.sha256(repr(sorted(config.broker_properties)).encode()).hexdigest()[:12]


def state_file(cache_dir: Path, port: int) -> Path:
    return cache_dir / f"up-{port}.json"


def record(broker: LocalBroker, config: LabConfig) -> DetachedBroker:
    """Let ``broker`` run on after this process, and write down where it is."""
    assert broker.pid is not None and broker.data_dir is not None
    detached = DetachedBroker(broker.pid, broker.port, str(broker.data_dir),
                              broker.kafka_version, settings_key(config))
    broker.detach()
    state_file(config.cache_dir, detached.port).write_text(json.dumps(asdict(detached)))
    return detached


def load(cache_dir: Path, port: int) -> DetachedBroker | None:
    path = state_file(cache_dir, port)
    try:
        return DetachedBroker(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def find_reusable(config: LabConfig, version: str) -> DetachedBroker | None:
    """A recorded broker of this Kafka version and these settings that answers now."""
    for path in sorted(config.cache_dir.glob("up-*.json")):
        candidate = load(config.cache_dir, int(path.stem.removeprefix("up-")))
        if (candidate is not None and candidate.version == version
                and candidate.settings == settings_key(config) and candidate.answers()):
            return candidate
    return None


def stop(cache_dir: Path, port: int, timeout: float = 30.0) -> bool:
    """Stop the recorded broker on ``port`` (SIGTERM, then SIGKILL) and forget it."""
    detached = load(cache_dir, port)
    if detached is None:
        return False
    kill_group(detached.pid, signal.SIGTERM)
    try:
        wait_for(lambda: not detached.alive(), timeout, f"broker {detached.pid} to stop")
    except WaitTimeout:
        kill_group(detached.pid, signal.SIGKILL)
    shutil.rmtree(detached.data_dir, ignore_errors=True)
    state_file(cache_dir, port).unlink(missing_ok=True)
    return True
