"""Errors that say what was checked and what to do next."""

from __future__ import annotations


class KafkaLabError(Exception):
    """Base of every error the plugin raises on purpose."""


class JavaNotFoundError(KafkaLabError):
    """No usable Java runtime (17 or newer) for the local broker."""

    def __init__(self, checked: list[str], found: str | None = None) -> None:
        where = "\n".join(f"  - {path}" for path in checked) or "  - (nothing)"
        seen = f"\nFound {found}, but Kafka 4 needs Java 17 or newer." if found else ""
        super().__init__(
            "The local Kafka broker needs Java 17 or newer."
            f"{seen}\nChecked:\n{where}\nWays out:\n"
            "  1. install it: apt-get install openjdk-17-jre-headless (or any JDK >= 17)\n"
            "  2. point JAVA_HOME at an installed JDK 17+\n"
            "  3. use another backend: --kafka-backend container (Docker) or "
            "--kafka-bootstrap HOST:PORT (an existing cluster)"
        )


class MavenNotFoundError(KafkaLabError):
    """Maven is needed to fetch Kafka's jars the first time."""

    def __init__(self, checked: list[str]) -> None:
        where = "\n".join(f"  - {path}" for path in checked)
        super().__init__(
            "Fetching Kafka's jars needs Maven (mvn), and none was found.\nChecked:\n"
            f"{where}\nWays out:\n"
            "  1. install it: apt-get install maven\n"
            "  2. use an unpacked Kafka distribution: --kafka-home DIR (or KAFKA_HOME)\n"
            "  3. use another backend: --kafka-backend container or --kafka-bootstrap HOST:PORT"
        )


class DistributionFetchError(KafkaLabError):
    """Maven ran but could not deliver the jars."""


class CorruptCacheError(KafkaLabError):
    """The jar cache does not hold what its manifest promises."""


class BrokerStartError(KafkaLabError):
    """The broker did not become ready; the message carries its log tail."""


class BrokerNotReadyError(KafkaLabError):
    """A cluster did not answer a metadata request before the deadline."""


class BackendUnavailableError(KafkaLabError):
    """A backend's prerequisite (Docker engine, an extra) is absent."""


class BrokerDiedError(KafkaLabError):
    """The session's broker process ended while the run still used it; the message says
    how it ended and carries its log tail."""

    def __init__(self, message: str, ended: str) -> None:
        super().__init__(message)
        self.ended = ended
