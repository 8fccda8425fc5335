"""Importing PyTorch models: trace with ``torch.fx``, translate every call into a convsolve config layer.

:func:`from_torch` traces the model symbolically (nothing is computed: the trace records which
modules and functions the forward calls, in order), translates each call into a layer of the config
format, and builds the network with :meth:`Network.from_config` — so an imported model is exactly the
network a config file gives, and :func:`convsolve.io.export.write_network` writes it back out.

What is translated: ``nn.Conv*d``/``ConvTranspose*d``/``MaxPool*d``/``AvgPool*d``/adaptive pools and
their functional forms, ``torch.cat``, ``+ - * /`` (with PyTorch broadcasting), ``torch.flatten``,
``view``/``reshape`` to ``(batch, -1)``, ``F.interpolate``/``nn.Upsample`` with a fixed size or scale,
``F.pad``, ``nn.Linear``, pixel (un)shuffle, ``mean`` over the spatial axes, and shape-preserving
modules (activations, norms, dropout, identity). Anything else is an error naming the module or
function, and :func:`register_module` teaches the importer a module type. Tracing runs in eval mode
(the model's mode is restored afterwards), as shapes are meant for inference.

Example:
    >>> import torch.nn as nn
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 7, stride=2), nn.ReLU(), nn.MaxPool2d(2))
    >>> net = from_torch(model, input=range(1, 65))
    >>> str(net.valid_sizes())
    '9..64'
    >>> [net.layer(name).type for name in net.order[1:]]
    ['conv2d', 'relu', 'max_pool2d']
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..errors import USER_CODE_FAILURES as _USER_CODE_FAILURES
from ..errors import ConfigError, MissingExtraError, ModelImportError
from ..errors import first_line as _first_line
from ..layers import LAYER_TYPES
from ..network import INPUT, Network, fresh_layer_name
from ..sizesets import SizeRange
from .references import load_callable
from .sources import InputSizes, input_config, input_ranges

__all__ = ["ModuleRule", "from_torch", "load_callable", "register_module"]

LayerSpec = str | Mapping[str, Any]
"""A config layer without its name: ``{"type": "avg_pool2d", "kernel": 2}``, or just a type name."""
ModuleRule = LayerSpec | Sequence[LayerSpec] | Callable[[Any], LayerSpec | Sequence[LayerSpec]]
"""What a module becomes: a layer, a chain of layers, or a function of the module instance giving either."""

_USER_RULES: dict[type, ModuleRule] = {}


def _import_torch() -> ModuleType:
    try:
        import torch
        import torch.fx
    except ImportError:
        raise MissingExtraError("torch", "torch") from None
    return torch


def register_module(module_type: type, rule: ModuleRule | None = None) -> Any:
    """Teach the importer what a module type is, in config terms; the module is then never traced into.

    Parameters
    ----------
    module_type : type
        A ``torch.nn.Module`` subclass (subclasses of it follow the same rule unless registered themselves).
    rule : str, mapping, list, or callable
        The config layer the module stands for, without a name: a type name for a layer without fields
        (``"identity"`` for a module that keeps the shape), a mapping such as
        ``{"type": "avg_pool2d", "kernel": 3, "stride": 2, "padding": 1}``, a list of them (a chain), or a
        function of the module instance returning any of these. Omitted: used as a decorator.

    Returns
    -------
    The rule (so that it can decorate a function).

    Example
    -------
    >>> import torch.nn as nn
    >>> class BlurPool(nn.Module):
    ...     def __init__(self, stride):
    ...         super().__init__()
    ...         self.stride = stride
    ...     def forward(self, x):
    ...         return x[:, :, ::self.stride, ::self.stride]   # slicing: torch.fx traces it, convsolve cannot
    >>> @register_module(BlurPool)
    ... def blur_pool(module):
    ...     return {"type": "avg_pool2d", "kernel": 1, "stride": module.stride, "ceil_mode": True}
    >>> str(from_torch(nn.Sequential(BlurPool(2)), input=range(1, 9), channels=3).valid_sizes())
    '1..8'
    """
    if rule is None:
        def decorate(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
            _USER_RULES[module_type] = function
            return function

        return decorate
    _USER_RULES[module_type] = rule
    return rule


# --- values flowing through the trace -------------------------------------------------------------


@dataclass(frozen=True)
class _Tensor:
    """An activation: the convsolve node producing it and its rank (2 + spatial rank, or 2 once flattened)."""

    name: str
    rank: int


@dataclass(frozen=True)
class _Constant:
    """A parameter, buffer or tensor computed from them alone: only its shape matters."""

    shape: tuple[int, ...]


@dataclass(frozen=True)
class _Batch:
    """The batch size, read from an activation (``x.size(0)``, ``x.shape[0]``)."""


@dataclass(frozen=True)
class _ShapeOf:
    """An activation's shape (``x.shape``, ``x.size()``)."""

    tensor: _Tensor


@dataclass(frozen=True)
class _Dynamic:
    """A value computed from activation sizes at run time, which convsolve cannot treat as fixed."""

    what: str


class _Refusal(Exception):
    """A call that has no translation; the message says why (the translator adds where)."""


# --- the tracer -----------------------------------------------------------------------------------


class _TraceFailure(Exception):
    def __init__(self, path: str, module_type: type, cause: BaseException) -> None:
        super().__init__(path)
        self.path, self.module_type, self.cause = path, module_type, cause


def _make_tracer(torch: ModuleType) -> Any:
    fx = torch.fx

    class InPlaceProxy(fx.Proxy):  # type: ignore[misc, name-defined]
        """A proxy recording ``x += y`` as ``operator.iadd``: fx's own falls back to ``x = x + y``, which loses
        that an in-place add cannot stretch ``x`` (PyTorch refuses where ``x + y`` would broadcast ``x``)."""

        def __iadd__(self, other: Any) -> Any:
            return self.tracer.create_proxy("call_function", operator.iadd, (self, other), {})

        def __isub__(self, other: Any) -> Any:
            return self.tracer.create_proxy("call_function", operator.isub, (self, other), {})

        def __imul__(self, other: Any) -> Any:
            return self.tracer.create_proxy("call_function", operator.imul, (self, other), {})

        def __itruediv__(self, other: Any) -> Any:
            return self.tracer.create_proxy("call_function", operator.itruediv, (self, other), {})

    class Tracer(fx.Tracer):  # type: ignore[misc, name-defined]
        """torch.fx's tracer, with registered module types kept whole, in-place arithmetic kept in place,
        and failures located in their module."""

        def proxy(self, node: Any) -> Any:
            return InPlaceProxy(node, self)

        def is_leaf_module(self, module: Any, qualified_name: str) -> bool:
            if _user_rule(type(module)) is not None:
                return True
            return bool(super().is_leaf_module(module, qualified_name))

        def call_module(self, module: Any, forward: Any, args: Any, kwargs: Any) -> Any:
            try:
                return super().call_module(module, forward, args, kwargs)
            except _TraceFailure:
                raise
            except _USER_CODE_FAILURES as exc:
                raise _TraceFailure(self.path_of_module(module), type(module), exc) from exc

    return Tracer()


def _user_rule(module_type: type) -> ModuleRule | None:
    for cls in module_type.__mro__:
        if cls in _USER_RULES:
            return _USER_RULES[cls]
    return None


def _qualname(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def _trace(torch: ModuleType, model: Any, source: str | None) -> Any:
    """The fx graph of ``model.forward`` in eval mode, extra arguments fixed at their defaults."""
    concrete: dict[str, Any] = {}
    parameters = list(inspect.signature(model.forward).parameters.values())
    for parameter in parameters[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            raise ModelImportError(
                f"{type(model).__name__}.forward takes more than one input ({', '.join(p.name for p in parameters)}); "
                "convsolve imports models with one input tensor (give the others defaults)",
                file=source,
            )
        concrete[parameter.name] = parameter.default
    tracer = _make_tracer(torch)
    was_training = model.training
    model.eval()
    try:
        return tracer.trace(model, concrete_args=concrete or None)
    except _TraceFailure as failure:
        raise ModelImportError(
            f"torch.fx cannot trace {_qualname(failure.module_type)}: {_first_line(failure.cause)}. "
            f"Register a rule for it so that it is not traced into: convsolve.io.torch.register_module({failure.module_type.__name__}, rule), "
            "where rule gives its config layers (see help(convsolve.io.torch.register_module))",
            file=source, module=failure.path or type(model).__name__,
        ) from None
    except _USER_CODE_FAILURES as exc:
        raise ModelImportError(
            f"torch.fx cannot trace the forward of {_qualname(type(model))}: {_first_line(exc)}",
            file=source, module=type(model).__name__,
        ) from None
    finally:
        model.train(was_training)


# --- module rules ---------------------------------------------------------------------------------


def _per_axis(value: Any) -> Any:
    """An int, or a list when it differs per axis (the config spelling)."""
    if isinstance(value, (tuple, list)):
        values = [int(v) for v in value]
        return values[0] if len(set(values)) == 1 else values
    return int(value)


def _padding(value: Any) -> Any:
    return value if isinstance(value, str) else _per_axis(value)


def _conv_rule(module: Any) -> dict[str, Any]:
    if module.padding_mode != "zeros":
        raise _Refusal(
            f"padding_mode {module.padding_mode!r} needs the padding to be smaller than the input, which convsolve "
            "does not model; only padding_mode 'zeros' is translated"
        )
    nd = len(module.kernel_size)
    transposed = bool(module.transposed)
    spec: dict[str, Any] = {
        "type": f"conv_transpose{nd}d" if transposed else f"conv{nd}d",
        "out_channels": int(module.out_channels), "kernel": _per_axis(module.kernel_size),
        "stride": _per_axis(module.stride), "padding": _padding(module.padding),
        "dilation": _per_axis(module.dilation), "groups": int(module.groups), "in_channels": int(module.in_channels),
    }
    if transposed:
        spec["output_padding"] = _per_axis(module.output_padding)
    return spec


def _pool_rule(kind: str, nd: int) -> Callable[[Any], dict[str, Any]]:
    def rule(module: Any) -> dict[str, Any]:
        if getattr(module, "return_indices", False):
            raise _Refusal("return_indices=True returns a tuple; convsolve translates pools that return one tensor")
        spec = {
            "type": f"{kind}_pool{nd}d", "kernel": _per_axis(module.kernel_size),
            "stride": _per_axis(module.stride if module.stride is not None else module.kernel_size),
            "padding": _per_axis(module.padding), "ceil_mode": bool(module.ceil_mode),
        }
        if kind == "max":
            spec["dilation"] = _per_axis(module.dilation)
        return spec

    return rule


def _lp_pool_rule(nd: int) -> Callable[[Any], dict[str, Any]]:
    def rule(module: Any) -> dict[str, Any]:
        return {"type": f"lp_pool{nd}d", "kernel": _per_axis(module.kernel_size),
                "stride": _per_axis(module.stride if module.stride is not None else module.kernel_size), "ceil_mode": bool(module.ceil_mode)}

    return rule


def _adaptive_rule(kind: str, nd: int) -> Callable[[Any], dict[str, Any]]:
    def rule(module: Any) -> dict[str, Any]:
        if getattr(module, "return_indices", False):
            raise _Refusal("return_indices=True returns a tuple; convsolve translates pools that return one tensor")
        return {"type": f"adaptive_{kind}_pool{nd}d", "output_size": _output_size(module.output_size)}

    return rule


def _output_size(value: Any) -> Any:
    values = list(value) if isinstance(value, (tuple, list)) else [value]
    if any(v is None for v in values):
        raise _Refusal(f"an output size of None (keep the input's size on that axis) is not supported: {value!r}")
    return _per_axis(values)


def _upsample_rule(module: Any) -> dict[str, Any]:
    return _interpolate_spec(module.size, module.scale_factor)


def _interpolate_spec(size: Any, scale_factor: Any) -> dict[str, Any]:
    for value, what in ((size, "size"), (scale_factor, "scale_factor")):
        items = value if isinstance(value, (tuple, list)) else [value]
        for item in items:
            if isinstance(item, (_Dynamic, _ShapeOf, _Batch, _Tensor)):
                reading = item.what if isinstance(item, _Dynamic) else "another tensor's shape"
                raise _Refusal(
                    f"interpolating to a {what} read from {reading} makes the output follow that tensor at run time; "
                    "convsolve translates a fixed size or scale_factor"
                )
    if size is not None:
        return {"type": "interpolate", "size": _per_axis(size)}
    if scale_factor is None:
        raise _Refusal("interpolate needs a size or a scale_factor")
    scales = [float(s) for s in (scale_factor if isinstance(scale_factor, (tuple, list)) else [scale_factor])]
    return {"type": "interpolate", "scale_factor": scales[0] if len(set(scales)) == 1 else scales}


def _linear_rule(module: Any) -> dict[str, Any]:
    return {"type": "linear", "in_features": int(module.in_features), "out_features": int(module.out_features)}


def _flatten_rule(module: Any) -> dict[str, Any]:
    if module.start_dim != 1 or module.end_dim != -1:
        raise _Refusal(f"nn.Flatten(start_dim={module.start_dim}, end_dim={module.end_dim}): convsolve flattens from dim 1 to the end")
    return {"type": "flatten"}


def _group_norm_rule(module: Any) -> dict[str, Any]:
    return {"type": "group_norm", "num_groups": int(module.num_groups)}


def _zero_pad_rule(module: Any) -> dict[str, Any]:
    return {"type": "pad", "padding": _pad_pairs(module.padding)}


def _pad_pairs(pad: Sequence[int]) -> list[list[int]]:
    """``F.pad``'s pad list (last axis first: before, after) as [before, after] pairs in axis order."""
    pad = [int(p) for p in pad]
    pairs = [[pad[i], pad[i + 1]] for i in range(0, len(pad), 2)]
    return pairs[::-1]


def _builtin_module_rules(torch: ModuleType) -> dict[type, ModuleRule]:
    nn = torch.nn
    rules: dict[type, ModuleRule] = {}
    for nd in (1, 2, 3):
        rules[getattr(nn, f"Conv{nd}d")] = _conv_rule
        rules[getattr(nn, f"ConvTranspose{nd}d")] = _conv_rule
        rules[getattr(nn, f"MaxPool{nd}d")] = _pool_rule("max", nd)
        rules[getattr(nn, f"AvgPool{nd}d")] = _pool_rule("avg", nd)
        rules[getattr(nn, f"LPPool{nd}d")] = _lp_pool_rule(nd)
        rules[getattr(nn, f"AdaptiveAvgPool{nd}d")] = _adaptive_rule("avg", nd)
        rules[getattr(nn, f"AdaptiveMaxPool{nd}d")] = _adaptive_rule("max", nd)
        rules[getattr(nn, f"BatchNorm{nd}d")] = f"batch_norm{nd}d"
        rules[getattr(nn, f"InstanceNorm{nd}d")] = "instance_norm"
    for name in ("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"):
        rules[getattr(nn, name)] = _upsample_rule
    rules[nn.Linear] = _linear_rule
    rules[nn.Flatten] = _flatten_rule
    rules[nn.GroupNorm] = _group_norm_rule
    rules[nn.ZeroPad2d] = _zero_pad_rule
    for name in ("ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad3d"):
        if hasattr(nn, name):
            rules[getattr(nn, name)] = _zero_pad_rule
    rules[nn.PixelShuffle] = lambda m: {"type": "pixel_shuffle", "upscale_factor": int(m.upscale_factor)}
    rules[nn.PixelUnshuffle] = lambda m: {"type": "pixel_unshuffle", "downscale_factor": int(m.downscale_factor)}
    typed = {
        "Identity": "identity", "ReLU": "relu", "ReLU6": "relu6", "LeakyReLU": "leaky_relu", "ELU": "elu", "SELU": "selu",
        "CELU": "celu", "GELU": "gelu", "SiLU": "silu", "Mish": "mish", "Sigmoid": "sigmoid", "Tanh": "tanh",
        "Hardswish": "hardswish", "Hardsigmoid": "hardsigmoid", "Hardtanh": "hardtanh", "Softplus": "softplus",
        "Softmax": "softmax", "Softmax2d": "softmax", "LogSoftmax": "log_softmax", "PReLU": "prelu",
        "LocalResponseNorm": "local_response_norm", "Dropout": "dropout", "Dropout1d": "dropout1d", "Dropout2d": "dropout2d",
        "Dropout3d": "dropout3d", "AlphaDropout": "alpha_dropout", "FeatureAlphaDropout": "alpha_dropout",
        "Softsign": "identity", "Tanhshrink": "identity", "LogSigmoid": "identity", "Hardshrink": "identity",
        "Softshrink": "identity", "Threshold": "identity", "RReLU": "identity", "SyncBatchNorm": "batch_norm",
    }
    for name, type_name in typed.items():
        if hasattr(nn, name):
            rules[getattr(nn, name)] = type_name
    return rules


def _channel_expectation(module: Any, nn: Any) -> tuple[int, str] | None:
    """Channels a shape-preserving module insists on (its weights or running statistics), and which field says so."""
    norms = tuple(getattr(nn, f"BatchNorm{nd}d") for nd in (1, 2, 3)) + (nn.SyncBatchNorm,)
    instance = tuple(getattr(nn, f"InstanceNorm{nd}d") for nd in (1, 2, 3))
    if isinstance(module, norms) and (module.affine or module.track_running_stats):
        return int(module.num_features), "num_features"
    if isinstance(module, instance) and module.affine:
        return int(module.num_features), "num_features"
    if isinstance(module, nn.GroupNorm) and module.affine:
        return int(module.num_channels), "num_channels"
    if isinstance(module, nn.PReLU) and module.num_parameters > 1:
        return int(module.num_parameters), "num_parameters"
    return None


# --- translating the graph ------------------------------------------------------------------------


_ACTIVATION_FUNCTIONS = {
    "relu": "relu", "relu_": "relu", "relu6": "relu6", "hardtanh": "hardtanh", "hardtanh_": "hardtanh",
    "leaky_relu": "leaky_relu", "leaky_relu_": "leaky_relu", "elu": "elu", "elu_": "elu", "selu": "selu", "celu": "celu",
    "gelu": "gelu", "silu": "silu", "mish": "mish", "sigmoid": "sigmoid", "tanh": "tanh", "hardswish": "hardswish",
    "hardsigmoid": "hardsigmoid", "softplus": "softplus", "softmax": "softmax", "log_softmax": "log_softmax",
    "prelu": "prelu", "dropout": "dropout", "dropout1d": "dropout1d", "dropout2d": "dropout2d", "dropout3d": "dropout3d",
    "alpha_dropout": "alpha_dropout", "feature_alpha_dropout": "alpha_dropout", "batch_norm": "batch_norm",
    "instance_norm": "instance_norm", "local_response_norm": "local_response_norm",
}
"""``torch.nn.functional`` / ``torch`` activations and norms: the layer type each becomes."""

_ELEMENTWISE_FUNCTIONS = (
    "clamp", "clamp_", "clip", "clip_", "neg", "abs", "exp", "sqrt", "rsqrt", "square", "erf", "normalize",
    "logsigmoid", "softsign", "tanhshrink", "threshold", "hardshrink", "softshrink", "rrelu",
)
"""Functions that keep their input's shape and are not layers of their own: the value passes through."""

_PASS_THROUGH_METHODS = (
    "contiguous", "clone", "detach", "float", "double", "half", "bfloat16", "to", "type", "type_as", "cpu", "cuda",
    "requires_grad_", "clamp", "clamp_", "clamp_min", "clamp_max", "clip", "clip_", "abs", "neg", "exp", "sqrt",
    "square", "pow", "rsqrt", "erf",
)
"""Tensor methods that keep the shape and the layer: the value passes through."""

_ACTIVATION_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "sigmoid_": "sigmoid", "tanh": "tanh",
                       "tanh_": "tanh", "softmax": "softmax", "log_softmax": "log_softmax"}

_BINARY = {operator.add: "add", operator.sub: "add", operator.mul: "mul", operator.truediv: "mul"}
_BINARY_METHODS = {"add": "add", "sub": "add", "mul": "mul", "div": "mul"}
"""Element-wise binary operations: the merge type giving the same shape rule (PyTorch broadcasting)."""
_IN_PLACE_BINARY = {operator.iadd: "add", operator.isub: "add", operator.imul: "mul", operator.itruediv: "mul"}
_IN_PLACE_BINARY_METHODS = {"add_": "add", "sub_": "add", "mul_": "mul", "div_": "mul"}
"""``x += y``, ``x.add_(y)``: the result is ``x``, whose shape cannot change (the other operand may only broadcast into it)."""


def _bind(args: Sequence[Any], kwargs: Mapping[str, Any], names: Sequence[str], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments by parameter name, as Python binds them (positionally, then by keyword), defaults filled in."""
    bound = dict(defaults)
    bound.update(zip(names, args))
    bound.update(kwargs)
    return bound


def _walk(value: Any) -> Iterator[Any]:
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    else:
        yield value


class _Translator:
    """Turns an fx graph into config layers, tracking what each fx node's value is."""

    def __init__(self, torch: ModuleType, model: Any, graph_module: Any, source: str | None, ndim: int) -> None:
        self.torch, self.model, self.graph_module, self.source, self.ndim = torch, model, graph_module, source, ndim
        self.nn = torch.nn
        self.builtin_rules = _builtin_module_rules(torch)
        self.functions = self._function_table()
        self.layers: list[dict[str, Any]] = []
        self.names: set[str] = {INPUT}
        self.values: dict[Any, Any] = {}
        self.module_of: dict[str, str] = {}
        """Layer name -> qualified name of the module it is (or that called its function), for messages."""
        self.channel_checks: list[tuple[str, int, str]] = []
        """(layer, channels its module insists on, the field that says so)."""
        self.feature_checks: list[tuple[str, int]] = []
        """(flatten layer, feature count a view/reshape fixed)."""
        self.node: Any = None

    # -- errors and names --

    def where(self, node: Any) -> str:
        """The qualified name of the module the fx node was called in (or is)."""
        if node.op == "call_module":
            return str(node.target)
        stack = node.meta.get("nn_module_stack") or {}
        return str(list(stack.values())[-1][0]) if stack else type(self.model).__name__

    def error(self, message: str) -> ModelImportError:
        node = self.node
        return ModelImportError(message, file=self.source, node=None if node is None else node.name,
                                module=None if node is None else self.where(node))

    def fresh(self, name: str) -> str:
        return fresh_layer_name(name, self.names)

    def emit(self, specs: Sequence[Mapping[str, Any]], inputs: Sequence[_Tensor]) -> _Tensor:
        """Add a chain of layers reading ``inputs``; the last is named after the fx node."""
        rank = inputs[0].rank
        previous = [t.name for t in inputs]
        last = len(specs) - 1
        for index, spec in enumerate(specs):
            # fx node names are reserved up front, so a chain's extra layers never take a later node's name
            own = index == last and self.node.name != INPUT
            name = self.node.name if own else self.fresh(f"{self.node.name}_{index}")
            layer = {"name": name, **spec, "inputs": previous}
            self.layers.append(layer)
            self.module_of[name] = self.where(self.node)
            previous = [name]
            if spec["type"] == "flatten":
                rank = 2
        return _Tensor(previous[0], rank)

    # -- the graph --

    def run(self) -> None:
        placeholders = 0
        self.names.update(node.name for node in self.graph_module.graph.nodes if node.op != "placeholder")
        for node in self.graph_module.graph.nodes:
            self.node = node
            if node.op == "placeholder":
                placeholders += 1
                self.values[node] = _Tensor(INPUT, self.ndim + 2) if placeholders == 1 else _Dynamic(f"the argument {node.name!r}")
            elif node.op == "get_attr":
                self.values[node] = self.attribute(node.target)
            elif node.op == "call_module":
                self.values[node] = self.call_module(node)
            elif node.op in ("call_function", "call_method"):
                self.values[node] = self.call(node)
        self.node = None

    def attribute(self, target: str) -> Any:
        value: Any = self.graph_module
        for part in target.split("."):
            value = getattr(value, part)
        if isinstance(value, self.torch.Tensor):
            return _Constant(tuple(int(d) for d in value.shape))
        return value

    def arg(self, value: Any) -> Any:
        """An fx argument with every node replaced by its value."""
        fx_node = self.torch.fx.Node
        if isinstance(value, fx_node):
            return self.values[value]
        if isinstance(value, (list, tuple)):
            return type(value)(self.arg(v) for v in value)
        if isinstance(value, dict):
            return {k: self.arg(v) for k, v in value.items()}
        if isinstance(value, slice):
            return slice(self.arg(value.start), self.arg(value.stop), self.arg(value.step))
        return value

    def call_module(self, node: Any) -> Any:
        module = self.model.get_submodule(node.target)
        args, kwargs = self.arg(node.args), self.arg(node.kwargs)
        rule = _user_rule(type(module))
        builtin = rule is None
        if builtin:
            rule = self.builtin_rules.get(type(module))
        if rule is None:
            raise self.error(
                f"module {_qualname(type(module))} has no convsolve rule. Register one: "
                f"convsolve.io.torch.register_module({type(module).__name__}, rule), where rule is its config layer "
                "(e.g. {'type': 'avg_pool2d', 'kernel': 2}), a type name ('identity' for a module that keeps the shape), "
                "or a function of the module returning either"
            )
        try:
            produced = rule(module) if callable(rule) else rule
        except _Refusal as refusal:
            raise self.error(f"{type(module).__name__}: {refusal}") from None
        except _USER_CODE_FAILURES as exc:
            raise self.error(f"the convsolve rule for {type(module).__name__} failed: {_first_line(exc)}") from None
        specs = self.specs(produced, type(module).__name__)
        if builtin and isinstance(module, (self.nn.ConvTranspose1d, self.nn.ConvTranspose2d, self.nn.ConvTranspose3d)):
            output_size = kwargs.get("output_size", args[1] if len(args) > 1 else None)
            if output_size is not None:
                specs[0]["output_size"] = self.static_sizes(output_size, "output_size")
        tensors = [value for value in _walk((args, kwargs)) if isinstance(value, _Tensor)]
        if not tensors:
            raise self.error(f"{type(module).__name__} is called without an activation input")
        result = self.emit(specs, tensors)
        if builtin:
            expected = _channel_expectation(module, self.nn)
            if expected is not None:
                self.channel_checks.append((result.name, *expected))
        return result

    def specs(self, produced: Any, what: str) -> list[dict[str, Any]]:
        items = produced if isinstance(produced, (list, tuple)) else [produced]
        specs = []
        for item in items:
            if isinstance(item, str):
                specs.append({"type": item})
            elif isinstance(item, Mapping) and isinstance(item.get("type"), str) and "name" not in item and "inputs" not in item:
                specs.append(dict(item))
            else:
                raise self.error(
                    f"the convsolve rule for {what} must give a type name or a config layer mapping with 'type' "
                    f"(no 'name' or 'inputs'), or a list of them; got {item!r}"
                )
        if not specs:
            raise self.error(f"the convsolve rule for {what} gave no layer")
        return specs

    def static_sizes(self, value: Any, what: str) -> Any:
        """The spatial sizes of a shape argument (the last ``ndim`` entries), which must be fixed integers."""
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        items = items[-self.ndim:]
        if not all(isinstance(v, int) for v in items):
            raise self.error(f"{what} read from a tensor's shape at run time is not supported; convsolve needs fixed sizes")
        return _per_axis(items)

    # -- functions and methods --

    def call(self, node: Any) -> Any:
        args, kwargs = self.arg(node.args), self.arg(node.kwargs)
        values = list(_walk((args, kwargs)))
        handler: Callable[[Any, Any], Any] | None
        if node.op == "call_function" and node.target in self.functions:
            handler = self.functions[node.target]
        elif node.op == "call_method":
            handler = self.method(node.target)
        else:
            handler = None
        if handler is None and not any(isinstance(v, _Tensor) for v in values) and any(isinstance(v, _Constant) for v in values):
            return self.on_constants(node, args, kwargs)
        if handler is None:
            what = f"function {_qualname(node.target)}" if node.op == "call_function" else f"tensor method .{node.target}()"
            raise self.error(
                f"{what} has no convsolve translation. Wrap the code calling it in an nn.Module and register a rule "
                "for that module: convsolve.io.torch.register_module(YourModule, rule)"
            )
        try:
            return handler(args, kwargs)
        except _Refusal as refusal:
            raise self.error(str(refusal)) from None

    def on_constants(self, node: Any, args: Any, kwargs: Any) -> Any:
        """A call reading only parameters and buffers: run it on ``meta`` tensors of their shapes to get the result's shape."""
        torch = self.torch

        def meta(value: Any) -> Any:
            if isinstance(value, _Constant):
                return torch.empty(value.shape, device="meta")
            if isinstance(value, (list, tuple)):
                return type(value)(meta(v) for v in value)
            if isinstance(value, dict):
                return {k: meta(v) for k, v in value.items()}
            if isinstance(value, (_Batch, _ShapeOf, _Dynamic)):
                raise self.error("a computation mixing parameters with activation sizes is not supported")
            return value

        try:
            if node.op == "call_method":
                result = getattr(meta(args[0]), node.target)(*meta(args[1:]), **meta(kwargs))
            else:
                result = node.target(*meta(args), **meta(kwargs))
        except _USER_CODE_FAILURES as exc:
            raise self.error(f"computing with parameters failed: {_first_line(exc)}") from None
        if isinstance(result, torch.Tensor):
            return _Constant(tuple(int(d) for d in result.shape))
        return result

    def method(self, name: str) -> Callable[[Any, Any], Any] | None:
        if name in _PASS_THROUGH_METHODS:
            return self.pass_through
        if name in _ACTIVATION_METHODS:
            return self.activation_handler(_ACTIVATION_METHODS[name])
        if name in _BINARY_METHODS:
            return self.binary_handler(_BINARY_METHODS[name])
        if name in _IN_PLACE_BINARY_METHODS:
            return self.binary_handler(_IN_PLACE_BINARY_METHODS[name], in_place=True)
        return {
            "size": self.size, "dim": self.rank_of, "view": self.reshape_method, "reshape": self.reshape_method,
            "flatten": self.flatten, "mean": self.mean,
        }.get(name)

    def _function_table(self) -> dict[Any, Callable[[Any, Any], Any]]:
        torch = self.torch
        F = torch.nn.functional
        table: dict[Any, Callable[[Any, Any], Any]] = {}

        def add(names: Sequence[str], handler: Callable[[Any, Any], Any], *owners: Any) -> None:
            for owner in owners or (F, torch):
                for name in names:
                    function = getattr(owner, name, None)
                    if function is not None:
                        table[function] = handler

        for nd in (1, 2, 3):
            add([f"conv{nd}d"], self.conv_function(nd, transposed=False))
            add([f"conv_transpose{nd}d"], self.conv_function(nd, transposed=True))
            add([f"max_pool{nd}d", f"_max_pool{nd}d"], self.pool_function("max", nd))
            add([f"max_pool{nd}d_with_indices"], self.refuse("max pooling with return_indices returns a tuple"))
            add([f"avg_pool{nd}d"], self.pool_function("avg", nd), F, torch, torch._C._nn)
            add([f"lp_pool{nd}d"], self.lp_pool_function(nd), F)
            for kind in ("avg", "max"):
                add([f"adaptive_{kind}_pool{nd}d", f"_adaptive_{kind}_pool{nd}d"], self.adaptive_function(kind, nd))
        add(["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"], self.interpolate, F)
        add(["pixel_shuffle"], lambda a, k: self.single(a, k, ["input", "upscale_factor"], "pixel_shuffle", "upscale_factor"))
        add(["pixel_unshuffle"], lambda a, k: self.single(a, k, ["input", "downscale_factor"], "pixel_unshuffle", "downscale_factor"))
        add(["pad"], self.pad, F, torch._C._nn)
        add(["linear"], self.linear, F)
        add(["flatten"], self.flatten, torch)
        add(["cat", "concat", "concatenate"], self.cat, torch)
        add(["mean"], self.mean, torch)
        add(["reshape"], self.reshape_function, torch)
        for name, type_name in _ACTIVATION_FUNCTIONS.items():
            add([name], self.activation_handler(type_name))
        add(["group_norm"], self.group_norm, F)
        add(list(_ELEMENTWISE_FUNCTIONS), self.pass_through)
        add(["add", "sub", "subtract"], self.binary_handler("add"), torch)
        add(["mul", "multiply", "div", "divide", "true_divide"], self.binary_handler("mul"), torch)
        for function, kind in _BINARY.items():
            table[function] = self.binary_handler(kind)
        for function, kind in _IN_PLACE_BINARY.items():
            table[function] = self.binary_handler(kind, in_place=True)
        table[operator.neg] = self.pass_through
        table[operator.pow] = self.pass_through
        table[operator.getitem] = self.getitem
        table[getattr] = self.getattr
        for size_op in (operator.floordiv, operator.mod, operator.sub, operator.add, operator.mul):
            table.setdefault(size_op, self.arithmetic)
        try:
            from torchvision.ops import stochastic_depth  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            pass
        else:
            table[stochastic_depth] = self.pass_through
        return table

    # -- handlers: each takes (args, kwargs) with values in place of fx nodes --

    def tensor(self, value: Any, what: str = "input") -> _Tensor:
        if not isinstance(value, _Tensor):
            raise _Refusal(f"the {what} must be an activation (a tensor computed from the model's input), got {self.describe(value)}")
        return value

    def describe(self, value: Any) -> str:
        if isinstance(value, _Constant):
            return f"a parameter or buffer of shape {list(value.shape)}"
        if isinstance(value, _Dynamic):
            return value.what
        return repr(value)

    def pass_through(self, args: Any, kwargs: Any) -> Any:
        first = args[0] if args else next(iter(kwargs.values()))
        return first

    def refuse(self, reason: str) -> Callable[[Any, Any], Any]:
        def handler(args: Any, kwargs: Any) -> Any:
            raise _Refusal(reason)

        return handler

    def activation_handler(self, type_name: str) -> Callable[[Any, Any], Any]:
        return lambda args, kwargs: self.activation(type_name, args, kwargs)

    def binary_handler(self, kind: str, in_place: bool = False) -> Callable[[Any, Any], Any]:
        return lambda args, kwargs: self.binary(kind, args, kwargs, in_place)

    def activation(self, type_name: str, args: Any, kwargs: Any) -> Any:
        first = args[0] if args else kwargs.get("input")
        if not isinstance(first, _Tensor):
            return first
        return self.emit([{"type": type_name}], [first])

    def single(self, args: Any, kwargs: Any, names: Sequence[str], type_name: str, field: str) -> Any:
        bound = _bind(args, kwargs, names, {})
        return self.emit([{"type": type_name, field: int(bound[field])}], [self.tensor(bound["input"])])

    def group_norm(self, args: Any, kwargs: Any) -> Any:
        bound = _bind(args, kwargs, ["input", "num_groups", "weight", "bias", "eps"], {})
        return self.emit([{"type": "group_norm", "num_groups": int(bound["num_groups"])}], [self.tensor(bound["input"])])

    def conv_function(self, nd: int, transposed: bool) -> Callable[[Any, Any], Any]:
        names = ["input", "weight", "bias", "stride", "padding"] + (
            ["output_padding", "groups", "dilation"] if transposed else ["dilation", "groups"]
        )
        defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "output_padding": 0}

        def handler(args: Any, kwargs: Any) -> Any:
            bound = _bind(args, kwargs, names, defaults)
            weight = bound["weight"]
            if not isinstance(weight, _Constant):
                raise _Refusal(f"the weight of a functional convolution must be a parameter of the model, got {self.describe(weight)}")
            groups = int(bound["groups"])
            spec: dict[str, Any] = {
                "type": f"conv_transpose{nd}d" if transposed else f"conv{nd}d", "kernel": _per_axis(weight.shape[2:]),
                "stride": _per_axis(bound["stride"]), "padding": _padding(bound["padding"]),
                "dilation": _per_axis(bound["dilation"]), "groups": groups,
            }
            if transposed:
                spec.update(in_channels=weight.shape[0], out_channels=weight.shape[1] * groups, output_padding=_per_axis(bound["output_padding"]))
            else:
                spec.update(in_channels=weight.shape[1] * groups, out_channels=weight.shape[0])
            return self.emit([spec], [self.tensor(bound["input"])])

        return handler

    def pool_function(self, kind: str, nd: int) -> Callable[[Any, Any], Any]:
        if kind == "max":
            names = ["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"]
        else:
            names = ["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]

        def handler(args: Any, kwargs: Any) -> Any:
            bound = _bind(args, kwargs, names, {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False})
            if bound.get("return_indices"):
                raise _Refusal("max pooling with return_indices=True returns a tuple; convsolve translates pools that return one tensor")
            stride = bound["stride"]
            if stride is None or (isinstance(stride, (list, tuple)) and not stride):
                stride = bound["kernel_size"]  # torch.max_pool2d's stride=[] means the kernel, as None does
            spec = {"type": f"{kind}_pool{nd}d", "kernel": _per_axis(bound["kernel_size"]), "stride": _per_axis(stride),
                    "padding": _per_axis(bound["padding"]), "ceil_mode": bool(bound["ceil_mode"])}
            if kind == "max":
                spec["dilation"] = _per_axis(bound["dilation"])
            return self.emit([spec], [self.tensor(bound["input"])])

        return handler

    def lp_pool_function(self, nd: int) -> Callable[[Any, Any], Any]:
        def handler(args: Any, kwargs: Any) -> Any:
            bound = _bind(args, kwargs, ["input", "norm_type", "kernel_size", "stride", "ceil_mode"], {"stride": None, "ceil_mode": False})
            stride = bound["kernel_size"] if bound["stride"] is None else bound["stride"]
            spec = {"type": f"lp_pool{nd}d", "kernel": _per_axis(bound["kernel_size"]), "stride": _per_axis(stride),
                    "ceil_mode": bool(bound["ceil_mode"])}
            return self.emit([spec], [self.tensor(bound["input"])])

        return handler

    def adaptive_function(self, kind: str, nd: int) -> Callable[[Any, Any], Any]:
        def handler(args: Any, kwargs: Any) -> Any:
            bound = _bind(args, kwargs, ["input", "output_size", "return_indices"], {})
            if bound.get("return_indices"):
                raise _Refusal("adaptive pooling with return_indices=True returns a tuple")
            spec = {"type": f"adaptive_{kind}_pool{nd}d", "output_size": _output_size(bound["output_size"])}
            return self.emit([spec], [self.tensor(bound["input"])])

        return handler

    def interpolate(self, args: Any, kwargs: Any) -> Any:
        bound = _bind(args, kwargs, ["input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"],
                      {"size": None, "scale_factor": None})
        spec = _interpolate_spec(bound["size"], bound["scale_factor"])
        return self.emit([spec], [self.tensor(bound["input"])])

    def pad(self, args: Any, kwargs: Any) -> Any:
        bound = _bind(args, kwargs, ["input", "pad", "mode", "value"], {"mode": "constant"})
        source = self.tensor(bound["input"])
        if bound["mode"] not in ("constant", None):
            raise _Refusal(f"F.pad mode {bound['mode']!r} needs the padding to be smaller than the input, which convsolve does not model; "
                           "mode 'constant' is translated")
        pad = list(bound["pad"])
        if not all(isinstance(p, int) for p in pad):
            raise _Refusal("F.pad with amounts computed from tensor sizes at run time is not supported; convsolve needs fixed padding")
        spatial = source.rank - 2
        if len(pad) % 2 or len(pad) > 2 * spatial:
            raise _Refusal(f"F.pad {pad} pads more than the {spatial} spatial axes")
        pairs = [[0, 0]] * (spatial - len(pad) // 2) + _pad_pairs(pad)
        return self.emit([{"type": "pad", "padding": pairs}], [source])

    def linear(self, args: Any, kwargs: Any) -> Any:
        bound = _bind(args, kwargs, ["input", "weight", "bias"], {})
        weight = bound["weight"]
        if not isinstance(weight, _Constant) or len(weight.shape) != 2:
            raise _Refusal(f"the weight of F.linear must be a matrix parameter of the model, got {self.describe(weight)}")
        spec = {"type": "linear", "in_features": weight.shape[1], "out_features": weight.shape[0]}
        return self.emit([spec], [self.tensor(bound["input"])])

    def flatten(self, args: Any, kwargs: Any) -> Any:
        bound = _bind(args, kwargs, ["input", "start_dim", "end_dim"], {"start_dim": 0, "end_dim": -1})
        source = self.tensor(bound["input"])
        start, end = int(bound["start_dim"]) % source.rank, int(bound["end_dim"]) % source.rank
        if start != 1 or end != source.rank - 1:
            raise _Refusal(f"flatten(start_dim={bound['start_dim']}, end_dim={bound['end_dim']}): convsolve flattens from dim 1 to the last")
        return self.emit([{"type": "flatten"}], [source])

    def cat(self, args: Any, kwargs: Any) -> Any:
        bound = _bind(args, kwargs, ["tensors", "dim"], {"dim": 0})
        tensors = [self.tensor(t, "tensor to concatenate") for t in bound["tensors"]]
        rank = tensors[0].rank
        if int(bound["dim"]) % rank != 1:
            raise _Refusal(f"torch.cat along dim {bound['dim']}: convsolve concatenates along the channels (dim 1)")
        if len(tensors) == 1:
            return tensors[0]
        return self.emit([{"type": "concat"}], tensors)

    def binary(self, kind: str, args: Any, kwargs: Any, in_place: bool = False) -> Any:
        bound = _bind(args, kwargs, ["input", "other"], {})
        operands = [bound["input"], bound["other"]]
        tensors = [v for v in operands if isinstance(v, _Tensor)]
        if not tensors:
            return self.arithmetic(args, kwargs)
        if in_place and not isinstance(operands[0], _Tensor):
            raise _Refusal(f"an in-place operation writes an activation into {self.describe(operands[0])}, whose shape cannot change")
        for value in operands:
            if isinstance(value, _Constant):
                self.check_constant_operand(value, tensors[0])
            elif isinstance(value, (_Batch, _ShapeOf, _Dynamic)):
                raise _Refusal(f"arithmetic between an activation and {self.describe(value)} is not supported")
        if len(tensors) == 1:
            return tensors[0]
        return self.emit([{"type": kind, "broadcast": True, "in_place": True} if in_place else {"type": kind, "broadcast": True}], tensors)

    def check_constant_operand(self, constant: _Constant, tensor: _Tensor) -> None:
        """A parameter may scale or shift an activation when it broadcasts without enlarging it: size 1 but on channels."""
        shape = constant.shape
        if len(shape) > tensor.rank:
            raise _Refusal(f"{self.describe(constant)} has more dimensions than the activation")
        aligned = (1,) * (tensor.rank - len(shape)) + shape
        for dim, size in enumerate(aligned):
            if size != 1 and dim != 1:
                raise _Refusal(
                    f"{self.describe(constant)} fixes dimension {dim} of the activation to {size}; convsolve supports "
                    "parameters that broadcast over the batch and spatial axes"
                )
        if aligned[1] != 1 and tensor.rank > 2:
            self.channel_checks.append((tensor.name, aligned[1], f"a parameter of shape {list(shape)}"))

    def arithmetic(self, args: Any, kwargs: Any) -> Any:
        values = list(_walk((args, kwargs)))
        if any(isinstance(v, _Tensor) for v in values):
            return self.binary("add", args, kwargs)
        return _Dynamic(f"a value computed from tensor sizes ({self.node.name})")

    def getattr(self, args: Any, kwargs: Any) -> Any:
        value, name = args[0], args[1]
        if isinstance(value, _Tensor):
            if name == "shape":
                return _ShapeOf(value)
            if name == "ndim":
                return value.rank
            raise _Refusal(f"reading .{name} of an activation is not supported")
        if isinstance(value, _Constant) and name == "shape":
            return value.shape
        return _Dynamic(f"{self.describe(value)}.{name}")

    def getitem(self, args: Any, kwargs: Any) -> Any:
        value, index = args[0], args[1]
        if isinstance(value, _ShapeOf):
            if index == 0 or index == -value.tensor.rank:
                return _Batch()
            shown = f"{'' if index.start is None else index.start}:{'' if index.stop is None else index.stop}" if isinstance(index, slice) else index
            return _Dynamic(f"{value.tensor.name}.shape[{shown}]")
        if isinstance(value, _Tensor):
            raise _Refusal(f"indexing or slicing an activation ({value.name}[{index!r}]) is not supported")
        if isinstance(value, (list, tuple)):
            return value[index]
        return _Dynamic(f"an item of {self.describe(value)}")

    def size(self, args: Any, kwargs: Any) -> Any:
        source = self.tensor(args[0])
        dim = args[1] if len(args) > 1 else kwargs.get("dim")
        if dim is None:
            return _ShapeOf(source)
        return self.getitem([_ShapeOf(source), dim], {})

    def rank_of(self, args: Any, kwargs: Any) -> int:
        return self.tensor(args[0]).rank

    def mean(self, args: Any, kwargs: Any) -> Any:
        bound = _bind(args, kwargs, ["input", "dim", "keepdim"], {"dim": None, "keepdim": False})
        source = self.tensor(bound["input"])
        dims = bound["dim"]
        dims = [dims] if isinstance(dims, int) else list(dims or [])
        spatial = set(range(2, source.rank))
        if source.rank < 3 or {int(d) % source.rank for d in dims} != spatial:
            raise _Refusal(f"mean over dims {bound['dim']}: convsolve translates a mean over every spatial axis (a global average pool)")
        specs: list[dict[str, Any]] = [{"type": f"adaptive_avg_pool{source.rank - 2}d", "output_size": 1}]
        if not bound["keepdim"]:
            specs.append({"type": "flatten"})
        return self.emit(specs, [source])

    def reshape_method(self, args: Any, kwargs: Any) -> Any:
        shape = args[1] if len(args) == 2 and isinstance(args[1], (list, tuple, _ShapeOf)) else list(args[1:])
        return self.reshape(args[0], kwargs.get("shape", shape))

    def reshape_function(self, args: Any, kwargs: Any) -> Any:
        bound = _bind(args, kwargs, ["input", "shape"], {})
        return self.reshape(bound["input"], bound["shape"])

    def reshape(self, value: Any, shape: Any) -> Any:
        source = self.tensor(value)
        if isinstance(shape, _ShapeOf) or not isinstance(shape, (list, tuple)):
            raise _Refusal("view/reshape to another tensor's shape is not supported")
        shape = list(shape)
        leading_batch = len(shape) == 2 and isinstance(shape[0], _Batch)
        if leading_batch and shape[1] == -1:
            return self.emit([{"type": "flatten"}], [source])
        if leading_batch and isinstance(shape[1], int) and shape[1] > 0:
            flat = self.emit([{"type": "flatten"}], [source])
            self.feature_checks.append((flat.name, shape[1]))
            return flat
        shown = ", ".join("batch" if isinstance(s, _Batch) else "?" if not isinstance(s, int) else str(s) for s in shape)
        raise _Refusal(
            f"view/reshape to ({shown}): convsolve translates reshapes to (batch, -1) or (batch, features), with the batch "
            "read from the tensor (x.size(0)); write torch.flatten(x, 1) for a flatten"
        )


def _spatial_rank_and_channels(torch: ModuleType, model: Any, graph_module: Any) -> tuple[int | None, int | None]:
    """The spatial rank and input channels, read from the first module or function that reveals them."""
    nn = torch.nn
    F = torch.nn.functional
    ndim: int | None = None
    channels: int | None = None
    spatial_modules = {
        nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3, nn.ConvTranspose1d: 1, nn.ConvTranspose2d: 2, nn.ConvTranspose3d: 3,
        nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3, nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3,
        nn.LPPool1d: 1, nn.LPPool2d: 2, nn.LPPool3d: 3,
        nn.AdaptiveAvgPool1d: 1, nn.AdaptiveAvgPool2d: 2, nn.AdaptiveAvgPool3d: 3, nn.AdaptiveMaxPool1d: 1,
        nn.AdaptiveMaxPool2d: 2, nn.AdaptiveMaxPool3d: 3, nn.BatchNorm2d: 2, nn.BatchNorm3d: 3,
        nn.InstanceNorm1d: 1, nn.InstanceNorm2d: 2, nn.InstanceNorm3d: 3, nn.PixelShuffle: 2, nn.PixelUnshuffle: 2,
    }
    spatial_functions = {getattr(F, f"conv{nd}d"): nd for nd in (1, 2, 3)}
    spatial_functions.update({getattr(F, f"conv_transpose{nd}d"): nd for nd in (1, 2, 3)})
    for node in graph_module.graph.nodes:
        if node.op == "call_module":
            module = model.get_submodule(node.target)
            rule = _user_rule(type(module))
            if rule is not None and ndim is None:
                try:
                    produced = rule(module) if callable(rule) else rule
                except _USER_CODE_FAILURES:  # reported with its module when the call is translated
                    produced = []
                for spec in produced if isinstance(produced, (list, tuple)) else [produced]:
                    type_name = spec if isinstance(spec, str) else spec.get("type") if isinstance(spec, Mapping) else None
                    rank = LAYER_TYPES.get(str(type_name).lower(), (None, None))[1]
                    ndim = ndim or rank
                continue
            found = spatial_modules.get(type(module))
            if found is None:
                found = next((nd for cls, nd in spatial_modules.items() if isinstance(module, cls)), None)
            if ndim is None and found is not None:
                ndim = found
            if channels is None and isinstance(module, (nn.modules.conv._ConvNd,)):
                channels = int(module.in_channels)
            elif channels is None and isinstance(module, (nn.modules.batchnorm._BatchNorm,)):
                channels = int(module.num_features)
        elif node.op == "call_function" and node.target in spatial_functions:
            ndim = ndim or spatial_functions[node.target]
            weight = node.args[1] if len(node.args) > 1 else node.kwargs.get("weight")
            if channels is None and getattr(weight, "op", None) == "get_attr":
                tensor: Any = graph_module
                for part in weight.target.split("."):
                    tensor = getattr(tensor, part)
                groups = node.args[6] if len(node.args) > 6 else node.kwargs.get("groups", 1)
                transposed = "transpose" in node.target.__name__
                channels = int(tensor.shape[0]) if transposed else int(tensor.shape[1]) * int(groups)
        if ndim is not None and channels is not None:
            break
    return ndim, channels


def from_torch(
    model: Any, input: InputSizes | None = None, *, channels: int | None = None, name: str | None = None, source: str | None = None,
) -> Network:
    """The convsolve network of a ``torch.nn.Module``, traced with ``torch.fx``.

    Parameters
    ----------
    model : torch.nn.Module
        The model; its ``forward`` takes one input tensor (other arguments keep their defaults).
        Tracing runs in eval mode and the model's mode is restored; no tensor is computed.
    input : int, range, SizeRange, or a list of them per spatial axis, optional
        The input sizes to examine: one for every axis (square inputs), or one per axis. Default 1..512.
    channels : int, optional
        Input channels; by default the first convolution's ``in_channels`` (or first batch norm's ``num_features``).
    name : str, optional
        The network's name; by default the model's class name.
    source : str, optional
        Where the model came from, for messages (the CLI passes its ``module:callable``).

    Returns
    -------
    Network
        The same object :func:`convsolve.load` gives for a config (PyTorch convention); element-wise
        ``+``/``*`` are add/mul merges with broadcasting, as PyTorch applies it.

    Raises
    ------
    ModelImportError
        When tracing fails (naming the module), a module or function has no translation (naming it; see
        :func:`register_module`), or a norm's channel count disagrees with the channels reaching it.
    MissingExtraError
        When torch is not installed.
    """
    torch = _import_torch()
    if not isinstance(model, torch.nn.Module):
        raise ModelImportError(f"expected a torch.nn.Module, got {type(model).__name__}", file=source)
    name = name or type(model).__name__
    try:
        graph = _trace(torch, model, source)
        graph_module = torch.fx.GraphModule(model, graph)
        ndim, found_channels = _spatial_rank_and_channels(torch, model, graph_module)
        ndim = ndim or _per_axis_rank(input)
        translator = _Translator(torch, model, graph_module, source, ndim or 2)
        translator.run()
    except ModelImportError as fx_refusal:
        if any(_user_rule(type(module)) is not None for module in model.modules()):
            raise  # a registered rule is the user's override: it only applies to the torch.fx path
        try:
            return _from_aten_instead(torch, model, input, channels, name, source)
        except ModelImportError as aten_refusal:
            # the location is the ATen capture's when it names a module inside the model, else torch.fx's
            inside = aten_refusal.facts.get("module") not in (None, type(model).__name__)
            fx_where = ", ".join(f"{key} '{fx_refusal.facts[key]}'" for key in ("module", "node") if fx_refusal.facts.get(key))
            raise ModelImportError(
                f"{aten_refusal.message.rstrip('.')}. (Before the ATen capture, the torch.fx path refused it too"
                f"{' at ' + fx_where if fx_where and inside else ''}: {fx_refusal.message})",
                **({**fx_refusal.facts, "module": None, "node": None, **aten_refusal.facts} if inside
                   else {**aten_refusal.facts, **fx_refusal.facts}),
            ) from None
    if ndim is None:
        raise _unknown_rank(model, source)
    channels = channels or found_channels
    if channels is None:
        raise _unknown_channels(source)
    if not translator.layers:
        raise ModelImportError("the traced forward has no layer that convsolve translates", file=source, module=type(model).__name__)
    ranges, tied = input_ranges(input, ndim)
    config = {"name": name, "convention": "pytorch", "input": input_config(ranges, tied, channels), "layers": translator.layers}
    try:
        network = Network.from_config(config, source=source)
    except ConfigError as exc:
        node = exc.facts.get("node")
        raise ModelImportError(exc.message, file=source, node=node, field=exc.facts.get("field"),
                               module=translator.module_of.get(node) if node else None) from None
    _check_channels(network, translator, source)
    _check_features(network, translator, source)
    return network


def _per_axis_rank(input: InputSizes | None) -> int | None:
    """The spatial rank that input sizes given per axis tell (``[range(...), range(...)]``: 2)."""
    if input is not None and isinstance(input, (list, tuple)) and 1 <= len(input) <= 3:
        return len(input)
    return None


def _unknown_rank(model: Any, source: str | None) -> ModelImportError:
    return ModelImportError(
        "no convolution, pooling or spatial norm found to tell the spatial rank; give the input sizes per axis "
        "(input=[range(...), range(...)] for 2-D)", file=source, module=type(model).__name__,
    )


def _unknown_channels(source: str | None) -> ModelImportError:
    return ModelImportError("the input channels are unknown (no convolution or batch norm reveals them); pass channels=...", file=source)


def _from_aten_instead(
    torch: ModuleType, model: Any, input: InputSizes | None, channels: int | None, name: str, source: str | None,
) -> Network:
    """The network from the ATen capture (:mod:`convsolve.io.aten`), for a model torch.fx cannot trace or
    convsolve cannot translate at the module level; rank and channels from its first convolution or norm."""
    from .aten import from_aten

    ndim, found_channels = None, None
    for module in model.modules():
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            ndim, found_channels = len(module.kernel_size), int(module.in_channels)
            break
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and found_channels is None:
            found_channels = int(module.num_features)
    ndim = _per_axis_rank(input) or ndim
    if ndim is None:
        raise _unknown_rank(model, source)
    channels = channels or found_channels
    if channels is None:
        raise _unknown_channels(source)
    return from_aten(model, input, channels=channels, ndim=ndim, name=name, source=source)


def _check_channels(network: Network, translator: _Translator, source: str | None) -> None:
    """Norms (and scaling parameters) fix the channel count; PyTorch refuses a model where another count reaches them."""
    if not translator.channel_checks:
        return
    nodes = network.with_input([SizeRange(r.lo, r.lo) for r in network.input.ranges], network.input.tied).infer().nodes
    for layer, expected, field in translator.channel_checks:
        found = nodes[layer].channels
        if found is not None and found != expected:
            raise ModelImportError(
                f"{field} is {expected} but {found} channels reach it; PyTorch refuses this model at every input size",
                file=source, node=layer, module=translator.module_of.get(layer),
            )


def _check_features(network: Network, translator: _Translator, source: str | None) -> None:
    """A view/reshape to (batch, F) needs exactly F features: kept when a linear with ``in_features == F`` reads it."""
    for flat, features in translator.feature_checks:
        readers = [n for n in network.graph.successors(flat)]
        checked = bool(readers)
        while readers and checked:
            reader = readers.pop()
            layer = network.layer(reader)
            if layer.family == "preserve":
                readers.extend(network.graph.successors(reader))
            elif getattr(layer, "in_features", None) != features:
                checked = False
        if not checked:
            raise ModelImportError(
                f"view/reshape to (batch, {features}) needs exactly {features} features, which convsolve checks only when a "
                f"linear layer with in_features = {features} reads the result; write torch.flatten(x, 1) instead",
                file=source, node=flat, module=translator.module_of.get(flat),
            )
