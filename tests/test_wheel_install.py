"""The course travels with the package: built as a wheel and installed in a fresh virtual
environment outside this checkout, pytest-kafka-lab grades a class, a student repository
and a Gradescope submission by itself, with nothing of the checkout on its path."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from pytest_kafka_lab.config import LabConfig
from tests.test_ci_recipes import GITHUB_GRADE, GITLAB_GRADE
from tests.test_grading_platforms import CLASSROOM_SCHEMA, GRADESCOPE_SCHEMA, REPORT_SCHEMA

ROOT = Path(__file__).parent.parent
REFERENCE_PRODUCER = ROOT / "scenarios" / "reference" / "exercise_producer.py"
NOT_BUILT = shutil.ignore_patterns(".git", ".tox", ".venv", "build", "*.egg-info", "__pycache__",
                                   ".*_cache", "tests", "benchmarks", "docs")
# The course's exercise 1 checks, by the names the report gives them.
EX1_CHECK_COUNT = 10

pytestmark = pytest.mark.slow


def run(command: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    finished = subprocess.run([str(part) for part in command], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
    assert finished.returncode == 0, (
        f"{' '.join(map(str, command))} exited {finished.returncode}:\n"
        f"{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}")
    return finished


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built (in an isolated build environment, as pip builds it) from a copy
    of the checkout's sources, so that nothing left in ``build/`` can slip into it."""
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, work / "source", ignore=NOT_BUILT)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist",
         work / "source"], cwd=work)
    (built,) = (work / "dist").glob("pytest_kafka_lab-*.whl")
    return built


@pytest.fixture(scope="module")
def venv_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtual environment holding the wheel and its
    dependencies from PyPI."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=venv.parent)
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], cwd=venv.parent)
    return venv / "bin"


@pytest.fixture
def outside(tmp_path: Path, venv_bin: Path, kafka_lab_config: LabConfig
            ) -> dict[str, str]:
    """An environment with the fresh venv first on PATH, none of the checkout's Python, and
    the session's cache of Kafka's jars (so nothing is fetched twice)."""
    keep = {name: value for name, value in os.environ.items()
            if not name.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST", "TOX"))}
    path = [str(venv_bin)] + [part for part in keep.get("PATH", "").split(os.pathsep)
                              if ".tox" not in part and ".venv" not in part]
    return {**keep, "PATH": os.pathsep.join(path),
            "KAFKA_LAB_CACHE_DIR": str(kafka_lab_config.cache_dir)}


@pytest.fixture
def good_and_broken(tmp_path: Path) -> tuple[Path, Path]:
    """Two students' repositories with exercise 1: the reference, and one that never
    flushes (so its last orders are lost at exit)."""
    good, broken = tmp_path / "good", tmp_path / "broken"
    for folder in (good, broken):
        folder.mkdir()
    shutil.copy(REFERENCE_PRODUCER, good)
    source = REFERENCE_PRODUCER.read_text()
    assert "remaining = producer.flush(30)" in source
    (broken / REFERENCE_PRODUCER.name).write_text(
        source.replace("remaining = producer.flush(30)", "remaining = 0"))
    return good, broken


def ex1(grade: dict[str, Any]) -> dict[str, Any]:
    exercise = dict(grade["exercises"]["ex1"])
    assert len(exercise["checks"]) == EX1_CHECK_COUNT, exercise
    return exercise


def test_the_wheel_holds_the_course_and_its_reference(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    course = {name for name in names if name.startswith("pytest_kafka_lab/course/")}
    assert {f"pytest_kafka_lab/course/test_ex{n}_{what}.py" for n, what in (
        (1, "producer"), (2, "consumer"), (3, "scaling"), (4, "exactly_once"), (5, "dlq"),
        (6, "benchmark"))} <= course
    assert "pytest_kafka_lab/course/reference/exercise_producer.py" in course
    assert "pytest_kafka_lab/grading/inside/startup.py" in names
    assert "pytest_kafka_lab/maven/pom.xml" in names
    # The promises test Kafka and the harness, not students: they stay in the repository.
    assert not [name for name in course if "promises" in name]


def test_the_course_is_imported_from_the_venv(venv_bin: Path, tmp_path: Path,
                                              outside: dict[str, str]) -> None:
    found = run([venv_bin / "python", "-c", "from pytest_kafka_lab.grading.course import "
                 "course_dir; print(course_dir())"], cwd=tmp_path, env=outside)
    assert Path(found.stdout.strip()).is_relative_to(venv_bin.parent)


def test_kafka_lab_grade_grades_a_class(tmp_path: Path, good_and_broken: tuple[Path, Path],
                                        outside: dict[str, str]) -> None:
    good, broken = good_and_broken
    run(["kafka-lab", "grade", good, broken, "--out", tmp_path / "book"], cwd=tmp_path,
        env=outside)
    grades = {Path(grade["submission"]).name: grade
              for grade in json.loads((tmp_path / "book.json").read_text())}
    assert ex1(grades["good"])["status"] == "passed"
    broken_ex1 = ex1(grades["broken"])
    assert broken_ex1["status"] == "failed"
    assert broken_ex1["points"] < broken_ex1["max_points"]
    for grade in grades.values():
        assert {key for key, exercise in grade["exercises"].items()
                if exercise["status"] == "missing"} == {"ex2", "ex3", "ex4", "ex5", "ex6"}


def test_a_student_repository_grades_itself(good_and_broken: tuple[Path, Path],
                                            venv_bin: Path, outside: dict[str, str]) -> None:
    """``kafka-lab grade .`` and ``pytest --pyargs pytest_kafka_lab.course`` at the root of
    a student's repository, as its CI runs them, with every platform's report."""
    good, _ = good_and_broken
    reports = good / "grade"
    run(["kafka-lab", "grade", ".", "--out", "grade/book", "--gradescope", "grade/results.json",
         "--classroom", "grade/classroom.json", "--feedback", "grade/FEEDBACK.md",
         "--junit", "grade/junit.xml"], cwd=good, env=outside)
    (row,) = json.loads((reports / "book.json").read_text())
    assert ex1(row)["status"] == "passed"
    results = json.loads((reports / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    assert results["score"] == EX1_CHECK_COUNT
    classroom = json.loads(base64.b64decode((reports / "classroom.json.b64").read_text()))
    jsonschema.validate(classroom, CLASSROOM_SCHEMA)
    assert classroom == json.loads((reports / "classroom.json").read_text())
    assert sum(test["score"] for test in classroom["tests"]) == EX1_CHECK_COUNT
    assert "10/10" in (reports / "FEEDBACK.md").read_text()
    cases = ET.parse(reports / "junit.xml").getroot().iter("testcase")
    properties = [{p.get("name"): p.get("value") for p in case.iter("property")}
                  for case in cases]
    assert sum(case.get("exercise") == "ex1" for case in properties) == EX1_CHECK_COUNT
    run([venv_bin / "pytest", "--pyargs", "pytest_kafka_lab.course", "-p", "no:cacheprovider",
         "--lab-submission", ".", "--lab-report", "pyargs.json"], cwd=good, env=outside)
    pyargs = json.loads((good / "pyargs.json").read_text())
    jsonschema.validate(pyargs, REPORT_SCHEMA)
    assert ex1(pyargs)["status"] == "passed"


# --- the recipes of docs/, each run as written, from the built wheel ----------------------


def run_as_written(command: list[str | Path], cwd: Path, env: dict[str, str]
                   ) -> subprocess.CompletedProcess[str]:
    """A recipe's step, whatever its exit (the test judges it)."""
    return subprocess.run([str(part) for part in command], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with nothing installed: a CI runner's Python, where a
    recipe's own install step puts the package."""
    venv = tmp_path_factory.mktemp("runner") / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=venv.parent)
    return venv / "bin"


def course_repository(student: Path, wheel: Path, root: Path) -> Path:
    """A student's repository as a course's recipes expect it: the exercise files, and the
    wheel where ``KAFKA_LAB_PACKAGE``'s default names it."""
    repo = root / "course-repo"
    shutil.copytree(student, repo)
    (repo / "kafka-lab").mkdir()
    shutil.copy(wheel, repo / "kafka-lab")
    return repo


def ci_env(outside: dict[str, str], bin_folder: Path, **extra: str) -> dict[str, str]:
    """``outside`` with another venv's ``bin`` first on PATH."""
    path = [str(bin_folder)] + [part for part in outside["PATH"].split(os.pathsep)
                                if not part.startswith(str(bin_folder.parent.parent))]
    return {**outside, "PATH": os.pathsep.join(path), **extra}


def test_the_github_recipe_installs_and_grades_as_written(
        tmp_path: Path, wheel: Path, bare_venv: Path, good_and_broken: tuple[Path, Path],
        outside: dict[str, str]) -> None:
    """The workflow's install and grading steps, as one script on a bare Python, with its
    own default ``KAFKA_LAB_PACKAGE``: the broken submission loses points, the step exits
    0, and the Classroom result passes (the reporter would not fail the job)."""
    _, broken = good_and_broken
    repo = course_repository(broken, wheel, tmp_path)
    workflow = yaml.safe_load(GITHUB_GRADE.read_text())
    steps = {step.get("name"): step for step in workflow["jobs"]["run-autograding-tests"][
        "steps"]}
    script = "\n".join(["set -eo pipefail", steps["Install pytest-kafka-lab"]["run"],
                        steps["Grade the repository"]["run"]])
    output, summary = tmp_path / "github-output", tmp_path / "step-summary.md"
    env = ci_env(outside, bare_venv, **workflow["env"], GITHUB_OUTPUT=str(output),
                 GITHUB_STEP_SUMMARY=str(summary))
    finished = run_as_written(["bash", "-c", script], repo, env)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    (line,) = output.read_text().splitlines()
    result = json.loads(base64.b64decode(line.removeprefix("result=")))
    jsonschema.validate(result, CLASSROOM_SCHEMA)
    assert result["status"] == "pass"
    assert any(test["status"] == "fail" for test in result["tests"])
    assert summary.read_text().startswith("### Kafka lab grade: `course-repo`:")
    reports = repo / workflow["env"]["REPORTS"]
    assert {"gradebook.json", "results.json", "classroom.json", "FEEDBACK.md"} <= {
        path.name for path in reports.iterdir()}


def test_the_gitlab_recipe_installs_and_grades_as_written(
        tmp_path: Path, wheel: Path, bare_venv: Path, good_and_broken: tuple[Path, Path],
        outside: dict[str, str]) -> None:
    """The job's install and script lines (the distribution's packages aside), with its own
    variables: lost points pass the job unless ``FAIL_ON_LOST_POINTS`` is true."""
    _, broken = good_and_broken
    repo = course_repository(broken, wheel, tmp_path)
    job = yaml.safe_load(GITLAB_GRADE.read_text())["grade"]
    lines = [line for line in job["before_script"] if not line.startswith("apt-get")]
    script = "\n".join(["set -e", *lines, *job["script"]])
    variables = {name: value for name, value in job["variables"].items()
                 if name not in ("KAFKA_LAB_CACHE_DIR", "MAVEN_OPTS")}
    env = ci_env(outside, bare_venv, **variables, CI_PROJECT_DIR=str(repo))
    finished = run_as_written(["bash", "-c", script], repo, env)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    cases = list(ET.parse(repo / "reports" / "junit.xml").getroot().iter("testcase"))
    assert any(case.find("failure") is not None for case in cases)
    assert "# Kafka lab feedback" in finished.stdout
    strict = run_as_written(["bash", "-c", job["script"][-1]], repo,
                            {**env, "FAIL_ON_LOST_POINTS": "true"})
    assert strict.returncode == 1, strict.stderr


@pytest.fixture(scope="module")
def autograder(wheel: Path, tmp_path_factory: pytest.TempPathFactory,
               kafka_lab_config: LabConfig) -> tuple[Path, dict[str, str]]:
    """A simulated ``/autograder`` built by Gradescope's ``setup.sh`` as written: its zip
    (``setup.sh``, ``run_autograder``, the wheel) in ``source/``, the venv it makes, and
    the environment that points both scripts there."""
    root = tmp_path_factory.mktemp("gradescope") / "autograder"
    (root / "source").mkdir(parents=True)
    for name in ("setup.sh", "run_autograder"):
        shutil.copy(ROOT / "docs" / "gradescope" / name, root / "source")
    shutil.copy(wheel, root / "source")
    venv = root.parent / "opt-kafka-lab"
    keep = {name: value for name, value in os.environ.items()
            if not name.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST", "TOX", "KAFKA_LAB"))}
    path = [part for part in keep.get("PATH", "").split(os.pathsep)
            if ".tox" not in part and ".venv" not in part]
    env = {**keep, "PATH": os.pathsep.join(path), "AUTOGRADER_ROOT": str(root),
           "KAFKA_LAB_VENV": str(venv), "KAFKA_LAB_BIN": str(venv / "bin"),
           "KAFKA_LAB_CACHE_DIR": str(kafka_lab_config.cache_dir)}
    finished = run_as_written(["bash", root / "source" / "setup.sh"], root, env)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return root, env


def test_the_gradescope_recipe_sets_up_and_grades_a_submission(
        autograder: tuple[Path, dict[str, str]], good_and_broken: tuple[Path, Path]) -> None:
    root, env = autograder
    _, broken = good_and_broken
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.copytree(broken, root / "submission")
    finished = run_as_written(["bash", root / "source" / "run_autograder"], root, env)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    ex1_tests = [test for test in results["tests"] if test["name"].startswith("ex1")]
    assert len(ex1_tests) == EX1_CHECK_COUNT
    assert 0 < results["score"] < EX1_CHECK_COUNT
    assert any(test["score"] == 0 and test["output"] for test in ex1_tests)
    assert not any("`" in test["output"] for test in results["tests"]), \
        "Gradescope shows plain text as it is: no Markdown marks"


def test_a_grader_failure_on_gradescope_tells_the_staff_in_results_json(
        autograder: tuple[Path, dict[str, str]], good_and_broken: tuple[Path, Path]) -> None:
    """A ``points.toml`` naming a check the course lacks: ``run_autograder`` exits
    non-zero, and ``results.json`` says it is the grader's fault and what it is."""
    root, env = autograder
    good, _ = good_and_broken
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.copytree(good, root / "submission")
    (root / "results" / "results.json").unlink(missing_ok=True)
    points = root / "source" / "points.toml"
    points.write_text("[ex1]\nno_such_check = 2\n")
    try:
        finished = run_as_written(["bash", root / "source" / "run_autograder"], root, env)
    finally:
        points.unlink()
    assert finished.returncode == 2, finished.stdout + finished.stderr
    assert "no_such_check" in finished.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    assert results["score"] == 0
    assert "not of your code" in results["output"]
    assert "no_such_check" in results["extra_data"]["grader_error"]
    [staff] = results["tests"]
    assert staff["visibility"] == "hidden"
    assert "no_such_check" in staff["output"]
