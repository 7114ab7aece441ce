"""The course's answers stay out of a run's reach when the grader is installed from its
source distribution too: pip builds the sdist into site-packages of a fresh virtual
environment, and a run started by that install can neither find nor read the reference
solutions (issue 19, item 1: a wheel install is proven by ``tests/test_attacks.py``, an
editable checkout by ``tests/test_grading_sandbox.py``)."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.config import LabConfig
from tests.test_wheel_install import NOT_BUILT, ROOT, run

pytestmark = pytest.mark.slow

# Run by the sdist's venv: a sandboxed run of PROBE, reported as JSON on stdout.
GRADER = """
import json, sys
from pathlib import Path

from pytest_kafka_lab.distribution import resolve_distribution
from pytest_kafka_lab.grading.sandbox import Sandbox

bootstrap, cache, folder = sys.argv[1:4]
sandbox = Sandbox(bootstrap, resolve_distribution(Path(cache)))
try:
    result = sandbox.start_script(Path(folder), "probe.py").finish(60)
finally:
    sandbox.cleanup()
print(json.dumps({"stdout": result.stdout, "stderr": result.stderr,
                  "exit_code": result.exit_code}))
"""

# The attack: find the reference by its module name, then read it by its path.
PROBE = """
import importlib.util, json, sys

found = {}
try:
    spec = importlib.util.find_spec("pytest_kafka_lab.course.reference.exercise_producer")
    found["spec"] = spec.origin if spec else None
except Exception as error:
    found["spec"] = type(error).__name__
try:
    with open(sys.argv[1] if len(sys.argv) > 1 else REFERENCE) as answers:
        found["read"] = answers.read()[:40]
except OSError as error:
    found["read"] = type(error).__name__
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def sdist_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh virtual environment into which pip installed the sdist
    (built from a copy of the checkout's sources)."""
    work = tmp_path_factory.mktemp("sdist")
    shutil.copytree(ROOT, work / "source", ignore=NOT_BUILT)
    run([sys.executable, "-c", "import sys; from setuptools import build_meta; "
         "build_meta.build_sdist(sys.argv[1])", work / "dist"], cwd=work / "source")
    (built,) = (work / "dist").glob("pytest_kafka_lab-*.tar.gz")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=work)
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", built], cwd=work)
    return venv / "bin" / "python"


def test_a_run_of_an_sdist_install_can_neither_find_nor_read_the_answers(
    sdist_python: Path, kafka_broker: KafkaBroker, kafka_lab_config: LabConfig, tmp_path: Path
) -> None:
    where = run([sdist_python, "-c", "import importlib.util; print(importlib.util.find_spec("
                 "'pytest_kafka_lab.course.reference.exercise_producer').origin)"], cwd=tmp_path)
    answers = Path(where.stdout.strip())
    assert "site-packages" in answers.parts
    assert answers.is_file()
    folder = tmp_path / "submission"
    folder.mkdir()
    probe = textwrap.dedent(PROBE).replace("REFERENCE", repr(str(answers)))
    (folder / "probe.py").write_text(probe)
    graded = run([sdist_python, "-c", textwrap.dedent(GRADER), kafka_broker.bootstrap_servers,
                  kafka_lab_config.cache_dir, folder], cwd=tmp_path)
    result = json.loads(graded.stdout.strip().splitlines()[-1])
    assert result["exit_code"] == 0, result["stderr"]
    found = json.loads(result["stdout"].strip().splitlines()[-1])
    assert found["spec"] in (None, "ModuleNotFoundError"), found
    assert found["read"] == "PermissionError", found
    # The control: the same probe, run by the grader's own process, finds and reads them.
    honest = json.loads(run([sdist_python, "-c", probe], cwd=tmp_path).stdout)
    assert honest["spec"] == str(answers), honest
    assert honest["read"], honest
