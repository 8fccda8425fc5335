"""Bounded work and nothing lost: every verb's --timeout, and batch repair into folders that fight back.

Read-only folders are simulated for root (who writes anywhere) by dropping the capabilities that
let it (``setpriv``); a full disk is a real small tmpfs in a private mount namespace when that is
allowed, and a simulated ``ENOSPC`` always.
"""

import errno
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convsolve.cli import app
from convsolve.errors import OutputError, UsageError
from convsolve.io.config import read_config, write_text
from convsolve.network import Network
from convsolve.ops.batch import LOCK, MANIFEST, plan_jobs, run_batch
from extras import require

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def long_chain(path, layers=8000):
    """A network slow to load and check: a chain of ``layers`` padded 3x3 convolutions (2,000 were checked within the
    0.3 s timeout below on an idle machine, so the timeout was not always reached)."""
    rows = "\n".join(f"  - {{name: c{i}, type: conv2d, out_channels: 4, kernel: 3, padding: 1}}" for i in range(layers))
    path.write_text(f"name: long\ninput: {{channels: 4, size: {{range: [1, 64]}}}}\nlayers:\n{rows}\n")
    return str(path)


def generate(folder, count):
    """A NAS-style results folder of ``count`` configs (most broken, a few malformed); their hashes."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_broken_configs.py"), str(folder), "--count", str(count)],
                   check=True, capture_output=True)
    return hashes(folder)


def hashes(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in Path(folder).rglob("*") if p.is_file()}


def assert_outputs_whole(out):
    """Every result is a whole config, and no temporary file is left."""
    assert not [p for p in Path(out).rglob("*.tmp")]
    for output in Path(out).rglob("*.yaml"):
        Network.from_config(read_config(output))


# --- --timeout on every verb ---------------------------------------------------------------------

SLOW = {
    "check": ["{long}"], "sizes": ["{long}"], "shapes": ["{long}"], "export": ["{long}"],
    "count": ["{res}"], "enumerate": ["{res}", "--limit", "100000"], "sample": ["{res}"], "prune": ["{res}"],
    "suggest": ["{res}"], "repair": [str(ROOT / "configs" / "vgg16.yaml"), "--input", "32:224"],
}


@pytest.mark.parametrize("verb", sorted(SLOW))
def test_timeout_stops_every_verb_with_exit_124(tmp_path, verb):
    paths = {"long": long_chain(tmp_path / "long.yaml"), "res": str(ROOT / "configs" / "bench" / "res-100.yaml")}
    started = time.monotonic()
    result = runner.invoke(app, [verb] + [a.format(**paths) for a in SLOW[verb]] + ["--timeout", "0.3"])
    assert time.monotonic() - started < 30  # the alarm lands between Python bytecodes: a long C call (the YAML parse) finishes first
    assert result.exit_code == 124, result.output
    assert "stopped after the timeout of 0.3 s" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("verb", ["plot", "draw", "report"])
def test_timeout_bounds_the_whole_picture_not_only_its_solver_work(tmp_path, verb):
    require("matplotlib")
    output = tmp_path / ("page.html" if verb == "report" else "picture.svg")
    started = time.monotonic()
    result = runner.invoke(app, [verb, long_chain(tmp_path / "long.yaml"), "-o", str(output), "--timeout", "0.3"])
    assert time.monotonic() - started < 30
    assert result.exit_code == 124, result.output
    assert "stopped after the timeout" in result.stderr
    assert not output.exists() and not list(tmp_path.glob(".*.tmp"))


def test_batch_timeout_is_per_file_and_the_batch_goes_on(tmp_path):
    inputs = tmp_path / "runs"
    inputs.mkdir()
    shutil.copy(ROOT / "configs" / "broken" / "vgg_on_32px.yaml", inputs / "slow.yaml")
    shutil.copy(ROOT / "configs" / "seed" / "stride_too_large.yaml", inputs / "quick.yaml")
    result = runner.invoke(app, ["batch-repair", str(inputs), "-o", str(tmp_path / "out"), "--timeout", "0.001", "--jsonl"])
    records = {Path(r["file"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["slow.yaml"]["status"] == "timeout" and result.exit_code == 1


def test_a_timeout_that_user_code_wraps_is_still_reported_as_the_timeout(tmp_path):
    require("torch")
    factory = tmp_path / "slow_model.py"
    factory.write_text("import time\n\ndef build():\n    try:\n        time.sleep(30)\n    except Exception as exc:\n"
                       "        raise RuntimeError('my factory failed') from exc\n")
    result = runner.invoke(app, ["check", f"{factory}:build", "--timeout", "0.3"])
    assert result.exit_code == 124, result.output


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text("whole\n", tmp_path / "result.yaml")
    assert list(tmp_path.iterdir()) == []


# --- batch repair: output folders that fight back ------------------------------------------------


def test_ctrl_c_during_batch_repair_exits_130_says_what_was_done_and_the_rerun_finishes(tmp_path):
    inputs, out = tmp_path / "runs", tmp_path / "out"
    before = generate(inputs, 60)
    process = subprocess.Popen([sys.executable, "-m", "convsolve", "batch-repair", str(inputs), "-o", str(out), "--workers", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=_default_sigint)
    manifest = out / MANIFEST
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not manifest.exists() or len(manifest.read_text().splitlines()) < 8):
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C does: the whole foreground group
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 130, errors
    recorded = len(manifest.read_text().splitlines())
    assert f"interrupted after {recorded} of 60 files (" in errors and "Traceback" not in errors
    assert recorded < 60, "the interrupt should land mid-run"
    assert_outputs_whole(out)
    assert hashes(inputs) == before
    summary = run_batch(plan_jobs([str(inputs)], out), out, workers=2)
    assert summary.total == 60 and summary.counts["skipped"] == recorded
    assert_outputs_whole(out)


def test_two_batches_at_once_on_one_folder_one_refused_naming_the_other(tmp_path):
    inputs, out = tmp_path / "runs", tmp_path / "out"
    generate(inputs, 40)
    command = [sys.executable, "-m", "convsolve", "batch-repair", str(inputs), "-o", str(out), "--workers", "1", "--jsonl"]
    first, second = (subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2))
    results = {p.pid: p.communicate(timeout=120) for p in (first, second)}
    refused = [pid for pid, (_, errors) in results.items() if "holds the lock" in errors]
    assert len(refused) == 1, results
    winner = first.pid if refused == [second.pid] else second.pid
    refusal = results[refused[0]][1]
    # the winner writes its pid just after taking the lock: a loser that reads in between says "another process"
    assert any(f"another batch repair ({who}) is writing to {out}" in refusal for who in (f"process {winner}", "another process"))
    assert str(out / LOCK) in refusal
    assert results[refused[0]][0] == ""  # the refused run wrote no record
    lines = (out / MANIFEST).read_text().splitlines()
    assert len(lines) == 40 and len({json.loads(line)["output"] for line in lines}) == 40
    assert_outputs_whole(out)
    assert run_batch(plan_jobs([str(inputs)], out), out, workers=1).counts["skipped"] == 40


def test_a_folder_locked_by_another_process_is_refused_with_its_pid(tmp_path):
    inputs, out = tmp_path / "runs", tmp_path / "out"
    generate(inputs, 2)
    out.mkdir()
    with open(out / LOCK, "w") as lock:
        lock.write("4242\n")
        lock.flush()
        fcntl.flock(lock, fcntl.LOCK_EX)
        holder = subprocess.run([sys.executable, "-m", "convsolve", "batch-repair", str(inputs), "-o", str(out)],
                                capture_output=True, text=True, timeout=60)
    assert holder.returncode == 2
    assert holder.stderr.startswith("error: another batch repair (process 4242)") and str(out / LOCK) in holder.stderr
    assert sorted(p.name for p in out.iterdir()) == [LOCK]
    assert run_batch(plan_jobs([str(inputs)], out), out, workers=1).total == 2  # released: the next run goes ahead


def unprivileged(command):
    """``command`` run so that folder permissions bind it, even as root (which drops the capabilities that bypass them)."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("root bypasses folder permissions and setpriv is not available to drop that")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]


def test_read_only_output_folder_is_a_clear_error_and_nothing_changes(tmp_path):
    inputs, out = tmp_path / "runs", tmp_path / "out"
    before = generate(inputs, 3)
    out.mkdir()
    out.chmod(0o555)
    try:
        result = subprocess.run(unprivileged([sys.executable, "-m", "convsolve", "batch-repair", str(inputs), "-o", str(out)]),
                                capture_output=True, text=True, timeout=60)
    finally:
        out.chmod(0o755)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: the output folder {out} is not writable (Permission denied)")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert list(out.iterdir()) == [] and hashes(inputs) == before


def test_a_full_disk_stops_the_batch_with_whole_results_and_the_rerun_finishes(tmp_path, monkeypatch):
    inputs, out = tmp_path / "runs", tmp_path / "out"
    before = generate(inputs, 12)
    real_fsync, writes = os.fsync, []

    def fsync(fd):
        writes.append(fd)
        if len(writes) > 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    records = []
    with pytest.raises(OutputError) as stopped:
        run_batch(plan_jobs([str(inputs)], out), out, workers=1, on_record=records.append)
    recorded = len((out / MANIFEST).read_text().splitlines())
    message = str(stopped.value)
    assert "could not be written (No space left on device)" in message and str(out) in message
    assert f"{recorded} of 12 files are done and recorded" in message
    assert records[-1]["status"] == "error" and records[-1]["errno"] == "ENOSPC"  # the file that hit it, named
    assert not (Path(records[-1]["output"])).exists()
    assert_outputs_whole(out)
    assert hashes(inputs) == before
    monkeypatch.setattr(os, "fsync", real_fsync)
    summary = run_batch(plan_jobs([str(inputs)], out), out, workers=1)
    assert summary.total == 12 and summary.counts["skipped"] == recorded


def test_a_really_full_disk_is_a_clear_error_in_the_cli(tmp_path):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a small tmpfs")
    inputs, disk = tmp_path / "runs", tmp_path / "disk"
    before = generate(inputs, 30)
    disk.mkdir()
    script = (f"mount -t tmpfs -o size=384k tmpfs {disk} || exit 77\n"
              f"head -c 327680 /dev/zero > {disk}/filler\n"
              f"{sys.executable} -m convsolve batch-repair {inputs} -o {disk}/out --workers 1\n"
              f"echo rc=$?; ls -A {disk}/out | grep -c '\\.tmp$'; rm {disk}/filler\n"
              f"{sys.executable} -m convsolve batch-repair {inputs} -o {disk}/out --workers 1 --jsonl > {tmp_path}/rerun.jsonl\n")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    if result.returncode == 77 or "Operation not permitted" in result.stderr:
        pytest.skip("mounting a tmpfs is not allowed here")
    assert "rc=2\n0\n" in result.stdout, result.stdout + result.stderr
    assert "error: stopped: " in result.stderr and "(No space left on device), so the output folder" in result.stderr
    assert "Traceback" not in result.stderr
    statuses = [json.loads(line)["status"] for line in (tmp_path / "rerun.jsonl").read_text().splitlines()]
    assert len(statuses) == 30 and "skipped" in statuses
    assert hashes(inputs) == before


def test_an_output_folder_inside_the_searched_inputs_is_refused(tmp_path):
    inputs = tmp_path / "runs"
    generate(inputs, 2)
    for pattern in (str(inputs), str(inputs / "**" / "arch.yaml")):
        with pytest.raises(UsageError, match="a rerun would read the results as inputs"):
            plan_jobs([pattern], inputs / "repaired")
    single = next(inputs.rglob("arch.yaml"))
    assert plan_jobs([str(single)], single.parent / "repaired")  # one named file: the results cannot be re-read
    assert plan_jobs([str(inputs)], tmp_path)  # a folder that holds the inputs, beside them, is fine


def test_a_torn_manifest_line_does_not_swallow_the_next_record(tmp_path):
    inputs, out = tmp_path / "runs", tmp_path / "out"
    generate(inputs, 3)
    out.mkdir()
    (out / MANIFEST).write_text('{"output": "torn')
    run_batch(plan_jobs([str(inputs)], out), out, workers=1)
    lines = (out / MANIFEST).read_text().splitlines()
    assert lines[0] == '{"output": "torn' and len(lines) == 4
    assert all("fingerprint" in json.loads(line) for line in lines[1:])


def test_an_alarm_landing_in_a_finalizer_prints_nothing_and_still_times_out(capsys, monkeypatch):
    from convsolve.cli import _time_limit

    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)  # Python's own: prints "Exception ignored ... Traceback"
    from convsolve.errors import SolverTimeout

    class Slow:
        def __del__(self):
            time.sleep(0.5)  # the alarm lands here, where what a handler raises is swallowed

    with pytest.raises(SolverTimeout):
        with _time_limit(0.1):
            Slow()
    assert "Traceback" not in capsys.readouterr().err


def _default_sigint():
    """In the child: Ctrl-C as a terminal delivers it (a shell's background job starts with SIGINT ignored,
    and Python then leaves it ignored)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
