"""Inner run: fixtures use the outer session's broker (LAB_OUTER_BOOTSTRAP) and the
client settings of the --kafka-client-config file, and start no JVM of their own."""

import os
from pathlib import Path

import psutil
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.readers import describe_group
from pytest_kafka_lab.waiting import wait_for

OUTER = {"bootstrap.servers": os.environ["LAB_OUTER_BOOTSTRAP"]}


def test_fixtures_use_the_existing_cluster(
    kafka_broker, kafka_topic, kafka_consumer_factory, kafka_unique_name
):
    own_jvms = [child for child in psutil.Process().children(recursive=True)
                if "kafka.Kafka" in child.cmdline()]
    assert own_jvms == []
    assert kafka_topic in AdminClient(OUTER).list_topics(timeout=10).topics
    Path(os.environ["LAB_TOPIC_FILE"]).write_text(kafka_topic)

    group = kafka_unique_name()
    consumer = kafka_consumer_factory(kafka_topic, group_id=group)

    def joined():
        consumer.poll(0.2)
        return consumer.assignment() or None  # wait_for accepts [] as an answer

    wait_for(joined, 30, "the consumer to join its group")
    members = describe_group(OUTER, group).members
    assert [member.client_id for member in members] == ["lab-from-client-config"]
