"""``factories.kafka_proc``: a broker with settings of its own in one line of a conftest
(issue 20, item 2), seen from a user's pytest run (``pytester``, in a subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_kafka_lab.backends.cluster import LocalCluster
from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.exceptions import BrokerStartError

ROOT = Path(__file__).parent.parent
INNER_TIMEOUT = 180

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

# The inner test: the JVM behind a broker fixture, found among this run's children by the
# port it listens on, and every broker JVM this run started.
JVM_OF = '''
import psutil

def kafka_jvms():
    return [p for p in psutil.Process().children(recursive=True)
            if "kafka.Kafka" in p.cmdline()]

def jvm_of(broker):
    port = int(broker.bootstrap_servers.rpartition(":")[2])
    [jvm] = [p for p in kafka_jvms() if port in
             {c.laddr.port for c in p.net_connections("tcp") if c.status == "LISTEN"}]
    return jvm
'''


def test_the_benchmark_broker_is_the_runs_only_broker_and_runs_c2(
    lab_pytester: pytest.Pytester,
) -> None:
    lab_pytester.makeconftest((ROOT / "benchmarks" / "conftest.py").read_text())
    lab_pytester.makepyfile(JVM_OF + '''
def test_full_jit(kafka_broker, kafka_lab_config, kafka_admin):
    cmdline = jvm_of(kafka_broker).cmdline()
    assert "-XX:TieredStopAtLevel=1" not in cmdline, cmdline
    assert kafka_lab_config.jit == "full"
    assert len(kafka_jvms()) == 1, "a second (C1) broker was started beside it"
    assert kafka_admin.list_topics(timeout=10).brokers
''')
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=INNER_TIMEOUT)
    result.assert_outcomes(passed=1)
    assert result.stdout.str().count("ready in") == 1, result.stdout.str()


def test_a_factory_broker_with_other_settings_is_a_second_broker_for_its_scope(
    lab_pytester: pytest.Pytester,
) -> None:
    lab_pytester.makeconftest('''
from pytest_kafka_lab import factories

roomy = factories.kafka_proc("module", heap="300m",
                             broker_properties={"message.max.bytes": "2000123"})
''')
    lab_pytester.makepyfile(JVM_OF + '''
from confluent_kafka.admin import AdminClient, ConfigResource

def test_two_brokers(kafka_broker, roomy):
    assert roomy.bootstrap_servers != kafka_broker.bootstrap_servers
    assert "-Xmx300m" in jvm_of(roomy).cmdline()
    assert "-Xmx512m" in jvm_of(kafka_broker).cmdline()
    admin = AdminClient(roomy.client_config())  # alive until the answer comes
    [future] = admin.describe_configs([ConfigResource("broker", "1")]).values()
    assert future.result(10)["message.max.bytes"].value == "2000123"

def test_its_docstring_says_what_it_is(request):
    doc = request._fixturemanager.getfixturedefs("roomy", request.node)[-1].func.__doc__
    assert "heap='300m'" in doc and "message.max.bytes=2000123" in doc
''')
    result = lab_pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=INNER_TIMEOUT)
    result.assert_outcomes(passed=2)


def test_a_bad_factory_value_is_refused_naming_the_accepted_forms(
    lab_pytester: pytest.Pytester,
) -> None:
    lab_pytester.makeconftest('''
from pytest_kafka_lab import factories

kafka_broker = factories.kafka_proc(heap="lots")
''')
    lab_pytester.makepyfile("def test_it(kafka_broker): pass")
    result = lab_pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, "a broker was started with a bad heap"
    result.stderr.fnmatch_lines(["ERROR: heap='lots': expected a JVM heap size*512m*"])


def test_a_cluster_that_fails_to_start_names_the_node_and_what_the_probe_saw(
    kafka_lab_config: LabConfig,
) -> None:
    if kafka_lab_config.backend != "local":
        pytest.skip(f"the session broker comes from the {kafka_lab_config.backend} backend")
    # A heap below the JVM's initial one: every node exits at once, with the JVM's reason.
    cluster = LocalCluster(kafka_lab_config.replace(heap="1k", port=0), 3)
    with pytest.raises(BrokerStartError) as failed:
        cluster.start()
    message = str(failed.value)
    assert "the local cluster of 3 nodes did not start: node " in message
    assert "exited while starting (exit code 1)" in message
    assert "meanwhile the readiness probe saw:" in message
    assert "Error occurred during initialization of VM" in message
    assert isinstance(failed.value.__cause__, BrokerStartError), "the cause was dropped"
