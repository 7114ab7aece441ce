"""``kafka-lab``: a detached broker for hands-on work, Kafka's tools, and --kafka-reuse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends.local import free_port
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.detached import load


def kafka_lab(*args: str, cache: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_kafka_lab.cli", *args],
                           capture_output=True, text=True, timeout=timeout, check=False,
                           env={**os.environ, "KAFKA_LAB_CACHE_DIR": str(cache)})


@pytest.fixture
def state_dir(kafka_lab_config: LabConfig, tmp_path: Path) -> Path:
    """A cache folder of its own for the state files, with links to the session's jars."""
    folder = tmp_path / "cache"
    folder.mkdir()
    for entry in kafka_lab_config.cache_dir.iterdir():
        if entry.name.startswith(("kafka-", "storage-", "broker-classes-")):
            (folder / entry.name).symlink_to(entry)
    return folder


def test_up_detach_status_tools_and_down(state_dir: Path) -> None:
    port = free_port()
    up = kafka_lab("up", "--port", str(port), "--detach", cache=state_dir)
    assert up.returncode == 0, up.stderr
    try:
        assert f"localhost:{port}" in up.stdout
        status = kafka_lab("status", "--port", str(port), cache=state_dir)
        assert status.returncode == 0
        assert "up, answering" in status.stdout
        created = kafka_lab("kafka-topics", "--create", "--topic", "orders", "--partitions", "4",
                            "--bootstrap-server", f"localhost:{port}", cache=state_dir)
        assert created.returncode == 0, created.stderr
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
        assert len(admin.list_topics("orders", timeout=10).topics["orders"].partitions) == 4
        listed = kafka_lab("kafka-topics", "--list", "--bootstrap-server", f"localhost:{port}",
                           cache=state_dir)
        assert "orders" in listed.stdout.split()
    finally:
        detached = load(state_dir, port)
        down = kafka_lab("down", "--port", str(port), cache=state_dir)
    assert down.returncode == 0, down.stderr
    assert detached is not None
    assert not detached.alive()
    assert not Path(detached.data_dir).exists()
    assert kafka_lab("status", "--port", str(port), cache=state_dir).returncode == 1


def test_an_unknown_tool_is_named_with_the_known_ones(state_dir: Path) -> None:
    listing = kafka_lab("tools", cache=state_dir)
    assert "kafka-console-consumer" in listing.stdout
    wrong = kafka_lab("kafka-nonsense", cache=state_dir)
    assert wrong.returncode != 0


def test_kafka_reuse_keeps_one_broker_across_runs(
    pytester: pytest.Pytester, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("""
        def test_pid(kafka_broker, kafka_topic):
            print("BOOTSTRAP", kafka_broker.bootstrap_servers)
    """)
    monkeypatch.setenv("KAFKA_LAB_CACHE_DIR", str(state_dir))
    first = pytester.runpytest_subprocess("--kafka-reuse", "-s", "-p", "no:cacheprovider")
    first.assert_outcomes(passed=1)
    states = list(state_dir.glob("up-*.json"))
    assert len(states) == 1, states
    port = int(states[0].stem.removeprefix("up-"))
    try:
        broker = load(state_dir, port)
        assert broker is not None
        assert broker.alive(), "the reused broker stopped with the run"
        second = pytester.runpytest_subprocess("--kafka-reuse", "-s", "-p", "no:cacheprovider")
        second.assert_outcomes(passed=1)
        second.stdout.fnmatch_lines([f"*reused (pid {broker.pid}*"])
    finally:
        assert kafka_lab("down", "--port", str(port), cache=state_dir).returncode == 0
