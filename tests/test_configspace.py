"""ConfigSpace export and valid sampler: conditions exactly as ``active_when``, forbidden clauses that never exclude a
valid assignment and are exactly the infeasible pairs, samples that are all valid, and ``export-space`` on disk.

The oracle is brute force: every assignment in which exactly the parameters in the network have values, checked with
range-wide inference on the fixed network (``space.fixed(a).infer().valid_mask().all()``).
"""

from __future__ import annotations

import itertools
import json
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from convsolve import load_space
from convsolve.cli import app
from convsolve.errors import InvalidAssignment, MissingExtraError
from convsolve.space import Space

SPACES = Path(__file__).resolve().parent.parent / "configs" / "spaces"
needs_configspace = pytest.mark.skipif(find_spec("ConfigSpace") is None, reason="needs ConfigSpace: pip install -e '.[configspace]'")
runner = CliRunner()

GATED = {  # a pair that forbids, an op gate, a depth gate, a depth inside an op (an And of both), a bool, an input choice, and the size itself
    "input": {"channels": 1, "size": {"param": {"choice": [6, 5, 8]}}},
    "layers": [
        {"name": "c0", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [1, 8]}},  # kernel 8: input 8, and then size 1
        {"name": "e", "choose": {
            "conv": {"type": "conv2d", "out_channels": 1, "kernel": {"choice": [3, 1]}, "stride": {"choice": [1, 2]}},
            "pool": {"type": "max_pool2d", "kernel": 2, "ceil_mode": {"choice": [False, True]}},
            "skip": {"type": "identity"}}},
        {"name": "blocks", "repeat": {"choice": [1, 2]}, "layers": [
            {"name": "op", "choose": {
                "down": {"type": "conv2d", "out_channels": 1, "kernel": {"choice": [2, 3]}, "stride": 2},
                "keep": {"type": "conv2d", "out_channels": 1, "kernel": 3, "padding": 1}}}]},
        {"name": "head", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [1, 2]}, "inputs": {"choice": ["e", "blocks"]}},
    ],
}


def gated_space() -> Space:
    return Space.from_config(json.loads(json.dumps(GATED)))


def active_assignments(space: Space) -> list[dict[str, Any]]:
    """Every assignment giving a value to exactly the parameters in the network (declaration order decides activity)."""
    names = list(space.params)
    found: list[dict[str, Any]] = []

    def walk(i: int, chosen: dict[str, Any]) -> None:
        if i == len(names):
            found.append({k: v for k, v in chosen.items() if v is not None})
            return
        param = space.params[names[i]]
        for value in param.values if param.active(chosen) else (None,):
            walk(i + 1, {**chosen, names[i]: value})

    walk(0, {})
    return found


def is_valid(space: Space, assignment: dict[str, Any]) -> bool:
    try:
        result = space.fixed(assignment).infer()
    except InvalidAssignment:
        return False
    return not result.static and bool(result.valid_mask().all())


@pytest.fixture(scope="module")
def gated() -> tuple[Space, list[dict[str, Any]], list[dict[str, Any]]]:
    space = gated_space()
    candidates = active_assignments(space)
    return space, candidates, [a for a in candidates if is_valid(space, a)]


def legal(cs: Any, assignment: dict[str, Any]) -> bool:
    """Whether ConfigSpace accepts the assignment as a configuration: activity as its conditions say, no forbidden clause."""
    import ConfigSpace

    try:
        ConfigSpace.Configuration(cs, values=assignment).check_valid_configuration()
    except (ValueError, KeyError):  # ConfigSpace's InactiveHyperparameterSetError, ActiveHyperparameterNotSetError, ForbiddenValueError, ...
        return False
    return True


@needs_configspace
def test_conditions_are_exactly_active_when(gated: tuple[Space, list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    from convsolve.integrations.configspace import to_configspace

    space, candidates, _ = gated
    cs = to_configspace(space, prune=False, forbid=False)
    assert sorted(cs) == sorted(space.params)
    assert any(len(space.params[name].active_when) == 2 for name in space.params)  # the nested case: an And of two gates
    assert all(legal(cs, assignment) for assignment in candidates)
    for assignment in candidates[::10]:
        for name in space.params:  # one parameter's activity flipped: ConfigSpace refuses it
            flipped = dict(assignment)
            if name in flipped:
                del flipped[name]
            else:
                flipped[name] = space.params[name].values[0]
            assert not legal(cs, flipped), (assignment, name)
    cs.seed(1)
    for configuration in cs.sample_configuration(300):  # ConfigSpace's own draws have exactly convsolve's activity
        space.complete(dict(configuration))


@needs_configspace
def test_integers_are_ordinal_in_increasing_order_and_come_back_exact() -> None:
    from convsolve.integrations.configspace import assignment_of_configuration, to_configspace

    cs = to_configspace(gated_space(), prune=False, forbid=False)
    assert list(cs["e.conv.kernel"].sequence) == [1, 3]
    assert list(cs["input.size"].sequence) == [5, 6, 8]
    assert list(cs["e.pool.ceil_mode"].choices) == [False, True]
    assert list(cs["e.op"].choices) == ["conv", "pool", "skip"]
    cs.seed(0)
    for configuration in cs.sample_configuration(50):
        for value in assignment_of_configuration(configuration).values():
            assert type(value) in (int, bool, str)


@needs_configspace
def test_forbidden_clauses_never_exclude_a_valid_assignment(gated: tuple[Space, list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    from convsolve.integrations.configspace import export_configspace

    space, candidates, valid = gated
    exported = export_configspace(space)
    assert 0 < exported.forbidden <= 1000 and 0 < len(valid) < len(candidates)
    assert all(legal(exported.configspace, a) for a in valid)
    pruned = export_configspace(space, forbid=False).configspace  # pruning alone keeps every valid assignment too
    assert all(legal(pruned, a) for a in valid)
    refused = sum(not legal(exported.configspace, a) for a in candidates)
    assert refused > sum(not legal(pruned, a) for a in candidates)  # and the clauses do refuse invalid ones


@needs_configspace
def test_the_bound_keeps_the_clauses_that_exclude_most() -> None:
    from convsolve.integrations.configspace import export_configspace

    space = gated_space()
    everything = export_configspace(space)
    one = export_configspace(space, max_forbidden=1)
    assert one.forbidden == 1 and one.infeasible == everything.infeasible > 1


def test_infeasible_pairs_are_the_value_pairs_of_no_valid_assignment(gated: tuple[Space, list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    from convsolve.integrations.configspace import infeasible_pairs

    space, _, valid = gated
    found = {(pair.param, pair.value, pair.other, other) for pair in infeasible_pairs(space) for other in pair.others}
    found |= {(q, b, p, a) for p, a, q, b in found}
    seen = {(p, a, q, b) for row in valid for (p, a), (q, b) in itertools.permutations(row.items(), 2)}
    supported = {(name, value) for row in valid for name, value in row.items()}
    expected = {(p, a, q, b) for (p, a), (q, b) in itertools.permutations(sorted(supported, key=str), 2)
                if p != q and (p, a, q, b) not in seen}
    assert found and found - expected == set()  # never a pair that a valid assignment has
    possible = {(p, a, q, b) for p, a, q, b in expected
                if any(row.get(p) == a for row in valid if q in row) and any(row.get(q) == b for row in valid if p in row)}
    assert possible <= found  # every pair of values that are active together somewhere, yet never in a valid assignment


@needs_configspace
def test_valid_sampler_draws_only_valid_configurations(gated: tuple[Space, list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    import ConfigSpace

    from convsolve.integrations.configspace import ValidConfigurationSampler, assignment_of_configuration

    space, candidates, valid = gated
    sampler = ValidConfigurationSampler(space, seed=3)
    drawn = sampler.sample_configuration(200)
    assert all(isinstance(c, ConfigSpace.Configuration) and c.config_space is sampler.configspace for c in drawn)
    assert all(is_valid(space, assignment_of_configuration(c)) for c in drawn)
    assert isinstance(sampler.sample_configuration(), ConfigSpace.Configuration)
    distinct = len({json.dumps(assignment_of_configuration(c), sort_keys=True) for c in drawn})
    assert distinct > 150  # uniform over the valid assignments: about 666 * (1 - exp(-200 / 666)) = 173 distinct expected
    assert [a for a in candidates if sampler.is_valid(a)] == valid


@needs_configspace
def test_valid_sampler_on_a_shipped_space_where_configspace_draws_mostly_invalid() -> None:
    from convsolve.integrations.configspace import ValidConfigurationSampler, assignment_of_configuration

    space = load_space(SPACES / "unet_space.yaml")
    sampler = ValidConfigurationSampler(space, seed=0)
    own = sampler.configspace.sample_configuration(50)
    assert sum(not sampler.is_valid(c) for c in own) > 25
    for configuration in sampler.sample_configuration(20):
        assert space.fixed(assignment_of_configuration(configuration)).infer().valid_mask().all()


@needs_configspace
def test_export_space_writes_json_configspace_reads_back(tmp_path: Path) -> None:
    from ConfigSpace import ConfigurationSpace

    from convsolve.integrations.configspace import to_configspace

    source = SPACES / "resnet_space.yaml"
    output = tmp_path / "space.json"
    result = runner.invoke(app, ["export-space", str(source), "--to", "configspace", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert ConfigurationSpace.from_json(output) == to_configspace(load_space(source))
    again = runner.invoke(app, ["export-space", str(source), "--to", "configspace", "-o", str(output)])
    assert again.exit_code == 2 and "--force" in again.output and len(again.output.strip().splitlines()) == 1
    forced = runner.invoke(app, ["export-space", str(source), "--to", "configspace", "-o", str(output), "--force", "--json", "--no-forbid"])
    assert forced.exit_code == 0 and json.loads(forced.stdout)["forbidden"] == 0
    assert not ConfigurationSpace.from_json(output).forbidden_clauses


def test_export_space_refuses_an_unknown_format_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export-space", str(SPACES / "resnet_space.yaml"), "--to", "smac", "-o", str(tmp_path / "a.json")])
    assert result.exit_code == 2 and "configspace" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "a.json").exists()


def test_missing_configspace_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from convsolve.integrations.configspace import ValidConfigurationSampler, to_configspace

    monkeypatch.setitem(sys.modules, "ConfigSpace", None)
    with pytest.raises(MissingExtraError, match=r"convsolve\[configspace\]"):
        to_configspace(gated_space())
    with pytest.raises(MissingExtraError, match=r"convsolve\[configspace\]"):
        ValidConfigurationSampler(gated_space())
    result = runner.invoke(app, ["export-space", str(SPACES / "resnet_space.yaml"), "--to", "configspace", "-o", str(tmp_path / "a.json")])
    assert result.exit_code == 2 and "convsolve[configspace]" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "a.json").exists()
