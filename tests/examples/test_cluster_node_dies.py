"""Inner run (``--kafka-brokers 3``): the second test SIGKILLs node 2 of the session's
cluster, outside ``kafka_faults``, and does nothing else that could fail; the third needs
the cluster after. Each test that had a cluster records it in cluster-<test>.json: its
bootstrap address and each node's JVM ("pid", "created"), for the outer test."""

import json
import os
import signal
from pathlib import Path

import psutil
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.waiting import wait_for

HERE = Path(__file__).parent


def record(name, cluster):
    jvms = [psutil.Process(node.pid) for node in cluster.nodes]
    assert all("kafka.Kafka" in jvm.cmdline() for jvm in jvms), "a node is not a broker JVM"
    (HERE / f"cluster-{name}.json").write_text(json.dumps({
        "bootstrap": cluster.bootstrap_servers,
        "nodes": [{"pid": jvm.pid, "created": jvm.create_time(),
                   "bootstrap": node.bootstrap_servers}
                  for jvm, node in zip(jvms, cluster.nodes, strict=True)]}))


def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_uses_the_cluster(kafka_cluster, kafka_admin):
    assert len(kafka_admin.list_topics(timeout=10).brokers) == 3
    record("first", kafka_cluster)


def test_a_node_dies(kafka_broker):
    pid = kafka_broker.node(2).pid
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), 10, f"node 2's JVM {pid} to die")
    # Two nodes of three still answer: nothing in this test fails by itself.


def test_gets_a_fresh_cluster(kafka_cluster):
    # kafka_cluster (module-scoped, cached in the first test) follows the fresh cluster.
    admin = AdminClient(kafka_cluster.client_config())
    assert len(admin.list_topics(timeout=10).brokers) == 3
    record("third", kafka_cluster)
