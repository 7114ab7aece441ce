"""The grader's ``lab_*`` fixtures, and the ``--lab-*`` values they give.

A plugin of its own: ``grading/plugin.py`` registers it only in a run that grades (one that
names a submission, runs the course's folder, collects the course's checks, or has a test
that asks for a ``lab_*`` fixture), so that nobody else's ``pytest --fixtures`` lists them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker, broker_for
from pytest_kafka_lab.config import LAB_TIMEOUT, LabConfig
from pytest_kafka_lab.distribution import resolve_distribution
from pytest_kafka_lab.grading.course import BrokerWarmUp, course_dir, reset_course
from pytest_kafka_lab.progress import status
from pytest_kafka_lab.readers import client_config

if TYPE_CHECKING:
    from pytest_kafka_lab.grading.sandbox import Sandbox


def option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"lab_{name}") or config.getini(f"lab_{name}")
    return str(value) if value else None


def run_timeout(config: pytest.Config) -> float:
    """Seconds one run of a submission may take: ``--lab-timeout`` (or ini ``lab_timeout``),
    the model's default (``config.LAB_TIMEOUT``) when neither is set; anything but a
    positive number is a usage error."""
    where = "--lab-timeout" if config.getoption("lab_timeout") else "lab_timeout (ini)"
    return float(LAB_TIMEOUT.value(option(config, "timeout"), where))


def submission_folder(config: pytest.Config) -> Path:
    chosen = option(config, "submission")
    folder = Path(chosen) if chosen else course_dir() / "reference"
    if not folder.is_dir():
        raise pytest.UsageError(f"--lab-submission {folder}: no such folder")
    return folder.resolve()


def uses_course_names(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in ("exercise", "course_names"))


@pytest.fixture(scope="session")
def lab_submission(pytestconfig: pytest.Config) -> Path:
    """The folder being graded."""
    return submission_folder(pytestconfig)


@pytest.fixture(scope="session")
def lab_timeout(pytestconfig: pytest.Config) -> float:
    """Seconds one run of a submission may take before it is stopped."""
    return run_timeout(pytestconfig)


@pytest.fixture(scope="session")
def lab_broker(request: pytest.FixtureRequest, kafka_lab_config: LabConfig
               ) -> Iterator[KafkaBroker]:
    """The broker the course is graded on: the session's ``kafka_broker``, except on a
    pytest-xdist worker of a run that grades exercises, which starts a local broker of its
    own (stopped at its end). The course's topic and group names are fixed, so two workers
    grading side by side on one broker would reset and read each other's topics."""
    grading = any(map(uses_course_names, request.session.items))
    if not (grading and hasattr(request.config, "workerinput")):
        yield request.getfixturevalue("kafka_broker")
        return
    if kafka_lab_config.backend != "local":
        raise pytest.UsageError(
            f"the course's checks cannot run under pytest-xdist on the {kafka_lab_config.backend}"
            " backend: each worker needs a broker of its own (the course's topic and group "
            "names are fixed, so two workers on one cluster collide); run them without -n, "
            "or on the local backend")
    single = kafka_lab_config.replace(brokers=1, reuse=False, port=0)
    with broker_for(single, functools.partial(status, request.config)) as broker:
        yield broker


@pytest.fixture(scope="session")
def lab_warm_up(lab_broker: KafkaBroker) -> BrokerWarmUp:
    """``lab_broker`` warming up in the background (its group coordinator and producer
    ids, which a fresh broker makes on first use): an exercise waits for it before the
    submission runs, so that no submission pays for the broker's first use."""
    return BrokerWarmUp(client_config(lab_broker))


@pytest.fixture(scope="session")
def lab_admin(lab_broker: KafkaBroker) -> AdminClient:
    """An ``AdminClient`` of ``lab_broker``."""
    return AdminClient(lab_broker.client_config())


@pytest.fixture(scope="session")
def lab_sandbox(lab_broker: KafkaBroker, kafka_lab_config: LabConfig) -> Iterator[Sandbox]:
    """Starts submission runs against ``lab_broker``."""
    from pytest_kafka_lab.grading.sandbox import Sandbox  # not loaded where none is asked for

    distribution = getattr(lab_broker, "distribution", None) or resolve_distribution(
        kafka_lab_config.cache_dir, kafka_lab_config.home)
    sandbox = Sandbox(lab_broker.bootstrap_servers, distribution)
    yield sandbox
    sandbox.cleanup()


@pytest.fixture
def lab_course(lab_admin: AdminClient) -> Callable[[dict[str, int]], dict[str, list[str]]]:
    """``lab_course({"orders": 4})``: the course's topics and groups reset, these created;
    it returns the members left in the course's groups that it removed, by group."""
    return lambda topics: reset_course(lab_admin, topics)


# Every fixture above: a test that asks for one makes its run a grading run.
NAMES = frozenset(name for name in dir() if name.startswith("lab_"))
