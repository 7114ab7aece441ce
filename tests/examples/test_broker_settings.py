"""Inner run: the broker really uses the settings of the ini file (LAB_EXPECTED_PORT)."""

import os

from confluent_kafka.admin import AdminClient, ConfigResource


def test_broker_uses_the_ini_settings(kafka_broker):
    port = int(os.environ["LAB_EXPECTED_PORT"])
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
    [broker] = admin.list_topics(timeout=10).brokers.values()
    assert broker.port == port
    assert kafka_broker.bootstrap_servers == f"127.0.0.1:{port}"
    resource = ConfigResource("broker", str(broker.id))
    settings = admin.describe_configs([resource])[resource].result(10)
    assert settings["message.max.bytes"].value == "2000123"
    assert settings["log.retention.ms"].value == "7654321"
    print(f"INNER-BOOTSTRAP {kafka_broker.bootstrap_servers}")
