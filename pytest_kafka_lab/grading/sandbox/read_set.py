"""What a graded run may read: exactly what it needs, and never the answers.

A run needs the system's folders, this Python's interpreter and standard library,
confluent-kafka and the libraries it ships, Java and Kafka's jars (for the ``docker``
stand-in), and its run library (``run_library``: the grader's in-process modules, copied).
It needs nothing else of site-packages, and it must never read this package: the course's
checks and its reference solutions are installed in it (``pytest_kafka_lab.course``),
whether from a wheel, an sdist or an editable checkout.

Landlock grants a right on a folder and everything beneath it, and cannot take it back
for a subfolder. So a folder that holds something forbidden is never granted whole: it
is *carved*, each of its entries granted on its own, down to the forbidden ones, which
get nothing (``carve``). Python finds a module by listing its ``sys.path`` folders, so
the folders of the standard library stay listable even when site-packages lies within
them (a Python without a virtual environment): a run may then see the names there, and
read none of the files.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import site
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest_kafka_lab
from pytest_kafka_lab.distribution import Distribution

SYSTEM_FOLDERS = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/proc",
                  "/sys")
# /dev as a whole is not readable: for root, it holds the raw disks.
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
# The machine's secrets in its system folders: where a root grader's runs keep uid 0
# (without capabilities: ``run_user`` refused), uid 0 owns these, and their file modes
# would not refuse them.
SECRETS = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers",
           "/etc/sudoers.d", "/etc/ssh", "/etc/ssl/private", "/etc/security/opasswd")
# The distributions whose folders a run imports from site-packages.
CLIENT_PACKAGES = ("confluent_kafka",)
PACKAGE_FOLDERS = ("site-packages", "dist-packages")


@dataclass(frozen=True)
class ReadSet:
    """``readable``: granted whole (files and folders); ``listable``: folders whose
    entries may be listed (and no more, unless also readable)."""

    readable: tuple[Path, ...]
    listable: tuple[Path, ...]


def read_set(distribution: Distribution, extra: Iterable[Path] = ()) -> ReadSet:
    """Everything a run needs, less everything ``forbidden()``."""
    forbidden = forbidden_paths()
    roots = [*map(Path, SYSTEM_FOLDERS), *system_files(), *interpreter_paths(),
             *java_folders(distribution)]
    listable = standard_library_folders()
    readable: list[Path] = []
    for root in dict.fromkeys(roots):
        readable += carve(root, forbidden)
    # Granted on their own, whatever folder holds them.
    readable += [*client_folders(), *extra]
    return ReadSet(tuple(dict.fromkeys(readable)), tuple(listable))


def carve(root: Path, forbidden: Iterable[Path]) -> list[Path]:
    """``root`` less the ``forbidden`` paths: ``[root]`` when none lies within it, else
    its entries, each carved in turn (symbolic links are granted where they point)."""
    if root.is_symlink():  # the kernel grants what a link points to: carve that
        root = real(root)
    within = [path for path in forbidden if path == root or root in path.parents]
    if not within:
        return [root] if os.path.lexists(root) else []
    if root in within or not root.is_dir():
        return []
    carved: list[Path] = []
    with contextlib.suppress(OSError):
        for entry in sorted(root.iterdir()):
            carved += carve(entry, within)
    return carved


def real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(path))


def forbidden_paths() -> list[Path]:
    """Every site-packages folder this Python knows, and this package wherever it lies,
    with the course it installs (an editable checkout's ``scenarios/`` and ``tests/``,
    whose corpus holds the course's own solutions, and its history); and the machine's
    secrets (``SECRETS``)."""
    folders: set[str | Path] = {
        *site.getsitepackages(), site.getusersitepackages(), *installed_package_folders(),
        *(entry for entry in sys.path if Path(entry).name in PACKAGE_FOLDERS)}
    package = real(Path(pytest_kafka_lab.__file__).parent)
    paths = {real(folder) for folder in folders if folder} | {package} | {
        Path(secret) for secret in SECRETS}
    checkout = package.parent
    if (checkout / "pyproject.toml").exists():
        paths |= {checkout / name for name in ("scenarios", "tests", "benchmarks", "docs",
                                                ".git")}
    return sorted(paths)


def installed_package_folders() -> list[Path]:
    """Where packages get installed around this Python and the system's: the base
    Python's site-packages under a venv, the distribution's ``dist-packages``."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, "/usr",
                "/usr/local"}
    found: list[Path] = []
    for prefix in prefixes:
        for pattern in ("lib*/python3*/site-packages", "lib*/python3*/dist-packages",
                        "lib*/python3/dist-packages"):
            found += Path(prefix).glob(pattern)
    return found


def standard_library_folders() -> list[Path]:
    """The standard library's folders (its modules, its compiled extensions): a run lists
    them to import from them."""
    library = real(Path(os.__file__).parent)
    return [folder for folder in (library, library / "lib-dynload") if folder.is_dir()]


def interpreter_paths() -> list[Path]:
    """This Python: its prefixes (a venv and the Python it was made from), carved of
    their site-packages by ``read_set``; the executable's folder as spelled and real."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable))}
    return sorted({real(path) for path in paths} | {Path(path) for path in paths})


def client_folders() -> list[Path]:
    """The folders of the Kafka client a run imports (the package, and the shared
    libraries its wheel ships beside it in ``<name>.libs``), as the kernel sees them."""
    folders: list[Path] = []
    for name in CLIENT_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        package = real(next(iter(spec.submodule_search_locations)))
        folders.append(package)
        libraries = package.with_name(f"{package.name}.libs")
        if libraries.is_dir():
            folders.append(libraries)
    return folders


def java_folders(distribution: Distribution) -> list[Path]:
    """The Java (its whole home: ``bin/java``'s grandparent) and Kafka's jars."""
    java = Path(os.path.realpath(distribution.java))
    folders = [distribution.java.parent, java.parent.parent]
    for entry in distribution.classpath.split(os.pathsep):
        folders.append(Path(entry.removesuffix("*")) if entry.endswith("*") else Path(entry))
    return folders


def system_files() -> list[Path]:
    """Files of /etc that may point elsewhere (``/etc/resolv.conf`` into ``/run``)."""
    found = []
    for name in ("/etc/resolv.conf", "/etc/hosts", "/etc/localtime"):
        with contextlib.suppress(OSError):
            found.append(Path(os.path.realpath(name, strict=True)))
    return found
