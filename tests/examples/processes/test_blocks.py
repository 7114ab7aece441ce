"""Inner run: a test that holds the broker until it is killed or interrupted."""

from pathlib import Path

from pytest_kafka_lab.waiting import wait_for


def test_blocks(recorded_jvm):
    never = Path(__file__).parent / "never.txt"
    wait_for(never.exists, 600, f"{never}, which nobody writes")
