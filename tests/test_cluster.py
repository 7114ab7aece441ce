"""The local three-node cluster and its faults, checked against what the cluster serves."""

from __future__ import annotations

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends.cluster import LocalCluster
from pytest_kafka_lab.naming import unique_name
from pytest_kafka_lab.readers import read_topic
from pytest_kafka_lab.topics import create_topic, delete_topics


def brokers_seen(cluster: LocalCluster, through: int) -> set[int]:
    """Broker ids in the metadata served by node ``through`` (a fresh client)."""
    admin = AdminClient({"bootstrap.servers": cluster.node(through).bootstrap_servers})
    return set(admin.list_topics(timeout=10).brokers)


def test_three_nodes_replicate_every_topic_three_times(kafka_cluster: LocalCluster) -> None:
    admin = AdminClient(kafka_cluster.client_config())
    topic = create_topic(admin, unique_name("replicated"), partitions=2)
    try:
        partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
        assert {len(p.replicas) for p in partitions.values()} == {3}
        assert {len(p.isrs) for p in partitions.values()} == {3}
        assert brokers_seen(kafka_cluster, 1) == {1, 2, 3}
    finally:
        delete_topics(admin, [topic])


def test_a_killed_node_is_fenced_and_comes_back(kafka_faults: LocalCluster) -> None:
    kafka_faults.kill_node(2)
    assert brokers_seen(kafka_faults, 1) == {1, 3}
    kafka_faults.restart_node(2)
    assert brokers_seen(kafka_faults, 3) == {1, 2, 3}


def test_a_paused_node_is_fenced_until_resumed(kafka_faults: LocalCluster) -> None:
    kafka_faults.pause_node(3)
    assert brokers_seen(kafka_faults, 1) == {1, 2}
    kafka_faults.resume_node(3)
    assert brokers_seen(kafka_faults, 2) == {1, 2, 3}


def test_writes_survive_a_stopped_node_and_the_fixture_heals_it(
    kafka_faults: LocalCluster,
) -> None:
    admin = AdminClient(kafka_faults.client_config())
    topic = create_topic(admin, unique_name("survive"), partitions=1)
    try:
        kafka_faults.stop_node(1)
        producer = Producer(kafka_faults.client_config(**{"acks": "all",
                                                          "enable.idempotence": True}))
        for number in range(50):
            producer.produce(topic, value=str(number).encode())
        assert producer.flush(30) == 0
        values = [record.value for record in read_topic(kafka_faults.client_config(), topic)]
        assert values == [str(number).encode() for number in range(50)]
    finally:
        # A fresh client: the first one may keep aiming its requests at the stopped node.
        delete_topics(AdminClient(kafka_faults.client_config()), [topic])
    # heal() runs in the fixture's teardown; node 1 being down here is deliberate.
    assert kafka_faults.stopped == {1}


def test_the_cluster_is_whole_again_after_a_faulty_test(kafka_cluster: LocalCluster) -> None:
    assert kafka_cluster.stopped == set()
    assert brokers_seen(kafka_cluster, 1) == {1, 2, 3}
