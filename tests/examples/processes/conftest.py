"""Inner runs of test_processes.py: each test records the broker JVM its pytest started."""

from pathlib import Path

import psutil
import pytest

HERE = Path(__file__).parent


@pytest.fixture
def recorded_jvm(kafka_broker):
    """The broker JVM (a child of this pytest), written to jvm.txt as "pid create_time",
    and the bootstrap address to started.txt once the broker answered."""
    jvms = [child for child in psutil.Process().children(recursive=True)
            if "kafka.Kafka" in child.cmdline()]
    assert len(jvms) == 1, f"expected one broker JVM under this pytest, found {jvms}"
    (HERE / "jvm.txt").write_text(f"{jvms[0].pid} {jvms[0].create_time()}")
    (HERE / "started.txt").write_text(kafka_broker.bootstrap_servers)
    return jvms[0]
