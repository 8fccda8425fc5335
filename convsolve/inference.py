"""Sizes of every node over a whole range of input sizes, and the set of valid input sizes.

Each spatial axis is independent for every layer but ``flatten`` feeding a ``linear``, so sizes are
NumPy arrays indexed by the input size on that axis, pushed through the graph once in topological
order: a ResNet-50 over 1..4096 is a few thousand vectorised operations. A node is valid at an input
size when its own rule holds *and* every node upstream is; ``fails`` keeps only the sizes at which the
node itself is the first to fail, which is what diagnostics explain.

Square inputs (``size:`` in the config) sweep one size for every axis together (``tied``); separate
``height``/``width`` ranges sweep their product, and coupled rules (flatten -> linear) are evaluated
on that grid.

Example:
    >>> from convsolve import load_config
    >>> net = load_config({"input": {"channels": 1, "size": {"range": [1, 64]}},
    ...     "layers": [{"name": "p", "type": "max_pool2d", "kernel": 2}, {"name": "q", "type": "max_pool2d", "kernel": 2}]})
    >>> str(net.valid_sizes())
    '4..64'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np

from .errors import ChannelMismatch
from .layers import Layer, Linear, Merge
from .network import INPUT, Network
from .sizesets import SizeRange, SizeSet

__all__ = ["Sweep", "NodeSizes", "StaticProblem", "Inference", "ValidSizes", "ShapeRow", "infer", "shape_table"]


@dataclass(frozen=True)
class Sweep:
    """The input sizes examined: one array per spatial axis; ``tied`` axes move together."""

    axes: tuple[np.ndarray, ...]
    tied: bool

    @classmethod
    def over(cls, ranges: Sequence[SizeRange], tied: bool) -> Sweep:
        return cls(tuple(r.values() for r in ranges), tied)

    def joint(self, per_axis: Sequence[np.ndarray], ufunc: np.ufunc) -> np.ndarray:
        """Combine one array per axis into one over the joint sweep (element-wise when tied, outer otherwise)."""
        if self.tied:
            return reduce(ufunc, per_axis)
        return reduce(ufunc.outer, per_axis)

    def full(self, value: Any) -> np.ndarray:
        """A joint array filled with ``value``."""
        shape = (len(self.axes[0]),) if self.tied else tuple(len(a) for a in self.axes)
        return np.full(shape, value)


@dataclass
class NodeSizes:
    """What reaches out of one node over the sweep.

    ``sizes``/``ok``/``fails`` hold one array per spatial axis (``sizes`` is None once flattened);
    ``features`` and ``joint_ok``/``joint_fails`` live on the joint sweep and exist only once a flatten is upstream.
    """

    channels: int | None
    sizes: tuple[np.ndarray, ...] | None
    ok: tuple[np.ndarray, ...]
    fails: tuple[np.ndarray, ...]
    features: np.ndarray | None = None
    joint_ok: np.ndarray | None = None
    joint_fails: np.ndarray | None = None


@dataclass(frozen=True)
class StaticProblem:
    """A setting the framework refuses at every input size (channels, groups, padding limits)."""

    node: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"layer {self.node!r}, field {self.field!r}: {self.message}"


@dataclass(frozen=True)
class ValidSizes:
    """Valid input sizes: one set for square inputs, one per axis otherwise.

    ``coupled_by`` names the layers (a linear after a flatten) that make axes depend on each other;
    then ``sets`` are projections and ``mask`` (height x width ...) is exact.
    """

    sets: tuple[SizeSet, ...]
    axis_names: tuple[str, ...]
    tied: bool
    coupled_by: tuple[str, ...]
    mask: np.ndarray
    axes: tuple[np.ndarray, ...]
    """The examined sizes per axis: ``mask`` is indexed by their positions."""

    @property
    def min(self) -> tuple[int, ...] | None:
        """The smallest valid size per axis (the first valid grid point by height, then width)."""
        if self.tied:
            return None if self.sets[0].min is None else (self.sets[0].min,) * len(self.axis_names)
        points = np.argwhere(self.mask)
        if len(points) == 0:
            return None
        return tuple(int(values[i]) for values, i in zip(self.axes, points[0]))

    @property
    def empty(self) -> bool:
        return not self.mask.any()

    def __str__(self) -> str:
        if self.tied:
            return self.sets[0].describe()
        text = "; ".join(f"{axis}: {s.describe()}" for axis, s in zip(self.axis_names, self.sets))
        if self.coupled_by:
            text += f" (axes coupled by {', '.join(self.coupled_by)}: not every combination is valid)"
        return text

    def __len__(self) -> int:
        """How many valid sizes (square sizes, or combinations of per-axis sizes)."""
        return len(self.sets[0]) if self.tied else int(np.count_nonzero(self.mask))

    def __iter__(self) -> Iterator[Any]:
        """The valid sizes in increasing order: ints for square inputs, else tuples (height, width, ...).

        Example:
            >>> from convsolve import load_config
            >>> valid = load_config({"input": {"channels": 1, "size": {"range": [1, 9]}}, "layers": [
            ...     {"name": "c", "type": "conv2d", "out_channels": 1, "kernel": 7}]}).valid_sizes()
            >>> list(valid), 8 in valid, (8, 8) in valid, 6 in valid, len(valid)
            ([7, 8, 9], True, True, False, 3)
        """
        if self.tied:
            yield from (int(v) for v in self.sets[0].values)
            return
        for point in np.argwhere(self.mask):
            yield tuple(int(values[i]) for values, i in zip(self.axes, point))

    def __contains__(self, size: object) -> bool:
        """Whether an input size is valid: an int (every axis) or one per axis."""
        point = (size,) * len(self.axis_names) if isinstance(size, (int, np.integer)) else size
        if not isinstance(point, (tuple, list)) or len(point) != len(self.axis_names):
            return False
        if self.tied:
            return len(set(point)) == 1 and int(point[0]) in self.sets[0]
        index = []
        for values, value in zip(self.axes, point):
            found = np.flatnonzero(np.asarray(values) == value)
            if not len(found):
                return False
            index.append(int(found[0]))
        return bool(self.mask[tuple(index)])

    def __repr__(self) -> str:
        text = str(self)
        shown = text if len(text) <= 120 else text[:117] + "..."
        return f"ValidSizes({shown!r}, {len(self):,} valid, {'square' if self.tied else 'per axis'})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"square": self.tied, "min": self.min}
        if self.tied:
            out.update(self.sets[0].to_dict())
        else:
            out["axes"] = {axis: s.to_dict() for axis, s in zip(self.axis_names, self.sets)}
            if self.coupled_by:
                out["coupled_by"] = list(self.coupled_by)
                out["pairs"] = [[int(values[i]) for values, i in zip(self.axes, point)] for point in np.argwhere(self.mask)]
        return out


class Inference:
    """The result of pushing the input sweep through the network."""

    def __init__(self, network: Network, sweep: Sweep, nodes: dict[str, NodeSizes], static: list[StaticProblem]) -> None:
        self.network = network
        self.sweep = sweep
        self.nodes = nodes
        self.static = static

    def valid_mask(self) -> np.ndarray:
        """Joint boolean array: every node valid at that input size."""
        per_axis = [
            np.logical_and.reduce([node.ok[axis] for node in self.nodes.values()]) for axis in range(len(self.sweep.axes))
        ]
        mask = self.sweep.joint(per_axis, np.logical_and)
        for node in self.nodes.values():
            if node.joint_ok is not None:
                mask = mask & node.joint_ok
        if self.static:
            mask = mask & False
        return mask

    def valid_sizes(self) -> ValidSizes:
        """The valid input sizes over the examined ranges."""
        mask = self.valid_mask()
        ranges = self.network.input.ranges
        coupled = tuple(name for name, node in self.nodes.items() if node.joint_fails is not None and node.joint_fails.any())
        if self.sweep.tied:
            sets: tuple[SizeSet, ...] = (SizeSet.from_mask(self.sweep.axes[0], mask, ranges[0].lo, ranges[0].hi),)
        elif not coupled and not self.static:  # the axes are independent: each axis's own valid sizes (a width valid
            # with every valid height is shown even when no height is valid: "height: none; width: 320")
            sets = tuple(
                SizeSet.from_mask(values, np.logical_and.reduce([node.ok[axis] for node in self.nodes.values()]), r.lo, r.hi)
                for axis, (values, r) in enumerate(zip(self.sweep.axes, ranges))
            )
        else:
            sets = tuple(
                SizeSet.from_mask(values, np.asarray(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis))), r.lo, r.hi)
                for axis, (values, r) in enumerate(zip(self.sweep.axes, ranges))
            )
        return ValidSizes(sets, self.network.axis_names, self.sweep.tied, coupled, mask, self.sweep.axes)


def infer(network: Network) -> Inference:
    """Push the network's input ranges through every node; see the module docstring."""
    sweep = Sweep.over(network.input.ranges, network.input.tied)
    nodes: dict[str, NodeSizes] = {}
    static: list[StaticProblem] = []
    ones = tuple(np.ones(len(a), dtype=bool) for a in sweep.axes)
    nothing = tuple(np.zeros(len(a), dtype=bool) for a in sweep.axes)
    nodes[INPUT] = NodeSizes(network.input.channels, sweep.axes, ones, nothing)
    for name in network.order[1:]:
        layer = network.layer(name)
        sources = [nodes[source] for source in network.inputs_of(name)]
        for field, message in layer.static_problems(network.convention):
            static.append(StaticProblem(name, field, message))
        channels = _channels(layer, sources, name, static)
        nodes[name] = _node_sizes(layer, sources, channels, sweep, nothing)
    return Inference(network, sweep, nodes, static)


def _channels(layer: Layer, sources: list[NodeSizes], name: str, static: list[StaticProblem]) -> int | None:
    if layer.family in ("flatten", "linear") or any(s.channels is None for s in sources):
        # flattened tensors carry their size in ``features``; linear on a spatial tensor keeps channels
        return sources[0].channels if layer.family == "linear" else None
    try:
        if isinstance(layer, Merge):
            return int(layer.merged_channels([s.channels for s in sources if s.channels is not None]))
        return layer.out_channels_for(sources[0].channels)  # type: ignore[arg-type]
    except ChannelMismatch as exc:
        static.append(StaticProblem(name, exc.field, exc.message))
        return None


def _node_sizes(layer: Layer, sources: list[NodeSizes], channels: int | None, sweep: Sweep, nothing: tuple[np.ndarray, ...]) -> NodeSizes:
    first = sources[0]
    joint_in = _joint_and([s.joint_ok for s in sources])
    if isinstance(layer, Merge):
        ok_in = tuple(np.logical_and.reduce([s.ok[a] for s in sources]) for a in range(len(sweep.axes)))
        if first.sizes is None:
            merged, agree = layer.merged_features([s.features for s in sources])
            return _joint_result(first, ok_in, merged, joint_in, sweep.full(True) & agree, sweep)
        sizes, ok, fails = [], [], []
        for axis in range(len(sweep.axes)):
            merged, agree = layer.merged_size([s.sizes[axis] for s in sources])  # type: ignore[index]
            sizes.append(np.asarray(merged))
            ok.append(ok_in[axis] & agree)
            fails.append(ok_in[axis] & ~agree)
        return NodeSizes(channels, tuple(sizes), tuple(ok), tuple(fails), None, joint_in, None)
    if layer.family == "preserve":
        return NodeSizes(channels, first.sizes, first.ok, nothing, first.features, joint_in, None)
    if layer.family == "flatten":
        if first.sizes is None:
            return NodeSizes(None, None, first.ok, nothing, first.features, joint_in, None)
        channels_in = first.channels if first.channels is not None else 0
        features = sweep.joint(list(first.sizes), np.multiply) * channels_in
        return NodeSizes(None, None, first.ok, nothing, features, joint_in, None)
    if layer.family == "linear" and first.sizes is None:
        assert isinstance(layer, Linear)
        wanted = layer.in_features
        agree = sweep.full(True) if wanted is None or first.features is None else first.features == wanted
        return _joint_result(first, first.ok, sweep.full(layer.out_features), joint_in, agree, sweep)
    sizes, ok, fails = [], [], []
    for axis in range(len(sweep.axes)):
        n = np.where(first.ok[axis], first.sizes[axis], 1)  # type: ignore[index]
        out, own_ok = layer.apply_sizes(axis, n)
        sizes.append(np.where(own_ok, out, 0))
        ok.append(first.ok[axis] & own_ok)
        fails.append(first.ok[axis] & ~own_ok)
    return NodeSizes(channels, tuple(sizes), tuple(ok), tuple(fails), None, joint_in, None)


def _joint_and(arrays: list[np.ndarray | None]) -> np.ndarray | None:
    present = [a for a in arrays if a is not None]
    return reduce(np.logical_and, present) if present else None


def _joint_result(
    first: NodeSizes, ok: tuple[np.ndarray, ...], features: np.ndarray, joint_in: np.ndarray | None,
    agree: np.ndarray, sweep: Sweep,
) -> NodeSizes:
    upstream = sweep.joint(list(ok), np.logical_and)
    if joint_in is not None:
        upstream = upstream & joint_in
    return NodeSizes(None, None, ok, tuple(np.zeros_like(o) for o in ok), features, upstream & agree, upstream & ~agree)


@dataclass(frozen=True)
class ShapeRow:
    """One line of the ``shapes`` table."""

    node: str
    layer: str
    shape: tuple[int, ...] | None
    problem: str

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "layer": self.layer, "shape": None if self.shape is None else list(self.shape), "problem": self.problem or None}


def shape_table(network: Network, sizes: Sequence[int]) -> list[ShapeRow]:
    """Output shape of every node (channels first) at one input size per axis."""
    single = network.with_input([SizeRange(s, s) for s in sizes], tied=False)
    result = infer(single)
    problems = {p.node: f"{p.field}: {p.message}" for p in result.static}
    rows = []
    for name in network.order:
        node = result.nodes[name]
        layer = "input" if name == INPUT else network.layer(name).describe()
        fails = [bool(f[0]) for f in node.fails] + ([bool(node.joint_fails.flat[0])] if node.joint_fails is not None else [])
        valid = all(bool(o[0]) for o in node.ok) and (node.joint_ok is None or bool(node.joint_ok.flat[0]))
        problem = problems.get(name, "")
        if any(fails):
            problem = problem or "invalid here (see `convsolve check`)"
        elif not valid:
            problem = problem or "not reached: an earlier layer is invalid"
        shape: tuple[int, ...] | None
        if not valid or name in problems:
            shape = None
        elif node.sizes is None:
            shape = (int(node.features.flat[0]),) if node.features is not None else None
        else:
            shape = (node.channels if node.channels is not None else -1,) + tuple(int(s[0]) for s in node.sizes)
        rows.append(ShapeRow(name, layer, shape, problem))
    return rows
