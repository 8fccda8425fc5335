"""ONNX's own node test cases give the output shapes convsolve computes from the translated layers.

The cases come from ``onnx.backend.test.case.node.collect_testcases()``, which builds each model and
its expected outputs in numpy (the wheel ships no data files). Every single-node case of an op that
:mod:`convsolve.io.onnx` translates is a test of its own; the expected shape is the shape of the
expected output array. Resize and Upsample read their scales or sizes from the case's input data,
as a model would hold them in initializers.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

from extras import require

onnx = require("onnx")

from onnx import TensorProto, helper, shape_inference  # noqa: E402
from onnx.backend.test.case.node import collect_testcases  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from convsolve.errors import ChannelMismatch, ConfigError  # noqa: E402
from convsolve.io.onnx import ONNX_TRANSLATORS, layer_from_onnx_node  # noqa: E402
from convsolve.layers import Layer, Linear  # noqa: E402

pytestmark = pytest.mark.onnx

CORE_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"}
"""Ops whose every conformance case must translate and agree: no skip is allowed for them."""

MERGE_OPS = {"Add", "Mul", "Concat"}
"""Ops whose other inputs are activations; for every other op they are constants (weights, bias, slope, ...)."""

OUT_OF_SCOPE = {
    "input_shape": "tensors without (batch, channels) axes",
    "axis": "flatten/concat along an axis other than the channels",
    "transA": "Gemm with a transposed input (transA = 1)",
    "keep_aspect_ratio_policy": "Resize to sizes keeping the aspect ratio (each output size depends on every axis's input)",
}
"""ConfigError field -> the feature that is out of convsolve's scope, for the skip reason."""


def _collect() -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    return [
        case for case in cases
        if case.kind == "node" and len(case.model.graph.node) == 1 and case.model.graph.node[0].op_type in ONNX_TRANSLATORS
    ]


CASES = _collect()


def convsolve_shape(layer: Layer, shapes: list[tuple[int, ...]]) -> tuple[int, ...] | str:
    """The output shape by convsolve's rules, or why convsolve calls the input invalid."""
    first = shapes[0]
    try:
        if layer.family == "merge":
            if any(len(s) != len(first) or s[:1] + s[2:] != first[:1] + first[2:] for s in shapes):
                return f"a merge needs equal batch and spatial sizes, got {shapes}"
            channels = layer.merged_channels([s[1] for s in shapes])  # type: ignore[attr-defined]
            return (first[0], channels) + first[2:]
        if layer.family == "preserve":
            layer.out_channels_for(first[1])
            return first
        if layer.family == "flatten":
            return (first[0], math.prod(first[1:]))
        if isinstance(layer, Linear):
            if layer.in_features is not None and first[1] != layer.in_features:
                return f"in_features is {layer.in_features}, got {first[1]}"
            return (first[0], layer.out_features)
        channels = layer.out_channels_for(first[1])
    except ChannelMismatch as exc:
        return f"{exc.field}: {exc.message}"
    sizes = []
    for axis, n in enumerate(first[2:]):
        out, ok = layer.axis_size(axis, n)
        if not ok:
            return f"axis {axis}: {layer.explain(axis, n)}"
        sizes.append(int(out))
    return (first[0], channels, *sizes)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_conformance_case_output_shape(case):
    node = case.model.graph.node[0]
    values = list(case.model.graph.input) + list(case.model.graph.output)
    if not all(value.type.HasField("tensor_type") for value in values):
        pytest.skip("out of scope: sequence or optional values rather than tensors")
    names = [value.name for value in case.model.graph.input]
    for inputs, outputs in case.data_sets:
        shapes = {name: tuple(np.shape(array)) for name, array in zip(names, inputs)}
        activations = [name for name in node.input if name] if node.op_type in MERGE_OPS else [node.input[0]]
        weights = {name: shape for name, shape in shapes.items() if name not in activations}
        # Resize/Upsample read the values of scales/sizes: the case's data, which a model holds as constants
        constants = {name: np.asarray(array) for name, array in zip(names, inputs) if name not in activations}
        try:
            layer = layer_from_onnx_node(node, shapes[node.input[0]], weights, constants)
        except ConfigError as exc:
            field = exc.facts.get("field")
            if node.op_type in CORE_OPS or field not in OUT_OF_SCOPE:
                raise
            pytest.skip(f"out of scope: {OUT_OF_SCOPE[field]} ({exc.message})")
        input_shapes = [shapes[name] for name in activations]
        if node.op_type in MERGE_OPS and len(set(input_shapes)) > 1 and node.op_type != "Concat":
            pytest.skip(f"out of scope: broadcasting between activations {input_shapes} (convsolve merges need equal shapes)")
        expected = tuple(np.shape(outputs[0]))
        assert convsolve_shape(layer, input_shapes) == expected


def test_every_core_op_has_conformance_cases():
    counts = {op: sum(case.model.graph.node[0].op_type == op for case in CASES) for op in CORE_OPS}
    assert all(count > 0 for count in counts.values()), counts


def _single_node_model(node, x_shape, w_shape=None):
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
    if w_shape is not None:
        inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, w_shape))
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])


def _onnx_inferred_size(node, x_shape, w_shape=None) -> int:
    """ONNX's own (C++) shape inference: the first spatial size of the output."""
    model = shape_inference.infer_shapes(_single_node_model(node, x_shape, w_shape), strict_mode=True)
    return model.graph.output[0].type.tensor_type.shape.dim[2].dim_value


def test_onnx_shape_inference_truncates_where_convsolve_says_invalid():
    # n + 2p - E = 2 - 3 = -1 with stride 2: ONNX truncates -1/2 to 0 and reports 1; the kernel does not fit
    node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[2])
    onnx_size = _onnx_inferred_size(node, [1, 1, 2], [1, 1, 3])
    out, ok = layer_from_onnx_node(node, (1, 1, 2), {"w": (1, 1, 3)}).axis_size(0, 2)
    assert onnx_size == 1
    assert (out, ok) == (0, False)


def _sweep_nodes():
    """Conv and pooling over small sizes, kernels, strides, dilations, pads, auto_pad and ceil_mode."""
    pools = ("MaxPool", "AveragePool", "LpPool")
    for op, n, k, s, d in itertools.product(("Conv", *pools), range(1, 8), (1, 2, 3), (1, 2, 3), (1, 2)):
        paddings = [("NOTSET", p) for p in ((0, 0), (1, 0), (0, 2), (1, 1))] + [(a, (0, 0)) for a in ("VALID", "SAME_UPPER", "SAME_LOWER")]
        for auto_pad, pads in paddings:
            for ceil in (0, 1) if op in pools else (0,):
                attrs = {"strides": [s], "dilations": [d]}
                attrs.update({"pads": list(pads)} if auto_pad == "NOTSET" else {"auto_pad": auto_pad})
                if op in pools:
                    attrs.update(kernel_shape=[k], ceil_mode=ceil)
                    yield helper.make_node(op, ["x"], ["y"], **attrs), n, None
                else:
                    yield helper.make_node(op, ["x", "w"], ["y"], **attrs), n, [1, 1, k]


def test_sizes_agree_with_onnx_shape_inference_wherever_valid():
    disagreements, truncations = [], 0
    for node, n, w_shape in _sweep_nodes():
        layer = layer_from_onnx_node(node, (1, 1, n), {"w": w_shape} if w_shape else None)
        out, ok = layer.axis_size(0, n)
        onnx_size = _onnx_inferred_size(node, [1, 1, n], w_shape)
        if ok and out != onnx_size:
            disagreements.append((node, n, out, onnx_size))
        truncations += not ok and onnx_size >= 1
    assert disagreements == []
    assert truncations > 0  # the sweep does reach the sizes ONNX's truncation gets wrong


def _reference_output_size(node, x_shape, w_shape) -> int:
    model = _single_node_model(node, x_shape, w_shape)
    feeds = {"x": np.ones(x_shape, np.float32), "w": np.ones(w_shape, np.float32)}
    return ReferenceEvaluator(model).run(None, feeds)[0].shape[2]


@pytest.mark.parametrize("kernel, stride, output_padding", [(3, 2, 0), (1, 2, 0), (3, 2, 1), (2, 3, 2)])
def test_conv_transpose_same_gives_input_times_stride(kernel, stride, output_padding):
    # ONNX's reference pads (possibly negatively) to reach n * stride; its C++ shape inference clamps
    # the padding at 0 and so differs when kernel + output_padding < stride or output_padding > 0
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[stride], auto_pad="SAME_UPPER", output_padding=[output_padding])
    layer = layer_from_onnx_node(node, (1, 1, 4), {"w": (1, 1, kernel)})
    for n in (1, 2, 5):
        assert layer.axis_size(0, n) == (_reference_output_size(node, [1, 1, n], [1, 1, kernel]), True)


def test_conv_transpose_output_shape_is_reached_from_any_input_size():
    # ONNX derives the pads from output_shape, so the output is output_shape whatever the input size
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2], output_shape=[9], auto_pad="SAME_UPPER")
    layer = layer_from_onnx_node(node, (1, 1, 4), {"w": (1, 1, 3)})
    for n in range(1, 8):
        assert layer.axis_size(0, n) == (_reference_output_size(node, [1, 1, n], [1, 1, 3]), True) == (9, True)


def test_onnx_average_pool_3d_accepts_inputs_smaller_than_the_kernel_when_padded():
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3, 3], pads=[1] * 6)
    onnx_size = _onnx_inferred_size(node, [1, 1, 2, 2, 2])
    assert layer_from_onnx_node(node, (1, 1, 2, 2, 2)).axis_size(0, 2) == (onnx_size, True) == (2, True)


@pytest.mark.parametrize("scale", [0.7, 1.7, 2.3, 1 / 3])
def test_resize_sizes_by_float32_scales_as_onnx_reference_and_shape_inference_do(scale):
    # ONNX stores scales as float32 (0.7 is 0.699999988...), and floor(n * scale) is taken in double precision
    scales = np.array([1, 1, scale, scale], np.float32)
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")
    layer = layer_from_onnx_node(node, (1, 1, 4, 4), constants={"s": scales})
    for n in range(1, 26):
        graph = helper.make_graph(
            [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, n, n])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[onnx.numpy_helper.from_array(scales, "s")],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
        reference = ReferenceEvaluator(model).run(None, {"x": np.ones((1, 1, n, n), np.float32)})[0].shape[2]
        inferred = shape_inference.infer_shapes(model).graph.output[0].type.tensor_type.shape.dim[2].dim_value
        out, ok = layer.axis_size(0, n)
        assert (out, bool(ok)) == (reference, reference >= 1) and (reference == inferred or reference == 0), n
