"""Kafka's command-line tools under their Confluent names, run from the cached jars."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from pytest_kafka_lab.distribution import TOOLS_LOG4J_CONFIG, Distribution

# The course names tools as Confluent's images do (no ``.sh``); Apache's names work too.
TOOL_CLASSES: dict[str, str] = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-share-groups": "org.apache.kafka.tools.consumer.group.ShareGroupCommand",
    "kafka-configs": "org.apache.kafka.tools.ConfigCommand",
    "kafka-acls": "org.apache.kafka.tools.AclCommand",
    "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "kafka-consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
    "kafka-transactions": "org.apache.kafka.tools.TransactionsCommand",
    "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-broker-api-versions": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    "kafka-leader-election": "org.apache.kafka.tools.LeaderElectionCommand",
    "kafka-reassign-partitions": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
    "kafka-log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-features": "org.apache.kafka.tools.FeatureCommand",
    "kafka-dump-log": "org.apache.kafka.tools.DumpLogSegments",
    "kafka-storage": "kafka.tools.StorageTool",
}

# Tools are short-lived clients: a small heap and the C1 compiler start them fastest.
TOOL_JVM_FLAGS = ("-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                  "-Xshare:auto")
# The performance tools measure the Java client: they get the JVM its scripts give it
# (kafka-run-class.sh's G1 settings, kafka-*-perf-test.sh's 512 MB heap), full JIT.
PERF_TOOLS = ("kafka-producer-perf-test", "kafka-consumer-perf-test")
PERF_JVM_FLAGS = ("-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                  "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent")


def tool_class(name: str) -> str:
    """The Java class behind a tool name (``kafka-topics`` or ``kafka-topics.sh``)."""
    bare = os.path.basename(name).removesuffix(".sh")
    if bare not in TOOL_CLASSES:
        raise KeyError(
            f"{name!r} is not a Kafka tool this lab knows; known: {', '.join(sorted(TOOL_CLASSES))}"
        )
    return TOOL_CLASSES[bare]


def tool_command(distribution: Distribution, name: str, *args: str) -> list[str]:
    """The command line that runs tool ``name`` from ``distribution``'s jars."""
    bare = os.path.basename(name).removesuffix(".sh")
    flags = PERF_JVM_FLAGS if bare in PERF_TOOLS else TOOL_JVM_FLAGS
    return distribution.command(tool_class(name), *args, jvm_flags=flags,
                                log_config_file=TOOLS_LOG4J_CONFIG)


@dataclass(frozen=True)
class KafkaTools:
    """Runs the real Kafka tools against a broker."""

    distribution: Distribution
    bootstrap_servers: str

    def command(self, name: str, *args: str) -> list[str]:
        """The command line that runs tool ``name`` with ``args``."""
        return tool_command(self.distribution, name, *args)

    def run(self, name: str, *args: str, timeout: float = 60.0,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a tool to its end and return its exit code and output (never raises on exit)."""
        return subprocess.run(self.command(name, *args), capture_output=True, text=True,
                              timeout=timeout, input=input, check=False)
