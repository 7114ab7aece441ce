"""Which layers of isolation hold for a sandbox's runs, and why each missing one is missing.

Every layer is optional: detected once per sandbox, and grading goes on without the ones
a machine refuses (not root, an older kernel, a container's profile). What held is said
in pytest's header, in the grade report (``isolation``) and on each ``Run``.

The per-file cap (``RLIMIT_FSIZE``) is set here: it holds on every POSIX system, bounds
each file a run writes, its stdout and stderr among them (files the grader opened, which
the run writes), and makes a larger write fail with ``EFBIG`` (Python ignores
``SIGXFSZ``; a program that does not dies of it).
"""

from __future__ import annotations

import os
import resource
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pytest_kafka_lab.grading.sandbox import cgroups, confinement, namespaces
from pytest_kafka_lab.grading.sandbox.namespaces import FOLDER_SIZE, SHARED_MEMORY_SIZE
from pytest_kafka_lab.grading.sandbox.run_user import RUN_UID

FILE_SIZE_MAX = 64 * 1024 * 1024
MIB = 1024 * 1024
# How pytest's header names each layer in force.
NAMES = {
    "landlock": "confined to its folder (Landlock ABI {abi})",
    "network": "connects to its own proxy alone",
    "pid_namespace": "a PID namespace of its own (nothing it starts outlives it)",
    "proc_hidden": "its own /proc",
    "private_shm": f"its own /dev/shm ({SHARED_MEMORY_SIZE // MIB} MiB)",
    "pids_cap": f"at most {cgroups.PIDS_MAX} tasks",
    "memory_cap": f"at most {cgroups.MEMORY_MAX // MIB} MiB of memory",
    "file_size_cap": f"files of at most {FILE_SIZE_MAX // MIB} MiB",
    "folder_cap": f"at most {FOLDER_SIZE // MIB} MiB written in its folder (a tmpfs)",
    "unprivileged_uid": "as an unprivileged user (uid {uid})",
}


@dataclass(frozen=True)
class Isolation:
    """The layers in force for a sandbox's runs; ``refused``: (layer, why) for the rest."""

    landlock: bool = False
    network: bool = False
    pid_namespace: bool = False
    proc_hidden: bool = False
    private_shm: bool = False
    pids_cap: bool = False
    memory_cap: bool = False
    file_size_cap: bool = False
    folder_cap: bool = False
    unprivileged_uid: bool = False
    refused: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def layers() -> list[str]:
        return [field.name for field in fields(Isolation) if field.name != "refused"]

    def in_force(self) -> list[str]:
        return [layer for layer in self.layers() if getattr(self, layer)]

    def as_dict(self) -> dict[str, Any]:
        """For the grade report: the layers in force, and why each other one is not."""
        return {"in_force": self.in_force(), "refused": dict(self.refused)}

    def describe(self) -> list[str]:
        """Lines for pytest's header: the layers in force, then each refused, and why."""
        held = ", ".join(NAMES[layer].format(abi=confinement.abi(), uid=run_uid())
                         for layer in self.in_force())
        return [f"each run: {held or 'no isolation'}",
                *(f"not in force: {layer} ({why})" for layer, why in self.refused)]


@dataclass(frozen=True)
class Layers:
    """What a sandbox's runs get: its ``isolation`` as reported, the ``namespaces`` each
    run enters (None: none) and the cgroup ``controllers`` that cap each run."""

    isolation: Isolation
    namespaces: namespaces.Namespaces | None
    controllers: tuple[str, ...]


def detect(supervisor: Path, network: str | None = None) -> Layers:
    """Every layer, tried on this machine (namespaces with ``supervisor``, the script
    the runs will use); ``network``: why runs have no proxy of their own, if they do not."""
    spaces = namespaces.detect(supervisor)
    controllers = cgroups.refusals()
    isolation = assess(confinement.unavailable(), network, spaces, controllers)
    return Layers(isolation, spaces if isinstance(spaces, namespaces.Namespaces) else None,
                  tuple(controller for controller, why in controllers.items() if why is None))


def assess(landlock: str | None, network: str | None,
           run_namespaces: namespaces.Namespaces | str,
           controllers: dict[str, str | None]) -> Isolation:
    """The isolation of a sandbox, from why each layer is refused (None: in force)."""
    spaces = None if isinstance(run_namespaces, namespaces.Namespaces) else run_namespaces
    reasons = {
        "landlock": landlock,
        "network": landlock or network or connections_refused(),
        "pid_namespace": spaces,
        "proc_hidden": spaces,
        "private_shm": spaces,
        "pids_cap": controllers.get("pids", "not tried"),
        "memory_cap": controllers.get("memory", "not tried"),
        "file_size_cap": file_size_refused(),
        "folder_cap": spaces,
        "unprivileged_uid": uid_refused(run_namespaces),
    }
    return Isolation(**{layer: why is None for layer, why in reasons.items()},
                     refused=tuple((layer, why) for layer, why in reasons.items()
                                   if why is not None))


def connections_refused() -> str | None:
    if confinement.confines_connections():
        return None
    return f"Landlock ABI {confinement.abi()} has no network rules (ABI 4 and later)"


def file_size_refused() -> str | None:
    if not hasattr(resource, "RLIMIT_FSIZE"):
        return f"no RLIMIT_FSIZE on {sys.platform}"
    return None


def limit_files() -> None:
    """In the child, before exec: no file larger than ``FILE_SIZE_MAX`` (or the hard
    limit the grader itself has, if lower), and no core dumps (honest work needs none)."""
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    size = FILE_SIZE_MAX if hard == resource.RLIM_INFINITY else min(hard, FILE_SIZE_MAX)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def uid_refused(run_namespaces: namespaces.Namespaces | str) -> str | None:
    """Why runs do not run as an unprivileged user. A grader that is not root runs them
    as itself; a root grader's become ``run_user.RUN_UID`` in their mount namespace, where
    the folders they need are opened to that user; without one they keep uid 0, without
    capabilities."""
    if os.geteuid() != 0:
        return None
    keep = "runs keep uid 0, without capabilities"
    if isinstance(run_namespaces, str):
        return f"{keep}: no mount namespace to open their folders to another user in"
    if run_namespaces.user:
        return f"{keep}: a user namespace cannot become another user of the machine"
    if run_namespaces.run_user is None:
        return f"{keep}: {run_namespaces.run_user_refused or 'no unprivileged user'}"
    return None


def run_uid() -> int:
    """The uid runs have: the run user's for a root grader, else the grader's own."""
    return RUN_UID if os.geteuid() == 0 else os.geteuid()
