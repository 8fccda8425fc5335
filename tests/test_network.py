"""Building the network DAG from configs, and every error path of the loader."""

import json

import networkx as nx
import pytest

import convsolve
from convsolve import ConfigError
from convsolve.network import INPUT


def config(*layers, **top):
    data = {"name": "t", "input": {"channels": 3, "size": {"range": [8, 64]}}, "layers": list(layers)}
    data.update(top)
    return data


CONV = {"name": "c1", "type": "conv2d", "out_channels": 8, "kernel": 3, "padding": 1}


def test_layers_chain_unless_they_name_inputs():
    net = convsolve.load_config(config(
        CONV,
        {"name": "c2", "type": "conv2d", "out_channels": 8, "kernel": 3, "padding": 1},
        {"name": "sum", "type": "add", "inputs": ["c1", "c2"]},
    ))
    assert isinstance(net.graph, nx.DiGraph)
    assert set(net.graph.edges) == {(INPUT, "c1"), ("c1", "c2"), ("c1", "sum"), ("c2", "sum")}
    assert net.inputs_of("sum") == ("c1", "c2")
    assert net.order[0] == INPUT


def test_per_axis_fields_expand_and_pool_stride_defaults_to_kernel():
    net = convsolve.load_config(config(
        {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": [3, 5], "padding": [[1, 0], [2, 2]]},
        {"name": "p", "type": "max_pool2d", "kernel": 3},
    ))
    conv, pool = net.layer("c"), net.layer("p")
    assert conv.kernel == (3, 5) and conv.stride == (1, 1)
    assert conv.padding.pairs == ((1, 0), (2, 2))
    assert pool.stride == (3, 3)


def test_json_and_yaml_files_load_the_same(tmp_path):
    data = config(CONV)
    (tmp_path / "a.json").write_text(json.dumps(data))
    yaml_text = ("name: t\ninput: {channels: 3, size: {range: [8, 64]}}\nlayers:\n"
                 "  - {name: c1, type: conv2d, out_channels: 8, kernel: 3, padding: 1}\n")
    (tmp_path / "a.yaml").write_text(yaml_text)
    a, b = convsolve.load(tmp_path / "a.json"), convsolve.load(tmp_path / "a.yaml")
    assert a.layer("c1") == b.layer("c1")
    assert str(a.valid_sizes()) == str(b.valid_sizes()) == "8..64"


def raises(data, *, node=None, field=None, match=None):
    with pytest.raises(ConfigError, match=match) as info:
        convsolve.load_config(data, source="net.yaml")
    err = info.value
    assert err.facts["file"] == "net.yaml"
    if node is not None:
        assert err.facts["node"] == node
    if field is not None:
        assert err.facts["field"] == field
    assert "Traceback" not in str(err) and "\n" not in str(err)
    return err


@pytest.mark.parametrize(
    "layer, field, match",
    [
        ({"name": "c", "type": "conv2d", "out_channels": 8}, "kernel", "needs 'kernel'"),
        ({"name": "c", "type": "conv2d", "out_channels": 8, "kernel": 0}, "kernel", ">= 1"),
        ({"name": "c", "type": "conv2d", "out_channels": 8, "kernel": "3"}, "kernel", "expected an integer"),
        ({"name": "c", "type": "conv2d", "out_channels": 8, "kernel": [3, 3, 3]}, "kernel", "list of 2"),
        ({"name": "c", "type": "conv2d", "out_channels": 8, "kernel": True}, "kernel", "expected an integer"),
        ({"name": "c", "type": "conv2d", "out_channels": 8, "kernel": 3, "padding": -1}, "padding", ">= 0"),
        ({"name": "c", "type": "conv2d", "out_channels": 8, "kernel": 3, "padding": "full"}, "padding", "not a padding"),
        ({"name": "c", "type": "conv2d", "out_channels": 8, "kernel": 3, "stride": 2, "padding": "same"}, "padding", "strided"),
        ({"name": "c", "type": "conv2d", "out_channels": 8, "kernel": 3, "kernal": 3}, "kernal", "did you mean 'kernel'"),
        ({"name": "c", "type": "conv2d", "out_channels": 8, "kernel": {"choice": [1, 3]}}, "kernel", "search space"),
        ({"name": "p", "type": "max_pool2d", "kernel": 2, "ceil_mode": "yes"}, "ceil_mode", "true or false"),
        ({"name": "p", "type": "avg_pool2d", "kernel": 2, "dilation": 2}, "dilation", "unknown field"),
        ({"name": "p", "type": "max_pool2d", "kernel": 2, "out_channels": 4}, "out_channels", "unknown field"),
        ({"name": "u", "type": "interpolate"}, "size", "exactly one"),
        ({"name": "u", "type": "interpolate", "size": 4, "scale_factor": 2}, "size", "exactly one"),
        ({"name": "u", "type": "interpolate", "scale_factor": -2}, "scale_factor", "positive number"),
        ({"name": "x", "type": "convolution2d"}, "type", "unknown layer type"),
        ({"name": "x"}, "type", "needs a 'type'"),
        ({"name": "input", "type": "relu"}, "name", "reserved"),
        ({"name": "x", "type": "relu", "inputs": "c1"}, "inputs", "non-empty list"),
    ],
)
def test_bad_layer_fields_name_the_layer_and_field(layer, field, match):
    raises(config(layer), node=layer["name"], field=field, match=match)


def test_unknown_layer_type_suggests_the_closest():
    raises(config({"name": "x", "type": "conv2"}), match="did you mean 'conv2d'")


def test_layer_without_a_name():
    raises(config({"type": "relu"}), field="name", match="needs a 'name'")


def test_layer_that_is_not_a_mapping():
    raises(config("relu"), match="must be a mapping")


def test_duplicate_names():
    raises(config(CONV, dict(CONV)), node="c1", field="name", match="duplicate")


def test_unknown_input_suggests_a_name():
    raises(config(CONV, {"name": "s", "type": "add", "inputs": ["c1", "c0"]}), node="s", field="inputs", match="unknown input 'c0'")


def test_cycle_is_reported_with_its_path():
    err = raises(config(
        {"name": "a", "type": "relu", "inputs": ["b"]},
        {"name": "b", "type": "relu", "inputs": ["a"]},
    ), field="inputs", match="cycle")
    assert "a" in err.message and "b" in err.message


def test_merge_needs_two_inputs_and_others_exactly_one():
    raises(config(CONV, {"name": "s", "type": "add", "inputs": ["c1"]}), node="s", match="at least two")
    raises(config(CONV, {"name": "r", "type": "relu", "inputs": ["input", "c1"]}), node="r", match="takes one input")


def test_spatial_layer_after_flatten_is_refused():
    raises(config({"name": "f", "type": "flatten"}, CONV), node="c1", field="inputs", match="flattened")


def test_merge_of_flattened_and_spatial_is_refused():
    raises(config({"name": "f", "type": "flatten"}, {"name": "s", "type": "add", "inputs": ["f", "input"]}), node="s", match="mixes")


@pytest.mark.parametrize(
    "top, field, match",
    [
        ({"convention": "caffe"}, "convention", "must be one of"),
        ({"input": {"channels": 0, "size": 32}}, "input.channels", "positive integer"),
        ({"input": {"channels": 3}}, "input", "needs 'size'"),
        ({"input": {"channels": 3, "size": 32, "height": 32}}, "input.size", "not both"),
        ({"input": {"channels": 3, "size": {"range": [64, 8]}}}, "input.size", "lo <= hi"),
        ({"input": {"channels": 3, "size": {"range": [8, 64.5]}}}, "input.size", "integers"),
        ({"input": {"channels": 3, "size": "big"}}, "input.size", "integer or"),
        ({"input": {"channels": 3, "depth": 4, "height": 8, "width": 8}}, "input.depth", "unknown input key"),
        ({"input": [3, 32]}, "input", "must be a mapping"),
    ],
)
def test_bad_input_and_convention(top, field, match):
    raises(config(CONV, **top), field=field, match=match)


def test_top_level_problems():
    raises([1, 2], match="must be a mapping")
    raises(config(CONV, nmae="x"), match="unknown top-level key 'nmae'")
    raises({"input": {"channels": 3, "size": 8}, "layers": []}, match="non-empty list")


def test_mixed_spatial_ranks_are_refused():
    raises(config(CONV, {"name": "p", "type": "max_pool1d", "kernel": 2}), match="different spatial ranks")


def test_yaml_errors_carry_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: t\ninput: {channels: 3, size: 8}\nlayers:\n  - {name: c, type: conv2d, out_channels: 8, kernel: 3\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        convsolve.load(path)
    assert info.value.facts["file"] == str(path)


def test_field_errors_carry_the_yaml_line(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("name: t\ninput: {channels: 3, size: 8}\nlayers:\n  - {name: a, type: relu}\n"
                    "  - {name: c, type: conv2d, out_channels: 8, kernel: -3}\n")
    with pytest.raises(ConfigError) as info:
        convsolve.load(path)
    assert str(info.value).startswith(f"{path}:5: layer 'c', field 'kernel'")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        convsolve.load(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        convsolve.load(tmp_path)


def test_bad_json_carries_the_line(tmp_path):
    path = tmp_path / "net.json"
    path.write_text('{"name": "t",\n "layers": [,]}')
    with pytest.raises(ConfigError, match="not valid JSON") as info:
        convsolve.load(path)
    assert info.value.facts["line"] == 2


def test_convention_decides_framework_specific_rules():
    def layer(convention, spec):
        data = {"convention": convention, "input": {"channels": 1, "depth": 4, "height": 4, "width": 4}, "layers": [spec]}
        return convsolve.load_config(data).layer(spec["name"])

    pool = {"name": "p", "type": "avg_pool3d", "kernel": 3, "stride": 1, "padding": 1}
    assert layer("pytorch", pool).axis_size(0, 2) == (2, False)  # PyTorch: the unpadded input must cover the kernel
    assert layer("onnx", pool).axis_size(0, 2) == (2, True)
    up = {"name": "u", "type": "conv_transpose3d", "out_channels": 1, "kernel": 3, "stride": 2, "output_size": 9}
    assert layer("pytorch", up).axis_size(0, 2) == (9, False)  # PyTorch: output_size within [min, min + s - 1]
    assert layer("onnx", up).axis_size(0, 2) == (9, True)  # ONNX output_shape: the pads follow from it


def test_derived_fields_are_not_config_fields():
    with pytest.raises(ConfigError, match="unknown field 'input_covers_kernel'"):
        convsolve.load_config(config({"name": "p", "type": "avg_pool2d", "kernel": 2, "input_covers_kernel": True}))
