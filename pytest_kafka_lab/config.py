"""Every setting of the plugin, declared once and resolved in one place.

A setting comes from, in order: a factory argument, the command line (``--kafka-*``),
the ini file (``kafka_*``), an environment variable where one is named, and the default.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_kafka_lab.distribution import KAFKA_VERSION, default_cache_dir

BACKENDS = ("local", "container", "external")
JIT_MODES = ("quick", "full")


@dataclass(frozen=True)
class Option:
    """One setting: its name (``backend`` gives ``--kafka-backend`` and ``kafka_backend``)."""

    name: str
    help: str
    default: str | None = None
    env: str | None = None
    kind: Literal["string", "bool", "linelist"] = "string"  # as pytest's ini types

    @property
    def flag(self) -> str:
        return "--kafka-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "kafka_" + self.name


OPTIONS: tuple[Option, ...] = (
    Option("backend", f"where the broker comes from: {', '.join(BACKENDS)} "
           "(default: local, or external when a bootstrap address is given)"),
    Option("bootstrap", "HOST:PORT of an existing cluster to use instead of starting one",
           env="KAFKA_LAB_BOOTSTRAP"),
    Option("client_config", "librdkafka properties file (SASL, SSL, ...) for every client "
           "the plugin makes against an existing cluster"),
    Option("home", "an unpacked Apache Kafka distribution to run instead of the cached jars",
           env="KAFKA_HOME"),
    Option("cache_dir", "where the downloaded Kafka jars are kept "
           f"(default: {default_cache_dir()})", env="KAFKA_LAB_CACHE_DIR"),
    Option("start_timeout", "seconds to wait for the broker to answer (default: 60)", "60"),
    Option("port", "port of the local broker's client listener (default: a free one)", "0"),
    Option("heap", "maximum heap of the local broker's JVM (default: 512m)", "512m"),
    Option("jit", "the local broker's JIT compiler: quick (C1 alone: a test broker starts "
           "and runs on the least CPU) or full (C2 as well: top throughput, for long "
           "benchmarks) (default: quick; the benchmark suite: full)"),
    Option("image", f"container image for the container backend (default: apache/kafka:"
           f"{KAFKA_VERSION})", f"apache/kafka:{KAFKA_VERSION}"),
    Option("broker_properties", "extra broker settings as KEY=VALUE, one per line "
           "(repeat the option on the command line)", kind="linelist"),
    Option("brokers", "number of local KRaft nodes: 1, or a cluster of 3 or more "
           "(replication 3, min.insync.replicas=2) (default: 1)", "1"),
    Option("reuse", "keep the local broker running after the run and reuse it in the next "
           "one (stop it with `kafka-lab down --port PORT`)", kind="bool"),
)
# Not a broker setting (``kafka-lab grade`` offers OPTIONS only): which Hypothesis profile
# broker-backed properties run under. Its environment variable is read by
# ``hypothesis_profiles`` itself, which names it in its errors.
HYPOTHESIS_PROFILE = Option(
    "hypothesis_profile", "Hypothesis profile for broker-backed properties: ci, dev or "
    "thorough (default: $KAFKA_LAB_HYPOTHESIS_PROFILE; Hypothesis' own otherwise)")


@dataclass(frozen=True)
class LabConfig:
    """The settings in effect, resolved from every source."""

    backend: str = "local"
    bootstrap: str | None = None
    client_config: Path | None = None
    home: Path | None = None
    cache_dir: Path = dataclasses.field(default_factory=default_cache_dir)
    start_timeout: float = 60.0
    port: int = 0
    heap: str = "512m"
    jit: str = "quick"
    image: str = f"apache/kafka:{KAFKA_VERSION}"
    broker_properties: tuple[tuple[str, str], ...] = ()
    reuse: bool = False
    brokers: int = 1

    def replace(self, **changes: Any) -> LabConfig:
        """A copy with ``changes`` applied, as a factory argument overrides a setting."""
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """One line for pytest's header: the pinned version and where the broker comes from."""
        where = {
            "local": f"{self.brokers} local KRaft node{'s' if self.brokers > 1 else ''}, "
                     f"jars cached in {self.home or self.cache_dir}",
            "container": f"container {self.image}",
            "external": f"existing cluster at {self.bootstrap}",
        }[self.backend]
        return f"Kafka {KAFKA_VERSION} pinned, backend {self.backend} ({where})"


def add_options(parser: pytest.Parser) -> None:
    """Declare every setting as a ``--kafka-*`` option and a ``kafka_*`` ini value."""
    group = parser.getgroup("kafka-lab", "real Apache Kafka for tests (pytest-kafka-lab)")
    for option in (*OPTIONS, HYPOTHESIS_PROFILE):
        if option.kind == "linelist":
            group.addoption(option.flag, action="append", dest=option.ini, help=option.help)
        elif option.kind == "bool":
            group.addoption(option.flag, action="store_true", dest=option.ini, help=option.help)
        else:
            group.addoption(option.flag, action="store", dest=option.ini, help=option.help)
        parser.addini(option.ini, option.help, type=option.kind, default=option.default)


def load_hypothesis_profile(config: pytest.Config) -> None:
    """Load the Hypothesis profile the run names (option, ini or environment); leave
    Hypothesis as it is when none is named."""
    profile = raw_value(config, HYPOTHESIS_PROFILE) or None
    if profile or os.environ.get("KAFKA_LAB_HYPOTHESIS_PROFILE"):
        from pytest_kafka_lab.hypothesis_profiles import load_profile  # only when asked

        try:
            load_profile(profile)
        except ValueError as error:
            raise pytest.UsageError(f"{HYPOTHESIS_PROFILE.flag}: {error}") from error


def raw_value(config: pytest.Config, option: Option) -> Any:
    """The value of ``option`` from the command line, then ini, then environment."""
    from_cli = config.getoption(option.ini)
    if from_cli:
        return from_cli
    from_ini = config.getini(option.ini)
    if from_ini and from_ini != option.default:
        return from_ini
    if option.env and os.environ.get(option.env):
        return os.environ[option.env]
    return from_ini


def get_config(config: pytest.Config) -> LabConfig:
    """Resolve every setting for this run; a bad value raises ``pytest.UsageError``."""
    values = {option.name: raw_value(config, option) for option in OPTIONS}
    return build_config(values, rootdir=config.rootpath)


def build_config(values: dict[str, Any], rootdir: Path | None = None) -> LabConfig:
    """Turn raw option values into a checked ``LabConfig``."""
    bootstrap = values.get("bootstrap") or None
    backend = values.get("backend") or ("external" if bootstrap else "local")
    if backend not in BACKENDS:
        raise pytest.UsageError(
            f"--kafka-backend={backend!r} is not a backend; valid ones: {', '.join(BACKENDS)}"
        )
    if backend == "external" and not bootstrap:
        raise pytest.UsageError(
            "--kafka-backend=external needs the cluster's address: --kafka-bootstrap HOST:PORT"
        )
    if bootstrap:
        check_bootstrap(bootstrap)
    return LabConfig(
        backend=backend,
        bootstrap=bootstrap,
        client_config=existing_file(values.get("client_config"), "--kafka-client-config", rootdir),
        home=existing_dir(values.get("home"), "--kafka-home"),
        cache_dir=Path(values["cache_dir"]).expanduser() if values.get("cache_dir")
        else default_cache_dir(),
        start_timeout=positive_number(values.get("start_timeout") or "60", "--kafka-start-timeout"),
        port=port_number(values.get("port") or "0"),
        heap=values.get("heap") or "512m",
        jit=jit_mode(values.get("jit") or "quick"),
        image=values.get("image") or f"apache/kafka:{KAFKA_VERSION}",
        broker_properties=key_values(values.get("broker_properties") or []),
        reuse=str(values.get("reuse") or "").lower() in ("true", "1", "yes"),
        brokers=broker_count(values.get("brokers") or "1"),
    )


def jit_mode(value: str) -> str:
    if value not in JIT_MODES:
        raise pytest.UsageError(f"--kafka-jit={value!r}: choose one of {', '.join(JIT_MODES)}")
    return value


def check_bootstrap(bootstrap: str) -> None:
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        if not host or not port.isdigit():
            raise pytest.UsageError(
                f"--kafka-bootstrap={bootstrap!r}: each address must be HOST:PORT, "
                "e.g. localhost:9092 or broker1:9092,broker2:9092"
            )


def existing_file(value: str | None, flag: str, rootdir: Path | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute() and rootdir is not None and not path.exists():
        path = rootdir / path
    if not path.is_file():
        raise pytest.UsageError(f"{flag}={value!r}: no such file")
    return path


def existing_dir(value: str | None, flag: str) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    if not (path / "libs").is_dir():
        raise pytest.UsageError(
            f"{flag}={value!r} is not a Kafka distribution: {path / 'libs'} does not exist "
            "(unpack kafka_2.13-<version>.tgz and point at its top folder)"
        )
    return path


def positive_number(value: str, flag: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number <= 0:
        raise pytest.UsageError(f"{flag}={value!r}: expected a positive number of seconds")
    return number


def port_number(value: str) -> int:
    if not str(value).isdigit() or not 0 <= int(value) <= 65535:
        raise pytest.UsageError(
            f"--kafka-port={value!r}: expected a port 1-65535, or 0 for a free one"
        )
    return int(value)


def broker_count(value: str) -> int:
    if not str(value).isdigit() or int(value) < 1:
        raise pytest.UsageError(f"--kafka-brokers={value!r}: expected 1, or 3 or more")
    return int(value)


def key_values(lines: list[str] | str) -> tuple[tuple[str, str], ...]:
    if isinstance(lines, str):
        lines = lines.splitlines()
    pairs = []
    for line in (item.strip() for item in lines):
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise pytest.UsageError(
                f"--kafka-broker-properties: {line!r} is not KEY=VALUE "
                "(e.g. log.segment.bytes=1048576)"
            )
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def read_properties(path: Path) -> dict[str, str]:
    """A librdkafka/Java properties file as a dict (``#`` comments, ``key=value``)."""
    properties = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            properties[key.strip()] = value.strip()
    return properties
