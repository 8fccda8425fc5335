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

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..conventions import ONNX, Padding, parse_padding
from ..errors import ConfigError, MissingExtraError
from ..layers import AdaptivePool, Conv, ConvTranspose, Flatten, Layer, Linear, Merge, Pool, ShapePreserving

if TYPE_CHECKING:
    from onnx import NodeProto

__all__ = ["layer_from_onnx_node", "ONNX_TRANSLATORS", "SHAPE_PRESERVING_OPS"]

Shape = Sequence[int]


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
    word = (auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)).lower()
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


def translate_pool(node: OnnxNode) -> Layer:
    """``MaxPool``/``AveragePool``; ``storage_order`` and ``count_include_pad`` do not change sizes."""
    node.check_attributes({"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "storage_order", "strides"})
    ndim = node.spatial_rank()
    if "kernel_shape" not in node.attributes:
        raise node.error("kernel_shape is required", "kernel_shape")
    kernel = node.ints("kernel_shape", 0, minimum=1)
    stride, dilation = node.ints("strides", 1, minimum=1), node.ints("dilations", 1, minimum=1)
    kind = "max" if node.op_type == "MaxPool" else "avg"
    return Pool(
        type=f"{kind}_pool{ndim}d", ndim=ndim, kernel=kernel, stride=stride,
        padding=_padding(node, kernel, stride, dilation), dilation=dilation, ceil_mode=bool(node.integer("ceil_mode", 0)),
    )


def translate_global_pool(node: OnnxNode) -> Layer:
    """``GlobalAveragePool``/``GlobalMaxPool``: an adaptive pool to 1 on every spatial axis."""
    node.check_attributes(set())
    ndim = node.spatial_rank()
    kind = "max" if node.op_type == "GlobalMaxPool" else "avg"
    return AdaptivePool(type=f"adaptive_{kind}_pool{ndim}d", ndim=ndim, output_size=1)


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
    return Merge(type=kind, ndim=node.ndim)


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
    "Flatten": translate_flatten,
    "Gemm": translate_gemm,
    "Add": translate_merge,
    "Mul": translate_merge,
    "Concat": translate_merge,
    **{op: translate_shape_preserving for op in SHAPE_PRESERVING_OPS},
}
"""ONNX op type -> translator; an op missing here is refused with a ConfigError."""

UNSUPPORTED_REASONS = {
    "Resize": "its output size comes from the values of its scales/sizes inputs, which a single-node translation does not see",
    "Upsample": "its output size comes from the values of its scales input, which a single-node translation does not see",
    "LpPool": "convsolve has no lp_pool layer type yet",
    "GlobalLpPool": "convsolve has no lp_pool layer type yet",
}


def layer_from_onnx_node(
    node: NodeProto, input_shape: Shape, weight_shapes: Mapping[str, Shape] | None = None
) -> Layer:
    """The convsolve layer that sizes ``node``'s first output the way ONNX does.

    Parameters
    ----------
    node : onnx.NodeProto
        One node of op type Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool,
        Flatten, Gemm, Add, Mul, Concat, or a shape-preserving op (see :data:`SHAPE_PRESERVING_OPS`).
    input_shape : sequence of int
        The shape of ``node.input[0]``: (batch, channels, spatial...) or, for Gemm, (batch, features).
        Its rank sets the layer's spatial rank; sizes themselves are left to inference.
    weight_shapes : mapping of str to sequence of int, optional
        Shapes of the node's constant inputs (initializers) by name: the weight of Conv and
        ConvTranspose (needed: it gives the channels and the default kernel_shape), Gemm's B, a constant
        operand of Add or Mul. Inputs not named here are activations.

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
    attributes = {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}
    shapes = {name: tuple(int(d) for d in shape) for name, shape in (weight_shapes or {}).items()}
    view = OnnxNode(node, attributes, tuple(int(d) for d in input_shape), shapes)
    if node.domain not in ("", "ai.onnx"):
        raise view.error(f"ops of domain {node.domain!r} are not supported (only the default ONNX domain)", "domain")
    translator = ONNX_TRANSLATORS.get(node.op_type)
    if translator is None:
        reason = UNSUPPORTED_REASONS.get(node.op_type, f"supported ops: {', '.join(sorted(ONNX_TRANSLATORS))}")
        raise view.error(f"op {node.op_type!r} is not supported: {reason}", "op_type")
    return translator(view)
