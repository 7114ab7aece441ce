"""One broker per test run: started on first need, shared by xdist workers, always stopped.

Under pytest-xdist the controller owns the broker and hands its address to the workers,
so two workers never start two brokers and none stops it while another still tests.

A local broker whose process dies is noticed (the holder looks whenever asked), reported
once with how it ended and its log tail, and replaced by a fresh one on the next ``get``.
An xdist worker only watches the controller's broker: it cannot restart what another
process owns and other workers share, so after a death every ``get`` raises instead.
An external cluster (or a broker reused with ``--kafka-reuse``) is not ours to watch.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from pytest_kafka_lab import detached
from pytest_kafka_lab.backends import KafkaBroker, broker_for
from pytest_kafka_lab.backends.external import ExternalCluster
from pytest_kafka_lab.backends.local import LocalBroker, tail_of
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.distribution import KAFKA_VERSION
from pytest_kafka_lab.exceptions import BrokerDiedError, BrokerStartError
from pytest_kafka_lab.progress import status
from pytest_kafka_lab.waiting import WaitTimeout, wait_for

LOG = logging.getLogger(__name__)

WORKER_KEYS = ("kafka_lab_bootstrap", "kafka_lab_version", "kafka_lab_description")
# Handed to workers only for a local broker: what they need to notice that it died.
WATCH_KEYS = ("kafka_lab_pid", "kafka_lab_log")
# How long a killed broker may take to be reaped before it counts as alive after all.
DYING_GRACE = 5.0


def describe_exit(code: int) -> str:
    """``Popen.returncode`` in words: a signal by its name, else the exit code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


PROC = Path("/proc")
PF_EXITING = 0x4  # a task's flag (field 9 of /proc/PID/stat) from its first step of exit
SIGKILL_PENDING = 1 << (signal.SIGKILL - 1)


def proc_file(pid: int, name: str) -> str | None:
    """``/proc/PID/NAME``, or None when there is no such process (any more)."""
    try:
        return (PROC / str(pid) / name).read_text()
    except FileNotFoundError:
        return None


def process_gone(pid: int) -> bool:
    """True once process ``pid`` has ended: absent, or a zombie waiting for its parent
    (an xdist worker's view of the controller's child, whose exit code it cannot see)."""
    if not PROC.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    stat = proc_file(pid, "stat")
    return stat is None or stat.rpartition(")")[2].split()[0] in ("Z", "X")


def process_dying(pid: int) -> bool:
    """True from the moment a SIGKILL reaches process ``pid`` (or it starts to exit) until
    it is reaped. A killed JVM closes its sockets, thread by thread, before it can be
    reaped, so its clients can see the death first; a check seeing this waits for the end.
    """
    if not PROC.is_dir():
        return process_gone(pid)  # elsewhere only the end itself shows
    stat, status = proc_file(pid, "stat"), proc_file(pid, "status")
    if stat is None or status is None:
        return True
    fields = stat.rpartition(")")[2].split()  # from field 3, the state; 9 is the flags
    state, flags = fields[0], int(fields[6])
    pending = 0
    for line in status.splitlines():
        if line.startswith(("SigPnd:", "ShdPnd:")):
            pending |= int(line.split()[1], 16)
    return state in ("Z", "X") or bool(flags & PF_EXITING or pending & SIGKILL_PENDING)


class ControllerBroker(ExternalCluster):
    """An xdist worker's view of the controller's local broker: used like an external
    cluster, watched through its pid and log, never restarted from here."""

    def __init__(self, config: LabConfig, kafka_version: str, pid: int, log: Path) -> None:
        super().__init__(config, kafka_version)
        self.pid = pid
        self.log = log

    def log_tail(self, lines: int = 40) -> str:
        return tail_of(self.log, lines)

    def ended(self) -> str | None:
        return "its process is gone" if process_gone(self.pid) else None


class BrokerHolder:
    """Starts the configured broker once, remembers a failed start, stops it at the end;
    replaces a local broker that died (see the module's docstring)."""

    def __init__(self, lab_config: LabConfig, pytest_config: pytest.Config | None = None) -> None:
        self.lab_config = lab_config
        self.pytest_config = pytest_config
        self.broker: KafkaBroker | None = None
        self.error: Exception | None = None
        self.death: BrokerDiedError | None = None  # noticed; the broker is not replaced yet

    @property
    def started(self) -> bool:
        return self.broker is not None

    def get(self) -> KafkaBroker:
        """The running broker, starting it on first call and again after it died; a failed
        start (or, on an xdist worker, a death) raises every time."""
        self.bury_if_dead()
        if self.error is not None:
            raise self.error.with_traceback(None)  # each raise shows its own frames only
        if self.broker is None:
            self.broker = self.start()
        return self.broker

    def start(self) -> KafkaBroker:
        shared = self.from_xdist_controller() or self.reusable()
        candidate = shared or broker_for(
            self.lab_config, functools.partial(status, self.pytest_config)
        )
        try:
            broker = candidate.__enter__()
        except Exception as error:
            self.error = error
            raise
        except BaseException:  # Ctrl-C while starting: undo, remember nothing
            candidate.__exit__(None, None, None)
            raise
        if isinstance(broker, LocalBroker) and self.lab_config.reuse:
            # Recorded at once, so that even a killed run leaves it findable.
            detached.record(broker, self.lab_config)
        return broker

    def how_it_ended(self) -> str | None:
        """How the broker's process ended; None while it runs or where none is watched."""
        ended = self._ended()
        pid = self.broker.pid if isinstance(self.broker, LocalBroker | ControllerBroker) else None
        if ended is None and pid is not None and process_dying(pid):
            with contextlib.suppress(WaitTimeout):
                ended = wait_for(self._ended, DYING_GRACE, f"the dying broker {pid} to end")
        return ended

    def _ended(self) -> str | None:
        if isinstance(self.broker, LocalBroker):
            code = self.broker.exit_code()
            return None if code is None else describe_exit(code)
        if isinstance(self.broker, ControllerBroker):
            return self.broker.ended()
        return None

    def newly_dead(self) -> BrokerDiedError | None:
        """The broker's death the first time it is seen, else None: one test fails for it."""
        if self.death is not None or self.broker is None:
            return None
        ended = self.how_it_ended()
        if ended is None:
            return None
        self.death = self.died(ended, "during this test")
        return self.death

    def bury_if_dead(self) -> BrokerDiedError | None:
        """Let go of a dead broker (seen now or before) and return its death: its data
        goes, its log is kept, and the next ``get`` starts a fresh one (or, on an xdist
        worker, raises). None while the broker lives."""
        self.newly_dead()
        death, self.death = self.death, None
        if death is None:
            return None
        if isinstance(self.broker, ControllerBroker):
            self.error = self.died(death.ended, "earlier in this run")
        self.close()
        return death

    def died(self, ended: str, when: str) -> BrokerDiedError:
        broker = self.broker
        assert broker is not None
        if isinstance(broker, ControllerBroker):
            then = ("It is not restarted: under pytest-xdist the controller owns the broker "
                    "that every worker shares, so each later test that needs it fails too.")
            where = f"pid {broker.pid}, the xdist controller's"
        else:
            then = ("The next test that needs a broker gets a fresh one; this test is not "
                    "retried.")
            where = f"pid {getattr(broker, 'pid', '?')}"
        kept = (f" (kept as {broker.keep_log('died-broker.log')})"
                if isinstance(broker, LocalBroker) else "")
        return BrokerDiedError(
            f"The Kafka broker at {broker.bootstrap_servers} ({where}) died {when}: {ended}. "
            f"{then}\nIts log{kept} ends with:\n{broker.log_tail()}", ended)

    def from_xdist_controller(self) -> KafkaBroker | None:
        workerinput: dict[str, Any] | None = getattr(self.pytest_config, "workerinput", None)
        if workerinput and "kafka_lab_error" in workerinput:
            raise BrokerStartError(workerinput["kafka_lab_error"])
        if not workerinput or "kafka_lab_bootstrap" not in workerinput:
            return None
        config = self.lab_config.replace(bootstrap=workerinput["kafka_lab_bootstrap"])
        version = workerinput["kafka_lab_version"]
        shared = (ControllerBroker(config, version, int(workerinput["kafka_lab_pid"]),
                                   Path(workerinput["kafka_lab_log"]))
                  if "kafka_lab_pid" in workerinput else ExternalCluster(config, version))
        shared.backend = f"{self.lab_config.backend}, shared by the xdist controller"
        return shared

    def reusable(self) -> KafkaBroker | None:
        """With ``--kafka-reuse``: a broker an earlier run left running, if one answers."""
        if not (self.lab_config.reuse and self.lab_config.backend == "local"):
            return None
        found = detached.find_reusable(self.lab_config, KAFKA_VERSION)
        if found is None:
            return None
        reused = ExternalCluster(self.lab_config.replace(bootstrap=found.bootstrap_servers),
                                 found.version)
        reused.backend = f"local, reused (pid {found.pid}; `kafka-lab down --port {found.port}`)"
        return reused

    def worker_input(self) -> dict[str, str]:
        """What an xdist worker needs to use this (the controller's) broker."""
        broker = self.get()
        shared = dict(zip(WORKER_KEYS, (broker.bootstrap_servers, broker.kafka_version,
                                        broker.describe()), strict=True))
        if isinstance(broker, LocalBroker) and broker.pid is not None:
            shared.update(zip(WATCH_KEYS, (str(broker.pid), str(broker.log_path)), strict=True))
        return shared

    def close(self) -> None:
        if isinstance(self.broker, LocalBroker) and self.lab_config.reuse:
            self.broker = None  # kept for the next run; `kafka-lab down` stops it
        if self.broker is not None:
            try:
                self.broker.__exit__(None, None, None)
            except Exception:
                LOG.exception("stopping the Kafka broker failed")
            self.broker = None
