"""The no-orphan promise: whatever happens to a run, its broker JVM does not outlive it.

Each test runs a user's pytest in a subprocess (``tests/examples/processes``): the inner
test records the JVM its pytest started, and this run checks from outside, with psutil,
that the JVM (the very process: pid reuse is detected) is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.processes import hear_ctrl_c
from pytest_kafka_lab.waiting import wait_for

INNER_TIMEOUT = 180
EXAMPLES = Path(__file__).parent / "examples"

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


class InnerRun:
    """A user's ``pytest`` in its own session (as a terminal's foreground job would be)."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.folder = folder
        self.output = folder / "inner-output.txt"
        with self.output.open("w") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", *args],
                cwd=folder, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=hear_ctrl_c,
            )

    def text(self) -> str:
        return self.output.read_text()

    def wait_until(self, check: Callable[[], object], awaited: str) -> None:
        """Wait for ``check()`` while the run is alive; a run that ended fails at once."""

        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the inner run ended while waiting for {awaited}:\n"
                                     f"{self.text()}")
            return bool(check())

        wait_for(ready, INNER_TIMEOUT, awaited, lambda: self.text()[-2000:])

    def finish(self, timeout: float = 60) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def processes_example(lab_pytester: pytest.Pytester) -> Path:
    lab_pytester.copy_example("processes")
    lab_pytester.copy_example("test_needs_broker.py")
    return lab_pytester.path


@pytest.fixture
def inner_runs(jvms: Any) -> Iterator[list[InnerRun]]:
    """Inner runs started by a test, killed with their JVMs if the test left them."""
    runs: list[InnerRun] = []
    yield runs
    for run in runs:
        leftovers = jvms.under(run.process.pid)
        run.kill()
        for jvm in leftovers:
            with contextlib.suppress(psutil.Error):
                jvm.kill()


def the_jvm_of(run: InnerRun, jvms: Any) -> psutil.Process:
    """The broker JVM under the inner pytest, found by its parent chain and checked
    against what the inner test recorded."""
    found = jvms.under(run.process.pid)
    assert len(found) == 1, f"expected one Kafka JVM under the inner pytest, found {found}"
    recorded = jvms.recorded(run.folder / "jvm.txt")
    assert recorded is not None
    assert recorded.pid == found[0].pid
    return found[0]


def port_answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


# --- the run ends badly ---------------------------------------------------------------------


def test_a_killed_pytest_leaves_no_broker_jvm(
    processes_example: Path, inner_runs: list[InnerRun], jvms: Any
) -> None:
    run = InnerRun(processes_example, "test_blocks.py")
    inner_runs.append(run)
    run.wait_until((processes_example / "started.txt").exists, "the broker to answer")
    jvm = the_jvm_of(run, jvms)
    bootstrap = (processes_example / "started.txt").read_text()
    assert port_answers(bootstrap)
    os.kill(run.process.pid, signal.SIGKILL)
    run.process.wait(30)
    jvms.wait_gone([jvm])
    wait_for(lambda: not port_answers(bootstrap), 10, f"nothing to listen on {bootstrap}")


def test_ctrl_c_during_a_test_stops_the_broker_and_its_data(
    processes_example: Path, inner_runs: list[InnerRun], jvms: Any,
    data_dirs_left: Callable[[], list[str]],
) -> None:
    run = InnerRun(processes_example, "test_blocks.py")
    inner_runs.append(run)
    run.wait_until((processes_example / "started.txt").exists, "the broker to answer")
    jvm = the_jvm_of(run, jvms)
    os.killpg(run.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    assert run.finish() == pytest.ExitCode.INTERRUPTED, run.text()
    assert "KeyboardInterrupt" in run.text()
    jvms.wait_gone([jvm])
    assert data_dirs_left() == []


def test_ctrl_c_while_the_broker_starts_leaves_no_jvm_and_no_data(
    processes_example: Path, inner_runs: list[InnerRun], jvms: Any,
    data_dirs_left: Callable[[], list[str]],
) -> None:
    run = InnerRun(processes_example, "test_blocks.py")
    inner_runs.append(run)
    found: list[psutil.Process] = []
    run.wait_until(lambda: found.extend(jvms.under(run.process.pid)) or found,
                   "the broker JVM to be launched")
    assert not (processes_example / "started.txt").exists(), "the broker was up already"
    os.killpg(run.process.pid, signal.SIGINT)
    assert run.finish() == pytest.ExitCode.INTERRUPTED, run.text()
    jvms.wait_gone(found)
    assert data_dirs_left() == [], (
        "an interrupted start must still remove the broker's data folder")


def test_a_failing_test_still_stops_the_broker(
    processes_example: Path, lab_pytester: pytest.Pytester, jvms: Any,
    data_dirs_left: Callable[[], list[str]],
) -> None:
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_fails.py",
                                               timeout=INNER_TIMEOUT)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*deliberately failing with the broker up*"])
    # The run is over: its JVM must already be gone, not merely going.
    jvm = jvms.recorded(processes_example / "jvm.txt")
    assert jvm is None or not jvms.alive(jvm), f"the broker JVM {jvm.pid} outlived its run"
    assert not port_answers((processes_example / "started.txt").read_text())
    assert data_dirs_left() == []


# --- the broker cannot start ----------------------------------------------------------------


def start_failure(lab_pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", *args,
                                               "test_needs_broker.py", timeout=INNER_TIMEOUT)
    result.assert_outcomes(errors=1)
    return result


def test_a_broker_dying_while_it_starts_is_reported_with_its_log_tail(
    processes_example: Path, lab_pytester: pytest.Pytester, data_dirs_left: Callable[[], list[str]]
) -> None:
    result = start_failure(lab_pytester, "--kafka-broker-properties",
                           "authorizer.class.name=no.such.Authorizer")
    text = result.stdout.str()
    problems = []
    if "the Kafka broker exited while starting" not in text:
        problems.append("the error does not say the broker exited while starting")
    if "no.such.Authorizer" not in text:
        problems.append("the error's log tail does not show why (no.such.Authorizer)")
    if data_dirs_left():
        problems.append(f"data folders left behind: {data_dirs_left()}")
    assert not problems, "\n".join(problems) + f"\n--- inner output ---\n{text}"


def test_a_setting_the_storage_tool_rejects_is_reported_with_its_output(
    processes_example: Path, lab_pytester: pytest.Pytester, data_dirs_left: Callable[[], list[str]]
) -> None:
    result = start_failure(lab_pytester, "--kafka-broker-properties", "process.roles=nonsense")
    text = result.stdout.str()
    problems = []
    if "formatting the broker's storage" not in text:
        problems.append("the error does not say formatting the storage failed")
    if "nonsense" not in text:
        problems.append("the error does not show the rejected value")
    if data_dirs_left():
        problems.append(f"data folders left behind: {data_dirs_left()}")
    assert not problems, "\n".join(problems) + f"\n--- inner output ---\n{text}"


def test_a_port_already_in_use_is_reported_with_what_to_do(
    processes_example: Path, lab_pytester: pytest.Pytester, data_dirs_left: Callable[[], list[str]]
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = start_failure(lab_pytester, "--kafka-port", str(port))
    text = result.stdout.str()
    problems = []
    if f"port {port} on 127.0.0.1 is already in use" not in text:
        problems.append(f"the error does not say port {port} is already in use")
    if f"sport = :{port}'" not in text:
        problems.append(f"the `ss` hint does not name port {port}")
    if "--kafka-port" not in text:
        problems.append("the error does not offer --kafka-port")
    if data_dirs_left():
        problems.append(f"data folders left behind: {data_dirs_left()}")
    assert not problems, "\n".join(problems) + f"\n--- inner output ---\n{text}"


# --- the broker dies during the run ---------------------------------------------------------


def test_a_broker_dying_mid_test_fails_that_test_and_the_next_gets_a_fresh_one(
    processes_example: Path, lab_pytester: pytest.Pytester, jvms: Any,
    data_dirs_left: Callable[[], list[str]],
) -> None:
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_broker_dies.py",
                                               timeout=INNER_TIMEOUT)
    text = result.stdout.str()
    result.assert_outcomes(passed=2, failed=1)
    first, third = ((processes_example / f"bootstrap-{name}.txt").read_text()
                    for name in ("first", "third"))
    killed_pid = (processes_example / "jvm-first.txt").read_text().split()[0]
    problems = []
    if "FAILED test_broker_dies.py::test_the_broker_dies" not in text:
        problems.append("it is not the test during which the broker died that failed")
    if not re.search(rf"The Kafka broker at {re.escape(first)} \(pid {killed_pid}\) died "
                     "during this test: killed by SIGKILL", text):
        problems.append(f"the failure does not say the broker {killed_pid} died of SIGKILL")
    if "Kafka Server started" not in text.partition("ends with:")[2]:
        problems.append("the failure does not show the dead broker's log tail")
    if not re.search(r"kafka-lab: the broker died \(killed by SIGKILL\); started a fresh "
                     rf"one: .*bootstrap {re.escape(third)}, ready in [\d.]+s", text):
        problems.append(f"the fresh broker at {third} was not announced")
    if third == first:
        problems.append(f"the third test got the dead broker's address {first}")
    # The run is over: neither JVM may outlive it, nor either data folder.
    left = [jvm.pid for jvm in (jvms.recorded(processes_example / f"jvm-{name}.txt")
                                for name in ("first", "third")) if jvm and jvms.alive(jvm)]
    if left or port_answers(third) or data_dirs_left():
        problems.append(f"left behind: JVMs {left}, data folders {data_dirs_left()}, "
                        f"something on {third}: {port_answers(third)}")
    assert not problems, "\n".join(problems) + f"\n--- inner output ---\n{text}"


def test_a_broker_dying_under_xdist_fails_the_tests_and_is_not_restarted(
    lab_pytester: pytest.Pytester, jvms: Any, data_dirs_left: Callable[[], list[str]],
) -> None:
    lab_pytester.copy_example("test_broker_dies_under_xdist.py")
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "1",
                                               timeout=INNER_TIMEOUT)
    text = result.stdout.str()
    result.assert_outcomes(failed=1, errors=1)
    problems = []
    if not re.search(r"died during this test: its process is gone\. It is not restarted: "
                     "under pytest-xdist", text):
        problems.append("the test that killed the broker does not fail with its death")
    if not re.search(r"ERROR .*test_needs_the_broker_after", text) or (
            "died earlier in this run" not in text):
        problems.append("the test after the death does not fail with it at setup")
    if "started a fresh one" in text:
        problems.append("a worker started a broker of its own")
    jvm = jvms.recorded(lab_pytester.path / "jvm.txt")
    if (jvm is not None and jvms.alive(jvm)) or data_dirs_left():
        problems.append(f"left behind: JVM {jvm}, data folders {data_dirs_left()}")
    assert not problems, "\n".join(problems) + f"\n--- inner output ---\n{text}"


def test_a_cluster_node_dying_fails_that_test_with_the_node_named_and_its_log_tail(
    lab_pytester: pytest.Pytester, jvms: Any, data_dirs_left: Callable[[], list[str]],
) -> None:
    lab_pytester.copy_example("test_cluster_node_dies.py")
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", "--kafka-brokers", "3",
                                               timeout=INNER_TIMEOUT)
    text = result.stdout.str()
    first, third = (json.loads(path.read_text()) if path.exists() else None
                    for path in (lab_pytester.path / f"cluster-{name}.json"
                                 for name in ("first", "third")))
    assert first is not None, f"the first test saw no cluster:\n{text}"
    node = first["nodes"][1]
    problems = []
    if re.findall(r"^FAILED (\S+)", text, re.MULTILINE) != [
            "test_cluster_node_dies.py::test_a_node_dies"]:
        problems.append("the test during which node 2 died is not the one test that failed")
    if not re.search(rf"The Kafka broker at {re.escape(node['bootstrap'])} \(node 2 of the "
                     rf"cluster, pid {node['pid']}\) died during this test: killed by SIGKILL",
                     text):
        problems.append(f"the failure does not name node 2 (pid {node['pid']}) and its SIGKILL")
    died = text.partition("died during this test")[2]
    if not re.search(r"Its log \(kept as \S*died-broker-node-2\.log\) ends with:", died):
        problems.append("the failure does not say where node 2's log is kept")
    if "Kafka Server started" not in died.partition("ends with:")[2]:
        problems.append("the failure does not show node 2's log tail")
    if not re.search(r"kafka-lab: the broker died \(killed by SIGKILL\); started a fresh "
                     r"one: .*backend local cluster of 3 KRaft nodes", text):
        problems.append("the fresh cluster was not announced")
    if third is None or third["bootstrap"] == first["bootstrap"]:
        problems.append("the third test did not get a fresh cluster of three")
    # The run is over: no JVM of either cluster may outlive it, nor any data folder.
    left = [jvm.pid for jvm in (jvms.same(record["pid"], record["created"])
                                for cluster in (first, third or {"nodes": []})
                                for record in cluster["nodes"])
            if jvm is not None and jvms.alive(jvm)]
    if left or data_dirs_left():
        problems.append(f"left behind: JVMs {left}, data folders {data_dirs_left()}")
    assert not problems, "\n".join(problems) + f"\n--- inner output ---\n{text}"


# --- two runs at once -----------------------------------------------------------------------


def test_two_runs_at_once_each_start_their_own_broker_and_leave_none(
    lab_pytester: pytest.Pytester, kafka_lab_config: LabConfig, inner_runs: list[InnerRun],
    jvms: Any, data_dirs_left: Callable[[], list[str]],
) -> None:
    for name in ("first", "second"):
        folder = lab_pytester.mkdir(name)
        for example in ("conftest.py", "test_holds_until_released.py"):
            shutil.copy(EXAMPLES / "processes" / example, folder)
        inner_runs.append(InnerRun(folder, "test_holds_until_released.py"))
    for run in inner_runs:
        run.wait_until((run.folder / "started.txt").exists, "its broker to answer")
    # Both runs hold their brokers now: each under its own pytest, on its own port.
    started = [the_jvm_of(run, jvms) for run in inner_runs]
    addresses = [(run.folder / "started.txt").read_text() for run in inner_runs]
    assert started[0].pid != started[1].pid
    assert addresses[0] != addresses[1]
    assert all(port_answers(address) for address in addresses)
    for run in inner_runs:
        (run.folder / "release.txt").write_text("done")
    for run in inner_runs:
        assert run.finish() == pytest.ExitCode.OK, run.text()
        assert f"jars cached in {kafka_lab_config.cache_dir}" in run.text()
    # The runs are over: their JVMs must already be gone, not merely going.
    assert [jvm.pid for jvm in started if jvms.alive(jvm)] == []
    assert not any(port_answers(address) for address in addresses)
    assert data_dirs_left() == []

