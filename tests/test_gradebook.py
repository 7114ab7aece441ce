"""``kafka-lab grade`` for a class: names and shards, the gradebook as it fills and as
shards merge, and real gradings: two at a time on brokers of their own, on an existing
broker, past a wall-clock limit, interrupted or killed, and never loading a student's
``conftest.py``.

Submissions are kept cheap: a folder holding only exercise 1's file grades in seconds,
and its other exercises are "missing".
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from pytest_kafka_lab import factories
from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.grading.class_runner.class_grading import workers_per_submission
from pytest_kafka_lab.grading.class_runner.class_list import Shard, class_list
from pytest_kafka_lab.grading.class_runner.gradebook import (
    Gradebook,
    GradebookError,
    markdown_table,
    merge_gradebooks,
    row_line,
    write_gradebook,
)
from pytest_kafka_lab.grading.class_runner.submission_run import read_report
from pytest_kafka_lab.grading.course import EXERCISE_FILES, course_dir
from pytest_kafka_lab.grading.report import Check, Grade
from pytest_kafka_lab.processes import hear_ctrl_c
from pytest_kafka_lab.readers import read_topic
from pytest_kafka_lab.waiting import wait_for

KAFKA_LAB = Path(sys.executable).with_name("kafka-lab")
EX1 = course_dir() / "reference" / "exercise_producer.py"
EX4 = course_dir() / "reference" / "exercise_exactly_once.py"
# Exercise 1's file, made to hang: its run lasts until a deadline stops it.
HANGS = "import time\n\ntime.sleep(600)\n"
# Exercise 1's file, listing topics with the course's `docker exec` until stopped: each
# call a Kafka tool's JVM started by the grader's docker stand-in.
IN_DOCKER = ("import subprocess\n\nwhile True:\n    subprocess.run(['docker', 'exec', 'kafka', "
             "'kafka-topics', '--list', '--bootstrap-server', 'localhost:9092'])\n")


# --- helpers -----------------------------------------------------------------------------


def make_class(root: Path, **folders: str) -> list[Path]:
    """Submission folders under ``root``: ``ex1`` (the reference's exercise 1), ``ex1+ex4``
    (and its exercise 4), ``hangs`` (an exercise 1 that never ends), ``in-docker`` (one
    that runs a Kafka tool through ``docker exec`` until stopped), ``crashes`` (an
    exercise 1 that raises on import: a quick ``error``) or ``empty``."""
    made = []
    for name, kind in folders.items():
        folder = root / name
        folder.mkdir(parents=True)
        if kind.startswith("ex1"):
            shutil.copy(EX1, folder)
        if kind == "ex1+ex4":
            shutil.copy(EX4, folder)
        elif kind == "hangs":
            (folder / EX1.name).write_text(HANGS)
        elif kind == "in-docker":
            (folder / EX1.name).write_text(IN_DOCKER)
        elif kind == "crashes":
            (folder / EX1.name).write_text("raise RuntimeError('crashes on import')\n")
        made.append(folder)
    return made


def fake_grade(name: str, ex1_points: int = 10) -> dict[str, Any]:
    exercises = {key: {"status": "missing", "points": 0} for key in EXERCISE_FILES}
    exercises["ex1"] = {"status": "passed", "points": ex1_points}
    return {"name": name, "submission": f"/class/{name}", "exercises": exercises}


def rows_of(table: Path) -> list[dict[str, str]]:
    with table.open() as sheet:
        return list(csv.DictReader(sheet))


@pytest.fixture
def grade_env(kafka_lab_config: LabConfig, inner_tmpdir: Path) -> dict[str, str]:
    """The environment of ``kafka-lab grade``: this session's jar cache, a private TMPDIR
    (its brokers' data), and nothing that points it at another broker."""
    env = {name: value for name, value in os.environ.items() if name not in (
        "KAFKA_LAB_BOOTSTRAP", "KAFKA_HOME", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER",
        "GITHUB_STEP_SUMMARY")}
    env.update(KAFKA_LAB_CACHE_DIR=str(kafka_lab_config.cache_dir), TMPDIR=str(inner_tmpdir))
    return env


def kafka_lab_grade(*args: str | Path, cwd: Path, env: dict[str, str],
                    timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KAFKA_LAB), "grade", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


class LiveGrading:
    """``kafka-lab grade`` running, its output (stdout and stderr) read line by line."""

    def __init__(self, *args: str | Path, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(KAFKA_LAB), "grade", *map(str, args)], cwd=cwd, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            preexec_fn=hear_ctrl_c)  # Ctrl-C must reach it even from a background job
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def line_starting(self, prefix: str, timeout: float = 120) -> str:
        def found() -> str | None:
            return next((line for line in self.lines if line.startswith(prefix)), None)

        return wait_for(found, timeout, f"a line starting {prefix!r} from kafka-lab grade",
                        lambda: self.lines[-10:])

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def finish(self, timeout: float = 300) -> int:
        code = self.process.wait(timeout)
        self.reader.join(10)
        return code

    def output(self) -> str:
        return "\n".join(self.lines)


def command_of(process: psutil.Process) -> str:
    """Its command line; empty for a process that ended (or became a zombie) meanwhile."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def listening_ports(process: psutil.Process) -> set[int]:
    return {connection.laddr.port for connection in process.net_connections("tcp")
            if connection.status == psutil.CONN_LISTEN}


def wait_all_gone(processes: list[psutil.Process], timeout: float = 30) -> None:
    def alive() -> list[str]:
        left = []
        for process in processes:
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{process.pid} {command_of(process)[:120]}")
            except psutil.Error:
                continue
        return left

    wait_for(lambda: not alive(), timeout, "every process of kafka-lab grade to be gone", alive)


@pytest.fixture
def live_gradings() -> Iterator[list[LiveGrading]]:
    """``LiveGrading``s a test starts; any still running at its end is killed."""
    started: list[LiveGrading] = []
    yield started
    for grading in started:
        if grading.process.poll() is None:
            grading.process.kill()
            grading.process.wait()


# --- names, shards and the gradebook (no broker) -----------------------------------------


def test_submissions_are_named_by_folder_and_same_names_are_told_apart(tmp_path: Path
                                                                       ) -> None:
    folders = make_class(tmp_path, **{"zoe": "empty", "sec-a/alice": "empty",
                                      "sec-b/alice": "empty", "bob": "empty"})
    listed = class_list([*reversed(folders), folders[0], tmp_path / "zoe" / ".." / "zoe"])
    assert [submission.name for submission in listed] == [
        "sec-a/alice", "sec-b/alice", "bob", "zoe"]
    assert [submission.folder for submission in listed] == [
        (tmp_path / name).resolve() for name in ("sec-a/alice", "sec-b/alice", "bob", "zoe")]


def test_shards_split_the_class_exactly_whatever_the_order_given(tmp_path: Path) -> None:
    folders = make_class(tmp_path, **{name: "empty" for name in (
        "ann", "ben", "x/cal", "y/cal", "dee", "eve", "fay")})
    everyone = class_list(folders)
    for count in range(1, 9):
        slices = []
        for index in range(1, count + 1):
            shuffled = random.sample(folders, len(folders))
            slices.append(Shard(index, count).of(class_list(shuffled)))
        names = [submission.name for part in slices for submission in part]
        assert sorted(names) == sorted(s.name for s in everyone), (count, slices)
        assert len(names) == len(set(names)), f"a submission in two of {count} shards"
        assert max(map(len, slices)) - min(map(len, slices)) <= 1, "unbalanced shards"


def test_a_gradebook_row_is_written_as_soon_as_its_grade_is_known(tmp_path: Path) -> None:
    book = Gradebook(tmp_path / "book")
    book.start()
    assert rows_of(book.table) == []
    book.add(fake_grade("zed", 7))
    assert [(row["submission"], row["ex1"], row["total"]) for row in rows_of(book.table)] \
        == [("zed", "7", "7")]
    assert [grade["name"] for grade in json.loads(book.full.read_text())] == ["zed"]
    book.add(fake_grade("amy", 3))
    table, full = book.finish()
    assert [row["submission"] for row in rows_of(table)] == ["amy", "zed"]
    assert [grade["name"] for grade in json.loads(full.read_text())] == ["amy", "zed"]


def test_shard_gradebooks_merge_into_one_in_class_order(tmp_path: Path) -> None:
    _, first = write_gradebook([fake_grade("cal"), fake_grade("a/ann")], tmp_path / "book-1")
    _, second = write_gradebook([fake_grade("bob", 4), fake_grade("b/ann")],
                                tmp_path / "book-2")
    table, full = merge_gradebooks([first, second], tmp_path / "merged")
    assert [row["submission"] for row in rows_of(table)] == ["a/ann", "b/ann", "bob", "cal"]
    assert [row["total"] for row in rows_of(table)] == ["10", "10", "4", "10"]
    assert len(json.loads(full.read_text())) == 4


def test_merging_refuses_a_submission_graded_in_two_shards(tmp_path: Path) -> None:
    _, first = write_gradebook([fake_grade("ann"), fake_grade("bob")], tmp_path / "book-1")
    _, second = write_gradebook([fake_grade("bob")], tmp_path / "book-2")
    with pytest.raises(GradebookError, match="bob is graded in both") as refused:
        merge_gradebooks([first, second], tmp_path / "merged")
    assert str(first) in str(refused.value)
    assert str(second) in str(refused.value)
    assert not (tmp_path / "merged.csv").exists()


def test_a_gradebook_row_says_which_layers_of_isolation_its_runs_had(tmp_path: Path) -> None:
    """From a run's report (its ``isolation``) to the class's gradebook: the JSON row keeps
    it whole, the CSV lists the layers refused (``none``: all held; empty: no run said)."""
    isolation = {"in_force": ["landlock", "network", "pid_namespace", "file_size_cap"],
                 "refused": {"unprivileged_uid": "runs keep uid 0, without capabilities",
                             "memory_cap": "no cgroup v1 memory controller"}}
    report = Grade("/class/ann", isolation=isolation)
    report.exercise("ex1", "producer basics").checks.append(
        Check("all_100_orders_arrive_exactly_once", "passed", points=2))
    report.write_json(tmp_path / "ann.json")
    log = tmp_path / "pytest.log"
    log.write_text("")
    ann = {**read_report(tmp_path / "ann.json", log, False, 60), "name": "ann"}
    bob = {**fake_grade("bob"), "isolation": {"in_force": isolation["in_force"],
                                              "refused": {}}}
    cal = {**read_report(tmp_path / "none.json", log, False, 60), "name": "cal",
           "submission": "/class/cal"}  # grading wrote no report: no run said

    table, full = write_gradebook([cal, bob, ann], tmp_path / "book")
    rows = {row["submission"]: row for row in rows_of(table)}
    assert rows["ann"]["refused"] == "memory_cap unprivileged_uid"
    assert rows["ann"]["ex1"] == "2"
    assert rows["bob"]["refused"] == "none"
    assert rows["cal"]["refused"] == ""
    graded = {grade["name"]: grade for grade in json.loads(full.read_text())}
    assert graded["ann"]["isolation"] == isolation
    assert graded["bob"]["isolation"]["refused"] == {}
    assert "isolation" not in graded["cal"]
    # The terminal's line stays short; GitHub's table has the column.
    assert "memory_cap" not in row_line(ann)
    assert "| memory_cap unprivileged_uid |" in markdown_table([ann])


# --- real gradings -------------------------------------------------------------------------


def test_two_at_a_time_each_on_a_broker_of_its_own_and_nothing_left(
    tmp_path: Path, grade_env: dict[str, str], jvms: Any, live_gradings: list[LiveGrading],
    data_dirs_left: Callable[[], list[str]]
) -> None:
    make_class(tmp_path, ann="ex1", ben="crashes", cal="ex1", dee="crashes")
    summary = tmp_path / "step-summary.md"
    grading = LiveGrading("-j", "2", "ann", "ben", "cal", "dee", "--out", "book",
                          cwd=tmp_path, env={**grade_env, "GITHUB_STEP_SUMMARY": str(summary)})
    live_gradings.append(grading)
    # By the first finished row both brokers run: the second starts while the first grades.
    grading.line_starting("[1/4")
    brokers = jvms.under(grading.process.pid)
    assert len(brokers) == 2, grading.output()
    ports = {port: broker.pid for broker in brokers for port in listening_ports(broker)}
    everything = grading.descendants()
    assert grading.finish() == 0, grading.output()

    rows = rows_of(tmp_path / "book.csv")
    assert [row["submission"] for row in rows] == ["ann", "ben", "cal", "dee"]
    assert [row["ex1"] for row in rows][1::2] == ["0", "0"]  # it crashed: no point
    assert all(int(row["ex1"]) > 0 for row in rows[::2]), rows
    used = {grade["name"]: int(grade["broker"].rpartition(":")[2])
            for grade in json.loads((tmp_path / "book.json").read_text())}
    assert set(used.values()) <= set(ports), (used, ports)
    assert len({ports[port] for port in used.values()}) == 2, \
        f"expected the class graded on both brokers, each its own JVM: {used}, {ports}"
    jvms.wait_gone(brokers)
    wait_all_gone(everything)
    assert data_dirs_left() == [], "a broker's data or a grading's scratch folder is left"
    # GitHub's job summary holds the class's one gradebook table, not a table per run.
    page = summary.read_text()
    assert page.count("### Kafka lab") == 1, page
    assert [line.split(" | ")[0] for line in page.splitlines()[4:]] == [
        "| ann", "| ben", "| cal", "| dee"], page


def test_fewer_submissions_than_jobs_are_split_over_workers_with_brokers_of_their_own(
    tmp_path: Path, grade_env: dict[str, str], jvms: Any, live_gradings: list[LiveGrading],
) -> None:
    """``-j 2`` and one submission: its exercises are graded side by side, each on a broker
    of its worker's own (and none started for the run's controller), rather than one after
    the other while a slot idles."""
    make_class(tmp_path, ann="ex1+ex4")
    grading = LiveGrading("-j", "2", "ann", "--out", "book", cwd=tmp_path, env=grade_env)
    live_gradings.append(grading)
    seen: set[tuple[int, int]] = set()  # (broker pid, its parent's pid), all run long
    at_once = 0
    while grading.process.poll() is None:
        now = {(jvm.pid, jvm.ppid()) for jvm in jvms.under(grading.process.pid)}
        seen |= now
        at_once = max(at_once, len(now))
        with contextlib.suppress(subprocess.TimeoutExpired):
            grading.process.wait(0.1)  # its end, or the next sample: brokers live seconds
    assert grading.finish() == 0, grading.output()
    assert at_once == 2, f"brokers at once: {at_once} (all seen: {sorted(seen)})"
    parents = {parent for _, parent in seen}
    assert len(seen) == 2, f"expected a broker under each of two workers only: {sorted(seen)}"
    assert len(parents) == 2, f"one process started both brokers: {sorted(seen)}"
    [grade] = json.loads((tmp_path / "book.json").read_text())
    assert {key: exercise["status"] for key, exercise in grade["exercises"].items()
            if exercise["status"] != "missing"} == {"ex1": "passed", "ex4": "passed"}, grade
    assert grade["broker"] == "2 of its own (pytest -n 2)"
    jvms.wait_gone([psutil.Process(pid) for pid, _ in seen if psutil.pid_exists(pid)])


def test_split_only_where_slots_are_spare_and_brokers_local() -> None:
    local = LabConfig()
    assert workers_per_submission(local, jobs=2, submissions=1) == 2
    assert workers_per_submission(local, jobs=4, submissions=2) == 2
    assert workers_per_submission(local, jobs=12, submissions=1) == len(EXERCISE_FILES)
    assert workers_per_submission(local, jobs=2, submissions=2) == 1
    assert workers_per_submission(local, jobs=1, submissions=1) == 1
    assert workers_per_submission(local.replace(brokers=3), jobs=2, submissions=1) == 1
    external = LabConfig(backend="external", bootstrap="localhost:9092")
    assert workers_per_submission(external, jobs=2, submissions=1) == 1


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["ctrl-c", "terminated", "killed"])
def test_an_interrupted_or_killed_grading_leaves_no_broker_or_run(
    how: signal.Signals, tmp_path: Path, grade_env: dict[str, str], jvms: Any,
    live_gradings: list[LiveGrading], data_dirs_left: Callable[[], list[str]]
) -> None:
    make_class(tmp_path, ann="hangs", ben="hangs")
    grading = LiveGrading("-j", "2", "ann", "ben", "--timeout", "120", "--out", "book",
                          cwd=tmp_path, env=grade_env)
    live_gradings.append(grading)

    def students_running() -> list[psutil.Process]:
        # The students' own processes, not the supervisors that hold each in its PID
        # namespace (their command lines name the script they start).
        found = [process for process in grading.descendants()
                 if EX1.name in command_of(process) and "supervisor" not in command_of(process)]
        return found if len(found) == 2 else []

    wait_for(students_running, 120, "both submissions' exercise 1 to run",
             grading.output)
    brokers = jvms.under(grading.process.pid)
    assert len(brokers) == 2
    everything = grading.descendants()
    grading.process.send_signal(how)
    code = grading.finish(timeout=60)
    expected = {signal.SIGINT: 130, signal.SIGTERM: 128 + signal.SIGTERM,
                signal.SIGKILL: -signal.SIGKILL}
    assert code == expected[how], grading.output()
    jvms.wait_gone(brokers)
    wait_all_gone(everything)
    # SIGTERM (CI's cancellation, `timeout`) tidies up as Ctrl-C does; a killed command
    # cannot tidy up, and leaves nothing running.
    if how != signal.SIGKILL:
        assert data_dirs_left() == [], "a broker's data or a grading's scratch folder is left"


def test_a_grading_killed_during_a_docker_exec_leaves_neither_the_stand_in_nor_its_jvm(
    tmp_path: Path, grade_env: dict[str, str], live_gradings: list[LiveGrading]
) -> None:
    make_class(tmp_path, ann="in-docker")
    grading = LiveGrading("-j", "1", "ann", "--timeout", "120", "--out", "book",
                          cwd=tmp_path, env=grade_env)
    live_gradings.append(grading)

    def tool_running() -> list[psutil.Process]:
        return [process for process in grading.descendants()
                if "org.apache.kafka.tools.TopicCommand" in command_of(process)]

    wait_for(tool_running, 120, "a Kafka tool's JVM started through `docker exec`",
             grading.output)
    everything = grading.descendants()
    grading.process.send_signal(signal.SIGKILL)
    assert grading.finish(timeout=60) == -signal.SIGKILL
    wait_all_gone(everything)


def test_a_submission_past_its_wall_clock_limit_is_an_error_row_written_as_known(
    tmp_path: Path, grade_env: dict[str, str], live_gradings: list[LiveGrading]
) -> None:
    make_class(tmp_path, ann="hangs", ben="ex1")
    grading = LiveGrading("-j", "1", "ann", "ben", "--timeout", "120", "--submission-timeout", "8",
                          "--out", "book", cwd=tmp_path, env=grade_env)
    live_gradings.append(grading)
    grading.line_starting("[1/2")
    # Ben is yet to be graded, on a broker yet to start: Ann's row is in the file already.
    assert grading.process.poll() is None
    assert [row["submission"] for row in rows_of(tmp_path / "book.csv")] == ["ann"]
    everything = grading.descendants()
    assert grading.finish() == 0, grading.output()

    ann, ben = rows_of(tmp_path / "book.csv")
    assert "stopped after 8 s, the wall-clock limit per submission" in ann["note"], ann
    assert ann["total"] == "0"
    assert "wall-clock limit" in grading.output()
    assert int(ben["ex1"]) > 0
    assert ben["note"] == ""
    graded = {grade["name"]: grade for grade in
              json.loads((tmp_path / "book.json").read_text())}
    assert graded["ann"]["timed_out"] is True
    assert graded["ben"]["broker"] != graded["ann"]["broker"], \
        "the broker of a stopped grading must be replaced by a fresh one"
    wait_all_gone(everything)


# An existing broker that kafka-lab grade may reset as a lane (every topic, group and
# config it did not start with undone): the module's own, never the run's, where the
# other worker's tests keep theirs.
class_broker = factories.kafka_proc("module")


def test_a_class_graded_on_an_existing_broker(
    tmp_path: Path, grade_env: dict[str, str], class_broker: KafkaBroker
) -> None:
    make_class(tmp_path, ann="ex1")
    finished = kafka_lab_grade("ann", "--kafka-bootstrap", class_broker.bootstrap_servers,
                               "--out", "book", cwd=tmp_path, env=grade_env)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    (grade,) = json.loads((tmp_path / "book.json").read_text())
    assert grade["broker"] == class_broker.bootstrap_servers
    assert grade["exercises"]["ex1"]["status"] == "passed", grade
    # Exercise 1's orders are on that broker, in the course's topic.
    assert len(read_topic(class_broker, "orders")) == 100


@pytest.mark.parametrize("course", ["installed", "inside-the-repository"])
def test_a_students_conftest_ini_and_modules_are_never_loaded(
    course: str, tmp_path: Path, grade_env: dict[str, str]
) -> None:
    (repo,) = make_class(tmp_path, student="ex1")
    # Each writes a marker when imported. pluggy is one pytest imports first, so a copy in
    # the folder pytest starts in (or in its sys.path) would be the one it gets.
    marker = "import pathlib\npathlib.Path(__file__).with_name('LOADED-{}').touch()\n"
    (repo / "conftest.py").write_text(marker.format("conftest"))
    (repo / "student_plugin.py").write_text(marker.format("plugin"))
    (repo / "pluggy.py").write_text(marker.format("pluggy"))
    (repo / "pytest.ini").write_text("[pytest]\npythonpath = .\naddopts = -p student_plugin\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "conftest.py").write_text(marker.format("tests-conftest"))
    options: list[str | Path] = []
    if course == "inside-the-repository":
        # As when the grader is installed in a virtualenv inside the student's repository:
        # the repository's conftest.py and pytest.ini are then the course's ancestors'.
        inside = repo / ".venv" / "site-packages" / "course"
        inside.mkdir(parents=True)
        for name in ("__init__.py", "test_ex1_producer.py"):
            shutil.copy(course_dir() / name, inside)
        options = ["--scenarios", inside]
    # At the root of the student's repository, as `kafka-lab grade .` in their CI.
    finished = kafka_lab_grade(".", *options, "--out", tmp_path / "book", cwd=repo,
                               env=grade_env)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert sorted(path.name for path in repo.rglob("LOADED-*")) == []
    (row,) = rows_of(tmp_path / "book.csv")
    assert row["submission"] == "student"
    assert int(row["ex1"]) > 0, row


def test_a_shard_grades_its_slice_only(tmp_path: Path, grade_env: dict[str, str]) -> None:
    make_class(tmp_path, ann="empty", ben="empty", cal="empty")
    finished = kafka_lab_grade("--shard", "2/3", "cal", "ann", "ben", "--out", "book-2",
                               cwd=tmp_path, env=grade_env)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "Shard 2/3: 1 submission(s)" in finished.stdout
    assert [row["submission"] for row in rows_of(tmp_path / "book-2.csv")] == ["ben"]


def test_one_submissions_reports_and_points_pass_through_to_its_grading(
    tmp_path: Path, grade_env: dict[str, str], class_broker: KafkaBroker
) -> None:
    make_class(tmp_path, ann="ex1")
    (tmp_path / "points.toml").write_text("[ex1]\nflushes_before_exiting = 3\n")
    # Relative paths, as in a workflow: they name files where kafka-lab grade stands.
    finished = kafka_lab_grade(
        "ann", "--kafka-bootstrap", class_broker.bootstrap_servers, "--out", "book",
        "--points", "points.toml", "--gradescope", "out/results.json",
        "--classroom", "out/classroom.json", "--feedback", "out/FEEDBACK.md",
        cwd=tmp_path, env=grade_env)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    (row,) = rows_of(tmp_path / "book.csv")
    checks = json.loads((tmp_path / "book.json").read_text())[0]["exercises"]["ex1"]["checks"]
    assert int(row["ex1"]) == len(checks) + 2, "flushes_before_exiting is worth 3, not 1"
    gradescope = json.loads((tmp_path / "out" / "results.json").read_text())
    flushes = [test for test in gradescope["tests"] if "flushes_before_exiting" in test["name"]]
    assert [test["max_score"] for test in flushes] == [3]
    assert json.loads((tmp_path / "out" / "classroom.json").read_text())["max_score"] > 0
    assert "ex1" in (tmp_path / "out" / "FEEDBACK.md").read_text()


def test_only_what_a_run_needs_is_copied_and_exercise_files_are_found_one_folder_down(
    tmp_path: Path, grade_env: dict[str, str]
) -> None:
    """A virtual environment, caches, version control and a large file are left out of
    the runs' copies (and named in the row); files one folder down are graded there; a
    folder with none of the course's files is noted at once, with no run."""
    ann, ben, cal = make_class(tmp_path, ann="ex1", ben="empty", cal="empty")
    for skipped in (".venv", ".git", "__pycache__", "node_modules"):
        (ann / skipped).mkdir()
    (ann / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (ann / "data.bin").write_bytes(b"\0" * (9 * 2**20))
    (ben / "module2").mkdir()
    shutil.copy(EX1, ben / "module2")
    (cal / "notes.py").write_text("print('my own file')\n")
    finished = kafka_lab_grade("ann", "ben", "cal", "--out", "book", cwd=tmp_path,
                               env=grade_env)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    graded = {grade["name"]: grade for grade in
              json.loads((tmp_path / "book.json").read_text())}
    assert sorted(graded["ann"]["left_out"]) == [
        ".git/", ".venv/", "__pycache__/", "data.bin (9 MiB)", "node_modules/"]
    assert graded["ann"]["exercises"]["ex1"]["status"] == "passed"
    assert graded["ben"]["exercises"]["ex1"]["status"] == "passed"
    assert graded["ben"]["note"].startswith("graded module2/")
    assert graded["cal"]["nothing_to_grade"] is True
    assert "notes.py" in graded["cal"]["note"]
    assert graded["cal"]["broker"] == "", "nothing to grade: no run, no broker"
    rows = {row["submission"]: row for row in rows_of(tmp_path / "book.csv")}
    assert rows["cal"]["note"].startswith("nothing to grade"), rows["cal"]
    # Each check says what it earned and what it is worth, as each exercise does.
    for check in graded["ann"]["exercises"]["ex1"]["checks"]:
        assert (check["points"], check["max_points"]) == (1, 1), check


def test_a_run_refused_as_a_usage_error_stops_the_grading_with_its_reason(
    tmp_path: Path, grade_env: dict[str, str]
) -> None:
    """A points file that names a check the course lacks: exit 2 with pytest's message,
    and no gradebook left (every submission would have been refused alike)."""
    make_class(tmp_path, ann="ex1", ben="ex1")
    (tmp_path / "points.toml").write_text("[ex1]\nno_such_check = 2\n")
    finished = kafka_lab_grade("ann", "ben", "--points", tmp_path / "points.toml",
                               "--out", "book", cwd=tmp_path, env=grade_env)
    assert finished.returncode == 2, finished.stdout + finished.stderr
    assert "[ex1] has no check 'no_such_check'" in finished.stderr
    assert not list(tmp_path.glob("book.*"))
