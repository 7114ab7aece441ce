"""A stand-in for ``docker`` inside graded runs: ``docker exec [-it] kafka kafka-topics ...``
runs the real Kafka tool from the cached jars against the lab broker.

The course's scripts create topics through the container its students run; a grading
machine may have no Docker at all, and the lab broker listens on a port of its own.

It runs the course's tools alone (``COURSE_TOOLS``), and refuses what would change the
broker's settings, which are the grader's (``kafka-acls``, ``kafka-configs --alter``):
at once, with a message and a non-zero exit, before any JVM starts. (The run's proxy
refuses such requests on the wire too, whoever sends them.)
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from .channel import emit
from .instrument import BOOTSTRAP_VARIABLE

CONTAINER = "kafka"
ADDRESS_OPTIONS = ("--bootstrap-server", "--bootstrap-servers", "--broker-list")
FLAGS_WITH_VALUE = ("-e", "--env", "-u", "--user", "-w", "--workdir", "--env-file")
# {tool: the command line that runs it, without its arguments}: made by the grader, as
# a run reads none of the grader's package (where the tools' classes are listed).
TOOLS_VARIABLE = "KAFKA_LAB_TOOLS"
# The tools the course's students use: its topics made, read, written and inspected.
COURSE_TOOLS = ("kafka-topics", "kafka-console-producer", "kafka-console-consumer",
                "kafka-consumer-groups", "kafka-configs", "kafka-get-offsets",
                "kafka-producer-perf-test", "kafka-consumer-perf-test")
ALTERING = ("--alter", "--add-config", "--delete-config")
REFUSED = 1


def refusal(tool: str, args: list[str]) -> str | None:
    """Why the stand-in will not run ``tool`` with ``args`` (None: it will)."""
    if tool == "kafka-acls":
        return "kafka-acls changes who may do what on the broker"
    if tool == "kafka-configs" and any(arg.split("=", 1)[0] in ALTERING for arg in args):
        return "kafka-configs --alter changes the broker's settings"
    return None


def split_exec(argv: list[str]) -> tuple[str, list[str]]:
    """``exec`` options, container, command → (container, command)."""
    rest = list(argv)
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        if flag in FLAGS_WITH_VALUE and rest:
            rest.pop(0)
    if not rest:
        raise SystemExit('"docker exec" requires at least 2 arguments.')
    container, command = rest[0], rest[1:]
    if len(command) == 3 and command[0] in ("sh", "bash", "/bin/sh", "/bin/bash") \
            and command[1] == "-c":
        command = shlex.split(command[2])
    return container, command


def with_lab_address(args: list[str], lab: str) -> list[str]:
    """The tool's arguments with every broker address pointed at the lab broker."""
    result = list(args)
    for index, arg in enumerate(result):
        if arg in ADDRESS_OPTIONS and index + 1 < len(result):
            result[index + 1] = lab
        elif arg.startswith(tuple(f"{option}=" for option in ADDRESS_OPTIONS)):
            result[index] = f"{arg.split('=', 1)[0]}={lab}"
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    emit("docker", argv=argv)
    if argv[:1] == ["ps"]:
        print("CONTAINER ID   IMAGE          NAMES\nkafka-lab      apache/kafka   kafka")
        return 0
    if argv[:1] != ["exec"]:
        print("kafka-lab's docker stand-in runs only `docker exec kafka <kafka tool> ...` "
              f"(asked: docker {' '.join(argv)})", file=sys.stderr)
        return 125
    container, command = split_exec(argv[1:])
    if container != CONTAINER:
        print(f"Error response from daemon: No such container: {container}", file=sys.stderr)
        return 1
    tools: dict[str, list[str]] = json.loads(os.environ.get(TOOLS_VARIABLE) or "{}")
    tool = Path(command[0]).name.removesuffix(".sh") if command else ""
    refused = refusal(tool, command[1:])
    if refused is not None:
        print(f"kafka-lab's docker stand-in refuses this: {refused}; the broker is the "
              "grader's to set up, and the course never asks for it", file=sys.stderr)
        return REFUSED
    if tool not in tools:
        print(f"OCI runtime exec failed: {command[:1]} is not a Kafka tool of the course "
              f"(known: {', '.join(sorted(tools))})", file=sys.stderr)
        return 126
    args = with_lab_address(command[1:], os.environ[BOOTSTRAP_VARIABLE])
    return subprocess.call([*tools[tool], *args])


if __name__ == "__main__":
    sys.exit(main())
