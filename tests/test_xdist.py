"""Under pytest-xdist the controller starts one broker, when the workers' tests need one,
and every worker shares it; a run whose tests need none starts none and keeps xdist's own
scheduler."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from typing import Any

import psutil
import pytest

from pytest_kafka_lab.backends.base import free_port

INNER_TIMEOUT = 240


def test_workers_share_one_broker_with_their_own_topics(
    lab_pytester: pytest.Pytester, jvms: Any
) -> None:
    lab_pytester.copy_example("test_xdist_topics.py")
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                               timeout=INNER_TIMEOUT)
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.OK
    assert "Traceback" not in result.stderr.str(), result.stderr.str()
    records = [json.loads(path.read_text())
               for path in sorted((lab_pytester.path / "records").glob("*.json"))]
    assert len(records) == 4

    workers = {record["worker"] for record in records}
    assert workers == {"gw0", "gw1"}, f"the tests ran on {workers}, not on both workers"
    [controller] = {record["controller"] for record in records}

    broker_jvms = {tuple(jvm) for record in records for jvm in record["jvms_under_controller"]}
    assert len(broker_jvms) == 1, (
        f"expected one broker JVM for the whole run, the tests saw {sorted(broker_jvms)}")
    assert all(record["jvms_under_worker"] == [] for record in records), (
        "a worker started a broker of its own")
    [(pid, created)] = broker_jvms
    assert {record["bootstrap"] for record in records} == {records[0]["bootstrap"]}

    topics = [record["topic"] for record in records]
    assert len(set(topics)) == 4
    for record in records:
        assert f"-{record['worker']}-" in record["topic"], (
            f"topic {record['topic']} does not name its worker {record['worker']}")

    # The run is over: the controller stopped the broker it started.
    try:
        jvm = psutil.Process(pid)
        gone = abs(jvm.create_time() - created) > 0.01 or not jvms.alive(jvm)
    except psutil.NoSuchProcess:
        gone = True
    assert gone, f"the broker JVM {pid} of the xdist run outlived it (controller {controller})"


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_run_that_asks_for_no_kafka_fixture_starts_no_broker_and_no_thread(
    lab_pytester: pytest.Pytester, data_dirs_left: Callable[[], list[str]],
    workers: tuple[str, ...],
) -> None:
    """The plugin is in every pytest run of the environment: where no test asks for Kafka,
    the run is the one it would be without the plugin (the same threads, xdist's own
    scheduler), and no broker JVM runs under it while its tests run."""
    lab_pytester.copy_example("test_no_kafka_here.py")
    records = lab_pytester.path / "records"

    def run(*args: str) -> tuple[pytest.RunResult, list[dict[str, Any]]]:
        shutil.rmtree(records, ignore_errors=True)
        result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", *workers,
                                                   *args, timeout=INNER_TIMEOUT)
        result.assert_outcomes(passed=2)
        return result, [json.loads(path.read_text()) for path in sorted(records.iterdir())]

    _, without_plugin = run("-p", "no:kafka_lab", "-p", "no:kafka_lab_grading")
    result, seen = run()
    text = result.stdout.str()
    jvms = {jvm for record in seen for jvm in record["jvms"]}
    assert not jvms, f"broker JVMs {jvms} ran under a run that asks for no Kafka fixture"
    assert "ready in" not in text, text  # a broker's announcement (shown without xdist)
    assert "kafka-lab grading" not in text, text
    assert sorted((record["threads"], record["run_threads"]) for record in seen) == sorted(
        (record["threads"], record["run_threads"]) for record in without_plugin), (
        "the plugin added threads", seen, without_plugin)
    if workers:
        result.stdout.fnmatch_lines(["scheduling tests via LoadScheduling"])
        assert {record["worker"] for record in seen} == {"gw0", "gw1"}
    assert data_dirs_left() == [], "the run left a folder of its own behind"


def test_a_start_that_failed_on_the_controller_fails_each_test_that_needs_the_broker(
    lab_pytester: pytest.Pytester,
) -> None:
    """The workers asked, the controller's start failed: each worker's test that needs the
    broker fails at setup with the controller's reason; the others pass."""
    nowhere = f"127.0.0.1:{free_port()}"
    lab_pytester.makepyfile(test_needs="""
        import pytest

        @pytest.mark.parametrize("n", range(2))
        def test_needs_the_broker(kafka_broker, n):
            pass

        @pytest.mark.parametrize("n", range(2))
        def test_needs_nothing(n):
            pass
    """)
    result = lab_pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--kafka-bootstrap", nowhere,
        "--kafka-start-timeout", "2", timeout=INNER_TIMEOUT)
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines([
        f"*BrokerStartError: {nowhere} did not answer a metadata request*"])


SHARING = '''
import json, os, pathlib
import pytest

def record(name):
    folder = pathlib.Path("records")
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(os.environ["PYTEST_XDIST_WORKER"])

@pytest.fixture(scope="module")
def expensive():
    return object()

@pytest.fixture
def through_expensive(expensive):
    return expensive

@pytest.fixture
def kafka_cluster():  # this module's own stand-in: the scheduler reads names, not brokers
    return None

@pytest.mark.parametrize("n", range(3))
def test_shares_the_module_fixture(expensive, n):
    record(f"module-{n}")

@pytest.mark.parametrize("n", range(3))
def test_shares_it_through_another_fixture(through_expensive, n):
    record(f"module-indirect-{n}")

@pytest.mark.parametrize("n", range(3))
def test_on_the_cluster(kafka_cluster, n):
    record(f"cluster-{n}")

@pytest.mark.parametrize("n", range(12))
def test_independent(n):
    record(f"free-{n}")
'''

# What makes the run a grading run, known only from what the workers collect.
COURSE_MODULE = '''
import pytest

pytestmark = pytest.mark.course_names

def test_on_the_course_names():
    pass
'''


def test_tests_sharing_a_module_fixture_or_the_cluster_stay_on_one_worker(
    lab_pytester: pytest.Pytester,
) -> None:
    """The grading plugin's scheduler, in a run that grades: a module-scoped fixture runs
    once, and so does a session-wide three-node cluster, rather than once on each worker;
    the rest spreads. The run is known to grade only once the first worker's collection
    reaches the controller, whose scheduler (xdist's own) the course's then replaces."""
    lab_pytester.makepyfile(test_sharing=SHARING, test_course=COURSE_MODULE)
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-v",
                                               timeout=INNER_TIMEOUT)
    result.assert_outcomes(passed=22)
    result.stdout.fnmatch_lines(["scheduling tests via ExercisesTogether"])
    workers = {path.name: path.read_text()
               for path in (lab_pytester.path / "records").iterdir()}
    module = {workers[name] for name in workers if name.startswith("module")}
    assert len(module) == 1, f"the module fixture's tests ran on {module}"
    cluster = {workers[name] for name in workers if name.startswith("cluster")}
    assert len(cluster) == 1, f"the cluster's tests ran on {cluster}"
    free = {workers[name] for name in workers if name.startswith("free")}
    assert free == {"gw0", "gw1"}, f"the independent tests ran on {free} only"


ORDERED = '''
import pathlib
import pytest

def record(name):
    with pathlib.Path("order.txt").open("a") as order:
        order.write(name + "\\n")

{marker}

@pytest.mark.parametrize("n", range(3))
def test_in_turn(n):
    record("{module}-" + str(n))
'''


def test_the_longest_exercise_goes_first_and_the_rest_keep_their_order(
    lab_pytester: pytest.Pytester,
) -> None:
    """On one worker, so the order is the scheduler's alone: the exercise that takes
    longest (ex6) before a short one (ex1), then tests of no exercise, as collected."""
    for module, marker in (("test_a", ""), ("test_b", 'pytestmark = pytest.mark.exercise('
                                            '"ex1", "short")'),
                           ("test_c", 'pytestmark = pytest.mark.exercise("ex6", "long")'),
                           ("test_d", "")):
        lab_pytester.makepyfile(**{module: ORDERED.format(marker=marker, module=module)})
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "1",
                                               timeout=INNER_TIMEOUT)
    result.assert_outcomes(passed=12)
    ran = (lab_pytester.path / "order.txt").read_text().split()
    expected = [f"{module}-{n}" for module in ("test_c", "test_b", "test_a", "test_d")
                for n in range(3)]
    assert ran == expected
