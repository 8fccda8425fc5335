"""Outputs are written only where they may be, and inputs are read with a bound (issue 21, parts 2 and 4).

Run as root, the tests plant a fake device node (``mknod`` with /dev/null's numbers, inside
tmp_path, harmless), FIFOs, sockets, folders and symlinks at every name a command writes or
reads, and check that each is refused by its type with exit code 2 and a one-paragraph message
naming the file and the option, with or without ``--force``, and that nothing was changed.
"""

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convsolve.cli import app
from convsolve.errors import ConfigError, OutputError, UsageError
from convsolve.io.config import read_config, read_input, write_text
from convsolve.ops.batch import LOCK, MANIFEST, TEMPORARIES, plan_jobs, run_batch

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
TINY = (  # invalid at 4..6 (kernel 7), repaired by padding 2: quick to answer
    "name: tiny\ninput: {channels: 3, size: {range: [4, 16]}}\nlayers:\n"
    "  - {name: c1, type: conv2d, out_channels: 4, kernel: 7}\n"
)


def special(path, kind):
    """Plant a special file of ``kind`` at ``path``; returns a check that it is still that kind."""
    if kind == "device":
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        test = stat.S_ISCHR
    elif kind == "fifo":
        os.mkfifo(path)
        test = stat.S_ISFIFO
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()
        test = stat.S_ISSOCK
    else:
        path.mkdir()
        test = stat.S_ISDIR
    return lambda: test(os.lstat(path).st_mode)


def tiny(folder, name="net.yaml"):
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TINY)
    return path


def refused(result, *names):
    """Exit code 2, one paragraph naming each of ``names``, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    message = result.output.strip()
    assert message.startswith("error: ") and "\n" not in message, message
    for name in names:
        assert name in message, message
    return message


# --- -o, --in-place, --report: regular files and new names only --------------------------------


@pytest.mark.parametrize("kind", ["device", "fifo", "socket", "folder"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_write_refuses_anything_but_a_regular_file(tmp_path, kind, overwrite):
    target = tmp_path / "out.yaml"
    still = special(target, kind)
    with pytest.raises(UsageError, match="not a regular file"):
        write_text("x: 1\n", target, overwrite=overwrite)
    assert still() and sorted(p.name for p in tmp_path.iterdir()) == ["out.yaml"]


@pytest.mark.parametrize("kind", ["device", "fifo"])
@pytest.mark.parametrize("verb", ["repair", "export", "prune"])
def test_force_never_replaces_a_device_or_fifo(tmp_path, kind, verb):
    config = tiny(tmp_path) if verb != "prune" else ROOT / "configs" / "spaces" / "resnet_space.yaml"
    target = tmp_path / "target"
    still = special(target, kind)
    message = refused(runner.invoke(app, [verb, str(config), "-o", str(target), "--force"]), str(target), "'-o'", "--force")
    assert "not a regular file" in message and still()


def test_an_output_is_never_an_input_under_another_name(tmp_path):
    config = tiny(tmp_path)
    os.link(config, tmp_path / "hard.yaml")
    (tmp_path / "soft.yaml").symlink_to(config)
    for other in ("hard.yaml", "soft.yaml"):
        result = runner.invoke(app, ["repair", str(config), "-o", str(tmp_path / other), "--force"])
        refused(result, "refusing to overwrite the input")
        result = runner.invoke(app, ["export", str(config), "-o", str(tmp_path / other), "--force"])
        refused(result, "refusing to overwrite the input")
    assert config.read_text() == TINY


def test_an_existing_output_needs_force(tmp_path):
    config, target = tiny(tmp_path), tmp_path / "fixed.yaml"
    target.write_text("mine\n")
    refused(runner.invoke(app, ["repair", str(config), "-o", str(target)]), str(target), "--force")
    assert target.read_text() == "mine\n"
    assert runner.invoke(app, ["repair", str(config), "-o", str(target), "--force"]).exit_code == 0
    assert read_config(target)["layers"][0]["padding"] == 2


def test_in_place_edits_the_file_a_symlink_points_to(tmp_path):
    real = tiny(tmp_path / "real")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    result = runner.invoke(app, ["repair", str(link), "--in-place"])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert read_config(real)["layers"][0]["padding"] == 2
    assert (real.parent / "net.yaml.bak").read_text() == TINY  # the copy is beside the file edited
    assert not (tmp_path / "link.yaml.bak").exists()


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_in_place_refuses_a_special_backup_name(tmp_path, kind):
    config = tiny(tmp_path)
    still = special(tmp_path / "net.yaml.bak", kind)
    refused(runner.invoke(app, ["repair", str(config), "--in-place", "--force"]), "net.yaml.bak", "--in-place")
    assert still() and config.read_text() == TINY


def test_a_dangling_symlink_is_not_a_new_name(tmp_path):
    config, link = tiny(tmp_path), tmp_path / "out.yaml"
    link.symlink_to(tmp_path / "nowhere" / "x.yaml")
    refused(runner.invoke(app, ["repair", str(config), "-o", str(link)]), str(link), "does not exist")
    assert link.is_symlink()


def test_pictures_refuse_a_special_output(tmp_path):
    config = tiny(tmp_path)
    target = tmp_path / "page.html"
    still = special(target, "fifo")
    refused(runner.invoke(app, ["report", str(config), "-o", str(target), "--force"]), str(target), "FIFO")
    assert still()


# --- batch-repair: the report, colliding inputs, an output folder that fights back ---------------


def two_studies(tmp_path):
    for study in ("A", "B"):
        tiny(tmp_path / "in" / study, "arch.yaml")
    return tmp_path / "in"


def test_batch_report_needs_force_and_is_never_an_input_or_an_output(tmp_path):
    inputs, out = two_studies(tmp_path), tmp_path / "out"
    source = inputs / "A" / "arch.yaml"
    refused(runner.invoke(app, ["batch-repair", str(inputs), "-o", str(out), "--report", str(source), "--force"]),
            "refusing to overwrite the input", "--report")
    assert source.read_text() == TINY and not out.exists()
    refused(runner.invoke(app, ["batch-repair", str(inputs), "-o", str(out), "--report", str(out / "A" / "arch.yaml"), "--force"]),
            "a file this batch writes", "--report")
    refused(runner.invoke(app, ["batch-repair", str(inputs), "-o", str(out), "--report", str(out / MANIFEST), "--force"]),
            "a file this batch writes", "--report")
    report = tmp_path / "report.jsonl"
    report.write_text("earlier notes\n")
    refused(runner.invoke(app, ["batch-repair", str(inputs), "-o", str(out), "--report", str(report)]), str(report), "--force")
    assert report.read_text() == "earlier notes\n" and not out.exists()
    result = runner.invoke(app, ["batch-repair", str(inputs), "-o", str(out), "--report", str(report), "--force"])
    assert result.exit_code == 0, result.output
    assert len(report.read_text().splitlines()) == 2
    fifo = tmp_path / "report.fifo"
    still = special(fifo, "fifo")
    refused(runner.invoke(app, ["batch-repair", str(inputs), "-o", str(tmp_path / "o2"), "--report", str(fifo), "--force"]),
            "FIFO", "--report")
    assert still()


def test_batch_inputs_with_the_same_relative_path_are_refused_before_anything_is_written(tmp_path):
    inputs, out = two_studies(tmp_path), tmp_path / "out"
    with pytest.raises(UsageError, match="would both be written to"):
        plan_jobs([str(inputs / "A"), str(inputs / "B")], out)
    for force in ([], ["--force"]):
        result = runner.invoke(app, ["batch-repair", str(inputs / "A"), str(inputs / "B"), "-o", str(out), *force])
        refused(result, "A/arch.yaml", "B/arch.yaml", "one result would be lost")
    assert not out.exists()
    assert len(plan_jobs([str(inputs)], out)) == 2  # their common folder keeps them apart


@pytest.mark.parametrize("name", [LOCK, MANIFEST, TEMPORARIES])
@pytest.mark.parametrize("kind", ["symlink", "device", "fifo", "hardlink"])
def test_batch_own_files_are_never_followed(tmp_path, name, kind):
    inputs, out = two_studies(tmp_path), tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = out / name
    if kind == "symlink":
        planted.symlink_to(victim)
        still = planted.is_symlink
    elif kind == "hardlink":
        os.link(victim, planted)
        still = planted.exists
    else:
        still = special(planted, kind)
    with pytest.raises(OutputError, match=f"{name}"):
        run_batch(plan_jobs([str(inputs)], out), out, workers=1)
    assert victim.read_text() == "precious\n" and still()
    assert not (out / "A").exists()


def test_batch_never_writes_through_a_symlinked_subfolder(tmp_path):
    inputs, out, elsewhere = two_studies(tmp_path), tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "A").symlink_to(elsewhere)
    records = []
    run_batch(plan_jobs([str(inputs)], out, overwrite=True), out, workers=1, on_record=records.append)
    by_file = {Path(r["file"]).parent.name: r for r in records}
    assert by_file["A"]["status"] == "error" and "no symlink below it is followed" in by_file["A"]["message"]
    assert by_file["B"]["status"] == "repaired" and (out / "B" / "arch.yaml").is_file()
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("kind", ["device", "fifo", "folder", "symlink"])
def test_batch_result_name_taken_by_a_special_file_is_that_file_error(tmp_path, kind):
    inputs, out = two_studies(tmp_path), tmp_path / "out"
    (out / "A").mkdir(parents=True)
    target = out / "A" / "arch.yaml"
    if kind == "symlink":
        victim = tmp_path / "victim.yaml"
        victim.write_text("precious\n")
        target.symlink_to(victim)
        still = target.is_symlink
    else:
        still = special(target, kind)
    records = []
    run_batch(plan_jobs([str(inputs)], out, overwrite=True), out, workers=1, on_record=records.append)
    by_file = {Path(r["file"]).parent.name: r for r in records}
    assert by_file["A"]["status"] == "error" and "not a regular file" in by_file["A"]["message"]
    assert by_file["B"]["status"] == "repaired"
    assert still()
    if kind == "symlink":
        assert victim.read_text() == "precious\n"


def test_batch_clean_up_removes_only_the_temporaries_it_recorded(tmp_path):
    inputs, out = two_studies(tmp_path), tmp_path / "out"
    run_batch(plan_jobs([str(inputs)], out), out, workers=1)
    notes = out / "A" / ".notes.20240101.tmp"  # looks like a temporary file, but the user's
    notes.write_text("mine\n")
    leftover = out / "A" / ".arch.yaml.0123abcd.tmp"  # what a killed run left, and recorded
    leftover.write_text("half a resu")
    info = leftover.stat()
    (out / TEMPORARIES).write_text(json.dumps({"folder": "A", "name": leftover.name, "device": info.st_dev,
                                               "inode": info.st_ino}) + "\n")
    run_batch(plan_jobs([str(inputs)], out), out, workers=1)
    assert not leftover.exists() and notes.read_text() == "mine\n"
    assert (out / TEMPORARIES).read_text() == ""


def test_a_killed_batch_leaves_its_temporaries_recorded(tmp_path, monkeypatch):
    inputs, out = two_studies(tmp_path), tmp_path / "out"

    def killed(handle):
        raise KeyboardInterrupt  # lands after the temporary file was created and recorded

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        run_batch(plan_jobs([str(inputs)], out), out, workers=1)
    monkeypatch.undo()
    recorded = [json.loads(line)["name"] for line in (out / TEMPORARIES).read_text().splitlines()]
    assert len(recorded) == 1 and recorded[0].endswith(".tmp")
    summary = run_batch(plan_jobs([str(inputs)], out), out, workers=1)
    assert summary.counts["repaired"] == 2 and not list(out.rglob("*.tmp"))


# --- inputs: regular files, with a size limit -----------------------------------------------------


@pytest.mark.parametrize("kind", ["device", "fifo", "socket", "folder"])
def test_a_config_that_is_not_a_regular_file_is_refused_by_type(tmp_path, kind):
    path = tmp_path / "net.yaml"
    special(path, kind)
    with pytest.raises(ConfigError, match="not a regular file|is a directory"):
        read_config(path)
    link = tmp_path / "link.yaml"
    link.symlink_to(path)
    with pytest.raises(ConfigError, match="not a regular file|is a directory"):
        read_config(link)


def test_a_fifo_config_is_refused_at_once_by_every_verb(tmp_path):
    fifo = tmp_path / "net.yaml"
    os.mkfifo(fifo)
    for verb in ("check", "count", "repair"):  # opening a FIFO to read it would wait for a writer forever
        result = subprocess.run([sys.executable, "-m", "convsolve", verb, str(fifo)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and "is a FIFO, not a regular file" in result.stderr and "Traceback" not in result.stderr


def test_a_config_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    config = tiny(tmp_path)
    with pytest.raises(ConfigError, match="more than the 100 a config may have"):
        read_input(config, max_bytes=100)
    assert read_input(config, max_bytes=len(TINY)) == TINY.encode()
    sparse = tmp_path / "huge.yaml"
    with open(sparse, "wb") as handle:
        handle.truncate(3 * 2**30)  # 3 GB of nothing, on no disk
    message = refused(runner.invoke(app, ["check", str(sparse)]), str(sparse), "--max-config-bytes")
    assert "3,221,225,472 bytes" in message
    refused(runner.invoke(app, ["count", str(config), "--max-config-bytes", "100"]), str(config), "--max-config-bytes")
    assert runner.invoke(app, ["check", str(config), "--max-config-bytes", "100000"]).exit_code in (0, 1)


def test_batch_applies_the_size_limit_per_file(tmp_path):
    inputs, out = two_studies(tmp_path), tmp_path / "out"
    (inputs / "A" / "arch.yaml").write_text(TINY + "#" * 1000 + "\n")
    result = runner.invoke(app, ["batch-repair", str(inputs), "-o", str(out), "--max-config-bytes", "500", "--jsonl"])
    records = {Path(r["file"]).parent.name: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["A"]["status"] == "error" and "--max-config-bytes" in records["A"]["message"]
    assert records["B"]["status"] == "repaired" and result.exit_code == 2


# --- options: every number validated, exit 2 ------------------------------------------------------

SPACE = str(ROOT / "configs" / "spaces" / "resnet_space.yaml")


@pytest.mark.parametrize("value", ["inf", "nan", "1e309", "99999999999999999999", "-1", "0"])
@pytest.mark.parametrize("verb", ["check", "count", "plot"])
def test_timeout_must_be_a_positive_finite_number(tmp_path, verb, value):
    extra = ["-o", str(tmp_path / "p.png")] if verb == "plot" else []
    result = runner.invoke(app, [verb, SPACE, "--timeout", value, *extra])
    assert result.exit_code == 2 and "--timeout" in result.output, result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("arguments", [
    ["sample", SPACE, "-n", "99999999999999999999999"],
    ["sample", SPACE, "--seed", "-1"],
    ["sample", SPACE, "--seed", str(2**64)],
    ["report", SPACE, "-o", "r.html", "-n", "99999999999999999999999"],
    ["batch-repair", SPACE, "-o", "out", "--workers", "100000"],
    ["check", SPACE, "--max-config-bytes", "0"],
])
def test_numeric_options_out_of_range_are_usage_errors(tmp_path, arguments):
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("weights", ["kernel=1099511627776", "kernel=" + "9" * 5000])
def test_huge_weights_are_usage_errors(tmp_path, weights):
    message = refused(runner.invoke(app, ["repair", str(tiny(tmp_path)), "--weights", weights]), "--weights", "at most 1,000,000")
    assert len(message) < 300


def test_an_empty_allow_is_a_usage_error(tmp_path):
    refused(runner.invoke(app, ["repair", str(tiny(tmp_path)), "--allow", ""]), "--allow", "names no kind")


def test_set_on_a_network_says_it_has_no_parameters(tmp_path):
    config = tiny(tmp_path)
    message = refused(runner.invoke(app, ["repair", str(config), "--set", "x=1"]), str(config), "--set")
    assert "one network, with no parameter" in message and "parameters: )" not in message


# --- printing: user text as it is, a closed pipe ends quietly -------------------------------------


def test_user_text_is_never_read_as_markup(tmp_path):
    config = tmp_path / "net.yaml"
    config.write_text('name: "a:b:c [bold]x[/bold]"\ninput: {channels: 3, size: 8}\nlayers:\n'
                      '  - {name: ":ok: [red]n[/red]", type: conv2d, out_channels: 4, kernel: 3}\n')
    result = runner.invoke(app, ["shapes", str(config)])
    assert result.exit_code == 0
    assert ":ok: [red]n[/red]" in result.stdout and "a:b:c [bold]x[/bold]" in result.stdout
    result = runner.invoke(app, ["check", "models.py:ok:"])
    assert "models.py:ok:" in result.output and "\N{SQUARED OK}" not in result.output


@pytest.mark.parametrize("verb", ["enumerate", "sample"])
def test_a_closed_pipe_ends_quietly(verb):
    command = [sys.executable, "-m", "convsolve", verb, str(ROOT / "configs" / "bench" / "chain-6.yaml"), "--timeout", "60"]
    if verb == "sample":
        command += ["-n", "200000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()  # `| head -1`
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, stderr
    assert first and stderr == ""


def test_enumerate_honours_its_timeout_while_streaming():
    command = [sys.executable, "-m", "convsolve", "enumerate", str(ROOT / "configs" / "bench" / "chain-6.yaml"), "--timeout", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)  # 11 million rows without the bound
    assert result.returncode == 124, result.stderr
    assert "stopped after the timeout of 2 s, after" in result.stderr and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines and result.stdout.endswith("\n") and all(line.startswith("conv1.kernel=") for line in lines)
