"""Translating ONNX nodes into convsolve layers with ONNX's size semantics.

One translator per op family, found through :data:`ONNX_TRANSLATORS`. Each reads the node's
attributes with ONNX's defaults (``strides`` default to 1 for pooling too, unlike PyTorch), checks
what ONNX itself would refuse, and builds a :class:`~convsolve.layers.Layer`; the size rules stay in
:mod:`convsolve.layers`. The ``onnx`` package is an optional extra, imported only when a node is
translated.

Example:
    >>> from onnx import helper
    >>> node = helper.make_node("Conv", ["x", "w"], ["y"], name="stem", strides=[2, 2], auto_pad="SAME_UPPER")
    >>> layer = layer_from_onnx_node(node, (1, 3, 224, 224), {"w": (64, 3, 7, 7)})
    >>> layer.describe()
    'conv2d, kernel 7, stride 2, padding same_upper'
    >>> layer.axis_size(0, 224)
    (112, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..conventions import ONNX, Padding, parse_padding
from ..errors import ConfigError, MissingExtraError, ModelImportError
from ..layers import (
    AdaptivePool,
    Conv,
    ConvTranspose,
    Flatten,
    Interpolate,
    Layer,
    Linear,
    Merge,
    Pool,
    ShapePreserving,
)
from ..network import INPUT, Network
from ..sizesets import MAX_SIZE, SizeRange
from .sources import DEFAULT_RANGE, InputSizes, input_config, input_ranges

if TYPE_CHECKING:
    from onnx import NodeProto

__all__ = ["ONNX_TRANSLATORS", "POOL_KINDS", "SHAPE_PRESERVING_OPS", "WEIGHT_INPUTS", "from_onnx", "layer_from_onnx_node"]

Shape = Sequence[int]

FLOAT_TENSOR = "f"
"""numpy dtype kinds of a float tensor: Resize and Upsample scales."""
INTEGER_TENSOR = "iu"
"""numpy dtype kinds of an integer tensor: Resize sizes, Reshape shapes, Gather indices, shape values."""
_KIND_WORDS = {
    "f": "a float", "i": "an integer", "u": "an integer", "b": "a bool", "c": "a complex", "O": "a string", "S": "a string", "U": "a string"
}


def tensor_type_problem(value: Any, kinds: str) -> str | None:
    """None when the numpy array ``value`` has one of the dtype ``kinds``; else what it is, e.g. ``"a string tensor"``.

    Example:
        >>> tensor_type_problem(np.array([1.5, -1.0]), INTEGER_TENSOR)
        'a float tensor'
    """
    kind = np.asarray(value).dtype.kind
    if kind in kinds:
        return None
    return f"{_KIND_WORDS.get(kind, 'a ' + str(np.asarray(value).dtype))} tensor"


def _import_onnx() -> ModuleType:
    try:
        import onnx
    except ImportError:
        raise MissingExtraError("onnx", "onnx") from None
    return onnx


@dataclass(frozen=True)
class OnnxNode:
    """One node with its attributes decoded and the shapes it sees: what every translator reads."""

    node: NodeProto
    attributes: Mapping[str, Any]
    input_shape: tuple[int, ...]
    weight_shapes: Mapping[str, tuple[int, ...]]
    constants: Mapping[str, Any] = field(default_factory=dict)
    """Values of constant inputs (numpy arrays) by name, for ops whose sizes come from values: Resize, Upsample."""

    @property
    def op_type(self) -> str:
        return str(self.node.op_type)

    @property
    def name(self) -> str:
        """The node's name, or its first output when it has none (exporters often leave names empty)."""
        return str(self.node.name or (self.node.output[0] if self.node.output else self.node.op_type))

    @property
    def ndim(self) -> int:
        """Spatial rank: the input's rank minus batch and channels."""
        return len(self.input_shape) - 2

    def error(self, message: str, attribute: str | None = None) -> ConfigError:
        """A ConfigError naming this node (and ``attribute``), its message starting with the op type."""
        return ConfigError(f"{self.op_type}: {message}", node=self.name, field=attribute)

    def ints(self, attribute: str, default: int, minimum: int, length: int | None = None) -> tuple[int, ...]:
        """A per-axis INTS attribute (``length`` values, one per spatial axis by default), or ``default`` on every axis."""
        length = self.ndim if length is None else length
        value = self.attributes.get(attribute)
        if value is None:
            return (default,) * length
        values = tuple(int(v) for v in value)
        if len(values) != length:
            raise self.error(f"{attribute} has {len(values)} values, expected {length} for a {self.ndim}-D input", attribute)
        if min(values, default=minimum) < minimum:
            raise self.error(f"{attribute} must be >= {minimum}, got {list(values)}", attribute)
        return values

    def integer(self, attribute: str, default: int, minimum: int | None = None) -> int:
        """An INT attribute, or ``default``; at least ``minimum`` when given."""
        value = int(self.attributes.get(attribute, default))
        if minimum is not None and value < minimum:
            raise self.error(f"{attribute} must be >= {minimum}, got {value}", attribute)
        return value

    def axis(self, attribute: str = "axis", default: int = 1) -> int:
        """An axis attribute made non-negative (ONNX counts negative axes from the end)."""
        axis = self.integer(attribute, default)
        rank = len(self.input_shape)
        if not -rank <= axis < rank:
            raise self.error(f"{attribute} {axis} is out of range for a rank-{rank} input", attribute)
        return axis % rank

    def weight_shape(self, index: int, role: str) -> tuple[int, ...]:
        """The shape of constant input ``index`` (``role`` names it in the error when unknown)."""
        name = self.node.input[index] if index < len(self.node.input) else ""
        if not name or name not in self.weight_shapes:
            raise self.error(f"the shape of the {role} input {name!r} is needed to translate it; pass it in weight_shapes", role)
        return self.weight_shapes[name]

    def constant(self, index: int, role: str, kinds: str) -> Any:
        """The value of constant input ``index`` as a numpy array of one of the dtype ``kinds`` (a ConfigError
        naming the input otherwise), or None when the input is absent or empty."""
        name = self.node.input[index] if index < len(self.node.input) else ""
        if not name:
            return None
        if name not in self.constants:
            raise self.error(
                f"the value of the {role} input {name!r} decides the output size; it must be a constant "
                "(an initializer or a Constant node), passed in constants",
                role,
            )
        value = self.constants[name]
        problem = tensor_type_problem(value, kinds)
        if problem is not None:
            raise self.error(f"the {role} input {name!r} is {problem}; {role} must be {_KIND_WORDS[kinds[0]]} tensor", role)
        return None if getattr(value, "size", 1) == 0 else value

    def check_attributes(self, allowed: set[str]) -> None:
        """Refuse attributes this translator does not know, so none is silently ignored."""
        for attribute in self.attributes:
            if attribute not in allowed:
                raise self.error(f"attribute {attribute!r} is not supported", attribute)

    def spatial_rank(self) -> int:
        """The spatial rank, which convsolve's convolution and pooling layers need to be 1, 2 or 3."""
        if not 1 <= self.ndim <= 3:
            raise self.error(
                f"the input has rank {len(self.input_shape)} (shape {list(self.input_shape)}); "
                "convsolve handles 1-, 2- and 3-D inputs (N, C, spatial...)",
                "input_shape",
            )
        return self.ndim


def _padding(node: OnnxNode, kernel: Shape, stride: Shape, dilation: Shape) -> Padding:
    """``auto_pad`` and ``pads`` as a Padding: VALID and NOTSET explicit, SAME_UPPER/SAME_LOWER dynamic."""
    auto_pad = node.attributes.get("auto_pad", b"NOTSET")
    word = _word(auto_pad)
    pads = node.ints("pads", 0, minimum=0, length=2 * node.ndim)
    if word != "notset" and any(pads):
        raise node.error(f"auto_pad {word.upper()} cannot be used together with explicit pads {list(pads)}", "pads")
    try:
        if word == "notset":
            return parse_padding(list(pads), ONNX, kernel=kernel, dilation=dilation, stride=stride)
        return parse_padding(word, ONNX, kernel=kernel, dilation=dilation, stride=stride)
    except ValueError as exc:
        raise node.error(str(exc), "auto_pad") from None


def _kernel_from_weight(node: OnnxNode, weight: Shape) -> tuple[int, ...]:
    """``kernel_shape``, defaulting to the weight's spatial shape, which it must agree with."""
    from_weight = tuple(weight[2:])
    if len(weight) != node.ndim + 2:
        raise node.error(f"the weight has shape {list(weight)}, expected rank {node.ndim + 2} for a {node.ndim}-D input", "W")
    kernel = node.ints("kernel_shape", 0, minimum=1) if "kernel_shape" in node.attributes else from_weight
    if kernel != from_weight:
        raise node.error(f"kernel_shape {list(kernel)} disagrees with the weight's spatial shape {list(from_weight)}", "kernel_shape")
    return kernel


def translate_conv(node: OnnxNode) -> Layer:
    """``Conv``: weight (M, C/group, k...); output channels M."""
    node.check_attributes({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"})
    ndim = node.spatial_rank()
    weight = node.weight_shape(1, "W")
    kernel = _kernel_from_weight(node, weight)
    stride, dilation = node.ints("strides", 1, minimum=1), node.ints("dilations", 1, minimum=1)
    groups = node.integer("group", 1, minimum=1)
    return Conv(
        type=f"conv{ndim}d", ndim=ndim, out_channels=weight[0], kernel=kernel, stride=stride,
        padding=_padding(node, kernel, stride, dilation), dilation=dilation, groups=groups, in_channels=weight[1] * groups,
    )


def translate_conv_transpose(node: OnnxNode) -> Layer:
    """``ConvTranspose``: weight (C, M/group, k...); ``output_shape`` fixes the output and ONNX derives the pads from it."""
    node.check_attributes({"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"})
    ndim = node.spatial_rank()
    weight = node.weight_shape(1, "W")
    kernel = _kernel_from_weight(node, weight)
    stride, dilation = node.ints("strides", 1, minimum=1), node.ints("dilations", 1, minimum=1)
    groups = node.integer("group", 1, minimum=1)
    padding = _padding(node, kernel, stride, dilation)
    output_shape = node.ints("output_shape", 0, minimum=1) if "output_shape" in node.attributes else None
    if output_shape is not None:
        padding = Padding(((0, 0),) * ndim)  # ignored: ONNX computes the pads from output_shape
    return ConvTranspose(
        type=f"conv_transpose{ndim}d", ndim=ndim, out_channels=weight[1] * groups, kernel=kernel, stride=stride,
        padding=padding, dilation=dilation, groups=groups, in_channels=weight[0],
        output_padding=node.ints("output_padding", 0, minimum=0), output_size=output_shape, pads_from_output_size=output_shape is not None,
    )


POOL_KINDS: dict[str, tuple[str, frozenset[str]]] = {
    "MaxPool": ("max", frozenset({"storage_order"})),
    "AveragePool": ("avg", frozenset({"count_include_pad"})),
    "LpPool": ("lp", frozenset({"p"})),
}
"""Pooling op -> the convsolve pool kind and the op's own attributes, none of which changes a size."""


def translate_pool(node: OnnxNode) -> Layer:
    """``MaxPool``/``AveragePool``/``LpPool``: one pool rule, with ``pads``, ``auto_pad``, ``dilations`` (AveragePool
    since opset 19, LpPool since 18) and ``ceil_mode``; ``storage_order``, ``count_include_pad`` and ``p`` change no size."""
    kind, own = POOL_KINDS[node.op_type]
    node.check_attributes({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides"} | own)
    ndim = node.spatial_rank()
    if "kernel_shape" not in node.attributes:
        raise node.error("kernel_shape is required", "kernel_shape")
    kernel = node.ints("kernel_shape", 0, minimum=1)
    stride, dilation = node.ints("strides", 1, minimum=1), node.ints("dilations", 1, minimum=1)
    return Pool(
        type=f"{kind}_pool{ndim}d", ndim=ndim, kernel=kernel, stride=stride,
        padding=_padding(node, kernel, stride, dilation), dilation=dilation, ceil_mode=bool(node.integer("ceil_mode", 0)),
    )


def translate_global_pool(node: OnnxNode) -> Layer:
    """``GlobalAveragePool``/``GlobalMaxPool``/``GlobalLpPool``: an adaptive pool to 1 on every spatial axis (an
    average one for GlobalLpPool: the same sizes)."""
    node.check_attributes({"p"} if node.op_type == "GlobalLpPool" else set())
    ndim = node.spatial_rank()
    kind = "max" if node.op_type == "GlobalMaxPool" else "avg"
    return AdaptivePool(type=f"adaptive_{kind}_pool{ndim}d", ndim=ndim, output_size=(1,) * ndim)


def translate_flatten(node: OnnxNode) -> Layer:
    """``Flatten`` at axis 1 (the batch stays, everything else becomes features)."""
    node.check_attributes({"axis"})
    _require_batch_and_channels(node)
    axis = node.axis()
    if axis != 1:
        raise node.error(f"flattening at axis {node.integer('axis', 1)} is not supported; convsolve flattens from the channel axis (axis 1)", "axis")
    return Flatten(type="flatten", ndim=node.ndim)


def translate_gemm(node: OnnxNode) -> Layer:
    """``Gemm`` on (batch, features) with a constant B: a linear layer; alpha, beta and C do not change sizes."""
    node.check_attributes({"alpha", "beta", "transA", "transB"})
    if len(node.input_shape) != 2:
        raise node.error(f"A has shape {list(node.input_shape)}; a linear layer needs (batch, features)", "input_shape")
    if node.integer("transA", 0):
        raise node.error("transA = 1 (features along axis 0) is not supported; convsolve's linear layer reads (batch, features)", "transA")
    weight = node.weight_shape(1, "B")
    if len(weight) != 2:
        raise node.error(f"B has shape {list(weight)}, expected a matrix", "B")
    in_features, out_features = (weight[1], weight[0]) if node.integer("transB", 0) else (weight[0], weight[1])
    return Linear(type="linear", ndim=0, out_features=out_features, in_features=in_features)


def translate_merge(node: OnnxNode) -> Layer:
    """``Add``/``Mul`` of activations and ``Concat`` on channels: merges; a constant operand that keeps the shape leaves it unchanged."""
    node.check_attributes({"axis"} if node.op_type == "Concat" else set())
    _require_batch_and_channels(node)
    kind = {"Add": "add", "Mul": "mul", "Concat": "concat"}[node.op_type]
    if kind == "concat" and node.axis() != 1:
        raise node.error(f"concatenating along axis {node.integer('axis', 1)} is not supported; convsolve concatenates channels (axis 1)", "axis")
    constants = [name for name in node.node.input[1:] if name in node.weight_shapes]
    if kind == "concat" and constants:
        raise node.error(f"concatenating a constant ({constants[0]!r}) is not supported; every input must be an activation", "inputs")
    for name in constants:
        shape = node.weight_shapes[name]
        if not _broadcasts_into(shape, node.input_shape):
            raise node.error(
                f"the constant {name!r} of shape {list(shape)} broadcasts {list(node.input_shape)} to a larger shape; "
                "convsolve supports constants that keep the activation's shape",
                "inputs",
            )
    if len(node.node.input) - len(constants) < 2:
        return ShapePreserving(type="identity", ndim=node.ndim)
    # Add and Mul broadcast as numpy does (a size of 1 stretches); Concat needs equal sizes
    return Merge(type=kind, ndim=node.ndim, broadcast=kind != "concat")


def translate_resize(node: OnnxNode) -> Layer:
    """``Resize``/``Upsample`` with constant scales or sizes: ``floor(n * scale)`` or a fixed size per spatial axis.

    Scales are ONNX floats (float32) and the size is computed in double precision, as ONNX's reference
    implementation does. Batch and channels must keep their size. ``keep_aspect_ratio_policy`` other
    than ``stretch`` (a size that depends on every axis's input) and ``tf_crop_and_resize`` with scales
    (a size that depends on the roi) are refused.
    """
    resize = node.op_type == "Resize"
    node.check_attributes(
        {"antialias", "axes", "coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside", "extrapolation_value",
         "keep_aspect_ratio_policy", "mode", "nearest_mode"} if resize else {"mode", "scales", "height_scale", "width_scale"}
    )
    ndim = node.spatial_rank()
    rank = ndim + 2
    if not resize:
        if "height_scale" in node.attributes or "width_scale" in node.attributes:
            raise node.error("height_scale/width_scale (opset 1) are not supported; use scales", "scales")
        scales = node.attributes.get("scales")
        scales = node.constant(1, "scales", FLOAT_TENSOR) if scales is None else scales
        sizes = None
    elif len(node.node.input) == 2:  # opset 10: X, scales
        scales, sizes = node.constant(1, "scales", FLOAT_TENSOR), None
    else:
        scales, sizes = node.constant(2, "scales", FLOAT_TENSOR), node.constant(3, "sizes", INTEGER_TENSOR)
    if (scales is None) == (sizes is None):
        raise node.error("exactly one of scales and sizes must be given", "scales")
    axes = [a % rank for a in node.attributes.get("axes", range(rank))]
    if len(set(axes)) != len(axes) or any(not -rank <= a < rank for a in node.attributes.get("axes", [])):
        raise node.error(f"axes {list(node.attributes.get('axes', []))} must be distinct axes of a rank-{rank} input", "axes")
    given = [float(v) for v in scales] if scales is not None else [int(v) for v in sizes]  # type: ignore[union-attr]
    role = "scales" if scales is not None else "sizes"
    if len(given) != len(axes):
        raise node.error(f"{role} has {len(given)} values, expected {len(axes)}", role)
    per_axis = dict(zip(axes, given))
    for axis, what in ((0, "batch"), (1, "channels")):
        if axis not in per_axis:
            continue
        keeps = per_axis[axis] == 1.0 if role == "scales" else node.input_shape[axis] in (per_axis[axis], -1)
        if not keeps:
            raise node.error(f"{role} changes the {what} ({per_axis[axis]}); convsolve resizes spatial axes only", role)
    spatial = [per_axis.get(axis) for axis in range(2, rank)]
    mode = _word(node.attributes.get("coordinate_transformation_mode", b"half_pixel"))
    if role == "scales":
        if any(s is not None and s <= 0 for s in spatial):
            raise node.error(f"scales must be positive, got {given}", "scales")
        if mode == "tf_crop_and_resize":
            raise node.error(
                "tf_crop_and_resize with scales sizes the output by the roi too; convsolve supports it with sizes", "coordinate_transformation_mode"
            )
        return Interpolate(type="interpolate", ndim=ndim, scale_factor=tuple(1.0 if s is None else float(s) for s in spatial))
    policy = _word(node.attributes.get("keep_aspect_ratio_policy", b"stretch"))
    if policy != "stretch":
        raise node.error(
            f"keep_aspect_ratio_policy {policy!r} makes each output size depend on every axis's input size; "
            "convsolve supports 'stretch'", "keep_aspect_ratio_policy",
        )
    if any(s is None for s in spatial):
        raise node.error("sizes for only some spatial axes (the others kept) are not supported; give every spatial axis", "axes")
    if any(s < 1 for s in spatial):  # type: ignore[operator]
        raise node.error(f"sizes must be positive, got {given}", "sizes")
    return Interpolate(type="interpolate", ndim=ndim, size=tuple(int(s) for s in spatial))  # type: ignore[arg-type]


def _word(value: Any) -> str:
    """A STRING attribute as lower-case text (bytes that are not UTF-8 kept as escapes, so the word is refused by name)."""
    return (value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)).lower()


SHAPE_PRESERVING_OPS: dict[str, str] = {
    "Identity": "identity", "Relu": "relu", "LeakyRelu": "leaky_relu", "Elu": "elu", "Selu": "selu",
    "Celu": "celu", "Gelu": "gelu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish",
    "HardSigmoid": "hardsigmoid", "Softplus": "softplus", "Softmax": "softmax", "LogSoftmax": "log_softmax",
    "PRelu": "prelu", "Mish": "mish", "Swish": "silu", "Clip": "hardtanh", "BatchNormalization": "batch_norm",
    "InstanceNormalization": "instance_norm", "GroupNormalization": "group_norm", "LayerNormalization": "layer_norm",
    "LRN": "local_response_norm", "Dropout": "dropout",
}
"""ONNX ops whose (first) output has the input's shape, and the convsolve type each becomes."""


def translate_shape_preserving(node: OnnxNode) -> Layer:
    """Activations, normalisation, dropout: the first output has the input's shape; GroupNormalization keeps num_groups."""
    _require_batch_and_channels(node)
    num_groups = node.integer("num_groups", 1, minimum=1) if node.op_type == "GroupNormalization" else None
    return ShapePreserving(type=SHAPE_PRESERVING_OPS[node.op_type], ndim=node.ndim, num_groups=num_groups)


def _require_batch_and_channels(node: OnnxNode) -> None:
    if len(node.input_shape) < 2:
        raise node.error(
            f"the input has shape {list(node.input_shape)}; convsolve tensors are (batch, channels, spatial...) or (batch, features)",
            "input_shape",
        )


def _broadcasts_into(shape: Shape, target: Shape) -> bool:
    """Whether broadcasting ``shape`` against ``target`` leaves ``target`` unchanged (numpy's rule, aligned from the right)."""
    if len(shape) > len(target):
        return False
    return all(c == 1 or c == t for c, t in zip(reversed(shape), reversed(target)))


ONNX_TRANSLATORS: dict[str, Callable[[OnnxNode], Layer]] = {
    "Conv": translate_conv,
    "ConvTranspose": translate_conv_transpose,
    "MaxPool": translate_pool,
    "AveragePool": translate_pool,
    "GlobalAveragePool": translate_global_pool,
    "GlobalMaxPool": translate_global_pool,
    "LpPool": translate_pool,
    "GlobalLpPool": translate_global_pool,
    "Flatten": translate_flatten,
    "Gemm": translate_gemm,
    "Add": translate_merge,
    "Mul": translate_merge,
    "Concat": translate_merge,
    "Resize": translate_resize,
    "Upsample": translate_resize,
    **{op: translate_shape_preserving for op in SHAPE_PRESERVING_OPS},
}
"""ONNX op type -> translator; an op missing here is refused with a ConfigError."""

def layer_from_onnx_node(
    node: NodeProto, input_shape: Shape, weight_shapes: Mapping[str, Shape] | None = None,
    constants: Mapping[str, Any] | None = None,
) -> Layer:
    """The convsolve layer that sizes ``node``'s first output the way ONNX does.

    Parameters
    ----------
    node : onnx.NodeProto
        One node of op type Conv, ConvTranspose, MaxPool, AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool, GlobalLpPool,
        Flatten, Gemm, Add, Mul, Concat, Resize, Upsample, or a shape-preserving op (see :data:`SHAPE_PRESERVING_OPS`).
    input_shape : sequence of int
        The shape of ``node.input[0]``: (batch, channels, spatial...) or, for Gemm, (batch, features).
        Its rank sets the layer's spatial rank; sizes themselves are left to inference.
    weight_shapes : mapping of str to sequence of int, optional
        Shapes of the node's constant inputs (initializers) by name: the weight of Conv and
        ConvTranspose (needed: it gives the channels and the default kernel_shape), Gemm's B, a constant
        operand of Add or Mul. Inputs not named here are activations.
    constants : mapping of str to numpy array, optional
        Values of constant inputs whose values (not only shapes) decide the output size: the scales or
        sizes of Resize and Upsample.

    Returns
    -------
    Layer
        A layer whose ``axis_size`` follows ONNX: explicit ``pads`` as (before, after) pairs, SAME_UPPER and
        SAME_LOWER as ``ceil(n / stride)`` (``n * stride`` for ConvTranspose), ``ceil_mode`` with the rule
        that the last window starts inside the input or the left padding.

    Raises
    ------
    ConfigError
        For an op or attribute convsolve does not support, or that ONNX itself refuses; the error names the
        node and the attribute.
    MissingExtraError
        When the ``onnx`` package is not installed.

    Example
    -------
    >>> from onnx import helper
    >>> pool = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[1, 1], strides=[2, 2], ceil_mode=1)
    >>> layer_from_onnx_node(pool, (1, 1, 2, 2)).axis_size(0, 2)
    (1, True)
    """
    onnx = _import_onnx()
    attributes = _attributes(onnx, node)
    shapes = {name: tuple(int(d) for d in shape) for name, shape in (weight_shapes or {}).items()}
    view = OnnxNode(node, attributes, tuple(int(d) for d in input_shape), shapes, dict(constants or {}))
    if node.domain not in ("", "ai.onnx"):
        raise view.error(f"ops of domain {node.domain!r} are not supported (only the default ONNX domain)", "domain")
    translator = ONNX_TRANSLATORS.get(node.op_type)
    if translator is None:
        raise view.error(f"op {node.op_type!r} is not supported: supported ops: {', '.join(sorted(ONNX_TRANSLATORS))}", "op_type")
    return translator(view)


ATTRIBUTE_TYPES: dict[str, str] = {
    **dict.fromkeys(("kernel_shape", "strides", "pads", "dilations", "output_padding", "output_shape", "axes"), "INTS"),
    **dict.fromkeys(("group", "ceil_mode", "count_include_pad", "storage_order", "axis", "transA", "transB", "blocksize",
                     "num_groups", "antialias", "exclude_outside"), "INT"),
    **dict.fromkeys(("auto_pad", "mode", "coordinate_transformation_mode", "keep_aspect_ratio_policy", "nearest_mode"), "STRING"),
    "scales": "FLOATS",
}
"""The ONNX type of every attribute a translator reads; an attribute of another type is refused by name."""


def _attributes(onnx: ModuleType, node: NodeProto) -> dict[str, Any]:
    """The node's attributes decoded, each of the type :data:`ATTRIBUTE_TYPES` gives it (ConfigError otherwise)."""
    attributes = {}
    for attr in node.attribute:
        types = onnx.AttributeProto.AttributeType
        kind = types.Name(attr.type) if attr.type in types.values() else str(attr.type)
        expected = ATTRIBUTE_TYPES.get(attr.name)
        if expected is not None and kind != expected:
            name = str(node.name or (node.output[0] if node.output else node.op_type))
            raise ConfigError(f"{node.op_type}: attribute {attr.name!r} must be of type {expected}, got {kind}", node=name, field=attr.name)
        attributes[attr.name] = onnx.helper.get_attribute_value(attr)
    return attributes


# --- whole models ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Activation:
    """A tensor computed from the model's input: the convsolve node producing it, its rank and channels (-1 unknown)."""

    name: str
    rank: int
    channels: int


@dataclass(frozen=True)
class _WeightShape:
    """A weight given as a graph input with a static shape rather than as an initializer: only its shape is known."""

    shape: tuple[int, ...]


WEIGHT_INPUTS: dict[str, tuple[int, ...]] = {
    "Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "MatMul": (1,), "PRelu": (1,),
    "BatchNormalization": (1, 2, 3, 4), "InstanceNormalization": (1, 2), "LayerNormalization": (1, 2), "GroupNormalization": (1, 2),
}
"""Op type -> positions of the inputs whose shape alone matters (weight, bias, slope, statistics): a graph input with a
static shape read only at such positions is a weight, as an initializer would be, and not the model's input."""


@dataclass(frozen=True)
class _Symbol:
    """A value of a shape computation on activations: the batch size, or something only known at run time."""

    what: str

    @property
    def is_batch(self) -> bool:
        return self.what == "batch"


def _identifier(text: str) -> str:
    """A layer name from an ONNX node or tensor name: PyTorch's scope paths lose their repeated prefixes
    (``/layer1/layer1.0/conv1/Conv`` -> ``layer1_0_conv1_Conv``), anything but letters, digits and ``_`` becomes ``_``."""
    parts = [part for part in text.split("/") if part]
    parts = [part for part, after in zip(parts, parts[1:] + [""]) if not after.startswith(part + ".")]
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in "_".join(parts)).strip("_")
    while "__" in cleaned:
        cleaned = cleaned.replace("__", "_")
    if not cleaned or cleaned[0].isdigit():
        cleaned = f"n_{cleaned}"
    return cleaned


class _ModelImporter:
    """Walks an ONNX graph in order (ONNX requires topological order), translating node by node.

    Nothing is executed: initializer and Constant values are read (Resize scales, Reshape targets),
    and the small shape computations exporters emit for ``x.view(x.size(0), -1)`` (Shape, Gather,
    Unsqueeze, Concat) are followed symbolically.
    """

    def __init__(self, onnx: ModuleType, model: Any, source: str | None) -> None:
        self.onnx, self.model, self.source = onnx, model, source
        graph = model.graph
        self.initializers = {init.name: init for init in graph.initializer}
        self.values: dict[str, Any] = {}
        """Tensor name -> an _Activation, a numpy array (a constant), a list of shape values, or a _Symbol."""
        self.shapes: dict[str, tuple[int, ...]] = {name: tuple(int(d) for d in init.dims) for name, init in self.initializers.items()}
        self.layers: list[dict[str, Any]] = []
        self.names: set[str] = {INPUT}
        self.origin: dict[str, str] = {}
        self.feature_checks: list[tuple[str, int]] = []
        self.batch = -1
        self.node: Any = None

    def error(self, message: str, field: str | None = None) -> ModelImportError:
        name = None if self.node is None else str(self.node.name or (self.node.output[0] if self.node.output else self.node.op_type))
        return ModelImportError(message, file=self.source, node=name, field=field)

    # -- values --

    def constant(self, name: str) -> Any:
        """The numpy value of a constant tensor (initializer or Constant output), else None."""
        value = self.values.get(name)
        if value is not None:
            return value if not isinstance(value, (_Activation, _Symbol)) else None
        init = self.initializers.get(name)
        if init is None:
            return None
        array = self.tensor_value(init, name)
        self.values[name] = array
        return array

    def tensor_value(self, tensor: Any, name: str) -> Any:
        """The numpy value of a TensorProto; ModelImportError when its data does not match its type and shape,
        or lies in an external data file (never read: its path comes from the model)."""
        if tensor.data_location == self.onnx.TensorProto.EXTERNAL:
            raise self.error(f"the value of {name!r} is stored in an external data file, which convsolve does not read")
        data_type = getattr(tensor, "data_type", None)
        if data_type is not None and data_type not in self.onnx.TensorProto.DataType.values():
            raise self.error(f"the tensor {name!r} has the unknown data type {data_type}; is the model damaged?")
        try:
            return self.onnx.numpy_helper.to_array(tensor)
        except Exception as exc:  # noqa: BLE001 - onnx raises several kinds for a damaged tensor
            raise self.error(f"the tensor {name!r} cannot be read: its data does not fit its type and shape ({exc}); "
                             "is the model damaged?") from None

    def value(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.initializers:
            return self.constant(name)
        raise self.error(f"input {name!r} is produced by no earlier node (the graph must be in topological order)")

    def weight_inputs(self) -> dict[str, tuple[int, ...]]:
        """The graph inputs that are weights, with their shapes: a fully static shape, read by some node and only at
        the :data:`WEIGHT_INPUTS` positions of its op (a Conv's W or B, a Gemm's B, ...)."""
        graph = self.model.graph
        uses: dict[str, list[bool]] = {}
        for node in graph.node:
            for position, name in enumerate(node.input):
                uses.setdefault(name, []).append(position in WEIGHT_INPUTS.get(node.op_type, ()))
        weights = {}
        for value in graph.input:
            tensor = value.type.tensor_type if value.type.HasField("tensor_type") else None
            if value.name in self.initializers or tensor is None or not tensor.HasField("shape") or not uses.get(value.name):
                continue
            if all(uses[value.name]) and all(d.HasField("dim_value") for d in tensor.shape.dim):
                weights[value.name] = tuple(int(d.dim_value) for d in tensor.shape.dim)
        return weights

    def input_spec(self) -> tuple[int, int, list[SizeRange]]:
        """Channels, spatial rank and the model's own size ranges (1..512 where symbolic), from the graph's one activation
        input: the one graph input that is neither an initializer nor a weight (:meth:`weight_inputs`)."""
        graph = self.model.graph
        weights = self.weight_inputs()
        for name, shape in weights.items():
            self.values[name] = _WeightShape(shape)
        inputs = [value for value in graph.input if value.name not in self.initializers and value.name not in weights]
        if len(inputs) != 1:
            listed = f" ({', '.join(v.name for v in inputs)})" if inputs else ""
            besides = f" besides the weights {', '.join(weights)}" if weights else ""
            raise ModelImportError(
                f"the model has {len(inputs)} inputs{listed}{besides}; convsolve imports models with one input tensor "
                f"(a graph input with a static shape read only as a weight or bias, such as a Conv's W, counts as a weight)",
                file=self.source,
            )
        value = inputs[0]
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]
        if not 3 <= len(dims) <= 5:
            raise ModelImportError(
                f"the input {value.name!r} has rank {len(dims)}; convsolve imports (batch, channels, spatial...) inputs with 1-3 spatial axes",
                file=self.source,
            )
        if dims[1] < 1:
            raise ModelImportError(f"the input {value.name!r} has no fixed channel count (dimension 1 is symbolic)", file=self.source)
        ndim = len(dims) - 2
        self.batch = dims[0]
        self.values[value.name] = _Activation(INPUT, len(dims), dims[1])
        spatial = dims[2:]
        if max(spatial) > MAX_SIZE:
            raise ModelImportError(f"the input {value.name!r} has shape {dims}; sizes go up to {MAX_SIZE:,}", file=self.source, field="input_shape")
        if all(d >= 1 for d in spatial):
            return dims[1], ndim, [SizeRange(d, d) for d in spatial]
        return dims[1], ndim, [DEFAULT_RANGE] * ndim

    # -- the graph --

    def run(self) -> None:
        for node in self.model.graph.node:
            self.node = node
            self.check_schema(node)
            self.translate(node)
        self.node = None

    def check_schema(self, node: Any) -> None:
        """Refuse a node with fewer or more inputs or outputs than the ONNX schema of its op at the model's opset
        allows (or no output), or an attribute the op does not have there (AveragePool's ``dilations`` before opset 19)."""
        if not node.output or not node.output[0]:
            raise self.error(f"the {node.op_type or 'op-less'} node has no output", "output")
        opset = next((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")), None)
        try:
            schema = self.onnx.defs.get_schema(node.op_type, max_inclusive_version=opset or 1, domain="")
        except Exception:  # noqa: BLE001 - an op unknown at this opset: the translator names it
            return
        for what, count, low, high in (("inputs", len(node.input), schema.min_input, schema.max_input),
                                       ("outputs", len(node.output), schema.min_output, schema.max_output)):
            if not low <= count <= high:
                raise self.error(f"{node.op_type} takes {low}..{high} {what}, this node has {count}", what[:-1])
        for attribute in node.attribute:
            if attribute.name not in schema.attributes:
                raise self.error(
                    f"{node.op_type} has no attribute {attribute.name!r} at the model's opset ({opset or 1}), so ONNX refuses "
                    f"the node; its attributes there: {', '.join(sorted(schema.attributes)) or 'none'}",
                    attribute.name,
                )

    def emit(self, layer: Layer, inputs: Sequence[_Activation], rank: int) -> _Activation:
        from .export import layer_to_config

        base = _identifier(str(self.node.name or self.node.output[0]))
        name, index = base, 1
        while name in self.names:
            name, index = f"{base}_{index}", index + 1
        self.names.add(name)
        self.layers.append({"name": name, "inputs": [a.name for a in inputs], **layer_to_config(layer)})
        self.origin[name] = f"{self.node.op_type} node {self.node.name or self.node.output[0]!r}"
        channels = -1  # channels, or features once flattened; -1 when unknown (features after a flatten)
        try:
            if isinstance(layer, Linear):
                channels = layer.out_features if rank == 2 else inputs[0].channels
            elif layer.family == "merge":
                known = [a.channels for a in inputs]
                channels = -1 if -1 in known else layer.merged_channels(known)  # type: ignore[attr-defined]
            elif inputs[0].channels != -1 and layer.family != "flatten":
                channels = layer.out_channels_for(inputs[0].channels)
        except ValueError:
            channels = -1  # the network reports it, as a static problem of this layer
        return _Activation(name, rank, channels)

    def translate(self, node: Any) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise self.error(f"ops of domain {node.domain!r} are not supported (only the default ONNX domain)", "domain")
        inputs = [self.value(name) if name else None for name in node.input]
        activations = [v for v in inputs if isinstance(v, _Activation)]
        if op == "Constant":
            self.values[node.output[0]] = self.constant_node(node)
            return
        if not activations:
            self.values[node.output[0]] = self.shape_computation(node, inputs)
            return
        if op == "Shape":
            self.values[node.output[0]] = [_Symbol("batch")] + [
                _Symbol(f"dimension {i} of {activations[0].name!r}") for i in range(1, activations[0].rank)
            ]
            return
        if op in ("Reshape", "MatMul") and len(inputs) != 2:
            raise self.error(f"op {op!r} takes 2 inputs here, this node has {len(inputs)} (a Reshape of opset 1 to 4, whose shape is "
                             "an attribute, is not supported)", "input")
        if op == "Reshape":
            self.values[node.output[0]] = self.reshape(activations[0], inputs[1])
        elif op == "MatMul":
            self.values[node.output[0]] = self.matmul(node, inputs)
        elif op in ONNX_TRANSLATORS:
            self.values[node.output[0]] = self.layer(node, inputs, activations)
        else:
            raise self.error(f"op {op!r} is not supported: convsolve has no translation for it", "op_type")
        for extra in node.output[1:]:
            if extra:
                self.values[extra] = _Symbol(f"the output {extra!r} of {op} (only the first output is translated)")

    def layer(self, node: Any, inputs: list[Any], activations: list[_Activation]) -> _Activation:
        first = inputs[0]
        if not isinstance(first, _Activation):
            raise self.error(f"{node.op_type}'s first input must be computed from the model's input", "inputs")
        for value in inputs:
            if isinstance(value, _Symbol):
                raise self.error(f"{node.op_type} reads {value.what}, which convsolve does not translate", "inputs")
        constants = {
            name: value for name, value in zip(node.input, inputs) if name and not isinstance(value, (_Activation, _Symbol, _WeightShape, list))
        }
        shapes = {name: tuple(int(d) for d in getattr(value, "shape", ())) for name, value in constants.items()}
        shapes.update({name: value.shape for name, value in zip(node.input, inputs) if isinstance(value, _WeightShape)})
        spatial = first.rank - 2
        input_shape = (self.batch, first.channels) + (-1,) * spatial if first.rank > 2 else (self.batch, first.channels)
        try:
            layer = layer_from_onnx_node(node, input_shape, shapes, constants)
        except ConfigError as exc:
            raise ModelImportError(exc.message, file=self.source, node=exc.facts.get("node"), field=exc.facts.get("field")) from None
        readers = activations if layer.family == "merge" else [first]
        rank = 2 if layer.family == "flatten" else first.rank
        return self.emit(layer, readers, rank)

    def matmul(self, node: Any, inputs: list[Any]) -> _Activation:
        first, weight = inputs[0], inputs[1]
        if (
            not isinstance(first, _Activation)
            or first.rank != 2
            or isinstance(weight, (_Activation, _Symbol, list))
            or weight is None
            or len(weight.shape) != 2
        ):
            raise self.error("MatMul is translated as a linear layer: (batch, features) times a constant matrix", "inputs")
        layer = Linear(type="linear", ndim=0, out_features=int(weight.shape[1]), in_features=int(weight.shape[0]))
        return self.emit(layer, [first], 2)

    def reshape(self, source: _Activation, target: Any) -> _Activation:
        if isinstance(target, _Activation) or target is None:
            raise self.error("Reshape to a shape computed from activations is not supported", "shape")
        if not isinstance(target, list):
            self.check_integers(target, "shape", self.node.input[1])
        shape = list(target) if isinstance(target, list) else [int(v) for v in target.reshape(-1)]
        batch = len(shape) == 2 and (isinstance(shape[0], _Symbol) and shape[0].is_batch or shape[0] == 0
                                     or (isinstance(shape[0], int) and shape[0] == self.batch and self.batch >= 1))
        if batch and shape[1] == -1:
            return self.emit(Flatten(type="flatten", ndim=0), [source], 2)
        if batch and isinstance(shape[1], int) and shape[1] > 0:
            flat = self.emit(Flatten(type="flatten", ndim=0), [source], 2)
            self.feature_checks.append((flat.name, shape[1]))
            return flat
        shown = ", ".join(v.what if isinstance(v, _Symbol) else str(v) for v in shape)
        raise self.error(f"Reshape to ({shown}): convsolve translates reshapes to (batch, -1) or (batch, features)", "shape")

    def check_integers(self, value: Any, role: str, name: str) -> None:
        """Refuse a constant ``value`` (input ``name`` of the current node) that is not an integer tensor."""
        problem = tensor_type_problem(value, INTEGER_TENSOR)
        if problem is not None:
            raise self.error(f"{self.node.op_type}: the {role} input {name!r} is {problem}; {role} must be an integer tensor", role)

    def constant_node(self, node: Any) -> Any:
        helper = self.onnx.helper
        for attribute in node.attribute:
            value = helper.get_attribute_value(attribute)
            if attribute.name == "value":
                if attribute.type != self.onnx.AttributeProto.TENSOR:
                    raise self.error("Constant: attribute 'value' must be of type TENSOR", "value")
                return self.tensor_value(value, str(node.output[0]))
            if attribute.name in ("value_float", "value_int"):
                return np.array(value)
            if attribute.name in ("value_floats", "value_ints"):
                return np.array(list(value))
        raise self.error("a Constant without a tensor, float or int value is not supported", "value")

    def shape_computation(self, node: Any, inputs: list[Any]) -> Any:
        """Ops on constants and shape values only: the few that shape computations use, followed symbolically."""
        op = node.op_type
        symbolic = any(isinstance(v, (list, _Symbol)) for v in inputs)
        if op in ("Identity", "Cast") and inputs:
            return inputs[0]
        if op == "Gather" and isinstance(inputs[0], list) and inputs[1] is not None and not isinstance(inputs[1], (list, _Symbol)):
            self.check_integers(inputs[1], "indices", node.input[1])
            index = np.asarray(inputs[1])
            if index.ndim == 0:
                return inputs[0][int(index)]
            return [inputs[0][int(i)] for i in index.reshape(-1)]
        if op == "Unsqueeze" and symbolic:
            return inputs[0] if isinstance(inputs[0], list) else [inputs[0]]
        if op == "Concat" and symbolic:
            joined: list[Any] = []
            for name, value in zip(node.input, inputs):
                if value is None:
                    raise self.error("Concat: an input name is empty", "input")
                if not isinstance(value, (list, _Symbol)):
                    self.check_integers(value, "shape value", name)
                joined.extend(
                    value if isinstance(value, list)
                    else [int(v) for v in np.asarray(value).reshape(-1)] if not isinstance(value, _Symbol)
                    else [value]
                )
            return joined
        if symbolic:
            return _Symbol(f"a value computed by {op} from tensor sizes")
        raise self.error(
            f"{op} computes only on constants; convsolve does not run ONNX ops (fold constants first, e.g. with onnx-simplifier)",
            "op_type",
        )


def from_onnx(
    model: Any, input: InputSizes | None = None, *, name: str | None = None, source: str | None = None,
) -> Network:
    """The convsolve network of a whole ONNX model, with ONNX's size semantics; nothing is executed.

    Parameters
    ----------
    model : str, Path or onnx.ModelProto
        A ``.onnx`` file or a loaded model with one input tensor (batch, channels, spatial...). The
        channel dimension must be fixed; spatial dimensions may be symbolic. Weights are initializers, or
        graph inputs with a static shape read only as weights (:data:`WEIGHT_INPUTS`); external data is never read
        (an initializer stored there is refused).
    input : int, range, SizeRange, or a list of them per spatial axis, optional
        The input sizes to examine. Default: the model's own spatial sizes when they are fixed, else
        square inputs 1..512.
    name : str, optional
        The network's name; by default the graph's name (or the file's stem).
    source : str, optional
        Where the model came from, for messages; by default the path.

    Returns
    -------
    Network
        In the ONNX convention: explicit pads, SAME_UPPER/SAME_LOWER, ceil_mode, dilations (of every pool
        too), MaxPool/AveragePool/LpPool, ConvTranspose output_shape/output_padding, Resize/Upsample with constant scales or sizes, Concat, Add/Mul
        (broadcasting), Flatten, Gemm and MatMul with a constant matrix, Reshape to (batch, -1).

    Raises
    ------
    ModelImportError
        A missing or unreadable file, several inputs besides weights (naming them), or an op convsolve does not
        translate (naming the node).
    MissingExtraError
        When the ``onnx`` package is not installed.
    """
    if isinstance(model, (str, Path)) and not Path(model).is_file():  # a missing file says so, extra or not
        raise ModelImportError("no such file" if not Path(model).exists() else "is not a file", file=str(model))
    onnx = _import_onnx()
    if isinstance(model, (str, Path)):
        path = Path(model)
        source = source or str(path)
        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # noqa: BLE001 - protobuf raises several kinds for a file that is not ONNX
            raise ModelImportError(f"is not a readable ONNX model: {type(exc).__name__}: {exc}", file=str(path)) from None
        name = name or path.stem
    name = name or model.graph.name or "onnx_model"
    importer = _ModelImporter(onnx, model, source)
    channels, ndim, declared = importer.input_spec()
    ranges, tied = input_ranges(input, ndim, default=declared)
    importer.run()
    if not importer.layers:
        raise ModelImportError("the graph has no node that convsolve translates", file=source)
    config = {"name": name, "convention": "onnx", "input": input_config(ranges, tied, channels), "layers": importer.layers}
    try:
        network = Network.from_config(config, source=source)
    except ConfigError as exc:
        node = exc.facts.get("node")
        raise ModelImportError(f"{exc.message} ({importer.origin.get(node, '')})" if node in importer.origin else exc.message,
                               file=source, node=node, field=exc.facts.get("field")) from None
    for flat, features in importer.feature_checks:
        readers = list(network.graph.successors(flat))
        if not readers or any(getattr(network.layer(r), "in_features", None) != features for r in readers):
            raise ModelImportError(
                f"Reshape to (batch, {features}) needs exactly {features} features, which convsolve checks only when a "
                f"linear layer (Gemm/MatMul) with {features} input features reads the result",
                file=source, node=flat,
            )
    return network
