"""Inner run: one test that needs the broker and nothing else."""


def test_needs_broker(kafka_broker):
    assert kafka_broker.bootstrap_servers
