"""An external cluster that wants SASL (issue 20, item 5): with the right credentials in
``--kafka-client-config`` the fixtures work through it; with a wrong password the run
stops at once with librdkafka's authentication error, not after the start timeout.

The cluster is a local KRaft broker of this module's, with a second listener, ``SASL``
(SASL_PLAINTEXT, mechanism PLAIN, its users in the listener's JAAS configuration).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_kafka_lab.backends.base import free_port
from pytest_kafka_lab.backends.local import LocalBroker
from pytest_kafka_lab.config import LabConfig
from tests.test_options import INNER_TIMEOUT, assert_clean_exit, inner_run

USER, PASSWORD = "student", "right-password"
JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        f'username="admin" password="admin-secret" user_admin="admin-secret" '
        f'user_{USER}="{PASSWORD}";')
SASL_SETTINGS = {
    "listener.security.protocol.map":
        "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL:SASL_PLAINTEXT",
    "sasl.enabled.mechanisms": "PLAIN",
    "listener.name.sasl.plain.sasl.jaas.config": JAAS,
}
# Far beyond the inner run's own time limit (INNER_TIMEOUT): a run that waited out its
# start timeout would be killed by pytester and fail this test.
START_TIMEOUT = "900"
assert float(START_TIMEOUT) > INNER_TIMEOUT


@pytest.fixture(scope="module")
def sasl_broker(kafka_lab_config: LabConfig) -> Iterator[tuple[LocalBroker, str]]:
    """A broker with a SASL_PLAINTEXT listener; yields it and that listener's address."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    config = kafka_lab_config.replace(port=0, brokers=1, reuse=False,
                                      broker_properties=tuple(SASL_SETTINGS.items()))
    with LocalBroker(config, extra_listeners={"SASL": (port, address)}) as broker:
        yield broker, address


def client_properties(pytester: pytest.Pytester, password: str) -> Path:
    return pytester.makefile(".properties", client="\n".join([
        "security.protocol=SASL_PLAINTEXT", "sasl.mechanism=PLAIN",
        f"sasl.username={USER}", f"sasl.password={password}",
        "client.id=lab-from-client-config", ""]))


def test_the_fixtures_work_through_sasl_with_the_right_password(
    lab_pytester: pytest.Pytester, sasl_broker: tuple[LocalBroker, str],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    broker, sasl_address = sasl_broker
    # The example checks what it made through the broker's plain listener.
    monkeypatch.setenv("LAB_OUTER_BOOTSTRAP", broker.bootstrap_servers)
    monkeypatch.setenv("LAB_TOPIC_FILE", str(tmp_path / "topic.txt"))
    client_properties(lab_pytester, PASSWORD)
    lab_pytester.copy_example("test_external_cluster.py")
    result = inner_run(lab_pytester, "--kafka-bootstrap", sasl_address,
                       "--kafka-client-config", "client.properties")
    result.assert_outcomes(passed=1)
    assert_clean_exit(result)


def test_a_wrong_password_stops_the_run_at_once_with_librdkafkas_reason(
    lab_pytester: pytest.Pytester, sasl_broker: tuple[LocalBroker, str],
) -> None:
    _, sasl_address = sasl_broker
    client_properties(lab_pytester, "wrong-password")
    lab_pytester.copy_example("test_needs_broker.py")
    result = inner_run(lab_pytester, "--kafka-bootstrap", sasl_address,
                       "--kafka-client-config", "client.properties",
                       "--kafka-start-timeout", START_TIMEOUT)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        f"kafka-lab: the broker did not start: {sasl_address} did not answer a metadata "
        "request: librdkafka reported _AUTHENTICATION: *Authentication failed*"
        "No retry cures that, so the wait stopped at once.*",
    ])
