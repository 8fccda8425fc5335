"""Layer kinds and their exact per-axis size rules.

Every rule is written once, with integer arithmetic that works the same on a Python ``int`` and on a
NumPy integer array, so one formula serves range-wide inference (arrays of input sizes) and the
filled-in explanations of diagnostics (single sizes). Floor division is ``//``, ceiling division is
``-(-a // b)``; nothing goes through floats except ``interpolate``'s scale factor, which PyTorch
itself applies in double precision.

Example:
    >>> conv = Conv(type="conv2d", ndim=2, out_channels=8, kernel=7)
    >>> conv.axis_size(0, 5)
    (-1, False)
    >>> conv.explain(0, 5)[0]
    'floor((5 + 2*0 - 7) / 1) + 1 = -1'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from fractions import Fraction
from functools import reduce
from typing import Any, ClassVar

import numpy as np

from .conventions import Convention, Padding
from .errors import ChannelMismatch

__all__ = [
    "Size",
    "Layer",
    "Monotone",
    "Windowed",
    "Convolution",
    "Conv",
    "ConvTranspose",
    "Pool",
    "MaxUnpool",
    "AdaptivePool",
    "Interpolate",
    "PixelShuffle",
    "PixelUnshuffle",
    "Pad",
    "CenterCrop",
    "Flatten",
    "Linear",
    "ShapePreserving",
    "Merge",
    "Select",
    "LAYER_TYPES",
    "SHAPE_PRESERVING_TYPES",
]

Size = int | np.ndarray
"""One input size, or an array of them: every rule accepts both."""


def axes_field(minimum: int, default: int | None = None, required: bool = False) -> Any:
    """A per-axis integer hyperparameter (an int or one per axis) with a lower bound."""
    return field(default=default, metadata={"kind": "axes", "min": minimum, "required": required})


def int_field(minimum: int, default: int | None = None, required: bool = False) -> Any:
    """A single integer hyperparameter with a lower bound."""
    return field(default=default, metadata={"kind": "int", "min": minimum, "required": required})


def _ceil_div(a: Size, b: int) -> Size:
    return -(-a // b)


def _fraction(numerator: Any, denominator: Any) -> tuple[Any, Any]:
    """``numerator / denominator`` in lowest terms (ints or arrays)."""
    common = np.gcd(numerator, denominator)
    return numerator // common, denominator // common


def _widened(field: tuple[Any, Any], jump: tuple[Any, Any], steps: int) -> tuple[Any, Any]:
    """``field + steps * jump``, as a fraction in lowest terms (ints or arrays)."""
    return _fraction(field[0] * jump[1] + steps * jump[0] * field[1], field[1] * jump[1])


def _upsampled(jump: tuple[Any, Any], field: tuple[Any, Any], stride: int, span: int) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Jump and field after a layer writing ``span`` output pixels per input pixel, ``stride`` apart (a transposed
    convolution, an unpool): the jump divided by the stride first, then the field widened by ``span - 1`` new jumps."""
    jump = _fraction(jump[0], jump[1] * stride)
    return jump, _widened(field, jump, span - 1)


def _as_bool(value: Any) -> Any:
    return bool(value) if isinstance(value, (bool, np.bool_)) else value


@dataclass(frozen=True)
class Layer:
    """A layer's type name and spatial rank; subclasses add hyperparameters, size rules and the facts below.

    **The layer contract.** Everything the solver, repair, export, diagnosis and the loaders assume of a
    layer kind is declared here, next to its size rule, and nowhere else: they ask the layer. The
    defaults are the cautious ones, so a kind that declares nothing is checked at every input size of a
    range, never probed at the smallest: a forgotten declaration costs speed, never a wrong answer.
    ``tests/test_layer_contract.py`` checks every declared fact of every registered kind against the
    size rule itself, by brute force over sizes and parameters. A fact may depend on which fields a
    layer sets (an ``output_size`` or none) and on fixed values, not on the value of a field a search
    space leaves open: the solver asks one layer of each search-space node.
    """

    type: str
    ndim: int
    family: ClassVar[str] = "spatial"
    """How inference treats it: 'spatial', 'merge', 'flatten', 'linear' or 'preserve'."""
    stride_defaults_to_kernel: ClassVar[bool] = False
    """A config that leaves the stride out gets the kernel (PyTorch's pools), not 1."""
    tunable: ClassVar[tuple[str, ...]] = ()
    """The fields a repair may change (of kernel, stride, padding, dilation, output_padding)."""
    candidate_padding_within_half_kernel: ClassVar[bool] = False
    """A repair's default padding candidates stay within ``kernel // 2`` (the "same" padding of an odd kernel)."""
    takes_padding_words: ClassVar[bool] = False
    """Padding may be a word (``same``, ``valid``, ``same_upper``) even where the convention keeps words for convolutions."""
    exactly_one_of: ClassVar[tuple[str, ...]] = ()
    """Fields of which a config must give exactly one (interpolate's ``size`` and ``scale_factor``)."""
    shape_free_fields: ClassVar[frozenset[str]] = frozenset(
        "bias mode align_corners recompute_scale_factor antialias count_include_pad divisor_override inplace "
        "negative_slope eps momentum affine track_running_stats p dim padding_mode value return_indices "
        "approximate alpha beta lambd min_val max_val normalized_shape elementwise_affine num_features "
        "start_dim end_dim comment".split()
    )
    """Fields accepted for fidelity with PyTorch that change no shape."""

    def __post_init__(self) -> None:
        # an int for a per-axis field means the same value on every axis
        for spec in fields(self):
            value = getattr(self, spec.name)
            kind = spec.metadata.get("kind")
            if kind in ("axes", "scales") and isinstance(value, (int, float)):
                object.__setattr__(self, spec.name, (value,) * self.ndim)
            elif kind == "padding" and isinstance(value, Padding) and not value.pairs:
                object.__setattr__(self, spec.name, Padding(((0, 0),) * self.ndim, value.dynamic))
            elif kind == "padding" and isinstance(value, int):
                object.__setattr__(self, spec.name, Padding(((value, value),) * self.ndim))

    # --- the contract: facts of the size rule (checked by brute force in the tests) ---------------

    def upward_closed(self) -> bool:
        """Whether valid at input size ``n`` implies valid at ``n + 1`` on every axis (so valid at the smallest
        size of a range implies valid at all of them). Not declared: False, and the layer is checked at every size."""
        return False

    def non_decreasing(self) -> bool:
        """Whether the output size never shrinks as the input size grows (where valid). Not declared: False,
        and every layer after it is checked at every size."""
        return False

    def constant_output(self) -> bool:
        """Whether the output size is the same at every valid input size (an adaptive pool): the sizes
        downstream no longer depend on the input's."""
        return False

    def passes_input_on(self) -> bool:
        """Whether the output is the input itself, valid at every size: same channels, same sizes (an activation)."""
        return False

    def keeps_size(self) -> bool:
        """Whether the output has the (first) input's size on every axis, valid at every size >= 1 (an activation, a
        stride-1 conv padded by its window less one). Not declared: False."""
        return False

    def rule_key(self) -> Hashable | None:
        """All that output sizes, validity and channels depend on, when a layer can say so (a plain
        convolution: per axis its stride and ``pb + pe - E``): layers with equal keys act alike on every
        input. None: the layer is compared by itself."""
        return None

    def cost(self, in_shape: Sequence[int], out_shape: Sequence[int]) -> tuple[int, int]:
        """Multiply-accumulates and weights (biases not counted) at one input size, from the input's and the output's
        shape (channels first, or features). Not declared: (0, 0), as for pools, norms, activations and merges."""
        return 0, 0

    def window(self, axis: int) -> int | None:
        """The span of input pixels one output reads on ``axis`` (``E``) for a layer that slides a window, else None."""
        return None

    @classmethod
    def config_fields(cls, type_name: str) -> tuple[str, ...]:
        """The fields a config of ``type_name`` may give in some convention, in the order a config writes them."""
        return tuple(spec.name for spec in fields(cls) if spec.name not in ("type", "ndim") and spec.metadata.get("kind") != "derived")

    @classmethod
    def fields_unknown_to(cls, type_name: str, convention: Convention) -> frozenset[str]:
        """The :meth:`config_fields` that ``convention``'s framework lacks for ``type_name``: a config in that
        convention giving one is refused, and a repair never proposes one."""
        return frozenset()

    @classmethod
    def input_count(cls, type_name: str) -> tuple[int, int | None]:
        """The fewest and most inputs a layer of ``type_name`` takes (None: no most)."""
        return (1, 1)

    @classmethod
    def convention_fields(cls, type_name: str, convention: Convention, given: Mapping[str, Any]) -> dict[str, Any]:
        """Fields derived from the convention rather than written (``given``: the fields the config gave)."""
        return {}

    def replaced(self, **changes: Any) -> Layer:
        """A copy with ``changes`` to its fields (per-axis ints spread as the constructor spreads them).

        Example:
            >>> Conv(type="conv2d", ndim=2, out_channels=8, kernel=3).replaced(kernel=5).kernel
            (5, 5)
        """
        return dataclasses.replace(self, **changes)

    def out_channels_for(self, in_channels: int) -> int:
        """Channels produced from ``in_channels``; :class:`~convsolve.errors.ChannelMismatch` if they do not fit."""
        return in_channels

    def static_problems(self, convention: Convention) -> list[tuple[str, str]]:
        """Settings the framework refuses whatever the input size, as ``(field, message)`` pairs."""
        return []

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        """Output size on ``axis`` for input size ``n`` and whether the framework accepts it."""
        return n, n >= 1

    def apply_sizes(self, axis: int, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`axis_size` over an array of input sizes: output sizes (int64) and validity (bool), both of ``n``'s shape.

        The one way every solver and inference applies a layer to many sizes at once.

        Example:
            >>> out, ok = Conv(type="conv2d", ndim=2, out_channels=8, kernel=3).apply_sizes(0, np.array([[2, 3, 4]]))
            >>> out.tolist(), ok.tolist()
            ([[0, 1, 2]], [[False, True, True]])
        """
        out, ok = self.axis_size(axis, n)
        return np.broadcast_to(np.asarray(out, dtype=np.int64), n.shape), np.broadcast_to(np.asarray(ok, dtype=bool), n.shape)

    def receptive(self, axis: int, jump: tuple[Any, Any], field: tuple[Any, Any]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        """Input pixels between neighbouring outputs (``jump``) and seen by one output (``field``), as fractions.

        Each is a ``(numerator, denominator)`` pair of ints or arrays. Layers that do not resample
        leave both unchanged.
        """
        return jump, field

    def explain(self, axis: int, n: int) -> tuple[str, str]:
        """The size rule filled in at ``n`` and, when it fails, the cause in plain words."""
        out, _ = self.axis_size(axis, n)
        return f"{n} -> {out}", ""

    def describe(self) -> str:
        """Short summary for messages: ``conv2d, kernel 7, stride 2``."""
        parts = [self.type]
        for name in ("kernel", "stride", "padding", "dilation", "scale_factor", "size", "output_size"):
            value = getattr(self, name, None)
            if value is None or (name == "dilation" and set(value) == {1}):
                continue
            if isinstance(value, Padding):
                text = str(value.to_config())
            else:
                text = str(value[0]) if len(set(value)) == 1 else "x".join(map(str, value))
            parts.append(f"{name} {text}")
        return ", ".join(parts)


class Monotone(Layer):
    """What most size rules are: the output never shrinks as the input grows, and a layer valid at some
    input size is valid at every larger one. Declares both facts of the layer contract."""

    def upward_closed(self) -> bool:
        return True

    def non_decreasing(self) -> bool:
        return True


@dataclass(frozen=True)
class Windowed(Monotone):
    """A layer sliding a window of ``E = d*(k-1) + 1`` input pixels with a stride: convolutions and pools.

    Its size rule on the plain (floor) path is the conv rule, ``out = floor((n + pb + pe - E) / s) + 1``,
    valid when ``n + pb + pe >= E``.
    """

    kernel: tuple[int, ...] = axes_field(1, required=True)
    stride: tuple[int, ...] = axes_field(1, 1)
    padding: Padding = field(default=Padding(()), metadata={"kind": "padding"})
    dilation: tuple[int, ...] = axes_field(1, 1)
    tunable: ClassVar[tuple[str, ...]] = ("kernel", "stride", "padding", "dilation")

    def effective_kernel(self, axis: int) -> int:
        """``E = d*(k-1) + 1``: the span one output pixel reads."""
        return self.dilation[axis] * (self.kernel[axis] - 1) + 1

    def keeps_size(self) -> bool:
        """Stride 1 with padding that makes up the window (``pb + pe = E - 1``, or ``same``), and no need for the
        input to cover the kernel."""
        if any(s != 1 for s in self.stride) or getattr(self, "input_covers_kernel", False):
            return False
        return bool(self.padding.dynamic) or all(b + a == self.effective_kernel(i) - 1 for i, (b, a) in enumerate(self.padding.pairs))

    def window(self, axis: int) -> int | None:
        return self.effective_kernel(axis)

    def receptive(self, axis: int, jump: tuple[Any, Any], field: tuple[Any, Any]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        """``field + (E - 1) * jump`` and ``jump * stride``."""
        s = self.stride[axis]
        return _fraction(jump[0] * s, jump[1]), _widened(field, jump, self.effective_kernel(axis) - 1)

    def static_problems(self, convention: Convention) -> list[tuple[str, str]]:
        if convention.refuses_stride_with_dilation and max(self.stride) > 1 and max(self.dilation) > 1:
            return [("dilation", f"{convention.name} refuses stride > 1 together with dilation > 1")]
        return []

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        s = self.stride[axis]
        if self.padding.dynamic:
            return _ceil_div(n, s), n >= 1
        before, after = self.padding.pairs[axis]
        numerator = n + before + after - self.effective_kernel(axis)
        return numerator // s + 1, _as_bool((numerator >= 0) & (n >= 1))

    def explain(self, axis: int, n: int) -> tuple[str, str]:
        s, e = self.stride[axis], self.effective_kernel(axis)
        out, ok = self.axis_size(axis, n)
        if self.padding.dynamic:
            return f"ceil({n} / {s}) = {out}", ""
        before, after = self.padding.pairs[axis]
        pads = f"2*{before}" if before == after else f"{before} + {after}"
        kernel = str(e) if self.dilation[axis] == 1 else f"({self.dilation[axis]}*({self.kernel[axis]} - 1) + 1)"
        formula = f"floor(({n} + {pads} - {kernel}) / {s}) + 1 = {out}"
        if ok:
            return formula, ""
        what = "kernel" if self.dilation[axis] == 1 else "effective kernel"
        if before + after == 0:
            return formula, f"the size reaching it ({n}) is smaller than the {what} ({e}), {e - n} short"
        short = e - n - before - after
        return formula, f"the size reaching it ({n}) plus padding ({before + after}) is smaller than the {what} ({e}), {short} short"


@dataclass(frozen=True)
class Convolution(Windowed):
    """What convolutions add to a window: ``out_channels`` from ``in_channels`` in ``groups``."""

    out_channels: int = int_field(1, required=True)
    groups: int = int_field(1, 1)
    in_channels: int | None = int_field(1)
    candidate_padding_within_half_kernel: ClassVar[bool] = True

    @classmethod
    def config_fields(cls, type_name: str) -> tuple[str, ...]:
        written = super().config_fields(type_name)
        return ("out_channels",) + tuple(name for name in written if name != "out_channels")

    def out_channels_for(self, in_channels: int) -> int:
        if self.in_channels is not None and self.in_channels != in_channels:
            raise ChannelMismatch("in_channels", f"in_channels is {self.in_channels} but {in_channels} channels reach it")
        if in_channels % self.groups:
            raise ChannelMismatch("groups", f"groups ({self.groups}) must divide the input channels ({in_channels})")
        if self.out_channels % self.groups:
            raise ChannelMismatch("groups", f"groups ({self.groups}) must divide out_channels ({self.out_channels})")
        return self.out_channels


@dataclass(frozen=True)
class Conv(Convolution):
    """``convNd``: ``out = floor((n + pb + pe - E) / s) + 1`` with ``E = d*(k-1) + 1``; needs ``n + pb + pe >= E``."""

    takes_padding_words: ClassVar[bool] = True

    def cost(self, in_shape: Sequence[int], out_shape: Sequence[int]) -> tuple[int, int]:
        """Each output value sums ``in_channels / groups * prod(kernel)`` products.

        Example:
            >>> Conv(type="conv2d", ndim=2, out_channels=64, kernel=7, stride=2).cost((3, 224, 224), (64, 109, 109))
            (111776448, 9408)
        """
        weights = self.out_channels * (in_shape[0] // self.groups) * math.prod(self.kernel)
        return weights * math.prod(out_shape[1:]), weights

    def rule_key(self) -> Hashable | None:
        """Per axis the stride and ``pb + pe - E`` (or the stride alone with dynamic padding), and the channels."""
        axes = tuple(
            ("dynamic", s) if self.padding.dynamic else (s, sum(self.padding.pairs[a]) - self.effective_kernel(a))
            for a, s in enumerate(self.stride)
        )
        return "conv", axes, self.out_channels, self.groups, self.in_channels


@dataclass(frozen=True)
class ConvTranspose(Convolution):
    """``conv_transposeNd``: ``out = (n-1)*s - pb - pe + E + output_padding``, at least 1.

    With ``output_size`` the output is that size, which must lie in ``[min, min + s - 1]`` (PyTorch).
    With ``pads_from_output_size`` too (ONNX ``output_shape``) the pads are derived from the output size,
    so every input size of at least 1 gives it.
    """

    def keeps_size(self) -> bool:
        """Its window widens the input (not the conv rule): not declared."""
        return False

    output_padding: tuple[int, ...] = axes_field(0, 0)
    output_size: tuple[int, ...] | None = axes_field(1)
    pads_from_output_size: bool = field(default=False, metadata={"kind": "derived"})
    """Set from the convention (ONNX): ``output_size`` is reached from any input."""
    tunable: ClassVar[tuple[str, ...]] = Windowed.tunable + ("output_padding",)


    def cost(self, in_shape: Sequence[int], out_shape: Sequence[int]) -> tuple[int, int]:
        """Each input value is spread over ``out_channels / groups * prod(kernel)`` products."""
        weights = in_shape[0] * (self.out_channels // self.groups) * math.prod(self.kernel)
        return weights * math.prod(in_shape[1:]), weights

    @classmethod
    def convention_fields(cls, type_name: str, convention: Convention, given: Mapping[str, Any]) -> dict[str, Any]:
        return {"pads_from_output_size": True} if "output_size" in given and convention.output_size_derives_pads else {}

    def upward_closed(self) -> bool:
        """An ``output_size`` holds only for input sizes whose natural output lies just below it."""
        return self.output_size is None or self.pads_from_output_size

    def constant_output(self) -> bool:
        return self.output_size is not None

    def receptive(self, axis: int, jump: tuple[Any, Any], field: tuple[Any, Any]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        return _upsampled(jump, field, self.stride[axis], self.effective_kernel(axis))

    def static_problems(self, convention: Convention) -> list[tuple[str, str]]:
        problems = super().static_problems(convention)
        # with output_size, PyTorch derives the output padding from it and ignores this field
        for op, s, d in zip(self.output_padding if self.output_size is None else (), self.stride, self.dilation):
            if op >= max(s, d):
                problems.append(("output_padding", f"output padding ({op}) must be smaller than either stride ({s}) or dilation ({d})"))
                break
        return problems

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        s = self.stride[axis]
        if self.output_size is not None and self.pads_from_output_size:
            return self.output_size[axis] + 0 * n, n >= 1
        if self.padding.dynamic:
            return n * s, n >= 1
        before, after = self.padding.pairs[axis]
        smallest = (n - 1) * s - before - after + self.effective_kernel(axis)
        if self.output_size is not None:
            wanted = self.output_size[axis]
            return wanted + 0 * n, _as_bool((n >= 1) & (smallest <= wanted) & (wanted <= smallest + s - 1))
        out = smallest + self.output_padding[axis]
        return out, _as_bool((n >= 1) & (out >= 1))

    def explain(self, axis: int, n: int) -> tuple[str, str]:
        s, e = self.stride[axis], self.effective_kernel(axis)
        out, ok = self.axis_size(axis, n)
        if self.output_size is not None and self.pads_from_output_size:
            return f"output_shape {out} (the pads are derived from it)", ""
        if self.padding.dynamic:
            return f"{n} * {s} = {out}", ""
        before, after = self.padding.pairs[axis]
        smallest = (n - 1) * s - before - after + e
        if self.output_size is not None:
            formula = f"output_size {out}; allowed ({n} - 1)*{s} - {before + after} + {e} = {smallest} .. {smallest + s - 1}"
            return formula, "" if ok else f"the requested output size ({out}) is outside {smallest}..{smallest + s - 1}"
        op = self.output_padding[axis]
        formula = f"({n} - 1)*{s} - {before + after} + {e} + {op} = {out}"
        return formula, "" if ok else f"the padding ({before + after}) removes more than the layer produces"


@dataclass(frozen=True)
class Pool(Windowed):
    """``max_poolNd``/``avg_poolNd``/``lp_poolNd``: the conv rule, with ``ceil_mode`` rounding up.

    With ceil_mode, ``out = floor((n + pb + pe - E + s - 1) / s) + 1``, then one less if the last
    window would start past the input and the left padding (``(out-1)*s >= n + pb``). Valid when ``out >= 1``;
    with ``input_covers_kernel`` (PyTorch's ``avg_pool3d``) also ``n >= k``. ``lp_pool`` is an average
    pool of the p-th powers (``norm_type`` and ONNX's ``p`` change no size). Padding and dilation follow the
    same rule in every pool kind; which kinds take them depends on the convention (:meth:`fields_unknown_to`).
    """

    ceil_mode: bool = field(default=False, metadata={"kind": "bool"})
    input_covers_kernel: bool = field(default=False, metadata={"kind": "derived"})
    """Set from the convention: PyTorch's avg_pool3d needs ``n >= k``."""
    stride_defaults_to_kernel: ClassVar[bool] = True
    shape_free_fields: ClassVar[frozenset[str]] = Layer.shape_free_fields | {"norm_type"}

    @classmethod
    def fields_unknown_to(cls, type_name: str, convention: Convention) -> frozenset[str]:
        """An average pool has no dilation and an ``lp_pool`` neither dilation nor padding, as in PyTorch (and
        TensorFlow), unless the convention gives every pool both (ONNX's AveragePool and LpPool).

        Example:
            >>> from convsolve.conventions import ONNX, PYTORCH
            >>> sorted(Pool.fields_unknown_to("lp_pool2d", PYTORCH)), sorted(Pool.fields_unknown_to("lp_pool2d", ONNX))
            (['dilation', 'padding'], [])
        """
        if convention.every_pool_pads_and_dilates or type_name.startswith("max"):
            return frozenset()
        return frozenset({"dilation"} if type_name.startswith("avg") else {"dilation", "padding"})

    @classmethod
    def convention_fields(cls, type_name: str, convention: Convention, given: Mapping[str, Any]) -> dict[str, Any]:
        """PyTorch's avg_pool3d (and lp_pool3d, an avg_pool3d of powers) needs the input to cover the kernel."""
        covers = type_name in ("avg_pool3d", "lp_pool3d") and convention.avg_pool3d_input_covers_kernel
        return {"input_covers_kernel": True} if covers else {}

    def static_problems(self, convention: Convention) -> list[tuple[str, str]]:
        problems = super().static_problems(convention)
        if convention.pool_padding_at_most_half_kernel and not self.padding.dynamic:
            for (before, after), k in zip(self.padding.pairs, self.kernel):
                if max(before, after) > k // 2:
                    problems.append(("padding", f"padding ({max(before, after)}) must be at most half the kernel ({k} // 2 = {k // 2})"))
                    break
        return problems

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        s = self.stride[axis]
        if self.padding.dynamic:
            return _ceil_div(n, s), n >= 1
        before, after = self.padding.pairs[axis]
        numerator = n + before + after - self.effective_kernel(axis)
        least = self.kernel[axis] if self.input_covers_kernel else 1
        if not self.ceil_mode:
            out = numerator // s + 1
            return out, _as_bool((out >= 1) & (n >= least))
        out = (numerator + s - 1) // s + 1
        out = out - ((out - 1) * s >= n + before)
        return out, _as_bool((out >= 1) & (n >= least))

    def explain(self, axis: int, n: int) -> tuple[str, str]:
        if self.input_covers_kernel and not self.padding.dynamic and n < self.kernel[axis]:
            k = self.kernel[axis]
            return f"{n} < kernel {k}", f"{self.type} needs the size reaching it ({n}) to be at least the kernel ({k}), padding aside"
        if not self.ceil_mode or self.padding.dynamic:
            return super().explain(axis, n)
        s, e = self.stride[axis], self.effective_kernel(axis)
        before, after = self.padding.pairs[axis]
        out, ok = self.axis_size(axis, n)
        raw = (n + before + after - e + s - 1) // s + 1
        formula = f"ceil(({n} + {before + after} - {e}) / {s}) + 1 = {raw}"
        if raw != out:
            formula += f", minus 1 as the last window would start at {(raw - 1) * s} >= {n} + {before}: {out}"
        if ok:
            return formula, ""
        return formula, f"the size reaching it ({n}) plus padding ({before + after}) is too small for the window ({e})"


@dataclass(frozen=True)
class MaxUnpool(Windowed):
    """``max_unpoolNd``: the inverse of a max pool, ``out = (n-1)*s - pb - pe + k``, valid when at least 1.

    With ``output_size`` the output is that size, which PyTorch accepts strictly between
    ``default - s`` and ``default + s`` (``default`` the size above). Channels pass through.
    """

    def keeps_size(self) -> bool:
        """Its window widens the input (not the conv rule): not declared."""
        return False

    output_size: tuple[int, ...] | None = axes_field(1)
    stride_defaults_to_kernel: ClassVar[bool] = True

    @classmethod
    def config_fields(cls, type_name: str) -> tuple[str, ...]:
        """No dilation."""
        return tuple(name for name in super().config_fields(type_name) if name != "dilation")

    def window(self, axis: int) -> int | None:
        """An unpool writes its input out, it reads no window of it."""
        return None

    def upward_closed(self) -> bool:
        return self.output_size is None

    def constant_output(self) -> bool:
        return self.output_size is not None

    def receptive(self, axis: int, jump: tuple[Any, Any], field: tuple[Any, Any]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        """As a transposed convolution's (its dilation is 1: the span is the kernel)."""
        return _upsampled(jump, field, self.stride[axis], self.effective_kernel(axis))

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        s = self.stride[axis]
        before, after = self.padding.pairs[axis]
        default = (n - 1) * s - before - after + self.kernel[axis]
        if self.output_size is not None:
            wanted = self.output_size[axis]
            return wanted + 0 * n, _as_bool((n >= 1) & (default - s < wanted) & (wanted < default + s))
        return default, _as_bool((n >= 1) & (default >= 1))

    def explain(self, axis: int, n: int) -> tuple[str, str]:
        s, k = self.stride[axis], self.kernel[axis]
        before, after = self.padding.pairs[axis]
        default = (n - 1) * s - before - after + k
        out, ok = self.axis_size(axis, n)
        if self.output_size is not None:
            formula = f"output_size {out}; allowed strictly between ({n} - 1)*{s} - {before + after} + {k} -+ {s} = {default - s} and {default + s}"
            return formula, "" if ok else f"the requested output size ({out}) is not strictly between {default - s} and {default + s}"
        formula = f"({n} - 1)*{s} - {before + after} + {k} = {out}"
        return formula, "" if ok else f"the padding ({before + after}) removes more than the layer produces"


@dataclass(frozen=True)
class AdaptivePool(Monotone):
    """``adaptive_{avg,max}_poolNd``: the fixed ``output_size`` from any input of at least 1."""

    output_size: tuple[int, ...] = axes_field(1, required=True)

    def constant_output(self) -> bool:
        return True

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        return self.output_size[axis] + 0 * n, n >= 1


LARGEST_SCALED = 2**62
"""A scaled size past this is computed as this (far beyond any tensor), so that int64 arithmetic downstream never overflows."""


@dataclass(frozen=True)
class Interpolate(Monotone):
    """``interpolate``/``upsample``: a fixed ``size``, or ``floor(n * scale_factor)`` in double precision."""

    size: tuple[int, ...] | None = axes_field(1)
    scale_factor: tuple[float, ...] | None = field(default=None, metadata={"kind": "scales"})
    exactly_one_of: ClassVar[tuple[str, ...]] = ("size", "scale_factor")

    def constant_output(self) -> bool:
        return self.size is not None

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        if self.size is not None:
            return self.size[axis] + 0 * n, n >= 1
        assert self.scale_factor is not None
        product = np.floor(np.asarray(n, dtype=np.float64) * self.scale_factor[axis])
        scaled = np.minimum(product, float(LARGEST_SCALED)).astype(np.int64)  # saturates: stays non-decreasing, no overflow
        out = int(scaled) if np.ndim(scaled) == 0 else scaled
        return out, _as_bool((out >= 1) & (n >= 1))

    def receptive(self, axis: int, jump: tuple[Any, Any], field: tuple[Any, Any]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        """A scale factor divides the jump (a fixed ``size`` depends on the input: left unchanged)."""
        if self.scale_factor is None:
            return jump, field
        scale = Fraction(self.scale_factor[axis])
        return _fraction(jump[0] * scale.denominator, jump[1] * scale.numerator), field

    def explain(self, axis: int, n: int) -> tuple[str, str]:
        out, ok = self.axis_size(axis, n)
        if self.size is not None:
            return f"size {out}", ""
        assert self.scale_factor is not None
        formula = f"floor({n} * {self.scale_factor[axis]}) = {out}" + (" (the largest size computed with)" if out == LARGEST_SCALED else "")
        return formula, "" if ok else f"scaling {n} by {self.scale_factor[axis]} leaves no pixel"


@dataclass(frozen=True)
class PixelShuffle(Monotone):
    """``pixel_shuffle``: ``out = n * r``; channels must be divisible by ``r**2``."""

    upscale_factor: int = int_field(1, required=True)

    def out_channels_for(self, in_channels: int) -> int:
        r2 = self.upscale_factor**2
        if in_channels % r2:
            raise ChannelMismatch("upscale_factor", f"the input channels ({in_channels}) must be divisible by upscale_factor**2 ({r2})")
        return in_channels // r2

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        return n * self.upscale_factor, n >= 1

    def receptive(self, axis: int, jump: tuple[Any, Any], field: tuple[Any, Any]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        return _fraction(jump[0], jump[1] * self.upscale_factor), field


@dataclass(frozen=True)
class PixelUnshuffle(Layer):
    """``pixel_unshuffle``: ``out = n / r``; the size must be divisible by ``r``."""

    downscale_factor: int = int_field(1, required=True)

    def out_channels_for(self, in_channels: int) -> int:
        return in_channels * self.downscale_factor**2

    def non_decreasing(self) -> bool:
        return True

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        r = self.downscale_factor
        return n // r, _as_bool((n % r == 0) & (n >= 1))

    def receptive(self, axis: int, jump: tuple[Any, Any], field: tuple[Any, Any]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        # r x r neighbouring pixels become one: the field spans r - 1 more steps
        r = self.downscale_factor
        return _fraction(jump[0] * r, jump[1]), _widened(field, jump, r - 1)

    def explain(self, axis: int, n: int) -> tuple[str, str]:
        r = self.downscale_factor
        formula = f"{n} / {r} = {n // r}" if n % r == 0 else f"{n} mod {r} = {n % r}"
        return formula, "" if n % r == 0 else f"the size reaching it ({n}) is not divisible by downscale_factor ({r})"


@dataclass(frozen=True)
class Pad(Monotone):
    """``pad`` (zero/reflect/replicate padding, negative values crop): ``out = n + before + after``.

    ``padding`` is in axis order (depth, height, width), unlike ``torch.nn.functional.pad``.
    PyTorch crops before it pads, so the crops alone must leave ``n + min(before, 0) + min(after, 0) >= 0``.
    """

    padding: Padding = field(default=Padding(()), metadata={"kind": "padding", "required": True})

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        before, after = self.padding.pairs[axis]
        out = n + before + after
        cropped = n + min(before, 0) + min(after, 0)
        return out, _as_bool((out >= 1) & (cropped >= 0) & (n >= 1))

    def explain(self, axis: int, n: int) -> tuple[str, str]:
        before, after = self.padding.pairs[axis]
        out = n + before + after
        formula = f"{n} + {before} + {after} = {out}"
        crop = -(min(before, 0) + min(after, 0))
        if out >= 1 and crop > n:
            return formula, f"cropping {crop} from a size of {n} happens before the padding is added, and leaves less than nothing"
        return formula, "" if out >= 1 else f"cropping {-(before + after)} from a size of {n} leaves nothing"


@dataclass(frozen=True)
class SamePad(Monotone):
    """``pad_same``: TensorFlow's "same" padding, computed from the input size for the window that follows
    (``kernel``, ``stride``, ``dilation``), as timm's ``Conv2dSame`` and ``pad_same`` do it:
    ``out = n + max((ceil(n / stride) - 1) * stride + (kernel - 1) * dilation + 1 - n, 0)``, so that the
    window after it (unpadded) gives ``ceil(n / stride)``.

    Example:
        >>> SamePad(type="pad_same", ndim=2, kernel=3, stride=2).apply_sizes(0, np.array([5, 6, 7]))[0].tolist()
        [7, 7, 9]
    """

    kernel: tuple[int, ...] = axes_field(1, required=True)
    stride: tuple[int, ...] = axes_field(1, default=1)
    dilation: tuple[int, ...] = axes_field(1, default=1)

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        k, s, d = self.kernel[axis], self.stride[axis], self.dilation[axis]
        needed = (_ceil_div(n, s) - 1) * s + (k - 1) * d + 1
        return np.maximum(n, needed) if isinstance(n, np.ndarray) else max(n, needed), n >= 1

    def explain(self, axis: int, n: int) -> tuple[str, str]:
        out, _ = self.axis_size(axis, n)
        return f"{n} + {out - n} ('same' padding) = {out}", "" if n >= 1 else "nothing reaches it"


@dataclass(frozen=True)
class CenterCrop(Monotone):
    """``center_crop``: the central ``size`` pixels; the input must be at least that large."""

    size: tuple[int, ...] = axes_field(1, required=True)

    def constant_output(self) -> bool:
        return True

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        return self.size[axis] + 0 * n, n >= self.size[axis]

    def explain(self, axis: int, n: int) -> tuple[str, str]:
        crop = self.size[axis]
        return f"crop {crop} from {n}", "" if n >= crop else f"the size reaching it ({n}) is smaller than the crop ({crop})"


@dataclass(frozen=True)
class Flatten(Monotone):
    """``flatten`` from dim 1: ``features = channels * product of spatial sizes``."""

    family: ClassVar[str] = "flatten"



@dataclass(frozen=True)
class Linear(Monotone):
    """``linear``: needs exactly ``in_features`` features (when given) and produces ``out_features``."""

    family: ClassVar[str] = "linear"
    out_features: int = int_field(1, required=True)
    in_features: int | None = int_field(1)

    def upward_closed(self) -> bool:
        """With ``in_features`` the last axis must equal it exactly."""
        return self.in_features is None

    def cost(self, in_shape: Sequence[int], out_shape: Sequence[int]) -> tuple[int, int]:
        """``in_features * out_features`` products for each vector it reads (one after a flatten).

        Example:
            >>> Linear(type="linear", ndim=2, out_features=1000).cost((512,), (1000,))
            (512000, 512000)
        """
        weights = in_shape[-1] * self.out_features
        return weights * math.prod(in_shape[:-1]), weights

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        """On a spatial tensor, linear acts on the last axis only."""
        if axis != self.ndim - 1:
            return n, n >= 1
        return self.out_features + 0 * n, n >= 1 if self.in_features is None else _as_bool(n == self.in_features)


@dataclass(frozen=True)
class ShapePreserving(Monotone):
    """Activations, normalisation, dropout, identity: the output has the input's shape."""

    family: ClassVar[str] = "preserve"
    num_groups: int | None = int_field(1)

    def passes_input_on(self) -> bool:
        """Unless a group norm's groups must divide the channels."""
        return self.num_groups in (None, 1)

    def keeps_size(self) -> bool:
        return True

    def out_channels_for(self, in_channels: int) -> int:
        if self.num_groups is not None and in_channels % self.num_groups:
            raise ChannelMismatch("num_groups", f"num_groups ({self.num_groups}) must divide the channels ({in_channels})")
        return in_channels


@dataclass(frozen=True)
class Channels(Monotone):
    """``channels``: an operation that maps the channels to ``out_channels`` and keeps every spatial size, as an
    imported model's channel split, slice or channels-last linear does.

    Example:
        >>> Channels(type="channels", ndim=2, out_channels=4).out_channels_for(12)
        4
    """

    out_channels: int = int_field(1, required=True)

    def out_channels_for(self, in_channels: int) -> int:
        return self.out_channels


@dataclass(frozen=True)
class SizeCondition(Layer):
    """A layer that passes its size on unchanged where a condition on it holds, and is invalid elsewhere: what an
    imported model asserts of a size (:class:`MultipleOf`, :class:`FixedSize`)."""

    def non_decreasing(self) -> bool:
        """The size passes on unchanged."""
        return True

    def accepts(self, axis: int, n: Size) -> Any:
        """Where the condition holds on ``axis`` (an array for an array of sizes)."""
        raise NotImplementedError

    def requirement(self, axis: int) -> str:
        """The condition, for messages: ``a multiple of 16``."""
        raise NotImplementedError

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        return n, _as_bool((n >= 1) & self.accepts(axis, n))

    def explain(self, axis: int, n: int) -> tuple[str, str]:
        return f"{n} -> {n}", "" if self.accepts(axis, n) else f"the model requires {self.requirement(axis)}, got {n}"


@dataclass(frozen=True)
class MultipleOf(SizeCondition):
    """``multiple_of``: valid only where the size is a multiple of ``factor``, which passes on unchanged, as where
    an imported model asserts it (a vision transformer's patch embedding without padding).

    Example:
        >>> MultipleOf(type="multiple_of", ndim=2, factor=16).apply_sizes(0, np.array([16, 20, 32]))[1].tolist()
        [True, False, True]
    """

    factor: tuple[int, ...] = axes_field(1, required=True)

    def accepts(self, axis: int, n: Size) -> Any:
        return n % self.factor[axis] == 0

    def requirement(self, axis: int) -> str:
        return f"a multiple of {self.factor[axis]}"


@dataclass(frozen=True)
class FixedSize(SizeCondition):
    """``fixed_size``: valid only where the size equals ``size``, which passes on unchanged, as where an imported
    model asserts it (a vision transformer built for 224x224 images: ``assert H == self.img_size[0]``).

    Example:
        >>> FixedSize(type="fixed_size", ndim=2, size=224).apply_sizes(0, np.array([223, 224, 225]))[1].tolist()
        [False, True, False]
    """

    size: tuple[int, ...] = axes_field(1, required=True)

    def accepts(self, axis: int, n: Size) -> Any:
        return n == self.size[axis]

    def requirement(self, axis: int) -> str:
        return f"a size of exactly {self.size[axis]}"


@dataclass(frozen=True)
class Merge(Layer):
    """``add``/``mul``: equal sizes and channels; ``concat``: equal sizes, channels summed; ``resize_as``: the
    first input interpolated to the second's size (``F.interpolate(x, size=skip.shape[2:])``), its channels kept.

    With ``broadcast`` an add/mul follows PyTorch broadcasting: a size (or channel count) of 1
    stretches to match the others, as in a squeeze-and-excitation gate. With ``in_place`` it is
    PyTorch's in-place ``x += y``: the result is the first input, which cannot stretch, so every
    other input must equal it (or be 1, broadcasting).

    Example:
        >>> add = Merge(type="add", ndim=2, broadcast=True, in_place=True)
        >>> add.merged_size([1, 2])[1], add.merged_size([2, 1])   # x += y: a 1x1 x cannot take a 2x2 y
        (False, (2, True))
    """

    family: ClassVar[str] = "merge"
    broadcast: bool = field(default=False, metadata={"kind": "bool"})
    in_place: bool = field(default=False, metadata={"kind": "bool"})

    @classmethod
    def config_fields(cls, type_name: str) -> tuple[str, ...]:
        """A concat or resize_as neither broadcasts nor works in place."""
        arithmetic = type_name not in ("concat", "resize_as")
        return tuple(name for name in super().config_fields(type_name) if arithmetic or name not in ("broadcast", "in_place"))

    @classmethod
    def input_count(cls, type_name: str) -> tuple[int, int | None]:
        """Two or more inputs; resize_as exactly two (what is resized, and the tensor whose size it takes)."""
        return (2, 2) if type_name == "resize_as" else (2, None)

    def requires_equal_sizes(self) -> bool:
        """Whether the inputs must have equal sizes for the result to exist (an add/mul/concat without broadcasting)."""
        return self.type != "resize_as" and not self.broadcast

    def merged(self, values: Sequence[Any]) -> Any:
        """The result's size or channel count: the first input's in place, else the largest (equal unless broadcasting)."""
        return values[0] if self.in_place else reduce(np.maximum, values)

    def non_decreasing(self) -> bool:
        """The merged size is the inputs' common size (or their largest, broadcasting)."""
        return True

    def merged_channels(self, channels: Sequence[int]) -> int:
        """Channels of the result; :class:`~convsolve.errors.ChannelMismatch` when an add/mul gets unequal channels."""
        if self.type == "concat":
            return sum(channels)
        if self.type == "resize_as":
            return int(channels[0])
        if not self.agree(list(channels)):
            raise ChannelMismatch("inputs", f"{self.type} needs equal channels, got {', '.join(map(str, channels))}")
        return int(self.merged(list(channels)))

    def merged_size(self, sizes: Sequence[Size]) -> tuple[Size, Any]:
        """The merged size on one axis and whether the inputs agree (equal, or 1 where broadcasting)."""
        if self.type == "resize_as":
            return sizes[1], _as_bool(sizes[0] == sizes[0])
        out = self.merged(sizes) if self.broadcast else sizes[0]
        return out, self.agree(sizes, out)

    def agree(self, sizes: Sequence[Size], out: Size | None = None) -> Any:
        """Whether every input equals ``out`` (the result: the largest, or the first in place), or is 1 when broadcasting."""
        out = self.merged(sizes) if out is None else out
        checks = [(s == out) | (s == 1) if self.broadcast else s == out for s in sizes]
        return _as_bool(reduce(np.logical_and, checks))

    def merged_channel_counts(self, channels: Sequence[Any]) -> tuple[Any, Any]:
        """:meth:`merged_channels` over arrays of channel counts: the result's channels and whether the inputs'
        fit (an add/mul needs them equal, or 1 where broadcasting).

        Example:
            >>> out, fit = Merge(type="add", ndim=2).merged_channel_counts([np.array([4, 4]), np.array([4, 8])])
            >>> out.tolist(), fit.tolist()
            ([4, 8], [True, False])
        """
        if self.type == "concat":
            return reduce(np.add, channels), True
        if self.type == "resize_as":
            return channels[0], True
        out = self.merged(channels)
        return out, self.agree(channels, out)

    def merged_features(self, features: Sequence[Any]) -> tuple[Any, Any]:
        """The feature count of flattened inputs merged, and whether they agree: a concat adds them up, an
        add/mul needs them equal (flattened vectors are merged as they are, without broadcasting)."""
        if self.type == "concat":
            return reduce(np.add, features), True
        if self.type == "resize_as":
            return features[1], True
        return features[0], _as_bool(reduce(np.logical_and, [f == features[0] for f in features]))

    def merged_receptive(
        self, jumps: Sequence[tuple[Any, Any]], fields: Sequence[tuple[Any, Any]],
    ) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        """The jump and receptive field of the result from each input's, as ``(numerator, denominator)``
        fractions: the inputs agree in size, so the jump is the first input's; the field is the widest.

        Example:
            >>> Merge(type="add", ndim=2).merged_receptive([(2, 1), (2, 1)], [(5, 1), (7, 1)])
            ((2, 1), (7, 1))
        """
        if self.type == "resize_as":  # on the second input's grid, seeing what the first saw
            return jumps[1], fields[0]
        field = fields[0]
        for other in fields[1:]:
            wider = other[0] * field[1] > field[0] * other[1]
            field = (np.where(wider, other[0], field[0]), np.where(wider, other[1], field[1]))
        if all(np.ndim(part) == 0 for part in field):
            field = (int(field[0]), int(field[1]))
        return jumps[0], field


@dataclass(frozen=True)
class Select(Merge):
    """Input ``index`` passed on as it is, whatever the others are: what a search space's structural choices
    become inside the solver (an input choice, an op left out, a repeated block's copy beyond the chosen
    depth). Never a layer of a fixed network (:meth:`~convsolve.space.Space.fixed` wires the chosen input
    through), so no config type names it.

    Example:
        >>> pick = Select(type="select", ndim=2, index=1)
        >>> pick.merged_size([5, 9]), pick.merged_channels([3, 16])
        ((9, True), 16)
    """

    index: int = int_field(0)

    @classmethod
    def input_count(cls, type_name: str) -> tuple[int, int | None]:
        return (1, None)

    def requires_equal_sizes(self) -> bool:
        return False

    def upward_closed(self) -> bool:
        """Valid wherever its input is."""
        return True

    def passes_input_on(self) -> bool:
        """Input 0 passed on is the first input itself."""
        return self.index == 0

    def keeps_size(self) -> bool:
        return self.index == 0

    def merged(self, values: Sequence[Any]) -> Any:
        return values[self.index]

    def merged_channels(self, channels: Sequence[int]) -> int:
        return int(channels[self.index])

    def merged_size(self, sizes: Sequence[Size]) -> tuple[Size, Any]:
        return sizes[self.index], True

    def agree(self, sizes: Sequence[Size], out: Size | None = None) -> Any:
        return True

    def merged_channel_counts(self, channels: Sequence[Any]) -> tuple[Any, Any]:
        return channels[self.index], True

    def merged_features(self, features: Sequence[Any]) -> tuple[Any, Any]:
        return features[self.index], True

    def merged_receptive(
        self, jumps: Sequence[tuple[Any, Any]], fields: Sequence[tuple[Any, Any]],
    ) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        return jumps[self.index], fields[self.index]


def _family_types() -> dict[str, tuple[type[Layer], int | None]]:
    table: dict[str, tuple[type[Layer], int | None]] = {}
    for nd in (1, 2, 3):
        table[f"conv{nd}d"] = (Conv, nd)
        table[f"conv_transpose{nd}d"] = (ConvTranspose, nd)
        for kind in ("max", "avg"):
            table[f"{kind}_pool{nd}d"] = (Pool, nd)
            table[f"adaptive_{kind}_pool{nd}d"] = (AdaptivePool, nd)
        table[f"lp_pool{nd}d"] = (Pool, nd)
        table[f"max_unpool{nd}d"] = (MaxUnpool, nd)
    for name in ("interpolate", "upsample"):
        table[name] = (Interpolate, None)
    table["pixel_shuffle"] = (PixelShuffle, 2)
    table["pixel_unshuffle"] = (PixelUnshuffle, 2)
    table["pad"] = (Pad, None)
    table["pad_same"] = (SamePad, None)
    table["center_crop"] = (CenterCrop, None)
    table["flatten"] = (Flatten, None)
    table["linear"] = (Linear, None)
    table["channels"] = (Channels, None)
    table["multiple_of"] = (MultipleOf, None)
    table["fixed_size"] = (FixedSize, None)
    for name in ("add", "mul", "concat", "resize_as"):
        table[name] = (Merge, None)
    for name in SHAPE_PRESERVING_TYPES:
        table[name] = (ShapePreserving, None)
    return table


SHAPE_PRESERVING_TYPES = (
    "identity", "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "sigmoid",
    "tanh", "hardswish", "hardsigmoid", "hardtanh", "softplus", "softmax", "log_softmax", "prelu",
    "batch_norm", "batch_norm1d", "batch_norm2d", "batch_norm3d", "instance_norm", "group_norm",
    "layer_norm", "local_response_norm", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
)

LAYER_TYPES: dict[str, tuple[type[Layer], int | None]] = _family_types()
"""Config type name -> (layer class, spatial rank or None when the network's rank applies)."""

MERGE_ALIASES = {"cat": "concat", "multiply": "mul", "sum": "add"}
"""Other spellings accepted for merge types."""

