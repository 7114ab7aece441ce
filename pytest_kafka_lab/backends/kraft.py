"""One KRaft node (broker and controller) as a child JVM: the building block of the local
backend (one node) and of a local cluster (several, sharing a quorum).

A node runs from the cached jars on free loopback ports with its data in a temporary
folder, and dies with its parent: stopped cleanly at the end, killed as a process group
when that times out, and killed by the kernel if pytest itself is killed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from filelock import FileLock
from mirakuru import Executor
from mirakuru.base import ENV_UUID
from mirakuru.exceptions import AlreadyRunning, ProcessExitedWithError, TimeoutExpired

from pytest_kafka_lab.backends.base import (
    TEST_BROKER_SETTINGS,
    LoopbackBroker,
    free_port,
    port_in_use,
)
from pytest_kafka_lab.backends.watching import describe_exit, tail_of
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.distribution import Distribution, resolve_distribution
from pytest_kafka_lab.exceptions import BrokerStartError
from pytest_kafka_lab.processes import die_with_parent
from pytest_kafka_lab.readiness import answers_metadata, what_a_probe_sees

LOG = logging.getLogger(__name__)
Report = Callable[[str], None]
StatusFactory = Callable[[str], AbstractContextManager[Report]]

# A small heap and one GC thread suit a 2-core test machine.
JVM_FLAGS = ("-Xms128m", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
             "-Djava.awt.headless=true")
# ``--kafka-jit``. A test broker lives for seconds or minutes: C2 compiling each code path
# a test wakes (transactions, a restart's recovery, group coordination) cost more CPU
# than its faster code saves. On a three-node cluster through a killed leader and a killed
# transaction coordinator, C1 alone took 45 CPU-s and 35 s, C2 as well 79 CPU-s and 49 s.
# Throughput benchmarks run long enough for C2 to pay.
COMPILER_FLAGS = {"quick": ("-XX:TieredStopAtLevel=1",), "full": ()}


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
    """A mirakuru executor whose readiness check is a metadata request; with ``wait``
    false, ``start()`` returns once the JVM runs (a cluster waits for all its nodes)."""

    def __init__(self, command: list[str], port: int, log: IO[str], timeout: float,
                 tied: bool = True, wait: bool = True) -> None:
        super().__init__(
            command, timeout=timeout, sleep=0.1, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, expected_returncode=128 + signal.SIGTERM,
        )
        self.port = port
        self.tied = tied
        self.wait = wait

    # mirakuru's one private hook we need: its public ``popen_kwargs`` are overridden by
    # the ``preexec_fn`` (os.setsid) and the ``env`` (with its marker variable) it sets
    # after them, and neither can be left as it sets them. A tied broker needs the
    # parent-death signal as well; a detached one must not carry the marker, for
    # mirakuru's exit handler kills every process that does.
    @property
    def _popen_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super()._popen_kwargs
        if self.tied:
            kwargs["preexec_fn"] = die_with_parent
        else:
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
        if not self.wait:
            return True
        return answers_metadata({"bootstrap.servers": f"127.0.0.1:{self.port}"})


@contextlib.contextmanager
def _no_status(_first: str) -> Iterator[Report]:
    yield lambda _text: None


class KraftNode(LoopbackBroker):
    """One KRaft node (broker and controller) run from Kafka's jars as a child JVM, with
    its data folder and log; what a watched node offers (``name``, ``pid``, ``ended()``,
    ``log_tail()``, ``keep_log()``)."""

    def __init__(
        self,
        config: LabConfig,
        progress: StatusFactory | None = None,
        data_dir: Path | None = None,
        die_with_parent: bool = True,
        node_id: int = 1,
        quorum: Quorum | None = None,
        settings: dict[str, str] | None = None,
        extra_listeners: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        self.config = config
        # Listener name → (port bound on 127.0.0.1, advertised "host:port"): a grader's
        # proxy gets a listener that advertises the proxy, so clients stay behind it.
        self.extra_listeners = dict(extra_listeners or {})
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
        self.process: BrokerProcess | None = None
        self._log: IO[str] | None = None

    # --- the watched part --------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "broker.log"

    def log_tail(self, lines: int = 40) -> str:
        return "" if self.data_dir is None else tail_of(self.log_path, lines)

    @property
    def name(self) -> str:
        return f"node {self.node_id}"

    def ended(self) -> str | None:
        code = self.exit_code()
        return None if code is None else describe_exit(code)

    # --- life --------------------------------------------------------------------------

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
        extra = self.extra_listeners.items()
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.quorum.voters(),
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                         f"CONTROLLER://127.0.0.1:{controller_port}"
                         + "".join(f",{name}://127.0.0.1:{port}" for name, (port, _) in extra),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}"
                                    + "".join(f",{name}://{advertised}"
                                              for name, (_, advertised) in extra),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
                                              + "".join(f",{name}:PLAINTEXT" for name in
                                                        self.extra_listeners),
            "log.dirs": str(self.data_dir / "logs"),
            **self.settings,
            **dict(self.config.broker_properties),
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    @property
    def class_archive(self) -> Path:
        """Where this Java and class path keep their class-data-sharing archive (the same
        for either JIT: the archive holds classes, not compiled code)."""
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
            jvm_flags=(*JVM_FLAGS, *COMPILER_FLAGS[self.config.jit], f"-Xmx{self.config.heap}",
                       *self._class_sharing_flags()),
        )
        self._log = self.log_path.open("a")
        self.process = BrokerProcess(command, self.port, self._log, self.config.start_timeout,
                                     tied=self.die_with_parent, wait=wait)
        try:
            self.process.start()
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
            # mirakuru's own error is the JVM's whole command line and a traceback of its
            # internals; what it knows (the exit code), and the JVM's reason (its log) and
            # what the readiness probe saw, are in this message instead.
            raise self._start_failure(error) from None

    def _start_failure(self, error: Exception) -> BrokerStartError:
        """Why the JVM did not start, from what mirakuru saw, the log and a last probe;
        the node is stopped and its log kept."""
        if isinstance(error, ProcessExitedWithError):
            what = f"exited while starting ({describe_exit(error.exit_code)})"
        else:
            seen = what_a_probe_sees({"bootstrap.servers": self.bootstrap_servers})
            what = (f"did not answer within {self.config.start_timeout:g}s (the readiness "
                    f"probe saw: {seen})")
        tail, kept = self.log_tail(), self.keep_log("failed-start-broker.log")
        self.stop()
        where = f" (kept as {kept})" if kept else ""
        return BrokerStartError(f"the Kafka broker {what}. Its log{where} ends with:\n{tail}")

    def keep_log(self, name: str) -> Path | None:
        """Copy the log out of the data folder, which goes, into the cache as ``name``;
        None when the copy failed (the log's tail is still in the error)."""
        kept = self.config.cache_dir / name
        try:
            self.config.cache_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log_path, kept)
        except OSError as error:
            LOG.warning("could not keep the broker's log as %s: %s", kept, error)
            return None
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
