"""Why a network is invalid somewhere in its input range, and what would fix it.

For every node that is the *first* to fail at some input sizes, one :class:`Violation` names the
node, the axis, the failing input sizes, the size reaching the node at the smallest of them, the
size rule filled in, the cause in words and concrete fixes. Fixes are found by trying them: each
candidate (an input size from the valid set; a nearby kernel, padding, stride or dilation of the node
or of a layer upstream) is re-inferred over the whole range and kept only if it removes this failure
without breaking a size that worked.

Example:
    >>> from convsolve import load_config
    >>> report = load_config({"input": {"channels": 1, "size": 5},
    ...     "layers": [{"name": "c", "type": "conv2d", "out_channels": 1, "kernel": 7}]}).check()
    >>> print(report.violations[0].cause)
    the size reaching it (5) is smaller than the kernel (7), 2 short
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from .conventions import Padding
from .inference import Inference, NodeSizes, ValidSizes, infer
from .layers import Layer
from .network import INPUT, Network
from .sizesets import MAX_SIZES, SizeRange, SizeSet

__all__ = ["Violation", "Report", "diagnose", "input_fix"]

TUNABLE_FIELDS = ("kernel", "padding", "stride", "dilation", "output_padding")
MAX_STEP = 8
"""Candidate values are tried up to this far from the current one."""
MAX_UPSTREAM = 6
"""Layers upstream of a failure tried for fixes, nearest first."""
SEARCH_LIMIT = 4096
"""When no size in the range is valid, sizes up to this (or up to the range's end, at most
:data:`~convsolve.sizesets.MAX_SIZES`) are searched for the nearest valid one."""


@dataclass(frozen=True)
class Violation:
    """One node that is the first to fail at some input sizes."""

    node: str
    layer: str
    axes: tuple[str, ...]
    sizes: SizeSet | None
    at: tuple[int, ...] | None
    reaching: str
    formula: str
    cause: str
    fixes: tuple[str, ...]

    def __str__(self) -> str:
        return self.shown()

    def shown(self, shared: str = "") -> str:
        """The violation for people; a fix in ``shared`` (said once for several violations) is left out of its own."""
        where = "/".join(self.axes) if self.axes else "every input size"
        head = f"layer {self.node!r} ({self.layer})"
        if self.at is None:
            lines = [f"{head}: {self.cause}"]
        else:
            at = "x".join(map(str, self.at))
            lines = [f"{head}: output {where} invalid at input {at}" + (f" (fails at {self.sizes.describe()})" if self.sizes else "")]
            lines.append(f"  input reaching it: {self.reaching}; {self.formula}")
            lines.append(f"  cause: {self.cause}")
        own = [fix for fix in self.fixes if fix != shared]
        if own:
            lines.append(f"  fix: {'; or '.join(own)}" + ("; or the input below" if len(own) < len(self.fixes) else ""))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node, "layer": self.layer, "axes": list(self.axes),
            "sizes": None if self.sizes is None else self.sizes.to_dict(),
            "at": None if self.at is None else list(self.at), "reaching": self.reaching,
            "formula": self.formula, "cause": self.cause, "fixes": list(self.fixes),
        }


@dataclass(frozen=True)
class Report:
    """The outcome of ``check``: valid input sizes and every violation."""

    network: str
    source: str | None
    input: str
    valid_sizes: ValidSizes
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        """Valid at every input size of the range."""
        return not self.violations

    def __str__(self) -> str:
        name = self.source or self.network
        if self.ok:
            return f"{name}: valid at every input size in {self.input}"
        lines = [f"{name}: invalid — valid input sizes in {self.input}: {self.valid_sizes}"]
        shared = self.shared_fix()
        lines += [v.shown(shared) for v in self.violations]
        if shared:
            lines.append(f"fix for every layer above: {shared}")
        return "\n".join(lines)

    def shared_fix(self) -> str:
        """The fix that several violations share (the input sizes where the network is valid), said once; '' if none."""
        firsts = {v.fixes[0] if v.fixes else "" for v in self.violations}
        return firsts.pop() if len(self.violations) > 1 and len(firsts) == 1 else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "network": self.network, "file": self.source, "input": self.input, "valid": self.ok,
            "valid_sizes": self.valid_sizes.to_dict(), "violations": [v.to_dict() for v in self.violations],
        }


def diagnose(network: Network) -> Report:
    """Check ``network`` over its input range and explain every failure."""
    result = infer(network)
    valid = result.valid_sizes()
    violations: list[Violation] = []
    for problem in result.static:
        layer = network.layer(problem.node)
        violations.append(Violation(problem.node, layer.describe(), (), None, None, "", "", f"{problem.field}: {problem.message}", ()))
    fix = input_fix(network, valid)
    for name in network.order[1:]:
        node = result.nodes[name]
        violations += _node_violations(network, result, name, node, fix)
    return Report(network.name, network.source, network.input.describe(), valid, tuple(violations))


def _node_violations(network: Network, result: Inference, name: str, node: NodeSizes, input_fix: str) -> list[Violation]:
    layer = network.layer(name)
    sweep = result.sweep
    groups: dict[tuple[bytes, str, str], list[int]] = {}
    for axis, fails in enumerate(node.fails):
        if not fails.any():
            continue
        index = int(np.flatnonzero(fails)[0])
        reaching, formula, cause = _explain(network, result, name, axis, index)
        groups.setdefault((fails.tobytes(), formula, cause), []).append(axis)
    out = []
    for (_, formula, cause), axes in groups.items():
        fails = node.fails[axes[0]]
        index = int(np.flatnonzero(fails)[0])
        values = sweep.axes[axes[0]]
        rng = network.input.ranges[axes[0]]
        at = _point(network, result, axes[0], index)
        reaching, _, _ = _explain(network, result, name, axes[0], index)
        fixes = _fixes(network, result, name, axes)
        out.append(Violation(
            name, layer.describe(), tuple(network.axis_names[a] for a in axes),
            SizeSet.from_mask(values, fails, rng.lo, rng.hi), at, reaching, formula, cause,
            tuple([input_fix] if input_fix else []) + fixes,
        ))
    if node.joint_fails is not None and node.joint_fails.any():
        point = np.argwhere(node.joint_fails)[0]
        source = result.nodes[network.inputs_of(name)[0]]
        features = int(source.features[tuple(point)]) if source.features is not None else 0
        wanted = getattr(layer, "in_features", None)
        sizes = tuple(int(sweep.axes[0 if sweep.tied else a][point[0 if sweep.tied else a]]) for a in range(len(sweep.axes)))
        failing = None
        if sweep.tied:
            rng = network.input.ranges[0]
            failing = SizeSet.from_mask(sweep.axes[0], node.joint_fails, rng.lo, rng.hi)
        formula = f"{features} features reach it" + (f", in_features is {wanted}" if wanted is not None else "")
        cause = (
            f"{layer.type} needs exactly {wanted} input features; a flatten upstream makes the feature count depend on the input size"
            if wanted is not None else "the merged inputs have different feature counts"
        )
        advice = [input_fix] if input_fix else []
        advice.append("put an adaptive pool before the flatten so the feature count does not depend on the input size")
        out.append(Violation(name, layer.describe(), (), failing, sizes, f"{features} features", formula, cause, tuple(advice)))
    return out


def _point(network: Network, result: Inference, axis: int, index: int) -> tuple[int, ...]:
    """The input size (all axes) of a failure at ``index`` on ``axis``; other axes at their smallest valid size."""
    sweep = result.sweep
    if sweep.tied:
        return (int(sweep.axes[0][index]),) * network.ndim
    sizes = []
    for a, values in enumerate(sweep.axes):
        sizes.append(int(values[index]) if a == axis else int(values[0]))
    return tuple(sizes)


def _explain(network: Network, result: Inference, name: str, axis: int, index: int) -> tuple[str, str, str]:
    layer = network.layer(name)
    sources = network.inputs_of(name)
    sizes = [int(result.nodes[s].sizes[axis][index]) for s in sources]  # type: ignore[index]
    if layer.family == "merge":
        listed = ", ".join(f"{s!r} gives {n}" for s, n in zip(sources, sizes))
        rule = "equal sizes (or 1, broadcasting)" if getattr(layer, "broadcast", False) else "equal sizes"
        return listed, " != ".join(map(str, sizes)), f"the inputs of {layer.type} must have {rule}: {listed}"
    reaching = str(sizes[0])
    if layer.family == "linear":
        wanted = getattr(layer, "in_features")
        return reaching, f"{sizes[0]} != {wanted}", f"linear acts on the last axis and needs it to be in_features ({wanted})"
    formula, cause = layer.explain(axis, sizes[0])
    shrink = _upstream_strides(network, result, name, axis, index)
    if shrink and layer.window(axis) is not None:
        cause += f"; strides upstream shrank the input {_point(network, result, axis, index)[axis]} to {sizes[0]}: {shrink}"
    return reaching, formula, cause


def _upstream_strides(network: Network, result: Inference, name: str, axis: int, index: int) -> str:
    steps = []
    node = network.inputs_of(name)[0]
    while node != INPUT:
        layer = network.layer(node)
        stride = getattr(layer, "stride", None)
        source = network.inputs_of(node)[0]
        if stride is not None and stride[axis] > 1:
            before = int(result.nodes[source].sizes[axis][index])  # type: ignore[index]
            after = int(result.nodes[node].sizes[axis][index])  # type: ignore[index]
            steps.append(f"{node} (stride {stride[axis]}) {before}->{after}")
        node = source
    return ", ".join(reversed(steps))


def input_fix(network: Network, valid: ValidSizes) -> str:
    """The input sizes at which ``network`` is valid, searched past its range when none in it is ("" if none)."""
    if not valid.empty:
        return f"input in {valid}" if network.input.tied else f"input {valid}"
    if not network.input.tied:
        return ""
    hi = min(max(SEARCH_LIMIT, network.input.ranges[0].hi), MAX_SIZES)  # one range holds at most MAX_SIZES sizes
    found = infer(network.with_input([SizeRange(1, hi)] * network.ndim, tied=True)).valid_sizes()
    if found.empty:
        return ""
    return f"input in {found} (none of {network.input.ranges[0]} is valid; searched 1..{hi})"


def _fixes(network: Network, result: Inference, name: str, axes: list[int]) -> tuple[str, ...]:
    """Nearest single-field changes of this node or a layer upstream that remove this failure."""
    blamed = _blamable(network, result)
    upstream = [name] + sorted(nx.ancestors(network.graph, name) - {INPUT}, key=network.order.index, reverse=True)
    found: list[str] = []
    tried = 0
    for node in upstream:
        layer = network.layer(node)
        if not any(hasattr(layer, f) for f in TUNABLE_FIELDS):
            continue
        tried += 1
        if tried > MAX_UPSTREAM:
            break
        for field in TUNABLE_FIELDS:
            for text, candidate in _candidates(layer, field, axes):
                changed = infer(network.replace_layer(node, candidate))
                if changed.static or changed.nodes[name].fails[axes[0]].any() or _new_failures(changed, blamed):
                    continue
                whole = " (then valid at every size)" if changed.valid_mask().all() else ""
                found.append(f"{node}.{field} = {text}{whole}")
                break
    return tuple(found)


def _blamable(network: Network, result: Inference) -> dict[str, list[np.ndarray]]:
    """Per node and axis, the sizes at which a new failure there would be the candidate's fault.

    That is where the node was reached (its inputs were valid) and did not already fail; sizes at
    which it was not reached may fail once an upstream failure is fixed, which is no regression.
    """
    blamable = {}
    for name in network.order[1:]:
        node = result.nodes[name]
        sources = [result.nodes[s] for s in network.inputs_of(name)]
        blamable[name] = [
            np.logical_and.reduce([s.ok[a] for s in sources]) & ~node.fails[a] for a in range(len(node.fails))
        ]
    return blamable


def _new_failures(changed: Inference, blamable: dict[str, list[np.ndarray]]) -> bool:
    return any((changed.nodes[name].fails[a] & mask).any() for name, masks in blamable.items() for a, mask in enumerate(masks))


def _candidates(layer: Layer, field: str, axes: list[int]) -> Iterator[tuple[str, Layer]]:
    """Layers with ``field`` moved 1, 2, ... steps away on ``axes``, nearest first (smaller first on ties)."""
    current = getattr(layer, field, None)
    if current is None:
        return
    if isinstance(current, Padding):
        if current.dynamic:
            return
        # padding beyond 'same' (E // 2 a side) grows the image: not advice worth giving
        windows = [layer.window(a) for a in range(layer.ndim)]
        limit = [None if window is None else max(*current.pairs[a], window // 2) for a, window in enumerate(windows)]
        for step in range(1, MAX_STEP + 1):
            for sign in (-1, 1):
                pairs = list(current.pairs)
                for a in axes:
                    before, after = pairs[a]
                    pairs[a] = (before + sign * step, after + sign * step)
                within = all(bound is None or max(pairs[a]) <= bound for a, bound in zip(axes, (limit[a] for a in axes)))
                if within and all(min(p) >= 0 for p in pairs):
                    value = Padding(tuple(pairs))
                    yield _text(value.to_config()), layer.replaced(padding=value)
        return
    minimum = 0 if field == "output_padding" else 1
    for step in range(1, MAX_STEP + 1):
        for sign in (-1, 1):
            values = list(current)
            for a in axes:
                values[a] = current[a] + sign * step
            if min(values) >= minimum:
                yield _text(values[0] if len(set(values)) == 1 else values), layer.replaced(**{field: tuple(values)})


def _text(value: Any) -> str:
    return str(value) if not isinstance(value, list) else "[" + ", ".join(map(str, value)) + "]"
