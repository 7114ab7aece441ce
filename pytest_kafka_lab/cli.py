"""``kafka-lab``: the embedded broker and Kafka's tools for hands-on work.

    kafka-lab up [--port 9092] [--detach]   start a broker (Ctrl-C stops it)
    kafka-lab status | down                 look at or stop a detached broker
    kafka-lab fetch                         download and cache Kafka's jars now
    kafka-lab tools                         list the Kafka tools it runs
    kafka-lab check [EXERCISE...]           check your own work (the current folder)
    kafka-lab grade [-j N] [--shard K/N] DIR...   grade a class into gradebook.csv/.json
    kafka-lab grade --merge book-*.json     join shards' gradebooks into one
    kafka-lab kafka-topics --list --bootstrap-server localhost:9092
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from pytest_kafka_lab import detached
from pytest_kafka_lab.backends.local import LocalBroker
from pytest_kafka_lab.config import BY_NAME, LAB_TIMEOUT, LabConfig, add_argument, build_config
from pytest_kafka_lab.distribution import KAFKA_VERSION, resolve_distribution
from pytest_kafka_lab.exceptions import KafkaLabError
from pytest_kafka_lab.grading.class_runner.console_summary import EXERCISES
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


def check_output(cache_dir: Path, folder: Path) -> Path:
    """Where ``kafka-lab check`` keeps the reports of ``folder`` when not told: a folder
    of the cache of its own, never the student's repository."""
    folder = folder.resolve()
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:10]
    return cache_dir / "check" / f"{folder.name or 'root'}-{digest}"


def exercise_id(text: str) -> str:
    """``ex2``, from ``ex2`` or ``2``."""
    name = text.lower() if text.lower().startswith("ex") else f"ex{text}"
    if name not in EXERCISES:
        raise argparse.ArgumentTypeError(f"{text!r}: the exercises are {', '.join(EXERCISES)}")
    return name


def cmd_check(args: argparse.Namespace) -> int:
    """``kafka-lab grade`` of one folder, its reports kept out of the folder."""
    output: Path = args.output or check_output(lab_config(args).cache_dir, args.folder)
    output.mkdir(parents=True, exist_ok=True)
    argv = ["grade", str(args.folder), "--out", str(output / "gradebook"),
            "--feedback", str(output / "FEEDBACK.md"), "--timeout", f"{args.timeout:g}"]
    if args.exercises:
        argv += ["--exercise", *args.exercises]
    if args.jobs:
        argv += ["-j", args.jobs]
    grade = parser().parse_args(argv)
    return int(grade.run(grade))


def add_check_parser(commands: Any) -> None:
    check = commands.add_parser(
        "check", help="check your exercises: points per check, and what to change",
        description="Grade the exercises in a folder (the current one by default) as the "
        "course's grader does, and show each check's points and the start of each "
        "failure's message. Nothing is written into the folder: the full feedback "
        "(FEEDBACK.md) and the reports go to the cache, or to --output.")
    check.add_argument("exercises", nargs="*", type=exercise_id, metavar="EXERCISE",
                       help=f"the exercises to check ({', '.join(EXERCISES)}, or 1 ... 6); "
                       "default: all")
    check.add_argument("--folder", type=Path, default=Path("."),
                       help="the folder holding your exercise files (default: .)")
    check.add_argument("--output", type=Path, default=None, metavar="DIR",
                       help="write FEEDBACK.md and the gradebook here (default: a folder in "
                       "the cache, named in the output)")
    add_argument(check, LAB_TIMEOUT, "--timeout")  # pytest's --lab-timeout, its default
    check.add_argument("-j", "--jobs", default=None, metavar="N",
                       help="as kafka-lab grade -j (default: the machine's cores)")
    check.set_defaults(run=cmd_check)


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
    for name in ("heap", "jit"):  # declared, with their defaults, by the settings model
        add_argument(up, BY_NAME[name], f"--{name}")
    up.add_argument("--detach", action="store_true",
                    help="leave it running in the background and return")
    up.set_defaults(run=cmd_up)
    for name, run, text in (("status", cmd_status, "is the detached broker up?"),
                            ("down", cmd_down, "stop the detached broker")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--port", type=int, default=9092)
        command.set_defaults(run=run)
    commands.add_parser("fetch", help="download and cache Kafka's jars").set_defaults(run=cmd_fetch)
    add_check_parser(commands)
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
