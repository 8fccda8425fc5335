"""The solver verbs on the command line: count, enumerate, sample, prune and suggest."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convsolve import load_space, ops
from convsolve.cli import app

ROOT = Path(__file__).resolve().parent.parent
CHAIN6 = str(ROOT / "configs" / "bench" / "chain-6.yaml")
RESNET = str(ROOT / "configs" / "spaces" / "resnet_space.yaml")
runner = CliRunner()


def test_count_prints_valid_of_total():
    result = runner.invoke(app, ["count", CHAIN6])
    assert result.exit_code == 0, result.output
    assert "11,417,906 valid of 16,777,216 assignments" in result.output
    data = json.loads(runner.invoke(app, ["count", CHAIN6, "--json"]).stdout)
    assert data["valid"] == "11417906" and data["total"] == "16777216"


def test_enumerate_jsonl_is_lazy_and_ordered():
    result = runner.invoke(app, ["enumerate", CHAIN6, "--limit", "5", "--jsonl"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == list(ops.enumerate_assignments(load_space(CHAIN6), limit=5))


def test_sample_is_seeded():
    first = runner.invoke(app, ["sample", CHAIN6, "-n", "20", "--seed", "4", "--jsonl"]).stdout
    again = runner.invoke(app, ["sample", CHAIN6, "-n", "20", "--seed", "4", "--jsonl"]).stdout
    other = runner.invoke(app, ["sample", CHAIN6, "-n", "20", "--seed", "5", "--jsonl"]).stdout
    assert first == again != other
    assert len(first.splitlines()) == 20


def test_prune_writes_a_config_that_loads_and_keeps_comments(tmp_path):
    out = tmp_path / "pruned.yaml"
    result = runner.invoke(app, ["prune", RESNET, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.splitlines()[0] == Path(RESNET).read_text().splitlines()[0]  # the header comment survives
    pruned = load_space(out)
    assert ops.count(pruned).valid == ops.count(load_space(RESNET)).valid
    again = runner.invoke(app, ["prune", RESNET, "-o", str(out)])
    assert again.exit_code == 2 and "exists" in again.output
    same = runner.invoke(app, ["prune", RESNET, "-o", RESNET, "--force"])
    assert same.exit_code == 2 and "refusing to overwrite the input" in same.output


def test_suggest_with_settings():
    result = runner.invoke(app, ["suggest", CHAIN6, "--set", "conv1.kernel=7", "--set", "conv1.stride=2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["fixed"] == {"conv1.kernel": 7, "conv1.stride": 2}
    assert int(data["valid"]) == ops.suggest(load_space(CHAIN6), {"conv1.kernel": 7, "conv1.stride": 2}).valid


@pytest.mark.parametrize("args, message", [
    (["suggest", CHAIN6, "--set", "conv1.kernel"], "expected NAME=VALUE"),
    (["suggest", CHAIN6, "--set", "conv1.kernel=x"], "is not in its domain"),
    (["suggest", CHAIN6, "--set", "nope=1"], "unknown parameter"),
    (["count", "missing.yaml"], "no such file"),
])
def test_bad_solver_arguments_exit_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_timeout_exits_124():
    result = runner.invoke(app, ["count", str(ROOT / "configs" / "bench" / "chain-1000.yaml"), "--timeout", "0.01"])
    assert result.exit_code == 124
    assert "timeout" in result.output


def test_space_configs_are_refused_by_check_with_a_pointer():
    result = runner.invoke(app, ["check", CHAIN6])
    assert result.exit_code == 2
    assert "count" in result.output


def test_write_config_is_atomic_and_leaves_no_temporary_file(tmp_path):
    from convsolve.errors import UsageError
    from convsolve.io.config import read_config, write_config

    target = tmp_path / "out.yaml"
    write_config(read_config(RESNET), target)
    assert load_space(target).total == load_space(RESNET).total
    blocked = tmp_path / "a_directory.yaml"
    blocked.mkdir()
    with pytest.raises(UsageError, match="is a directory, not a regular file"):
        write_config({"a": 1}, blocked, overwrite=True)  # a directory is never replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_directory.yaml", "out.yaml"]
    with pytest.raises(UsageError, match="cannot write"):
        write_config({"a": 1}, tmp_path / "missing" / "out.yaml")
