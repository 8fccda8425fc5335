"""Writing networks back out as configs: loading what was written gives equal layers, valid sizes and shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import convsolve
from convsolve.errors import UsageError
from convsolve.io.config import read_config
from convsolve.io.export import (
    export_text,
    layer_to_config,
    network_to_config,
    write_network,
)
from convsolve.sizesets import SizeRange

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SHIPPED = sorted(CONFIGS.glob("*.yaml")) + sorted(CONFIGS.glob("seed/*.yaml"))


def assert_same_network(a: convsolve.Network, b: convsolve.Network) -> None:
    assert a.order == b.order and a.convention == b.convention and a.input == b.input
    for name in a.order[1:]:
        assert a.layer(name) == b.layer(name), name
        assert a.inputs_of(name) == b.inputs_of(name), name
    assert str(a.valid_sizes()) == str(b.valid_sizes())
    size = a.input.ranges[0].hi
    assert [row.shape for row in a.shapes([size] * a.ndim)] == [row.shape for row in b.shapes([size] * b.ndim)]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_shipped_configs_round_trip_through_the_writer(tmp_path, path, suffix):
    network = convsolve.load(path)
    written = tmp_path / f"out{suffix}"
    write_network(network, written)
    assert_same_network(convsolve.load(written), network)


def test_every_convention_and_padding_spelling_round_trips():
    layers = [
        {"name": "a", "type": "conv2d", "out_channels": 4, "kernel": [3, 5], "padding": [[0, 1], [2, 2]], "stride": [1, 2]},
        {"name": "b", "type": "max_pool2d", "kernel": 3, "stride": 1, "ceil_mode": True, "dilation": 2},
        {"name": "c", "type": "conv_transpose2d", "out_channels": 4, "kernel": 2, "stride": 2, "output_padding": 1},
        {"name": "d", "type": "interpolate", "scale_factor": [1.5, 2]},
        {"name": "e", "type": "add", "inputs": ["d", "d"], "broadcast": True},
        {"name": "f", "type": "group_norm", "num_groups": 2},
        {"name": "g", "type": "pad", "padding": [[-1, 2], [0, 0]]},
        {"name": "h", "type": "adaptive_avg_pool2d", "output_size": [2, 3]},
        {"name": "i", "type": "flatten"},
        {"name": "j", "type": "linear", "out_features": 3, "in_features": 24},
    ]
    for convention, extra in [("pytorch", []), ("onnx", [{"name": "k", "type": "conv2d", "out_channels": 2, "kernel": 3, "inputs": ["a"],
                                                          "padding": "same_lower", "stride": 2}]),
                              ("tensorflow", [{"name": "k", "type": "conv2d", "out_channels": 2, "kernel": 3, "inputs": ["a"], "padding": "same"}])]:
        data = {"name": "mix", "convention": convention, "input": {"channels": 4, "height": {"range": [8, 40], "step": 2}, "width": 12},
                "layers": layers + extra}
        network = convsolve.load_config(data)
        assert_same_network(convsolve.load_config(network_to_config(network)), network)


def test_defaults_are_left_out_and_inputs_written_only_when_not_the_previous_layer():
    network = convsolve.load(CONFIGS / "resnet18.yaml")
    config = network_to_config(network)
    by_name = {layer["name"]: layer for layer in config["layers"]}
    assert "inputs" not in by_name["conv1"] and by_name["layer1_0_add"]["inputs"] == ["layer1_0_bn2", "maxpool"]
    assert layer_to_config(network.layer("maxpool")) == {"type": "max_pool2d", "kernel": 3, "stride": 2, "padding": 1}
    assert json.loads(json.dumps(config)) == config


def test_yaml_text_is_one_line_per_layer_with_a_header(tmp_path):
    network = convsolve.load(CONFIGS / "unet.yaml").with_input([SizeRange(16, 64, 16)] * 2, True)
    text = export_text(network)
    assert text.startswith("# unet: exported by convsolve from ")
    assert "  - {name: pool1, type: max_pool2d, kernel: 2}\n" in text
    assert "input: {channels: 1, size: {range: [16, 64], step: 16}}" in text
    path = tmp_path / "unet.yaml"
    path.write_text(text)
    assert read_config(path)["layers"][0]["name"] == "enc1_conv1"


def test_writer_refuses_to_overwrite_without_permission(tmp_path):
    network = convsolve.load(CONFIGS / "vgg16.yaml")
    path = tmp_path / "vgg.yaml"
    path.write_text("keep me")
    with pytest.raises(UsageError, match="--force"):
        write_network(network, path)
    assert path.read_text() == "keep me"
    write_network(network, path, overwrite=True)
    assert_same_network(convsolve.load(path), network)
