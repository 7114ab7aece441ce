"""``kafka-lab``: the embedded broker and Kafka's tools for hands-on work.

    kafka-lab up [--port 9092] [--detach]   start a broker (Ctrl-C stops it)
    kafka-lab status | down                 look at or stop a detached broker
    kafka-lab fetch                         download and cache Kafka's jars now
    kafka-lab tools                         list the Kafka tools it runs
    kafka-lab grade [-j N] [--shard K/N] DIR...   grade a class into gradebook.csv/.json
    kafka-lab grade --merge book-*.json     join shards' gradebooks into one
    kafka-lab kafka-topics --list --bootstrap-server localhost:9092
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pytest_kafka_lab import detached
from pytest_kafka_lab.backends.local import LocalBroker
from pytest_kafka_lab.config import JIT_MODES, LabConfig, build_config
from pytest_kafka_lab.distribution import KAFKA_VERSION, resolve_distribution
from pytest_kafka_lab.exceptions import KafkaLabError
from pytest_kafka_lab.grading.class_runner.grade_command import add_grade_parser
from pytest_kafka_lab.progress import status
from pytest_kafka_lab.tools import TOOL_CLASSES, tool_command


def lab_config(args: argparse.Namespace) -> LabConfig:
    return build_config({
        "cache_dir": os.environ.get("KAFKA_LAB_CACHE_DIR"),
        "home": os.environ.get("KAFKA_HOME"),
        "port": str(getattr(args, "port", 0)),
        "heap": getattr(args, "heap", None),
        "jit": getattr(args, "jit", None),
    })


def progress(first: str) -> Any:
    return status(None, first)


def cmd_up(args: argparse.Namespace) -> int:
    config = lab_config(args)
    data_dir = config.cache_dir / f"up-{args.port}" if args.detach else None
    broker = LocalBroker(config, progress=progress, data_dir=data_dir,
                         die_with_parent=not args.detach)
    broker.start()
    print(f"Kafka {broker.kafka_version} is up at localhost:{broker.port} "
          f"(ready in {broker.startup_seconds:.1f}s); log: {broker.log_path}")
    if args.detach:
        detached.record(broker, config)
        print(f"Detached. `kafka-lab status --port {broker.port}` looks at it, "
              f"`kafka-lab down --port {broker.port}` stops it.")
        return 0
    print("Ctrl-C stops it.")
    try:
        assert broker.process is not None and broker.process.process is not None
        code = broker.process.process.wait()
        print(f"The broker exited on its own (exit {code}). Its log ends with:\n"
              f"{broker.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping the broker...")
        return 0
    finally:
        broker.stop()


def cmd_status(args: argparse.Namespace) -> int:
    state = detached.load(lab_config(args).cache_dir, args.port)
    if state is None:
        print(f"No detached broker of kafka-lab on port {args.port}.")
        return 1
    answers = state.answers()
    print(f"Kafka {state.version} at localhost:{state.port}, pid {state.pid}: "
          + ("up, answering" if answers else "running, not answering" if state.alive()
             else "gone"))
    return 0 if answers else 1


def cmd_down(args: argparse.Namespace) -> int:
    if not detached.stop(lab_config(args).cache_dir, args.port):
        print(f"No detached broker of kafka-lab on port {args.port}.")
        return 1
    print(f"Stopped the broker on port {args.port}.")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    config = lab_config(args)
    with progress(f"Fetching Kafka {KAFKA_VERSION}'s jars") as report:
        distribution = resolve_distribution(config.cache_dir, config.home, report)
    print(f"Kafka {distribution.version} jars ready ({distribution.origin}): "
          f"{distribution.classpath}")
    return 0


def cmd_tools(_args: argparse.Namespace) -> int:
    for name, java_class in sorted(TOOL_CLASSES.items()):
        print(f"{name:28} {java_class}")
    return 0


def run_tool(name: str, argv: list[str]) -> int:
    """Replace this process with the tool's JVM, so exit codes, signals and stdin pass."""
    config = build_config({"cache_dir": os.environ.get("KAFKA_LAB_CACHE_DIR"),
                           "home": os.environ.get("KAFKA_HOME")})
    with progress("Preparing Kafka's jars") as report:
        distribution = resolve_distribution(config.cache_dir, config.home, report)
    command = tool_command(distribution, name, *argv)
    os.execv(command[0], command)
    return 127  # not reached


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="kafka-lab", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    commands = main.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a broker at localhost:PORT")
    up.add_argument("--port", type=int, default=9092)
    up.add_argument("--heap", default="512m", help="maximum JVM heap (default 512m)")
    up.add_argument("--jit", choices=JIT_MODES, default="quick",
                    help="quick: the C1 compiler alone, least CPU; full: C2 as well, top "
                    "throughput (default quick)")
    up.add_argument("--detach", action="store_true",
                    help="leave it running in the background and return")
    up.set_defaults(run=cmd_up)
    for name, run, text in (("status", cmd_status, "is the detached broker up?"),
                            ("down", cmd_down, "stop the detached broker")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--port", type=int, default=9092)
        command.set_defaults(run=run)
    commands.add_parser("fetch", help="download and cache Kafka's jars").set_defaults(run=cmd_fetch)
    add_grade_parser(commands)
    commands.add_parser("tools", help="list the Kafka tools").set_defaults(run=cmd_tools)
    return main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0].removesuffix(".sh") in TOOL_CLASSES:
            return run_tool(argv[0], argv[1:])
        args = parser().parse_args(argv)
        return int(args.run(args))
    except KafkaLabError as error:
        print(f"kafka-lab: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
