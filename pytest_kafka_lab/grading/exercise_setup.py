"""The set-up every exercise's checks share, as one fixture factory.

An exercise module declares, in one line, which exercise it grades and which of the
course's topics it starts from::

    lab = exercise_setup("ex1", {"orders": 4})

and its evidence fixture (module-scoped, so that the module's checks share one run of
the submission) stands on ``lab``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.course import BrokerWarmUp, reset_course
from pytest_kafka_lab.grading.sandbox import Sandbox
from pytest_kafka_lab.grading.verdicts import require_exercise


@dataclass(frozen=True)
class ExerciseLab:
    """What an exercise's checks run with: the submission being graded, the sandbox
    that runs it against the lab broker, how long one run may take, and the broker."""

    exercise: str
    submission: Path
    sandbox: Sandbox
    timeout: float
    broker: KafkaBroker
    admin: AdminClient

    def reset_course(self, create: dict[str, int] | None = None) -> None:
        """The course's topics and groups deleted again, ``create`` created."""
        reset_course(self.admin, create)


def exercise_setup(exercise: str, topics: dict[str, int]) -> Callable[..., Any]:
    """A module-scoped fixture for the checks of ``exercise``: it skips them all as
    *missing* when the submission lacks the exercise's files, else resets the course's
    topics and groups on the lab broker, creates ``topics`` (``{name: partitions}``), and
    returns an ``ExerciseLab`` once the broker is warm (``lab_warm_up``). Nothing to clean
    up: the next exercise resets again."""
    wanted = dict(topics)

    @pytest.fixture(scope="module")
    def lab(
        lab_submission: Path, lab_broker: KafkaBroker, lab_warm_up: BrokerWarmUp,
        lab_sandbox: Sandbox, lab_timeout: float, lab_admin: AdminClient,
    ) -> ExerciseLab:
        require_exercise(lab_submission, exercise)
        reset_course(lab_admin, wanted)
        lab_warm_up.wait()
        return ExerciseLab(exercise, lab_submission, lab_sandbox, lab_timeout, lab_broker,
                           lab_admin)

    return lab
