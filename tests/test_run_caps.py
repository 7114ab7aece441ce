"""The caps on what a run may send its grader and write in its folder (issue 22, item 1),
each tried by an attack beside an honest control. The caps are lowered for the tests
(the attack's volume scales with them); what is proven is how each is enforced."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_kafka_lab.grading.sandbox import Sandbox, channel, namespaces
from pytest_kafka_lab.grading.verdicts import SubmissionError, require_ran
from tests.test_grading_sandbox import submission
from tests.test_isolation import needs

MIB = 1024 * 1024

# Straight to the grader's channel (as a forger would), ``count`` packets of ``size``
# bytes; it says how many the channel took before it was closed on it.
FLOOD = """
    import json, os, socket, sys
    count, size = int(sys.argv[1]), int(sys.argv[2])
    sock = socket.socket(fileno=int(os.environ["KAFKA_LAB_CHANNEL"]))
    sent = 0
    for number in range(count):
        packet = json.dumps({"kind": "junk", "n": number, "pad": "x" * size}).encode()
        try:
            sock.send(packet)
        except OSError as error:
            print("refused", sent, error.errno, flush=True)
            break
        sent += 1
    print("sent", sent, flush=True)
"""


@pytest.mark.parametrize("cap", ["events", "bytes"])
def test_a_run_that_floods_its_channel_is_cut_off_and_blamed(
    lab_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cap: str
) -> None:
    monkeypatch.setattr(channel, "EVENTS_MAX", 2000)
    monkeypatch.setattr(channel, "EVENT_BYTES_MAX", 2 * MIB)
    folder = submission(tmp_path, "flood.py", FLOOD)
    # The attack: ten times a cap, in events or in bytes.
    count, size = (20_000, 10) if cap == "events" else (400, 50_000)
    run = lab_sandbox.start_script(folder, "flood.py", str(count), str(size)).finish(60)
    assert run.exit_code == 0, run.stderr
    assert "refused" in run.stdout, run.stdout  # the grader closed its end
    junk = run.of("junk")
    assert len(junk) <= channel.EVENTS_MAX
    assert sum(len(event["pad"]) for event in junk) <= channel.EVENT_BYTES_MAX
    assert run.flooded is not None
    assert "the submission sent the grader" in run.flooded
    with pytest.raises(SubmissionError, match="stopped reading them"):
        require_ran(run)

    # The control: the same script, a tenth of the cap.
    control = lab_sandbox.start_script(folder, "flood.py", "200", "10").finish(60)
    assert control.stdout.strip() == "sent 200", control.stdout
    assert len(control.of("junk")) == 200
    assert control.flooded is None
    require_ran(control)


# Files of 8 MiB each, beside itself and in its TMPDIR (its run folder), until refused.
FILL_FOLDER = """
    import errno, os, sys, tempfile
    files, written = int(sys.argv[1]), 0
    block = b"x" * (1024 * 1024)
    try:
        for number in range(files):
            where = "." if number % 2 else tempfile.gettempdir()
            with open(os.path.join(where, f"fill-{number}.bin"), "wb") as out:
                for _ in range(8):
                    out.write(block)
                    out.flush()
                    written += len(block)
        print("written", written // (1024 * 1024), "None", flush=True)
    except OSError as error:
        print("written", written // (1024 * 1024), errno.errorcode[error.errno], flush=True)
"""


@needs("folder_cap")
def test_what_a_run_writes_in_its_folder_is_capped_together(
    lab_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the folder's tmpfs lowered to 32 MiB: eight files of 8 MiB, each below the
    per-file cap, fill it and the next write fails with ENOSPC; none of it reaches the
    grader's disk. The control writes two and keeps its files for its own later reads."""
    monkeypatch.setattr(namespaces, "FOLDER_SIZE", 32 * MIB)
    folder = submission(tmp_path, "fill.py", FILL_FOLDER)
    process = lab_sandbox.start_script(folder, "fill.py", "8")
    run = process.finish(60)
    assert run.exit_code == 0, run.stderr
    written, why = run.stdout.split()[1:]
    assert int(written) < 32, run.stdout
    assert why == "ENOSPC", run.stdout
    assert not list(process.workdir.rglob("fill-*.bin")), "written on the grader's disk"

    control = lab_sandbox.start_script(folder, "fill.py", "2").finish(60)
    assert control.stdout.split() == ["written", "16", "None"], control.stdout
