"""Translating single ONNX nodes: defaults, refusals that name the node and attribute, the optional extra."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from extras import require

require("onnx")

from onnx import helper  # noqa: E402

from convsolve.errors import ConfigError, MissingExtraError  # noqa: E402
from convsolve.io.onnx import layer_from_onnx_node  # noqa: E402
from convsolve.layers import ConvTranspose, Merge, Pool, ShapePreserving  # noqa: E402

pytestmark = pytest.mark.onnx


def test_pool_stride_defaults_to_one_unlike_pytorch():
    layer = layer_from_onnx_node(helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2]), (1, 3, 32, 32))
    assert isinstance(layer, Pool) and layer.stride == (1, 1)
    assert layer.axis_size(0, 32) == (31, True)


def test_conv_kernel_defaults_to_the_weight_shape_and_channels_come_from_it():
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=2, pads=[1, 0, 1, 0])
    layer = layer_from_onnx_node(node, (1, 4, 9, 9), {"w": (6, 2, 3, 2)})
    assert (layer.kernel, layer.out_channels, layer.in_channels, layer.groups) == ((3, 2), 6, 4, 2)
    assert layer.padding.pairs == ((1, 1), (0, 0))


def test_conv_transpose_output_shape_derives_the_pads():
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[3, 2], output_shape=[10, 8], pads=[1, 1, 1, 1])
    layer = layer_from_onnx_node(node, (1, 1, 3, 3), {"w": (1, 2, 3, 3)})
    assert isinstance(layer, ConvTranspose) and layer.pads_from_output_size and layer.padding.pairs == ((0, 0), (0, 0))
    assert layer.axis_size(0, 100) == (10, True)


def test_unsupported_op_names_node_and_op_type():
    node = helper.make_node("MaxRoiPool", ["x", "rois"], ["y"], name="pool1", pooled_shape=[2, 2])
    with pytest.raises(ConfigError) as info:
        layer_from_onnx_node(node, (1, 3, 8, 8))
    assert info.value.facts == {"node": "pool1", "field": "op_type"}
    assert "supported ops" in str(info.value)


def test_lp_pool_translates_as_lp_pool_with_the_pads_and_dilations_of_onnx():
    node = helper.make_node("LpPool", ["x"], ["y"], name="pool1", kernel_shape=[3, 3], strides=[2, 2], p=3)
    layer = layer_from_onnx_node(node, (1, 3, 8, 8))
    assert layer.type == "lp_pool2d" and layer.axis_size(0, 8) == (3, True)
    padded = helper.make_node("LpPool", ["x"], ["y"], name="pool2", kernel_shape=[3, 3], pads=[1, 1, 1, 1], dilations=[2, 2])
    # E = 2*(3 - 1) + 1 = 5: floor((8 + 2 - 5) / 1) + 1 = 6
    assert layer_from_onnx_node(padded, (1, 3, 8, 8)).axis_size(0, 8) == (6, True)


def test_resize_needs_the_value_of_its_scales():
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up1")
    with pytest.raises(ConfigError, match="must be a constant") as info:
        layer_from_onnx_node(node, (1, 3, 8, 8))
    assert info.value.facts == {"node": "up1", "field": "scales"}


def test_resize_scales_become_a_scale_factor_and_sizes_a_fixed_size():
    scales = helper.make_node("Resize", ["x", "", "s"], ["y"])
    layer = layer_from_onnx_node(scales, (1, 3, 8, 8), constants={"s": np.array([1, 1, 2, 0.5], np.float32)})
    assert (layer.axis_size(0, 5), layer.axis_size(1, 5)) == ((10, True), (2, True))
    sizes = helper.make_node("Resize", ["x", "", "", "z"], ["y"], axes=[3, 2])
    layer = layer_from_onnx_node(sizes, (1, 3, 8, 8), constants={"z": np.array([7, 9])})
    assert (layer.axis_size(0, 100), layer.axis_size(1, 1)) == ((9, True), (7, True))


def test_resize_of_the_channels_is_refused():
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], name="up")
    with pytest.raises(ConfigError, match="channels") as info:
        layer_from_onnx_node(node, (1, 3, 8, 8), constants={"s": np.array([1, 2, 2, 2], np.float32)})
    assert info.value.facts["field"] == "scales"


def test_unknown_attribute_is_refused_by_name():
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", future_option=1)
    with pytest.raises(ConfigError, match="future_option") as info:
        layer_from_onnx_node(node, (1, 1, 8, 8), {"w": (1, 1, 3, 3)})
    assert info.value.facts["field"] == "future_option"


def test_kernel_shape_must_agree_with_the_weight():
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[2, 2])
    with pytest.raises(ConfigError, match=r"kernel_shape \[2, 2\] disagrees") as info:
        layer_from_onnx_node(node, (1, 1, 8, 8), {"w": (1, 1, 3, 3)})
    assert info.value.facts == {"node": "y", "field": "kernel_shape"}  # unnamed node: named by its output


def test_conv_needs_the_weight_shape():
    with pytest.raises(ConfigError, match="weight_shapes"):
        layer_from_onnx_node(helper.make_node("Conv", ["x", "w"], ["y"]), (1, 1, 8, 8))


@pytest.mark.parametrize("attrs, field", [
    ({"pads": [-1, 0]}, "pads"),
    ({"pads": [1, 1], "auto_pad": "SAME_UPPER"}, "pads"),
    ({"auto_pad": "SAME"}, "auto_pad"),
    ({"strides": [1, 1]}, "strides"),
    ({"strides": [0]}, "strides"),
])
def test_padding_and_stride_errors_name_the_attribute(attrs, field):
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3], **attrs)
    with pytest.raises(ConfigError) as info:
        layer_from_onnx_node(node, (1, 1, 8))
    assert info.value.facts["field"] == field


def test_add_of_a_constant_that_keeps_the_shape_preserves_it():
    node = helper.make_node("Add", ["x", "bias"], ["y"])
    assert isinstance(layer_from_onnx_node(node, (1, 8, 5, 5), {"bias": (8, 1, 1)}), ShapePreserving)
    assert isinstance(layer_from_onnx_node(node, (1, 8, 5, 5)), Merge)
    with pytest.raises(ConfigError, match="broadcasts"):
        layer_from_onnx_node(node, (1, 8, 5, 1), {"bias": (5, 5)})


def test_missing_onnx_package_raises_missing_extra(monkeypatch):
    node = helper.make_node("Relu", ["x"], ["y"])
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingExtraError, match=r"convsolve\[onnx\]"):
        layer_from_onnx_node(node, (1, 3, 8, 8))
