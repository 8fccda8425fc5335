"""The input plan: when a network fails at an input size, the nearest valid sizes and the pad or crop that reach them.

No layer changes: the input is padded up to the nearest valid size at or above it on every axis
(the padding split evenly, the extra pixel after, as UNet code pads the difference) or cropped
(centred) down to the nearest valid size at or below it. "Nearest" is the fewest pixels added or
removed over all axes (then the smallest largest change per axis). The search looks at sizes within
a window around the query, widened from 64 on each side until both answers are found or a fixed budget
of examined sizes is spent, never sized from a raw value: a size beyond it is reported as not found.

Example:
    >>> from convsolve import load_config
    >>> unet_like = load_config({"input": {"channels": 1, "size": {"range": [1, 64]}}, "layers": [
    ...     {"name": "down", "type": "max_pool2d", "kernel": 2},
    ...     {"name": "up", "type": "conv_transpose2d", "out_channels": 1, "kernel": 2, "stride": 2},
    ...     {"name": "skip", "type": "concat", "inputs": ["input", "up"]}]})
    >>> plan = input_plan(unet_like, (25, 25))
    >>> plan.valid, plan.pad.size, plan.pad.before, plan.pad.after, plan.crop.size
    (False, (26, 26), (0, 0), (1, 1), (24, 24))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from ..network import Network
from ..sizesets import MAX_SIZE, MAX_SIZES, SizeRange

__all__ = ["InputPlan", "Resize", "input_plan", "WINDOW_CELLS"]

WINDOW_CELLS = 4_000_000
"""The most input sizes (grid points over all axes) examined around a query."""


@dataclass(frozen=True)
class Resize:
    """Padding up (``before``/``after`` > 0) or cropping down (< 0 removed) to ``size``, per axis."""

    size: tuple[int, ...]
    before: tuple[int, ...]
    after: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"size": list(self.size), "before": list(self.before), "after": list(self.after)}


@dataclass(frozen=True)
class InputPlan:
    """What to do with an input of ``size``: nothing (``valid``), or pad / crop to the nearest valid sizes."""

    network: str
    size: tuple[int, ...]
    axis_names: tuple[str, ...]
    valid: bool
    pad: Resize | None
    """Up to the nearest valid size at or above ``size`` on every axis (None: none within the window)."""
    crop: Resize | None
    """Down to the nearest valid size at or below ``size`` on every axis (None: none at all)."""
    window: tuple[SizeRange, ...]
    """The sizes examined per axis."""
    output_keeps_size: bool
    """Whether the network's outputs have the padded input's size (a segmentation network): the padding can be
    cropped off the output again."""

    def snippet(self) -> str:
        """PyTorch code applying the plan to a batch ``x`` (N, C, spatial...)."""
        shown = "x".join(map(str, self.size))
        if self.valid:
            return f"# {shown} is valid: no change needed\n"
        if self.pad is None and self.crop is None:
            return f"# no valid size near {shown}\n"
        lines = ["import torch.nn.functional as F", ""]
        if self.pad is not None:
            pads = [value for before, after in zip(reversed(self.pad.before), reversed(self.pad.after)) for value in (before, after)]
            lines += [f"def pad_to_valid(x):  # {shown} -> {'x'.join(map(str, self.pad.size))}",
                      f"    return F.pad(x, {tuple(pads)})  # last axis first; mode='reflect' also works where padding < size"]
            if self.output_keeps_size:
                crops = ", ".join(f"{b}:{b + n}" for b, n in zip(self.pad.before, self.size))
                lines += ["", "def crop_output_back(y):  # the output has the padded size: back to the input's",
                          f"    return y[..., {crops}]"]
        if self.crop is not None:
            keep = ", ".join(f"{-b}:{-b + n}" for b, n in zip(self.crop.before, self.crop.size))
            lines += ["", f"def crop_to_valid(x):  # {shown} -> {'x'.join(map(str, self.crop.size))}, centred",
                      f"    return x[..., {keep}]"]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "network": self.network, "size": list(self.size), "valid": self.valid,
            "pad": None if self.pad is None else self.pad.to_dict(),
            "crop": None if self.crop is None else self.crop.to_dict(),
            "examined": {axis: str(r) for axis, r in zip(self.axis_names, self.window)},
            "output_keeps_size": self.output_keeps_size, "snippet": self.snippet(),
        }


def input_plan(network: Network, size: Sequence[int]) -> InputPlan:
    """The input plan for an input of ``size`` (one per spatial axis, or one for all): see the module."""
    ndim = network.ndim
    query = tuple(int(s) for s in size) * (ndim if len(size) == 1 else 1)
    if len(query) != ndim:
        raise UsageError(f"--nearest: the network is {ndim}-D, give one size or {ndim} joined by 'x'", field="--nearest")
    if any(not 1 <= s <= MAX_SIZE for s in query):
        raise UsageError(f"--nearest: sizes go from 1 to {MAX_SIZE:,}, got {'x'.join(map(str, query))}", field="--nearest")
    square = len(set(query)) == 1 and network.input.tied  # a square network is padded or cropped to squares
    # the window: sizes on each side of the query, widened 8-fold until both sides are found or the budget is spent
    # (shared by the axes when the query is not square)
    per_axis = min(MAX_SIZES, WINDOW_CELLS if square else int(WINDOW_CELLS ** (1 / ndim)))
    target = np.asarray(query)
    reach = 64
    while True:
        reach = min(reach, (per_axis - 1) // 2)
        window = tuple(SizeRange(max(1, q - reach), min(MAX_SIZE, q + reach)) for q in query)
        sizes = _valid_points(network.with_input(window[:1] * ndim if square else window, tied=square), square)
        pad, crop = _nearest(sizes, target, up=True), _nearest(sizes, target, up=False)
        below_all_seen = all(r.lo == 1 for r in window)
        if (pad is not None and (crop is not None or below_all_seen)) or reach >= (per_axis - 1) // 2:
            break
        reach *= 8
    here = bool(((sizes == target).all(axis=1)).any()) if len(sizes) else False
    keeps = pad is not None and _output_keeps_size(network, pad.size)
    return InputPlan(network.name, query, network.axis_names, here, pad, crop, window, keeps)


def _valid_points(network: Network, square: bool) -> np.ndarray:
    """The valid input sizes of ``network`` as rows of per-axis sizes."""
    valid = network.valid_sizes()
    points = np.argwhere(np.asarray(valid.mask, dtype=bool))
    if not len(points):
        return np.zeros((0, network.ndim), dtype=np.int64)
    axes = [np.asarray(a) for a in valid.axes]
    return np.stack([axes[0 if square else k][points[:, 0 if square else k]] for k in range(network.ndim)], axis=1)


def _nearest(sizes: np.ndarray, target: np.ndarray, up: bool) -> Resize | None:
    """The valid size at or above (``up``) or at or below ``target`` on every axis changing the fewest pixels."""
    side = (sizes >= target).all(axis=1) if up else (sizes <= target).all(axis=1)
    candidates = sizes[side]
    if not len(candidates):
        return None
    change = np.abs(candidates - target)
    best = candidates[np.lexsort((change.max(axis=1), change.sum(axis=1)))[0]]
    diff = np.abs(best - target)
    before = tuple(int(d) // 2 for d in diff)
    after = tuple(int(d) - b for d, b in zip(diff, before))
    if not up:
        before, after = tuple(-b for b in before), tuple(-a for a in after)
    return Resize(tuple(int(s) for s in best), before, after)


def _output_keeps_size(network: Network, size: tuple[int, ...]) -> bool:
    sinks = [node for node in network.order if network.graph.out_degree(node) == 0]
    rows = {row.node: row for row in network.shapes(list(size))}
    shapes = [rows[node].shape for node in sinks if node in rows]
    return bool(shapes) and all(shape is not None and tuple(shape[1:]) == tuple(size) for shape in shapes)
