"""The plugin's options, seen from a user's pytest run (``pytester``).

Runs that need no broker go in-process (fast); runs that start or use one go through a
subprocess, as a user's would. ``lab_pytester`` keeps this run's Kafka environment
variables (a bootstrap address, say) out of the inner runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from pytest_kafka_lab import KAFKA_VERSION
from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.backends.base import free_port
from pytest_kafka_lab.config import LAB_OPTIONS, OPTIONS
from pytest_kafka_lab.distribution import default_cache_dir

# Every setting the issue names, as flag and ini twin; a missing one fails here even if
# it also went missing from config.OPTIONS.
EXPECTED_SETTINGS = ("backend", "bootstrap", "client-config", "home", "cache-dir",
                     "start-timeout", "port", "heap", "image", "broker-properties")
INNER_TIMEOUT = 180

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def inner_run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A user's pytest run in a subprocess, without the cache provider's leftovers."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args,
                                         timeout=INNER_TIMEOUT)


def assert_clean_exit(result: pytest.RunResult) -> None:
    """The run passed and nothing went wrong after the tests (in the plugin's hooks)."""
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "Traceback" not in result.stderr.str(), (
        f"the run ended with a traceback:\n{result.stderr.str()}")


# --- declaration -----------------------------------------------------------------------


def test_every_option_is_in_help_with_its_ini_twin(lab_pytester: pytest.Pytester) -> None:
    result = lab_pytester.runpytest("-p", "no:cacheprovider", "--help")
    assert result.ret == 0
    text = result.stdout.str()
    names = {name.replace("-", "_") for name in EXPECTED_SETTINGS}
    names |= {option.name for option in OPTIONS}
    for name in sorted(names):
        flag, ini = "--kafka-" + name.replace("_", "-"), "kafka_" + name
        assert re.search(rf"^\s+{flag}(=|\s|$)", text, re.MULTILINE), f"{flag} is not in --help"
        assert re.search(rf"^\s+{ini} \((string|linelist|bool)\)", text, re.MULTILINE), (
            f"the ini value {ini} is not in --help")
    assert "real Apache Kafka for tests (pytest-kafka-lab)" in text


# --- bad values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kafka-backend", "nope"],
         "*--kafka-backend='nope' is not a backend; valid ones: local, container, external*"),
        (["--kafka-backend", "external"],
         "*--kafka-backend=external needs the cluster's address: --kafka-bootstrap HOST:PORT*"),
        (["--kafka-port", "abc"], "*--kafka-port='abc': expected a port 1-65535, or 0*"),
        (["--kafka-port", "70000"], "*--kafka-port='70000': expected a port 1-65535, or 0*"),
        (["--kafka-start-timeout", "-1"],
         "*--kafka-start-timeout='-1': expected a positive number of seconds*"),
        (["--kafka-start-timeout", "soon"],
         "*--kafka-start-timeout='soon': expected a positive number of seconds*"),
        (["--kafka-bootstrap", "nohostport"],
         "*--kafka-bootstrap='nohostport': each address must be HOST:PORT*localhost:9092*"),
        (["--kafka-bootstrap", "localhost:9092,broker2"],
         "*each address must be HOST:PORT*"),
        (["--kafka-home", "/nonexistent"],
         "*--kafka-home='/nonexistent' is not a Kafka distribution: /nonexistent/libs does "
         "not exist*"),
        (["--kafka-client-config", "missing.properties"],
         "*--kafka-client-config='missing.properties': no such file*"),
        (["--kafka-broker-properties", "novalue"],
         "*--kafka-broker-properties: 'novalue' is not KEY=VALUE*"),
        (["--kafka-broker-properties", "=value"], "*'=value' is not KEY=VALUE*"),
        (["--kafka-jit", "c2"], "*--kafka-jit='c2': choose one of quick, full*"),
        (["--kafka-heap", "lots"], "*--kafka-heap='lots': expected a JVM heap size*e.g. "
         "512m, 1g*"),
        (["--kafka-brokers", "many"], "*--kafka-brokers='many': expected 1, or 3 or more*"),
        (["--lab-timeout", "soon"], "*--lab-timeout='soon': expected a positive number of "
         "seconds*"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_a_bad_value_is_a_usage_error_that_says_what_is_valid(
    lab_pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    lab_pytester.makepyfile("def test_nothing(): pass")
    result = lab_pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *{message.lstrip('*')}"])


def test_a_bad_ini_value_is_a_usage_error_too(lab_pytester: pytest.Pytester) -> None:
    lab_pytester.makeini("[pytest]\nkafka_backend = nope\n")
    lab_pytester.makepyfile("def test_nothing(): pass")
    result = lab_pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *'nope' is not a backend; valid ones: local, "
                                 "container, external*"])


def test_the_command_line_overrides_the_ini_file(lab_pytester: pytest.Pytester) -> None:
    lab_pytester.makeini("[pytest]\nkafka_start_timeout = abc\n")
    lab_pytester.makepyfile("def test_nothing(): pass")
    assert lab_pytester.runpytest("-p", "no:cacheprovider").ret == pytest.ExitCode.USAGE_ERROR
    result = lab_pytester.runpytest("-p", "no:cacheprovider", "--kafka-start-timeout", "30")
    result.assert_outcomes(passed=1)


# --- values reach the broker ---------------------------------------------------------------


def test_ini_settings_reach_the_broker_and_the_header_reports_it(
    lab_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("LAB_EXPECTED_PORT", str(port))
    lab_pytester.makeini(f"""
        [pytest]
        kafka_port = {port}
        kafka_broker_properties =
            message.max.bytes=2000123
            log.retention.ms=7654321
    """)
    lab_pytester.copy_example("test_broker_settings.py")
    result = inner_run(lab_pytester, "-s")
    result.assert_outcomes(passed=1)
    assert_clean_exit(result)
    result.stdout.fnmatch_lines([
        f"kafka-lab: Kafka {KAFKA_VERSION} pinned, backend local (*)",
        f"kafka-lab: Kafka {KAFKA_VERSION}, backend local (jars from cache), bootstrap "
        f"127.0.0.1:{port}, ready in *s",
        f"*INNER-BOOTSTRAP 127.0.0.1:{port}",
    ])
    ready = re.search(r"ready in ([\d.]+)s", result.stdout.str())
    assert ready is not None
    assert 0 < float(ready.group(1)) < INNER_TIMEOUT


def test_collect_only_starts_no_broker(lab_pytester: pytest.Pytester) -> None:
    lab_pytester.copy_example("test_needs_broker.py")
    result = inner_run(lab_pytester, "--collect-only")
    assert result.ret == 0
    started = [line for line in result.stdout.lines if "ready in" in line]
    assert started == [], (f"pytest --collect-only runs no test, yet a broker started: "
                           f"{started}")


def test_external_backend_uses_the_cluster_and_the_client_config_file(
    lab_pytester: pytest.Pytester, kafka_broker: KafkaBroker, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    topic_file = tmp_path / "topic.txt"
    monkeypatch.setenv("LAB_OUTER_BOOTSTRAP", kafka_broker.bootstrap_servers)
    monkeypatch.setenv("LAB_TOPIC_FILE", str(topic_file))
    lab_pytester.makefile(".properties",
                          client="# from the course\nclient.id=lab-from-client-config\n")
    lab_pytester.copy_example("test_external_cluster.py")
    result = inner_run(lab_pytester, "--kafka-bootstrap", kafka_broker.bootstrap_servers,
                       "--kafka-client-config", "client.properties")
    result.assert_outcomes(passed=1)
    assert_clean_exit(result)
    result.stdout.fnmatch_lines([
        f"kafka-lab: Kafka {KAFKA_VERSION} pinned, backend external (existing cluster at "
        f"{kafka_broker.bootstrap_servers})",
        f"kafka-lab: *backend external, bootstrap {kafka_broker.bootstrap_servers}, client "
        "config *client.properties, answered in *s",
    ])
    topic = topic_file.read_text()
    outer = AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers})
    assert topic not in outer.list_topics(timeout=10).topics, (
        "the inner run left its topic on the shared cluster")


def test_bootstrap_from_the_environment_selects_the_external_backend(
    lab_pytester: pytest.Pytester, kafka_broker: KafkaBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_LAB_BOOTSTRAP", kafka_broker.bootstrap_servers)
    lab_pytester.copy_example("test_needs_broker.py")
    result = inner_run(lab_pytester)
    result.assert_outcomes(passed=1)
    assert_clean_exit(result)
    result.stdout.fnmatch_lines([
        f"kafka-lab: *backend external, bootstrap {kafka_broker.bootstrap_servers}, *"])


@pytest.mark.parametrize(("address", "reported"), [
    ("127.0.0.1:{free}", "_TRANSPORT: *Connection refused*"),
    ("no-such-host.invalid:9092", "_RESOLVE: *Failed to resolve*"),
], ids=["refused", "unknown host"])
def test_an_external_cluster_that_cannot_answer_is_reported_at_once_with_librdkafkas_reason(
    lab_pytester: pytest.Pytester, address: str, reported: str,
) -> None:
    # The default start timeout (60 s): no retry cures a refusal or an unknown host, and
    # the run says so instead of waiting it out.
    nowhere = address.format(free=free_port())
    lab_pytester.copy_example("test_needs_broker.py")
    result = inner_run(lab_pytester, "--kafka-bootstrap", nowhere)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        f"kafka-lab: the broker did not start: {nowhere} did not answer a metadata request: "
        f"librdkafka reported {reported}No retry cures that, so the wait stopped at once.*",
    ])


def test_a_heap_the_jvm_refuses_is_reported_with_the_jvms_reason_alone(
    lab_pytester: pytest.Pytester,
) -> None:
    # 1k passes the option's form and the JVM refuses it: its reason, not mirakuru's.
    lab_pytester.copy_example("test_needs_broker.py")
    result = inner_run(lab_pytester, "--kafka-heap", "1k")
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    result.stdout.fnmatch_lines([
        "kafka-lab: the broker did not start: the Kafka broker exited while starting "
        "(exit code 1)*", "*Error occurred during initialization of VM*"])
    assert "mirakuru" not in output, f"mirakuru's internals reached the user:\n{output}"


def test_an_ini_value_equal_to_the_default_wins_over_the_environment(
    lab_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    default = default_cache_dir()  # pytester's HOME: the inner run's default
    monkeypatch.setenv("KAFKA_LAB_CACHE_DIR", str(tmp_path / "from-the-environment"))
    lab_pytester.makeini(f"[pytest]\nkafka_cache_dir = {default}\n")
    lab_pytester.makepyfile(f"""
        def test_cache_dir(kafka_lab_config):
            assert str(kafka_lab_config.cache_dir) == {str(default)!r}
    """)
    lab_pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_every_default_is_in_help_as_the_model_declares_it(lab_pytester: pytest.Pytester
                                                          ) -> None:
    text = " ".join(lab_pytester.runpytest("-p", "no:cacheprovider", "--help").stdout.str()
                    .split())
    for option in (*OPTIONS, *LAB_OPTIONS):
        if option.default:
            assert f"{option.flag}=" in text or option.flag in text
            assert f"(default: {option.default})" in text, (
                f"{option.flag}'s help does not show its default {option.default}")


def docker_engine_present() -> bool:
    import os

    return bool(os.environ.get("DOCKER_HOST")) or Path("/var/run/docker.sock").exists()


def test_container_backend_without_docker_says_so(lab_pytester: pytest.Pytester) -> None:
    if docker_engine_present():
        pytest.skip("a Docker engine may run here; this test is about its absence")
    lab_pytester.copy_example("test_needs_broker.py")
    result = inner_run(lab_pytester, "--kafka-backend", "container",
                       "--kafka-image", "apache/kafka:9.9.9")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        f"kafka-lab: Kafka {KAFKA_VERSION} pinned, backend container (container "
        "apache/kafka:9.9.9)",
        "kafka-lab: the broker did not start: --kafka-backend container: no Docker engine "
        "answers*",
        "*Use the default local backend (no Docker needed) or --kafka-bootstrap HOST:PORT*",
    ])
