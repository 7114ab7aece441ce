"""Options of the benchmark suite (``pytest benchmarks/``)."""

from __future__ import annotations

import pytest

from pytest_kafka_lab.config import OPTIONS, raw_value
from pytest_kafka_lab.lifecycle import holder_of

JIT = next(option for option in OPTIONS if option.name == "jit")


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


@pytest.fixture(scope="session", autouse=True)
def broker_with_full_jit(pytestconfig: pytest.Config) -> None:
    """Throughput is measured on a broker with C2 (``--kafka-jit full``), as a production
    broker runs, unless the run chose otherwise; before the first test starts the broker."""
    if not raw_value(pytestconfig, JIT):
        holder = holder_of(pytestconfig)
        holder.lab_config = holder.lab_config.replace(jit="full")
