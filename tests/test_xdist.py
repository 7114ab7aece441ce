"""Under pytest-xdist the controller starts one broker and every worker shares it."""

from __future__ import annotations

import json
from typing import Any

import psutil
import pytest

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


def test_tests_sharing_a_module_fixture_or_the_cluster_stay_on_one_worker(
    lab_pytester: pytest.Pytester,
) -> None:
    """The grading plugin's scheduler: a module-scoped fixture runs once, and so does a
    session-wide three-node cluster, rather than once on each worker; the rest spreads."""
    lab_pytester.makepyfile(test_sharing=SHARING)
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                               timeout=INNER_TIMEOUT)
    result.assert_outcomes(passed=21)
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
