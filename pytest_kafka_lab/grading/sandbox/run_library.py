"""A run's library: the one folder on a graded run's ``PYTHONPATH``.

It holds a copy of the grader's in-process modules (``grading/inside``) as a top-level
package of their own, the ``sitecustomize`` that starts them, the Kafka client's package
(linked where it is installed), the ``docker`` stand-in and the course's tools it runs
(``docker_shim.COURSE_TOOLS``), and the tools' logging settings.
Built once per sandbox, and read by every run: so that a run imports what it needs from
here and reads nothing of this package, where the course's answers are installed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from pytest_kafka_lab.distribution import TOOLS_LOG4J_CONFIG, Distribution
from pytest_kafka_lab.grading import inside
from pytest_kafka_lab.grading.inside.docker_shim import COURSE_TOOLS
from pytest_kafka_lab.grading.sandbox.read_set import client_folders
from pytest_kafka_lab.tools import tool_command

# The in-process modules' name in a run: not this package's, which a run cannot read.
INSIDE_PACKAGE = "kafka_lab_inside"
SITECUSTOMIZE = (f"# Loaded by Python at start-up in a graded run: {INSIDE_PACKAGE} is the\n"
                 "# grader's in-process code (watch, instrument).\n"
                 f"from {INSIDE_PACKAGE}.startup import start\n\nstart()\n")


@dataclass(frozen=True)
class RunLibrary:
    folder: Path   # on PYTHONPATH
    bin: Path      # first on PATH: the ``docker`` stand-in
    tools: str     # JSON: {tool: its command line without arguments}, for the stand-in

    @property
    def readable(self) -> list[Path]:
        return [self.folder, self.bin]

    @property
    def supervisor(self) -> Path:
        """``inside/supervisor.py``, as copied here: the init of a run's PID namespace."""
        return self.folder / INSIDE_PACKAGE / "supervisor.py"

    def runner(self) -> list[str]:
        """The command that runs ``inside/runner.py`` from the library."""
        return [sys.executable, "-m", f"{INSIDE_PACKAGE}.runner"]


def build_run_library(root: Path, distribution: Distribution) -> RunLibrary:
    folder, bin_folder = root / "lib", root / "bin"
    shutil.copytree(Path(inside.__file__).parent, folder / INSIDE_PACKAGE,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    for client in client_folders():
        (folder / client.name).symlink_to(client, target_is_directory=True)
    log_config = folder / TOOLS_LOG4J_CONFIG.name
    shutil.copy(TOOLS_LOG4J_CONFIG, log_config)
    bin_folder.mkdir(parents=True, exist_ok=True)
    docker = bin_folder / "docker"
    docker.write_text(f"#!{sys.executable}\nimport sys\n"
                      f"from {INSIDE_PACKAGE}.docker_shim import main\n"
                      "sys.exit(main())\n")
    docker.chmod(0o755)
    tools = {name: [word.replace(str(TOOLS_LOG4J_CONFIG), str(log_config))
                    for word in tool_command(distribution, name)]
             for name in COURSE_TOOLS}
    os.chmod(folder, 0o755)
    return RunLibrary(folder, bin_folder, json.dumps(tools))
