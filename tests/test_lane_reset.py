"""A lane of ``kafka-lab grade`` resets its broker before and after every submission
(issue 22, item 3, ``grading/class_runner/lane_reset.py``).

Graded as a lane grades, one submission after another on one broker (the module's own:
the reset undoes what other tests keep on the session's),
with ``grade_submission``: first ``tests/lane_leftovers`` (exercise 1's ``main()`` leaves
a topic of its own and a group with committed offsets), then, after this test changed
the broker's settings itself (a dynamic broker config through ``AdminClient``, a client
quota through the real ``kafka-configs``: a run's proxy refuses both), the reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ResourceType,
)

from pytest_kafka_lab import factories
from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.grading.class_runner.admin_wire import AdminWire
from pytest_kafka_lab.grading.class_runner.class_list import Submission
from pytest_kafka_lab.grading.class_runner.submission_run import (
    Runs,
    RunSettings,
    grade_submission,
)
from pytest_kafka_lab.grading.course import course_dir
from pytest_kafka_lab.tools import KafkaTools

ROOT = Path(__file__).parent.parent
LEFTOVERS = ROOT / "tests" / "lane_leftovers"
REFERENCE = ROOT / "scenarios" / "reference"
STRAY_TOPIC, STRAY_GROUP = "my-scratch-topic", "my-scratch-group"
# Small enough that no order of exercise 1 and no message of exercise 6 gets through.
SMALL = "512"


def dynamic_configs(admin: AdminClient, node: str) -> dict[str, str | None]:
    resource = ConfigResource(ResourceType.BROKER, node)
    entries = admin.describe_configs([resource])[resource].result(10).values()
    return {entry.name: entry.value for entry in entries
            if entry.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value}


@pytest.fixture
def lane_settings(kafka_lab_config: LabConfig, inner_tmpdir: Path,
                  monkeypatch: pytest.MonkeyPatch) -> RunSettings:
    """How ``kafka-lab grade`` runs a submission, its runs with this session's jars."""
    monkeypatch.setenv("KAFKA_LAB_CACHE_DIR", str(kafka_lab_config.cache_dir))
    monkeypatch.setenv("TMPDIR", str(inner_tmpdir))
    for variable in ("KAFKA_LAB_BOOTSTRAP", "KAFKA_HOME", "PYTEST_XDIST_WORKER",
                     "PYTEST_ADDOPTS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(variable, raising=False)
    return RunSettings(course_dir(), run_timeout=60, submission_limit=600)


# A lane's reset undoes every topic, group and config it did not start with: on a broker
# of its own, never on the run's, where the other worker's tests keep theirs.
lane_broker = factories.kafka_proc("module")


@pytest.fixture
def lane_admin(lane_broker: KafkaBroker) -> AdminClient:
    """The lane broker's admin client."""
    return AdminClient(lane_broker.client_config())


def test_a_lane_is_reset_between_submissions_and_the_reference_keeps_every_point(
    lane_broker: KafkaBroker, lane_admin: AdminClient, kafka_tools: KafkaTools,
    lane_settings: RunSettings,
) -> None:
    lane = lane_broker.bootstrap_servers
    node = str(min(lane_admin.list_topics(timeout=10).brokers))
    configs_at_start = dynamic_configs(lane_admin, node)
    runs = Runs()

    leftovers = grade_submission(Submission(LEFTOVERS, "leftovers"), lane, lane_settings, runs)
    found = leftovers.get("lane_reset", [])
    assert f"after: deleted topic {STRAY_TOPIC!r}, not the course's" in found, found
    assert f"after: deleted group {STRAY_GROUP!r} and its offsets, not the course's" in found
    assert STRAY_TOPIC not in lane_admin.list_topics(timeout=10).topics
    groups = lane_admin.list_consumer_groups().result(10).valid
    assert STRAY_GROUP not in {group.group_id for group in groups}

    # Between two submissions, what no run can do through its proxy.
    change = ConfigEntry("message.max.bytes", SMALL,
                         incremental_operation=AlterConfigOpType.SET)
    for future in lane_admin.incremental_alter_configs([ConfigResource(
            ResourceType.BROKER, node, incremental_configs=[change])]).values():
        future.result(10)
    quota = kafka_tools.run("kafka-configs", "--bootstrap-server", lane, "--alter",
                            "--entity-type", "clients", "--entity-default", "--add-config",
                            "producer_byte_rate=4096,consumer_byte_rate=4096")
    assert quota.returncode == 0, quota.stderr
    assert dynamic_configs(lane_admin, node).get("message.max.bytes") == SMALL

    reference = grade_submission(Submission(REFERENCE, "reference"), lane, lane_settings,
                                 runs)
    lost = {key: f"{result['points']}/{result['max_points']}"
            for key, result in reference["exercises"].items()
            if result["points"] != result["max_points"]}
    assert len(reference["exercises"]) == 6, reference.get("error")
    assert not lost, lost
    found = reference.get("lane_reset", [])
    assert f"before: broker {node}: message.max.bytes removed" in found, found
    assert ("before: client quota client-id=<default>: producer_byte_rate removed"
            in found), found
    assert dynamic_configs(lane_admin, node) == configs_at_start
    assert AdminWire.of(lane).client_quotas() == {}
