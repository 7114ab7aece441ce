"""The jar cache, Java and Maven: every error path, without a network download."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from pytest_kafka_lab import distribution
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.distribution import (
    KAFKA_VERSION,
    POM,
    cache_is_complete,
    cached_jars,
    explain_maven_failure,
    fetch_into,
    find_java,
    java_major_version,
    maven_executable,
    pinned_kafka_version,
    resolve_distribution,
)
from pytest_kafka_lab.exceptions import (
    CorruptCacheError,
    JavaNotFoundError,
    KafkaLabError,
    MavenNotFoundError,
)

JARS = {f"kafka_2.13-{KAFKA_VERSION}.jar": 11, f"kafka-clients-{KAFKA_VERSION}.jar": 7}


def make_cache(folder: Path, jars: dict[str, int] = JARS, on_disk: dict[str, int] = JARS) -> Path:
    """A version folder whose manifest lists ``jars`` and whose libs hold ``on_disk``."""
    (folder / "libs").mkdir(parents=True)
    for name, size in on_disk.items():
        (folder / "libs" / name).write_bytes(b"j" * size)
    (folder / "manifest.json").write_text(json.dumps({"jars": jars}))
    return folder


@pytest.fixture
def no_maven(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """PATH holds only an empty folder: no mvn to be found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return str(empty)


# --- the cache -----------------------------------------------------------------------------


def test_a_cache_with_every_jar_of_its_manifest_is_complete(tmp_path: Path) -> None:
    assert cache_is_complete(make_cache(tmp_path / f"kafka-{KAFKA_VERSION}"))


def test_a_cache_missing_a_jar_of_its_manifest_is_incomplete(tmp_path: Path) -> None:
    on_disk = dict(list(JARS.items())[:1])
    assert not cache_is_complete(make_cache(tmp_path / "v", on_disk=on_disk))


def test_a_cache_with_a_truncated_jar_is_incomplete(tmp_path: Path) -> None:
    truncated = {name: size - 1 for name, size in JARS.items()}
    assert not cache_is_complete(make_cache(tmp_path / "v", on_disk=truncated))


def test_a_cache_without_a_manifest_is_incomplete(tmp_path: Path) -> None:
    folder = make_cache(tmp_path / "v")
    (folder / "manifest.json").unlink()
    assert not cache_is_complete(folder)


@pytest.mark.parametrize("manifest", ['{"jars": {"kafka.jar": 1', "not json", "{}",
                                      "[]", '{"jars": ["kafka.jar"]}', "null"],
                         ids=["truncated", "text", "no-jars-key", "a-list", "jars-a-list",
                              "null"])
def test_an_unreadable_manifest_is_a_corrupt_cache_naming_the_folder(
    tmp_path: Path, manifest: str
) -> None:
    folder = make_cache(tmp_path / f"kafka-{KAFKA_VERSION}")
    (folder / "manifest.json").write_text(manifest)
    with pytest.raises(CorruptCacheError) as caught:
        cache_is_complete(folder)
    assert f"Delete {folder} and run again" in str(caught.value)


def test_a_complete_cache_is_used_without_maven(tmp_path: Path, no_maven: str) -> None:
    make_cache(tmp_path / f"kafka-{KAFKA_VERSION}")
    libs, origin = cached_jars(tmp_path, KAFKA_VERSION, lambda _line: None)
    assert (libs, origin) == (tmp_path / f"kafka-{KAFKA_VERSION}" / "libs", "cache")


def test_an_incomplete_cache_is_fetched_again(tmp_path: Path, no_maven: str) -> None:
    target = make_cache(tmp_path / f"kafka-{KAFKA_VERSION}", on_disk={})
    reports: list[str] = []
    with pytest.raises(MavenNotFoundError):
        cached_jars(tmp_path, KAFKA_VERSION, reports.append)
    assert any("is incomplete; fetching it again" in line for line in reports), reports
    assert not target.exists()


def test_a_half_finished_download_is_never_taken_as_the_cache(
    tmp_path: Path, no_maven: str
) -> None:
    # Everything a finished download holds, but under the staging name.
    partial = make_cache(tmp_path / f"kafka-{KAFKA_VERSION}.partial-1a2b3c4d")
    with pytest.raises(MavenNotFoundError):
        cached_jars(tmp_path, KAFKA_VERSION, lambda _line: None)
    leftovers = sorted(p.name for p in tmp_path.glob(f"kafka-{KAFKA_VERSION}*")
                       if p.is_dir())
    # The failed fetch removed its own staging folder; the planted one is untouched.
    assert leftovers == [partial.name]
    assert not (tmp_path / f"kafka-{KAFKA_VERSION}").exists()


def test_a_failed_fetch_leaves_no_staging_folder(tmp_path: Path, no_maven: str) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(MavenNotFoundError):
        fetch_into(cache / f"kafka-{KAFKA_VERSION}", lambda _line: None)
    assert list(cache.iterdir()) == []


# --- Java ----------------------------------------------------------------------------------


def fake_java(folder: Path, banner: str, exit_code: int = 0) -> Path:
    """A ``java`` that prints ``banner`` on stderr as ``java -version`` does."""
    java = folder / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{banner}' >&2\nexit {exit_code}\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return java


@pytest.mark.parametrize(("banner", "major"), [
    ('openjdk version "11.0.2" 2019-01-15', 11),
    ('java version "1.8.0_292"', 8),
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('openjdk version "21" 2023-09-19', 21),
    ("no version here", None),
])
def test_java_major_version_reads_the_banner(
    tmp_path: Path, banner: str, major: int | None
) -> None:
    assert java_major_version(fake_java(tmp_path, banner)) == major


def test_java_major_version_of_a_java_that_cannot_run_is_none(tmp_path: Path) -> None:
    assert java_major_version(tmp_path / "no-such-java") is None


def test_an_old_java_gives_an_error_naming_it_and_the_ways_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = fake_java(tmp_path / "jdk11", 'openjdk version "11.0.2" 2019-01-15')
    missing = tmp_path / "gone" / "bin" / "java"
    monkeypatch.setattr(distribution, "java_candidates", lambda: [missing, old])
    with pytest.raises(JavaNotFoundError) as caught:
        find_java()
    message = str(caught.value)
    assert f"Found Java 11 at {old}" in message
    assert "Java 17 or newer" in message
    assert f"  - {missing}" in message
    assert f"  - {old}" in message
    assert "JAVA_HOME" in message
    assert "--kafka-backend container" in message


def test_no_java_at_all_gives_an_error_with_the_ways_out(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distribution, "java_candidates", list)
    with pytest.raises(JavaNotFoundError, match="apt-get install openjdk-17"):
        find_java()


def test_find_java_takes_the_first_java_new_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = fake_java(tmp_path / "jdk11", 'openjdk version "11.0.2"')
    new = fake_java(tmp_path / "jdk21", 'openjdk version "21.0.1"')
    newer = fake_java(tmp_path / "jdk22", 'openjdk version "22"')
    monkeypatch.setattr(distribution, "java_candidates", lambda: [old, new, newer])
    assert find_java() == new


def test_java_home_is_the_first_candidate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "myjdk"))
    assert distribution.java_candidates()[0] == tmp_path / "myjdk" / "bin" / "java"


# --- Maven ---------------------------------------------------------------------------------


def test_no_maven_on_path_says_where_it_looked_and_what_to_do(no_maven: str) -> None:
    with pytest.raises(MavenNotFoundError) as caught:
        maven_executable()
    message = str(caught.value)
    assert f"PATH={no_maven}" in message
    assert "apt-get install maven" in message
    assert "--kafka-home" in message


@pytest.mark.parametrize("line", [
    "[ERROR] Failed to execute goal on project x: Could not transfer artifact "
    "org.apache.kafka:kafka_2.13:pom:4.4.0 from/to central: repo.maven.apache.org: "
    "java.net.UnknownHostException",
    "[ERROR] ... Connect to repo.maven.apache.org:443 failed: Network is unreachable",
    "[ERROR] Failed to read artifact descriptor for org.apache.kafka:kafka_2.13:jar:4.4.0",
])
def test_maven_failure_to_reach_the_repository_is_explained(line: str) -> None:
    log = [f"[INFO] line {i}" for i in range(40)] + [line]
    message = explain_maven_failure(["mvn", "-B", "copy-dependencies"], log)
    assert message.startswith("Maven could not reach its repository")
    assert "--kafka-home" in message
    assert "Command: mvn -B copy-dependencies" in message
    assert f"  | {line}" in message
    # The last 25 lines of 41: from line 16 on.
    assert "[INFO] line 15\n" not in message
    assert "  | [INFO] line 16\n" in message


def test_another_maven_failure_shows_its_output(tmp_path: Path) -> None:
    message = explain_maven_failure(["mvn"], ["[ERROR] Unknown lifecycle phase"])
    assert message.startswith("Maven failed")
    assert "  | [ERROR] Unknown lifecycle phase" in message


def test_the_pinned_version_is_the_poms() -> None:
    text = POM.read_text()
    [in_pom] = re.findall(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", text)
    assert pinned_kafka_version() == in_pom == KAFKA_VERSION
    assert KAFKA_VERSION.startswith("4.4.")


def test_the_session_cache_holds_the_pinned_broker_jar(kafka_lab_config: LabConfig) -> None:
    target = kafka_lab_config.cache_dir / f"kafka-{KAFKA_VERSION}"
    if not cache_is_complete(target):
        pytest.skip(f"no complete jar cache at {target}")
    manifest = json.loads((target / "manifest.json").read_text())["jars"]
    assert f"kafka_2.13-{KAFKA_VERSION}.jar" in manifest
    assert resolve_distribution(kafka_lab_config.cache_dir).origin == "cache"


# --- the error in a user's run -------------------------------------------------------------


def test_a_corrupt_cache_stops_the_run_with_what_to_do(
    lab_pytester: pytest.Pytester, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    folder = make_cache(cache / f"kafka-{KAFKA_VERSION}")
    (folder / "manifest.json").write_text('{"jars": ')
    lab_pytester.copy_example("test_needs_broker.py")
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                               "--kafka-cache-dir", str(cache), timeout=120)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        f"kafka-lab: the broker did not start: {folder}/manifest.json is unreadable*",
        f"E * Delete {folder} and run again; the jars will be fetched anew.",
    ])
    assert issubclass(CorruptCacheError, KafkaLabError)
