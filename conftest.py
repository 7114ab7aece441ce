"""Settings shared by the project's own test paths (tests/, scenarios/, benchmarks/).

The plugin itself is loaded through its ``pytest11`` entry point, as for any user.
"""

from pathlib import Path

import pytest

from pytest_kafka_lab.hypothesis_profiles import load_profile

# "ci" where $CI is set, "dev" elsewhere; $KAFKA_LAB_HYPOTHESIS_PROFILE or
# --kafka-hypothesis-profile choose another.
load_profile()


def pytest_configure(config: pytest.Config) -> None:
    """``pytest --benchmark-compare`` (or ``--benchmark-autosave``) typed at the project's
    root means the benchmark suite, compared with its last saved run (or saved), not the
    plugin's tests that ``testpaths`` names."""
    if benchmarking(config) and config.args_source is pytest.Config.ArgsSource.TESTPATHS:
        config.args = [str(config.rootpath / "benchmarks")]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    if comparing(config) and not saved_runs(config):
        terminalreporter.write_line(
            "benchmarks: no saved run to compare with yet; save a first one with "
            "`pytest --benchmark-autosave` (or `pytest --benchmark-autosave "
            "--benchmark-compare` to save each run and compare it with the one before)",
            yellow=True)


def comparing(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_compare", default=None))


def benchmarking(config: pytest.Config) -> bool:
    return comparing(config) or any(config.getoption(name, default=None) for name in (
        "benchmark_autosave", "benchmark_save"))


def saved_runs(config: pytest.Config) -> list[Path]:
    """pytest-benchmark's saved runs, where its file storage keeps them (one folder per
    machine): other storages are taken to hold some."""
    storage = str(config.getoption("benchmark_storage", default="file://./.benchmarks"))
    if "://" in storage and not storage.startswith("file://"):
        return [Path(storage)]
    folder = Path(storage.removeprefix("file://"))
    return sorted((folder if folder.is_absolute() else Path.cwd() / folder).glob("*/*.json"))
