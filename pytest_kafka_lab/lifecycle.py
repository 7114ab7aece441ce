"""One broker per test run: started on first need, shared by xdist workers, always stopped.

A run whose tests use no broker starts none. Under pytest-xdist the controller owns the
broker: it starts it when a worker's collected tests need one, before any test runs, and
hands its address to the workers (``backends.xdist_shared``), so two workers never start
two brokers and none stops it while another still tests.

A broker whose processes are watched (a local node, every node of a local cluster) and
one of which dies is noticed (the holder looks whenever asked), reported once with how
the node ended and its log tail, and replaced by a fresh one on the next ``get``. An
xdist worker only watches the controller's broker: it cannot restart what another process
owns and other workers share, so after a death every ``get`` raises instead. An existing
cluster, a container, or a broker reused with ``--kafka-reuse`` is not ours to watch.
``deathwatch`` makes a test fail when the broker died during it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_kafka_lab import topics
from pytest_kafka_lab.backends import KafkaBroker, WatchedNode, broker_for, watched_nodes
from pytest_kafka_lab.backends.watching import process_dying
from pytest_kafka_lab.backends.xdist_shared import (
    MEETING,
    ask_for_broker,
    asked,
    from_controller,
    hand_over,
    hand_over_failure,
)
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.exceptions import BrokerDiedError
from pytest_kafka_lab.naming import run_prefix
from pytest_kafka_lab.progress import status
from pytest_kafka_lab.waiting import WaitTimeout, wait_for

LOG = logging.getLogger(__name__)

# How long a killed broker may take to be reaped before it counts as alive after all.
DYING_GRACE = 5.0


class BrokerHolder:
    """Starts the configured broker once, remembers a failed start, stops it at the end;
    replaces a broker one of whose watched nodes died (see the module's docstring)."""

    def __init__(self, lab_config: LabConfig, pytest_config: pytest.Config | None = None) -> None:
        self.lab_config = lab_config
        self.pytest_config = pytest_config
        self.progress = functools.partial(status, pytest_config)
        self.broker: KafkaBroker | None = None
        self.error: Exception | None = None
        self.death: BrokerDiedError | None = None  # noticed; the broker is not replaced yet
        self.dead_node: WatchedNode | None = None
        self.meeting: Path | None = None  # the xdist controller's (``worker_input``)
        self.handed_over = False
        self.shares_nothing = False  # a worker whose run's broker has settings of its own
        self.others: list[KafkaBroker] = []  # started for a factory's fixture (``broker_like``)

    def get(self) -> KafkaBroker:
        """The running broker, starting it on first call and again after it died; a failed
        start (or, on an xdist worker, a death) raises every time."""
        self.bury_if_dead()
        if self.error is not None:
            raise self.error.with_traceback(None)  # each raise shows its own frames only
        if self.broker is None:
            self.broker = self.start()
        return self.broker

    def prepare(self) -> None:
        """Before the first test of a run whose tests use the broker: start it now, so that
        its start is announced once, up front, instead of inside a test's setup time (a
        failed start is kept, and raised by every use); on an xdist worker, ask the
        controller for its broker instead."""
        if ask_for_broker(self.workerinput):
            return
        with contextlib.suppress(Exception):
            self.get()

    @property
    def workerinput(self) -> dict[str, object] | None:
        """What pytest-xdist handed this worker; None outside xdist workers (and on a
        worker whose broker is not the controller's: ``adopt``)."""
        if self.shares_nothing:
            return None
        return getattr(self.pytest_config, "workerinput", None)

    def adopt(self, config: LabConfig) -> None:
        """Before the start: the run's broker gets ``config`` (a session's ``kafka_broker``
        made by ``factories.kafka_proc``). On an xdist worker it is then the worker's own:
        the controller's has the run's settings."""
        if config != self.lab_config and self.broker is None:
            self.lab_config = config
            self.shares_nothing = self.shares_nothing or bool(
                getattr(self.pytest_config, "workerinput", None))

    def start(self) -> KafkaBroker:
        candidate = (from_controller(self.lab_config, self.workerinput)
                     or broker_for(self.lab_config, self.progress))
        try:
            return candidate.start()
        except Exception as error:
            self.error = error
            raise
        except BaseException:  # Ctrl-C while starting: undo, remember nothing
            candidate.stop()
            raise

    @contextlib.contextmanager
    def broker_like(self, config: LabConfig) -> Iterator[KafkaBroker]:
        """A broker with ``config`` (``factories.kafka_proc``): the run's own when its settings
        are the run's, else one started for the caller and stopped when it is done."""
        if config == self.lab_config:
            yield self.get()
            return
        with broker_for(config, self.progress) as broker:
            self.others.append(broker)
            try:
                yield broker
            finally:
                self.others.remove(broker)

    # --- the death watch ---------------------------------------------------------------

    def first_death(self) -> tuple[WatchedNode, str] | None:
        """A watched node whose process ended, and how; None while every one runs."""
        for node in watched_nodes(self.broker):
            ended = node.ended()
            if ended is None and node.pid is not None and process_dying(node.pid):
                with contextlib.suppress(WaitTimeout):
                    ended = wait_for(node.ended, DYING_GRACE, f"the dying broker {node.pid} to end")
            if ended is not None:
                return node, ended
        return None

    def newly_dead(self) -> BrokerDiedError | None:
        """The broker's death the first time it is seen, else None: one test fails for it."""
        if self.death is not None or self.broker is None:
            return None
        found = self.first_death()
        if found is None:
            return None
        self.dead_node, ended = found
        self.death = self.died(self.dead_node, ended, "during this test")
        return self.death

    def bury_if_dead(self) -> BrokerDiedError | None:
        """Let go of a dead broker (seen now or before) and return its death: its data
        goes, its log is kept, and the next ``get`` starts a fresh one (or, on an xdist
        worker, raises). None while the broker lives."""
        self.newly_dead()
        death, self.death = self.death, None
        if death is None:
            return None
        if self.restarts_nothing and self.dead_node is not None:
            self.error = self.died(self.dead_node, death.ended, "earlier in this run")
        self.close()
        return death

    @property
    def restarts_nothing(self) -> bool:
        """True on an xdist worker, which uses the controller's broker."""
        return self.broker is not None and self.broker.backend == "xdist-shared"

    def died(self, node: WatchedNode, ended: str, when: str) -> BrokerDiedError:
        """The error for ``node``'s death: which node, how it ended, what happens next, and
        its log's tail (the log kept where it is ours to keep)."""
        assert self.broker is not None
        where, log_name = f"pid {node.pid}", "died-broker.log"
        if node.bootstrap_servers != self.broker.bootstrap_servers:  # a node of a cluster
            where = f"{node.name} of the cluster, {where}"
            log_name = f"died-broker-{node.name.replace(' ', '-')}.log"
        if self.restarts_nothing:
            then = ("It is not restarted: under pytest-xdist the controller owns the broker "
                    "that every worker shares, so each later test that needs it fails too.")
            where += ", the xdist controller's"
        else:
            then = ("The next test that needs a broker gets a fresh one; this test is not "
                    "retried.")
        kept_as = node.keep_log(log_name)
        kept = f" (kept as {kept_as})" if kept_as else ""
        return BrokerDiedError(
            f"The Kafka broker at {node.bootstrap_servers} ({where}) died {when}: {ended}. "
            f"{then}\nIts log{kept} ends with:\n{node.log_tail()}", ended)

    # --- xdist and the end -------------------------------------------------------------

    def worker_input(self) -> dict[str, str]:
        """Controller: what each xdist worker is handed as it starts: the meeting point
        where it asks for this (the controller's) broker and finds it (``serve_workers``);
        nothing when the run said its workers need no shared broker
        (``WORKERS_NEED_NO_BROKER``: a worker asked for one then starts its own)."""
        if self.pytest_config is not None and WORKERS_NEED_NO_BROKER in self.pytest_config.stash:
            return {}
        if self.meeting is None:
            self.meeting = Path(tempfile.mkdtemp(prefix="kafka-lab-xdist-"))
        return {MEETING: str(self.meeting)}

    def serve_workers(self) -> None:
        """Controller, as each worker's collection reaches it (before any test is handed
        out): if a worker asked for the broker, start it, once, and leave its address, or
        why it did not start, at the meeting point."""
        if self.meeting is None or self.handed_over or not asked(self.meeting):
            return
        self.handed_over = True
        try:
            hand_over(self.meeting, self.get())
        except Exception as error:
            hand_over_failure(self.meeting, error)

    def finish(self) -> None:
        """At the end of the run: sweep what the run left on a broker that outlives it,
        then stop the broker."""
        self.bury_if_dead()  # nothing left to sweep, and a dead address would only time out
        if self.broker is not None and self.broker.outlives_run:
            try:
                topics.sweep(self.broker.client_config(), run_prefix())
            except Exception:
                LOG.exception("sweeping this run's topics and groups off %s failed",
                              self.broker.bootstrap_servers)
        self.close()
        if self.meeting is not None:
            shutil.rmtree(self.meeting, ignore_errors=True)

    def close(self) -> None:
        if self.broker is not None:
            try:
                self.broker.stop()
            except Exception:
                LOG.exception("stopping the Kafka broker failed")
            self.broker = None


HOLDER = pytest.StashKey[BrokerHolder]()
# Set (to why) by a plugin whose xdist workers bring brokers of their own, so that the
# controller does not start one for them to share (the grading plugin, grading a
# submission: each worker needs a broker of its own for the course's fixed names).
WORKERS_NEED_NO_BROKER = pytest.StashKey[str]()


def holder_of(config: pytest.Config) -> BrokerHolder:
    """The run's broker holder (made in ``pytest_configure``)."""
    return config.stash[HOLDER]
