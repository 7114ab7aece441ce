"""The course's fixed names, and a clean slate for each graded exercise."""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.topics import create_topic, delete_topics
from pytest_kafka_lab.waiting import wait_for

# Partition counts as the course's setup steps create them.
TOPICS: dict[str, int] = {
    "orders": 4,
    "orders-dlq": 1,
    "payments": 1,
    "high-volume": 6,
    "benchmark-topic": 1,
}
GROUPS = ("order-processor", "order-processor-dlq", "scaling-demo", "payment-processor",
          "payment-processor-2")
# The classic protocol's default session timeout is 45 s: a member that never left is
# gone by then.
GROUP_QUIET_TIMEOUT = 60.0

# Which files make up each exercise (a submission without them is "missing").
EXERCISE_FILES: dict[str, tuple[str, ...]] = {
    "ex1": ("exercise_producer.py",),
    "ex2": ("exercise_consumer.py",),
    "ex3": ("producer_continuous.py", "consumer_scaling.py"),
    "ex4": ("exercise_exactly_once.py",),
    "ex5": ("exercise_dlq.py",),
    "ex6": ("exercise_benchmark.py",),
}


def course_dir() -> Path:
    """Where the course's exercise checks are: ``scenarios/`` of a checkout (an editable
    install maps it), or the ``pytest_kafka_lab/course`` folder of an installed wheel."""
    spec = importlib.util.find_spec("pytest_kafka_lab.course")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pytest_kafka_lab.course is not installed: reinstall "
                                  "pytest-kafka-lab (pip install pytest-kafka-lab)")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def reset_course(admin: AdminClient, create: dict[str, int] | None = None) -> None:
    """Delete every course topic and group that exists, then create ``create``.

    Each exercise starts from this, so the order of exercises and re-runs do not change
    a verdict.
    """
    wait_for(lambda: not course_groups_with_members(admin), GROUP_QUIET_TIMEOUT,
             "the course's groups to have no members left (a member killed at its deadline "
             "stays until its session times out)", lambda: course_groups_with_members(admin))
    groups = [group.group_id for group in admin.list_consumer_groups(request_timeout=10)
              .result(10).valid if group.group_id in GROUPS]
    for future in (admin.delete_consumer_groups(groups, request_timeout=10).values()
                   if groups else []):
        with contextlib.suppress(KafkaException):  # already gone
            future.result(10)
    existing = [name for name in admin.list_topics(timeout=10).topics if name in TOPICS]
    delete_topics(admin, existing)
    for topic, partitions in (create or {}).items():
        create_again(admin, topic, partitions)


def course_groups_with_members(admin: AdminClient) -> dict[str, int]:
    """``{group: member count}`` for the course's groups that still have members."""
    listed = [group.group_id for group in admin.list_consumer_groups(request_timeout=10)
              .result(10).valid if group.group_id in GROUPS]
    if not listed:
        return {}
    described = admin.describe_consumer_groups(listed, request_timeout=10)
    counts = {group: len(future.result(10).members) for group, future in described.items()}
    return {group: count for group, count in counts.items() if count}


def create_again(admin: AdminClient, topic: str, partitions: int, timeout: float = 15) -> None:
    """Create a topic that may have been deleted a moment ago: the controller can still
    report it as existing while the deletion completes."""

    def created() -> bool:
        try:
            create_topic(admin, topic, partitions)
        except KafkaException as error:
            if "already exists" in str(error).lower():
                return False
            raise
        return True

    wait_for(created, timeout, f"topic {topic!r} to be creatable again after its deletion")
