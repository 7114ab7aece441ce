"""The container backend: the official ``apache/kafka`` image through testcontainers.

The client listener is published on a host port chosen before the start, so the broker
can advertise the address clients will really use (testcontainers' Kafka module does the
same dance for Confluent's images, whose start scripts the official image lacks).
"""

from __future__ import annotations

from typing import Any, Self

from pytest_kafka_lab.backends import Backend
from pytest_kafka_lab.backends.base import TEST_BROKER_SETTINGS, LoopbackBroker, free_port
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.exceptions import BackendUnavailableError
from pytest_kafka_lab.readiness import wait_until_ready


def docker_engine_problem() -> str | None:
    """Why the container backend cannot run here, or None when it can."""
    try:
        import docker  # type: ignore[import-untyped]
    except ImportError:
        return ("the container backend needs the 'container' extra: "
                "pip install 'pytest-kafka-lab[container]'")
    try:
        docker.from_env().ping()
    except Exception as error:
        return f"no Docker engine answers ({type(error).__name__}: {error})"
    return None


def environment_for(port: int, extra: dict[str, str]) -> dict[str, str]:
    """The image's settings as ``KAFKA_*`` variables (dots become underscores)."""
    settings = {
        "node.id": "1",
        "process.roles": "broker,controller",
        "controller.quorum.voters": "1@localhost:9093",
        "listeners": "PLAINTEXT://:9092,BROKER://:19092,CONTROLLER://:9093",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},BROKER://localhost:19092",
        "listener.security.protocol.map":
            "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "BROKER",
        "controller.listener.names": "CONTROLLER",
        **TEST_BROKER_SETTINGS,
        **extra,
    }
    return {"KAFKA_" + key.upper().replace(".", "_"): value for key, value in settings.items()}


class ContainerBroker(LoopbackBroker):
    """One KRaft node in a container, published on a loopback port."""

    backend: Backend = "container"

    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.kafka_version = config.image.rpartition(":")[2]
        self.port = config.port or free_port()
        self.container: Any = None

    def describe(self) -> str:
        return (f"Kafka {self.kafka_version}, backend container ({self.config.image}), "
                f"bootstrap {self.bootstrap_servers}, ready in {self.startup_seconds:.1f}s")

    def log_tail(self, lines: int = 40) -> str:
        if self.container is None:
            return ""
        logs = self.container.get_wrapped_container().logs(tail=lines)
        return str(logs.decode(errors="replace"))

    def start(self) -> Self:
        problem = docker_engine_problem()
        if problem:
            raise BackendUnavailableError(
                f"--kafka-backend container: {problem}. Use the default local backend "
                "(no Docker needed) or --kafka-bootstrap HOST:PORT."
            )
        return self.timed_start(self._run_container)

    def _run_container(self) -> None:
        from testcontainers.core.container import DockerContainer

        # docker-py takes (host ip, port) and publishes on loopback only.
        loopback: Any = ("127.0.0.1", self.port)
        container = DockerContainer(self.config.image).with_bind_ports(9092, loopback)
        for name, value in environment_for(self.port, dict(self.config.broker_properties)).items():
            container.with_env(name, value)
        self.container = container.start()
        wait_until_ready(self.client_config(), self.config.start_timeout)

    def stop(self) -> None:
        if self.container is not None:
            self.container.stop()
            self.container = None
