"""Ready means answered: a metadata request that returns the cluster's brokers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.exceptions import BrokerNotReadyError, BrokerStartError, KafkaLabError

# librdkafka reports every refused connection while a broker starts; that is expected
# then, and noise in the test output.
QUIET_LOGGER = logging.getLogger("pytest_kafka_lab.librdkafka.readiness")
QUIET_LOGGER.addHandler(logging.NullHandler())
QUIET_LOGGER.propagate = False
# The plugin's own clients (readers, admin) log through Python logging, where pytest
# captures it and shows it with a failing test, instead of librdkafka's raw stderr.
# A NullHandler keeps Python's last-resort handler from printing what a client logs after
# pytest stopped capturing (a client collected after the broker stopped, say).
CLIENT_LOGGER = logging.getLogger("pytest_kafka_lab.librdkafka")
CLIENT_LOGGER.addHandler(logging.NullHandler())


# Errors that no retry cures, whoever runs the broker: credentials or TLS it rejects.
INCURABLE = frozenset({KafkaError._AUTHENTICATION, KafkaError._SSL,
                       KafkaError.SASL_AUTHENTICATION_FAILED,
                       KafkaError.CLUSTER_AUTHORIZATION_FAILED})
# Against an existing cluster, which should be up already, also an address that does not
# resolve or a port that refuses. While a local broker starts, a refusal is expected.
INCURABLE_WHEN_EXISTING = INCURABLE | {KafkaError._RESOLVE, KafkaError._TRANSPORT}


def incurable(error: KafkaError, codes: frozenset[int]) -> bool:
    """Whether ``error`` is one of ``codes``; a transport failure only when refused."""
    if error.code() == KafkaError._TRANSPORT:
        return error.code() in codes and "refused" in error.str()
    return error.code() in codes or error.fatal()


class Probe:
    """Asks a cluster for metadata, one client for a whole wait, and keeps what librdkafka
    reported meanwhile (its error callback): refusals, unknown hosts, authentication."""

    def __init__(self, client_config: dict[str, Any]) -> None:
        self.errors: list[KafkaError] = []
        settings: dict[str, Any] = {
            **client_config, "logger": QUIET_LOGGER, "error_cb": self.errors.append,
            # Retry soon: a broker that is starting listens any moment now.
            "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 250}
        self.admin = AdminClient(settings)

    def brokers(self, timeout: float = 1.0) -> int:
        """The number of brokers the cluster reports, or 0 when it does not answer in time."""
        try:
            answered = len(self.admin.list_topics(timeout=timeout).brokers)
        except KafkaException:
            answered = 0
        self.admin.poll(0)  # serves the error callback
        return answered

    def first_of(self, codes: frozenset[int]) -> KafkaError | None:
        return next((error for error in self.errors if incurable(error, codes)), None)

    def seen(self) -> str:
        """What librdkafka reported, each distinct error once, latest last."""
        distinct = list(dict.fromkeys(f"{error.name()}: {error.str()}" for error in self.errors
                                      if error.code() != KafkaError._ALL_BROKERS_DOWN))
        return "; ".join(distinct[-3:]) or "no error (no answer yet)"


def brokers_answering(client_config: dict[str, Any], timeout: float = 1.0) -> int:
    """The number of brokers the cluster reports, or 0 when it does not answer in time."""
    settings: dict[str, Any] = {**client_config, "logger": QUIET_LOGGER}
    admin = AdminClient(settings)
    try:
        return len(admin.list_topics(timeout=timeout).brokers)
    except Exception:
        return 0


def answers_metadata(client_config: dict[str, Any], timeout: float = 1.0) -> bool:
    """Whether the cluster answers a metadata request, naming a broker, in time."""
    return brokers_answering(client_config, timeout) > 0


def what_a_probe_sees(client_config: dict[str, Any], timeout: float = 1.0) -> str:
    """One metadata request's outcome in words: for an error after a start that failed."""
    probe = Probe(client_config)
    answered = probe.brokers(timeout)
    return f"{answered} broker(s) answered" if answered else f"librdkafka: {probe.seen()}"


def wait_until_ready(
    client_config: dict[str, Any],
    timeout: float,
    expected_brokers: int = 1,
    still_alive: Callable[[], None] = lambda: None,
    gives_up_on: frozenset[int] = INCURABLE,
) -> float:
    """Block until the cluster answers with ``expected_brokers``; return the seconds taken.

    ``still_alive`` is called between tries and raises when the process behind the
    cluster died, so a crash is reported at once instead of at the deadline; an error of
    ``gives_up_on`` (no retry cures it) ends the wait at once too. Either error says what
    librdkafka reported while waiting.
    """
    start, probe = time.monotonic(), Probe(client_config)
    address, seen = client_config.get("bootstrap.servers"), 0
    while time.monotonic() - start < timeout:
        try:
            still_alive()
        except KafkaLabError as error:
            raise BrokerStartError(f"{error}; meanwhile the readiness probe saw: "
                                   f"{probe.seen()}") from error
        seen = probe.brokers(timeout=min(1.0, timeout))
        if seen >= expected_brokers:
            return time.monotonic() - start
        hopeless = probe.first_of(gives_up_on)
        if hopeless is not None:
            raise BrokerNotReadyError(
                f"{address} did not answer a metadata request: librdkafka reported "
                f"{hopeless.name()}: {hopeless.str()}. No retry cures that, so the wait "
                "stopped at once. Check that the address is right and reachable, and the "
                "credentials and TLS settings (--kafka-client-config).")
    raise BrokerNotReadyError(
        f"{address} did not answer a metadata request with {expected_brokers} broker(s) "
        f"within {timeout:g}s (last answer: {seen} broker(s); librdkafka reported: "
        f"{probe.seen()}). Check that the address is right and reachable, or raise "
        "--kafka-start-timeout."
    )
