"""The CI recipes in ``docs/`` that course staff copy: each parses, and every ``kafka-lab``
command they run exists in the package with those options (``tox -e workflows`` also
runs actionlint on the GitHub Actions files)."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_kafka_lab.cli import parser

DOCS = Path(__file__).parent.parent / "docs"
GITHUB_GRADE = DOCS / "ci" / "github-grade.yml"
GITHUB_CLASS = DOCS / "ci" / "grade-class-matrix.yml"
GITLAB_GRADE = DOCS / "ci" / "gitlab-grade.yml"
RUN_AUTOGRADER = DOCS / "gradescope" / "run_autograder"
SETUP_SH = DOCS / "gradescope" / "setup.sh"
PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"
# Shell variables and GitHub expressions: each becomes a plain word that every option
# takes (a number, as --shard K/N and -j want).
PLAIN = "1"
SHELL_VALUE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")


def load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def github_steps(workflow: Path = GITHUB_GRADE) -> list[dict[str, Any]]:
    return [step for job in load(workflow)["jobs"].values() for step in job["steps"]]


def scripts() -> dict[str, str]:
    """Every shell script of every recipe, by where it is."""
    found = {f"github step {step.get('name', step.get('uses'))}": step["run"]
             for workflow in (GITHUB_GRADE, GITHUB_CLASS)
             for step in github_steps(workflow) if "run" in step}
    job = load(GITLAB_GRADE)["grade"]
    found |= {f"gitlab {part}": "\n".join(job[part]) for part in ("before_script", "script")}
    found["gradescope run_autograder"] = RUN_AUTOGRADER.read_text()
    return found


def kafka_lab_commands(script: str) -> list[list[str]]:
    """The argument lists of each ``kafka-lab`` command of a script, with shell values
    (``"$REPORTS/x"``, ``"${options[@]}"``, ``$( ... )``) made plain or dropped."""
    script = script.replace("\\\n", " ").replace('"$kafka_lab"', "kafka-lab")
    script = re.sub(r"\$\{\{[^}]*\}\}", PLAIN, script)  # GitHub's expressions
    script = re.sub(r"\$\((?:[^()]|\([^()]*\))*\)|\"\$\{\w+\[@\]\}\"", "", script)
    commands = []
    for line in script.splitlines():
        words = shlex.split(SHELL_VALUE.sub(PLAIN, line), comments=True)
        for index, word in enumerate(words):
            if word == "kafka-lab" or (word.endswith("/kafka-lab") and "=" not in word):
                commands.append(words[index + 1:])
    return commands


def test_every_recipe_runs_kafka_lab_grade() -> None:
    graded = {where for where, script in scripts().items()
              if any(command[:1] == ["grade"] for command in kafka_lab_commands(script))}
    assert graded == {"github step Grade the repository", "gitlab script",
                      "gradescope run_autograder", "github step Merge the slices",
                      "github step Grade this job's slice of the class"}


@pytest.mark.parametrize("where", sorted(scripts()))
def test_every_kafka_lab_command_of_a_recipe_exists(where: str) -> None:
    for command in kafka_lab_commands(scripts()[where]):
        try:
            parser().parse_args(command)
        except SystemExit as exit_:
            pytest.fail(f"{where}: `kafka-lab {shlex.join(command)}` is refused by the "
                        f"package's command line (exit {exit_.code})")


def test_the_github_workflow_sets_up_what_grading_needs() -> None:
    workflow = load(GITHUB_GRADE)
    # PyYAML reads the key `on` as True, as YAML 1.1 says.
    triggers = workflow[True]
    assert "push" in triggers
    for trigger in ("workflow_dispatch", "workflow_call"):
        assert triggers[trigger]["inputs"]["fail-on-lost-points"]["type"] == "boolean"
    steps = {step.get("uses", "").split("@")[0]: step for step in github_steps()}
    assert steps["actions/setup-java"]["with"]["java-version"] == "17"
    assert steps["actions/setup-python"]["with"]["python-version"] >= "3.11"
    cached = steps["actions/cache"]["with"]["path"].split()
    assert {"~/.cache/pytest-kafka-lab", "~/.m2/repository"} <= set(cached)
    assert steps["actions/upload-artifact"]["if"] == "always()"


def test_the_classroom_reporter_reads_the_grading_step() -> None:
    """The reporter finds a runner's result in ``<RUNNER>_RESULTS``, the step's ``result``
    output (base64 JSON)."""
    by_id = {step.get("id"): step for step in github_steps()}
    reporter = next(step for step in github_steps()
                    if step.get("uses", "").startswith(
                        "classroom-resources/autograding-grading-reporter@"))
    runner = reporter["with"]["runners"]
    assert runner in by_id
    assert reporter["env"][f"{runner.upper()}_RESULTS"] == (
        f"${{{{ steps.{runner}.outputs.result }}}}")
    assert 'echo "result=$(base64 -w0' in by_id[runner]["run"]


def built_wheel_name() -> str:
    """The file name ``pip wheel`` gives this project's wheel at its current version."""
    version = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    return f"pytest_kafka_lab-{version}-py3-none-any.whl"


def test_every_recipe_installs_one_variable_whose_default_is_the_built_wheel() -> None:
    """``KAFKA_LAB_PACKAGE`` defaults, in every recipe, to the wheel this version builds
    (the package is on no index): kept in the course repository's ``kafka-lab/``, or in
    Gradescope's zip beside ``setup.sh``."""
    wheel = built_wheel_name()
    assert load(GITHUB_GRADE)["env"]["KAFKA_LAB_PACKAGE"] == f"kafka-lab/{wheel}"
    assert load(GITHUB_CLASS)["env"]["KAFKA_LAB_PACKAGE"] == f"kafka-lab/{wheel}"
    assert load(GITLAB_GRADE)["grade"]["variables"]["KAFKA_LAB_PACKAGE"] == f"kafka-lab/{wheel}"
    assert f'KAFKA_LAB_PACKAGE="${{KAFKA_LAB_PACKAGE:-$source_dir/{wheel}}}"' \
        in SETUP_SH.read_text()
    installs = [line for where, script in scripts().items() for line in script.splitlines()
                if "pip install" in line and "--upgrade pip" not in line]
    installs += [line for line in SETUP_SH.read_text().splitlines()
                 if "pip\" install" in line and "--upgrade" not in line]
    assert installs
    assert all('"$KAFKA_LAB_PACKAGE"' in line for line in installs), installs


def test_the_workflow_has_the_names_github_classroom_records_a_score_from() -> None:
    """Classroom's own template: workflow ``Autograding Tests``, one job
    ``run-autograding-tests``, started on push and by ``repository_dispatch``."""
    workflow = load(GITHUB_GRADE)
    assert workflow["name"] == "Autograding Tests"
    assert list(workflow["jobs"]) == ["run-autograding-tests"]
    assert "repository_dispatch" in workflow[True]


def test_lost_points_fail_the_github_job_only_when_asked() -> None:
    """The grading step's exit is the grader's (non-zero only when it could not grade);
    the one step that fails on lost points runs only under ``fail-on-lost-points``."""
    steps = github_steps()
    grading = next(step for step in steps if step.get("id") == "kafkalab")
    assert "|| true" not in grading["run"]
    assert "set +e" not in grading["run"]
    failing = [step for step in steps if "sys.exit(1" in step.get("run", "")]
    assert [step.get("if") for step in failing] == ["inputs.fail-on-lost-points"]


def test_the_gitlab_job_keeps_its_reports() -> None:
    job = load(GITLAB_GRADE)["grade"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "reports/junit.xml"
