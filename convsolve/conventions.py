"""Padding conventions of PyTorch, ONNX and TensorFlow, and the rules each framework enforces.

A layer's padding is stored as a :class:`Padding`: explicit ``(before, after)`` pairs per axis, or
the *dynamic* "same" of ONNX ``SAME_UPPER``/``SAME_LOWER`` and TensorFlow ``'same'``, whose
output is ``ceil(n / stride)`` whatever the kernel.

Example:
    >>> parse_padding("same", PYTORCH, kernel=(3,), dilation=(2,), stride=(1,))
    Padding(pairs=((2, 2),), dynamic=None)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .sizesets import MAX_SIZE, show_number

__all__ = ["Convention", "Padding", "PYTORCH", "ONNX", "TENSORFLOW", "CONVENTIONS", "parse_padding"]


@dataclass(frozen=True)
class Convention:
    """What one framework does with padding strings and which layer settings it refuses."""

    name: str
    padding_words: tuple[str, ...]
    pool_padding_at_most_half_kernel: bool
    same_refuses_stride: bool
    refuses_stride_with_dilation: bool
    padding_words_only_for_conv: bool = False
    """Only ``convNd`` takes 'same'/'valid'; pools, transposed convs and pad need integers (PyTorch)."""
    avg_pool3d_input_covers_kernel: bool = False
    """``avg_pool3d`` also needs the unpadded input to be at least the kernel (PyTorch)."""
    output_size_derives_pads: bool = False
    """A transposed conv's ``output_size`` is ONNX's ``output_shape``: the pads follow from it, any input works."""
    every_pool_pads_and_dilates: bool = False
    """Average and Lp pools take padding and dilation as max pools do (ONNX's AveragePool since opset 19, LpPool
    since 18); PyTorch's avg_pool has no dilation, its lp_pool neither dilation nor padding."""


PYTORCH = Convention(
    "pytorch", ("valid", "same"), True, True, False, padding_words_only_for_conv=True, avg_pool3d_input_covers_kernel=True
)
ONNX = Convention(
    "onnx", ("notset", "valid", "same_upper", "same_lower"), False, False, False, output_size_derives_pads=True, every_pool_pads_and_dilates=True
)
TENSORFLOW = Convention("tensorflow", ("valid", "same"), False, False, True)
CONVENTIONS = {c.name: c for c in (PYTORCH, ONNX, TENSORFLOW)}


@dataclass(frozen=True)
class Padding:
    """Explicit ``(before, after)`` pads per axis, or ``dynamic`` 'same_upper'/'same_lower'."""

    pairs: tuple[tuple[int, int], ...]
    dynamic: str | None = None

    def describe(self, axis: int) -> str:
        """The padding on one axis as a person writes it: ``1``, ``(0, 1)`` or ``same_upper``."""
        if self.dynamic:
            return self.dynamic
        before, after = self.pairs[axis]
        return str(before) if before == after else f"({before}, {after})"

    def to_config(self) -> object:
        """The padding in the config spelling: an int, per-axis list, pairs, or a word."""
        if self.dynamic:
            return self.dynamic
        if all(b == a for b, a in self.pairs):
            values = [b for b, _ in self.pairs]
            return values[0] if len(set(values)) == 1 else values
        return [list(pair) for pair in self.pairs]


def parse_padding(
    value: object,
    convention: Convention,
    *,
    kernel: Sequence[int],
    dilation: Sequence[int],
    stride: Sequence[int],
) -> Padding:
    """Turn a config padding (int, per-axis list, pairs, or a word) into a :class:`Padding`.

    Raises ValueError with a message fit for the user; the caller adds file/layer/field.
    """
    padding = _parse_padding(value, convention, kernel=kernel, dilation=dilation, stride=stride)
    if any(abs(v) > MAX_SIZE for pair in padding.pairs for v in pair):
        largest = max(abs(v) for pair in padding.pairs for v in pair)
        raise ValueError(f"padding must be at most {MAX_SIZE:,} either way, got {show_number(largest)}")
    return padding


def _parse_padding(value: object, convention: Convention, *, kernel: Sequence[int], dilation: Sequence[int], stride: Sequence[int]) -> Padding:
    ndim = len(kernel)
    if isinstance(value, str):
        word = value.lower()
        if word not in convention.padding_words:
            allowed = ", ".join(repr(w) for w in convention.padding_words)
            raise ValueError(f"{value!r} is not a padding of the {convention.name} convention (use an integer, a list, or {allowed})")
        if word == "valid" or word == "notset":
            return Padding(((0, 0),) * ndim)
        if word == "same" and convention is PYTORCH:
            if any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions in PyTorch (stride must be 1)")
            # total d*(k-1); PyTorch puts the odd pixel after
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return Padding(tuple((t // 2, t - t // 2) for t in totals))
        return Padding(((0, 0),) * ndim, dynamic="same_upper" if word in ("same", "same_upper") else "same_lower")
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, a list or a padding word, got {value!r}")
    if isinstance(value, int):
        return Padding(((value, value),) * ndim)
    if isinstance(value, (list, tuple)):
        if len(value) == ndim and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return Padding(tuple((v, v) for v in value))
        if len(value) == ndim and all(_is_pair(v) for v in value):
            return Padding(tuple((int(v[0]), int(v[1])) for v in value))
        if len(value) == 2 * ndim and all(isinstance(v, int) and not isinstance(v, bool) for v in value) and convention is ONNX:
            # ONNX order: [x1_begin, x2_begin, ..., x1_end, x2_end, ...]
            return Padding(tuple((value[i], value[i + ndim]) for i in range(ndim)))
        raise ValueError(f"expected {ndim} integers (one per axis) or {ndim} [before, after] pairs, got {list(value)!r}")
    raise ValueError(f"expected an integer, a list or a padding word, got {value!r}")


def _is_pair(value: object) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )
