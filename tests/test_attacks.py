"""No attack earns more than its honest control (issue 19, item 5).

``tests/attacks/`` holds the project's own adversarial submissions, each beside a lazy
control that is the attack without its cheat (see its README). They are all graded in one
``kafka-lab grade -j 2`` call from this checkout's (editable) install, beside the
reference solutions, which must keep full points there: a defence that breaks honest work
shows. ``reference_exec``, which looks for the reference solutions where an install puts
them, is graded once more from a wheel installed in a fresh virtual environment, as the
course's CI recipes install the grader.

The check, per attack and exercise it concerns: the attack's points are at most its
control's, and the message names both counts and the checks the attack passed that the
control failed.

Beside the attacks, in the same call, the saboteurs (issue 22, item 6): submissions that
try to cut other submissions' grades rather than win their own (``tests/attacks/
saboteur_*``, see the README). They are graded first, on both lanes of ``-j 2``, so that
every attack, control and the reference is graded after them, or beside them, on the
brokers they ran on. What must hold: the reference keeps every point; no process of a
saboteur's runs is alive once its grade is written (sampled through the grading), and no
process of any run once the grading returns; and each saboteur says, in the output its
grade quotes, that what it tried was refused.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from pytest_kafka_lab.config import LabConfig
from pytest_kafka_lab.grading.class_runner.class_list import class_list
from pytest_kafka_lab.grading.inside import docker_shim
from pytest_kafka_lab.grading.sandbox.isolation import FILE_SIZE_MAX
from pytest_kafka_lab.grading.wire.proxy import BROKER_WIDE
from tests.test_wheel_install import venv_bin, wheel  # noqa: F401 - the wheel, in a fresh venv

ROOT = Path(__file__).parent.parent
ATTACKS = ROOT / "tests" / "attacks"
TEMPLATE = ROOT / "tests" / "submissions" / "template"
REFERENCE = ROOT / "scenarios" / "reference"
KAFKA_LAB = Path(sys.executable).with_name("kafka-lab")
OPEN, CLOSE = "# >>> attack", "# <<< attack"
SIDES = ("attack", "control")
# The course's files per exercise (shared/EXERCISES.md).
EXERCISE_FILES = {
    "ex1": ("exercise_producer.py",),
    "ex2": ("exercise_consumer.py",),
    "ex3": ("producer_continuous.py", "consumer_scaling.py"),
    "ex4": ("exercise_exactly_once.py",),
    "ex5": ("exercise_dlq.py",),
    "ex6": ("exercise_benchmark.py",),
}
# Seconds one run of a submission may take: the lazy controls that never stop (the
# templates' consumers) are waited out this long, and the reference's longest run (ex6's
# main(), about 5 s) has room to spare on a loaded machine.
RUN_TIMEOUT = 30
GRADING_TIMEOUT = 1800.0
# Variables that would point an inner grading at another broker or pytest run.
NOT_PASSED = ("KAFKA_LAB_BOOTSTRAP", "KAFKA_HOME", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER",
              "GITHUB_STEP_SUMMARY")

Grades = dict[Path, dict[str, Any]]  # submission folder (resolved) -> its gradebook row


@dataclass(frozen=True)
class Attack:
    name: str
    # Checks the attack's lazy code earns honestly where its control does not: left out of
    # both counts.
    honest: frozenset[str] = frozenset()
    # Checks the attack must fail whatever its control does.
    must_fail: frozenset[str] = frozenset()
    # Checks that rest on the run's word alone (what a function returned inside the
    # grader's in-process driver): no witness outside the process can contradict a run
    # that patches the driver. Left out of both counts here; held, as a known defeat, by
    # ``test_checks_on_the_runs_word_alone_are_still_won``.
    unwitnessed: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return self.name

    def folder(self, side: str) -> Path:
        return ATTACKS / self.name / side

    def exercises(self) -> list[str]:
        return [exercise for exercise, files in EXERCISE_FILES.items()
                if any((self.folder("attack") / name).exists() for name in files)]


ALL_ATTACKS = (
    Attack("reference_exec"),
    Attack("forged_instrumentation"),
    Attack("forged_events"),
    Attack("raw_client"),
    Attack("isolated_child"),
    Attack("patched_drivers",
           unwitnessed=frozenset({"payments_of_one_customer_are_all_processed",
                                  "a_redelivered_payment_is_processed_once",
                                  "payment_is_marked_only_after_processing"})),
    Attack("idle_consumer",
           honest=frozenset({"automatic_commits_are_switched_off",
                             "joins_order_processor_from_the_earliest_offset"}),
           must_fail=frozenset({"commits_after_every_10th_message"})),
)
REFERENCE_EXEC = ALL_ATTACKS[0]


@dataclass(frozen=True)
class Saboteur:
    """A submission that tries to cut other submissions' grades (issue 22's table): its
    ``main()`` (exercise 1) sabotages, does the template's lazy work, and prints, as its
    last lines (quoted by the grade of exercise 1), what it did, each line starting with
    ``word``."""

    name: str
    word: str

    def __str__(self) -> str:
        return self.name

    @property
    def folder(self) -> Path:
        return ATTACKS / self.name

    @property
    def mark(self) -> str:
        """On the command line of the processes it leaves behind, and in its file."""
        return f"{SABOTEUR_MARK}{self.name.removeprefix('saboteur_')}"


SABOTEUR_MARK = "kafka-lab-saboteur-"
# In the order they are graded: the detached producer first (had it outlived its run, it
# would disturb everything after it on its broker for 150 s), the neighbour while the
# other lane already grades, the heaviest last.
SABOTEURS = (
    Saboteur("saboteur_detached", "DETACHED"),
    Saboteur("saboteur_neighbour", "NEIGHBOUR"),
    Saboteur("saboteur_quotas", "QUOTAS"),
    Saboteur("saboteur_snoop", "SNOOP"),
    Saboteur("saboteur_bombs", "BOMBS"),
)
# A process of a saboteur's runs alive this long after its grade was written survived it;
# as long after the grading returned, a process of any run survived the grading.
GRACE = 5.0


def without_attack(source: str) -> str:
    """``source`` with every marked block (its marker lines included) taken out."""
    kept: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker.startswith(OPEN):
            assert not inside, f"line {number}: a block opened inside another"
            inside = True
        elif marker.startswith(CLOSE):
            assert inside, f"line {number}: a block closed that was never opened"
            inside = False
        elif not inside:
            kept.append(line)
    assert not inside, "a block is never closed"
    return "".join(kept)


def python_files(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(folder.glob("*.py"))}


# --- the attacks as written (no broker) ------------------------------------------------


@pytest.mark.parametrize("attack", ALL_ATTACKS, ids=str)
def test_an_attack_is_its_control_and_a_cheat(attack: Attack) -> None:
    attacks, controls = (python_files(attack.folder(side)) for side in SIDES)
    assert attacks, f"{attack.folder('attack')} holds no exercise file"
    assert set(attacks) == set(controls), (
        f"{attack}: attack/ holds {sorted(attacks)}, control/ {sorted(controls)}")
    known = {name for files in EXERCISE_FILES.values() for name in files}
    assert set(attacks) <= known, f"{attack}: {sorted(set(attacks) - known)} is no course file"
    for name, source in attacks.items():
        assert without_attack(source) == controls[name], (
            f"{attack}/attack/{name} without its '{OPEN}' blocks differs from "
            f"{attack}/control/{name}: the two must differ by the cheat alone")
    assert any(OPEN in source for source in attacks.values()), f"{attack} has no cheat"


def test_controls_taken_from_the_course_are_its_templates() -> None:
    """Where the lazy code is the course's unsolved template, it is the template as the
    course hands it out."""
    templates = python_files(TEMPLATE)
    copies = {**{name: REFERENCE_EXEC.folder("control") / name for name in templates},
              "exercise_consumer.py@idle": ATTACKS / "idle_consumer/control/exercise_consumer.py",
              "exercise_benchmark.py@raw": ATTACKS / "raw_client/control/exercise_benchmark.py",
              "producer_continuous.py@forged":
                  ATTACKS / "forged_instrumentation/control/producer_continuous.py"}
    for name, copy in copies.items():
        assert copy.read_text() == templates[name.partition("@")[0]], (
            f"{copy.relative_to(ROOT)} is not the course's template")


def test_the_readme_describes_every_attack_and_saboteur() -> None:
    readme = (ATTACKS / "README.md").read_text()
    folders = {path.name for path in ATTACKS.iterdir() if path.is_dir()
               and not path.name.startswith((".", "_"))}
    assert folders == {attack.name for attack in ALL_ATTACKS} | {
        saboteur.name for saboteur in SABOTEURS}
    assert not [attack for attack in ALL_ATTACKS if f"| `{attack}` |" not in readme]
    assert not [saboteur for saboteur in SABOTEURS if f"| `{saboteur}` |" not in readme]


def saboteur_copies(root: Path) -> dict[Saboteur, Path]:
    """Each saboteur copied under a name that sorts before every other folder graded with
    it (``1_saboteur_detached``, ...). ``kafka-lab grade`` grades a class in the order of
    its folders' names (``class_list``), not the order given: so named, under ``-j 2``
    the first two start at once, one on each lane, and every attack, control and the
    reference is graded after them (or beside the last ones), on the brokers they ran on."""
    root.mkdir(parents=True, exist_ok=True)
    copies = {}
    for index, saboteur in enumerate(SABOTEURS, start=1):
        copies[saboteur] = root / f"{index}_{saboteur.name}"
        shutil.copytree(saboteur.folder, copies[saboteur])
    return copies


def editable_folders(copies: dict[Saboteur, Path]) -> list[Path]:
    """What the editable install grades in one call: saboteurs, attacks and controls, and
    the reference."""
    return [*copies.values(),
            *(attack.folder(side) for attack in ALL_ATTACKS for side in SIDES), REFERENCE]


def test_saboteurs_are_graded_first_on_both_lanes(tmp_path: Path) -> None:
    copies = saboteur_copies(tmp_path / "saboteurs")
    graded = [submission.folder for submission in class_list(editable_folders(copies))]
    assert graded[:len(SABOTEURS)] == [copy.resolve() for copy in copies.values()]
    assert graded[-1] == REFERENCE.resolve()


@pytest.mark.parametrize("saboteur", SABOTEURS, ids=str)
def test_a_saboteur_is_the_template_of_exercise_1_and_its_sabotage(saboteur: Saboteur) -> None:
    files = python_files(saboteur.folder)
    assert list(files) == ["exercise_producer.py"]
    source = files["exercise_producer.py"]
    assert f'MARK = "{saboteur.mark}"' in source
    # main() sabotages, then does the lazy work of the course's template, which is kept.
    template = python_files(TEMPLATE)["exercise_producer.py"]
    for line in ("    producer = Producer(config)", "    producer.flush()",
                 '    print("All messages sent!")', "def delivery_callback(err, msg):",
                 "def create_order(order_id):", 'if __name__ == "__main__":'):
        assert line in template, line
        assert line in source, line
    assert f"{saboteur.word} " in source, f"its lines start with {saboteur.word}"


QUOTA_COMMAND = ["exec", "kafka", "kafka-configs", "--bootstrap-server", "localhost:9092",
                 "--alter", "--entity-type", "clients", "--entity-default", "--add-config",
                 "producer_byte_rate=4096,consumer_byte_rate=4096"]


@pytest.mark.parametrize("argv", [
    QUOTA_COMMAND,
    ["exec", "-it", "kafka", "sh", "-c", " ".join(QUOTA_COMMAND[2:])],
    ["exec", "kafka", "/opt/kafka/bin/kafka-configs.sh", *QUOTA_COMMAND[3:]],
    ["exec", "kafka", "kafka-configs", "--bootstrap-server=localhost:9092", "--entity-type",
     "brokers", "--entity-default", "--add-config=message.max.bytes=512"],
    ["exec", "kafka", "kafka-configs", "--bootstrap-server", "localhost:9092",
     "--entity-type", "topics", "--entity-name", "orders", "--delete-config",
     "retention.ms"],
    ["exec", "kafka", "kafka-acls", "--bootstrap-server", "localhost:9092", "--add",
     "--deny-principal", "User:*", "--operation", "All", "--topic", "orders"],
], ids=["quotas", "through-a-shell", "by-path", "add-config=", "delete-config", "acls"])
def test_the_docker_stand_in_refuses_broker_settings_before_any_tool_runs(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a broker: what ``saboteur_quotas`` asks of ``docker exec kafka``, and its
    variants, is refused at once, and no tool starts."""
    def no_tool(*args: Any, **kwargs: Any) -> int:
        raise AssertionError(f"the stand-in ran {args}")

    monkeypatch.setattr(docker_shim.subprocess, "call", no_tool)
    monkeypatch.setenv(docker_shim.TOOLS_VARIABLE, json.dumps(
        {tool: ["false"] for tool in (*docker_shim.COURSE_TOOLS, "kafka-acls")}))
    monkeypatch.setenv("KAFKA_LAB_BOOTSTRAP", "127.0.0.1:1")
    assert docker_shim.main(argv) == docker_shim.REFUSED
    assert "refuses this" in capsys.readouterr().err


def test_the_course_s_own_tools_pass_the_stand_in() -> None:
    """The control: what the course's setup runs is never refused."""
    for tool, args in (("kafka-topics", ["--create", "--topic", "orders", "--partitions", "4"]),
                       ("kafka-configs", ["--describe", "--entity-type", "topics",
                                          "--entity-name", "orders"]),
                       ("kafka-consumer-groups", ["--describe", "--group", "order-processor"])):
        assert docker_shim.refusal(tool, args) is None, tool


def test_the_proxy_refuses_every_api_the_quota_saboteur_sends() -> None:
    """Past the stand-in (the tool started from its command line, or AdminClient), what
    changes the broker's settings goes over the wire: each such API is one the run's proxy
    never forwards."""
    sent = {"AlterClientQuotas",  # kafka-configs --entity-type clients --alter
            "IncrementalAlterConfigs", "AlterConfigs",  # AdminClient, kafka-configs
            "CreateAcls", "DeleteAcls"}  # kafka-acls
    assert sent <= BROKER_WIDE
    assert not {"DescribeConfigs", "DescribeClientQuotas", "Metadata"} & BROKER_WIDE


# --- graded ----------------------------------------------------------------------------


def environment(base: dict[str, str], cache: Path, inner_tmp: Path) -> dict[str, str]:
    """An inner grading's environment: this session's jar cache, a private TMPDIR (its
    brokers' data), nothing that points it at another broker."""
    kept = {name: value for name, value in base.items() if name not in NOT_PASSED}
    return {**kept, "KAFKA_LAB_CACHE_DIR": str(cache), "TMPDIR": str(inner_tmp)}


class RunWatch:
    """The processes of one grading's runs, sampled while it goes on and after it.

    A process belongs to the grading when its command line holds a saboteur's mark or
    the grading's scratch folder (its ``TMPDIR``: every run's copy and library, every
    pytest run's scratch, the brokers' data), or its working folder is in there (a fork
    keeps its parent's command line, and a process in a session of its own with an empty
    environment keeps its working folder). It is a saboteur's when it carries its mark,
    or works in a copy of its folder (the run's copy of ``exercise_producer.py`` holds
    the mark)."""

    def __init__(self, scratch: Path, copies: dict[Saboteur, Path]) -> None:
        self.scratch = str(scratch.resolve()) + os.sep
        self.copies = {folder.resolve(): saboteur for saboteur, folder in copies.items()}
        self.graded_at: dict[Saboteur, float] = {}
        self.survivors: dict[int, str] = {}
        self.most: Counter[str] = Counter()  # most processes of each saboteur at once
        self.owners: dict[str, Saboteur | None] = {}  # by working folder
        self.mine = {os.getpid(), *(parent.pid for parent in psutil.Process().parents())}

    def processes(self) -> list[tuple[int, str, str]]:
        """(pid, command line, working folder) of the grading's live processes."""
        found = []
        for process in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
            info = process.info
            if info["pid"] in self.mine or info["status"] == psutil.STATUS_ZOMBIE:
                continue
            line, cwd = " ".join(info["cmdline"] or ()), info["cwd"] or ""
            if SABOTEUR_MARK in line or self.scratch in line or cwd.startswith(self.scratch):
                found.append((info["pid"], line, cwd))
        return found

    def owner(self, line: str, cwd: str) -> Saboteur | None:
        for saboteur in SABOTEURS:
            if saboteur.mark in line:
                return saboteur
        if cwd not in self.owners:
            try:
                source = (Path(cwd) / "exercise_producer.py").read_text()
            except (OSError, ValueError):
                source = ""
            self.owners[cwd] = next((saboteur for saboteur in SABOTEURS
                                     if f'MARK = "{saboteur.mark}"' in source), None)
        return self.owners[cwd]

    def sample(self, book: Path) -> None:
        now = time.monotonic()
        try:
            rows = json.loads(book.read_text())
        except (OSError, ValueError):
            rows = []
        for row in rows:
            saboteur = self.copies.get(Path(row["submission"]).resolve())
            if saboteur is not None:
                self.graded_at.setdefault(saboteur, now)
        counts: Counter[str] = Counter()
        for pid, line, cwd in self.processes():
            saboteur = self.owner(line, cwd)
            if saboteur is None:
                continue
            counts[saboteur.name] += 1
            since = now - self.graded_at.get(saboteur, now)
            if since > GRACE:
                self.survivors.setdefault(
                    pid, f"{saboteur}: pid {pid} {line[:200]!r} (working in {cwd}), alive "
                         f"{since:.0f} s after its grade was written")
        for name, count in counts.items():
            self.most[name] = max(self.most[name], count)

    def left(self, grace: float) -> list[str]:
        """The grading's processes still alive ``grace`` seconds from now (or fewer, as
        soon as there are none)."""
        deadline = time.monotonic() + grace
        while True:
            alive = self.processes()
            if not alive or time.monotonic() > deadline:
                return [f"pid {pid} {line[:200]!r} (working in {cwd})"
                        for pid, line, cwd in alive]
            time.sleep(0.5)


def grade(kafka_lab: Path, folders: list[Path], out: Path, env: dict[str, str],
          watch: RunWatch | None = None) -> Grades:
    """``kafka-lab grade -j 2 FOLDERS``, its gradebook row by folder; ``watch`` samples
    the processes of its runs each second while it goes on."""
    book = out.with_name(out.name + ".json")
    log = out.with_name(out.name + ".log")
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(kafka_lab), "grade", "-j", "2", "--timeout", str(RUN_TIMEOUT),
             *map(str, folders), "--out", str(out)],
            cwd=out.parent, env=env, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + GRADING_TIMEOUT
        try:
            while process.poll() is None:
                assert time.monotonic() < deadline, (
                    f"kafka-lab grade still ran after {GRADING_TIMEOUT:g} s")
                if watch is not None:
                    watch.sample(book)
                time.sleep(1.0)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    said = log.read_text(errors="replace")
    assert book.exists(), (
        f"kafka-lab grade exited {process.returncode} without a gradebook:\n{said[-6000:]}")
    grades = {Path(row["submission"]).resolve(): row for row in json.loads(book.read_text())}
    missing = [folder for folder in folders if folder.resolve() not in grades]
    assert not missing, f"no grade for {missing}:\n{said[-3000:]}"
    return grades


@dataclass
class Grading:
    """One ``kafka-lab grade`` call and what was seen of its runs."""

    grades: Grades
    seconds: float
    copies: dict[Saboteur, Path]
    survivors: list[str] = field(default_factory=list)  # outlived their saboteur's grade
    left: list[str] = field(default_factory=list)  # outlived the grading (after GRACE)
    most: dict[str, int] = field(default_factory=dict)  # most processes of each saboteur

    def row(self, saboteur: Saboteur) -> dict[str, Any]:
        return self.grades[self.copies[saboteur].resolve()]


@pytest.fixture(scope="module")
def editable_grading(kafka_lab_config: LabConfig,
                     tmp_path_factory: pytest.TempPathFactory) -> Grading:
    """The saboteurs, every attack and its control, and the reference, graded in one call
    by this checkout's install; the processes of their runs watched throughout."""
    copies = saboteur_copies(tmp_path_factory.mktemp("saboteurs"))
    work = tmp_path_factory.mktemp("attacks-editable")
    scratch = tmp_path_factory.mktemp("attacks-editable-tmp")
    env = environment(dict(os.environ), kafka_lab_config.cache_dir, scratch)
    watch = RunWatch(scratch, copies)
    started = time.monotonic()
    grades = grade(KAFKA_LAB, editable_folders(copies), work / "book", env, watch)
    seconds = time.monotonic() - started
    return Grading(grades, seconds, copies, sorted(watch.survivors.values()),
                   watch.left(GRACE), dict(watch.most))


@pytest.fixture(scope="module")
def editable_grades(editable_grading: Grading) -> Grades:
    """Every attack and its control, and the reference, graded in one call by this
    checkout's install (beside the saboteurs)."""
    return editable_grading.grades


@pytest.fixture(scope="module")
def wheel_grades(request: pytest.FixtureRequest, kafka_lab_config: LabConfig,
                 tmp_path_factory: pytest.TempPathFactory, editable_grades: Grades) -> Grades:
    """``reference_exec`` graded by the wheel installed in a fresh virtual environment,
    with none of this checkout's Python on the path (as tests/test_wheel_install.py runs
    it), beside its control's grade from the editable install: the lazy templates grade
    the same from any install, and are the slowest folders to grade (the reference from
    a wheel is tests/test_wheel_install.py's)."""
    bin_folder: Path = request.getfixturevalue("venv_bin")
    outside = {name: value for name, value in os.environ.items()
               if not name.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST", "TOX"))}
    path = [str(bin_folder)] + [part for part in outside.get("PATH", "").split(os.pathsep)
                                if ".tox" not in part and ".venv" not in part]
    outside["PATH"] = os.pathsep.join(path)
    work = tmp_path_factory.mktemp("attacks-wheel")
    env = environment(outside, kafka_lab_config.cache_dir,
                      tmp_path_factory.mktemp("attacks-wheel-tmp"))
    attack, control = (REFERENCE_EXEC.folder(side).resolve() for side in SIDES)
    graded = grade(bin_folder / "kafka-lab", [attack], work / "book", env)
    return {attack: graded[attack], control: editable_grades[control]}


def passed(exercise: dict[str, Any]) -> dict[str, int]:
    """``{check: points}`` of the checks the exercise passed."""
    return {check["name"]: check["points"] for check in exercise["checks"]
            if check["status"] == "passed"}


def shown(exercise: dict[str, Any]) -> str:
    """Points and status; an error's reason too (a control's error voids its baseline)."""
    text = f"{exercise['points']}/{exercise['max_points']} ({exercise['status']})"
    if exercise["status"] == "error":
        reasons = {str(check.get("message", ""))[:300] for check in exercise.get("checks", [])
                   if check["status"] == "error"}
        text += f" [{'; '.join(sorted(reasons)) or exercise.get('error', '')}]"
    return text


def verdicts(attack: Attack, grades: Grades) -> list[str]:
    """What the attack won over its control, exercise by exercise ([] if nothing)."""
    won_by_cheating = []
    rows = {side: grades[attack.folder(side).resolve()] for side in SIDES}
    for key in attack.exercises():
        mine, theirs = (rows[side]["exercises"][key] for side in SIDES)
        assert "missing" not in (mine["status"], theirs["status"]), (
            f"{attack} {key}: attack {mine['status']}, control {theirs['status']}")
        mine_passed, theirs_passed = passed(mine), passed(theirs)
        apart = attack.honest | attack.unwitnessed
        counted = {name: points for name, points in mine_passed.items() if name not in apart}
        baseline = {name: points for name, points in theirs_passed.items()
                    if name not in apart}
        won = sorted(set(mine_passed) - set(theirs_passed))
        if sum(counted.values()) > sum(baseline.values()):
            won_by_cheating.append(
                f"{key}: the attack earned {shown(mine)}, its control {shown(theirs)}"
                + (f" (not counting {', '.join(sorted(attack.honest))}, earned honestly)"
                   if attack.honest else "")
                + f"; the attack passed {', '.join(won) or 'no check'} that the control failed")
        wrongly = sorted(attack.must_fail & set(mine_passed))
        if wrongly:
            won_by_cheating.append(f"{key}: the attack passed {', '.join(wrongly)}, which it "
                                   "must fail")
    return won_by_cheating


@pytest.mark.slow
@pytest.mark.parametrize(("attack", "install"),
                         [(attack, "editable") for attack in ALL_ATTACKS]
                         + [(REFERENCE_EXEC, "wheel")],
                         ids=lambda value: str(value))
def test_no_attack_earns_more_than_its_control(attack: Attack, install: str,
                                               request: pytest.FixtureRequest) -> None:
    grades: Grades = request.getfixturevalue(f"{install}_grades")
    for key in attack.exercises():  # shown with -rA: where each attack stands
        mine, theirs = (grades[attack.folder(side).resolve()]["exercises"][key] for side in SIDES)
        print(f"{attack} ({install}) {key}: attack {shown(mine)}, control {shown(theirs)}")
    won = verdicts(attack, grades)
    assert not won, (f"the attack {attack} ({ATTACKS.name}/{attack}/attack, graded from the "
                     f"{install} install) won points its control did not: " + "; ".join(won))


@pytest.mark.slow
@pytest.mark.parametrize("install", ["editable"])
def test_the_reference_keeps_full_points(install: str, request: pytest.FixtureRequest) -> None:
    grades: Grades = request.getfixturevalue(f"{install}_grades")
    row = grades[REFERENCE.resolve()]
    short = [f"{key} {shown(exercise)}: "
             + "; ".join(f"{check['name']} {check['status']}: {check['message'][:300]}"
                         for check in exercise["checks"] if check["status"] != "passed")
             for key, exercise in row["exercises"].items()
             if exercise["points"] != exercise["max_points"]]
    assert not short, (f"graded beside the attacks from the {install} install, the reference "
                       "solutions lost points: " + " | ".join(short))


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "ex4's checks of process_payment's answers (two payments of one customer, a payment "
    "delivered twice, marked only after processing) rest on what the grader's driver "
    "reports from inside the submission's process, and no wire or broker record can "
    "witness a return value. The payments' ids are drawn afresh for each grading, so no "
    "answer can be written down ahead; but a submission that patches the driver's "
    "reporting with answers it computes as a correct process_payment would (a set of the "
    "ids seen) still wins them: it does the exercise's work, in the wrong place"))
def test_checks_on_the_runs_word_alone_are_still_won(editable_grades: Grades) -> None:
    attack = next(attack for attack in ALL_ATTACKS if attack.unwitnessed)
    rows = {side: editable_grades[attack.folder(side).resolve()] for side in SIDES}
    won = {name for key in attack.exercises()
           for name in set(passed(rows["attack"]["exercises"][key]))
           - set(passed(rows["control"]["exercises"][key]))} & attack.unwitnessed
    assert not won, f"{attack} still wins {sorted(won)}"



# --- the saboteurs, graded beside the attacks -------------------------------------------


def said(row: dict[str, Any], saboteur: Saboteur) -> list[str]:
    """The lines the saboteur printed last, as the checks of its exercise 1 quote them
    (its output's last lines, each ``repr``'d)."""
    quoted = re.compile(rf"""(['"])({saboteur.word} .*?)\1""")
    lines: list[str] = []
    for check in row["exercises"].get("ex1", {}).get("checks", []):
        for _, line in quoted.findall(check["message"]):
            if line not in lines:
                lines.append(line)
    return lines


def number(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in {text!r}"
    return int(found.group(1))


def detached_refused(text: str, in_force: set[str]) -> None:
    # That it outlived nothing is test_no_process_of_a_run_outlives_it's to say: here,
    # that it did start.
    assert number(r"child pid (\d+)", text) > 0, text


def neighbour_refused(text: str, in_force: set[str]) -> None:
    if "proc_hidden" in in_force:
        assert number(r"(\d+) addresses on them", text) == 0, text
    if "network" not in in_force:
        pytest.skip("runs may connect anywhere on this machine: no Landlock network rules")
    assert number(r"connected (\d+)/", text) == 0, text
    assert number(r"junk delivered (\d+)/", text) == 0, text


def quotas_refused(text: str, in_force: set[str]) -> None:
    assert "docker:exit 1" in text, text  # the stand-in's refusal
    assert "APPLIED" not in text, text
    setting = next(line for line in text.splitlines() if "message.max.bytes now" in line)
    assert re.search(r"now \d+ \((DEFAULT|STATIC_BROKER)_CONFIG\)", setting), setting


def snoop_refused(text: str, in_force: set[str]) -> None:
    if "proc_hidden" not in in_force:
        pytest.skip("runs see every process of the machine: no PID namespace")
    assert number(r"(\d+) foreign", text) == 0, text
    assert number(r"foreign, (\d+) addresses", text) == 0, text


def bombs_refused(text: str, in_force: set[str]) -> None:
    cap = FILE_SIZE_MAX // 1_000_000 + 1
    if "pids_cap" in in_force:
        assert number(r"processes (\d+)/300", text) < 300, text
    if "file_size_cap" in in_force:
        assert number(r"file (\d+) MB", text) <= cap, text
        assert number(r"stdout (\d+) MB", text) <= cap, text


REFUSED = {"saboteur_detached": detached_refused, "saboteur_neighbour": neighbour_refused,
           "saboteur_quotas": quotas_refused, "saboteur_snoop": snoop_refused,
           "saboteur_bombs": bombs_refused}
SNOOP = next(saboteur for saboteur in SABOTEURS if saboteur.word == "SNOOP")


@pytest.mark.slow
@pytest.mark.parametrize("saboteur", SABOTEURS, ids=str)
def test_each_saboteur_is_graded_and_what_it_tried_was_refused(
    saboteur: Saboteur, editable_grading: Grading
) -> None:
    row = editable_grading.row(saboteur)
    ex1 = row["exercises"].get("ex1") or {"status": "missing"}
    assert not row.get("error"), f"{saboteur}'s grading did not finish: {row['error']}"
    assert ex1["status"] != "missing", f"{saboteur}'s exercise 1 was not graded: {ex1}"
    # The gradebook's row says which layers of isolation were in force (issue 22, item 4).
    in_force = set(row.get("isolation", {}).get("in_force", ()))
    assert in_force, f"{saboteur}'s gradebook row has no isolation: {sorted(row)}"
    lines = said(row, saboteur)
    print(f"{saboteur}: ex1 {shown(ex1)}; " + " | ".join(lines))  # shown with -rA
    if saboteur is SNOOP and not lines and named_its_read_of_the_shadow(ex1):
        return  # refused by the kernel and named by the audit hook: the exercise is an error
    if not lines:
        pytest.fail(f"{saboteur}'s grade quotes none of its lines: "
                    + " | ".join(check["message"][:300] for check in ex1.get("checks", [])))
    REFUSED[saboteur.name]("\n".join(lines), in_force)


@pytest.mark.slow
def test_no_process_of_a_run_outlives_it(editable_grading: Grading) -> None:
    """Sampled each second through the grading: no process of a saboteur's runs is alive
    ``GRACE`` seconds after its grade was written; and once the grading returned, none of
    any run (nor a pytest run, nor a broker) is alive ``GRACE`` seconds later."""
    print(f"graded {len(editable_grading.grades)} submissions in "
          f"{editable_grading.seconds:.0f} s; most processes of each saboteur's runs seen "
          f"at once: {editable_grading.most}")
    reference = editable_grading.grades[REFERENCE.resolve()]
    isolation = reference.get("isolation", {})
    if not set(isolation.get("in_force", ())) & {"pid_namespace", "pids_cap", "memory_cap"}:
        pytest.skip("neither a PID namespace nor cgroups on this machine: "
                    + "; ".join(f"{layer}: {why}" for layer, why
                                in isolation.get("refused", {}).items()))
    assert editable_grading.most, "the watch saw no process of any saboteur's runs"
    assert not editable_grading.survivors, (
        "processes of a saboteur's runs outlived its grade: "
        + "; ".join(editable_grading.survivors))
    assert not editable_grading.left, (
        f"{GRACE:g} s after kafka-lab grade returned, processes of its runs were alive: "
        + "; ".join(editable_grading.left))


@pytest.mark.slow
def named_its_read_of_the_shadow(ex1: dict[str, Any]) -> bool:
    """Whether exercise 1 is the error that names the snoop's attempt on /etc/shadow
    (the kernel refused the read; the audit hook named it)."""
    checks = ex1.get("checks", [])
    return bool(checks) and all(check["status"] == "error"
                                and "tried to read /etc/shadow" in check["message"]
                                for check in checks)


def test_the_snoop_reads_no_secret_of_the_machine(editable_grading: Grading) -> None:
    row = editable_grading.row(SNOOP)
    if named_its_read_of_the_shadow(row["exercises"].get("ex1") or {}):
        return
    shadow = [line for line in said(row, SNOOP) if "shadow" in line]
    if not shadow:
        pytest.fail(f"{SNOOP}'s grade quotes no line about /etc/shadow")
    assert "refused" in shadow[0], shadow[0]
