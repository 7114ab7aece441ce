"""Inner run: holds its broker until the outer test writes release.txt beside this file,
so that two runs started together are sure to have their brokers up at the same time."""

from pathlib import Path

from pytest_kafka_lab.waiting import wait_for


def test_holds_until_released(recorded_jvm, kafka_admin):
    assert kafka_admin.list_topics(timeout=10).brokers
    release = Path(__file__).parent / "release.txt"
    wait_for(release.exists, 120, f"{release}, which the outer test writes")
