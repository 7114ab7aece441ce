"""Ready means answered: a metadata request that returns the cluster's brokers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.exceptions import BrokerNotReadyError

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


def wait_until_ready(
    client_config: dict[str, Any],
    timeout: float,
    expected_brokers: int = 1,
    still_alive: Callable[[], None] = lambda: None,
) -> float:
    """Block until the cluster answers with ``expected_brokers``; return the seconds taken.

    ``still_alive`` is called between tries and raises when the process behind the
    cluster died, so a crash is reported at once instead of at the deadline.
    """
    start = time.monotonic()
    seen = 0
    while time.monotonic() - start < timeout:
        still_alive()
        seen = brokers_answering(client_config, timeout=min(1.0, timeout))
        if seen >= expected_brokers:
            return time.monotonic() - start
    raise BrokerNotReadyError(
        f"{client_config.get('bootstrap.servers')} did not answer a metadata request with "
        f"{expected_brokers} broker(s) within {timeout:g}s (last answer: {seen} broker(s)). "
        "Check that the address is right and reachable, or raise --kafka-start-timeout."
    )
