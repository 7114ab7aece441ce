"""Helpers for the plugin's own tests: finding our broker JVMs and running inner pytests.

A Kafka JVM is recognised by its main class, ``kafka.Kafka``, as a separate argument of
its command line; it belongs to a run when its parent chain leads to that run's pytest.
Engineers around may run brokers of their own: the helpers only ever look at JVMs
descended from a process a test started, or at processes an inner run recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.waiting import wait_for

KAFKA_MAIN_CLASS = "kafka.Kafka"

# The examples are test files for inner runs, never tests of this run.
collect_ignore = ["examples"]


class Jvms:
    """Finds Kafka broker JVMs and waits for them to go."""

    @staticmethod
    def alive(process: psutil.Process) -> bool:
        """True while ``process`` (the very one: pid reuse is detected) runs, no zombie."""
        try:
            return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    @classmethod
    def all(cls) -> list[psutil.Process]:
        """Every live process on the machine running Kafka's broker main class."""
        found = []
        for process in psutil.process_iter(["cmdline"]):
            if KAFKA_MAIN_CLASS in (process.info["cmdline"] or []) and cls.alive(process):
                found.append(process)
        return found

    @staticmethod
    def ancestors(process: psutil.Process) -> set[int]:
        try:
            return {parent.pid for parent in process.parents()}
        except psutil.Error:
            return set()

    @classmethod
    def under(cls, pid: int) -> list[psutil.Process]:
        """The live Kafka JVMs whose parent chain leads to process ``pid``."""
        return [jvm for jvm in cls.all() if pid in cls.ancestors(jvm)]

    @classmethod
    def recorded(cls, path: Path) -> psutil.Process | None:
        """The process an inner run recorded as "pid create_time", if it is that one still."""
        pid, created = path.read_text().split()
        return cls.same(int(pid), float(created))

    @staticmethod
    def same(pid: int, created: float) -> psutil.Process | None:
        """Process ``pid`` if it is still the one created at ``created`` (not a reused pid)."""
        try:
            process = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return None
        return process if abs(process.create_time() - created) < 0.01 else None

    @classmethod
    def wait_gone(cls, processes: list[psutil.Process], timeout: float = 30.0) -> None:
        """Wait until none of ``processes`` is alive."""
        wait_for(lambda: not any(cls.alive(p) for p in processes), timeout,
                 "the broker JVM(s) to be gone",
                 lambda: [p.pid for p in processes if cls.alive(p)])

    @staticmethod
    def data_dir_of(jvm: psutil.Process) -> Path:
        """The broker's data folder: where its ``server.properties`` (an argument) lives."""
        properties = [arg for arg in jvm.cmdline() if arg.endswith("server.properties")]
        assert properties, f"no server.properties in the command line of JVM {jvm.pid}"
        return Path(properties[-1]).parent


@pytest.fixture
def jvms() -> type[Jvms]:
    """The JVM finder (``jvms.under(pid)``, ``jvms.wait_gone([...])``, ...)."""
    return Jvms


@pytest.fixture
def inner_tmpdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private TMPDIR for inner runs: their brokers' data folders land here, so a test
    can tell whether a run left one behind without seeing anyone else's."""
    return tmp_path_factory.mktemp("inner-tmp")


@pytest.fixture
def lab_pytester(
    pytester: pytest.Pytester,
    kafka_lab_config: LabConfig,
    inner_tmpdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> pytest.Pytester:
    """``pytester`` whose inner runs use this session's jar cache (pytester moves HOME,
    and an empty cache would download ~100 MB) and a private TMPDIR."""
    monkeypatch.setenv("KAFKA_LAB_CACHE_DIR", str(kafka_lab_config.cache_dir))
    monkeypatch.setenv("TMPDIR", str(inner_tmpdir))
    for variable in ("KAFKA_LAB_BOOTSTRAP", "KAFKA_HOME", "PYTEST_XDIST_WORKER",
                     "PYTEST_ADDOPTS"):
        monkeypatch.delenv(variable, raising=False)
    return pytester


@pytest.fixture
def data_dirs_left(inner_tmpdir: Path) -> Callable[[], list[str]]:
    """``data_dirs_left()``: the broker data folders (``kafka-lab-*``) in the inner runs'
    TMPDIR, which a run that cleaned up after itself leaves none of."""
    return lambda: sorted(path.name for path in inner_tmpdir.glob("kafka-lab-*"))
