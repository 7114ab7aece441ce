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
