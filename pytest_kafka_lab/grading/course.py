"""The course's fixed names, and a clean slate for each graded exercise."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import ConsumerGroupState, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab.grading.group_eviction import EvictionError, evict_members
from pytest_kafka_lab.topics import create_topic, delete_topics
from pytest_kafka_lab.waiting import wait_for

LOG = logging.getLogger(__name__)

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
# The classic protocol's default session timeout is 45 s: a member that never left, and
# that could not be removed (``remove_leftover_members``), is gone by then.
GROUP_QUIET_TIMEOUT = 60.0
# A group in these states cannot be deleted, members or not (a classic group passes
# through a rebalance after its last member left).
IN_USE = (ConsumerGroupState.STABLE, ConsumerGroupState.PREPARING_REBALANCING,
          ConsumerGroupState.COMPLETING_REBALANCING)

# What a fresh broker may take to bring up its group coordinator and hand out producer ids.
WARM_UP_TIMEOUT = 15.0
WARM_UP_GROUP = "kafka-lab-warm-up"  # looked up, never joined: the broker keeps no trace
PRODUCERS = 10  # at most, asking for a producer id one after the other

# Which files make up each exercise (a submission without them is "missing").
EXERCISE_FILES: dict[str, tuple[str, ...]] = {
    "ex1": ("exercise_producer.py",),
    "ex2": ("exercise_consumer.py",),
    "ex3": ("producer_continuous.py", "consumer_scaling.py"),
    "ex4": ("exercise_exactly_once.py",),
    "ex5": ("exercise_dlq.py",),
    "ex6": ("exercise_benchmark.py",),
}


# The order in which a grading split over workers hands the exercises out: longest first
# (as the reference takes them: ex6 about 5 s, ex3, ex5, ex2 and ex4 about 2 s, ex1 1 s).
LONGEST_FIRST = ("ex6", "ex3", "ex5", "ex2", "ex4", "ex1")


def course_dir() -> Path:
    """Where the course's exercise checks are: ``scenarios/`` of a checkout (an editable
    install maps it), or the ``pytest_kafka_lab/course`` folder of an installed wheel."""
    spec = importlib.util.find_spec("pytest_kafka_lab.course")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pytest_kafka_lab.course is not installed: reinstall "
                                  "pytest-kafka-lab (pip install pytest-kafka-lab)")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def reset_course(admin: AdminClient, create: dict[str, int] | None = None
                 ) -> dict[str, list[str]]:
    """Delete every course topic and group that exists, then create ``create``.

    Each exercise starts from this, so the order of exercises and re-runs do not change
    a verdict. A member that a run killed at its deadline left in a course group is
    removed at once (``group_eviction``) rather than waited out, so that it never slows
    the next exercise; only where that fails (a listener that wants SASL or TLS) is its
    session waited for. Returns ``{group: ids of the members removed}``.
    """
    evicted = remove_leftover_members(admin)
    wait_for(lambda: not busy_course_groups(admin), GROUP_QUIET_TIMEOUT,
             "the course's groups to have no members left (a member killed at its deadline "
             "stays until its session times out)", lambda: busy_course_groups(admin))
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
    return evicted


def remove_leftover_members(admin: AdminClient) -> dict[str, list[str]]:
    """Every member of the course's groups removed, on its behalf; ``{group: member ids}``.
    A failure is logged: the caller then waits for the members' sessions to time out."""
    busy = list(busy_course_groups(admin))
    try:
        evicted = evict_members(admin, busy)
    except (EvictionError, OSError, KafkaException):
        LOG.warning("removing the members left in %s failed: waiting for their sessions "
                    "to time out instead", busy, exc_info=True)
        return {}
    if evicted:
        LOG.info("removed members left in the course's groups: %s", evicted)
    return evicted


def busy_course_groups(admin: AdminClient) -> dict[str, str]:
    """``{group: "N members, STATE"}`` for the course's groups that cannot be deleted yet:
    with members, or in a rebalance (the state a classic group passes through after its
    last member left)."""
    listed = [group.group_id for group in admin.list_consumer_groups(request_timeout=10)
              .result(10).valid if group.group_id in GROUPS]
    if not listed:
        return {}
    described = admin.describe_consumer_groups(listed, request_timeout=10)
    busy = {}
    for group, future in described.items():
        description = future.result(10)
        if description.members or description.state in IN_USE:
            busy[group] = f"{len(description.members)} members, {description.state.name}"
    return busy


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


class BrokerWarmUp:
    """Brings up, in the background, what a fresh broker creates on first use, so that no
    submission pays for it: the group coordinator (the ``__consumer_offsets`` topic, made
    when a group is first looked up: a first member otherwise waits about 3 s for it) and
    a block of producer ids (the first idempotent producer is otherwise told "coordinator
    load in progress" and retries 0.5 s later). The course's broker has long been running
    when a student starts a script; this makes the lab broker so. ``wait`` before a
    submission runs. Nothing to clean up: it makes no topic, group or message (only the
    broker's own offsets topic, which any first group makes)."""

    def __init__(self, client_config: dict[str, Any], timeout: float = WARM_UP_TIMEOUT) -> None:
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(dict(client_config), timeout),
                                        name="kafka-lab-warm-up", daemon=True)
        self._thread.start()

    def wait(self, timeout: float = WARM_UP_TIMEOUT) -> bool:
        """Block until the broker is warm (or the warm-up gave up); whether it finished."""
        return self.done.wait(timeout)

    def _run(self, config: dict[str, Any], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        try:
            assigned = threading.Event()

            def statistics(text: str) -> None:
                with contextlib.suppress(ValueError, AttributeError):
                    if json.loads(text).get("eos", {}).get("idemp_state") == "Assigned":
                        assigned.set()

            producers: list[Producer] = []

            def has_producer_id() -> bool:
                # A producer told "load in progress" asks again only 0.5 s later: a new one
                # at each poll (up to PRODUCERS) asks at once, and gets an id as soon as
                # the broker has some.
                if len(producers) < PRODUCERS and not assigned.is_set():
                    producers.append(Producer({**config, "enable.idempotence": True,
                                               "statistics.interval.ms": 50,
                                               "stats_cb": statistics}))
                for producer in producers:
                    producer.poll(0)  # serves the statistics callback
                return assigned.is_set()

            has_producer_id()  # asks while the group coordinator comes up
            admin = AdminClient(config)
            wait_for(lambda: group_coordinator_answers(admin), timeout,
                     "the group coordinator to answer")
            wait_for(has_producer_id, max(0.0, deadline - time.monotonic()),
                     "an idempotent producer to be given its producer id")
        except Exception:  # a cold broker is slower, never wrong: grading goes on
            LOG.warning("warming up the lab broker failed", exc_info=True)
        finally:
            self.done.set()


def group_coordinator_answers(admin: AdminClient) -> bool:
    """Whether the broker describes a group (an unknown one is ``DEAD``): its coordinator
    is loaded. (Offsets are not asked: confluent-kafka 2.16 can crash asking a loading
    coordinator for an unknown group's offsets.)"""
    try:
        admin.describe_consumer_groups([WARM_UP_GROUP], request_timeout=5)[WARM_UP_GROUP] \
            .result(5)
    except KafkaException:
        return False
    return True
