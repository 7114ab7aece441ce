"""The import rules of ``docs/ARCHITECTURE.md``, read from the source: who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "pytest_kafka_lab"
PLUGINS = {"pytest_kafka_lab.plugin", "pytest_kafka_lab.grading.plugin"}
BACKENDS = {f"pytest_kafka_lab.backends.{name}"
            for name in ("local", "cluster", "container", "external", "xdist_shared")}
# Code that runs inside a student's process: copied into the run's own library, where it
# imports the standard library and its own folder (relatively) only.
INSIDE = PACKAGE / "grading" / "inside"


def imports_of(module: Path) -> set[str]:
    """Every ``pytest_kafka_lab`` module that ``module`` imports, at any depth of its code
    (``from pytest_kafka_lab.x import y`` counts as ``pytest_kafka_lab.x``)."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "pytest_kafka_lab"}


def sources(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def relative(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


@pytest.mark.parametrize("folder", ["pytest_kafka_lab", "scenarios", "benchmarks"])
def test_nothing_imports_a_plugin_module(folder: str) -> None:
    offenders = {str(path.relative_to(ROOT)): imports_of(path) & PLUGINS
                 for path in sources(ROOT / folder)}
    assert not {path: names for path, names in offenders.items() if names}


def test_no_backend_imports_another() -> None:
    offenders = {}
    for path in sources(PACKAGE / "backends"):
        if path.name == "__init__.py":  # broker_for chooses among them
            continue
        own = f"pytest_kafka_lab.backends.{path.stem}"
        others = (imports_of(path) & BACKENDS) - {own}
        if others:
            offenders[path.name] = others
    assert not offenders


def test_the_plugin_never_imports_the_grader() -> None:
    offenders = {relative(path): {name for name in imports_of(path)
                                  if name.startswith("pytest_kafka_lab.grading")}
                 for path in sources(PACKAGE) if "grading" not in path.parts
                 and path.name != "cli.py"}  # kafka-lab's command line offers `grade`
    assert not {path: names for path, names in offenders.items() if names}


def test_code_run_inside_a_submission_imports_nothing_of_the_package() -> None:
    offenders = {relative(path): imports_of(path) for path in sources(INSIDE)}
    assert not {path: names for path, names in offenders.items() if names}


def test_the_grader_imports_of_the_inside_only_names_and_classes() -> None:
    """The grader may read constants and the ``Boundary`` of the inside modules, whose
    copies run in the student's process: nothing of the grader imports the other way."""
    assert sources(INSIDE), "grading/inside holds the in-process code"
    for path in sources(INSIDE):
        tree = ast.parse(path.read_text())
        relative_only = [node for node in ast.walk(tree)
                         if isinstance(node, ast.ImportFrom) and node.level == 0
                         and node.module and node.module.startswith("pytest_kafka_lab")]
        assert not relative_only, relative(path)


def test_the_wire_stands_alone() -> None:
    """The proxy and its decoders import only each other: the grader's process may run it
    anywhere, and nothing of a run or a check reaches into it."""
    wire = PACKAGE / "grading" / "wire"
    offenders = {relative(path): {name for name in imports_of(path)
                                  if not name.startswith("pytest_kafka_lab.grading.wire")}
                 for path in sources(wire)}
    assert sources(wire)
    assert not {path: names for path, names in offenders.items() if names}


@pytest.mark.parametrize("module", ["grading/report.py", "events.py"])
def test_leaf_modules_import_nothing_of_the_package(module: str) -> None:
    assert imports_of(PACKAGE / module) == set()


def test_the_rules_can_see_an_import(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text("import json\nfrom pytest_kafka_lab.plugin import x\n"
                      "def f():\n    import pytest_kafka_lab.backends.local\n")
    assert imports_of(module) == {"pytest_kafka_lab.plugin", "pytest_kafka_lab.backends.local"}


def named_in_the_architecture() -> set[str]:
    """What ``docs/ARCHITECTURE.md`` writes in backticks: paths, file names, module names."""
    import re

    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    return {token.strip() for token in re.findall(r"`([^`\n]+)`", text)}


def test_every_module_of_the_package_is_named_in_the_architecture() -> None:
    """Each module has its line in ``docs/ARCHITECTURE.md``: by its path, its file name in
    a row of its folder's, or its name in its folder's row (a package's ``__init__`` goes
    with its folder)."""
    named = named_in_the_architecture()
    missing = [relative(path) for path in sources(PACKAGE) if path.name != "__init__.py"
               and not {relative(path), path.name, path.stem} & named]
    assert not missing, f"not in docs/ARCHITECTURE.md: {missing}"
