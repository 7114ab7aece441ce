"""``kafka-lab``: a detached broker for hands-on work, Kafka's tools, --kafka-reuse, and what
``kafka-lab grade`` refuses before it starts anything (its gradings: test_gradebook.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends.base import free_port
from pytest_kafka_lab.cli import main, parser
from pytest_kafka_lab.config import LAB_TIMEOUT, LabConfig, default_of
from pytest_kafka_lab.detached import load
from pytest_kafka_lab.grading.class_runner.grade_command import broker_config
from pytest_kafka_lab.grading.fixtures import run_timeout


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


# --- kafka-lab grade: what it refuses before starting anything ----------------------------


def grade_refusal(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """``kafka-lab grade ARGS`` in this process: it must refuse (exit 2); its message."""
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(["grade", *args]))
    assert exited.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(("shard", "says"), [
    ("0/3", "K must be from 1 to N"), ("4/3", "K must be from 1 to N"),
    ("x", "is not K/N"), ("1/0", "K must be from 1 to N"), ("2", "is not K/N"),
])
def test_grade_refuses_a_bad_shard(shard: str, says: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    message = grade_refusal(capsys, "--shard", shard, str(tmp_path))
    assert f"argument --shard: {shard!r}: " in message or f"{shard!r} is not K/N" in message
    assert says in message


def test_grade_refuses_to_grade_in_parallel_on_one_existing_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = grade_refusal(capsys, "-j", "2", "--kafka-bootstrap", "broker.example:9092",
                            str(tmp_path))
    assert "-j 2 cannot grade on one existing cluster" in message
    assert "-j 1" in message
    assert "--shard K/N" in message


def test_grade_refuses_a_fixed_port_for_several_brokers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = grade_refusal(capsys, "-j", "3", "--kafka-port", "19092", str(tmp_path))
    assert "cannot all listen on --kafka-port 19092" in message


def test_grade_refuses_a_single_submissions_report_for_several(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ann", "bob"):
        (tmp_path / name).mkdir()
    message = grade_refusal(capsys, "--gradescope", str(tmp_path / "results.json"),
                            str(tmp_path / "ann"), str(tmp_path / "bob"))
    assert "--gradescope" in message
    assert "2 are to be graded" in message


def test_grade_refuses_merging_and_grading_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = grade_refusal(capsys, str(tmp_path), "--merge", str(tmp_path / "book-1.json"))
    assert "either submission folders or --merge" in message


def test_grade_refuses_a_submission_twice_in_the_shards_it_merges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grade = {"name": "ann", "submission": "/class/ann", "exercises": {}}
    for shard in ("book-1.json", "book-2.json"):
        (tmp_path / shard).write_text(json.dumps([grade]))
    message = grade_refusal(capsys, "--merge", str(tmp_path / "book-1.json"),
                            str(tmp_path / "book-2.json"), "--out", str(tmp_path / "book"))
    assert f"ann is graded in both {tmp_path / 'book-1.json'} and {tmp_path / 'book-2.json'}" \
        in message


def test_grade_reads_the_broker_options_as_pytest_does(tmp_path: Path) -> None:
    args = parser().parse_args([
        "grade", str(tmp_path), "--kafka-brokers", "3", "--kafka-heap", "768m",
        "--kafka-broker-properties", "log.retention.ms=60000",
        "--kafka-broker-properties", "num.partitions=2"])
    config = broker_config(args)
    assert (config.backend, config.brokers, config.heap) == ("local", 3, "768m")
    assert config.broker_properties == (("log.retention.ms", "60000"), ("num.partitions", "2"))
    external = broker_config(parser().parse_args(
        ["grade", str(tmp_path), "--kafka-bootstrap", "broker.example:9092"]))
    assert (external.backend, external.bootstrap) == ("external", "broker.example:9092")
    container = broker_config(parser().parse_args(
        ["grade", str(tmp_path), "--kafka-backend", "container"]))
    assert container.backend == "container"


def test_every_front_end_takes_its_defaults_from_the_settings_model(
    tmp_path: Path, pytestconfig: pytest.Config,
) -> None:
    """Each default is written once, in ``config`` (issue 20, item 3): the grader's run
    timeout in pytest (``--lab-timeout``), ``kafka-lab grade`` and ``kafka-lab check``; the
    broker's settings in ``LabConfig``, ``kafka-lab grade`` and ``kafka-lab up``."""
    grade = parser().parse_args(["grade", str(tmp_path)])
    check = parser().parse_args(["check"])
    assert pytestconfig.getoption("lab_timeout") is None, "this run sets --lab-timeout"
    assert grade.timeout == check.timeout == run_timeout(pytestconfig) \
        == LAB_TIMEOUT.typed_default
    graded = broker_config(grade)
    for name in ("start_timeout", "heap", "jit", "port", "brokers", "image"):
        assert getattr(graded, name) == getattr(LabConfig(), name) == default_of(name), name
    up = parser().parse_args(["up"])
    assert (up.heap, up.jit) == (default_of("heap"), default_of("jit"))


def test_grade_refuses_a_file_given_for_a_submission_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "exercise_producer.py"
    script.write_text("")
    message = grade_refusal(capsys, str(script))
    assert f"{script}: a file, where a submission is a folder" in message


@pytest.mark.parametrize(("points", "says"), [
    ("[ex1\n", "not valid TOML"),
    ("[ex1]\nflushes_before_exiting = 0\n", "points must be a positive whole number"),
    (None, "cannot be read"),
])
def test_grade_refuses_a_bad_points_file_before_grading(
        points: str | None, says: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "points.toml"  # absolute, as a recipe may give it
    if points is not None:
        path.write_text(points)
    message = grade_refusal(capsys, str(tmp_path), "--points", str(path),
                            "--out", str(tmp_path / "book"))
    assert says in message
    assert not list(tmp_path.glob("book.*"))


@pytest.mark.parametrize(("bootstrap", "says"), [
    ("127.0.0.1:1", "Connection refused"),
    ("no-such-host.invalid:9092", "unknown host 'no-such-host.invalid'"),
])
def test_grade_fails_at_once_on_a_cluster_it_cannot_reach(
        bootstrap: str, says: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A refused connection or an unknown host is said before any wait for the broker
    (the readiness wait would last --kafka-start-timeout), and leaves no gradebook."""
    message = grade_refusal(capsys, str(tmp_path), "--kafka-bootstrap", bootstrap,
                            "--out", str(tmp_path / "book"))
    assert f"cannot reach the Kafka cluster (--kafka-bootstrap {bootstrap})" in message
    assert says in message
    assert not list(tmp_path.glob("book.*"))
