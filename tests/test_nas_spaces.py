"""Search spaces that choose structure: an op per node (``choose``), a block's depth (``repeat``), a node's inputs
(``inputs: {choice}`` / ``{choose: K, from}``) and the input size, against brute force.

The brute force walks every assignment in which exactly the parameters in the network have values, writes each
as a plain network config (:meth:`Space.to_config`), loads that config as a user would and runs range-wide
inference on it: it shares no code with the solver's dynamic programme.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from constraint import BacktrackingSolver
from uniformity import assert_uniform

from convsolve import load_config, ops
from convsolve.errors import ConfigError, InvalidAssignment, UsageError
from convsolve.solve.problem import compile_problem
from convsolve.space import Space

TOY = {
    "input": {"channels": 3, "size": {"range": [5, 40]}},
    "layers": [
        {"name": "e1", "choose": {
            "conv3": {"type": "conv2d", "out_channels": 16, "kernel": 3, "stride": {"choice": [1, 2]}, "padding": 1},
            "pool": {"type": "max_pool2d", "kernel": 3, "stride": 2},
            "skip": {"type": "identity"}}},
        {"name": "stage2", "repeat": {"choice": [0, 1, 2]}, "layers": [
            {"name": "conv", "type": "conv2d", "out_channels": 16, "kernel": {"choice": [3, 5, 7]}, "padding": {"expr": "kernel // 2"},
             "stride": {"choice": [1, 2]}}]},
        {"name": "head", "type": "conv2d", "out_channels": 16, "kernel": 1, "inputs": {"choice": ["e1", "stage2"]}},
        {"name": "sum", "type": "add", "inputs": {"choose": 2, "from": ["e1", "stage2", "head"]}},
    ],
}

UNET_TIED = {  # encoder and decoder depths tied: the skip add needs the decoder to undo the encoder exactly
    "input": {"channels": 4, "size": {"range": [8, 48], "step": 4}},
    "params": {"depth": {"choice": [1, 2, 3]}},
    "layers": [
        {"name": "enc", "repeat": {"param": "depth"}, "layers": [
            {"name": "down", "type": "conv2d", "out_channels": 4, "kernel": 3, "stride": 2, "padding": {"choice": [0, 1]}}]},
        {"name": "dec", "repeat": {"param": "depth"}, "layers": [
            {"name": "up", "type": "conv_transpose2d", "out_channels": 4, "kernel": {"choice": [2, 3, 4]}, "stride": 2,
             "padding": {"expr": "(kernel - 1) // 2"}, "output_padding": {"choice": [0, 1]}}]},
        {"name": "out", "type": "add", "inputs": ["dec", "input"]},
    ],
}

TIED_OPS = {  # one op for both edges; a kernel read from the copy index; a residual inside each copy
    "input": {"channels": 2, "size": {"range": [3, 30]}},
    "params": {"op": {"choice": ["conv", "pool", "skip"]}},
    "layers": [
        {"name": "a", "op": {"param": "op"}, "choose": {
            "conv": {"type": "conv2d", "out_channels": 2, "kernel": {"choice": [3, 5]}},
            "pool": {"type": "avg_pool2d", "kernel": 2},
            "skip": {"type": "identity"}}},
        {"name": "b", "op": {"param": "op"}, "choose": {
            "conv": {"type": "conv2d", "out_channels": 2, "kernel": 3, "padding": {"choice": [0, 1]}},
            "pool": {"type": "max_pool2d", "kernel": 3, "stride": {"choice": [1, 2]}},
            "skip": {"type": "identity"}}},
        {"name": "blocks", "repeat": {"range": [1, 3]}, "layers": [  # residual: valid where the padding is the copy's number
            {"name": "c", "type": "conv2d", "out_channels": 2, "kernel": {"expr": "2 * index + 1"}, "padding": {"choice": [0, 1, 2]}},
            {"name": "r", "type": "add", "inputs": ["c", "input"]}]},
    ],
}

NESTED = {  # a block of blocks, each inner copy an op choice; the size itself is a parameter
    "input": {"channels": 1, "size": {"param": {"choice": [4, 7, 9, 16]}}},
    "layers": [
        {"name": "outer", "repeat": {"choice": [1, 2]}, "layers": [
            {"name": "inner", "repeat": {"choice": [1, 2]}, "layers": [
                {"name": "op", "choose": {
                    "down": {"type": "conv2d", "out_channels": 1, "kernel": {"choice": [2, 3]}, "stride": 2},
                    "keep": {"type": "conv2d", "out_channels": 1, "kernel": 3, "padding": 1}}}]},
            {"name": "mix", "type": "add", "inputs": {"choose": 2, "from": ["inner", "inner.0.op", "input"]}}]},
    ],
}

UNET_SKIPS = {  # each decoder copy concatenates its mirror in the encoder: enc[depth - 1 - index]
    "input": {"channels": 1, "size": {"param": {"range": [13, 24]}}},
    "params": {"depth": {"choice": [1, 2, 3]}},
    "layers": [
        {"name": "enc", "repeat": {"param": "depth"}, "layers": [
            {"name": "conv", "type": "conv2d", "out_channels": 2, "kernel": {"choice": [1, 3]}, "padding": 1},
            {"name": "down", "type": "max_pool2d", "kernel": 2, "stride": 2, "ceil_mode": {"choice": [False, True]}}]},
        {"name": "dec", "repeat": {"param": "depth"}, "layers": [
            {"name": "up", "type": "conv_transpose2d", "out_channels": 2, "kernel": 2, "stride": 2},
            {"name": "cat", "type": "concat", "inputs": ["up", "enc[depth - 1 - index].conv"]},
            {"name": "mix", "type": "conv2d", "out_channels": 2, "kernel": 1}]},
    ],
}

COMPOSITE = {  # options that are several layers: a separable conv, and a factorized reduce that odd sizes break
    "input": {"channels": 4, "size": {"param": {"range": [5, 12]}}},
    "layers": [
        {"name": "r", "choose": {
            "sep": [{"name": "dw", "type": "conv2d", "out_channels": 4, "groups": 4, "kernel": {"choice": [3, 5]}, "stride": 2,
                     "padding": {"expr": "kernel // 2"}},
                    {"name": "pw", "type": "conv2d", "out_channels": 4, "kernel": 1}],
            "pool": {"type": "max_pool2d", "kernel": 3, "stride": 2, "padding": 1},
            "skip": [{"name": "a", "type": "conv2d", "out_channels": 2, "kernel": 1, "stride": 2},
                     {"name": "crop", "type": "pad", "padding": [[-1, 0], [-1, 0]], "inputs": ["input"]},
                     {"name": "b", "type": "conv2d", "out_channels": 2, "kernel": 1, "stride": 2},
                     {"name": "cat", "type": "concat", "inputs": ["a", "b"]}]}},
        {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 3]}},
    ],
}

CONSTRAINED = {  # constraints over ops, inputs and copies' fields; one reading a copy the depth may leave out
    **TOY,
    "constraints": ['(e1.op == "skip") + (head.input == "e1") <= 1', "stage2.1.conv.kernel <= stage2.0.conv.kernel",
                    'e1.op != "conv3" or e1.conv3.stride == 1'],
}

CELLS = {  # a cell repeated with one shared op per edge; most ops keep the shape, so the plan passes them on
    "input": {"channels": 2, "size": {"range": [5, 14]}},
    "params": {"edge_a": {"choice": ["sep", "pool", "skip", "shrink"]}, "edge_b": {"choice": ["sep", "skip", "wide"]}},
    "layers": [
        {"name": "cells", "repeat": {"choice": [1, 2]}, "layers": [
            {"name": "a", "op": {"param": "edge_a"}, "choose": {
                "sep": [{"name": "dw", "type": "conv2d", "out_channels": 2, "groups": 2, "kernel": 3, "padding": 1},
                        {"name": "pw", "type": "conv2d", "out_channels": 2, "kernel": 1}],
                "pool": {"type": "avg_pool2d", "kernel": 3, "stride": 1, "padding": 1},
                "skip": {"type": "identity"},
                "shrink": {"type": "conv2d", "out_channels": 2, "kernel": 5}}},
            {"name": "b", "op": {"param": "edge_b"}, "inputs": ["input"], "choose": {
                "sep": {"type": "conv2d", "out_channels": 2, "kernel": 3, "padding": 1},
                "skip": {"type": "identity"},
                "wide": {"type": "conv2d", "out_channels": 4, "kernel": 1}}},
            {"name": "sum", "type": "add", "inputs": ["a", "b"]}]},
    ],
}

SPACES = {"cells": CELLS, "composite": COMPOSITE, "constrained": CONSTRAINED, "toy": TOY, "unet_tied": UNET_TIED, "tied_ops": TIED_OPS,
          "nested": NESTED, "unet_skips": UNET_SKIPS}


def active_assignments(space: Space) -> Iterator[dict[str, Any]]:
    """Every assignment in which exactly the parameters in the network have values (declaration order decides)."""
    names = list(space.params)

    def walk(i: int, chosen: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if i == len(names):
            yield {k: v for k, v in chosen.items() if v is not None}
            return
        param = space.params[names[i]]
        for value in param.values if param.active(chosen) else (None,):
            yield from walk(i + 1, {**chosen, names[i]: value})

    yield from walk(0, {})


def brute_force(space: Space) -> list[dict[str, Any]]:
    found = []
    for assignment in active_assignments(space):
        values = {name: assignment.get(name) for name in space.params}
        if not all(_holds(c.expression, values) for c in space.constraints):
            continue
        try:
            config = space.to_config(assignment=assignment)
        except InvalidAssignment:
            continue
        try:
            network = load_config(json.loads(json.dumps(config)))
        except ConfigError:
            continue
        result = network.infer()
        if not result.static and bool(result.valid_mask().all()):
            found.append(assignment)
    return found


def _holds(expression: Any, values: dict[str, Any]) -> bool:
    """A constraint as the README states it: vacuous where it reads a parameter out of the network."""
    if any(values[name] is None for name in expression.names):
        return True
    return bool(expression.evaluate(values))


def canonical(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, str], ...]]:
    return sorted(tuple(sorted((k, str(v)) for k, v in row.items())) for row in rows)


@pytest.fixture(scope="module", params=sorted(SPACES))
def case(request: pytest.FixtureRequest) -> tuple[Space, list[dict[str, Any]]]:
    space = Space.from_config(json.loads(json.dumps(SPACES[request.param])))
    return space, brute_force(space)


def test_count_equals_brute_force(case: tuple[Space, list[dict[str, Any]]]) -> None:
    space, valid = case
    assert 0 < len(valid) < space.total
    assert space.total == sum(1 for _ in active_assignments(space))
    assert ops.count(space).valid == len(valid)


def test_enumerate_gives_exactly_the_valid_assignments(case: tuple[Space, list[dict[str, Any]]]) -> None:
    space, valid = case
    rows = list(ops.enumerate_assignments(space))
    assert canonical(rows) == canonical(valid)
    assert list(ops.enumerate_assignments(space, limit=3)) == rows[:3]


def test_prune_and_suggest_keep_exactly_the_values_of_valid_assignments(case: tuple[Space, list[dict[str, Any]]]) -> None:
    space, valid = case
    pruned = ops.prune(space)
    for name, param in space.params.items():
        assert pruned.domains[name] == tuple(v for v in param.values if any(row.get(name) == v for row in valid)), name
    structural = [n for n in space.params if n.endswith((".op", ".depth", ".input", ".inputs")) or n in ("depth", "op", "input.size")]
    for name in structural[:2]:
        for value in space.params[name].values:
            result = ops.suggest(space, {name: value})
            matching = [row for row in valid if row.get(name) == value]
            assert result.valid == len(matching)
            for other, param in space.params.items():
                if other == name or not matching:
                    continue
                if all(other not in row for row in matching):
                    assert other in result.absent
                else:
                    assert result.domains[other] == tuple(v for v in param.values if any(r.get(other) == v for r in matching))


def test_layers_every_option_of_which_keeps_the_shape_are_no_steps() -> None:
    from convsolve.solve.plan import make_plan

    space = Space.from_config(json.loads(json.dumps(CELLS)))
    steps = [step.node for step in make_plan(space).steps]
    assert steps == ["cells.0.a.shrink", "cells.0.b", "cells.0.sum", "cells.1.a.shrink", "cells.1.b", "cells.1.sum"]
    assert len(space.order) == 17  # dw, pw, pool and skip of each cell pass their input on; b has an option that widens


def test_ops_whose_every_option_keeps_the_shape_are_still_counted() -> None:
    """Every layer passes its input on: one stays a step to decide the ops (each of 2 x 2 choices is valid)."""
    identity_or = {"a": {"type": "identity"}, "b": {"type": "conv2d", "out_channels": 2, "kernel": 3, "padding": 1}}
    space = Space.from_config({"input": {"channels": 2, "size": {"range": [4, 8]}},
                               "layers": [{"name": "e", "choose": identity_or}, {"name": "f", "choose": identity_or}]})
    assert ops.count(space).valid == 4 == len(list(ops.enumerate_assignments(space)))
    assert len({json.dumps(a, sort_keys=True) for a in ops.sample(space, 200, seed=0)}) == 4


def test_samples_are_valid_active_assignments(case: tuple[Space, list[dict[str, Any]]]) -> None:
    space, valid = case
    keys = set(canonical(valid))
    drawn = ops.sample(space, 300, seed=3)
    assert set(canonical(drawn)) <= keys
    assert drawn == ops.sample(space, 300, seed=3)
    distinct = ops.sample(space, len(valid), seed=1, replace=False)
    assert canonical(distinct) == canonical(valid)


def test_python_constraint_backtracking_agrees(case: tuple[Space, list[dict[str, Any]]]) -> None:
    space, valid = case
    solutions = compile_problem(space).getSolutions()
    assert canonical([{k: v for k, v in s.items() if v is not None} for s in solutions]) == canonical(valid)
    if space.total <= 800:
        slow = compile_problem(space, BacktrackingSolver()).getSolutions()
        assert canonical([{k: v for k, v in s.items() if v is not None} for s in slow]) == canonical(valid)


def test_repair_of_an_assignment_is_the_cheapest_valid_one(case: tuple[Space, list[dict[str, Any]]]) -> None:
    from convsolve.ops.nearest import nearest
    from convsolve.ops.repair import SHIFT_SCALE

    space, valid = case
    rng = random.Random(4)
    every = list(active_assignments(space))

    def cost(trial: dict[str, Any], found: dict[str, Any]) -> int:
        total = 0
        for name, before in trial.items():
            after = found.get(name)
            if after is None:
                total += SHIFT_SCALE  # out of the network
            elif after != before:
                numeric = isinstance(after, int) and isinstance(before, int)
                total += SHIFT_SCALE + (abs(int(after) - int(before)) if numeric else 1)
        return total

    for trial in rng.sample(every, 4):
        found = nearest(space, trial)
        assert found.assignment is not None
        assert canonical([found.assignment])[0] in set(canonical(valid))
        assert cost(trial, found.assignment) == min(cost(trial, row) for row in valid), trial


def test_samples_are_uniform_chi_square() -> None:
    space = Space.from_config(json.loads(json.dumps(TOY)))
    valid = canonical(brute_force(space))
    assert_uniform(canonical(ops.sample(space, 40 * len(valid), seed=11)), valid)


def test_inactive_parameters_are_absent_and_refused() -> None:
    space = Space.from_config(json.loads(json.dumps(TOY)))
    assert space.complete({"e1.op": "skip", "stage2.depth": 0, "head.input": "e1", "sum.inputs": "e1+head"})["e1.conv3.stride"] is None
    with pytest.raises(UsageError, match="'e1.conv3.stride' is not in the network .*e1.op = conv3"):
        space.fixed({"e1.op": "skip", "e1.conv3.stride": 1, "stage2.depth": 0, "head.input": "e1", "sum.inputs": "e1+head"})
    with pytest.raises(UsageError, match="no value for 'stage2.0.conv.kernel'"):
        space.fixed({"e1.op": "skip", "stage2.depth": 1, "head.input": "e1", "sum.inputs": "e1+head"})


def test_a_whole_assignment_is_the_network_a_user_would_write() -> None:
    space = Space.from_config(json.loads(json.dumps(TOY)))
    assignment = {"e1.op": "pool", "stage2.depth": 2, "stage2.0.conv.kernel": 5, "stage2.0.conv.stride": 1,
                  "stage2.1.conv.kernel": 3, "stage2.1.conv.stride": 2, "head.input": "e1", "sum.inputs": "e1+head"}
    config = space.to_config(assignment=assignment)
    layers = {layer["name"]: layer for layer in config["layers"]}
    assert list(layers) == ["e1", "stage2.0.conv", "stage2.1.conv", "head", "sum"]
    assert layers["e1"]["type"] == "max_pool2d"
    assert layers["stage2.0.conv"]["padding"] == 2 and layers["stage2.1.conv"]["padding"] == 1
    assert layers["head"]["inputs"] == ["e1"] and layers["sum"]["inputs"] == ["e1", "head"]
    network = space.fixed(assignment)
    assert [network.inputs_of(n) for n in ("head", "sum")] == [("e1",), ("e1", "head")]


def test_the_chosen_input_size_is_the_networks() -> None:
    space = Space.from_config(json.loads(json.dumps(NESTED)))
    assignment = next(iter(ops.enumerate_assignments(space, limit=1)))
    network = space.fixed(assignment)
    assert network.input.ranges[0].lo == network.input.ranges[0].hi == assignment["input.size"]
    assert space.to_config(assignment=assignment)["input"]["size"] == assignment["input.size"]


def test_pruned_domains_are_written_back() -> None:
    space = Space.from_config(json.loads(json.dumps(UNET_TIED)))
    pruned = ops.prune(space)
    again = Space.from_config(space.to_config(domains=pruned.domains))
    assert ops.count(again).valid == ops.count(space).valid
    kernel = again.params["dec.0.up.kernel"].values
    assert set(kernel) == {v for name, values in pruned.domains.items() if name.endswith("up.kernel") for v in values}


@pytest.mark.parametrize("layers, message", [
    ([{"name": "b", "repeat": 100000, "layers": [{"name": "c", "type": "relu"}]},
      {"name": "d", "repeat": 100000, "layers": [{"name": "c", "type": "relu"}]}], "unrolls to .* nodes"),
    ([{"name": "b", "repeat": {"choice": [0]}, "layers": [{"name": "c", "type": "relu"}]}], "largest depth of at least 1"),
    ([{"name": "b", "repeat": -1, "layers": [{"name": "c", "type": "relu"}]}], "repeats at least once"),
    ([{"name": "b", "repeat": 2}], "needs 'layers'"),
    ([{"name": "e", "choose": {}}], "choose is a mapping"),
    ([{"name": "e", "choose": {"a": {"name": "x", "type": "relu"}}}], "may not give 'name'"),
    ([{"name": "e", "type": "relu", "choose": {"a": {"type": "relu"}}}], "move 'type' into the options"),
    ([{"name": "e", "choose": {"a": {"type": "relu"}, "f": {"type": "flatten"}}}], "all flatten or none"),
    ([{"name": "e", "choose": {"a": {"type": "nope"}}}], "unknown layer type"),
    ([{"name": "c", "type": "conv2d", "out_channels": 1, "kernel": 1},
      {"name": "s", "type": "add", "inputs": {"choose": 3, "from": ["c", "input"]}}], "1 <= K <= 2"),
    ([{"name": "c", "type": "relu"}, {"name": "h", "type": "relu", "inputs": {"choice": ["c", "nowhere"]}}], "unknown input 'nowhere'"),
    ([{"name": "b", "repeat": {"choice": [1, 2]}, "layers": [{"name": "f", "type": "flatten"}]}], "flatten cannot be in a copy"),
    ([{"name": "a", "type": "relu"}, {"name": "b", "repeat": {"choice": [1, 2]}, "layers": [{"name": "c", "type": "relu", "inputs": ["a"]}]}],
     "reached from the block's input"),
    ([{"name": "c", "type": "relu"}, {"name": "c", "repeat": 2, "layers": [{"name": "d", "type": "relu"}]}], "duplicate layer name"),
])
def test_malformed_structure_is_one_clear_error(layers: list[Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Space.from_config({"input": {"channels": 1, "size": 8}, "layers": layers})


def test_choices_nested_too_deeply_to_count_are_refused_before_counting() -> None:
    layer: dict[str, Any] = {"name": "c", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [1, 3]}, "padding": {"expr": "kernel // 2"}}
    for level in range(20):  # 20 blocks inside one another, each of depth 0 or 1
        layer = {"name": f"b{level}", "repeat": {"choice": [0, 1]}, "layers": [layer]}
    with pytest.raises(ConfigError, match="nested too deeply to count"):
        Space.from_config({"input": {"channels": 1, "size": 8}, "layers": [layer]})


def test_ties_refuse_values_that_are_not_options() -> None:
    config = json.loads(json.dumps(TIED_OPS))
    config["params"]["op"]["choice"].append("sep")
    with pytest.raises(ConfigError, match="takes \\['sep'\\], which is not an option"):
        Space.from_config(config)


def test_structural_rows_are_written_with_gaps(tmp_path: Any) -> None:
    from convsolve.io.tables import AssignmentWriter, block_text

    space = Space.from_config(json.loads(json.dumps(TOY)))
    block = next(iter(ops.enumerate_blocks(space, limit=4)))
    lines = [json.loads(line) for line in block_text(block, "jsonl").decode().splitlines()]
    assert lines == list(ops.enumerate_assignments(space, limit=4))
    with AssignmentWriter(tmp_path / "rows.csv") as writer:
        writer.write(block)
    header, first = (tmp_path / "rows.csv").read_text().splitlines()[:2]
    cells = dict(zip([h.strip('"') for h in header.split(",")], first.split(",")))
    assert cells["stage2.0.conv.kernel"] == "" and cells["e1.op"].strip('"') == lines[0]["e1.op"]


def test_spaces_without_structure_keep_their_totals_and_twins() -> None:
    space = Space.from_config({"input": {"channels": 1, "size": {"range": [8, 16]}}, "layers": [
        {"name": f"c{i}", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [1, 3]}, "padding": {"expr": "kernel // 2"}}
        for i in range(4)]})
    assert not space.structural and space.total == 16
    assert all(space.layer_params(f"c{i}") == (f"c{i}.kernel",) for i in range(4))
    assert ops.count(space).valid == 16
    assert list(itertools.islice(ops.enumerate_assignments(space), 1)) == [{f"c{i}.kernel": 1 for i in range(4)}]


def test_tables_hold_every_assignment_with_nulls_where_out_of_the_network() -> None:
    pytest.importorskip("pyarrow")
    pandas = pytest.importorskip("pandas")
    space = Space.from_config(json.loads(json.dumps(TOY)))
    rows = list(ops.enumerate_assignments(space))
    table = ops.enumerate_table(space)
    assert table.num_rows == len(rows) and table.schema.names == list(space.params)
    assert [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()] == rows
    assert str(table.schema.field("e1.op").type) == "string" and str(table.schema.field("stage2.depth").type) == "int64"
    frame = ops.sample_table(space, 50, seed=2, library="pandas")
    assert isinstance(frame, pandas.DataFrame) and len(frame) == 50
    drawn = ops.sample(space, 50, seed=2)
    assert frame["e1.op"].tolist() == [row["e1.op"] for row in drawn]
    with pytest.raises(UsageError, match="library must be"):
        ops.enumerate_table(space, library="polars")
