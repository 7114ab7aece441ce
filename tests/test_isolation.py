"""Saboteurs against a run's isolation (issue 22), each beside an honest control, and
each tried once more with its layer taken away, to show the attack is real: a process
that detaches every way it can, 300 processes, 200 MB to a file and to stdout, memory
beyond the cap, and a look at every process of the machine through ``/proc``."""

from __future__ import annotations

import copy
import dataclasses
import errno
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_kafka_lab.grading.sandbox import Run, Sandbox, cgroups, namespaces, run_user
from pytest_kafka_lab.grading.sandbox.isolation import FILE_SIZE_MAX, Isolation
from tests.test_grading_sandbox import running_with, submission

MIB = 1024 * 1024


def weakened(sandbox: Sandbox, root: Path, **layers: Any) -> Sandbox:
    """``sandbox`` with some of its layers taken away (``namespaces=None``,
    ``controllers=()``), running in ``root``."""
    weak = copy.copy(sandbox)
    weak.root, weak.runs = root, 0
    root.mkdir()
    weak.layers = dataclasses.replace(sandbox.layers, **layers)
    return weak


def run_in_a_fresh_sandbox(lab_sandbox: Sandbox, tmp_path: Path, source: str) -> Run:
    """``source`` run once by a sandbox of its own, whose probe of the machine's layers
    runs afresh (a test's patch of what the probe sees then holds)."""
    sandbox = Sandbox(lab_sandbox.bootstrap, lab_sandbox.distribution, tmp_path / "grading")
    try:
        folder = submission(tmp_path, "script.py", source)
        return sandbox.start_script(folder, "script.py").finish(30)
    finally:
        sandbox.cleanup()


def needs(layer: str) -> pytest.MarkDecorator:
    """Skip where this machine refuses ``layer``, saying why."""
    isolation = machine_isolation()
    return pytest.mark.skipif(not getattr(isolation, layer),
                              reason=dict(isolation.refused).get(layer, ""))


def machine_isolation() -> Isolation:
    from pytest_kafka_lab.grading.inside import supervisor
    from pytest_kafka_lab.grading.sandbox.isolation import detect
    return detect(Path(supervisor.__file__)).isolation


@pytest.fixture
def killed_afterwards() -> Iterator[list[str]]:
    """Tokens whose processes the test kills at its end, whatever happened."""
    tokens: list[str] = []
    yield tokens
    for token in tokens:
        for pid in running_with(token):
            os.kill(pid, signal.SIGKILL)


DETACH = """
    import os, subprocess, sys
    # The control: a child it waits for does its work.
    print(subprocess.run([sys.executable, "-c", "print('child done')"], capture_output=True,
                         text=True).stdout.strip(), flush=True)
    # The attack: a double fork, a new session, an empty environment (no run marker), an
    # isolated Python, living 150 s.
    if os.fork() == 0:
        os.setsid()
        subprocess.Popen([sys.executable, "-I", "-c", "import time; time.sleep(150)",
                          "{token}"], start_new_session=True, env={{}},
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        os._exit(0)
    os.wait()
    print("detached", flush=True)
"""


# What ends a detached process: the namespace, the cgroups (killed whole at the end),
# either alone, or neither (the marker alone, which an empty environment escapes).
ENDED_BY: dict[str, dict[str, Any]] = {
    "namespace and cgroups": {},
    "namespace alone": {"controllers": ()},
    "cgroups alone": {"namespaces": None},
    "neither": {"namespaces": None, "controllers": ()},
}


@needs("pid_namespace")
@needs("pids_cap")
@pytest.mark.parametrize("layers", sorted(ENDED_BY))
def test_a_detached_process_with_an_empty_environment_ends_with_its_run(
    lab_sandbox: Sandbox, tmp_path: Path, killed_afterwards: list[str], layers: str
) -> None:
    token = f"detached-{uuid.uuid4().hex}"
    killed_afterwards.append(token)
    sandbox = weakened(lab_sandbox, tmp_path / "grading", **ENDED_BY[layers])
    folder = submission(tmp_path, "detach.py", DETACH.format(token=token))
    process = sandbox.start_script(folder, "detach.py")
    time.sleep(0.5)  # whatever it started has started
    run = process.finish(30)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.split("\n")[:2] == ["child done", "detached"], run.stdout
    if layers != "neither":
        assert not running_with(token)  # at once: finish() returned after it
    else:
        time.sleep(0.5)  # the marker's SIGKILL, had it found the process, is done
        assert running_with(token), "the attack escapes the marker: kill_marked misses it"


FORKS = """
    import os, time, multiprocessing
    children, error = [], None
    for _ in range(300):
        try:
            pid = os.fork()
        except OSError as failure:
            error = failure.errno
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
    print(len(children), error, flush=True)
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    # The control: with its children gone, honest work with processes goes on.
    with multiprocessing.Pool(2) as pool:
        print(pool.map(abs, [-1, -2]))
"""


@needs("pids_cap")
@pytest.mark.parametrize("layer", ["in force", "taken away"])
def test_three_hundred_processes_are_capped(lab_sandbox: Sandbox, tmp_path: Path,
                                            layer: str) -> None:
    sandbox = lab_sandbox if layer == "in force" else \
        weakened(lab_sandbox, tmp_path / "grading", controllers=("memory",))
    folder = submission(tmp_path, "forks.py", FORKS)
    run = sandbox.start_script(folder, "forks.py").finish(60)
    assert run.exit_code == 0, run.stderr
    started, *control = run.stdout.split("\n")
    if layer == "in force":
        assert int(started.split()[0]) < cgroups.PIDS_MAX, started
        assert started.split()[1] == str(errno.EAGAIN), started
    else:
        assert started == "300 None"
    assert control[0] == "[1, 2]", run.stdout


FILL = """
    import errno, os, sys
    chunk = b"x" * (1024 * 1024)

    def fill(fd, megabytes):
        written = 0
        try:
            while written < megabytes * len(chunk):
                written += os.write(fd, chunk)
        except OSError as error:
            return written, errno.errorcode[error.errno]
        return written, None

    def to_file(name, megabytes):
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            return fill(fd, megabytes)
        finally:
            os.close(fd)

    print("small", *to_file("small.bin", 1), file=sys.stderr)  # the control
    print("file", *to_file("big.bin", 200), file=sys.stderr)
    print("stdout", *fill(1, 200), file=sys.stderr)
"""


@needs("file_size_cap")
def test_a_200_mb_file_and_200_mb_of_stdout_are_capped(lab_sandbox: Sandbox,
                                                       tmp_path: Path) -> None:
    folder = submission(tmp_path, "fill.py", FILL)
    process = lab_sandbox.start_script(folder, "fill.py")
    made = [process.workdir / "stdout.txt", *(process.workdir / "submission" / name
                                               for name in ("big.bin", "small.bin"))]
    try:
        run = process.finish(60)
        written = {path.name: path.stat().st_size for path in made if path.exists()}
    finally:
        for path in made:
            path.unlink(missing_ok=True)
    assert run.exit_code == 0, run.stderr
    said = dict(line.split(" ", 1) for line in run.stderr.splitlines())
    assert said["small"] == f"{MIB} None"
    assert said["file"] == f"{FILE_SIZE_MAX} EFBIG"
    assert said["stdout"] == f"{FILE_SIZE_MAX} EFBIG"
    # Its files went to its folder's tmpfs, where there is one, and never to this disk.
    beside = {} if lab_sandbox.isolation.folder_cap else {"big.bin": FILE_SIZE_MAX,
                                                          "small.bin": MIB}
    assert written == {"stdout.txt": FILE_SIZE_MAX, **beside}


ALLOCATE = """
    import sys
    held = b"x" * (int(sys.argv[1]) * 1024 * 1024)  # touched: every page is in use
    print("held", len(held) // (1024 * 1024), flush=True)
"""


@needs("memory_cap")
@pytest.mark.parametrize("layer", ["in force", "taken away"])
def test_memory_beyond_the_cap_ends_the_run(lab_sandbox: Sandbox, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            layer: str) -> None:
    """With the cap lowered to 256 MiB for the test: 512 MB ends the run (the kernel's
    out-of-memory killer, in the run's cgroup alone), 64 MB (the control) does not."""
    cap = 256 * MIB
    monkeypatch.setitem(cgroups.LIMITS, "memory", (("memory.limit_in_bytes", cap),
                                                   ("memory.memsw.limit_in_bytes", cap)))
    sandbox = lab_sandbox if layer == "in force" else \
        weakened(lab_sandbox, tmp_path / "grading", controllers=("pids",))
    folder = submission(tmp_path, "allocate.py", ALLOCATE)
    control = sandbox.start_script(folder, "allocate.py", "64").finish(60)
    assert (control.exit_code, control.stdout.strip()) == (0, "held 64"), control.stderr
    attack = sandbox.start_script(folder, "allocate.py", "512").finish(60)
    if layer == "in force":
        assert attack.exit_code == -signal.SIGKILL, (attack.exit_code, attack.stderr)
    else:
        assert (attack.exit_code, attack.stdout.strip()) == (0, "held 512")


LOOK = """
    import os
    lines = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                lines.append(open(f"/proc/{name}/cmdline", "rb").read().replace(b"\\0", b" "))
            except OSError:
                pass
    print(len(lines))
    print(b"\\n".join(lines).decode(errors="replace"))
"""


@needs("proc_hidden")
@pytest.mark.parametrize("layer", ["in force", "taken away"])
def test_proc_shows_no_process_outside_the_run(lab_sandbox: Sandbox, tmp_path: Path,
                                               layer: str) -> None:
    """A neighbour (another run, the broker, the grader) stands on the machine with a
    token on its command line; the run lists every command line it can see. The
    control: its own."""
    token = f"neighbour-{uuid.uuid4().hex}"
    neighbour = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", token])
    try:
        sandbox = lab_sandbox if layer == "in force" else \
            weakened(lab_sandbox, tmp_path / "grading", namespaces=None)
        folder = submission(tmp_path, "look.py", LOOK)
        run = sandbox.start_script(folder, "look.py").finish(30)
    finally:
        neighbour.kill()
        neighbour.wait()
    assert run.exit_code == 0, run.stderr
    assert "look.py" in run.stdout
    if layer == "in force":
        assert token not in run.stdout
        assert int(run.stdout.split()[0]) == 2, run.stdout  # its supervisor and itself
        assert "pytest" not in run.stdout
        assert "kafka.Kafka" not in run.stdout
    else:
        assert token in run.stdout


WHO = """
    import os, sys
    print(os.getuid(), os.getgid(), os.getgroups())
    for path in sys.argv[1:]:
        try:
            print(open(path).read())
        except PermissionError:
            print("refused")
    # Where honest work writes: its folder (HOME, TMPDIR) and /dev/shm.
    for folder in (".", os.environ["HOME"], os.environ["TMPDIR"], "/dev/shm"):
        with open(os.path.join(folder, "mine.txt"), "w") as mine:
            mine.write("ok")
    print("wrote")
"""


@needs("unprivileged_uid")
@pytest.mark.skipif(os.geteuid() != 0, reason="a grader that is not root runs as itself")
@pytest.mark.parametrize("layer", ["in force", "taken away"])
def test_a_root_graders_run_is_nobody_and_a_root_only_file_in_its_read_set_stays_closed(
    lab_sandbox: Sandbox, tmp_path: Path, layer: str
) -> None:
    """Two files in the run library, which Landlock lets every run read: one for root
    alone (mode 600), one for all (the control). As ``nobody`` the run reads the second
    and is refused the first by its mode; taken away (uid 0 without capabilities, as
    before), it reads both: Landlock alone would not have refused it. Its folder is
    under pytest's own folders (mode 700), opened to it as the sandbox's are."""
    token = uuid.uuid4().hex
    closed, shared = (lab_sandbox.library.folder / f"{name}-{token}.txt"
                      for name in ("root-only", "shared"))
    for path, mode in ((closed, 0o600), (shared, 0o644)):
        path.write_text(f"{path.stem}")
        path.chmod(mode)
    spaces = lab_sandbox.layers.namespaces
    assert spaces is not None
    sandbox = weakened(lab_sandbox, tmp_path / "grading") if layer == "in force" else \
        weakened(lab_sandbox, tmp_path / "grading",
                 namespaces=dataclasses.replace(spaces, run_user=None))
    try:
        folder = submission(tmp_path, "who.py", WHO)
        run = sandbox.start_script(folder, "who.py", str(closed), str(shared)).finish(30)
    finally:
        closed.unlink()
        shared.unlink()
    assert run.exit_code == 0, run.stderr
    ids, read_closed, read_shared, wrote = run.stdout.splitlines()
    assert (read_shared, wrote) == (f"shared-{token}", "wrote"), run.stdout
    if layer == "in force":
        assert ids == "65534 65534 []", run.stdout
        assert read_closed == "refused", run.stdout
    else:
        assert ids == "0 0 []", run.stdout
        assert read_closed == f"root-only-{token}", run.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="a grader that is not root runs as itself")
@needs("pid_namespace")
def test_a_kernel_that_refuses_to_open_folders_keeps_uid_0_says_why_and_grading_goes_on(
    lab_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel older than 5.2 has no ``open_tree``: the probe says so, and runs keep
    uid 0 (without capabilities) in namespaces of their own."""
    monkeypatch.setattr(run_user, "SYS_OPEN_TREE", 100_000)  # no such system call
    run = run_in_a_fresh_sandbox(lab_sandbox, tmp_path, "import os\nprint(os.getuid())\n")
    assert (run.exit_code, run.stdout) == (0, "0\n"), run.stderr
    assert not run.isolation.unprivileged_uid
    assert run.isolation.pid_namespace
    why = dict(run.isolation.refused)["unprivileged_uid"]
    assert why.startswith("runs keep uid 0, without capabilities: an unprivileged user "
                          "refused:"), why
    assert "Function not implemented" in why, why
    assert any(line.startswith("not in force: unprivileged_uid (runs keep uid 0")
               for line in run.isolation.describe())


def test_folders_closed_to_other_users_are_opened_outermost_first(tmp_path: Path) -> None:
    """``/top`` (700) holds ``inner`` (700) and a link; a run needs a file in each. Each
    closed folder is opened, the outer first, with only the entries that lead there."""
    top = tmp_path / "top"
    (top / "inner" / "deep").mkdir(parents=True)
    (top / "hidden").mkdir()
    (top / "inner" / "deep" / "needed.txt").write_text("x")
    (top / "open.txt").write_text("x")
    (top / "link").symlink_to("inner")
    for folder in (top, top / "inner"):
        folder.chmod(0o700)
    tmp_path.chmod(0o755)
    needed = [top / "inner" / "deep" / "needed.txt", top / "open.txt", top / "link",
              top / "missing.txt"]
    plan = run_user.openings(needed)
    closed_above = [opening.folder for opening in plan][:-2]  # pytest's own folders
    assert all(not run_user.enterable(Path(folder)) for folder in closed_above)
    assert plan[-2:] == (
        run_user.Opening(str(top), (run_user.Entry(str(top / "inner"), "folder"),
                                    run_user.Entry(str(top / "open.txt"), "file"),
                                    run_user.Entry(str(top / "link"), "link", "inner"))),
        run_user.Opening(str(top / "inner"),
                         (run_user.Entry(str(top / "inner" / "deep"), "folder"),)))


def test_each_layer_is_in_force_or_refused_with_a_reason(lab_sandbox: Sandbox) -> None:
    isolation = lab_sandbox.isolation
    refused = dict(isolation.refused)
    for layer in Isolation.layers():
        assert getattr(isolation, layer) is (layer not in refused), layer
        assert layer not in refused or refused[layer], layer
    assert isolation.as_dict() == {"in_force": isolation.in_force(), "refused": refused}
    assert isolation.describe()[0].startswith("each run: ")


def test_a_machine_that_refuses_namespaces_says_why_and_grading_goes_on(
    lab_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seccomp profile, a kernel without user namespaces: ``unshare`` fails. The probe
    says so, once, and runs go on without the layer (the marker finds what they leave)."""
    monkeypatch.setattr(namespaces, "CLONE_NEWPID", 1)  # not a flag unshare() takes
    run = run_in_a_fresh_sandbox(lab_sandbox, tmp_path, "print('hello')")
    assert (run.exit_code, run.stdout) == (0, "hello\n"), run.stderr
    assert not run.isolation.pid_namespace
    assert not run.isolation.proc_hidden
    why = dict(run.isolation.refused)["pid_namespace"]
    assert "PID and mount namespaces refused: unshare: Invalid argument" in why, why
    assert run.isolation.landlock


@needs("pids_cap")
def test_cgroups_left_by_a_dead_grader_are_swept_and_a_runs_own_are_not() -> None:
    """A grader SIGKILLed mid-run never removes its runs' cgroups: the next sandbox does,
    once they are empty and old; a fresh one (a run about to join it) and one in use stay."""
    old, fresh, used = (cgroups.RunCgroups.make(("pids",), f"{cgroups.RUN_PREFIX}{name}-"
                                                f"{uuid.uuid4().hex}")
                        for name in ("old", "fresh", "used"))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (used.folders["pids"] / "cgroup.procs").write_text(str(sleeper.pid))
        for run_cgroups in (old, used):
            os.utime(run_cgroups.folders["pids"], (time.time() - 120, time.time() - 120))
        swept = cgroups.sweep(("pids",))
        assert old.folders["pids"] in swept
        assert not old.folders["pids"].exists()
        assert fresh.folders["pids"].exists()
        assert used.folders["pids"].exists()
    finally:
        sleeper.kill()
        sleeper.wait()
        for run_cgroups in (old, fresh, used):
            run_cgroups.remove()
