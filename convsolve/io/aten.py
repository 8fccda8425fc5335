"""Importing PyTorch models at the level PyTorch lowers them to: ATen operators with symbolic sizes.

:func:`from_aten` captures the model with ``make_fx`` in symbolic mode: every spatial input size is a
symbol (``s0``, ``s1``), PyTorch's own meta functions compute every tensor's shape as an expression of
them, and static facts (ranks, channel counts, parameter shapes, asserts on them) are settled during the
capture, so they need no rule. Each ATen operator is then translated into convsolve layers:

- convolution, pools, adaptive pools, a mean over the spatial axes, constant pads: the layer with the same
  size rule; a pad computed from the size before a window: TensorFlow's "same" (``pad_same``);
- an interpolation to another tensor's size, or a pad of the difference to it: ``resize_as``;
- element-wise arithmetic between activations: add/mul merges with PyTorch broadcasting (in place for
  ``add_`` and the like, whose left operand cannot stretch);
- everything that keeps the spatial grid (activations, norms, permutes, views that keep or merge the
  spatial axes, channel splits, attention and linear maps over the channels): no spatial layer, only the
  channel count is followed (a ``channels`` layer where it changes);
- a view to ``(batch, features)``: a flatten, and a matrix product with a parameter after it: a linear;
- ``torch._assert`` of a multiple: ``multiple_of``.

Nothing is guessed. An operator or a use of one that is not translated is refused naming the operator and
the source line. Every translated layer's output size is compared with PyTorch's own expression for it at
every input size of the range. The capture holds where its guards hold: a branch of the model's own code
on a size is captured again inside the other branch (which must give the same layers), and a guard of an
operator whose rule no layer carries (a slice clamping to its end) must hold wherever the network is valid.
Any disagreement is refused, never returned.

Example:
    >>> import torch.nn as nn
    >>> class Block(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.conv = nn.Conv2d(3, 8, 3, stride=2)
    ...     def forward(self, x):
    ...         assert x.ndim == 4                       # a static fact: settled while capturing
    ...         y = self.conv(x).permute(0, 2, 3, 1)     # channels last and back: the grid is kept
    ...         return y.permute(0, 3, 1, 2)
    >>> str(from_aten(Block(), input=range(1, 33), channels=3, ndim=2).valid_sizes())
    '3..32'
"""

from __future__ import annotations

import logging
import math
import operator
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelImportError
from ..network import INPUT, Network, fresh_layer_name
from .sources import InputSizes, input_config, input_ranges

__all__ = ["from_aten"]

RECAPTURES = 5
"""The most captures again inside other branches of the model's code (beyond the first capture)."""

FIRST_CAPTURE_EXTRA_TRIES = 4
"""Captures tried beyond the hints, each where a failed one asks (a size the model asserts or that a guard needs)."""


@dataclass(frozen=True)
class _Activation:
    """A tensor computed from the input: the convsolve node whose spatial grid it lives on, and its shape.

    ``dims`` are PyTorch's sizes of the tensor: ints, or sympy expressions of the input symbols. The
    convsolve node's channel count is the product of the static dims (the batch is 1 while capturing).
    """

    node: str
    dims: tuple[Any, ...]

    @property
    def static_product(self) -> int:
        return math.prod(int(d) for d in self.dims if _is_static(d))


@dataclass(frozen=True)
class _Flat:
    """A ``(batch, features)`` tensor read from a flatten or linear node."""

    node: str
    dims: tuple[Any, ...]


@dataclass(frozen=True)
class _Constant:
    """A parameter, buffer or a tensor computed from them (or from sizes alone): only its shape matters."""

    dims: tuple[Any, ...]


@dataclass(frozen=True)
class _Several:
    """An operator's several results (``max_pool2d_with_indices``, ``split``): ``getitem`` picks one."""

    items: tuple[Any, ...]


@dataclass(frozen=True)
class _ShapeCheck:
    """Two expressions PyTorch needs equal (a view's element counts, an operation's operand sizes), of tensors of
    ``node``'s layer: where they differ, PyTorch raises."""

    left: Any
    right: Any
    what: str
    where: str
    node: str
    broadcasts: bool = False
    """Operand sizes: where one of them is 1 PyTorch broadcasts instead of raising."""


class _Refusal(Exception):
    """An operator, or a use of one, that has no exact translation; the message says why."""


def _is_static(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) or bool(getattr(value, "is_number", False))


def _expr(value: Any) -> Any:
    """An int, or the sympy expression of a SymInt."""
    node = getattr(value, "node", None)
    if node is not None and hasattr(node, "expr"):
        expr = node.expr
        return int(expr) if getattr(expr, "is_number", False) else expr
    return int(value) if isinstance(value, (int, np.integer)) else value


def _shape(value: Any) -> tuple[Any, ...]:
    return tuple(_expr(d) for d in value.shape)


_SAME_SHAPE = {
    "native_batch_norm", "_native_batch_norm_legit_no_training", "_native_batch_norm_legit", "native_layer_norm",
    "native_group_norm", "layer_norm", "group_norm", "batch_norm", "_softmax", "_log_softmax", "softmax", "log_softmax",
    "native_dropout", "dropout", "clone", "alias", "detach", "contiguous", "_to_copy", "to", "lift_fresh_copy",
    "gelu", "hardswish", "hardsigmoid", "silu", "mish", "relu", "relu6", "leaky_relu", "elu", "hardtanh", "sigmoid",
    "tanh", "softplus", "_prelu_kernel", "prelu", "copy", "fill", "zero", "bernoulli", "empty_like", "zeros_like",
    "ones_like", "rand_like", "randn_like", "full_like", "_local_scalar_dense", "native_channel_shuffle", "_safe_softmax",
}
"""Operators that keep their input's shape (pointwise ones are known by PyTorch's ``pointwise`` tag)."""

_LAYOUT = {
    "view", "_unsafe_view", "reshape", "permute", "transpose", "t", "unsqueeze", "squeeze", "expand", "flatten",
    "unflatten", "select", "slice", "split", "split_with_sizes", "chunk", "unbind", "narrow", "as_strided",
    "view_as", "expand_as", "reshape_as", "movedim", "swapaxes", "channel_shuffle", "pixel_shuffle", "pixel_unshuffle",
    "index_select", "roll", "flip",
}
"""Operators that move elements without computing: they keep the convsolve node when the spatial dims survive."""

_REDUCTIONS = {"mean", "sum", "amax", "amin", "var", "std", "max", "min", "var_mean", "std_mean", "logsumexp", "norm",
               "linalg_vector_norm"}

_MERGE_KIND = {"add": "add", "sub": "add", "rsub": "add", "mul": "mul", "div": "mul", "maximum": "mul", "minimum": "mul",
               "where": "mul", "pow": "mul", "atan2": "mul", "eq": "mul", "ne": "mul", "lt": "mul", "gt": "mul",
               "le": "mul", "ge": "mul", "logical_and": "mul", "logical_or": "mul", "bitwise_and": "mul"}
"""Broadcasting element-wise operators with two activation operands: the merge with the same shape rule."""


def _source_line(node: Any) -> str:
    """The last frame of the node's stack that is not inside PyTorch: ``file:line (code)``."""
    trace = node.meta.get("stack_trace") or ""
    frames = re.findall(r'File "([^"]+)", line (\d+), in \S+\n\s*(.*)', trace)
    outside = [f for f in frames if "/torch/" not in f[0].replace("\\", "/")] or frames
    if not outside:
        return ""
    path, line, code = outside[-1]
    return f"{_short_path(path)}:{line} ({code.strip()})"


def _located(node: Any) -> str:
    """Where a node comes from, for messages: ``file:line (code)`` and the module's path."""
    line, module = _source_line(node), _module_path(node)
    return " ".join(part for part in (line, f"in module '{module}'" if module else "") if part) or "an unknown place"


def _module_path(node: Any) -> str | None:
    """The path of the innermost module of the model that made the node (``stages.0.blocks.1.attn``), if any."""
    stack = node.meta.get("nn_module_stack") or {}
    paths = [str(path) for path, _ in stack.values() if str(path).startswith("model.")]
    return paths[-1][len("model."):] if paths else None


def _short_path(path: str) -> str:
    marker = "site-packages/"
    return path.split(marker, 1)[1] if marker in path else path


class _Translator:
    """Turns the ATen graph into config layers, following each value's shape and convsolve node."""

    def __init__(
        self, torch: Any, graph_module: Any, symbols: Sequence[Any], source: str | None, fixed: Sequence[int] | None = None,
    ) -> None:
        self.torch, self.graph_module, self.source = torch, graph_module, source
        self.fixed = fixed
        """The input sizes the model asserts (``H == 224``): a ``fixed_size`` layer reads the input first."""
        self.symbols = tuple(symbols)
        self.ndim = len(symbols)
        self.layers: list[dict[str, Any]] = []
        self.grid: dict[str, tuple[Any, ...]] = {INPUT: self.symbols}
        """Convsolve node -> PyTorch's expression of its size on each spatial axis."""
        self.channels: dict[str, int | None] = {}
        self.values: dict[Any, Any] = {}
        self.names: set[str] = {INPUT}
        self.requirements: list[tuple[Any, int, str, str]] = []
        """(a size that depends on the input, the fixed size it must equal, what fixes it, where)."""
        self.fails_at: list[tuple[tuple[int, ...], str]] = []
        """Sizes where a capture again failed, and PyTorch's error: the network must be invalid there."""
        self.derived: dict[Any, str] = {}
        """Every size expression of a tensor met, with the source line that made it first."""
        self.view_checks: list[_ShapeCheck] = []
        """Views whose element counts, and operands whose sizes, are different expressions: where they disagree at
        an examined size, PyTorch raises, and a ``multiple_of`` layer must say so (a window partition)."""
        self.unsettled: list[tuple[_ShapeCheck, np.ndarray]] = []
        """Shape checks with examined sizes where they could not be compared (set by :func:`_view_layers`)."""
        self.unchecked: set[str] = set()
        """Broadcasting merges: PyTorch's expression for their size is one operand's, true only where they agree."""
        self.node: Any = None

    # -- messages and names --

    def error(self, message: str) -> ModelImportError:
        node = self.node
        where = _source_line(node) if node is not None else ""
        operator_name = _op_name(node) if node is not None else ""
        text = f"{message} (ATen operator {operator_name}" + (f" at {where})" if where else ")")
        return ModelImportError(text, file=self.source, module=_module_path(node) if node is not None else None)

    def fresh(self, name: str) -> str:
        return fresh_layer_name(name, self.names)

    def emit(self, spec: dict[str, Any], inputs: Sequence[str], grid: tuple[Any, ...] | None, channels: int | None) -> str:
        name = self.fresh(self.node.name)
        self.layers.append({"name": name, **spec, "inputs": list(inputs)})
        if grid is not None:
            self.grid[name] = grid
        self.channels[name] = channels
        return name

    # -- the graph --

    def run(self, only_input: bool = False) -> None:
        """Translate the graph (``only_input``: its input and the ``fixed_size`` layer of an asserted size alone)."""
        first = True
        for node in self.graph_module.graph.nodes:
            self.node = node
            if only_input and node.op != "placeholder":
                continue
            if node.op == "placeholder":
                if not first:
                    raise self.error("the model takes more than one tensor input")
                first = False
                dims = _shape(node.meta["val"])
                self.channels[INPUT] = int(dims[1])
                self.values[node] = _Activation(INPUT, dims)
                if self.fixed is not None:
                    name = self.fresh("input_size")
                    self.layers.append({"name": name, "type": "fixed_size", "size": _per_axis(self.fixed), "inputs": [INPUT]})
                    self.grid[name], self.channels[name] = tuple(dims[2:]), int(dims[1])
                    self.values[node] = _Activation(name, dims)
            elif node.op == "get_attr":
                value = getattr(self.graph_module, node.target)
                self.values[node] = _Constant(tuple(int(d) for d in value.shape)) if hasattr(value, "shape") else value
            elif node.op == "call_function":
                try:
                    self.values[node] = self.call(node)
                except _Refusal as refusal:
                    raise self.error(str(refusal)) from None
                except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:  # a case the translation misses
                    raise self.error(f"convsolve's translation does not cover this use of the operator ({type(exc).__name__}: {exc}); "
                                     "refusing rather than guessing") from None
                self.note_derived(self.values[node])
            elif node.op == "output":  # the outputs' channel counts are the tensors'
                for value in _flatten_values(self.arg(node.args)):
                    if isinstance(value, _Activation):
                        self.settled(value)
        self.node = None

    def note_derived(self, value: Any) -> None:
        """Remember sizes no layer checks (a slice's ``H - 1``, tokens ``N + 1``): each must be at least 1 where the network is valid."""
        for item in _flatten_values([value]):
            if isinstance(item, (_Activation, _Flat)):
                for dim in item.dims:
                    if not _is_static(dim) and dim not in self.derived:
                        self.derived[dim] = _located(self.node)

    def arg(self, value: Any) -> Any:
        if isinstance(value, self.torch.fx.Node):
            return self.values[value]
        if isinstance(value, (list, tuple)):
            return type(value)(self.arg(v) for v in value)
        return value

    def settled(self, value: _Activation, channels: int | None = None) -> str:
        """The node of ``value`` with its channel count brought to the tensor's (a ``channels`` layer where it changed)."""
        channels = self.channels_of(value) if channels is None else channels
        if channels is None or self.channels.get(value.node) == channels or value.node not in self.grid:
            return value.node
        return self.emit({"type": "channels", "out_channels": channels}, [value.node], self.grid[value.node], channels)

    def channels_of(self, value: _Activation) -> int | None:
        """The channel count of a tensor on its node's grid: (batch x) channels in the standard layout, else the product
        of the dims that do not depend on the input size; None when the grid itself is fixed and the layout is not standard."""
        if self.in_spatial_layout(value):
            return int(math.prod(int(d) for d in value.dims[:2]))
        if all(_is_static(d) for d in self.grid.get(value.node, ())):
            return None
        return value.static_product

    def spatial(self, value: Any, what: str = "input") -> _Activation:
        """An activation laid out as (batch, channels, spatial axes in order) on its node's grid."""
        if not isinstance(value, _Activation):
            raise _Refusal(f"the {what} must be an activation laid out as (batch, channels, spatial...), got {_describe(value)}")
        if not self.in_spatial_layout(value):
            grid = self.grid.get(value.node)
            raise _Refusal(
                f"the {what} has shape {_show(value.dims)}, not (batch, channels, spatial...) on the spatial grid "
                f"{_show(grid or ())}: its spatial axes were moved or reshaped"
            )
        return value

    def result(self, node_name: str) -> _Activation:
        return _Activation(node_name, _shape(self.node.meta["val"]))

    # -- operators --

    def call(self, node: Any) -> Any:
        args, kwargs = self.arg(node.args), self.arg(node.kwargs)
        values = _flatten_values((args, kwargs))
        target = node.target
        if target is operator.getitem:
            container, index = args
            if isinstance(container, _Several):
                return container.items[index]
            if isinstance(container, (list, tuple)):
                return container[index]
            raise _Refusal(f"indexing {_describe(container)}")
        val = node.meta.get("val")
        if not hasattr(val, "shape") and not isinstance(val, (list, tuple)):
            return _expr(val)  # a size read from a tensor (sym_size) or computed from sizes
        activations = [v for v in values if isinstance(v, (_Activation, _Flat))]
        if not activations:
            return self.inert(val)
        name = _op_name(node)
        handler = getattr(self, f"op_{name}", None)
        if handler is not None:
            return handler(node, args, kwargs)
        if name in _MERGE_KIND or name.rstrip("_") in _MERGE_KIND:
            return self.elementwise(node, args, name)
        if name in _LAYOUT or name.rstrip("_") in _LAYOUT:
            return self.layout(node, args)
        if name in _REDUCTIONS:
            return self.reduction(node, args, kwargs, name)
        if name in _SAME_SHAPE or name.rstrip("_") in _SAME_SHAPE or self.pointwise(target):
            return self.same_shape(node, args, name)
        raise _Refusal(f"ATen operator {name} has no convsolve translation")

    def inert(self, val: Any) -> Any:
        """A value computed without activations: a parameter's shape, or a size expression."""
        if isinstance(val, (list, tuple)):
            return _Several(tuple(self.inert(v) for v in val))
        if hasattr(val, "shape"):
            return _Constant(_shape(val))
        return _expr(val)

    def pointwise(self, target: Any) -> bool:
        tags = getattr(target, "tags", ())
        return self.torch.Tag.pointwise in tags

    def multi(self, node: Any, make: Any) -> Any:
        val = node.meta["val"]
        if isinstance(val, (list, tuple)):
            return _Several(tuple(make(_shape(v)) if hasattr(v, "shape") else _expr(v) for v in val))
        return make(_shape(val))

    def same_shape(self, node: Any, args: Any, name: str) -> Any:
        sources = [v for v in _flatten_values(args) if isinstance(v, (_Activation, _Flat))]
        if len(sources) > 1:  # several activations broadcast against each other: their sizes must line up
            return self.elementwise(node, args, name)
        if not sources:
            return self.inert(node.meta["val"])
        source = sources[0]
        if isinstance(source, _Flat):
            return self.multi(node, lambda dims: _Flat(source.node, dims))
        return self.multi(node, lambda dims: _Activation(source.node, dims))

    def elementwise(self, node: Any, args: Any, name: str) -> Any:
        """Broadcasting arithmetic: a merge between different nodes, a pass-through when constants broadcast into one."""
        operands = [v for v in _flatten_values(args) if isinstance(v, (_Activation, _Flat, _Constant))]
        out = _shape(node.meta["val"])
        sources = [v for v in operands if isinstance(v, (_Activation, _Flat))]
        nodes = list(dict.fromkeys(v.node for v in sources))
        in_place = name.endswith("_") and isinstance(args[0], (_Activation, _Flat))
        if name.endswith("_") and not isinstance(args[0], (_Activation, _Flat)):
            raise _Refusal("an in-place operation writes an activation into a parameter, whose shape cannot change")
        for constant in (v for v in operands if isinstance(v, _Constant)):
            aligned = (1,) * (len(out) - len(constant.dims)) + tuple(constant.dims)
            for size, result in zip(aligned, out):
                if not _is_static(size) and size != result:
                    raise _Refusal(f"a tensor of shape {_show(constant.dims)} computed from sizes does not line up with the result {_show(out)}")
                if _is_static(size) and int(size) != 1 and not _is_static(result):
                    # the branch captured settled that they agree (a guard): checked where the branch holds
                    self.requirements.append((result, int(size), f"a parameter of shape {_show(constant.dims)}", _located(self.node)))
        symbolic_out = [d for d in out if not _is_static(d)]
        if len(nodes) == 1:
            source = sources[0]
            if any(not _is_static(d) and d not in source.dims for d in symbolic_out):
                raise _Refusal(f"a parameter or constant broadcasts the activation {_show(source.dims)} to {_show(out)}")
            for operand in sources:  # tensors of one layer, shaped differently: their sizes must line up at every input size
                aligned = (None,) * (len(out) - len(operand.dims)) + tuple(operand.dims)
                for size, result in zip(aligned, out):
                    if size is None or size == result:
                        continue
                    if _is_static(size) or _is_static(result):
                        if _is_static(size) and int(size) == 1:
                            continue
                        raise _Refusal(f"operands of shapes {', '.join(_show(v.dims) for v in sources)} line up only at some sizes")
                    # two expressions of one size (a window partition and its reverse): where they differ, PyTorch
                    # raises unless one is 1 (it broadcasts there: that size must be settled by another check)
                    self.view_checks.append(_ShapeCheck(size, result, f"{_op_name(node)} of {', '.join(_show(v.dims) for v in sources)}",
                                                        _located(node), source.node, broadcasts=True))
            return _Flat(source.node, out) if isinstance(source, _Flat) else _Activation(source.node, out)
        kind = _MERGE_KIND.get(name.rstrip("_"), "mul")
        if any(isinstance(v, _Flat) for v in sources):
            if not all(isinstance(v, _Flat) for v in sources):
                raise _Refusal("arithmetic between a flattened tensor and a spatial one")
            merged = self.emit({"type": kind}, nodes, None, None)
            return _Flat(merged, out)
        # PyTorch broadcasts the operands against each other; the merge layer carries that rule, so the result's
        # sizes are the merge's (PyTorch's expression for them is one operand's, which is not checked against it)
        spatial = [v for v in sources if isinstance(v, _Activation)]
        grids = {tuple(self.grid.get(v.node, ())) for v in spatial}
        same_shapes = len({_right_aligned(v.dims, len(out)) for v in spatial}) == 1
        if len(grids) == 1 and same_shapes and all(not _is_static(g) for g in next(iter(grids))) and not self.in_spatial_layout(spatial[0]):
            # layers on one grid expression (tokens of equal sizes at every input size): a merge of equal sizes
            settled = [self.settled(v) for v in spatial]
            merged = self.emit({"type": kind}, list(dict.fromkeys(settled)), next(iter(grids)), spatial[0].static_product)
            return _Activation(merged, out)
        positions = self.merge_positions(spatial, len(out))
        channels_of = [int(math.prod(int(d) for p, d in enumerate(_right_aligned(v.dims, len(out))) if p not in positions and d is not None))
                       for v in spatial]
        settled = [self.settled(v, channels) for v, channels in zip(spatial, channels_of)]
        spec: dict[str, Any] = {"type": kind, "broadcast": True}
        if in_place:
            spec["in_place"] = True
        result_channels = int(math.prod(int(d) for p, d in enumerate(out) if p not in positions))
        merged = self.emit(spec, list(dict.fromkeys(settled)), tuple(out[p] for p in positions), result_channels)
        if not in_place:
            self.unchecked.add(merged)
        return _Activation(merged, out)

    def merge_positions(self, sources: Sequence[_Activation], rank: int) -> tuple[int, ...]:
        """Where the spatial axes sit in the result of a broadcasting merge of tensors of different layers: the same
        place in every operand (counted from the right), every other dim fixed and equal in all of them (or 1 in all
        but one), so that convsolve's merge of sizes and channel counts is PyTorch's broadcast."""
        known = [self.grid_positions(v) for v in sources]
        found = {tuple(p + rank - len(v.dims) for p in ps) for v, ps in zip(sources, known) if ps is not None}
        if len(found) != 1:
            shapes = ", ".join(_show(v.dims) for v in sources)
            raise _Refusal(f"arithmetic between activations of shapes {shapes} whose spatial axes do not sit in one place")
        positions = found.pop()
        others: list[tuple[Any, ...]] = []
        for value in sources:
            aligned = _right_aligned(value.dims, rank)
            grid = tuple(self.grid[value.node])
            if tuple(aligned[p] for p in positions) != grid:
                shapes = ", ".join(_show(v.dims) for v in sources)
                raise _Refusal(
                    f"arithmetic between activations of shapes {shapes}: the spatial axes {_show(grid)} of one are not where the others hold theirs"
                )
            rest = tuple(d for p, d in enumerate(aligned) if p not in positions and d is not None)
            if any(not _is_static(d) for d in rest):
                raise _Refusal(f"an operand of shape {_show(value.dims)} has other sizes that depend on the input")
            others.append(tuple(1 for _ in range(rank - len(positions) - len(rest))) + tuple(int(d) for d in rest))
        full = [o for o in others if math.prod(o) != 1]
        if len(set(full)) > 1:
            raise _Refusal(f"arithmetic broadcasting channel-like dims of shapes {', '.join(_show(v.dims) for v in sources)}")
        return positions

    def grid_positions(self, value: _Activation) -> tuple[int, ...] | None:
        """The dims of ``value`` holding its node's spatial axes, in order; None when the grid is fixed (any dims could be it)."""
        grid = self.grid.get(value.node)
        if grid is None:
            return None
        if self.in_spatial_layout(value):
            return tuple(range(2, 2 + self.ndim))
        if any(_is_static(g) for g in grid):
            return None
        positions = tuple(value.dims.index(g) if g in value.dims else -1 for g in grid)
        if -1 in positions or list(positions) != sorted(positions):
            return None
        return positions

    def layout(self, node: Any, args: Any) -> Any:
        """A permute, view, split...: the grid is kept; a view to (batch, features) of a spatial tensor is a flatten."""
        source = next(v for v in _flatten_values(args) if isinstance(v, (_Activation, _Flat)))
        val = node.meta["val"]
        name = _op_name(node).rstrip("_")
        if isinstance(source, _Flat):
            return self.multi(node, lambda dims: _Flat(source.node, dims))
        grid = self.grid.get(source.node, ())
        if name in ("select", "slice", "narrow") and hasattr(val, "shape") and all(_is_static(d) for d in _shape(val)) and (
                any(not _is_static(d) for d in source.dims) or not self.in_spatial_layout(source)):
            # a part of fixed size (a class token, x[:, 0]): its size no longer depends on the input's, and where the
            # part would not fit, the operator's own guard is checked like every other one
            return self.inert(val)
        if name == "as_strided" and (not hasattr(val, "shape") or _shape(val) != tuple(source.dims)):
            raise _Refusal(f"as_strided from {_show(source.dims)} to another shape")
        if name in ("view", "_unsafe_view", "reshape") and hasattr(val, "shape"):
            out = _shape(val)
            if len(out) == 2 and _is_static(out[0]) and any(not _is_static(d) for d in grid) and not any(d in grid for d in out):
                # every spatial dim folded into the features: a flatten (its feature count is checked by the linear after it)
                spatial = self.spatial(source)
                flat = self.emit({"type": "flatten"}, [self.settled(spatial)], None, None)
                return _Flat(flat, out)
            if len(out) == 2 and all(_is_static(d) for d in out) and all(_is_static(d) for d in grid) and self.in_spatial_layout(source):
                flat = self.emit({"type": "flatten"}, [self.settled(self.spatial(source))], None, None)
                return _Flat(flat, out)
            before, after = math.prod(source.dims), self.requested_numel(node, source)
            if not _is_static(before - after):
                self.view_checks.append(_ShapeCheck(before, after, f"{_op_name(node)} of {_show(source.dims)} as {_show(out)}",
                                                    _located(node), source.node))
        if name in ("slice", "narrow") and hasattr(val, "shape") and len(source.dims) == self.ndim + 2 and grid:
            out = _shape(val)
            if tuple(out[:2]) == tuple(source.dims[:2]) and tuple(out[2:]) != tuple(grid) and any(
                    n != source.node and tuple(g) == tuple(out[2:]) for n, g in self.grid.items()):
                # cropped to another layer's size: PyTorch's expression assumes the crop fits (a guard of the slice,
                # which must hold wherever the network is valid), so the sizes are that layer's
                return self.resized(node, source, out)
        return self.multi(node, lambda dims: _Activation(source.node, dims))

    def requested_numel(self, node: Any, source: Any) -> Any:
        """The element count a view's requested shape asks for (PyTorch's own expression of the result may be
        rewritten from the input's count at the size captured); with a -1, 0 where the rest divides the input's count."""
        shape = node.args[1] if len(node.args) > 1 else node.kwargs.get("size", ())
        dims = [_expr(d.meta["val"]) if isinstance(d, self.torch.fx.Node) else int(d) for d in shape]
        known = math.prod(d for d in dims if not (_is_static(d) and int(d) == -1))
        if len(known_dims := [d for d in dims if _is_static(d) and int(d) == -1]) == 1 and known_dims:
            import sympy

            return math.prod(source.dims) - sympy.Mod(math.prod(source.dims), known)
        return known

    def reduction(self, node: Any, args: Any, kwargs: Any, name: str) -> Any:
        """Over channels only: the grid is kept. Over every spatial axis: a global pool (and a flatten without keepdim)."""
        source = args[0]
        if isinstance(source, _Flat):
            return self.multi(node, lambda dims: _Flat(source.node, dims))
        dims_arg = args[1] if len(args) > 1 and not isinstance(args[1], bool) else kwargs.get("dim")
        rank = len(source.dims)
        listed = dims_arg if isinstance(dims_arg, (list, tuple)) else [] if dims_arg is None else [dims_arg]
        reduced = {int(d) % rank for d in listed} or set(range(rank))
        grid_positions = set(range(2, rank)) if self.in_spatial_layout(source) else {i for i, d in enumerate(source.dims) if not _is_static(d)}
        if not reduced & grid_positions:
            return self.multi(node, lambda dims: _Activation(source.node, dims))
        if reduced != grid_positions or name not in ("mean", "sum", "amax", "amin", "max", "min"):
            raise _Refusal(f"{name} over dims {sorted(reduced)} of {_show(source.dims)} mixes spatial and other axes")
        kind = "max" if name in ("amax", "max") else "avg"
        pooled = self.emit({"type": f"adaptive_{kind}_pool{self.ndim}d", "output_size": 1}, [self.settled(source)],
                           (1,) * self.ndim, self.channels_of(source))
        val = node.meta["val"]
        first = val[0] if isinstance(val, (list, tuple)) else val
        if len(first.shape) == rank:  # keepdim
            return self.multi(node, lambda dims: _Activation(pooled, dims))
        flat = self.emit({"type": "flatten"}, [pooled], None, None)
        return self.multi(node, lambda dims: _Flat(flat, dims))

    def in_spatial_layout(self, value: Any) -> bool:
        grid = self.grid.get(value.node)
        return grid is not None and len(value.dims) == self.ndim + 2 and tuple(value.dims[2:]) == tuple(grid)

    # -- operators with a layer of their own --

    def windowed(self, node: Any, source: Any, spec: dict[str, Any]) -> _Activation:
        spatial = self.spatial(source)
        out = _shape(node.meta["val"][0] if isinstance(node.meta["val"], (list, tuple)) else node.meta["val"])
        name = self.emit(spec, [self.settled(spatial)], tuple(out[2:]), int(math.prod(int(d) for d in out[:2])))
        return _Activation(name, out)

    def op_convolution(self, node: Any, args: Any, kwargs: Any) -> Any:
        source, weight, _bias, stride, padding, dilation, transposed, output_padding, groups = args[:9]
        if not isinstance(weight, _Constant):
            raise _Refusal(f"the weight of a convolution must be a parameter, got {_describe(weight)}")
        nd = len(weight.dims) - 2
        if nd != self.ndim:
            raise _Refusal(f"a {nd}-D convolution in a {self.ndim}-D model")
        _static_ints(stride, padding, dilation, output_padding, groups)
        spec: dict[str, Any] = {
            "type": f"conv_transpose{nd}d" if transposed else f"conv{nd}d", "kernel": _per_axis(weight.dims[2:]),
            "stride": _per_axis(stride), "padding": _per_axis(padding), "dilation": _per_axis(dilation), "groups": int(groups),
        }
        if transposed:
            spec.update(in_channels=int(weight.dims[0]), out_channels=int(weight.dims[1]) * int(groups), output_padding=_per_axis(output_padding))
        else:
            spec.update(in_channels=int(weight.dims[1]) * int(groups), out_channels=int(weight.dims[0]))
        return self.windowed(node, source, spec)

    def pool(self, node: Any, args: Any, kind: str, nd: int) -> Any:
        names = (["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode"] if kind == "max"
                 else ["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"])
        bound = {"stride": [], "padding": 0, "dilation": 1, "ceil_mode": False}
        bound.update(zip(names, args))
        _static_ints(bound["kernel_size"], bound["stride"], bound["padding"], bound["dilation"])
        stride = bound["stride"] or bound["kernel_size"]
        spec: dict[str, Any] = {"type": f"{kind}_pool{nd}d", "kernel": _per_axis(bound["kernel_size"]), "stride": _per_axis(stride),
                                "padding": _per_axis(bound["padding"]), "ceil_mode": bool(bound["ceil_mode"])}
        if kind == "max":
            spec["dilation"] = _per_axis(bound["dilation"])
        result = self.windowed(node, args[0], spec)
        if isinstance(node.meta["val"], (list, tuple)):
            return _Several((result, result))
        return result

    def op_max_pool2d_with_indices(self, node: Any, args: Any, kwargs: Any) -> Any:
        return self.pool(node, args, "max", 2)

    def op_max_pool3d_with_indices(self, node: Any, args: Any, kwargs: Any) -> Any:
        return self.pool(node, args, "max", 3)

    def op_avg_pool2d(self, node: Any, args: Any, kwargs: Any) -> Any:
        return self.pool(node, args, "avg", 2)

    def op_avg_pool3d(self, node: Any, args: Any, kwargs: Any) -> Any:
        return self.pool(node, args, "avg", 3)

    def adaptive(self, node: Any, args: Any, kind: str) -> Any:
        _static_ints(args[1])
        nd = len(args[1])
        result = self.windowed(node, args[0], {"type": f"adaptive_{kind}_pool{nd}d", "output_size": _per_axis(args[1])})
        if isinstance(node.meta["val"], (list, tuple)):
            return _Several((result, result))
        return result

    def op__adaptive_avg_pool2d(self, node: Any, args: Any, kwargs: Any) -> Any:
        return self.adaptive(node, args, "avg")

    def op__adaptive_avg_pool3d(self, node: Any, args: Any, kwargs: Any) -> Any:
        return self.adaptive(node, args, "avg")

    def op_adaptive_max_pool2d(self, node: Any, args: Any, kwargs: Any) -> Any:
        return self.adaptive(node, args, "max")

    def op_constant_pad_nd(self, node: Any, args: Any, kwargs: Any) -> Any:
        source, pad = args[0], list(args[1])
        if any(not isinstance(p, int) for p in pad):
            return self.same_pad(node, source)
        padded = {len(source.dims) - 1 - i // 2 for i in range(len(pad)) if pad[i]}
        grid_positions = set(range(2, len(source.dims))) if self.in_spatial_layout(source) else {
            i for i, d in enumerate(source.dims) if not _is_static(d)}
        if not padded & grid_positions:
            return self.result(source.node)  # only axes that do not depend on the input size grow (channels, features)
        spatial = self.spatial(source)
        if len(pad) > 2 * self.ndim:
            raise _Refusal(f"padding {pad} pads more than the {self.ndim} spatial axes")
        pairs = [[0, 0]] * (self.ndim - len(pad) // 2) + [[pad[i], pad[i + 1]] for i in range(0, len(pad), 2)][::-1]
        return self.windowed(node, spatial, {"type": "pad", "padding": pairs})

    def same_pad(self, node: Any, source: Any) -> Any:
        """Padding by an amount computed from the size, read as TensorFlow's "same" for the window after it (a
        ``pad_same`` layer); the check against PyTorch's expression refuses it if the amounts are anything else.
        Off the standard layout (a window partition's padding to a multiple), the padded sizes are followed as
        sizes no layer checks: each must be at least 1 where the network is valid."""
        if not self.in_spatial_layout(source):
            return self.result(source.node)
        spatial = self.spatial(source)
        users = list(node.users)
        window = users[0] if len(users) == 1 and users[0].op == "call_function" else None
        name = _op_name(window) if window is not None else ""
        if window is not None and name == "convolution" and not window.args[6]:
            kernel = [int(d) for d in window.args[1].meta["val"].shape[2:]]
            stride, dilation = window.args[3], window.args[5]
        elif window is not None and name in ("max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool2d", "avg_pool3d"):
            kernel = window.args[1]
            stride = (window.args[2] if len(window.args) > 2 else None) or kernel
            dilation = window.args[4] if name.startswith("max") and len(window.args) > 4 else 1
        else:
            out = _shape(node.meta["val"])
            if any(n != spatial.node and tuple(grid) == tuple(out[2:]) for n, grid in self.grid.items()):
                return self.resized(node, spatial, out)  # padded (or cropped) to another layer's size, as a UNet's skip
            raise _Refusal("padding by an amount computed from the input size, not followed by a convolution or pool, is not translated")
        _static_ints(kernel, stride, dilation)
        spec = {"type": "pad_same", "kernel": _per_axis(kernel), "stride": _per_axis(stride), "dilation": _per_axis(dilation)}
        return self.windowed(node, spatial, spec)

    def upsample(self, node: Any, args: Any, kwargs: Any) -> Any:
        out = _shape(node.meta["val"])
        source = self.spatial(args[0])
        sizes = out[2:]
        if all(_is_static(s) for s in sizes):
            return self.windowed(node, source, {"type": "interpolate", "size": _per_axis([int(s) for s in sizes])})
        scales = args[-1] if isinstance(args[-1], (list, tuple)) else None
        if scales and all(isinstance(s, (int, float)) for s in scales):
            values = [float(s) for s in scales]
            return self.windowed(node, source, {"type": "interpolate", "scale_factor": values[0] if len(set(values)) == 1 else values})
        return self.resized(node, source, out)

    def resized(self, node: Any, source: _Activation, out: tuple[Any, ...]) -> Any:
        """A resampling to sizes computed from sizes: another layer's size (``resize_as``), or a whole multiple of the input's."""
        import sympy

        sizes = tuple(out[2:])
        references = [n for n, grid in self.grid.items() if tuple(grid) == sizes and n != source.node]
        out_channels = int(math.prod(int(d) for d in out[:2]))
        if references:
            resized = self.emit({"type": "resize_as"}, [self.settled(source), references[-1]], sizes, out_channels)
            return _Activation(resized, out)
        ratios = [sympy.simplify(size / grid) for size, grid in zip(sizes, source.dims[2:])]
        if all(getattr(r, "is_Integer", False) and int(r) >= 1 for r in ratios):
            scales = [float(int(r)) for r in ratios]
            return self.windowed(node, source, {"type": "interpolate", "scale_factor": scales[0] if len(set(scales)) == 1 else scales})
        raise _Refusal(f"resampling {_show(source.dims)} to {_show(out)}, a size that is neither fixed, a layer's size nor a multiple")

    def op__unsafe_index(self, node: Any, args: Any, kwargs: Any) -> Any:
        """Indexing with index tensors computed from sizes: how PyTorch lowers an interpolation to a size it reads at run time."""
        source = self.spatial(args[0])
        indices = list(args[1])
        out = _shape(node.meta["val"])
        if len(indices) != len(source.dims) or any(i is not None for i in indices[:2]) or any(isinstance(i, (_Activation, _Flat)) for i in indices):
            raise _Refusal("indexing an activation other than along its spatial axes by indices computed from sizes")
        if tuple(out[:2]) != tuple(source.dims[:2]):
            raise _Refusal(f"indexing {_show(source.dims)} into {_show(out)}")
        if all(_is_static(d) for d in out[2:]):
            return self.windowed(node, source, {"type": "interpolate", "size": _per_axis([int(d) for d in out[2:]])})
        return self.resized(node, source, out)

    op_upsample_nearest2d = upsample
    op_upsample_bilinear2d = upsample
    op_upsample_bicubic2d = upsample
    op__upsample_nearest_exact2d = upsample
    op__upsample_bilinear2d_aa = upsample
    op_upsample_nearest3d = upsample
    op_upsample_trilinear3d = upsample

    def matrix_product(self, node: Any, args: Any, kwargs: Any) -> Any:
        name = _op_name(node)
        operands = list(args[1:3]) if name == "addmm" else list(args[:2])
        out = _shape(node.meta["val"])
        sources = [v for v in operands if isinstance(v, (_Activation, _Flat))]
        left, right = (list(getattr(v, "dims", ())) for v in operands)
        if len(left) >= 1 and len(right) >= 2 and name in ("mm", "bmm", "matmul", "addmm", "baddbmm"):
            inner = (left[-1], right[-2])
            if any(not _is_static(d) for d in inner) and inner[0] != inner[1]:
                raise _Refusal(f"a matrix product contracting sizes {inner[0]} and {inner[1]}, which agree only at some input sizes")
        source = sources[0]
        if len({v.node for v in sources}) > 1 and not all(isinstance(v, _Activation) for v in sources):
            raise _Refusal("a matrix product of a flattened tensor with another layer's")
        weight = next((v for v in operands if isinstance(v, _Constant)), None)
        if isinstance(source, _Flat):
            if weight is None or len(weight.dims) != 2 or operands[0] is not source:
                raise _Refusal("a matrix product of a flattened tensor with something other than a weight matrix")
            in_features, out_features = int(weight.dims[0]), int(weight.dims[1])
            linear = self.emit({"type": "linear", "in_features": in_features, "out_features": out_features}, [source.node], None, None)
            return _Flat(linear, out)
        # over channels, or attention between tokens (another layer's tokens on the way: their sizes are followed
        # as sizes no layer checks); the result lives on the first operand's grid
        return _Activation(source.node, out)

    op_addmm = matrix_product
    op_mm = matrix_product
    op_bmm = matrix_product
    op_matmul = matrix_product
    op_baddbmm = matrix_product

    def op__scaled_dot_product_flash_attention_for_cpu(self, node: Any, args: Any, kwargs: Any) -> Any:
        """Attention has the query's shape; a query of fixed size (a class token attending to the tokens: CaiT,
        XCiT) gives a result of fixed size, once keys and values have the same number of tokens."""
        query, key, value = args[:3]
        if isinstance(query, (_Activation, _Flat)):
            return self.same_shape(node, args[:1], "attention")
        tokens = {v.dims[-2] for v in (key, value) if isinstance(v, (_Activation, _Flat, _Constant))}
        if len(tokens) != 1:
            raise _Refusal(f"attention of keys and values with different token counts {sorted(map(str, tokens))}")
        return self.inert(node.meta["val"])

    op__scaled_dot_product_efficient_attention = op__scaled_dot_product_flash_attention_for_cpu
    op__scaled_dot_product_flash_attention = op__scaled_dot_product_flash_attention_for_cpu

    def op_cat(self, node: Any, args: Any, kwargs: Any) -> Any:
        tensors = list(args[0])
        dim = int(args[1]) if len(args) > 1 else int(kwargs.get("dim", 0))
        out = _shape(node.meta["val"])
        dim %= len(out)
        sources = [t for t in tensors if isinstance(t, (_Activation, _Flat))]
        nodes = list(dict.fromkeys(t.node for t in sources))
        for t in tensors if len(nodes) == 1 else ():  # no concat layer checks them: every other dim equal at every size
            dims = getattr(t, "dims", ())
            if len(dims) == len(out) and any(d != o and not (_is_static(d) and _is_static(o) and int(d) == int(o))
                                             for k, (d, o) in enumerate(zip(dims, out)) if k != dim):
                raise _Refusal(f"a concatenation of {', '.join(_describe(t) for t in tensors)} whose other sizes agree only at some input sizes")
        if len(nodes) == 1 and (all(isinstance(t, (_Activation, _Flat, _Constant)) for t in tensors)):
            if _is_static(out[dim]) or any(not _is_static(t.dims[dim]) for t in sources):
                source = sources[0]
                return _Flat(source.node, out) if isinstance(source, _Flat) else _Activation(source.node, out)
        if any(isinstance(t, _Constant) for t in tensors) or not _is_static(out[dim]):
            raise _Refusal(f"a concatenation along dim {dim} of {', '.join(_describe(t) for t in tensors)}")
        if all(isinstance(t, _Flat) for t in sources):
            merged = self.emit({"type": "concat"}, nodes, None, None)
            return _Flat(merged, out)
        if all(isinstance(t, _Activation) and self.in_spatial_layout(t) for t in sources):
            positions: tuple[int, ...] | None = tuple(range(2, 2 + self.ndim))
        else:  # channels last (or any layout with the grid in one place): concatenated along a dim that is not spatial
            found = {self.grid_positions(t) if isinstance(t, _Activation) and len(t.dims) == len(out) else None for t in sources}
            positions = next(iter(found)) if len(found) == 1 else None
        if positions is None or dim in positions:
            self.spatial(sources[0], "tensor to concatenate")  # refuses, saying how the layout differs
            raise _Refusal(f"a concatenation along dim {dim} of {', '.join(_describe(t) for t in tensors)}")
        channels = [int(math.prod(int(d) for k, d in enumerate(t.dims) if k not in positions)) for t in sources]
        settled = [self.settled(t, c) for t, c in zip(sources, channels) if isinstance(t, _Activation)]
        merged = self.emit({"type": "concat"}, settled, tuple(out[p] for p in positions),
                           int(math.prod(int(d) for k, d in enumerate(out) if k not in positions)))
        return _Activation(merged, out)


def _right_aligned(dims: Sequence[Any], rank: int) -> tuple[Any, ...]:
    """``dims`` as broadcasting lines them up against ``rank`` dims: None for the missing leading ones."""
    return (None,) * (rank - len(dims)) + tuple(dims)


def _op_name(node: Any) -> str:
    target = node.target
    packet = getattr(target, "overloadpacket", None)
    if packet is not None:
        return str(packet.__name__)
    return str(getattr(target, "__name__", target))


def _flatten_values(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [item for v in value for item in _flatten_values(v)]
    if isinstance(value, dict):
        return [item for v in value.values() for item in _flatten_values(v)]
    if isinstance(value, _Several):
        return _flatten_values(list(value.items))
    return [value]


def _describe(value: Any) -> str:
    if isinstance(value, _Constant):
        return f"a parameter or constant of shape {_show(value.dims)}"
    if isinstance(value, (_Activation, _Flat)):
        return f"an activation of shape {_show(value.dims)}"
    return repr(value)


def _show(dims: Sequence[Any]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _static_ints(*values: Any) -> None:
    for value in values:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if not isinstance(item, (int, bool)):
                raise _Refusal(f"a window setting computed from the input size ({item}) is not translated")


def _per_axis(values: Any) -> Any:
    items = [int(v) for v in (values if isinstance(values, (list, tuple)) else [values])]
    return items[0] if len(set(items)) == 1 else items


# --- capture and checks ---------------------------------------------------------------------------


@dataclass
class _Capture:
    graph_module: Any
    symbols: tuple[Any, ...]
    """The input's spatial sizes in the graph: a symbol each, or the constant PyTorch fixed it to."""
    input_symbols: tuple[Any, ...]
    """The symbol each spatial size had before the capture (what the model's asserts name)."""
    branches: list[tuple[Any, str]] = field(default_factory=list)
    """Guards of the model's own code branching on a size (``if``), with their source line: the graph is the model where they hold."""
    asserts: list[tuple[Any, str]] = field(default_factory=list)
    """Conditions the model asserts (``torch._assert``): sizes where one fails are invalid."""
    operator_guards: list[tuple[Any, str]] = field(default_factory=list)
    """Guards of operators whose size rule no translated layer carries (a slice clamping to its end), with the operator:
    they must hold wherever the network is valid."""


@dataclass
class _Failure:
    """What a failed capture leaves to steer the next: the sizes the model's asserts name, and the last guard
    PyTorch decided (in terms of ``symbols``) before raising."""

    asserted: dict[int, int] = field(default_factory=dict)
    symbols: tuple[Any, ...] = ()
    last_guard: Any = None


def _capture(
    torch: Any, model: Any, channels: int, hints: Sequence[int], failure: _Failure | None = None,
) -> _Capture:
    """``make_fx`` of the model on a fake input whose batch (1) and channels are constants and whose every spatial
    size is a symbol of its own (no duck sizing: equal hints still give two symbols). When it fails, ``failure``
    gets what could steer another capture before the error propagates."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.experimental.proxy_tensor import make_fx
    from torch.fx.experimental.symbolic_shapes import DimDynamic, ShapeEnv, StatelessSymbolicContext

    shape_env = ShapeEnv(duck_shape=False)
    fake_mode = FakeTensorMode(shape_env=shape_env, allow_non_fake_inputs=True)
    context: Any = StatelessSymbolicContext(dynamic_sizes=[DimDynamic.STATIC] * 2 + [DimDynamic.DYNAMIC] * len(hints))
    example = fake_mode.from_tensor(torch.zeros(1, channels, *hints), symbolic_context=context)
    input_symbols = tuple(_expr(d) for d in example.shape[2:])
    marked: set[int] = set()

    class AssertRecorder(torch.overrides.TorchFunctionMode):  # type: ignore[misc]
        """Marks the guards PyTorch records inside ``torch._assert``: the model's asserts on sizes."""

        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            start = len(shape_env.guards)
            try:
                return func(*args, **(kwargs or {}))
            finally:
                if func is torch._assert:
                    marked.update(range(start, len(shape_env.guards)))

    origin: dict[int, str] = {}

    class OperatorRecorder(torch.utils._python_dispatch.TorchDispatchMode):  # type: ignore[misc]
        """Marks each guard with the ATen operator whose size rule asked it."""

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            start = len(shape_env.guards)
            try:
                return func(*args, **(kwargs or {}))
            finally:
                name = str(getattr(getattr(func, "overloadpacket", None), "__name__", func))
                for index in range(start, len(shape_env.guards)):
                    origin.setdefault(index, name)

    class Recorded(torch.nn.Module):  # type: ignore[misc]
        """The model called inside the recorders; a module, so that the capture records each node's module path."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: Any) -> Any:
            with AssertRecorder(), OperatorRecorder():
                return self.model(x)

    recorded = Recorded()

    def forward(x: Any) -> Any:
        return recorded(x)

    forward._orig_mod = recorded  # type: ignore[attr-defined]  # make_fx records module paths under this root

    quiet = logging.getLogger("torch._subclasses.fake_tensor")  # logs a traceback wherever the model fails a size
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # make_fx finds the fake mode (and its shape environment) on the input
        try:
            graph_module = make_fx(forward, tracing_mode="symbolic", _allow_non_fake_inputs=True, record_module_stack=True)(example)
        except BaseException:
            if failure is not None:
                failure.asserted.update(_sizes_asserted(shape_env, marked, input_symbols))
                failure.symbols = input_symbols
                failure.last_guard = shape_env.guards[-1].expr if shape_env.guards else None
            raise
        finally:
            quiet.setLevel(level)
    placeholder = next(n for n in graph_module.graph.nodes if n.op == "placeholder")
    capture = _Capture(graph_module, tuple(_expr(d) for d in placeholder.meta["val"].shape[2:]), input_symbols)
    for index, guard in enumerate(shape_env.guards):
        where = str(getattr(guard.sloc, "framework_loc", "") or "").replace("\\", "/")
        user = getattr(guard.sloc, "maybe_user_loc", None)
        if index in marked:
            capture.asserts.append((guard.expr, _frame_text(user) if user else "torch._assert"))
        elif user is None and "/torch/" in where:
            operator_name = origin.get(index, "")
            if operator_name.rstrip("_") not in _RULED_OPERATORS and not _asks_size_one(guard.expr):
                capture.operator_guards.append((guard.expr, operator_name or "a torch function"))
            # else: the translated layer carries the operator's rule, or PyTorch asks whether a size is 0 or 1
        else:
            capture.branches.append((guard.expr, _frame_text(user or guard.sloc.framework_loc)))
    return capture


def _sizes_asserted(shape_env: Any, marked: set[int], input_symbols: Sequence[Any]) -> dict[int, int]:
    """Axis -> size for every assert of the form ``symbol == size`` on an input axis that the capture recorded
    (failed, it is recorded as ``symbol != size``)."""
    import sympy

    found: dict[int, int] = {}
    for index in marked:
        condition = shape_env.guards[index].expr if index < len(shape_env.guards) else None
        if isinstance(condition, (sympy.Eq, sympy.Ne)):
            for axis, symbol in enumerate(input_symbols):
                for one, other in ((condition.lhs, condition.rhs), (condition.rhs, condition.lhs)):
                    if one == symbol and getattr(other, "is_Integer", False) and int(other) >= 1:
                        found[axis] = int(other)
    return found


_RULED_OPERATORS = {
    "convolution", "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool2d", "avg_pool3d", "_adaptive_avg_pool2d",
    "_adaptive_avg_pool3d", "adaptive_max_pool2d", "constant_pad_nd", "upsample_nearest2d", "upsample_bilinear2d",
    "upsample_bicubic2d", "_upsample_nearest_exact2d", "upsample_nearest3d", "upsample_trilinear3d", "_unsafe_index",
    "add", "sub", "rsub", "mul", "div", "maximum", "minimum", "where", "pow", "cat", "mean", "sum", "amax", "amin",
    "addmm", "mm", "bmm", "matmul", "baddbmm", "native_batch_norm", "_native_batch_norm_legit_no_training",
    "native_layer_norm", "native_group_norm", "convolution_backward", "empty", "empty_strided", "new_empty",
    "_upsample_bicubic2d_aa", "_upsample_bilinear2d_aa", "view", "_unsafe_view", "reshape", "clone", "permute", "transpose",
    "t", "unsqueeze", "squeeze", "contiguous", "_to_copy", "copy", "alias", "detach", "_softmax", "_safe_softmax",
    "_log_softmax", "gelu", "silu", "relu", "sigmoid", "tanh", "hardswish", "native_dropout",
}
"""Operators whose guards the translation carries: the layer's size rule, a merge's broadcast, the checks of views
(element counts; their other guards ask which sizes are 1, for strides), products and concatenations of one layer,
moves of dims, copies, allocations."""


def _asks_size_one(condition: Any) -> bool:
    """Whether a guard only asks if a size is 0 or 1 (contiguity, broadcasting, 0/1 specialisation)."""
    import sympy

    if isinstance(condition, (sympy.Eq, sympy.Ne)):
        return any(getattr(side, "is_number", False) and side in (0, 1) for side in (condition.lhs, condition.rhs))
    if isinstance(condition, (sympy.StrictGreaterThan, sympy.GreaterThan, sympy.StrictLessThan, sympy.LessThan)):
        return any(getattr(side, "is_number", False) and side in (0, 1, 2) for side in (condition.lhs, condition.rhs))
    return False


def _frame_text(frame: Any) -> str:
    """``file:line (code)`` of a frame PyTorch recorded (a ``FrameSummary``, or its text)."""
    if hasattr(frame, "filename") and hasattr(frame, "lineno"):
        code = (getattr(frame, "line", "") or "").strip()
        return f"{_short_path(str(frame.filename))}:{frame.lineno}" + (f" ({code})" if code else "")
    return _short_path(str(frame))


class _Region:
    """Where conditions on the input symbols hold, over the examined sizes (one array per axis, or tied)."""

    def __init__(self, symbols: Sequence[Any], axes: Sequence[np.ndarray], tied: bool) -> None:
        self.symbols, self.axes, self.tied = tuple(symbols), [np.asarray(a) for a in axes], tied
        self.shape = (len(self.axes[0]),) if tied else tuple(len(a) for a in self.axes)

    @property
    def ndim(self) -> int:
        return len(self.symbols)

    def point(self, index: tuple[int, ...]) -> tuple[int, ...]:
        if self.tied:
            return (int(self.axes[0][index[0]]),) * len(self.symbols)
        return tuple(int(self.axes[k][i]) for k, i in enumerate(index))

    def holds(self, condition: Any) -> np.ndarray:
        """True where ``condition`` holds, False where it fails, None where it cannot be evaluated (a size below 1 on the way)."""
        return self._evaluated(condition, bool, (ArithmeticError, AssertionError, ValueError, TypeError))

    def values(self, expr: Any) -> np.ndarray:
        """``expr``'s integer value at every examined size (None where it cannot be evaluated)."""
        import sympy

        return self._evaluated(sympy.sympify(expr), int, (ArithmeticError, ValueError, TypeError))

    def _evaluated(self, expr: Any, convert: Any, failures: tuple[type[Exception], ...]) -> np.ndarray:
        """``convert(expr)`` with the input symbols set to every examined size, once per distinct size of the axes it reads."""
        import sympy

        free: set[Any] = getattr(expr, "free_symbols", set())
        involved = [k for k, s in enumerate(self.symbols) if s in free]
        result = np.empty(self.shape, dtype=object)
        cache: dict[tuple[int, ...], Any] = {}
        for index in np.ndindex(self.shape):
            key = (index[0],) if self.tied and involved else tuple(index[k] for k in involved if not self.tied)
            if key not in cache:
                point = self.point(index)
                try:
                    cache[key] = convert(expr.xreplace({s: sympy.Integer(point[k]) for k, s in enumerate(self.symbols)}))
                except failures:
                    cache[key] = None
            result[index] = cache[key]
        return result

    def index_of(self, point: tuple[int, ...]) -> tuple[int, ...] | None:
        """The index of an examined size (None when it was not examined)."""
        positions = []
        for k, size in enumerate(point[:1] if self.tied else point):
            found = np.flatnonzero(self.axes[k] == size)
            if not len(found):
                return None
            positions.append(int(found[0]))
        return tuple(positions)

    def failing(self, holds: np.ndarray) -> list[tuple[int, ...]]:
        return [index for index in np.ndindex(self.shape) if holds[index] is not None and not holds[index]]


def _structure(layers: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The layers without their names: two captures giving equal structures give the same network."""
    position = {layer["name"]: i for i, layer in enumerate(layers)}
    return [
        (tuple(sorted((k, repr(v)) for k, v in layer.items() if k not in ("name", "inputs"))),
         tuple(position.get(n, n) for n in layer["inputs"]))
        for layer in layers
    ]


def from_aten(
    model: Any, input: InputSizes | None = None, *, channels: int, ndim: int, name: str | None = None, source: str | None = None,
) -> Network:
    """The convsolve network of a ``torch.nn.Module`` captured as ATen operators with symbolic spatial sizes.

    Parameters are those of :func:`convsolve.io.torch.from_torch` (``channels`` and ``ndim`` required).
    Where the model's code branches on the input size, it is captured again inside each branch met over
    the range; branches giving the same layers are one network, others are refused.

    Raises
    ------
    ModelImportError
        An operator without a translation (naming it and the model's source line), branches of the model's
        code giving different layers, or a translated layer disagreeing with PyTorch's own size expression.
    """
    return _import(model, input, channels, ndim, name, source)


def _import(
    model: Any, input: InputSizes | None, channels: int, ndim: int, name: str | None, source: str | None,
) -> Network:
    import torch

    ranges, tied = input_ranges(input, ndim)
    axes = [r.values() for r in ranges]
    was_training = model.training
    model.eval()  # captures again (inside other branches) happen up to the last check
    try:
        capture, translator = _first_capture(torch, model, channels, _hints(ranges, ndim), ranges, tied, source)
        region = _Region(capture.symbols, axes, tied)
        _requirement_layers(torch, model, channels, capture, translator, region, source)
        _cover_branches(torch, model, channels, capture, translator, region, source)
        _assert_layers(capture, translator, region, source)
        _view_layers(translator, region, source)
        config = {"name": name or type(model).__name__, "convention": "pytorch", "input": input_config(ranges, tied, channels),
                  "layers": translator.layers}
        try:
            network = Network.from_config(config, source=source)
        except ConfigError as exc:
            node = exc.facts.get("node")
            raise ModelImportError(exc.message, file=source, node=node, field=exc.facts.get("field")) from None
        _check_unsettled_views(network, translator, region, source)
        _check_against_pytorch(network, translator, region, source)
        _cover_operator_guards(torch, model, channels, capture, translator, region, network, source)
        _check_derived_sizes(network, translator, region, source)
        _check_failures(network, translator, region, source)
    finally:
        model.train(was_training)
    return network


def _some_size_is_zero_or_one(sizes: Sequence[Any], region: _Region, index: tuple[int, ...]) -> bool:
    import sympy

    point = region.point(index)
    values = {s: sympy.Integer(point[k]) for k, s in enumerate(region.symbols)}
    return any(int(size.xreplace(values)) in (0, 1) for size in sizes)


def _cover_operator_guards(
    torch: Any, model: Any, channels: int, capture: _Capture, translator: _Translator, region: _Region, network: Network,
    source: str | None,
) -> None:
    """An operator's guard no layer carries (a slice that crops nothing at the size captured) must hold wherever the
    network is valid, unless a size it mentions is 0 or 1 there: where it fails, the model is captured again (it must
    give the same layers, and its own guards must hold there)."""
    import sympy

    mask = np.asarray(network.valid_sizes().mask, dtype=bool)
    sizes = set(translator.derived) | {e for grid in translator.grid.values() for e in grid if not _is_static(e)}

    def failing(guards: Sequence[tuple[Any, str]]) -> list[tuple[tuple[int, ...], tuple[Any, str]]]:
        found: dict[tuple[int, ...], tuple[Any, str]] = {}
        for guard, operator_name in guards:
            holds = region.holds(guard)
            mentioned = [e for e in sympy.preorder_traversal(guard) if e in sizes]
            for index in np.ndindex(region.shape):
                if mask[index] and not holds[index] and not _some_size_is_zero_or_one(mentioned, region, index):
                    found.setdefault(index, (guard, operator_name))
        return sorted(found.items())

    pending = failing(capture.operator_guards)
    first = pending[0] if pending else None
    for _ in range(RECAPTURES):
        if not pending:
            return
        index, (guard, operator_name) = pending[-1]
        other = _recapture(torch, model, channels, region.point(index), source, capture, translator, region,
                           f"ATen operator {operator_name} relies on {guard}")
        still = {i for i, _ in failing(other.operator_guards)} if other is not None else set(np.ndindex(region.shape))
        pending = [p for p in pending if p[0] in still and p[0] != index]
    if pending and first is not None:
        index, (guard, operator_name) = first
        raise ModelImportError(
            f"ATen operator {operator_name} relies on {guard}, which fails at input {'x'.join(map(str, region.point(index)))} "
            "where every translated layer is valid; convsolve does not translate that condition into a layer yet", file=source,
        )


def _check_failures(network: Network, translator: _Translator, region: _Region, source: str | None) -> None:
    """Where a capture again failed (PyTorch refuses the model there), the network must not be valid either."""
    mask = np.asarray(network.valid_sizes().mask, dtype=bool)
    for point, reason in translator.fails_at:
        index = region.index_of(point)
        if index is not None and mask[index]:
            raise ModelImportError(
                f"PyTorch refuses the model at {'x'.join(map(str, point))} ({reason}), where the layers captured at other sizes "
                "are valid: the model's code does something there that convsolve did not capture", file=source,
            )


def _check_derived_sizes(network: Network, translator: _Translator, region: _Region, source: str | None) -> None:
    """Every tensor's sizes are at least 1 wherever the network is valid (PyTorch would let an empty tensor through)."""
    import sympy

    mask = np.asarray(network.valid_sizes().mask, dtype=bool)
    grid_exprs = {e for grid in translator.grid.values() for e in grid}
    for expr, where in translator.derived.items():
        if expr in grid_exprs:
            continue
        holds = region.holds(sympy.Ge(expr, 1))
        bad = [index for index in np.ndindex(region.shape) if mask[index] and not holds[index]]
        if bad:
            raise ModelImportError(
                f"a tensor made at {where} has a size of {expr}, which is below 1 at input {'x'.join(map(str, region.point(bad[0])))} "
                "where every translated layer is valid; convsolve does not translate that size into a layer yet", file=source,
            )


def _first_capture(
    torch: Any, model: Any, channels: int, hints: Sequence[tuple[int, ...]], ranges: Sequence[Any], tied: bool,
    source: str | None,
) -> tuple[_Capture, _Translator]:
    """The first capture that succeeds: at each hint in turn, and after a failure first where it asks (the size an
    assert names, else the largest examined size where the guard PyTorch decided last goes the other way)."""
    failures: list[str] = []
    pending, tried, steered = list(hints), set[tuple[int, ...]](), set[tuple[int, ...]]()
    while pending and len(tried) < len(hints) + FIRST_CAPTURE_EXTRA_TRIES:
        hint = pending.pop(0)
        tried.add(hint)
        failure = _Failure()
        try:
            capture = _capture(torch, model, channels, hint, failure)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the model's own code refuses this size: try another
            text = str(exc).strip()
            failures.append(f"at {'x'.join(map(str, hint))}: {type(exc).__name__}: {text.splitlines()[0] if text else ''}")
            asked = _asked_by(failure, hint, ranges, tied)
            if asked is not None and asked not in tried:  # capture there next
                pending = [asked] + [p for p in pending if p != asked]
                steered |= {asked} - set(hints)
            continue
        fixed = _asserted_sizes(capture)
        if hint in steered and fixed is None and any(_is_static(symbol) for symbol in capture.symbols):
            # PyTorch made a size a constant there (a size of 0 or 1 on the way): not a capture to answer from
            failures.append(f"at {'x'.join(map(str, hint))}: the sizes became constants")
            continue
        _check_fixed_sizes(capture, fixed, ranges, source)  # before translating: a layout of constants says little
        translator = _Translator(torch, capture.graph_module, capture.symbols, source, fixed)
        try:
            translator.run()
        except ModelImportError:
            if fixed is None:
                raise
            translator = _fixed_size_only(torch, capture, fixed, source)
        return capture, translator
    raise ModelImportError(
        f"capturing the model with symbolic sizes failed at every size tried ({'; '.join(failures[:3])})",
        file=source, module=type(model).__name__,
    )


def _fixed_size_only(torch: Any, capture: _Capture, fixed: tuple[int, ...], source: str | None) -> _Translator:
    """A model asserting its one input size whose layers convsolve does not translate: PyTorch ran every operator at
    that size in the capture, so the network is the ``fixed_size`` layer alone, once every tensor it made is non-empty."""
    for node in capture.graph_module.graph.nodes:
        for value in _flatten_values([node.meta.get("val")]):
            if hasattr(value, "shape") and any(int(d) == 0 for d in value.shape):
                raise ModelImportError(f"the model asserts its input size {'x'.join(map(str, fixed))}, and there its "
                                       f"{node.name} is an empty tensor {_show(_shape(value))}", file=source)
    translator = _Translator(torch, capture.graph_module, capture.symbols, source, fixed)
    translator.run(only_input=True)
    return translator


def _asked_by(failure: _Failure, hint: tuple[int, ...], ranges: Sequence[Any], tied: bool) -> tuple[int, ...] | None:
    """Where a failed capture asks to be tried next: the sizes its asserts name, else the largest examined size
    where the last guard PyTorch decided is false (the other way from the hint), else None."""
    import sympy

    if failure.asserted:
        return tuple(failure.asserted.get(axis, size) for axis, size in enumerate(hint))
    guard = failure.last_guard
    if guard is None or not failure.symbols or not (getattr(guard, "free_symbols", set()) & set(failure.symbols)):
        return None
    region = _Region(failure.symbols, [r.values() for r in ranges], tied)
    holds = region.holds(sympy.Not(guard))
    other = [index for index, value in zip(np.ndindex(region.shape), holds.ravel().tolist()) if value is True]
    return region.point(other[-1]) if other else None


def _check_requirements(capture: _Capture, translator: _Translator, region: _Region, source: str | None) -> None:
    """A size that a parameter fixes must equal it wherever the captured branch holds."""
    import sympy

    if not translator.requirements:
        return
    inside = np.ones(region.shape, dtype=bool)
    for guard, _where in capture.branches:
        inside &= np.asarray([v is not False for v in region.holds(guard).ravel()]).reshape(region.shape)
    for size, fixed, what, where in translator.requirements:
        holds = region.holds(sympy.Eq(size, fixed))
        bad = [index for index in np.ndindex(region.shape) if inside[index] and holds[index] is not None and not holds[index]]
        if bad:
            raise ModelImportError(
                f"{what} at {where} fixes a size to {fixed}, but at input {'x'.join(map(str, region.point(bad[0])))} it is {size}; "
                "convsolve does not translate a size fixed by a parameter into a layer yet", file=source,
            )


def _requirement_layers(
    torch: Any, model: Any, channels: int, capture: _Capture, translator: _Translator, region: _Region, source: str | None,
) -> None:
    """A parameter fixing a layer's sizes is a ``fixed_size`` layer on that layer: a token count that is its grid's
    product, when one grid gives it over the examined sizes (an attention bias table of 14x14 positions: ``levit``,
    ``efficientformer``), or the grid's size on every axis (a position table of 27x27: ``pit``). Where PyTorch
    broadcasts instead (the size is 1) it must fail further on, as a capture there shows. Anything else is refused."""
    import sympy

    inside = np.ones(region.shape, dtype=bool)
    for guard, _where in capture.branches:
        inside &= np.asarray([v is not False for v in region.holds(guard).ravel()]).reshape(region.shape)
    per_axis: dict[str, dict[int, int]] = {}
    broadcasts: list[tuple[np.ndarray, str, str]] = []
    for size, fixed, what, where in translator.requirements:
        holds = region.holds(sympy.Eq(size, fixed))
        bad = inside & np.asarray([v is False for v in holds.ravel()]).reshape(region.shape)
        if not bad.any():
            continue
        agree = inside & np.asarray([v is True for v in holds.ravel()]).reshape(region.shape)
        refusal = (f"{what} at {where} fixes a size to {fixed}, but at input {'x'.join(map(str, region.point(_first(bad))))} "
                   f"it is {size}")
        spatial = [(n, g) for n, g in translator.grid.items() if n != INPUT and g and not all(_is_static(d) for d in g)]
        node, grid = next(((n, g) for n, g in spatial if sympy.expand(size - math.prod(g)) == 0), (None, ()))
        axis_of = next(((n, k) for n, g in spatial for k, d in enumerate(g) if sympy.expand(size - d) == 0), None)
        if node is not None and agree.any():
            values = [region.values(expr) for expr in grid]
            grids = {tuple(int(axis[index]) for axis in values) for index in np.ndindex(region.shape) if agree[index]}
            if len(grids) != 1:
                shown = ", ".join("x".join(map(str, g)) for g in sorted(grids)[:3])
                raise ModelImportError(f"{refusal}; the layer {node}'s grid gives it as {shown}: a square input range "
                                       "(one size for every axis) has one", file=source, node=node)
            translator.layers.append({"name": translator.fresh(f"{node}_size"), "type": "fixed_size",
                                      "size": _per_axis(grids.pop()), "inputs": [node]})
        elif axis_of is not None:
            per_axis.setdefault(axis_of[0], {})[axis_of[1]] = fixed
        else:
            raise ModelImportError(f"{refusal}; convsolve cannot place that on a layer", file=source)
        broadcasts.append((bad & np.asarray([v is True for v in region.holds(sympy.Eq(size, 1)).ravel()]).reshape(region.shape),
                           refusal, axis_of[0] if node is None and axis_of is not None else str(node)))
    _fixed_size_layers(translator, per_axis, region.ndim, "a parameter fixes", "size", source)
    for broadcast, refusal, node in broadcasts:  # PyTorch broadcasts a size of 1 against the parameter: it must fail further on
        if not broadcast.any():
            continue
        indices = [index for index in np.ndindex(region.shape) if broadcast[index]]
        for point in dict.fromkeys(region.point(index) for index in (indices[0], indices[-1])):
            try:
                _capture(torch, model, channels, point)
            except (Exception, SystemExit):  # noqa: BLE001 - PyTorch fails there, as the layer says
                continue
            raise ModelImportError(f"{refusal}; at {'x'.join(map(str, point))} PyTorch broadcasts the parameter and runs "
                                   "the model, which convsolve cannot say as a layer", file=source, node=node)


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return next(index for index in np.ndindex(mask.shape) if mask[index])


def _asserted_sizes(capture: _Capture) -> tuple[int, ...] | None:
    """The input sizes a model made for one size asserts (``torch._assert(H == 224)``), when PyTorch captured every
    spatial size as a constant and an assert fixes each: the model raises at every other size. Else None."""
    import sympy

    if not capture.symbols or not all(_is_static(symbol) for symbol in capture.symbols):
        return None
    asserted = {frozenset((condition.lhs, condition.rhs)) for condition, _where in capture.asserts if isinstance(condition, sympy.Eq)}
    if all(frozenset((symbol, sympy.Integer(int(size)))) in asserted for symbol, size in zip(capture.input_symbols, capture.symbols)):
        return tuple(int(size) for size in capture.symbols)
    return None


def _check_fixed_sizes(capture: _Capture, fixed: tuple[int, ...] | None, ranges: Sequence[Any], source: str | None) -> None:
    """A model whose code fixes an input size without asserting it (``if H == 224``) is captured with that size as a
    constant: it answers for that size alone. (An asserted size, ``fixed``, is a ``fixed_size`` layer instead.)"""
    if fixed is not None:
        return
    constants = [(axis, int(symbol)) for axis, symbol in enumerate(capture.symbols) if _is_static(symbol)]
    for axis, size in constants:
        if ranges[axis].lo != size or ranges[axis].hi != size:
            raise ModelImportError(
                f"the model's code fixes the input size on axis {axis} to {size} (PyTorch captured it as a constant) "
                f"without asserting it; convsolve answers for that size alone: give --input {size}, or build the model "
                "for other sizes (timm: dynamic_img_size=True)", file=source,
            )


def _recapture(
    torch: Any, model: Any, channels: int, point: tuple[int, ...], source: str | None,
    capture: _Capture, translator: _Translator, region: _Region, why: str,
) -> _Capture | None:
    """The model captured again at ``point`` (inside another branch of its code or of an operator's guard), its guards
    renamed to the first capture's symbols; None when PyTorch fails there. Its layers must be the first capture's."""
    try:
        other = _capture(torch, model, channels, point)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the model fails at that size: noted, checked against the network
        text = str(exc).strip()
        translator.fails_at.append((point, f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"))
        return None
    other_translator = _Translator(torch, other.graph_module, other.symbols, source)
    other_translator.run()
    _check_requirements(other, other_translator, _Region(other.symbols, region.axes, region.tied), source)
    if _structure(other_translator.layers) != _structure(translator.layers):
        raise ModelImportError(
            f"{why}, and at {'x'.join(map(str, point))} the model gives other layers than the capture before; convsolve answers for "
            "one branch at a time: give an input range inside one", file=source, module=type(model).__name__,
        )
    rename = dict(zip(other.symbols, capture.symbols)) if len(set(other.symbols)) == len(set(capture.symbols)) else {
        other.symbols[0]: capture.symbols[0]}
    other.branches = [(g.xreplace(rename), w) for g, w in other.branches]
    other.operator_guards = [(g.xreplace(rename), w) for g, w in other.operator_guards]
    for expr, line in other_translator.derived.items():  # the other branch's tensors must not be empty either
        translator.derived.setdefault(expr.xreplace(rename), line)
    return other


def _cover_branches(
    torch: Any, model: Any, channels: int, capture: _Capture, translator: _Translator, region: _Region, source: str | None,
) -> None:
    """Capture again where a branch guard fails; every branch met must give the same layers."""
    pending = _outside(capture.branches, region)
    asserted_ok = np.ones(region.shape, dtype=bool)
    for condition, _where in capture.asserts:
        asserted_ok &= np.asarray([v is not False for v in region.holds(condition).ravel()]).reshape(region.shape)
    for _ in range(RECAPTURES):
        if not pending:
            return
        # the largest size where the model's asserts hold: the likeliest to run
        index, (guard, where) = ([p for p in pending if asserted_ok[p[0]]] or pending)[-1]
        other = _recapture(torch, model, channels, region.point(index), source, capture, translator, region,
                           f"the model's code branches on the input size at {where} ({guard})")
        covered = {i for i, _ in _outside(other.branches, region)} if other is not None else set(np.ndindex(region.shape))
        pending = [p for p in pending if p[0] in covered and p[0] != index]
    if pending:
        index, (guard, where) = pending[0]
        raise ModelImportError(
            f"the model's code branches on the input size at {where} ({guard}) more ways than convsolve follows; "
            f"it does not hold at {'x'.join(map(str, region.point(index)))}", file=source, module=type(model).__name__,
        )


def _outside(guards: Sequence[tuple[Any, str]], region: _Region) -> list[tuple[tuple[int, ...], tuple[Any, str]]]:
    """The examined sizes where one of ``guards`` fails, each with the first guard failing there."""
    found: dict[tuple[int, ...], tuple[Any, str]] = {}
    for guard, where in guards:
        for index in region.failing(region.holds(guard)):
            found.setdefault(index, (guard, where))
    return sorted(found.items())


def _assert_layers(capture: _Capture, translator: _Translator, region: _Region, source: str | None) -> None:
    """The model's asserts on sizes: a multiple of k on a node's axis becomes a ``multiple_of`` layer reading that node,
    a size of exactly k on every axis of a node (``H == 112`` after a stem) a ``fixed_size`` layer."""
    import sympy

    exact: dict[str, dict[int, int]] = {}
    for condition, where in capture.asserts:
        if all(v is not False for v in region.holds(condition).ravel()):
            continue
        placed = False
        if isinstance(condition, sympy.Eq):
            expr, size = (condition.lhs, condition.rhs) if _is_static(condition.rhs) else (condition.rhs, condition.lhs)
            found = next(((n, g.index(expr)) for n, g in translator.grid.items() if n != INPUT and expr in g), None)
            if _is_static(size) and not _is_static(expr) and found is not None:
                exact.setdefault(found[0], {})[found[1]] = int(size)
                continue
        if isinstance(condition, sympy.Eq) and condition.rhs == 0 and type(condition.lhs).__name__ in ("Mod", "PythonMod"):
            expr, factor = condition.lhs.args
            for node, grid in list(translator.grid.items()):
                if expr in grid and _is_static(factor):
                    factors = [int(factor) if g == expr else 1 for g in grid]
                    translator.layers.append({"name": translator.fresh(f"{node}_assert"), "type": "multiple_of",
                                              "factor": _per_axis(factors), "inputs": [node]})
                    placed = True
                    break
        if not placed:
            raise ModelImportError(
                f"the model asserts {condition} on the input size at {where}, which convsolve cannot place on a layer", file=source,
            )
    _fixed_size_layers(translator, exact, region.ndim, "the model asserts", "assert", source)


def _fixed_size_layers(
    translator: _Translator, sizes_of: Mapping[str, Mapping[int, int]], ndim: int, who: str, suffix: str, source: str | None,
) -> None:
    """A ``fixed_size`` layer reading each node whose size ``who`` fixes on every axis (node -> axis -> size); a size
    fixed on some axes alone is refused (the layer fixes every axis)."""
    for node, sizes in sizes_of.items():
        if len(sizes) != ndim:
            raise ModelImportError(f"{who} the size of {node} on axis {sorted(sizes)} alone, which convsolve cannot "
                                   "say as a layer yet", file=source, node=node)
        translator.layers.append({"name": translator.fresh(f"{node}_{suffix}"), "type": "fixed_size",
                                  "size": _per_axis([sizes[k] for k in range(ndim)]), "inputs": [node]})


def _view_layers(translator: _Translator, region: _Region, source: str | None) -> None:
    """A view or operation whose sizes agree only at some input sizes (a window partition without padding: the
    grid must be a multiple of the window) becomes a ``multiple_of`` layer on the layer whose tensor it shapes,
    when that is exactly where they agree: each factor is the gcd of the grid's sizes where they agree, and where
    they differ the layer must say invalid. Otherwise the model is refused. Checks are taken in the graph's order,
    each at the sizes where every one before it holds (PyTorch raised at the others, and its expressions for the
    sizes after a view hold only where the view does)."""
    import sympy

    reached = np.ones(region.shape, dtype=bool)
    placed: set[tuple[str, tuple[int, ...]]] = set()
    for check in translator.view_checks:
        holds = region.holds(sympy.Eq(check.left, check.right))
        agree = np.asarray([v is True for v in holds.ravel()]).reshape(region.shape) & reached
        differ = np.asarray([v is False for v in holds.ravel()]).reshape(region.shape) & reached
        unknown = np.asarray([v is None for v in holds.ravel()]).reshape(region.shape) & reached
        if check.broadcasts:  # where a side is 1 PyTorch broadcasts: not a failure this check can claim
            ones = np.asarray([v is not False for v in region.holds(
                sympy.Or(sympy.Eq(check.left, 1), sympy.Eq(check.right, 1))).ravel()]).reshape(region.shape)
            unknown |= differ & ones
            differ &= ~ones
        if unknown.any():  # where they could not be compared, the network must be invalid (checked once it is built)
            translator.unsettled.append((check, unknown))
        if not differ.any():
            continue
        grid = translator.grid.get(check.node, ())
        values = [region.values(expr) for expr in grid]
        if not grid or not agree.any() or any(v is None for axis in values for v in np.asarray(axis)[agree | differ].ravel()):
            _refuse_view(check, region, differ, source)
        factors = [math.gcd(*(int(v) for v in np.asarray(axis_values)[agree])) for axis_values in values]
        multiple = np.ones(region.shape, dtype=bool)
        for axis_values, factor in zip(values, factors):
            multiple &= np.asarray([v is not None and factor > 0 and int(v) % factor == 0
                                    for v in np.asarray(axis_values).ravel()]).reshape(region.shape)
        if (multiple & differ).any() or (agree & ~multiple).any():
            _refuse_view(check, region, (multiple & differ) | (agree & ~multiple), source)
        if (check.node, tuple(factors)) not in placed:
            placed.add((check.node, tuple(factors)))
            translator.layers.append({"name": translator.fresh(f"{check.node}_multiple"), "type": "multiple_of",
                                      "factor": _per_axis(factors), "inputs": [check.node]})
        reached &= ~differ


def _check_unsettled_views(network: Network, translator: _Translator, region: _Region, source: str | None) -> None:
    """Where a view's or operation's sizes could not be compared, or PyTorch might broadcast, the network must be invalid."""
    mask = np.asarray(network.valid_sizes().mask, dtype=bool)
    for check, unknown in translator.unsettled:
        if (unknown & mask).any():
            _refuse_view(check, region, unknown & mask, source)


def _refuse_view(check: _ShapeCheck, region: _Region, where: np.ndarray, source: str | None) -> None:
    points = [index for index in np.ndindex(region.shape) if where[index]]
    at = f" (not at {'x'.join(map(str, region.point(points[0])))})" if points else ""
    raise ModelImportError(
        f"the {check.what} at {check.where} holds only at some input sizes{at}, and convsolve cannot say where as a size "
        f"rule of the layer {check.node}", file=source, node=check.node,
    )


def _hints(ranges: Sequence[Any], ndim: int) -> list[tuple[int, ...]]:
    """Sizes to capture at: large (no size on the way is 1, which PyTorch would fix as a constant) and distinct per
    axis (so that each keeps a symbol of its own); then the examined range's largest, for models that need them."""
    his = [int(r.hi) for r in ranges]
    hints = [(256, 224, 192)[:ndim], (255, 223, 191)[:ndim], (224, 256, 240)[:ndim], tuple(max(2, h - axis) for axis, h in enumerate(his)),
             tuple(his)]
    if all(r.lo <= 224 <= r.hi for r in ranges):
        hints.append((224,) * ndim)  # a model made for one size (224 most often) captures only there
    for step in (224, 112, 96, 84, 64, 56):  # a window partition without padding captures only at multiples of its windows
        largest = [int(r.hi) // step * step for r in ranges]
        if all(r.lo <= n for r, n in zip(ranges, largest)):
            hints.append(tuple(largest))
    return list(dict.fromkeys(hints))


def _check_against_pytorch(network: Network, translator: _Translator, region: _Region, source: str | None) -> None:
    """Every translated node's sizes equal PyTorch's expression for them wherever convsolve calls the node valid."""
    import sympy

    inference = network.infer()
    for node, grid in translator.grid.items():
        if node == INPUT or node not in inference.nodes or node in translator.unchecked:
            continue
        sizes = inference.nodes[node]
        if sizes.sizes is None:
            continue
        for axis, expr in enumerate(grid):
            free: set[Any] = getattr(expr, "free_symbols", set())
            involved = [k for k, s in enumerate(region.symbols) if s in free]
            if len(set(involved)) > 1 and not region.tied:
                raise ModelImportError(f"the size of {node} on axis {axis} depends on other input axes ({expr})", file=source, node=node)
            values = region.axes[0 if region.tied else axis]
            ok = np.asarray(sizes.ok[axis], dtype=bool)
            ours = np.asarray(sizes.sizes[axis])
            checked: dict[int, int] = {}
            for k in np.flatnonzero(ok):
                size = int(values[k])
                if size not in checked:
                    theirs = expr.xreplace({s: sympy.Integer(size) for s in region.symbols}) if involved else expr
                    checked[size] = int(theirs)
                if checked[size] != int(ours[k]):
                    raise ModelImportError(
                        f"convsolve's size of {node} on axis {axis} at input {size} is {int(ours[k])}, PyTorch's is "
                        f"{checked[size]} ({expr}); refusing rather than giving a wrong answer",
                        file=source, node=node,
                    )
