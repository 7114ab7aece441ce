"""A local cluster of N KRaft nodes (each broker and controller), with faults on demand.

Replication 3 and ``min.insync.replicas=2`` by default, as Kafka's own replication
system test runs. Every fault waits until the cluster has noticed it: a stopped, killed
or paused node has left the metadata the survivors serve; a restarted or resumed one is
back in it.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from pytest_kafka_lab.backends import Backend
from pytest_kafka_lab.backends.base import BrokerBase, free_port
from pytest_kafka_lab.backends.kraft import KraftNode, Quorum, StatusFactory
from pytest_kafka_lab.backends.watching import describe_exit, tails_of
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.exceptions import BrokerStartError, KafkaLabError
from pytest_kafka_lab.readiness import QUIET_LOGGER, wait_until_ready
from pytest_kafka_lab.waiting import WaitTimeout, wait_for


def cluster_settings(brokers: int) -> dict[str, str]:
    """Replicated internal and default topics, and failure detection in seconds."""
    replicas = str(min(3, brokers))
    in_sync = str(max(1, min(3, brokers) - 1))
    return {
        "default.replication.factor": replicas,
        "min.insync.replicas": in_sync,
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": in_sync,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": in_sync,
        # A dead or hung node is fenced, and dropped from every ISR, within seconds.
        "broker.session.timeout.ms": "3000",
        "broker.heartbeat.interval.ms": "500",
        "replica.lag.time.max.ms": "3000",
        "unclean.leader.election.enable": "false",
    }


# How often a wait on the cluster's membership asks for metadata.
BROKER_POLL_INTERVAL = 0.2


def listed_brokers(admin: Any) -> set[int]:
    """The broker ids in the metadata ``admin`` gets; none while no node answers."""
    try:
        return set(admin.list_topics(timeout=2).brokers)
    except Exception:
        return set()


class LocalCluster(BrokerBase):
    """N local KRaft nodes that form one cluster; ``nodes[i]`` is node id ``i + 1``. Every
    node is watched but those a test stopped, killed or paused on purpose."""

    backend: Backend = "local cluster"

    def __init__(self, config: LabConfig, brokers: int = 3,
                 progress: StatusFactory | None = None) -> None:
        if brokers < 1:
            raise ValueError(f"a cluster needs at least one broker, not {brokers}")
        self.config = config
        self.root = Path(tempfile.mkdtemp(prefix="kafka-lab-cluster-"))
        quorum = Quorum({node: free_port() for node in range(1, brokers + 1)})
        self.nodes = [
            KraftNode(config.replace(port=free_port()), progress=progress,
                        data_dir=self.root / f"node-{node}", node_id=node, quorum=quorum,
                        settings=cluster_settings(brokers))
            for node in range(1, brokers + 1)
        ]
        self.kafka_version = "unknown"
        self.stopped: set[int] = set()
        self.paused: set[int] = set()

    # --- the broker interface ---------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def describe(self) -> str:
        return (f"Kafka {self.kafka_version}, backend local cluster of {len(self.nodes)} "
                f"KRaft nodes, bootstrap {self.bootstrap_servers}, "
                f"ready in {self.startup_seconds:.1f}s")

    def log_tail(self, lines: int = 40) -> str:
        return tails_of(self.nodes, lines)

    def watched_nodes(self) -> Sequence[KraftNode]:
        return [node for node in self.nodes if node.node_id not in self.stopped]

    # --- life --------------------------------------------------------------------------

    def start(self) -> Self:
        distribution = self.nodes[0].resolve()
        for node in self.nodes[1:]:
            node.distribution = distribution
            node.kafka_version = distribution.version
        self.kafka_version = distribution.version
        return self.timed_start(self._launch_all)

    def _launch_all(self) -> None:
        try:
            for node in self.nodes:
                node.launch()
            wait_until_ready(self.client_config(), self.config.start_timeout,
                             expected_brokers=len(self.nodes), still_alive=self._all_alive)
            # The probe saw one node's metadata; a test may ask any node, and the last
            # to register is known to one node before the others.
            self.wait_for_brokers({node.node_id for node in self.nodes},
                                  timeout=self.config.start_timeout)
        except (KafkaLabError, WaitTimeout) as error:
            # The cause stays: which node exited, or what the readiness probe saw.
            raise BrokerStartError(f"the local cluster of {len(self.nodes)} nodes did not "
                                   f"start: {error}\nIts logs end with:\n"
                                   f"{self.log_tail(20)}") from error

    def _all_alive(self) -> None:
        for node in self.nodes:
            if node.pid is None or node.process is None or not node.process.running():
                code = node.exit_code()
                how = describe_exit(code) if code is not None else "not running"
                raise BrokerStartError(f"{node.name} ({node.bootstrap_servers}) exited while "
                                       f"starting ({how})")

    def stop(self) -> None:
        """Kill every node and remove their data. A clean stop one node at a time would
        wait on a quorum that its own shutdown takes away; the data is discarded anyway."""
        for node in self.nodes:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- faults -------------------------------------------------------------------------

    def node(self, node_id: int) -> KraftNode:
        return self.nodes[node_id - 1]

    def _admins_of_running_nodes(self) -> dict[int, Any]:
        """A client for each node a test has not stopped, killed or paused, that asks
        that node alone."""
        from confluent_kafka.admin import AdminClient

        def settings(node: KraftNode) -> dict[str, Any]:
            return {"bootstrap.servers": node.bootstrap_servers, "logger": QUIET_LOGGER}

        return {node.node_id: AdminClient(settings(node))
                for node in self.nodes if node.node_id not in self.stopped}

    def wait_for_brokers(self, expected: set[int], timeout: float = 30.0) -> None:
        """Wait until the metadata of every running node lists exactly ``expected``: a
        node that comes back is known to one node before the others, and a test may ask
        any of them."""
        # One client per node for the whole wait: a fresh one each time costs a
        # connection, which a cluster busy with a fault can spare least.
        admins = self._admins_of_running_nodes()

        def views() -> dict[int, list[int]]:
            return {node_id: sorted(listed_brokers(admin)) for node_id, admin in admins.items()}

        wait_for(lambda: all(set(view) == expected for view in views().values()), timeout,
                 f"every running node's metadata to list brokers {sorted(expected)}",
                 views, interval=BROKER_POLL_INTERVAL)

    def _without(self, node_id: int) -> set[int]:
        self.stopped.add(node_id)
        return {node.node_id for node in self.nodes} - self.stopped

    def _with(self, node_id: int) -> set[int]:
        self.stopped.discard(node_id)
        return {node.node_id for node in self.nodes} - self.stopped

    def stop_node(self, node_id: int) -> None:
        """Stop a node cleanly (SIGTERM; it hands over leadership), keeping its data."""
        expected = self._without(node_id)
        self.node(node_id).stop(keep_data=True)
        self.wait_for_brokers(expected)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL a node, as a crash would (a paused one too: it dies hung); wait until the
        cluster has fenced it."""
        expected = self._without(node_id)
        self.paused.discard(node_id)
        self.node(node_id).kill()
        self.wait_for_brokers(expected)

    def pause_node(self, node_id: int) -> None:
        """SIGSTOP a node, a hung process; wait until the cluster has fenced it."""
        expected = self._without(node_id)
        self.paused.add(node_id)
        self.node(node_id).signal(signal.SIGSTOP)
        self.wait_for_brokers(expected)

    def resume_node(self, node_id: int) -> None:
        """SIGCONT a paused node; wait until it is back in the metadata."""
        expected = self._with(node_id)
        self.paused.discard(node_id)
        self.node(node_id).signal(signal.SIGCONT)
        self.wait_for_brokers(expected)

    def restart_node(self, node_id: int) -> None:
        """Start a stopped or killed node again on its ports, with its data."""
        expected = self._with(node_id)
        node = self.node(node_id)
        node.launch()
        self.wait_for_brokers(expected, timeout=self.config.start_timeout)

    def heal(self) -> None:
        """Resume paused nodes and restart stopped ones: every node up again."""
        for node_id in sorted(self.paused):
            self.resume_node(node_id)
        for node_id in sorted(self.stopped):
            self.restart_node(node_id)
