"""Why a space is empty: the conflict named is infeasible, and dropping any one of its demands makes it feasible."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from convsolve import ops
from convsolve.cli import app
from convsolve.space import Space

BASE: dict[str, Any] = {
    "input": {"channels": 1, "size": {"range": [16, 40]}},
    "layers": [
        {"name": "a", "type": "conv2d", "out_channels": 2, "kernel": {"choice": [1, 3, 5]}, "stride": {"choice": [1, 2]},
         "padding": {"choice": [0, 1]}},
        {"name": "b", "type": "conv2d", "out_channels": 2, "kernel": {"choice": [1, 3]}, "stride": {"choice": [1, 2]}},
    ],
}
CONSTRAINTS = ["a.kernel > 3", "a.stride == 2", "b.kernel == 1", "a.padding < b.stride", "a.kernel + b.kernel < 4"]
TARGETS = [{"node": "b", "stride": 4}, {"node": "b", "stride": 1}, {"node": "b", "receptive_field": {"max": 4}},
           {"node": "a", "size": 20, "at": 40}, {"node": "b", "receptive_field": {"min": 12}}]


def space_with(constraints: list[str], targets: list[dict[str, Any]]) -> Space:
    config = copy.deepcopy(BASE)
    config["constraints"], config["targets"] = constraints, targets
    return Space.from_config(config)


def empty_cases() -> list[tuple[list[str], list[dict[str, Any]]]]:
    cases = []
    for k in (2, 3):
        for constraints in itertools.combinations(CONSTRAINTS, k - 1):
            for targets in itertools.combinations(TARGETS, 2):
                cases.append((list(constraints), list(targets)))
    return cases


@pytest.mark.parametrize("index", range(0, 60, 3))
def test_the_conflict_is_infeasible_and_irreducible(index: int) -> None:
    cases = empty_cases()
    constraints, targets = cases[index % len(cases)]
    space = space_with(constraints, targets)
    if ops.count(space).valid:
        pytest.skip("not empty")
    conflict = ops.explain_empty(space)
    assert conflict.demands, str(conflict)

    def valid(demands: Any) -> int:
        kept_constraints = [d.text for d in demands if d.kind == "constraint"]
        kept_targets = [targets[d.index] for d in demands if d.kind == "target"]
        return ops.count(space_with(kept_constraints, kept_targets)).valid

    assert valid(conflict.demands) == 0
    for demand in conflict.demands:
        assert valid([d for d in conflict.demands if d is not demand]) > 0, (str(conflict), demand)
    for demand in conflict.also:
        assert valid([demand]) == 0


def test_fixed_values_take_part_and_the_failing_layer_is_named() -> None:
    space = space_with([], [{"node": "b", "stride": 4}])  # total stride 4 needs both strides 2
    result = ops.suggest(space, {"a.stride": 1, "a.kernel": 3})
    assert result.valid == 0
    assert "target: b: total stride 4" in result.reason and "fixed: a.stride = 1" in result.reason
    assert "a.kernel" not in result.reason  # the kernel has no part in it
    conflict = ops.explain_empty(space, {"a.stride": 1, "a.kernel": 3})
    assert {d.kind for d in conflict.demands} == {"target", "fixed"} and "layer 'b'" in conflict.reason


def test_a_network_failing_with_no_demand_names_the_layer() -> None:
    config = copy.deepcopy(BASE)
    config["input"]["size"] = 2
    config["layers"][1]["kernel"] = {"choice": [5, 7]}
    config["targets"] = [{"node": "b", "stride": 1}]
    conflict = ops.explain_empty(Space.from_config(config))
    assert not conflict.demands and "layer 'b'" in str(conflict) and "whatever the constraints and targets" in str(conflict)


def test_count_prints_the_conflict_and_exits_1(tmp_path: Any) -> None:
    path = tmp_path / "space.json"
    config = copy.deepcopy(BASE)
    config["constraints"], config["targets"] = ["a.kernel > 3"], [{"node": "b", "receptive_field": {"max": 4}}]
    path.write_text(json.dumps(config))
    result = CliRunner().invoke(app, ["count", str(path)])
    assert result.exit_code == 1
    assert "these demands cannot all hold" in result.output and "a.kernel > 3" in result.output
    data = json.loads(CliRunner().invoke(app, ["count", str(path), "--json"]).output)
    assert {d["kind"] for d in data["conflict"]} == {"constraint", "target"}
