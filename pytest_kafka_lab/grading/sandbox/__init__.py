"""Running untrusted submissions: a process of their own, a copy of their folder, an
environment with nothing secret, a deadline, nothing on disk beyond their own folder and
what Python and Java need (``confinement``), caps on files, processes and memory, and
nothing left running afterwards (a PID namespace of its own: ``namespaces``). Each layer
is detected, and grading goes on without those a machine refuses (``isolation``)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_kafka_lab.distribution import Distribution
from pytest_kafka_lab.events import Event, KindIndex
from pytest_kafka_lab.grading.inside.boundary import Boundary
from pytest_kafka_lab.grading.inside.docker_shim import TOOLS_VARIABLE
from pytest_kafka_lab.grading.inside.instrument import (
    BOOTSTRAP_VARIABLE,
    CONSUMER_DEFAULTS_VARIABLE,
)
from pytest_kafka_lab.grading.sandbox import cgroups, confinement
from pytest_kafka_lab.grading.sandbox.cgroups import RunCgroups
from pytest_kafka_lab.grading.sandbox.channel import FailurePlan, RunChannel
from pytest_kafka_lab.grading.sandbox.isolation import Isolation, detect, limit_files
from pytest_kafka_lab.grading.sandbox.namespaces import (
    SHARED_MEMORY,
    kill_namespace,
    namespace_of,
)
from pytest_kafka_lab.grading.sandbox.read_set import DEVICES, read_set
from pytest_kafka_lab.grading.sandbox.run_library import build_run_library
from pytest_kafka_lab.grading.sandbox.run_user import beneath_closed
from pytest_kafka_lab.grading.wire.proxy import BROKER_WIDE, Exchange, WireProxy
from pytest_kafka_lab.processes import ReportingProcess, die_with_parent, kill_group

RUN_MARKER = "KAFKA_LAB_RUN"
OUTPUT_LIMIT = 256 * 1024  # a submission that floods its output is read this far
# What a graded run's consumers get where they leave it unset (see
# ``instrument.consumer_defaults``): a member hears of a rebalance at its next heartbeat,
# and librdkafka's default of 3 s made the rebalances of exercise 3 wait 9 s; it sees a
# topic created after it subscribed at its next metadata refresh, 2 s in exercise 2; and
# the end of a partition (``enable.partition.eof``) when an empty fetch returns, 500 ms
# after the last record, twice in exercise 4.
CONSUMER_TEST_SETTINGS = {"heartbeat.interval.ms": 500, "fetch.wait.max.ms": 100,
                          "topic.metadata.refresh.interval.ms": 500}


@dataclass
class Run:
    """What the harness observed of one finished run."""

    exit_code: int | None
    timed_out: bool
    stdout: str
    stderr: str
    events: list[Event]
    seconds: float
    interrupted: bool = False
    confined: bool = False  # the kernel kept it inside its boundary (Landlock)
    isolation: Isolation = field(default_factory=Isolation)  # the layers that held it
    # What crossed the network between the run's clients and the broker, recorded by the
    # grader's proxy (the run's own, in front of the lab broker); witnessed: there was one.
    wire: list[Exchange] = field(default_factory=list)
    witnessed: bool = False
    # Why the grader stopped reading its events (a cap of its channel passed), or None.
    flooded: str | None = None
    # Checks ask for one kind of event at a time, many times: each reads that kind alone.
    _kinds: KindIndex = field(default_factory=KindIndex, init=False, repr=False,
                              compare=False)

    def of(self, kind: str, **match: Any) -> list[Event]:
        """The events of ``kind`` whose fields equal ``match``."""
        return self._kinds.of(self.events, kind, **match)

    def client_configs(self, client: str) -> list[dict[str, Any]]:
        """The configurations the submission gave its clients of kind ``client``."""
        return [event["config"] for event in self.of("client", client=client)]

    def summary(self) -> str:
        """A line for messages: how the run ended, and the end of its errors."""
        if self.timed_out:
            ending = f"did not finish within {self.seconds:.0f}s and was stopped"
        else:
            ending = f"exited with code {self.exit_code} after {self.seconds:.1f}s"
        failure = self.of("import-failed") + self.of("raised")
        detail = f"; {failure[0]['error']}" if failure else ""
        tail = self.stderr.strip().splitlines()[-1:] if self.exit_code else []
        return f"the submission {ending}{detail}" + (f" ({tail[0]})" if tail and not detail else "")


@dataclass(frozen=True)
class Containment:
    """How one run is held: its isolation as reported, whether its first process is the
    supervisor of a PID namespace of its own, and its cgroups (None: none)."""

    isolation: Isolation
    namespaced: bool = False
    cgroups: RunCgroups | None = None


class SubmissionProcess(ReportingProcess):
    """A submission running now, in ``workdir`` (its events, stdout and stderr there);
    ``marker`` is its run's ``KAFKA_LAB_RUN``, which everything it starts carries.
    Under a PID namespace, ``process`` is the supervisor's outer process, which ends as
    the command ends."""

    def __init__(self, argv: Sequence[str], workdir: Path, marker: str, *, cwd: Path,
                 env: Mapping[str, str], preexec_fn: Callable[[], None],
                 confined: bool, channel: RunChannel, proxy: WireProxy | None,
                 containment: Containment | None = None, pass_fds: Sequence[int] = ()
                 ) -> None:
        # Its events come over the grader's channel, never through a file it could edit.
        self.channel = channel
        try:
            super().__init__(argv, "the submission", workdir=workdir, cwd=cwd,
                             env={**env, **channel.environment()}, preexec_fn=preexec_fn,
                             pass_fds=[channel.child_end.fileno(), *pass_fds],
                             event_file=False)
        finally:
            channel.started()
        self.marker = marker
        self.proxy = proxy
        self.interrupted = False
        self.confined = confined  # the kernel keeps it inside its boundary (Landlock)
        self.containment = containment or Containment(Isolation())

    @property
    def events(self) -> list[Event]:
        """Every event reported so far, as the grader received it."""
        return self.channel.events

    def of(self, kind: str, **match: Any) -> list[Event]:
        """The events of ``kind`` so far whose fields equal ``match``."""
        return self.channel.of(kind, **match)

    @property
    def wire(self) -> list[Exchange]:
        """What its clients exchanged with the broker so far (the grader's record)."""
        return self.proxy.log.exchanges() if self.proxy is not None else []

    def interrupt(self) -> None:
        """Ctrl-C, as a terminal sends it: SIGINT to the whole process group."""
        self.interrupted = True
        kill_group(self.process.pid, signal.SIGINT)

    def finish(self, timeout: float) -> Run:
        """Wait for the end (killing the group at the deadline) and collect what was seen."""
        timed_out = False
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        self.end_everything()
        self.channel.close()
        wire: list[Exchange] = []
        if self.proxy is not None:
            self.proxy.sync()
            self.proxy.stop()
            wire = self.proxy.log.exchanges()
        return Run(
            exit_code=None if timed_out else self.process.returncode,
            timed_out=timed_out,
            stdout=read_head(self.workdir / "stdout.txt"),
            stderr=read_head(self.workdir / "stderr.txt"),
            events=self.events,
            seconds=time.monotonic() - self.started,
            interrupted=self.interrupted,
            confined=self.confined,
            isolation=self.containment.isolation,
            wire=wire,
            witnessed=self.proxy is not None,
            flooded=self.channel.overflow,
        )

    def end_everything(self) -> None:
        """Whatever the submission started goes too. In a PID namespace: all of it, init
        first (the kernel kills the rest when init ends), before the outer process that
        would otherwise leave init to someone else to reap. Without one: its process
        group, and any process that left the group (setsid, a daemon) but still carries
        the run's marker. Its cgroups are emptied and removed either way."""
        if self.containment.namespaced and self.alive:
            namespace = namespace_of(self.process.pid)
            if namespace is not None:
                kill_namespace(namespace)
        kill_group(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if not self.containment.namespaced:
            kill_marked(self.marker)
        if self.containment.cgroups is not None:
            self.containment.cgroups.remove()


def kill_marked(marker: str) -> None:
    """SIGKILL every process whose environment carries ``RUN_MARKER=marker``."""
    needle = f"{RUN_MARKER}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read
        if needle in environment:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def unwitnessed(bootstrap: str) -> str | None:
    """Why no proxy can stand before the broker at ``bootstrap``, or None when one can
    (one broker, on this machine: the proxy speaks for a single node)."""
    if "," in bootstrap:
        return f"the broker at {bootstrap} has several addresses: runs are not witnessed"
    host = bootstrap.rpartition(":")[0].strip("[]")
    if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
        return f"the broker at {bootstrap} is not on this machine: runs are not witnessed"
    return None


def read_head(path: Path) -> str:
    with path.open("rb") as output:
        return output.read(OUTPUT_LIMIT).decode("utf-8", errors="replace")


def copy_writable(submission: Path, destination: Path) -> None:
    """A copy of the submission that its owner may write, even when the folder handed in
    is read-only (a read-only checkout or mount: ``copytree`` keeps modes)."""
    shutil.copytree(submission, destination,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for folder, _, files in os.walk(destination):
        add_mode(Path(folder), stat.S_IRWXU)
        for name in files:
            add_mode(Path(folder) / name, stat.S_IRUSR | stat.S_IWUSR)


def add_mode(path: Path, bits: int) -> None:
    mode = path.lstat().st_mode
    if not stat.S_ISLNK(mode) and mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


class Sandbox:
    """Starts submission runs against one broker."""

    def __init__(self, bootstrap: str, distribution: Distribution, root: Path | None = None):
        self.bootstrap = bootstrap
        self.distribution = distribution
        self.root = root or Path(tempfile.mkdtemp(prefix="kafka-lab-grading-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.library = build_run_library(self.root, distribution)
        # Computed once: what every run may read (the same for all of them).
        self.read_set = read_set(distribution, self.library.readable)
        self.runs = 0
        # None when runs are confined; else why not, for a report to tell.
        self.unconfined_reason = confinement.unavailable()
        # None when each run gets a proxy of its own; else why not, for a report to tell.
        self.unwitnessed_reason = unwitnessed(bootstrap)
        if self.unconfined_reason is None:
            confinement.hide_grader()
        # Computed once: the layers every run gets (namespaces, cgroups, caps).
        self.layers = detect(self.library.supervisor, self.unwitnessed_reason)
        self.made_cgroups: list[RunCgroups] = []
        cgroups.sweep(self.layers.controllers)
        # Computed once: what a run reads beneath folders closed to its user, if it has one.
        self.closed_reads = beneath_closed([*self.read_set.readable,
                                            *self.read_set.listable]) \
            if self.layers.namespaces and self.layers.namespaces.run_user else []

    @property
    def isolation(self) -> Isolation:
        """The layers of isolation in force for this sandbox's runs, and why not others."""
        return self.layers.isolation

    def environment(self, workdir: Path, marker: str) -> dict[str, str]:
        """Only what a submission needs: no tokens, keys or CI secrets of the grader."""
        return {
            RUN_MARKER: marker,
            "PATH": os.pathsep.join([str(self.library.bin), str(Path(sys.executable).parent),
                                     "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(self.library.folder),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            BOOTSTRAP_VARIABLE: self.bootstrap,
            CONSUMER_DEFAULTS_VARIABLE: json.dumps(CONSUMER_TEST_SETTINGS),
            TOOLS_VARIABLE: self.library.tools,
        }

    def boundary(self, workdir: Path) -> Boundary:
        """What a run may read (``read_set``: what Python and Java need, and its run
        library) and write (its own folder): never the grader's package, where the
        course's checks and answers are, its report, other submissions or solutions."""
        return Boundary.of(self.read_set.readable, [workdir, *DEVICES],
                           self.read_set.listable)

    def start(self, submission: Path, command: list[str],
              plans: Mapping[str, FailurePlan] | None = None) -> SubmissionProcess:
        """Copy the submission and start ``command`` in the copy, inside its boundary;
        ``plans`` are the failures the grader injects, by observed function."""
        self.runs += 1
        workdir = self.root / f"run-{self.runs}"
        copy_writable(submission, workdir / "submission")
        marker = uuid.uuid4().hex
        boundary = self.boundary(workdir)
        proxy = self.witness()
        environment = {**self.environment(workdir, marker),
                       **self.watched(boundary).environment()}
        if proxy is not None:
            environment[BOOTSTRAP_VARIABLE] = proxy.address
        # Built here, entered between fork and exec (by the child, or in a PID namespace by
        # its supervisor, which adds the run's own /proc and /dev/shm): syscalls alone there.
        # Its connections: to its own proxy alone, where the kernel can hold it to that.
        ports = [proxy.listen_port] if proxy is not None else None
        ruleset = None if self.unconfined_reason else confinement.build(boundary, ports)
        run_cgroups = None
        try:
            run_cgroups = self.cgroups(marker)
            containment = Containment(self.isolation, self.layers.namespaces is not None,
                                      run_cgroups)
            return SubmissionProcess(
                self.contained(command, ruleset), workdir, marker,
                cwd=workdir / "submission", env=environment,
                preexec_fn=self.preparation(ruleset, run_cgroups, workdir),
                confined=ruleset is not None,
                channel=RunChannel(plans), proxy=proxy, containment=containment,
                pass_fds=[ruleset] if ruleset is not None and containment.namespaced else [])
        except BaseException:
            if proxy is not None:
                proxy.stop()
            if run_cgroups is not None:
                run_cgroups.remove()
            raise
        finally:
            if ruleset is not None:
                os.close(ruleset)

    def watched(self, boundary: Boundary) -> Boundary:
        """The boundary the run's audit hook knows: with its own ``/dev/shm`` (which the
        child grants, in the run's mount namespace, where the ruleset is completed)."""
        if self.layers.namespaces is None:
            return boundary
        return dataclasses.replace(boundary, writable=(*boundary.writable, SHARED_MEMORY))

    def cgroups(self, marker: str) -> RunCgroups | None:
        if not self.layers.controllers:
            return None
        made = RunCgroups.make(self.layers.controllers, f"{cgroups.RUN_PREFIX}{marker}")
        self.made_cgroups.append(made)
        return made

    def contained(self, command: list[str], ruleset: int | None) -> list[str]:
        """``command``, under its supervisor where runs get a PID namespace."""
        if self.layers.namespaces is None:
            return command
        return self.layers.namespaces.supervised(self.library.supervisor, ruleset, command)

    def preparation(self, ruleset: int | None, run_cgroups: RunCgroups | None,
                    workdir: Path | None = None) -> Callable[[], None]:
        """What the child does between fork and exec, in this order: its own session and
        death with the grader; the file caps; its cgroups (before it can start anything);
        then its namespaces, the folders its user must pass opened, and its ``workdir``
        on a capped tmpfs there (the supervisor confines it, once ``/proc`` is its own)
        or, without them, Landlock at once."""
        spaces = self.layers.namespaces
        shared_memory_rights = confinement.handled_rights() & ~confinement.MAKE_DEVICE \
            if ruleset is not None else 0
        plan = spaces.openings([*self.closed_reads, *([workdir] if workdir else [])]) \
            if spaces is not None else ()

        def prepare() -> None:
            die_with_parent()
            limit_files()
            if run_cgroups is not None:
                run_cgroups.join()
            if spaces is not None:
                spaces.enter(ruleset, shared_memory_rights, workdir, plan)
            elif ruleset is not None:
                confinement.enter(ruleset)

        return prepare

    def witness(self) -> WireProxy | None:
        """A recording proxy of the run's own in front of the lab broker, serving; None
        where none can stand there (a broker not on this machine)."""
        if self.unwitnessed_reason is not None:
            return None
        return WireProxy(self.bootstrap, refuse=BROKER_WIDE, advertise=True).start()

    def start_script(self, submission: Path, filename: str, *args: str) -> SubmissionProcess:
        """``python FILE``, as a student runs it."""
        return self.start(submission, [sys.executable, filename, *args])

    def start_call(self, submission: Path, filename: str, call: str = "main",
                   args: list[Any] | None = None, kwargs: dict[str, Any] | None = None,
                   wrap: dict[str, dict[str, Any]] | None = None) -> SubmissionProcess:
        """Import FILE as a module and call one function, observing those in ``wrap``
        (``{function: {"key": field}}``, with ``"fail": {ident: n}`` to make the first n
        calls for that ident fail: a plan the grader keeps, which the run only asks)."""
        observed: dict[str, dict[str, Any]] = {}
        plans: dict[str, FailurePlan] = {}
        for function, plan in (wrap or {}).items():
            observed[function] = {"key": plan.get("key")}
            if "fail" in plan:
                plans[function] = FailurePlan(str(plan.get("key")), plan["fail"])
                observed[function]["ask"] = True
        spec = {"file": filename, "call": call, "args": args or [], "kwargs": kwargs or {},
                "wrap": observed}
        return self.start(submission, [*self.library.runner(), json.dumps(spec)],
                          plans=plans)

    def start_driver(self, submission: Path, driver: str, call: str,
                     args: list[Any] | None = None) -> SubmissionProcess:
        """Call ``call`` of one of the grader's drivers (``inside/<driver>.py``), which
        imports the submission's module itself, in a run of the submission."""
        spec = {"file": f"{driver}.py", "driver": driver, "call": call, "args": args or [],
                "kwargs": {}, "wrap": {}}
        return self.start(submission, [*self.library.runner(), json.dumps(spec)])

    def cleanup(self) -> None:
        # A run never finished (its test failed first) leaves its cgroups: they go here.
        for run_cgroups in self.made_cgroups:
            run_cgroups.remove()
        shutil.rmtree(self.root, ignore_errors=True)
