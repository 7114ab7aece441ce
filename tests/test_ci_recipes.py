"""The CI recipes in ``docs/`` that course staff copy: each parses, and every ``kafka-lab``
command they run exists in the package with those options (``tox -e workflows`` also
runs actionlint on the GitHub Actions files)."""

from __future__ import annotations

import re
import shlex
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


def test_the_gitlab_job_keeps_its_reports() -> None:
    job = load(GITLAB_GRADE)["grade"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "reports/junit.xml"
