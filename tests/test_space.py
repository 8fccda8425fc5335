"""Search spaces: every config form, parameter naming and tying, concrete networks, round trips, and errors."""

from __future__ import annotations

import copy
import io
import itertools
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

import convsolve
from convsolve import ConfigError, Space, load_space
from convsolve.errors import ExpressionError, InvalidAssignment, UsageError
from convsolve.network import INPUT
from convsolve.sizesets import SizeRange
from convsolve.space import MAX_RANGE_VALUES, Param, SpaceConstraint, Target

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

SPACE_YAML = """\
name: resnet_space   # a small space
input: {channels: 3, size: {range: [32, 224]}}
params:                                   # shared symbols, tied across layers
  width: {choice: [16, 32, 64]}
  k: {range: [1, 7], step: 2}             # 1, 3, 5, 7
  b1_expand: {choice: [1, 2]}
layers:
  - {name: stem, type: conv2d, out_channels: {param: width}, kernel: {choice: [3, 5, 7]}, stride: {choice: [1, 2]}, padding: {expr: "stem.kernel // 2"}}
  - {name: b1, type: conv2d, out_channels: {param: width}, kernel: [{choice: [1, 3]}, {param: k}], padding: 1}
  - {name: e1, type: conv2d, out_channels: {expr: "width * b1_expand"}, kernel: 1}
  - {name: pool, type: max_pool2d, kernel: 2, ceil_mode: {choice: [false, true]}}   # bools stay bools
constraints:
  - "stem.stride <= stem.kernel"
  - "b1.kernel.height <= k"
targets:
  - {node: b1, size: 7, at: 224}
  - {node: b1, stride: 4}
  - {node: pool, receptive_field: {min: 11, max: 200}, size: [7, 9], at: [224, 288]}
"""  # noqa: E501 - one layer a line, as a config is written

PARAMS = {
    "width": (16, 32, 64),
    "k": (1, 3, 5, 7),
    "b1_expand": (1, 2),
    "stem.kernel": (3, 5, 7),
    "stem.stride": (1, 2),
    "b1.kernel.height": (1, 3),
    "pool.ceil_mode": (False, True),
}


@pytest.fixture
def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE_YAML)
    return path


@pytest.fixture
def space(space_file: Path) -> Space:
    return load_space(space_file)


def config(*layers: Any, **top: Any) -> dict[str, Any]:
    data = {"name": "t", "input": {"channels": 3, "size": {"range": [8, 64]}}, "layers": list(layers)}
    data.update(top)
    return data


def conv(name: str = "c", **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": "conv2d", "out_channels": 8, "kernel": 3, **fields}


# --- parsing -----------------------------------------------------------------------------------


def test_every_syntax_form_becomes_a_named_param_in_declaration_order(space):
    assert {name: param.values for name, param in space.params.items()} == PARAMS
    assert list(space.params) == list(PARAMS)
    assert space.params["width"].origin == "params"
    assert space.params["stem.kernel"].origin == "layer 'stem', field 'kernel'"
    assert space.params["b1.kernel.height"].origin == "layer 'b1', field 'kernel', axis 'height'"
    assert space.params["pool.ceil_mode"].values == (False, True)
    assert all(type(v) is bool for v in space.params["pool.ceil_mode"].values)
    assert space.total == 3 * 4 * 2 * 3 * 2 * 2 * 2


def test_graph_order_constraints_and_targets(space):
    assert space.order == [INPUT, "stem", "b1", "e1", "pool"]
    assert space.inputs_of("b1") == ("stem",)
    assert "layer" not in space.graph.nodes["b1"] and space.graph.nodes["b1"]["type"] == "conv2d"
    assert space.graph.nodes["stem"]["line"] == 8
    assert [c.text for c in space.constraints] == ["stem.stride <= stem.kernel", "b1.kernel.height <= k"]
    assert isinstance(space.constraints[0], SpaceConstraint) and space.constraints[0].line == 13
    assert space.constraints[1].expression.names == {"b1.kernel.height", "k"}
    assert space.targets == (
        Target("b1", size=(7, 7), at=(224, 224)),
        Target("b1", stride=4),
        Target("pool", size=(7, 9), at=(224, 288), receptive_field=(11, 200)),
    )
    assert space.name == "resnet_space" and space.convention.name == "pytorch" and space.input.channels == 3


def test_layer_params_include_those_read_by_exprs(space):
    assert space.layer_params("stem") == ("stem.kernel", "stem.stride", "width")
    assert space.layer_params("b1") == ("b1.kernel.height", "k", "width")
    assert space.layer_params("e1") == ("b1_expand", "width")
    assert space.layer_params("pool") == ("pool.ceil_mode",)


def test_range_defaults_to_step_1_and_values_are_deduplicated_in_written_order():
    space = Space.from_config(config(conv(kernel={"range": [2, 5]}, stride={"choice": [2, 1, 2, 3, 1]})))
    assert space.params["c.kernel"].values == (2, 3, 4, 5)
    assert space.params["c.stride"].values == (2, 1, 3)


@pytest.mark.parametrize(
    "rank, kernel, names",
    [
        (1, [{"choice": [1, 3]}], ["c.kernel.length"]),
        (2, [{"choice": [1, 3]}], ["c.kernel"]),  # one item: the same value on every axis
        (2, [3, {"choice": [1, 3]}], ["c.kernel.width"]),
        (3, [{"choice": [1, 3]}, 3, {"range": [1, 2]}], ["c.kernel.depth", "c.kernel.width"]),
    ],
)
def test_per_axis_choices_are_named_by_axis(rank, kernel, names):
    axes = {1: {"length": 16}, 2: {"height": 16, "width": 16}, 3: {"depth": 16, "height": 16, "width": 16}}[rank]
    layer = {"name": "c", "type": f"conv{rank}d", "out_channels": 4, "kernel": kernel}
    space = Space.from_config({"input": {"channels": 1, **axes}, "layers": [layer]})
    assert list(space.params) == names
    values = {name: space.params[name].values[-1] for name in names}
    expected = tuple(item if isinstance(item, int) else item.get("choice", [0, 2])[-1] for item in kernel)
    assert space.build_layer("c", values).kernel == expected * (rank if len(kernel) == 1 else 1)


def test_a_symbol_used_by_two_layers_is_one_param():
    space = Space.from_config(config(
        conv("a", kernel={"param": "k"}), conv("b", kernel={"param": "k"}, padding={"expr": "k // 2"}),
        params={"k": {"choice": [1, 3]}},
    ))
    assert list(space.params) == ["k"] and space.total == 2
    net = space.fixed({"k": 3})
    assert net.layer("a").kernel == net.layer("b").kernel == (3, 3)
    assert net.layer("b").padding.pairs == ((1, 1), (1, 1))


def test_a_config_without_choices_is_a_space_of_one_network():
    data = config(conv(padding=1), {"name": "p", "type": "max_pool2d", "kernel": 2})
    space = Space.from_config(data)
    assert space.params == {} and space.total == 1 and space.constraints == () and space.targets == ()
    network = convsolve.load_config(data)
    fixed = space.fixed({})
    assert [fixed.layer(n) for n in fixed.order[1:]] == [network.layer(n) for n in network.order[1:]]


@pytest.mark.parametrize("name", ["vgg16", "resnet18", "resnet50", "unet", "mobilenetv2"])
def test_shipped_networks_load_as_spaces_and_fix_to_the_same_network(name):
    path = CONFIGS / f"{name}.yaml"
    network, fixed = convsolve.load(path), load_space(path).fixed({})
    assert fixed.order == network.order
    assert all(fixed.layer(n) == network.layer(n) and fixed.inputs_of(n) == network.inputs_of(n) for n in network.order[1:])
    assert dict(fixed.graph.nodes(data=True)) == dict(network.graph.nodes(data=True))
    assert str(fixed.valid_sizes()) == str(network.valid_sizes())


# --- concrete layers and networks --------------------------------------------------------------


def substituted(data: dict[str, Any], assignment: dict[str, Any]) -> dict[str, Any]:
    """SPACE_YAML's config with every open value written out by hand, as a user would for one network."""
    data = copy.deepcopy(data)
    del data["params"], data["constraints"], data["targets"]
    stem, b1, e1, pool = data["layers"]
    stem.update(out_channels=assignment["width"], kernel=assignment["stem.kernel"], stride=assignment["stem.stride"],
                padding=assignment["stem.kernel"] // 2)
    b1.update(out_channels=assignment["width"], kernel=[assignment["b1.kernel.height"], assignment["k"]])
    e1.update(out_channels=assignment["width"] * assignment["b1_expand"])
    pool.update(ceil_mode=assignment["pool.ceil_mode"])
    return data


def test_fixed_equals_the_network_written_out_for_every_assignment(space):
    data = YAML(typ="safe").load(SPACE_YAML)
    for values in itertools.product(*PARAMS.values()):
        assignment = dict(zip(PARAMS, values))
        fixed, network = space.fixed(assignment), convsolve.load_config(substituted(data, assignment))
        assert [fixed.layer(n) for n in fixed.order[1:]] == [network.layer(n) for n in network.order[1:]]
        assert fixed.order == network.order and fixed.input == network.input


def test_build_layer_is_memoised_per_combination(space):
    values = {"width": 16, "stem.kernel": 5, "stem.stride": 2, "k": 99}
    layer = space.build_layer("stem", values)
    assert space.build_layer("stem", dict(values, k=1)) is layer  # k is not stem's
    assert space.build_layer("stem", dict(values, width=32)) is not layer
    assert layer.padding.pairs == ((2, 2), (2, 2)) and layer.stride == (2, 2)


def test_build_layer_needs_its_params_and_a_layer_name(space):
    with pytest.raises(UsageError, match="needs a value for 'width'"):
        space.build_layer("stem", {"stem.kernel": 3, "stem.stride": 1})
    with pytest.raises(UsageError, match="no layer named 'stme'.*'stem'"):
        space.build_layer("stme", {})
    with pytest.raises(UsageError, match="no value for"):
        space.fixed({"width": 16})
    with pytest.raises(UsageError, match="unknown parameter 'widht'"):
        space.fixed({**{n: v[0] for n, v in PARAMS.items()}, "widht": 1})


@pytest.mark.parametrize(
    "layer, values, field, match",
    [
        (conv(kernel={"choice": [1, 3]}, padding={"expr": "c.kernel // 2 - 1"}), {"c.kernel": 1}, "padding", ">= 0"),
        (conv(stride={"choice": [1, 2]}, padding="same"), {"c.stride": 2}, "padding", "strided"),
        (conv(kernel={"choice": [1, 3]}, padding={"expr": "3 // (c.kernel - 1)"}), {"c.kernel": 1}, "padding", "divides by zero"),
        (conv(out_channels={"expr": "c.kernel > 1"}, kernel={"choice": [1, 3]}), {"c.kernel": 3}, "out_channels", "expected an integer"),
    ],
)
def test_invalid_combinations_raise_invalid_assignment(layer, values, field, match):
    space = Space.from_config(config(layer), source="s.yaml")
    for _ in range(2):  # the failure is memoised too
        with pytest.raises(InvalidAssignment, match=match) as info:
            space.build_layer("c", values)
        assert info.value.facts["node"] == "c" and info.value.facts["field"] == field and info.value.facts["file"] == "s.yaml"
        assert "with c.kernel" in str(info.value) or "with c.stride" in str(info.value)
    with pytest.raises(InvalidAssignment):
        space.fixed(values)
    assert InvalidAssignment.exit_code == 1


def test_with_input_keeps_params_and_shares_built_layers(space):
    other = space.with_input([SizeRange(64, 64)] * 2, tied=True)
    assert other.input.ranges == (SizeRange(64, 64),) * 2 and space.input.ranges == (SizeRange(32, 224),) * 2
    assert other.params == space.params
    values = {"width": 16, "stem.kernel": 5, "stem.stride": 2}
    assert other.build_layer("stem", values) is space.build_layer("stem", values)


def test_str_lists_params_exprs_constraints_and_targets(space):
    text = str(space)
    assert text.splitlines()[0] == (
        "space 'resnet_space' (pytorch), input 3 x 32..224 (every spatial axis): 7 parameters, 576 assignments"
    )
    assert "  stem.kernel in {3, 5, 7}  (layer 'stem', field 'kernel')" in text
    assert "  stem.padding = stem.kernel // 2" in text
    assert "  constraint: b1.kernel.height <= k" in text
    assert "  target: pool: output 7 x 9 at input 224 x 288, receptive field 11..200" in text
    assert str(Param("x", tuple(range(20)), "params")) == "x in {0, 1, 2, ..., 18, 19}"


# --- writing back ------------------------------------------------------------------------------


def dump(data: Any) -> str:
    stream = io.StringIO()
    YAML(typ="rt").dump(data, stream)
    return stream.getvalue()


def reload(data: Any, tmp_path: Path) -> Space:
    path = tmp_path / "written.yaml"
    path.write_text(dump(data))
    return load_space(path)


def test_to_config_narrows_domains_keeping_comments_and_order(space, tmp_path):
    domains = {"k": [3, 5, 7], "stem.kernel": [3, 7], "width": [32], "pool.ceil_mode": [True]}
    written = space.to_config(domains=domains)
    text = dump(written)
    for comment in ("# a small space", "# shared symbols, tied across layers", "# 1, 3, 5, 7", "# bools stay bools"):
        assert comment in text
    assert "k: {range: [3, 7], step: 2}" in text and "width: {choice: [32]}" in text
    assert list(written) == ["name", "input", "params", "layers", "constraints", "targets"]
    assert list(written["layers"][0]) == ["name", "type", "out_channels", "kernel", "stride", "padding"]
    again = reload(written, tmp_path)
    assert {name: param.values for name, param in again.params.items()} == {**PARAMS, **{n: tuple(v) for n, v in domains.items()}}
    assert [c.text for c in again.constraints] == [c.text for c in space.constraints] and again.targets == space.targets
    assert space.params["k"].values == (1, 3, 5, 7)  # the space itself is unchanged


def test_to_config_turns_an_uneven_range_into_a_choice(space, tmp_path):
    written = space.to_config(domains={"k": [1, 5, 7]})
    assert "k: {choice: [1, 5, 7]}" in dump(written)
    assert reload(written, tmp_path).params["k"].values == (1, 5, 7)


def test_to_config_with_a_partial_assignment_fixes_values_in_place(space, tmp_path):
    written = space.to_config(assignment={"stem.stride": 2, "pool.ceil_mode": True, "k": 5, "b1_expand": 2})
    layers = written["layers"]
    assert layers[3]["ceil_mode"] is True  # no expr or constraint reads it: written as the value
    assert layers[0]["stride"] == {"choice": [2]}  # a constraint reads it: kept as a one-value choice
    assert written["params"]["k"] == {"range": [5, 5], "step": 2}
    again = reload(written, tmp_path)
    assert "pool.ceil_mode" not in again.params and again.params["stem.stride"].values == (2,)
    assert again.total == space.total // (2 * 2 * 4 * 2)


def test_to_config_with_a_full_assignment_is_a_network_config(space, tmp_path):
    assignment = {name: values[-1] for name, values in PARAMS.items()}
    written = space.to_config(assignment=assignment)
    assert "params" not in written and "constraints" not in written and "targets" not in written
    assert "# a small space" in dump(written)
    path = tmp_path / "net.yaml"
    path.write_text(dump(written))
    network, fixed = convsolve.load(path), space.fixed(assignment)
    assert [network.layer(n) for n in network.order[1:]] == [fixed.layer(n) for n in fixed.order[1:]]


def test_to_config_symbol_not_read_by_exprs_is_written_where_used(tmp_path):
    data = YAML(typ="rt").load("input: {channels: 3, size: 8}\nparams:\n  k: {choice: [1, 3]}\n"
                               "layers:\n  - {name: a, type: conv2d, out_channels: 4, kernel: {param: k}}\n"
                               "  - {name: b, type: conv2d, out_channels: 4, kernel: {param: k}, stride: {choice: [1, 2]}}\n")
    space = Space.from_config(data)
    written = space.to_config(assignment={"k": 3})
    assert "params" not in written and written["layers"][0]["kernel"] == written["layers"][1]["kernel"] == 3
    assert list(reload(written, tmp_path).params) == ["b.stride"]


def test_to_config_on_plain_data_and_bad_arguments():
    data = config(conv(kernel={"choice": [1, 3, 5]}))
    space = Space.from_config(data)
    assert space.to_config(domains={"c.kernel": [5, 1]})["layers"][0]["kernel"] == {"choice": [5, 1]}
    assert data["layers"][0]["kernel"] == {"choice": [1, 3, 5]}  # the loaded data is left alone
    with pytest.raises(UsageError, match="unknown parameter 'c.kernal'"):
        space.to_config(domains={"c.kernal": [1]})
    with pytest.raises(UsageError, match="empty"):
        space.to_config(domains={"c.kernel": []})
    with pytest.raises(UsageError, match="both"):
        space.to_config(domains={"c.kernel": [1]}, assignment={"c.kernel": 1})


# --- errors ------------------------------------------------------------------------------------


def raises(data: Any, *, node: str | None = None, field: str | None = None, match: str | None = None,
           kind: type[ConfigError] = ConfigError) -> ConfigError:
    with pytest.raises(kind, match=match) as info:
        Space.from_config(data, source="space.yaml")
    err = info.value
    assert err.facts["file"] == "space.yaml"
    if node is not None:
        assert err.facts["node"] == node
    if field is not None:
        assert err.facts["field"] == field
    assert "\n" not in str(err)
    return err


@pytest.mark.parametrize(
    "fields, field, match",
    [
        ({"kernel": {"param": "wdth"}}, "kernel", "unknown param 'wdth' \\(did you mean 'width'\\?\\)"),
        ({"kernel": {"choice": []}}, "kernel", "empty choice"),
        ({"kernel": {"choice": 3}}, "kernel", "needs a list"),
        ({"kernel": {"range": [5, 3]}}, "kernel", "lo <= hi"),
        ({"kernel": {"range": [1, 5], "step": 0}}, "kernel", "step must be an integer >= 1"),
        ({"kernel": {"range": [1, 5.5]}}, "kernel", "two integers"),
        ({"kernel": {"range": [1, MAX_RANGE_VALUES + 1]}}, "kernel", "10,001 values; at most 10,000"),
        ({"kernel": {"choice": [0, 3]}}, "kernel", ">= 1, got 0"),
        ({"kernel": {"choice": [3, "5"]}}, "kernel", "integers or true/false"),
        ({"kernel": {"choice": [True, 3]}}, "kernel", "mixes true/false"),
        ({"kernel": {"choice": [True, False]}}, "kernel", "expected an integer"),
        ({"kernel": {"choice": [1], "param": "width"}}, "kernel", "an open field is one of"),
        ({"kernel": {"choice": [1], "step": 2}}, "kernel", "alone"),
        ({"kernel": {"expr": 3}}, "kernel", "an expr is a string"),
        ({"kernel": [{"choice": [1]}, 3, 3]}, "kernel", "list of 2"),
        ({"out_channels": [{"choice": [1]}, 3]}, "out_channels", "takes one value"),
        ({"out_channels": {"param": "zero"}}, "out_channels", "\\{param: zero\\} takes 0: must be >= 1"),
        ({"padding": {"choice": ["same", 1]}}, "padding", "integers or true/false"),
        ({"padding": {"choice": [-1, 1]}}, "padding", ">= 0"),
        ({"padding": [[0, {"choice": [1]}], [0, 0]]}, "padding", "pairs are not supported"),
        ({"bias": {"choice": [False, True]}}, "bias", "does not change any size"),
        ({"kernal": {"choice": [1, 3]}}, "kernal", "unknown field 'kernal'"),
        ({"kernel": "3", "stride": {"choice": [1, 2]}}, "kernel", "expected an integer"),
        ({"stride": {"choice": [1, 2]}, "padding": -1}, "padding", ">= 0"),
    ],
)
def test_bad_open_fields_name_file_layer_and_field(fields, field, match):
    data = config(conv(**fields), conv("d", out_channels={"param": "width"}, kernel={"expr": "zero + 1"}),
                  params={"width": {"choice": [8, 16]}, "zero": {"choice": [0, 1]}})
    raises(data, node="c", field=field, match=match)


def test_scale_factor_cannot_be_a_space():
    raises(config({"name": "u", "type": "interpolate", "scale_factor": {"choice": [1, 2]}}),
           node="u", field="scale_factor", match="only integer and true/false fields")


def test_pad_choices_may_crop():
    space = Space.from_config(config({"name": "p", "type": "pad", "padding": [{"choice": [-1, 0]}, 2]}))
    assert space.build_layer("p", {"p.padding.height": -1}).padding.pairs == ((-1, -1), (2, 2))


@pytest.mark.parametrize(
    "text, match",
    [
        ("c.kernal // 2", "unknown name 'c.kernal' \\(did you mean 'c.kernel'\\?\\)"),
        ("c.stride // 2", "unknown name 'c.stride'"),  # a fixed field is not a parameter
        ("c.kernel ** 2", "'\\*\\*' is not allowed"),
        ("__import__('os')", "a call of '__import__'"),
    ],
)
def test_bad_exprs_name_file_layer_and_field(text, match):
    err = raises(config(conv(kernel={"choice": [1, 3]}, padding={"expr": text})), node="c", field="padding", match=match,
                 kind=ExpressionError)
    assert err.facts["expression"] == text


def test_an_expr_that_fails_whatever_the_values_is_refused_at_load():
    raises(config(conv(padding={"expr": "1 // 0"})), node="c", field="padding", match="divides by zero")
    raises(config(conv(padding={"expr": "0 - 1"})), node="c", field="padding", match=">= 0")


@pytest.mark.parametrize(
    "params, field, match",
    [
        ({"k": {"choice": [1, 3]}}, "params.k", "declared but no layer, expr or constraint uses it"),
        ({"2k": {"choice": [1]}}, "params.2k", "identifier"),
        ({"k": 3}, "params.k", "must be \\{choice"),
        ({"k": {"range": [1, 3], "stop": 2}}, "params.k", "a range is"),
        ([1, 2], "params", "must be a mapping"),
    ],
)
def test_bad_params(params, field, match):
    raises(config(conv(), params=params), field=field, match=match)


def test_a_symbol_read_only_by_a_constraint_is_used():
    space = Space.from_config(config(conv(kernel={"choice": [1, 3]}), params={"k": {"choice": [1, 3]}},
                                     constraints=["c.kernel == k"]))
    assert list(space.params) == ["k", "c.kernel"]


@pytest.mark.parametrize(
    "constraints, match, kind",
    [
        (["c.kernel <= 3", 3], "constraint #2 must be a string", ConfigError),
        ("c.kernel <= 3", "must be a list", ConfigError),
        (["c.kernel <="], "is not a valid expression", ExpressionError),
        (["c.kernel / 2 == 1"], "'/' is not allowed", ExpressionError),
        (["c.stride <= 2"], "unknown name 'c.stride'", ExpressionError),
    ],
)
def test_bad_constraints(constraints, match, kind):
    raises(config(conv(kernel={"choice": [1, 3]}), constraints=constraints), field="constraints", match=match, kind=kind)


@pytest.mark.parametrize(
    "target, match",
    [
        ({"node": "cc", "size": 7, "at": 224}, "'node' must name a layer, got 'cc' \\(did you mean 'c'\\?\\)"),
        ({"node": "input", "stride": 2}, "'node' must name a layer"),
        ({"node": "c", "size": 7}, "'size' and 'at' go together"),
        ({"node": "c"}, "needs 'size' \\(with 'at'\\), 'stride' or 'receptive_field'"),
        ({"node": "c", "size": [7, 7, 7], "at": 224}, "list of 2"),
        ({"node": "c", "size": 0, "at": 224}, "integer >= 1"),
        ({"node": "c", "stride": 0}, "stride must be an integer >= 1"),
        ({"node": "c", "receptive_field": {"min": 9, "max": 3}}, "min <= max"),
        ({"node": "c", "receptive_field": {"least": 9}}, "receptive_field is an integer or"),
        ({"node": "c", "strides": 2}, "unknown key 'strides' \\(did you mean 'stride'\\?\\)"),
        ("c", "must be a mapping"),
    ],
)
def test_bad_targets(target, match):
    raises(config(conv(kernel={"choice": [1, 3]}), targets=[target]), field="targets", match=match)


def test_receptive_field_as_one_integer_is_exact():
    space = Space.from_config(config(conv(), targets=[{"node": "c", "receptive_field": 7}, {"node": "c", "receptive_field": {"max": 9}}]))
    assert [t.receptive_field for t in space.targets] == [(7, 7), (None, 9)]


def test_errors_carry_the_yaml_line(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(SPACE_YAML.replace('{expr: "stem.kernel // 2"}', '{expr: "stem.kernel / 2"}'))
    with pytest.raises(ExpressionError) as info:
        load_space(path)
    assert str(info.value).startswith(f"{path}:8: layer 'stem', field 'padding': expression 'stem.kernel / 2', column 13:")
    path.write_text(SPACE_YAML.replace('"b1.kernel.height <= k"', '"b1.kernel.heigth <= k"'))
    with pytest.raises(ExpressionError, match="did you mean 'b1.kernel.height'") as info:
        load_space(path)
    assert str(info.value).startswith(f"{path}:14: field 'constraints'")
    path.write_text(SPACE_YAML.replace("b1_expand: {choice: [1, 2]}", "b1_expand: {choice: [1, 2]}\n  unused: {choice: [1]}"))
    with pytest.raises(ConfigError, match="'unused' is declared but") as info:
        load_space(path)
    assert info.value.facts["line"] == 7


def test_the_network_loader_still_refuses_spaces(space_file):
    with pytest.raises(ConfigError, match="search space") as info:
        convsolve.load(space_file)
    assert info.value.facts["field"] == "params"
    for fields in ({"kernel": {"param": "k"}}, {"padding": {"expr": "1"}}, {"kernel": [3, {"range": [1, 3]}]}):
        with pytest.raises(ConfigError, match="search space.*convsolve.load_space"):
            convsolve.load_config(config(conv(**fields)))
