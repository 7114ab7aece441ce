"""The sandbox that runs untrusted submissions: redirected to the lab broker, observed,
bounded in time and output, stripped of secrets, confined to their own folder, and
leaving nothing behind; and the verdicts for submissions that cannot be run as asked."""

from __future__ import annotations

import os
import signal
import tempfile
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.consumer_evidence import calls
from pytest_kafka_lab.grading.course import course_dir
from pytest_kafka_lab.grading.sandbox import OUTPUT_LIMIT, Sandbox, confinement
from pytest_kafka_lab.grading.verdicts import SubmissionError, last_traceback, require_ran
from pytest_kafka_lab.readers import read_topic
from pytest_kafka_lab.topics import partitions_with_leaders
from pytest_kafka_lab.waiting import wait_for

REFERENCE_PRODUCER = Path(__file__).parent.parent / "scenarios" / "reference" / \
    "exercise_producer.py"
needs_landlock = pytest.mark.skipif(confinement.unavailable() is not None,
                                    reason=str(confinement.unavailable()))


def submission(tmp_path: Path, name: str, source: str) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(textwrap.dedent(source))
    return folder


def test_hard_coded_localhost_9092_reaches_the_lab_broker(
    lab_sandbox: Sandbox, kafka_broker: KafkaBroker, kafka_topic: str, tmp_path: Path
) -> None:
    folder = submission(tmp_path, "send.py", f"""
        from confluent_kafka import Producer
        producer = Producer({{"bootstrap.servers": "localhost:9092", "acks": "all"}})
        producer.produce("{kafka_topic}", key=b"k", value=b"hello")
        producer.flush(10)
    """)
    run = require_ran(lab_sandbox.start_script(folder, "send.py").finish(30))
    assert run.exit_code == 0, run.stderr
    assert run.confined is (confinement.unavailable() is None)
    [record] = read_topic(kafka_broker, kafka_topic)
    assert (record.key, record.value) == (b"k", b"hello")
    [config] = run.client_configs("producer")
    assert config["bootstrap.servers"] == "localhost:9092"  # what the student wrote
    assert config["acks"] == "all"
    assert [event["topic"] for event in run.of("produce")] == [kafka_topic]


def test_docker_exec_runs_the_real_kafka_tool_against_the_lab_broker(
    lab_sandbox: Sandbox, kafka_admin: AdminClient, kafka_unique_name: Callable[[], str],
    tmp_path: Path,
) -> None:
    topic = kafka_unique_name()
    folder = submission(tmp_path, "setup.py", f"""
        import subprocess
        result = subprocess.run(
            ["docker", "exec", "-it", "kafka", "kafka-topics", "--create", "--if-not-exists",
             "--topic", "{topic}", "--bootstrap-server", "localhost:9092",
             "--partitions", "3", "--replication-factor", "1"],
            capture_output=True, text=True)
        raise SystemExit(result.returncode)
    """)
    run = lab_sandbox.start_script(folder, "setup.py").finish(60)
    try:
        assert run.exit_code == 0, run.stderr
        assert not run.of("outside-access"), run.of("outside-access")
        # Broker truth: the topic the real tool made (the stand-in, a grandchild started
        # with close_fds, has no channel to the grader; the wire sees its requests).
        assert partitions_with_leaders(kafka_admin, topic) == 3
    finally:
        kafka_admin.delete_topics([topic])


def test_docker_stand_in_refuses_other_containers(lab_sandbox: Sandbox, tmp_path: Path) -> None:
    folder = submission(tmp_path, "other.py", """
        import subprocess, sys
        result = subprocess.run(["docker", "exec", "zookeeper", "kafka-topics", "--list"],
                                capture_output=True, text=True)
        sys.stderr.write(result.stderr)
        raise SystemExit(result.returncode)
    """)
    run = lab_sandbox.start_script(folder, "other.py").finish(30)
    assert run.exit_code == 1
    assert "No such container: zookeeper" in run.stderr


def test_an_endless_loop_is_stopped_at_its_deadline(lab_sandbox: Sandbox, tmp_path: Path) -> None:
    folder = submission(tmp_path, "loop.py", "while True:\n    pass\n")
    run = lab_sandbox.start_script(folder, "loop.py").finish(1.5)
    assert run.timed_out
    assert run.exit_code is None
    assert "did not finish within" in run.summary()


def test_the_environment_holds_no_secret_of_the_grader(
    lab_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    folder = submission(tmp_path, "env.py", """
        import os
        for name, value in sorted(os.environ.items()):
            print(f"{name}={value}")
    """)
    run = lab_sandbox.start_script(folder, "env.py").finish(30)
    assert "ghp_secret" not in run.stdout
    assert "also-secret" not in run.stdout
    names = {line.split("=", 1)[0] for line in run.stdout.splitlines()}
    assert "GITHUB_TOKEN" not in names
    assert "AWS_SECRET_ACCESS_KEY" not in names
    assert names >= {"PATH", "HOME"}


@pytest.mark.skipif(confinement.unavailable() is not None, reason="needs Landlock")
def test_a_run_can_neither_read_the_graders_process_nor_signal_it(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    """The grader's own environment may hold secrets: its ``/proc`` files are closed to a
    run, and so is sending it a signal (a run killing its grader). In a PID namespace the
    grader is not even there, and the run's parent is its supervisor, closed too."""
    folder = submission(tmp_path, "spy.py", """
        import os, sys
        for pid in (int(sys.argv[1]), os.getppid()):
            for attempt in (lambda: open(f"/proc/{pid}/environ", "rb").read(),
                            lambda: os.kill(pid, 0)):  # 0: only the permission check
                try:
                    attempt()
                    print("allowed")
                except PermissionError:
                    print("denied")
                except (FileNotFoundError, ProcessLookupError):
                    print("absent")
    """)
    run = lab_sandbox.start_script(folder, "spy.py", str(os.getpid())).finish(30)
    grader, parent = run.stdout.split()[:2], run.stdout.split()[2:]
    if lab_sandbox.isolation.pid_namespace:
        assert grader == ["absent", "absent"], run.stdout + run.stderr
        assert parent[0] == "denied", run.stdout + run.stderr  # the supervisor's environ
    else:
        assert grader == parent == ["denied", "denied"], run.stdout + run.stderr


def running_with(token: str) -> list[int]:
    """The live processes (not zombies) of this machine whose command line holds
    ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if token.encode() in (entry / "cmdline").read_bytes() \
                    and (entry / "stat").read_text().rpartition(")")[2].split()[0] != "Z":
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found


def test_a_child_that_leaves_the_process_group_is_still_killed(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    token = f"left-behind-{uuid.uuid4().hex}"
    folder = submission(tmp_path, "daemon.py", f"""
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)",
                                  "{token}"], start_new_session=True)
        print(child.pid, flush=True)
    """)
    run = lab_sandbox.start_script(folder, "daemon.py").finish(30)
    assert run.exit_code == 0, run.stderr
    # At once in a PID namespace; soon after a SIGKILL found by its marker without one.
    wait_for(lambda: not running_with(token), 10, "the escaped child to be killed")


def test_a_flood_of_output_is_cut_and_does_not_hang(lab_sandbox: Sandbox, tmp_path: Path) -> None:
    folder = submission(tmp_path, "flood.py", """
        import sys
        line = "x" * 1023 + "\\n"
        for _ in range(50_000):
            sys.stdout.write(line)
    """)
    run = lab_sandbox.start_script(folder, "flood.py").finish(60)
    assert run.exit_code == 0
    assert len(run.stdout) == OUTPUT_LIMIT


def test_the_submission_folder_itself_is_never_changed(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = submission(tmp_path, "writer.py", """
        from pathlib import Path
        Path("grade.json").write_text('{"exercises": {"ex1": {"status": "passed"}}}')
        Path("writer.py").write_text("# overwritten")
    """)
    original = (folder / "writer.py").read_text()
    run = lab_sandbox.start_script(folder, "writer.py").finish(30)
    assert run.exit_code == 0
    assert sorted(path.name for path in folder.iterdir()) == ["writer.py"]
    assert (folder / "writer.py").read_text() == original


def test_a_submission_that_cannot_be_imported_is_an_error_not_a_failure(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = submission(tmp_path, "broken.py", "def main(:\n    pass\n")
    run = lab_sandbox.start_call(folder, "broken.py").finish(30)
    with pytest.raises(SubmissionError, match="could not be imported"):
        require_ran(run)


def test_wrapped_functions_report_calls_and_injected_failures(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = submission(tmp_path, "work.py", """
        def process_order(order):
            return order["order_id"]

        def main():
            done = []
            for order_id in ("A", "B", "A"):
                try:
                    done.append(process_order({"order_id": order_id}))
                except RuntimeError:
                    done.append("failed")
            return done
    """)
    run = lab_sandbox.start_call(
        folder, "work.py", wrap={"process_order": {"key": "order_id", "fail": {"A": 1}}}
    ).finish(30)
    assert run.of("returned")[0]["result"] == ["failed", "B", "A"]
    outcomes = [(call["ident"], call["outcome"]) for call in run.of("call")]
    assert outcomes == [("A", "injected-failure"), ("B", "returned"), ("A", "returned")]


def test_the_failure_plan_stays_with_the_grader_and_its_word_cannot_be_forged(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    """The attack: read the plan out of the observed function's closure (or anywhere in
    the process), and report an injected failure in the grader's name. The control: the
    grader's own injected failure, which it records itself."""
    folder = submission(tmp_path, "work.py", """
        import gc, sys

        def process_order(order):
            return order["order_id"]

        def main():
            wrapper = sys.modules[__name__].process_order
            cells = [repr(cell.cell_contents) for cell in wrapper.__closure__ or ()]
            found = [text for text in cells if "ORD-PLANNED" in text]
            found += [repr(o)[:80] for o in gc.get_objects()
                      if isinstance(o, dict) and "ORD-PLANNED" in o]
            from kafka_lab_inside import channel
            channel.emit("call", function="process_order", ident="ORD-OTHER",
                         outcome="injected-failure", source="grader")
            channel.emit("call", function="process_order", ident="ORD-FORGED",
                         outcome="raised", error="RuntimeError('forged try')")
            try:
                wrapper({"order_id": "ORD-PLANNED"})
            except RuntimeError:
                pass
            return found
    """)
    run = lab_sandbox.start_call(
        folder, "work.py", wrap={"process_order": {"key": "order_id", "fail": {"ORD-PLANNED": 1}}}
    ).finish(30)
    assert run.of("returned")[0]["result"] == []
    by_grader = [call["ident"] for call in run.of("call") if call.get("source") == "grader"]
    assert by_grader == ["ORD-PLANNED"]
    forged = [call for call in run.of("call") if call["ident"] == "ORD-OTHER"]
    assert forged
    assert "source" not in forged[0]
    # An outcome the grader was never asked about does not count as a try.
    unasked = [call for call in run.of("call") if call["ident"] == "ORD-FORGED"]
    assert unasked[0].get("unasked")
    counted = {call["ident"] for _, call in calls(run.events)}
    assert counted == {"ORD-PLANNED"}


def test_a_missing_function_is_named_with_the_file_the_course_expects(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = submission(tmp_path, "exercise_consumer.py", """
        def run():
            pass
    """)
    run = lab_sandbox.start_call(folder, "exercise_consumer.py").finish(30)
    with pytest.raises(SubmissionError) as raised:
        require_ran(run)
    assert str(raised.value) == (
        "exercise_consumer.py has no function main(); the course asks for one there, which "
        "the grader calls as main() (functions it has: run())")


def test_a_function_that_cannot_take_the_course_call_is_named_with_the_call(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = submission(tmp_path, "exercise_benchmark.py", """
        def benchmark_producer(config):
            raise AssertionError("never called with a call it cannot take")
    """)
    run = lab_sandbox.start_call(folder, "exercise_benchmark.py", call="benchmark_producer",
                                 args=[{"acks": "all"}, 1000, 100]).finish(30)
    assert not run.of("raised")
    with pytest.raises(SubmissionError) as raised:
        require_ran(run)
    assert str(raised.value) == (
        "exercise_benchmark.py defines benchmark_producer(config), but the course calls it as "
        "benchmark_producer({'acks': 'all'}, 1000, 100) (too many positional arguments)")


def test_a_type_error_inside_the_function_is_its_own_failure_not_a_wrong_signature(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = submission(tmp_path, "exercise_consumer.py", """
        def main():
            return len(5)
    """)
    run = require_ran(lab_sandbox.start_call(folder, "exercise_consumer.py").finish(30))
    assert not run.of("wrong-signature")
    [raised] = run.of("raised")
    assert raised["error"] == "TypeError(\"object of type 'int' has no len()\")"
    assert "object of type 'int' has no len()" in run.summary()


PEEK = """
    import subprocess, sys
    secret, solution = sys.argv[1:]
    try:
        print("python read:", open(secret).read())
    except PermissionError as error:
        print("python refused:", error.strerror)
    cat = subprocess.run(["cat", solution], capture_output=True, text=True)
    print("cat read:", cat.stdout, "cat said:", cat.stderr.strip())
"""


@needs_landlock
def test_reading_outside_the_folder_is_refused_by_the_kernel_and_named_in_the_verdict(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = submission(tmp_path, "peek.py", PEEK)
    secret = tmp_path / "other-student.py"
    secret.write_text("ANSWER = 42\n")
    run = lab_sandbox.start_script(folder, "peek.py", str(secret), str(REFERENCE_PRODUCER)) \
        .finish(30)
    assert run.confined
    assert "python refused: Permission denied" in run.stdout
    assert f"cat said: cat: {REFERENCE_PRODUCER}: Permission denied" in run.stdout
    assert "ANSWER" not in run.stdout
    assert "delivery_callback" not in run.stdout
    attempts = {(event["path"], event["mode"], event["program"])
                for event in run.of("outside-access")}
    assert attempts == {(str(secret), "read", None), (str(REFERENCE_PRODUCER), "read", "cat")}
    with pytest.raises(SubmissionError) as raised:
        require_ran(run)
    assert str(raised.value) == (
        f"the submission tried to read {secret} and 1 other path(s), outside its folder; "
        "submissions may only use their own files")


@needs_landlock
def test_writing_outside_the_folder_is_refused_and_the_file_stays_as_it_was(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    report = tmp_path / "grade.json"
    report.write_text('{"ex1": "failed"}')
    folder = submission(tmp_path, "forge.py", """
        import subprocess, sys
        report = sys.argv[1]
        try:
            open(report, "w").write('{"ex1": "passed"}')
        except PermissionError as error:
            print("python refused:", error.strerror)
        shell = subprocess.run(["sh", "-c", f"echo passed > {report}.new"])
        print("shell exited with", shell.returncode)
    """)
    run = lab_sandbox.start_script(folder, "forge.py", str(report)).finish(30)
    assert report.read_text() == '{"ex1": "failed"}'
    assert sorted(path.name for path in tmp_path.iterdir()) == ["grade.json", "submission"]
    assert "python refused: Permission denied" in run.stdout
    assert "shell exited with 0" not in run.stdout
    with pytest.raises(SubmissionError) as raised:
        require_ran(run)
    assert str(raised.value).startswith(f"the submission tried to write {report}, outside")


def test_a_submission_uses_its_own_files_freely(lab_sandbox: Sandbox, tmp_path: Path) -> None:
    folder = submission(tmp_path, "own.py", """
        import os, shutil, subprocess, tempfile
        from pathlib import Path
        data = Path("data")
        data.mkdir()
        (data / "orders.txt").write_text(Path("own.py").read_text()[:20])
        os.rename(data / "orders.txt", "orders.txt")
        shutil.rmtree(data)
        with tempfile.NamedTemporaryFile("w", delete=False) as scratch:
            scratch.write("scratch")
        listed = subprocess.run(["cat", "orders.txt", scratch.name], capture_output=True,
                                text=True, check=True)
        print(sorted(os.listdir(".")), listed.stdout)
    """)
    run = require_ran(lab_sandbox.start_script(folder, "own.py").finish(30))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == "['orders.txt', 'own.py'] \nimport os, shutil, scratch"
    assert not run.of("outside-access")


def test_the_graders_own_driver_imports_the_submission_from_the_run_library(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = submission(tmp_path, "exercise_exactly_once.py", """
        def process_payment(payment):
            return payment["amount"] > 0
    """)
    steps = [[{"payment_id": "p-1", "amount": 5, "customer": "C"}, False],
             [{"payment_id": "p-2", "amount": 0, "customer": "C"}, False]]
    run = require_ran(lab_sandbox.start_driver(folder, "ex4_driver", call="replay",
                                               args=[steps]).finish(30))
    answers = run.of("returned")[0]["result"]
    assert [answer["result"] for answer in answers] == [True, False]


ANSWERS_HUNT = """
    import importlib.util, os, sys
    import confluent_kafka
    found = []
    for name in ("pytest_kafka_lab", "pytest_kafka_lab.course.reference.{stem}"):
        try:
            found.append(repr(importlib.util.find_spec(name)))
        except Exception as error:
            found.append(type(error).__name__)
    print("specs", found)
    for path in {paths!r}:
        try:
            print("read", path, len(open(path).read()))
        except OSError as error:
            print("refused", path, error.errno)
"""


def test_a_run_can_neither_find_nor_read_the_course_answers(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    """The reference solutions and checks, wherever this package lies (here an editable
    checkout), and the course's own code in the corpus: not importable, not readable.
    Beside it, the control: the run's own file reads."""
    reference = course_dir() / "reference" / "exercise_producer.py"
    corpus = Path(__file__).parent / "submissions" / "course" / "exercise_producer.py"
    checks = course_dir() / "test_ex1_producer.py"
    paths = [str(reference), str(corpus), str(checks), "exercise_producer.py"]
    folder = submission(tmp_path, "exercise_producer.py",
                        ANSWERS_HUNT.format(stem="exercise_producer", paths=paths))
    run = lab_sandbox.start_script(folder, "exercise_producer.py").finish(30)
    assert run.exit_code == 0, run.stderr
    assert "specs ['None', 'ModuleNotFoundError']" in run.stdout
    for path in paths[:3]:
        assert f"refused {path} 13" in run.stdout
    assert "read exercise_producer.py" in run.stdout
    named = {event["path"] for event in run.of("outside-access")}
    assert {str(reference), str(corpus), str(checks)} <= named


def test_without_landlock_runs_go_unconfined_and_say_so(
    lab_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(confinement, "abi", lambda: 0)
    sandbox = Sandbox(lab_sandbox.bootstrap, lab_sandbox.distribution, tmp_path / "grading")
    folder = submission(tmp_path, "peek.py", PEEK)
    # Where its mode lets any user read it: only Landlock would refuse it (a root
    # grader's run is nobody, and the folders of tmp_path are closed to it).
    secret = Path(tempfile.gettempdir()) / f"other-student-{uuid.uuid4().hex}.py"
    secret.write_text("ANSWER = 42\n")
    secret.chmod(0o644)
    try:
        run = sandbox.start_script(folder, "peek.py", str(secret), str(REFERENCE_PRODUCER)) \
            .finish(30)
    finally:
        sandbox.cleanup()
        secret.unlink()
    assert sandbox.unconfined_reason is not None
    assert "Landlock is not available" in sandbox.unconfined_reason
    assert not run.confined
    assert "python read: ANSWER = 42" in run.stdout  # nothing refused it
    with pytest.raises(SubmissionError, match="tried to read"):  # the watch still tells
        require_ran(run)


def test_a_syntax_error_is_quoted_from_its_traceback_however_long_the_paths() -> None:
    # CI's scratch paths are long: a fixed tail of stderr once cut the traceback's head.
    scratch = "/check/work/main/.tox/tests/tmp/pytest-of-root/pytest-581/" + "deep/" * 60
    frames = "".join(f'  File "{scratch}frame{n}.py", line {n}, in f{n}\n    f{n + 1}()\n'
                     for n in range(8))
    stderr = ("%3|1.000|FAIL|rdkafka#producer-1| localhost:9092: Disconnected\n"
              f"Traceback (most recent call last):\n{frames}"
              '  File "orders_report.py", line 1\n    total = (\n            ^\n'
              "SyntaxError: '(' was never closed\n")
    assert len(stderr) > 2000  # far beyond the 800 characters once quoted
    quoted = last_traceback(stderr)
    assert quoted.startswith("Traceback (most recent call last):\n"), quoted[:200]
    assert quoted.endswith("SyntaxError: '(' was never closed\n")
    assert "rdkafka" not in quoted
    # A syntax error in the script itself has no traceback: its tail is quoted.
    plain = '  File "exercise_producer.py", line 3\n    x = (\n    ^\nSyntaxError: x\n'
    assert last_traceback("noise\n" * 500 + plain).endswith(plain)


# Honest work inside every layer of isolation: each snippet prints "ok" and what it made.
HONEST_WORK = {
    "threads": """
        import threading
        done = []
        threads = [threading.Thread(target=done.append, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print("ok", sorted(done) == list(range(8)))
    """,
    "multiprocessing": """
        import multiprocessing

        def square(n):
            return n * n

        if __name__ == "__main__":
            lock = multiprocessing.Lock()
            with lock:
                queue = multiprocessing.Queue()
                queue.put("hello")
                said = queue.get(timeout=10)
            with multiprocessing.Pool(2) as pool:
                squares = pool.map(square, range(5))
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                spawned = pool.map(square, range(3))
            print("ok", said, squares, spawned)
    """,
    "subprocess": """
        import subprocess, sys
        child = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True,
                               text=True, check=True)
        print("ok", child.stdout.strip())
    """,
    "stores": """
        import shelve, sqlite3
        with sqlite3.connect("processed.db") as db:
            db.execute("create table if not exists done (id text primary key)")
            db.execute("insert into done values ('ORD-1')")
        with shelve.open("state") as state:
            state["last"] = "ORD-1"
        with shelve.open("state") as state:
            last = state["last"]
        rows = sqlite3.connect("processed.db").execute("select id from done").fetchall()
        print("ok", rows, last)
    """,
    "logging": """
        import logging
        logging.basicConfig(filename="app.log", level=logging.INFO)
        logging.getLogger("orders").info("processed ORD-1")
        logging.shutdown()
        print("ok", open("app.log").read().strip())
    """,
}
HONEST_OUTPUT = {
    "threads": "ok True",
    "multiprocessing": "ok hello [0, 1, 4, 9, 16] [0, 1, 4]",
    "subprocess": "ok 42",
    "stores": "ok [('ORD-1',)] ORD-1",
    "logging": "ok INFO:orders:processed ORD-1",
}


@pytest.mark.parametrize("work", sorted(HONEST_WORK))
def test_honest_work_runs_inside_every_layer(lab_sandbox: Sandbox, tmp_path: Path,
                                             work: str) -> None:
    folder = submission(tmp_path, "work.py", HONEST_WORK[work])
    run = lab_sandbox.start_script(folder, "work.py").finish(60)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == HONEST_OUTPUT[work], run.stdout + run.stderr
    assert not run.of("outside-access"), run.of("outside-access")
    assert run.isolation == lab_sandbox.isolation


def test_a_read_only_submission_is_graded_from_a_writable_copy(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    """A read-only checkout or mount: the solution keeps its store beside itself, as it
    does on the student's machine, and the folder handed in stays as it was."""
    folder = submission(tmp_path, "exercise_dlq.py", """
        import sqlite3
        from pathlib import Path
        store = Path(__file__).with_name("processed.db")
        with sqlite3.connect(store) as db:
            db.execute("create table done (id text)")
            db.execute("insert into done values ('ORD-1')")
        (Path(__file__).parent / "data").mkdir()
        (Path(__file__).parent / "data" / "seen.txt").write_text("ORD-1")
        print("stored", store.name)
    """)
    (folder / "data-in").mkdir()
    (folder / "data-in" / "orders.txt").write_text("ORD-1\n")
    for path in [*folder.rglob("*"), folder]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        run = lab_sandbox.start_script(folder, "exercise_dlq.py").finish(30)
    finally:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == "stored processed.db"
    assert sorted(path.name for path in folder.iterdir()) == ["data-in", "exercise_dlq.py"]


def test_the_docker_stand_in_refuses_to_change_the_brokers_settings(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    """At once, with a message, before any JVM starts; beside it the control, a tool the
    course uses, which the stand-in lets through (its failure here is Kafka's own)."""
    folder = submission(tmp_path, "quota.py", """
        import subprocess, sys, time
        for command in (
                ["kafka-configs", "--bootstrap-server", "localhost:9092", "--alter",
                 "--entity-type", "clients", "--entity-default",
                 "--add-config", "producer_byte_rate=4096"],
                ["kafka-acls", "--bootstrap-server", "localhost:9092", "--add",
                 "--allow-principal", "User:*", "--operation", "All", "--topic", "*"],
                ["kafka-storage", "info"],
                ["kafka-topics", "--version"]):
            started = time.monotonic()
            result = subprocess.run(["docker", "exec", "kafka", *command],
                                    capture_output=True, text=True)
            print(command[0], result.returncode, round(time.monotonic() - started, 1),
                  result.stderr.strip().splitlines()[-1:])
    """)
    run = lab_sandbox.start_script(folder, "quota.py").finish(60)
    assert run.exit_code == 0, run.stderr
    lines = {line.split()[0]: line for line in run.stdout.splitlines()}
    assert lines["kafka-configs"].startswith("kafka-configs 1 ")
    assert "kafka-configs --alter changes the broker's settings" in lines["kafka-configs"]
    assert lines["kafka-acls"].startswith("kafka-acls 1 ")
    assert "not a Kafka tool of the course" in lines["kafka-storage"]
    for refused in ("kafka-configs", "kafka-acls", "kafka-storage"):
        assert float(lines[refused].split()[2]) < 1.0, lines[refused]  # no JVM started
    assert lines["kafka-topics"].startswith("kafka-topics 0 "), run.stdout


CTRL_C = """
    import signal, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\\nprint('child ready', flush=True)\\n"
                              "try:\\n    time.sleep(30)\\nexcept KeyboardInterrupt:\\n"
                              "    print('child heard it', flush=True)"])
    heard = []
    if sys.argv[1] == "handled":
        signal.signal(signal.SIGINT, lambda *_: heard.append(1))
    time.sleep(1)
    print("ready", flush=True)
    deadline = time.monotonic() + 20
    while not heard and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # a second Ctrl-C, were one sent, would be heard by now
    child.wait()
    print("heard", len(heard), flush=True)
    sys.exit(3)
"""


@pytest.mark.parametrize("handled", ["handled", "unhandled"])
def test_ctrl_c_reaches_the_runs_process_group_once(lab_sandbox: Sandbox, tmp_path: Path,
                                                    handled: str) -> None:
    """``interrupt`` is a terminal's Ctrl-C: SIGINT once to the command and the children
    in its group; the run ends as the command does (its code, or killed by SIGINT)."""
    folder = submission(tmp_path, "stop.py", CTRL_C)
    process = lab_sandbox.start_script(folder, "stop.py", handled)
    stdout = process.workdir / "stdout.txt"
    wait_for(lambda: {b"ready", b"child ready"} <= set(stdout.read_bytes().splitlines()),
             20, "the run and its child to be ready")
    process.interrupt()
    run = process.finish(30)
    assert run.interrupted
    assert "child heard it" in run.stdout, run.stdout + run.stderr
    if handled == "handled":
        assert run.exit_code == 3, run.stderr
        assert "heard 1" in run.stdout, run.stdout
    else:
        assert run.exit_code == -signal.SIGINT, run.stderr
        assert "KeyboardInterrupt" in run.stderr


def test_the_machines_secrets_are_not_in_a_runs_read_set(
    lab_sandbox: Sandbox, tmp_path: Path
) -> None:
    """A root grader's run keeps uid 0 without capabilities, and uid 0 owns /etc/shadow:
    its mode would let it through, the read set does not. The control: /etc/hosts, a
    neighbour in /etc, reads."""
    folder = submission(tmp_path, "peek.py", """
        for path in ("/etc/shadow", "/etc/hosts"):
            try:
                print(path, len(open(path, "rb").read()))
            except OSError as error:
                print(path, "refused", error.errno)
    """)
    run = lab_sandbox.start_script(folder, "peek.py").finish(30)
    if not run.confined:
        pytest.skip("runs are not confined here (no Landlock)")
    assert "/etc/shadow refused 13" in run.stdout, run.stdout + run.stderr
    assert "/etc/hosts refused" not in run.stdout, run.stdout
