"""Options of the benchmark suite (``pytest benchmarks/``)."""

from __future__ import annotations

import pytest

from pytest_kafka_lab import factories


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kafka-lab-benchmarks")
    group.addoption("--bench-messages", type=int, default=100_000,
                    help="messages per round of a producer case (default 100000)")
    group.addoption("--bench-message-size", type=int, default=100,
                    help="bytes per message (default 100)")
    group.addoption("--bench-linger-ms", type=int, default=5,
                    help="linger.ms of every producer, Python and Java (default 5)")
    group.addoption("--bench-ratio-messages", type=int, default=3_000_000,
                    help="messages of the Python-versus-Java comparison; the Java tool "
                    "needs millions to get past its JIT warm-up (default 3000000)")


@pytest.fixture(scope="session")
def bench_messages(pytestconfig: pytest.Config) -> int:
    return int(pytestconfig.getoption("bench_messages"))


@pytest.fixture(scope="session")
def bench_message_size(pytestconfig: pytest.Config) -> int:
    return int(pytestconfig.getoption("bench_message_size"))


@pytest.fixture(scope="session")
def bench_linger_ms(pytestconfig: pytest.Config) -> int:
    return int(pytestconfig.getoption("bench_linger_ms"))


@pytest.fixture(scope="session")
def bench_ratio_messages(pytestconfig: pytest.Config) -> int:
    return int(pytestconfig.getoption("bench_ratio_messages"))


# Throughput is measured on a broker with C2 (``--kafka-jit full``), as a production broker
# runs; the run's broker is started with it, before the first test.
kafka_broker = factories.kafka_proc(jit="full")
