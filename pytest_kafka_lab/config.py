"""Every setting of the plugin and of the grader, declared once and resolved in one place.

Each ``Option`` holds a setting's name, help, default, parser, ini type and environment
twin; pytest's ``--kafka-*``/``--lab-*`` options and ini values, ``LabConfig``'s
defaults, ``kafka-lab up`` and ``kafka-lab grade`` are all made from it. A setting comes
from, in order: a factory argument, the command line, the ini file, an environment
variable where one is named, and the default. A bad value is a ``pytest.UsageError`` that
names where it came from and the accepted forms, raised before anything starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_kafka_lab.distribution import KAFKA_VERSION, default_cache_dir

BACKENDS = ("local", "container", "external")
JIT_MODES = ("quick", "full")
HEAP_FORM = re.compile(r"[1-9][0-9]*[kKmMgG]?")

# A parser: (raw value, or None when unset; where it came from) -> the typed value.
Parse = Callable[[Any, str], Any]


def text(value: Any, _where: str) -> str | None:
    return str(value) if value else None


def choice(*valid: str) -> Parse:
    """A parser that accepts one of ``valid`` (or nothing, left to the caller)."""
    def parse(value: Any, where: str) -> str | None:
        if value and value not in valid:
            raise pytest.UsageError(f"{where}={value!r}: choose one of {', '.join(valid)}")
        return str(value) if value else None
    return parse


def backend_name(value: Any, where: str) -> str | None:
    if value and value not in BACKENDS:
        raise pytest.UsageError(
            f"{where}={value!r} is not a backend; valid ones: {', '.join(BACKENDS)}")
    return str(value) if value else None


def bootstrap_address(value: Any, where: str) -> str | None:
    if not value:
        return None
    for address in str(value).split(","):
        host, _, port = address.strip().rpartition(":")
        if not host or not port.isdigit():
            raise pytest.UsageError(
                f"{where}={value!r}: each address must be HOST:PORT, "
                "e.g. localhost:9092 or broker1:9092,broker2:9092")
    return str(value)


def existing_dir(value: Any, where: str) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    if not (path / "libs").is_dir():
        raise pytest.UsageError(
            f"{where}={value!r} is not a Kafka distribution: {path / 'libs'} does not exist "
            "(unpack kafka_2.13-<version>.tgz and point at its top folder)")
    return path


def cache_folder(value: Any, _where: str) -> Path:
    return Path(value).expanduser() if value else default_cache_dir()


def positive_number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if number <= 0:
        raise pytest.UsageError(f"{where}={value!r}: expected a positive number of seconds, "
                                "e.g. 60 or 2.5")
    return number


def port_number(value: Any, where: str) -> int:
    if not str(value).isdigit() or not 0 <= int(value) <= 65535:
        raise pytest.UsageError(f"{where}={value!r}: expected a port 1-65535, or 0 for a free one")
    return int(value)


def heap_size(value: Any, where: str) -> str:
    if not HEAP_FORM.fullmatch(str(value)):
        raise pytest.UsageError(
            f"{where}={value!r}: expected a JVM heap size, a whole number with an optional "
            "unit k, m or g (as java -Xmx takes it), e.g. 512m, 1g or 786432k")
    return str(value)


def broker_count(value: Any, where: str) -> int:
    if not str(value).isdigit() or int(value) < 1:
        raise pytest.UsageError(f"{where}={value!r}: expected 1, or 3 or more")
    return int(value)


def key_values(lines: Any, where: str = "--kafka-broker-properties"
               ) -> tuple[tuple[str, str], ...]:
    if isinstance(lines, str):
        lines = lines.splitlines()
    pairs = []
    for line in (str(item).strip() for item in lines or ()):
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise pytest.UsageError(
                f"{where}: {line!r} is not KEY=VALUE (e.g. log.segment.bytes=1048576)")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def flag_on(value: Any, _where: str) -> bool:
    return str(value or "").lower() in ("true", "1", "yes")


@dataclass(frozen=True)
class Option:
    """One setting. ``backend`` of prefix ``kafka`` gives ``--kafka-backend`` and the ini
    value ``kafka_backend``; ``parse`` turns a raw value (None when unset) into its type."""

    name: str
    help: str
    default: str | None = None
    env: str | None = None
    kind: Literal["string", "bool", "linelist"] = "string"  # as pytest's ini types
    parse: Parse = text
    prefix: str = "kafka"
    shown_default: str | None = None  # in help, where the default is not a plain value

    @property
    def flag(self) -> str:
        return f"--{self.prefix}-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return f"{self.prefix}_{self.name}"

    @property
    def full_help(self) -> str:
        """The help, with the default (written once, here) at its end."""
        shown = self.shown_default or self.default
        return f"{self.help} (default: {shown})" if shown else self.help

    def value(self, raw: Any = None, where: str | None = None) -> Any:
        """``raw`` parsed, or the default parsed when ``raw`` is unset."""
        if raw in (None, "", [], ()):
            raw = self.default
        return self.parse(raw, where or self.flag)

    @property
    def typed_default(self) -> Any:
        return self.value(None)

    def argparse_type(self, where: str) -> Callable[[str], Any]:
        """This option's parser for argparse (``kafka-lab``), whose errors name the flag."""
        def parse(raw: str) -> Any:
            try:
                return self.parse(raw, where)
            except pytest.UsageError as error:
                raise argparse.ArgumentTypeError(str(error)) from None
        return parse


def add_argument(parser: argparse.ArgumentParser | Any, option: Option,
                 flag: str | None = None) -> None:
    """Declare ``option`` on a ``kafka-lab`` command as ``flag`` (default: its pytest flag),
    with the model's parser, help and default."""
    flag = flag or option.flag
    parser.add_argument(flag, type=option.argparse_type(flag), default=option.typed_default,
                        help=option.full_help.replace("%", "%%"))


OPTIONS: tuple[Option, ...] = (
    Option("backend", f"where the broker comes from: {', '.join(BACKENDS)}",
           parse=backend_name, shown_default="local, or external when a bootstrap address "
           "is given"),
    Option("bootstrap", "HOST:PORT of an existing cluster to use instead of starting one",
           env="KAFKA_LAB_BOOTSTRAP", parse=bootstrap_address),
    Option("client_config", "librdkafka properties file (SASL, SSL, ...) for every client "
           "the plugin makes against an existing cluster"),
    Option("home", "an unpacked Apache Kafka distribution to run instead of the cached jars",
           env="KAFKA_HOME", parse=existing_dir),
    Option("cache_dir", "where the downloaded Kafka jars are kept", env="KAFKA_LAB_CACHE_DIR",
           parse=cache_folder, shown_default=str(default_cache_dir())),
    Option("start_timeout", "seconds to wait for the broker to answer", "60",
           parse=positive_number),
    Option("port", "port of the local broker's client listener (0: a free one)", "0",
           parse=port_number),
    Option("heap", "maximum heap of the local broker's JVM (java -Xmx: 512m, 1g, ...)", "512m",
           parse=heap_size),
    Option("jit", "the local broker's JIT compiler: quick (C1 alone: a test broker starts "
           "and runs on the least CPU) or full (C2 as well: top throughput, for long "
           "benchmarks)", "quick", parse=choice(*JIT_MODES)),
    Option("image", "container image for the container backend", f"apache/kafka:{KAFKA_VERSION}"),
    Option("broker_properties", "extra broker settings as KEY=VALUE, one per line "
           "(repeat the option on the command line)", kind="linelist", parse=key_values),
    Option("brokers", "number of local KRaft nodes: 1, or a cluster of 3 or more "
           "(replication 3, min.insync.replicas=2)", "1", parse=broker_count),
    Option("reuse", "keep the local broker running after the run and reuse it in the next "
           "one (stop it with `kafka-lab down --port PORT`)", kind="bool", parse=flag_on),
)
# Not a broker setting (``kafka-lab grade`` offers OPTIONS only): which Hypothesis profile
# broker-backed properties run under. Its environment variable is read by
# ``hypothesis_profiles`` itself, which names it in its errors.
HYPOTHESIS_PROFILE = Option(
    "hypothesis_profile", "Hypothesis profile for broker-backed properties: ci, dev or "
    "thorough", shown_default="$KAFKA_LAB_HYPOTHESIS_PROFILE; Hypothesis' own otherwise")
# The grader's settings (``--lab-*``), declared by ``grading/plugin.py``; ``kafka-lab
# grade`` takes ``LAB_TIMEOUT`` as its ``--timeout``.
LAB_TIMEOUT = Option("timeout", "seconds one run of a submission may take", "60",
                     parse=positive_number, prefix="lab")
LAB_OPTIONS: tuple[Option, ...] = (
    Option("submission", "the submission folder to grade", prefix="lab",
           shown_default="the reference solutions"),
    Option("report", "write the grade as JSON to this file", prefix="lab"),
    LAB_TIMEOUT,
    Option("points", "TOML file of points per check ([ex5] then check_name = 2)",
           prefix="lab", shown_default="1 each"),
    Option("gradescope", "write Gradescope's autograder results.json to this file",
           prefix="lab"),
    Option("classroom", "write GitHub Classroom's grader result to this file (JSON) and its "
           "base64 step output to FILE.b64", prefix="lab"),
    Option("feedback", "write Markdown feedback for the student to this file", prefix="lab"),
    Option("feedback_base_url", "where pytest-kafka-lab's README.md is published, for the "
           "feedback's links", prefix="lab", shown_default="README.md, relative"),
)
BY_NAME = {option.name: option for option in OPTIONS}


def default_of(name: str) -> Any:
    """The typed default of the ``--kafka-*`` setting ``name``, as ``OPTIONS`` declares it."""
    return BY_NAME[name].typed_default


@dataclass(frozen=True)
class LabConfig:
    """The settings in effect, resolved from every source; its defaults are ``OPTIONS``'."""

    backend: str = "local"
    bootstrap: str | None = None
    client_config: Path | None = None
    home: Path | None = None
    cache_dir: Path = dataclasses.field(default_factory=default_cache_dir)
    start_timeout: float = default_of("start_timeout")
    port: int = default_of("port")
    heap: str = default_of("heap")
    jit: str = default_of("jit")
    image: str = default_of("image")
    broker_properties: tuple[tuple[str, str], ...] = ()
    reuse: bool = False
    brokers: int = default_of("brokers")

    def replace(self, **changes: Any) -> LabConfig:
        """A copy with ``changes`` applied, as a factory argument overrides a setting; each
        change is parsed as its option is (a bad one raises ``pytest.UsageError``)."""
        checked = {name: BY_NAME[name].parse(value, name)
                   if name in BY_NAME and isinstance(value, str) else value
                   for name, value in changes.items()}
        return dataclasses.replace(self, **checked)

    def describe(self) -> str:
        """One line for pytest's header: the pinned version and where the broker comes from."""
        where = {
            "local": f"{self.brokers} local KRaft node{'s' if self.brokers > 1 else ''}, "
                     f"jars cached in {self.home or self.cache_dir}",
            "container": f"container {self.image}",
            "external": f"existing cluster at {self.bootstrap}",
        }[self.backend]
        return f"Kafka {KAFKA_VERSION} pinned, backend {self.backend} ({where})"


def add_options(parser: pytest.Parser, options: Iterable[Option] = (*OPTIONS, HYPOTHESIS_PROFILE),
                group: tuple[str, str] = ("kafka-lab",
                                          "real Apache Kafka for tests (pytest-kafka-lab)"),
                ) -> None:
    """Declare each of ``options`` as a command-line option and an ini value. An option
    with an environment twin gets no ini default, so that an ini value equal to the
    default still counts as set and wins over the environment; the others get the
    model's default (``getini`` then reads it, and nothing comes between)."""
    section = parser.getgroup(*group)
    for option in options:
        action = {"linelist": "append", "bool": "store_true"}.get(option.kind, "store")
        section.addoption(option.flag, action=action, dest=option.ini, help=option.full_help)
        parser.addini(option.ini, option.full_help, type=option.kind,
                      default=None if option.env else option.default)


def load_hypothesis_profile(config: pytest.Config) -> None:
    """Load the Hypothesis profile the run names (option, ini or environment); leave
    Hypothesis as it is when none is named."""
    profile = raw_value(config, HYPOTHESIS_PROFILE)[0] or None
    if profile or os.environ.get("KAFKA_LAB_HYPOTHESIS_PROFILE"):
        from pytest_kafka_lab.hypothesis_profiles import load_profile  # only when asked

        try:
            load_profile(profile)
        except ValueError as error:
            raise pytest.UsageError(f"{HYPOTHESIS_PROFILE.flag}: {error}") from error


def is_set(value: Any) -> bool:
    return value not in (None, "", [], False)


def raw_value(config: pytest.Config, option: Option) -> tuple[Any, str]:
    """``option``'s raw value and where it came from: the command line, then the ini file
    (any value written there, the default's too), then the environment; ``(None, flag)``
    when none sets it."""
    from_cli = config.getoption(option.ini)
    if is_set(from_cli):
        return from_cli, option.flag
    from_ini = config.getini(option.ini)
    if is_set(from_ini):  # with an environment twin: written in the file (no ini default)
        return from_ini, f"{option.ini} (ini)"
    if option.env and os.environ.get(option.env):
        return os.environ[option.env], f"${option.env}"
    return None, option.flag


def get_config(config: pytest.Config) -> LabConfig:
    """Resolve every setting for this run; a bad value raises ``pytest.UsageError``."""
    found = {option.name: raw_value(config, option) for option in OPTIONS}
    return build_config({name: raw for name, (raw, _) in found.items()}, rootdir=config.rootpath,
                        sources={name: where for name, (_, where) in found.items()})


def build_config(values: dict[str, Any], rootdir: Path | None = None,
                 sources: dict[str, str] | None = None) -> LabConfig:
    """Turn raw option values (unset: None) into a checked ``LabConfig``; ``sources`` names
    where each came from, for errors (default: the ``--kafka-*`` flag)."""
    sources = sources or {}
    parsed = {option.name: option.value(values.get(option.name), sources.get(option.name))
              for option in OPTIONS}
    backend = parsed["backend"] or ("external" if parsed["bootstrap"] else "local")
    if backend == "external" and not parsed["bootstrap"]:
        raise pytest.UsageError(
            "--kafka-backend=external needs the cluster's address: --kafka-bootstrap HOST:PORT")
    client_config = existing_file(parsed["client_config"],
                                  sources.get("client_config", "--kafka-client-config"), rootdir)
    return LabConfig(**{**parsed, "backend": backend, "client_config": client_config})


def existing_file(value: str | None, flag: str, rootdir: Path | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute() and rootdir is not None and not path.exists():
        path = rootdir / path
    if not path.is_file():
        raise pytest.UsageError(f"{flag}={value!r}: no such file")
    return path


def read_properties(path: Path) -> dict[str, str]:
    """A librdkafka/Java properties file as a dict (``#`` comments, ``key=value``)."""
    properties = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            properties[key.strip()] = value.strip()
    return properties
