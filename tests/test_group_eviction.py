"""Leftovers of one exercise never slow the next (issue 21, item 3): a member that a run
killed at its deadline left in a course group is removed by the course's reset at once
(``grading/group_eviction.py``), under either group protocol; so does a lane's reset
between two submissions, from a group of the submission's own.

The broker is this module's own, so that the course's fixed names clash with nobody's,
and its members' sessions are longer than the reset's wait for a quiet group
(``GROUP_QUIET_TIMEOUT``): a reset that waited for the killed member to time out would
fail; one that returns, with the group gone, removed the member itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab import factories
from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.grading.class_runner.console_summary import exercise_selection
from pytest_kafka_lab.grading.class_runner.lane_reset import Lane
from pytest_kafka_lab.grading.course import (
    GROUP_QUIET_TIMEOUT,
    busy_course_groups,
    reset_course,
)
from pytest_kafka_lab.groups import ConsumerGroup
from pytest_kafka_lab.readers import describe_group
from tests.test_grading_report import grade

ROOT = Path(__file__).parent.parent
REFERENCE = ROOT / "scenarios" / "reference"
GROUP = "order-processor"  # exercise 2's
# Two minutes: well past the reset's wait, within what the broker allows.
SESSION_MS = 120_000
assert SESSION_MS > GROUP_QUIET_TIMEOUT * 1000

lingering_broker = factories.kafka_proc("module", broker_properties={
    "group.consumer.session.timeout.ms": str(SESSION_MS),  # the consumer protocol's
    "group.consumer.max.session.timeout.ms": str(SESSION_MS),
})
lingering_groups = factories.kafka_groups("lingering_broker")


@pytest.fixture
def admin(lingering_broker: KafkaBroker) -> AdminClient:
    """The module broker's admin client, its course topics reset to ``orders`` alone."""
    client = AdminClient(lingering_broker.client_config())
    reset_course(client, {"orders": 4})
    return client


MakeGroup = Callable[..., ConsumerGroup]


def killed_members(make_group: MakeGroup, protocol: str, group_id: str = GROUP) -> list[str]:
    """Two members of ``group_id`` that joined and were then SIGKILLed, never leaving: the
    ids the broker gave them."""
    settings = {"session.timeout.ms": SESSION_MS} if protocol == "classic" else {}
    group = make_group("orders", members=2, group_id=group_id, protocol=protocol, **settings)
    group.wait_for_stable(counts=[2, 2], timeout=60)
    for member in group.members:
        member.kill()
    return [member.member_id
            for member in describe_group(group.client_config(), group_id).members]


def group_names(admin: AdminClient) -> set[str]:
    return {group.group_id for group in admin.list_consumer_groups().result(10).valid}


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_the_course_reset_removes_a_killed_member_at_once(
    protocol: str, admin: AdminClient, lingering_groups: MakeGroup,
) -> None:
    killed = killed_members(lingering_groups, protocol)
    assert len(killed) == 2, killed
    busy = busy_course_groups(admin)
    assert busy.get(GROUP, "").startswith("2 members"), busy  # dead, yet still members

    evicted = reset_course(admin, {"orders": 4})

    assert sorted(evicted.get(GROUP, [])) == sorted(killed), evicted
    assert GROUP not in group_names(admin)
    assert busy_course_groups(admin) == {}


def test_a_grading_after_a_killed_member_is_not_held_up_by_it(
    lingering_broker: KafkaBroker, admin: AdminClient,
    lingering_groups: MakeGroup, tmp_path: Path,
) -> None:
    killed_members(lingering_groups, "classic")
    assert GROUP in busy_course_groups(admin)

    report, output = grade(REFERENCE, lingering_broker.bootstrap_servers, tmp_path,
                           *exercise_selection(["ex2"]))

    ex2 = report["exercises"]["ex2"]
    assert ex2["status"] == "passed", (ex2, output[-2000:])
    assert ex2["points"] == ex2["max_points"], ex2


def test_a_lane_reset_removes_a_killed_member_of_a_stray_group_and_deletes_the_group(
    lingering_broker: KafkaBroker, admin: AdminClient, lingering_groups: MakeGroup,
) -> None:
    lane = Lane(lingering_broker.bootstrap_servers)
    killed_members(lingering_groups, "consumer", group_id="my-scratch-group")

    found = lane.reset_groups()

    assert "removed 2 member(s) left in group 'my-scratch-group'" in found, found
    assert "deleted group 'my-scratch-group' and its offsets, not the course's" in found
    assert "my-scratch-group" not in group_names(admin)
