"""Repairing an assignment of a search space: optimal against brute force, and from the CLI."""

import json
import random

import pytest
from typer.testing import CliRunner

from convsolve.cli import app
from convsolve.ops.nearest import nearest
from convsolve.ops.repair import SHIFT_SCALE
from small_spaces import SPACES

runner = CliRunner()


def cost(trial, assignment, weights):
    total = 0
    for name, before in trial.items():
        after = assignment[name]
        if after != before:
            weight = weights.get(name, weights.get(name.rsplit(".", 1)[-1], 1))
            total += weight * SHIFT_SCALE + abs(int(after) - int(before))
    return total


@pytest.mark.parametrize("name", ["chain", "residual", "transposed_concat", "constraints_and_ties", "stacked_residual"])
def test_nearest_is_the_cheapest_valid_assignment(brute_force, name):
    space = SPACES[name]()
    valid = brute_force(space)
    rng = random.Random(name)
    for weights in ({}, {"kernel": 3}, {"stride": 0, "padding": 2}):
        for _ in range(6):
            trial = {p: rng.choice(param.values) for p, param in space.params.items()}
            if rng.random() < 0.3:  # a partial trial: the rest is free
                trial.pop(rng.choice(list(trial)))
            found = nearest(space, trial, weights)
            best = min(cost(trial, row, weights) for row in valid)
            assert found.assignment in valid
            assert found.cost == cost(trial, found.assignment, weights) == best
            assert found.status == ("valid" if best == 0 else "repaired")


def test_an_unknown_parameter_is_refused_by_name():
    space = SPACES["chain"]()
    with pytest.raises(Exception, match="'c9.kernel': not a parameter"):
        nearest(space, {"c9.kernel": 3})


def test_cli_repairs_a_trial_file_and_writes_the_assignment(brute_force, tmp_path):
    space = SPACES["residual"]()
    valid = brute_force(space)
    invalid = next(
        trial for trial in ({p: random.Random(i).choice(v.values) for p, v in space.params.items()} for i in range(500))
        if trial not in valid
    )
    config = tmp_path / "space.json"
    config.write_text(json.dumps(space_config()))
    trial_file = tmp_path / "trial.json"
    trial_file.write_text(json.dumps(invalid))
    out = tmp_path / "fixed.json"
    result = runner.invoke(app, ["repair", str(config), "--assignment", str(trial_file), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["status"] == "repaired" and report["changes"]
    assert json.loads(out.read_text()) == report["assignment"]
    assert report["assignment"] in brute_force(load(config))
    again = runner.invoke(app, ["repair", str(config), "--assignment", str(out)])
    assert again.exit_code == 0 and again.output.startswith("valid"), again.output


def test_cli_bad_trial_values_exit_2_naming_the_field(tmp_path):
    config = tmp_path / "space.json"
    config.write_text(json.dumps(space_config()))
    result = runner.invoke(app, ["repair", str(config), "--set", "c1.kernel=three"])
    assert result.exit_code == 2 and "--set" in result.output
    trial = tmp_path / "trial.json"
    trial.write_text("[1, 2]")
    result = runner.invoke(app, ["repair", str(config), "--assignment", str(trial)])
    assert result.exit_code == 2 and "--assignment" in result.output and "Traceback" not in result.output


def space_config():
    """The config of ``SPACES["residual"]``: loaded back, its brute force is the one already done for it."""
    return SPACES["residual"]().to_config()


def load(path):
    from convsolve.space import load_space

    return load_space(path)
