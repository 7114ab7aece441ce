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
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_kafka_lab.config import LabConfig
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


def test_the_readme_describes_every_attack() -> None:
    readme = (ATTACKS / "README.md").read_text()
    folders = {path.name for path in ATTACKS.iterdir() if path.is_dir()
               and not path.name.startswith((".", "_"))}
    assert folders == {attack.name for attack in ALL_ATTACKS}
    assert not [attack for attack in ALL_ATTACKS if f"| `{attack}` |" not in readme]


# --- graded ----------------------------------------------------------------------------


def environment(base: dict[str, str], cache: Path, inner_tmp: Path) -> dict[str, str]:
    """An inner grading's environment: this session's jar cache, a private TMPDIR (its
    brokers' data), nothing that points it at another broker."""
    kept = {name: value for name, value in base.items() if name not in NOT_PASSED}
    return {**kept, "KAFKA_LAB_CACHE_DIR": str(cache), "TMPDIR": str(inner_tmp)}


def grade(kafka_lab: Path, folders: list[Path], out: Path, env: dict[str, str]) -> Grades:
    """``kafka-lab grade -j 2 FOLDERS``, its gradebook row by folder."""
    finished = subprocess.run(
        [str(kafka_lab), "grade", "-j", "2", "--timeout", str(RUN_TIMEOUT),
         *map(str, folders), "--out", str(out)],
        cwd=out.parent, env=env, capture_output=True, text=True, timeout=GRADING_TIMEOUT,
        check=False)
    book = out.with_name(out.name + ".json")
    assert book.exists(), (
        f"kafka-lab grade exited {finished.returncode} without a gradebook:\n"
        f"{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}")
    grades = {Path(row["submission"]).resolve(): row for row in json.loads(book.read_text())}
    missing = [folder for folder in folders if folder.resolve() not in grades]
    assert not missing, f"no grade for {missing}:\n{finished.stderr[-3000:]}"
    return grades


@pytest.fixture(scope="module")
def editable_grades(kafka_lab_config: LabConfig,
                    tmp_path_factory: pytest.TempPathFactory) -> Grades:
    """Every attack and its control, and the reference, graded in one call by this
    checkout's install."""
    folders = [attack.folder(side) for attack in ALL_ATTACKS for side in SIDES] + [REFERENCE]
    work = tmp_path_factory.mktemp("attacks-editable")
    env = environment(dict(os.environ), kafka_lab_config.cache_dir,
                      tmp_path_factory.mktemp("attacks-editable-tmp"))
    return grade(KAFKA_LAB, folders, work / "book", env)


@pytest.fixture(scope="module")
def wheel_grades(request: pytest.FixtureRequest, kafka_lab_config: LabConfig,
                 tmp_path_factory: pytest.TempPathFactory) -> Grades:
    """``reference_exec`` and its control, and the reference, graded in one call by the
    wheel installed in a fresh virtual environment, with none of this checkout's Python on
    the path (as tests/test_wheel_install.py runs it)."""
    bin_folder: Path = request.getfixturevalue("venv_bin")
    outside = {name: value for name, value in os.environ.items()
               if not name.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST", "TOX"))}
    path = [str(bin_folder)] + [part for part in outside.get("PATH", "").split(os.pathsep)
                                if ".tox" not in part and ".venv" not in part]
    outside["PATH"] = os.pathsep.join(path)
    work = tmp_path_factory.mktemp("attacks-wheel")
    env = environment(outside, kafka_lab_config.cache_dir,
                      tmp_path_factory.mktemp("attacks-wheel-tmp"))
    folders = [REFERENCE_EXEC.folder(side) for side in SIDES] + [REFERENCE]
    return grade(bin_folder / "kafka-lab", folders, work / "book", env)


def passed(exercise: dict[str, Any]) -> dict[str, int]:
    """``{check: points}`` of the checks the exercise passed."""
    return {check["name"]: check["points"] for check in exercise["checks"]
            if check["status"] == "passed"}


def shown(exercise: dict[str, Any]) -> str:
    return f"{exercise['points']}/{exercise['max_points']} ({exercise['status']})"


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
@pytest.mark.parametrize("install", ["editable", "wheel"])
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
    "reports from inside the submission's process: a submission that patches the driver's "
    "reporting forges them, and no wire or broker record can contradict a return value. "
    "Witnessing them needs the payments fed through the topic to main() instead"))
def test_checks_on_the_runs_word_alone_are_still_won(editable_grades: Grades) -> None:
    attack = next(attack for attack in ALL_ATTACKS if attack.unwitnessed)
    rows = {side: editable_grades[attack.folder(side).resolve()] for side in SIDES}
    won = {name for key in attack.exercises()
           for name in set(passed(rows["attack"]["exercises"][key]))
           - set(passed(rows["control"]["exercises"][key]))} & attack.unwitnessed
    assert not won, f"{attack} still wins {sorted(won)}"

