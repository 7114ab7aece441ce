"""The default backend: one KRaft node (broker and controller) as a child JVM.

It runs from the cached jars on free loopback ports with its data in a temporary folder,
is ready once it answers a metadata request, and dies with its parent: stopped cleanly
at the end, killed as a process group when that times out, and killed by the kernel if
pytest itself is killed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from filelock import FileLock
from mirakuru import Executor, SimpleExecutor
from mirakuru.base import ENV_UUID
from mirakuru.exceptions import AlreadyRunning, ProcessExitedWithError, TimeoutExpired

from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.distribution import Distribution, resolve_distribution
from pytest_kafka_lab.exceptions import BrokerStartError
from pytest_kafka_lab.processes import die_with_parent
from pytest_kafka_lab.readiness import answers_metadata

LOG = logging.getLogger(__name__)
Report = Callable[[str], None]
StatusFactory = Callable[[str], AbstractContextManager[Report]]

# Settings made for tests: one replica of everything, no initial rebalance delay, small
# internal topics, and group timeouts that a test killing a member can afford to wait.
TEST_BROKER_SETTINGS: dict[str, str] = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "share.coordinator.state.topic.num.partitions": "1",
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "1000",
    "group.consumer.min.session.timeout.ms": "1000",
    "group.consumer.session.timeout.ms": "6000",
    "group.consumer.min.heartbeat.interval.ms": "500",
    "group.consumer.heartbeat.interval.ms": "1000",
    "num.partitions": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "auto.create.topics.enable": "true",
    "delete.topic.enable": "true",
    "log.segment.bytes": "16777216",
    "num.network.threads": "2",
    "num.io.threads": "4",
}

# A small heap and one GC thread suit a 2-core test machine. Stopping at the C1 compiler
# would start faster still, but slow the broker down for the benchmarks.
JVM_FLAGS = ("-Xms128m", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
             "-Djava.awt.headless=true")


# Listening ports are taken below the kernel's ephemeral range: a port from there can be
# given to a client's outgoing connection between our probe and the broker's bind, or
# while a killed node is down and its clients reconnect in a loop.
LISTEN_PORTS_FROM = 10000


def ephemeral_floor() -> int:
    """The lowest port the kernel hands to outgoing connections (Linux; else its default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port nothing listens on, outside the ephemeral range where it can."""
    below = ephemeral_floor()
    for _ in range(200):
        port = random.randrange(LISTEN_PORTS_FROM, below) if below > LISTEN_PORTS_FROM else 0
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError(f"no free loopback port between {LISTEN_PORTS_FROM} and {below}")


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def tail_of(log: Path, lines: int = 40) -> str:
    """The last ``lines`` of the file ``log``; empty if it is not there (any more)."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# Formatted storage is made once and copied (see ``_formatted_template``); every node of
# every lab cluster shares this id, so nodes formatted at different times agree.
LAB_CLUSTER_ID = base64.urlsafe_b64encode(
    uuid.uuid5(uuid.NAMESPACE_URL, "pytest-kafka-lab").bytes).decode().rstrip("=")


@dataclass
class Quorum:
    """The controllers' ports, by node id: every node of a cluster names all voters."""

    controller_ports: dict[int, int] = field(default_factory=dict)

    def voters(self) -> str:
        return ",".join(f"{node}@127.0.0.1:{port}"
                        for node, port in sorted(self.controller_ports.items()))


class BrokerProcess(Executor):
    """A mirakuru executor whose readiness check is a metadata request."""

    def __init__(
        self, command: list[str], port: int, log: IO[str], timeout: float, tied: bool = True
    ) -> None:
        super().__init__(
            command, timeout=timeout, sleep=0.1, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, expected_returncode=128 + signal.SIGTERM,
        )
        self.port = port
        self.tied = tied

    @property
    def _popen_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super()._popen_kwargs
        if self.tied:
            kwargs["preexec_fn"] = die_with_parent
        else:
            # mirakuru's exit handler kills every process carrying its marker variable.
            kwargs["env"] = {k: v for k, v in kwargs["env"].items() if k != ENV_UUID}
        return kwargs

    def release(self) -> None:
        """Forget the process without stopping it (a detached broker outlives us)."""
        self.process = None

    def pre_start_check(self) -> bool:
        return port_in_use(self.port)

    def after_start_check(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ProcessExitedWithError(self, self.process.returncode)
        return answers_metadata({"bootstrap.servers": f"127.0.0.1:{self.port}"}) > 0


@contextlib.contextmanager
def _no_status(_first: str) -> Iterator[Report]:
    yield lambda _text: None


class LocalBroker:
    """A single KRaft node run from Kafka's jars as a child process."""

    backend = "local"

    def __init__(
        self,
        config: LabConfig,
        progress: StatusFactory | None = None,
        data_dir: Path | None = None,
        die_with_parent: bool = True,
        node_id: int = 1,
        quorum: Quorum | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.node_id = node_id
        self.quorum = quorum or Quorum()
        self.settings = {**TEST_BROKER_SETTINGS, **(settings or {})}
        self.progress = progress or _no_status
        self.keep_data = data_dir is not None
        self.data_dir = data_dir
        self.die_with_parent = die_with_parent
        self.distribution: Distribution | None = None
        self.kafka_version = "unknown"
        self.port = config.port
        self.startup_seconds = 0.0
        self.process: BrokerProcess | None = None
        self._log: IO[str] | None = None

    # --- the broker interface ---------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap_servers, **overrides}

    def describe(self) -> str:
        origin = self.distribution.origin if self.distribution else "?"
        return (f"Kafka {self.kafka_version}, backend local (jars from {origin}), "
                f"bootstrap {self.bootstrap_servers}, ready in {self.startup_seconds:.1f}s")

    @property
    def log_path(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "broker.log"

    def log_tail(self, lines: int = 40) -> str:
        return "" if self.data_dir is None else tail_of(self.log_path, lines)

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- life --------------------------------------------------------------------------

    def start(self) -> LocalBroker:
        """Fetch the jars if needed, format storage, start the JVM, wait for an answer."""
        self.resolve()
        started = time.monotonic()
        try:
            with self.progress(f"Starting Kafka {self.kafka_version} (local KRaft node)"):
                self._start_with_retries()
        except BaseException:
            # Ctrl-C or a failure half-way: no JVM, no data folder, no open log stays.
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def resolve(self) -> Distribution:
        """The jars and Java this node runs (fetched on first use)."""
        if self.distribution is None:
            with self.progress("Preparing Kafka's jars") as report:
                self.distribution = resolve_distribution(
                    self.config.cache_dir, self.config.home, report)
            self.kafka_version = self.distribution.version
        return self.distribution

    def launch(self) -> None:
        """Start the JVM without waiting: a node of a cluster answers only once a majority
        of its quorum runs, so the cluster starts every node and then waits."""
        self._prepare_storage()
        self._launch(wait=False)


    def _start_with_retries(self) -> None:
        attempts = 1 if self.config.port else 3
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

    def _prepare_storage(self) -> None:
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="kafka-lab-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or self.config.port or free_port()
        # Kept across restarts: the other voters know the node by this port.
        self.quorum.controller_ports.setdefault(self.node_id, free_port())
        properties = self.data_dir / "server.properties"
        properties.write_text(self.server_properties())
        logs = self.data_dir / "logs"
        if not (logs / "meta.properties").exists():
            shutil.copytree(self._formatted_template(), logs, dirs_exist_ok=True)

    def _formatted_template(self) -> Path:
        """Freshly formatted storage, made once per Kafka version and settings and copied
        for each start: formatting runs a JVM of its own and costs most of a second."""
        assert self.distribution is not None
        identity = (self.node_id, sorted(self.settings.items()),
                    sorted(self.config.broker_properties))
        key = hashlib.sha256(repr(identity).encode()).hexdigest()
        cache = self.config.cache_dir / f"storage-{self.distribution.version}-{key[:12]}"
        if (cache / "meta.properties").exists():
            return cache
        self.config.cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(cache) + ".lock"):
            if not (cache / "meta.properties").exists():
                self._format(cache)
        return cache

    def _format(self, target: Path) -> None:
        assert self.distribution is not None and self.data_dir is not None
        staging = Path(tempfile.mkdtemp(prefix="format-", dir=target.parent))
        properties = staging / "server.properties"
        properties.write_text(self.server_properties().replace(
            str(self.data_dir / "logs"), str(staging / "logs")))
        formatting = subprocess.run(
            self.distribution.command(
                "kafka.tools.StorageTool", "format", "-t", LAB_CLUSTER_ID, "-c", str(properties),
                jvm_flags=("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"),
            ),
            capture_output=True, text=True, timeout=self.config.start_timeout, check=False,
        )
        if formatting.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise BrokerStartError(
                f"formatting the broker's storage failed (exit {formatting.returncode}):\n"
                f"{formatting.stdout}{formatting.stderr}"
            )
        (staging / "logs").rename(target)
        shutil.rmtree(staging, ignore_errors=True)

    def server_properties(self) -> str:
        assert self.data_dir is not None
        controller_port = self.quorum.controller_ports[self.node_id]
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.quorum.voters(),
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                         f"CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            **self.settings,
            **dict(self.config.broker_properties),
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    @property
    def class_archive(self) -> Path:
        """Where this Java and class path keep their class-data-sharing archive."""
        assert self.distribution is not None
        identity = f"{self.distribution.java}|{self.distribution.classpath}|{JVM_FLAGS}"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
        return self.config.cache_dir / f"broker-classes-{self.distribution.version}-{digest}.jsa"

    def _class_sharing_flags(self) -> tuple[str, ...]:
        """Start from the class archive when there is one; otherwise make one at exit.

        Loading Kafka's classes from a shared archive halves the JVM's start. The archive
        is written when this broker stops cleanly and moved into the cache afterwards.
        """
        assert self.data_dir is not None
        if self.class_archive.exists():
            return (f"-XX:SharedArchiveFile={self.class_archive}",)
        return (f"-XX:ArchiveClassesAtExit={self.data_dir / 'broker.jsa'}",)

    def _keep_class_archive(self) -> None:
        made = self.data_dir / "broker.jsa" if self.data_dir else None
        if made is not None and made.exists() and not self.class_archive.exists():
            staged = self.class_archive.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
            shutil.move(str(made), staged)
            staged.replace(self.class_archive)

    def _launch(self, wait: bool = True) -> None:
        assert self.distribution is not None and self.data_dir is not None
        command = self.distribution.command(
            "kafka.Kafka", str(self.data_dir / "server.properties"),
            jvm_flags=(*JVM_FLAGS, f"-Xmx{self.config.heap}", *self._class_sharing_flags()),
        )
        self._log = self.log_path.open("a")
        self.process = BrokerProcess(
            command, self.port, self._log, self.config.start_timeout, tied=self.die_with_parent
        )
        try:
            if wait:
                self.process.start()
            else:
                SimpleExecutor.start(self.process)
        except AlreadyRunning as error:
            self.process = None
            self.stop()
            raise BrokerStartError(
                f"port {self.port} on 127.0.0.1 is already in use, so a new broker cannot "
                "listen there. Stop what uses it (`kafka-lab down` if it is a broker of "
                f"ours; `ss -ltnp 'sport = :{self.port}'` shows the process) or choose "
                "another port with --kafka-port (0 picks a free one)."
            ) from error
        except (ProcessExitedWithError, TimeoutExpired) as error:
            tail, kept = self.log_tail(), self.keep_log("failed-start-broker.log")
            self.stop()
            what = ("exited while starting" if isinstance(error, ProcessExitedWithError)
                    else f"did not answer within {self.config.start_timeout:g}s")
            raise BrokerStartError(
                f"the Kafka broker {what}. Its log (kept as {kept}) ends with:\n{tail}"
            ) from error

    def keep_log(self, name: str) -> Path:
        """Copy the log out of the data folder, which goes, into the cache as ``name``."""
        kept = self.config.cache_dir / name
        with contextlib.suppress(OSError):
            self.config.cache_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log_path, kept)
        return kept

    def kill(self) -> None:
        """SIGKILL the JVM, as a crash would; its data stays for a restart."""
        if self.process is not None:
            self.process.kill(sig=signal.SIGKILL)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def signal(self, number: int) -> None:
        """Send ``number`` (SIGSTOP, SIGCONT, ...) to the JVM."""
        if self.pid is not None:
            os.kill(self.pid, number)

    def stop(self, keep_data: bool = False) -> None:
        """Stop the broker cleanly; kill its process group if that takes too long."""
        clean = False
        if self.process is not None and self.exit_code() is not None:
            self.process.release()  # it died: nothing to stop, and no archive to keep
            self.process = None
        if self.process is not None:
            try:
                self.process.stop()
                clean = True
            except Exception as error:
                LOG.warning("stopping the broker failed (%s); killing its process group", error)
                self.process.kill()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if clean:  # a killed JVM may have left half an archive
            try:
                self._keep_class_archive()
            except OSError as error:
                LOG.warning("could not keep the broker's class archive: %s", error)
        if self.data_dir is not None and not (self.keep_data or keep_data):
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def detach(self) -> None:
        """Leave the broker running after this process exits; ``kafka-lab down`` stops it."""
        if self.process is not None:
            self.process.release()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def exit_code(self) -> int | None:
        """How the JVM ended by itself (``Popen.returncode``, negative for a signal); None
        while it runs, and for a broker not watched from here (detached, or not started)."""
        if self.process is None or self.process.process is None:
            return None
        code: int | None = self.process.process.poll()
        return code

    @property
    def pid(self) -> int | None:
        """The JVM's process id while it runs."""
        if self.process is None or self.process.process is None:
            return None
        return int(self.process.process.pid)
