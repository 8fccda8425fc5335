"""``enumerate -o`` and ``sample -o``: the same assignments as the printed ones, in CSV, JSON lines and Parquet."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from extras import require
from typer.testing import CliRunner

from convsolve.cli import app
from convsolve.io.tables import AssignmentWriter

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
runner = CliRunner()

SPACE = """\
input: {channels: 3, size: {range: [8, 12]}}
layers:
  - {name: a, type: conv2d, out_channels: 4, kernel: {choice: [1, 3, 5]}, stride: {choice: [1, 2]}, padding: {range: [0, 2]}}
  - {name: b, type: max_pool2d, kernel: {choice: [2, 3]}, ceil_mode: {choice: [true, false]}}
  - {name: c, type: conv2d, out_channels: 4, kernel: {choice: [3, 7]}}
"""


def printed(space: Path, *extra: str) -> list[dict]:
    result = runner.invoke(app, ["enumerate", str(space), "--jsonl", *extra])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def read_rows(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        table = require("pyarrow.parquet").read_table(path).to_pydict()
        return [dict(zip(table, values)) for values in zip(*table.values())]
    if path.suffix == ".csv":
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            return [{k: (v == "true") if v in ("true", "false") else int(v) for k, v in row.items()} for row in reader]
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def space(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".csv", ".parquet"])
def test_enumerate_to_a_file_writes_the_printed_assignments_in_order(space, tmp_path, suffix):
    if suffix == ".parquet":
        require("pyarrow")
    expected = printed(space)
    assert any(row["b.ceil_mode"] is True for row in expected) and any(row["b.ceil_mode"] is False for row in expected)
    out = tmp_path / f"rows{suffix}"
    result = runner.invoke(app, ["enumerate", str(space), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert read_rows(out) == expected
    assert f"wrote {len(expected):,} assignments" in result.output
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_limit_and_the_python_fallback_give_the_same_rows(space, tmp_path, monkeypatch):
    expected = printed(space, "--limit", "7")
    out = tmp_path / "rows.jsonl"
    assert runner.invoke(app, ["enumerate", str(space), "-o", str(out), "--limit", "7"]).exit_code == 0
    assert read_rows(out) == expected
    import builtins

    real_import = builtins.__import__

    def without_pyarrow(name, *args, **kwargs):  # the formatting without the extra: plain Python
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_pyarrow)
    for suffix in (".jsonl", ".csv"):
        plain = tmp_path / f"plain{suffix}"
        with AssignmentWriter(plain) as writer:
            for start in range(0, len(expected), 3):
                block = expected[start:start + 3]
                writer.write({k: np.asarray([row[k] for row in block]) for k in expected[0]})
        assert read_rows(plain) == expected
    with pytest.raises(Exception, match=r"convsolve\[parquet\]"):
        AssignmentWriter(tmp_path / "x.parquet")


def test_sample_to_a_file_writes_the_printed_samples(space, tmp_path):
    result = runner.invoke(app, ["sample", str(space), "-n", "25", "--seed", "3", "--jsonl"])
    expected = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    out = tmp_path / "samples.csv"
    assert runner.invoke(app, ["sample", str(space), "-n", "25", "--seed", "3", "-o", str(out)]).exit_code == 0
    assert read_rows(out) == expected and len(expected) == 25


def test_an_existing_file_or_an_unknown_suffix_is_refused_before_solving(space, tmp_path):
    out = tmp_path / "mine.csv"
    out.write_text("my data\n")
    result = runner.invoke(app, ["enumerate", str(space), "-o", str(out)])
    assert result.exit_code == 2 and "--force" in result.output and out.read_text() == "my data\n"
    assert runner.invoke(app, ["enumerate", str(space), "-o", str(out), "--force"]).exit_code == 0
    assert read_rows(out) == printed(space)
    result = runner.invoke(app, ["enumerate", str(space), "-o", str(tmp_path / "rows.xlsx")])
    assert result.exit_code == 2 and ".csv, .jsonl, .ndjson, .parquet" in result.output
    assert not (tmp_path / "rows.xlsx").exists()


def test_the_chain_benchmark_space_streams_in_blocks(tmp_path):
    out = tmp_path / "rows.parquet"
    require("pyarrow")
    result = runner.invoke(app, ["enumerate", str(CONFIGS / "bench" / "chain-6.yaml"), "--limit", "200000", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert len(rows) == 200_000 and rows[:50] == printed(CONFIGS / "bench" / "chain-6.yaml", "--limit", "50")


def test_a_missing_folder_or_a_full_disk_is_a_clear_error_and_leaves_nothing(space, tmp_path, monkeypatch):
    result = runner.invoke(app, ["enumerate", str(space), "-o", str(tmp_path / "nowhere" / "rows.csv")])
    assert result.exit_code == 2 and "cannot write" in result.output and "No such file or directory" in result.output
    import errno

    from convsolve.errors import OutputError

    target = tmp_path / "rows.jsonl"
    target.write_text("kept\n")
    writer = AssignmentWriter(target)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer._handle, "write", full)
    with pytest.raises(OutputError, match="No space left on device"), writer:
        writer.write({"a": np.array([1, 2])})
    assert target.read_text() == "kept\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
