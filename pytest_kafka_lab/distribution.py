"""Kafka's jars and a Java to run them: fetched once with Maven, cached per user.

The cache holds one folder per Kafka version, made in a staging folder and renamed into
place only when Maven finished, with a manifest of every jar and its size; a folder
without a matching manifest is never used. A file lock serialises parallel runs and
xdist workers, so one of them downloads and the others wait and reuse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from pytest_kafka_lab.exceptions import (
    CorruptCacheError,
    DistributionFetchError,
    JavaNotFoundError,
    MavenNotFoundError,
)

MAVEN_DIR = Path(str(files("pytest_kafka_lab") / "maven"))
POM = MAVEN_DIR / "pom.xml"
LOG4J_CONFIG = MAVEN_DIR / "log4j2.properties"
TOOLS_LOG4J_CONFIG = MAVEN_DIR / "tools-log4j2.properties"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MIN_JAVA = 17

Report = Callable[[str], None]


def pinned_kafka_version() -> str:
    """Kafka's version, read from the POM the package ships: the one place it is pinned."""
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find("m:properties/m:kafka.version", namespace)
    if node is None or not node.text:
        raise DistributionFetchError(f"{POM} has no <kafka.version> property")
    return node.text.strip()


KAFKA_VERSION = pinned_kafka_version()


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pytest-kafka-lab"


@dataclass(frozen=True)
class Distribution:
    """What it takes to run a Kafka class: a Java and a class path."""

    java: Path
    classpath: str
    version: str
    origin: str  # "cache" when the jars were already there, "download", or "home"

    def command(
        self, main_class: str, *args: str, jvm_flags: tuple[str, ...] = (),
        log_config_file: Path = LOG4J_CONFIG,
    ) -> list[str]:
        """The command line that runs ``main_class`` from these jars."""
        log_config = f"-Dlog4j2.configurationFile={log_config_file}"
        return [str(self.java), *jvm_flags, log_config, "-cp", self.classpath, main_class, *args]


def resolve_distribution(
    cache_dir: Path, home: Path | None = None, report: Report | None = None
) -> Distribution:
    """A Java and Kafka's jars: from ``home`` if given, else from the cache (fetched once)."""
    java = find_java()
    if home is not None:
        version = version_of_home(home) or "unknown"
        return Distribution(java, str(home / "libs" / "*"), version, "home")
    libs, origin = cached_jars(cache_dir, KAFKA_VERSION, report or (lambda _line: None))
    return Distribution(java, str(libs / "*"), KAFKA_VERSION, origin)


def version_of_home(home: Path) -> str | None:
    for jar in (home / "libs").glob("kafka_2.*-*.jar"):
        match = re.fullmatch(r"kafka_2\.\d+-([\d.]+)\.jar", jar.name)
        if match:
            return match.group(1)
    return None


# --- Java -------------------------------------------------------------------------------


def java_candidates() -> list[Path]:
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path))
    candidates.extend(sorted(Path("/usr/lib/jvm").glob("*/bin/java")))
    return list(dict.fromkeys(candidates))


@cache
def java_major_version(java: Path) -> int | None:
    try:
        result = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_java() -> Path:
    """The first Java 17+ among JAVA_HOME, PATH and /usr/lib/jvm; else a clear error."""
    too_old = None
    for java in java_candidates():
        version = java_major_version(java) if java.exists() else None
        if version is not None and version >= MIN_JAVA:
            return java
        if version is not None:
            too_old = f"Java {version} at {java}"
    raise JavaNotFoundError([str(path) for path in java_candidates()] or ["PATH"], too_old)


# --- the jar cache -------------------------------------------------------------------------


def cached_jars(cache_dir: Path, version: str, report: Report) -> tuple[Path, str]:
    """The folder of ``version``'s jars, fetched under a lock unless a complete one exists."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"kafka-{version}"
    if cache_is_complete(target):
        return target / "libs", "cache"
    from filelock import FileLock  # imported here: a run that starts nothing needs none

    with FileLock(str(cache_dir / f"kafka-{version}.lock")):
        # Another process may have finished the download while this one waited.
        if cache_is_complete(target):
            return target / "libs", "cache"
        if target.exists():
            report(f"Kafka {version} jar cache at {target} is incomplete; fetching it again")
            shutil.rmtree(target)
        fetch_into(target, report)
    return target / "libs", "download"


def cache_is_complete(target: Path) -> bool:
    """True when every jar the manifest names is there with its recorded size."""
    manifest = target / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        jars = json.loads(manifest.read_text())["jars"]
        if not isinstance(jars, dict):
            raise TypeError(f"'jars' is a {type(jars).__name__}, not a mapping")
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptCacheError(
            f"{manifest} is unreadable ({error}). Delete {target} and run again; "
            "the jars will be fetched anew."
        ) from error
    return all(
        (target / "libs" / name).is_file() and (target / "libs" / name).stat().st_size == size
        for name, size in jars.items()
    )


def fetch_into(target: Path, report: Report) -> None:
    """Run Maven into a staging folder, write the manifest, then rename it into place."""
    staging = target.with_name(f"{target.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        run_maven(staging / "libs", report)
        jars = {jar.name: jar.stat().st_size for jar in sorted((staging / "libs").glob("*.jar"))}
        if not any(name.startswith("kafka_2.") for name in jars):
            raise DistributionFetchError(
                f"Maven finished but {staging / 'libs'} holds no broker jar")
        (staging / "manifest.json").write_text(json.dumps({"jars": jars}, indent=1))
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def maven_executable() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenNotFoundError([f"PATH={os.environ.get('PATH', '')}"])
    return mvn


def run_maven(output: Path, report: Report) -> None:
    """Copy the POM's runtime dependencies into ``output``, reporting each download."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # Maven may write beside the POM; the installed package's folder can be read-only.
    pom = shutil.copy(POM, output.parent / "pom.xml")
    command = [
        maven_executable(), "-B", "-f", str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={output}", "-DincludeScope=runtime",
    ]
    downloaded = 0
    log: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=output.parent,
    ) as maven:
        assert maven.stdout is not None
        for line in maven.stdout:
            log.append(line.rstrip())
            if line.startswith("Downloaded from"):
                downloaded += 1
                artifact = line.rsplit("/", 1)[-1].split(" ")[0]
                report(f"Fetching Kafka {KAFKA_VERSION} with Maven: "
                       f"{downloaded} files ({artifact})")
    if maven.returncode != 0:
        raise DistributionFetchError(explain_maven_failure(command, log))


def explain_maven_failure(command: list[str], log: list[str]) -> str:
    text = "\n".join(log)
    tail = "\n".join(f"  | {line}" for line in log[-25:])
    if re.search(r"UnknownHost|Could not transfer|Connection (refused|timed out)|"
                 r"Network is unreachable|Failed to read artifact descriptor", text):
        hint = ("Maven could not reach its repository (Maven Central or a mirror in "
                "~/.m2/settings.xml). Check the network or proxy settings, or use "
                "--kafka-home DIR with an unpacked Kafka distribution.")
    else:
        hint = "Maven failed; its output ends with the lines below."
    return f"{hint}\nCommand: {' '.join(command)}\n{tail}"
