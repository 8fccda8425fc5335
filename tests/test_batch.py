"""Batch repair: results per file, inputs untouched, resumable after a kill, and the same on a Dask cluster."""

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

from convsolve.errors import UsageError
from convsolve.io.config import read_config
from convsolve.network import Network
from convsolve.ops.batch import MANIFEST, plan_jobs, run_batch
from extras import require

REPO = Path(__file__).resolve().parent.parent


def make_inputs(folder, quick=False):
    """A results folder: the shipped broken and seed configs, a valid one, and a malformed file.

    ``quick`` leaves out the VGG and the unrepairable classifier, the slowest to answer.
    """
    broken = sorted((REPO / "configs" / "broken").glob("*.yaml"))
    if quick:
        broken = [p for p in broken if "vgg" not in p.name and "classifier" not in p.name]
    for i, source in enumerate(broken + sorted((REPO / "configs" / "seed").glob("*.yaml"))):
        target = folder / f"study_{i % 2}" / f"trial_{i}" / "arch.yaml"
        target.parent.mkdir(parents=True)
        shutil.copy(source, target)
    shutil.copy(REPO / "configs" / "resnet18.yaml", folder / "study_0" / "resnet18.yaml")
    (folder / "study_1" / "broken.yaml").write_text("layers: [\n")
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def test_batch_reports_every_file_and_never_touches_inputs(tmp_path):
    inputs = tmp_path / "runs"
    hashes = make_inputs(inputs)
    out = tmp_path / "out"
    records = []
    summary = run_batch(plan_jobs([str(inputs)], out), out, workers=2, on_record=records.append)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in hashes} == hashes
    by_file = {Path(r["file"]).relative_to(inputs).as_posix(): r for r in records}
    assert len(by_file) == len(hashes)
    assert by_file["study_1/broken.yaml"]["status"] == "error" and "broken.yaml" in by_file["study_1/broken.yaml"]["message"]
    assert by_file["study_0/resnet18.yaml"]["status"] == "valid"
    assert summary.counts["repaired"] >= 4 and summary.counts["unrepairable"] == 1
    for record in records:
        output = Path(record["output"])
        if record["status"] in ("valid", "repaired"):
            assert Network.from_config(read_config(output)).check().ok
        else:
            assert not output.exists()
    again = run_batch(plan_jobs([str(inputs)], out), out, workers=2)
    assert again.counts["skipped"] == len(hashes) - 1 and again.counts["error"] == 1


def test_a_changed_input_is_redone_and_a_hand_edited_output_is_not_replaced(tmp_path):
    inputs = tmp_path / "runs"
    make_inputs(inputs, quick=True)
    out = tmp_path / "out"
    run_batch(plan_jobs([str(inputs)], out), out, workers=1)
    seed = next(p for p in inputs.rglob("arch.yaml") if "stride_too_large" in p.read_text())
    seed.write_text(seed.read_text().replace("stride: 5", "stride: 6"))
    records = []
    run_batch(plan_jobs([str(inputs)], out), out, workers=1, on_record=records.append)
    assert [r["status"] for r in records if r["file"] == str(seed)] == ["repaired"]
    mine = next(Path(r["output"]) for r in records if r["status"] == "skipped" and r["was"] == "repaired")
    mine.write_text(mine.read_text() + "# my note\n")
    records = []
    run_batch(plan_jobs([str(inputs)], out), out, workers=1, on_record=records.append)
    assert [r["status"] for r in records if r["output"] == str(mine)] == ["error"]
    assert mine.read_text().endswith("# my note\n")


def test_output_folder_on_the_inputs_is_refused(tmp_path):
    inputs = tmp_path / "runs"
    make_inputs(inputs)
    with pytest.raises(UsageError, match="would overwrite the input"):
        plan_jobs([str(inputs)], inputs)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_is_a_clear_error(tmp_path):
    inputs = tmp_path / "runs"
    make_inputs(inputs)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o500)
    with pytest.raises(UsageError, match="not writable"):
        run_batch(plan_jobs([str(inputs)], out), out)


def test_a_killed_batch_leaves_whole_files_and_the_rerun_finishes(tmp_path):
    inputs = tmp_path / "runs"
    for copy in range(6):  # enough work that the kill lands mid-run
        make_inputs(inputs / f"copy{copy}", quick=True)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "convsolve", "batch-repair", str(inputs), "-o", str(out), "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    manifest = out / MANIFEST
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not manifest.exists() or len(manifest.read_text().splitlines()) < 5):
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = len(manifest.read_text().splitlines())
    total = sum(1 for p in inputs.rglob("*") if p.is_file())
    assert 5 <= done_before < total, "the kill should land mid-run"
    for output in out.rglob("*.yaml"):  # whatever exists is whole
        Network.from_config(read_config(output))
    records = []
    summary = run_batch(plan_jobs([str(inputs)], out), out, workers=1, on_record=records.append)
    assert summary.total == total
    assert not list(out.rglob(".*.tmp"))
    clean = tmp_path / "clean"
    run_batch(plan_jobs([str(inputs)], clean), clean, workers=1)
    for output in clean.rglob("*.yaml"):
        assert (out / output.relative_to(clean)).read_bytes() == output.read_bytes()


def test_dask_cluster_gives_the_same_results_as_local_processes(tmp_path):
    distributed = require("dask.distributed")
    inputs = tmp_path / "runs"
    make_inputs(inputs, quick=True)
    local, remote = tmp_path / "local", tmp_path / "dask"
    run_batch(plan_jobs([str(inputs)], local), local, workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        summary = run_batch(plan_jobs([str(inputs)], remote), remote, scheduler=cluster.scheduler_address)
    assert summary.counts["repaired"] >= 3
    local_files = {p.relative_to(local): p.read_bytes() for p in local.rglob("*.yaml")}
    remote_files = {p.relative_to(remote): p.read_bytes() for p in remote.rglob("*.yaml")}
    assert local_files == remote_files


def test_cli_writes_a_jsonl_report_and_exit_code(tmp_path):
    inputs = tmp_path / "runs"
    make_inputs(inputs)
    report = tmp_path / "report.jsonl"
    result = subprocess.run([sys.executable, "-m", "convsolve", "batch-repair", str(inputs / "study_0"), "-o", str(tmp_path / "o"),
                             "--report", str(report)], capture_output=True, text=True)
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert {r["status"] for r in records} <= {"valid", "repaired", "unrepairable"}
    assert result.returncode == (1 if any(r["status"] == "unrepairable" for r in records) else 0)
    assert "files in" in result.stdout


def test_a_file_over_its_time_limit_is_reported_and_the_batch_goes_on(tmp_path):
    inputs = tmp_path / "runs"
    make_inputs(inputs, quick=True)
    slow = inputs / "slow.yaml"
    shutil.copy(REPO / "configs" / "broken" / "vgg_on_32px.yaml", slow)
    out = tmp_path / "out"
    records = []
    summary = run_batch(plan_jobs([str(inputs)], out, timeout=0.001), out, workers=1, on_record=records.append)
    by_file = {r["file"]: r for r in records}
    assert by_file[str(slow)]["status"] == "timeout" and "--timeout" in by_file[str(slow)]["message"]
    assert not (out / "slow.yaml").exists()
    assert "timeout" in str(summary) and summary.counts["valid"] + summary.counts["repaired"] >= 1


def test_a_file_past_the_solver_limit_is_an_error_naming_the_file(tmp_path, monkeypatch):
    """Found by the fuzz campaign: a solver limit named the layer but not the file it was in."""
    import convsolve.solve.programme as programme_module

    inputs = tmp_path / "runs"
    inputs.mkdir()
    shutil.copy(REPO / "configs" / "broken" / "vgg_on_32px.yaml", inputs / "big.yaml")
    monkeypatch.setattr(programme_module, "MAX_ELEMENTS", 10)  # every table is too large
    out = tmp_path / "out"
    records = []
    run_batch(plan_jobs([str(inputs)], out), out, workers=1, on_record=records.append)
    [record] = records
    assert record["status"] == "error"
    assert record["message"].startswith(f"{inputs / 'big.yaml'}: layer ") and "the solver would hold" in record["message"]


def test_the_summary_names_the_file_of_each_problem(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(Path(__file__).resolve().parent.parent / "configs" / "broken" / "fixed_classifier.yaml", source / "fixed.yaml")
    (source / "bad.yaml").write_text("a: [\n")
    result = subprocess.run([sys.executable, "-m", "convsolve", "batch-repair", str(source), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    shown = result.stdout + result.stderr  # the summary table and its problem lines
    assert f"{source / 'fixed.yaml'}: unrepairable: no change of" in shown
    assert f"error: {source / 'bad.yaml'}:2: is not valid YAML" in shown
