"""Inner run, serial or under ``pytest -n 2``: two tests that ask for nothing of Kafka.
Each records, while it runs, the Kafka broker JVMs under the run's pytest (the xdist
controller, or this very process) and the threads of its own process and of that one."""

import json
import os
import threading
from pathlib import Path

import psutil
import pytest

RECORDS = Path(__file__).parent / "records"


def is_broker(process):
    try:
        return "kafka.Kafka" in process.cmdline()
    except psutil.Error:  # gone meanwhile
        return False


@pytest.mark.parametrize("n", range(2))
def test_asks_for_no_kafka_fixture(n):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    run = psutil.Process().parent() if worker else psutil.Process()
    RECORDS.mkdir(exist_ok=True)
    (RECORDS / f"{n}.json").write_text(json.dumps({
        "worker": worker,
        "jvms": [process.pid for process in run.children(recursive=True) if is_broker(process)],
        "threads": sorted(thread.name for thread in threading.enumerate()),
        "run_threads": run.num_threads(),
    }))
