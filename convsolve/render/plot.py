"""Every layer's output size against the input size, over the whole input range.

:func:`size_plot` gathers what the picture shows from one inference over the range (no drawing,
no matplotlib): one line per group of layers whose sizes agree at every input size, the runs of
input sizes at which the network is invalid with the layer that fails first there, and the sizes
at which a merge's inputs disagree. :meth:`SizePlot.figure` draws it.

Square inputs give one panel when every layer treats every axis alike, else one panel per axis;
independent ``height``/``width`` ranges give one panel per axis. A config whose input is a single
size is plotted over ``1..max(64, 4 * size)``, with that size marked, since one point shows nothing.

Example:
    >>> from convsolve import load_config
    >>> net = load_config({"name": "two_pools", "input": {"channels": 1, "size": {"range": [1, 64]}},
    ...     "layers": [{"name": "p", "type": "max_pool2d", "kernel": 2}, {"name": "q", "type": "max_pool2d", "kernel": 2}]})
    >>> print(size_plot(net))
    two_pools: output size of 3 nodes in 3 lines over input 1..64 (every spatial axis), valid at 4..64; log scale: input and output
      invalid (shaded) at 1: 'p' (max_pool2d, kernel 2, stride 2, padding 0) fails first
      invalid (shaded) at 2..3: 'q' (max_pool2d, kernel 2, stride 2, padding 0) fails first
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidAssignment
from ..inference import infer
from ..network import INPUT, Network
from ..sizesets import MAX_SIZE, MAX_SIZES, SizeRange, SizeSet
from .figures import FIGURE_FORMATS, figure_bytes, new_figure, plain_text
from .output import Written, check_output, write_output
from .subject import Pictured, Subject, subject_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Disagreement", "Failure", "SizeLine", "SizePlot", "size_plot"]

MAX_LINES = 14
"""More groups than this are coloured and listed by stage (consecutive groups in topological order)."""
LOG_RATIO = 16
"""An axis is drawn on a log scale when its largest value is at least this many times its smallest."""
WIDEN_MIN, WIDEN_FACTOR = 64, 4
"""A single configured input size n is plotted over 1..max(WIDEN_MIN, WIDEN_FACTOR * n)."""
MAX_NAMED = 3
"""Failing layers named in the plot itself; the rest are counted."""
INVALID_COLOR, MERGE_COLOR = "#f3b6b6", "#c62828"


@dataclass(frozen=True, eq=False)
class SizeLine:
    """Nodes whose output sizes agree at every input size, drawn as one line (NaN where not valid)."""

    nodes: tuple[str, ...]
    sizes: tuple[np.ndarray, ...]
    """Per panel, the output size at each input size of the panel, as floats with NaN where invalid."""
    stage: int
    """The colour and legend entry it belongs to."""


@dataclass(frozen=True, eq=False)
class Failure:
    """A layer that is the first to fail at some input sizes of one panel."""

    node: str
    layer: str
    panel: int
    sizes: SizeSet
    mask: np.ndarray
    """Over the panel's input sizes: where it fails first."""

    def __str__(self) -> str:
        return f"invalid (shaded) at {self.sizes}: {self.node!r} ({self.layer}) fails first"


@dataclass(frozen=True, eq=False)
class Disagreement:
    """A merge whose inputs have different sizes at some input sizes of one panel."""

    node: str
    inputs: tuple[str, ...]
    panel: int
    at: np.ndarray
    """The input sizes at which the inputs disagree."""
    sizes: np.ndarray
    """``len(at)`` x ``len(inputs)``: what each input gives there."""

    def __str__(self) -> str:
        first = ", ".join(f"{s!r} gives {int(n)}" for s, n in zip(self.inputs, self.sizes[0]))
        return f"inputs of {self.node!r} disagree at {len(self.at)} sizes (at {int(self.at[0])}: {first})"


@dataclass(frozen=True, eq=False)
class SizePlot:
    """What the size plot shows; :meth:`figure` draws it, :meth:`save` writes it."""

    network: str
    source: str | None
    subject: str
    """For a space: which of its networks is shown (see :func:`~convsolve.render.subject.subject_of`)."""
    assignment: dict[str, Any] | None
    input: str
    valid_sizes: str
    """The valid input sizes over the plotted range, in words."""
    panels: tuple[str, ...]
    """Panel titles: ``height = width``, or one axis name each."""
    inputs: tuple[np.ndarray, ...]
    """Per panel, the input sizes (the x axis)."""
    valid: tuple[np.ndarray, ...]
    """Per panel, whether the whole network is valid at each input size."""
    lines: tuple[SizeLine, ...]
    stages: tuple[str, ...]
    """Legend labels, one per stage."""
    failures: tuple[Failure, ...]
    disagreements: tuple[Disagreement, ...]
    flattened: int
    """Nodes with no spatial size (after a flatten), not drawn."""
    configured: tuple[int, ...] | None
    """The config's single input size, when the range was widened around it."""
    log_x: bool
    log_y: bool

    def __str__(self) -> str:
        drawn = sum(len(line.nodes) for line in self.lines)
        hidden = f" ({self.flattened} flattened, not shown)" if self.flattened else ""
        scale = [name for name, on in (("input", self.log_x), ("output", self.log_y)) if on]
        head = (
            f"{self.network}: output size of {drawn} nodes{hidden} in {len(self.lines)} lines over input {self.input}, "
            f"valid at {self.valid_sizes}"
        )
        if self.subject:
            head += f"; {self.subject}"
        if scale:
            head += f"; log scale: {' and '.join(scale)}"
        lines = [head]
        prefix = len(self.panels) > 1
        lines += [f"  {self.panels[f.panel] + ': ' if prefix else ''}{f}" for f in self.failures]
        lines += [f"  {self.panels[d.panel] + ': ' if prefix else ''}{d}" for d in self.disagreements]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "network": self.network, "file": self.source, "input": self.input, "valid_sizes": self.valid_sizes,
            "assignment": self.assignment,
            "panels": list(self.panels), "lines": [list(line.nodes) for line in self.lines],
            "failures": [{"node": f.node, "layer": f.layer, "panel": self.panels[f.panel], "sizes": f.sizes.to_dict()} for f in self.failures],
            "disagreements": [
                {"node": d.node, "inputs": list(d.inputs), "panel": self.panels[d.panel], "at": d.at.tolist(), "sizes": d.sizes.tolist()}
                for d in self.disagreements
            ],
            "flattened": self.flattened, "log_x": self.log_x, "log_y": self.log_y,
        }

    def figure(self) -> Figure:
        """The plot as a matplotlib figure (needs the ``plot`` extra)."""
        wide = len(self.panels) > 1
        rows = -(-(len(self.stages) + 3) // 3)
        figure = new_figure(7.0 * len(self.panels) if wide else 11.0, 5.6 + 0.2 * rows)
        figure.set_layout_engine("constrained")
        axes = figure.subplots(1, len(self.panels), squeeze=False)[0]
        colors = _colors(len(self.stages))
        for panel, ax in enumerate(axes):
            self._draw_panel(ax, panel, colors)
        handles, labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
        title = f"{self.network}: output size of every layer against the input size (valid at {self.valid_sizes})"
        figure.suptitle(title + (f"\n{self.subject}" if self.subject else ""), fontsize=11)
        return plain_text(figure)

    def save(self, path: str, *, overwrite: bool = False) -> Written:
        """Write the figure to ``path`` (.png, .svg or .pdf, by its suffix)."""
        fmt = check_output(path, overwrite=overwrite, formats=FIGURE_FORMATS)
        content = figure_bytes(self.figure(), fmt)
        write_output(path, content, overwrite=overwrite)
        return Written(str(path), len(content), self)

    def _draw_panel(self, ax: Axes, panel: int, colors: list[Any]) -> None:
        x = self.inputs[panel]
        edges = _cell_edges(x, self.log_x)
        labelled: set[int] = set()
        for lo, hi in _runs(~self.valid[panel]):
            ax.axvspan(edges[lo], edges[hi + 1], color=INVALID_COLOR, alpha=0.55, lw=0, zorder=0,
                       label="invalid input size" if not labelled else None)
            labelled.add(-1)
        for line in self.lines:
            y = line.sizes[panel]
            first = line.stage not in labelled
            labelled.add(line.stage)
            ax.plot(x, y, color=colors[line.stage], lw=1.6, label=self.stages[line.stage] if first else None, zorder=2)
            alone = _isolated(~np.isnan(y))
            if alone.any():
                ax.plot(x[alone], y[alone], "o", ms=3, color=colors[line.stage], zorder=2)
        self._draw_disagreements(ax, panel)
        self._draw_failures(ax, panel, edges)
        if self.configured is not None:
            ax.axvline(self.configured[panel], color="black", ls=":", lw=1.2, label=f"config input {self.configured[panel]}", zorder=3)
        if self.log_x:
            ax.set_xscale("log", base=2)
        if self.log_y:
            ax.set_yscale("log", base=2)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(_integer_formatter())
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel(f"input size ({self.panels[panel]})")
        ax.set_ylabel("output size")
        ax.grid(True, which="major", alpha=0.3)
        if len(self.panels) > 1:
            ax.set_title(self.panels[panel], fontsize=10)

    def _draw_disagreements(self, ax: Axes, panel: int) -> None:
        mine = [d for d in self.disagreements if d.panel == panel]
        if not mine:
            return
        names = ", ".join(repr(d.node) for d in mine[:MAX_NAMED]) + (f" and {len(mine) - MAX_NAMED} more" if len(mine) > MAX_NAMED else "")
        for index, d in enumerate(mine):
            ax.vlines(d.at, d.sizes.min(axis=1), d.sizes.max(axis=1), color=MERGE_COLOR, lw=1.0, zorder=4)
            label = f"inputs of {names} disagree" if index == 0 else None
            ax.plot(np.repeat(d.at, d.sizes.shape[1]), d.sizes.ravel(), "x", ms=3.5, mew=0.9, color=MERGE_COLOR, zorder=4, label=label)

    def _draw_failures(self, ax: Axes, panel: int, edges: np.ndarray) -> None:
        mine = sorted((f for f in self.failures if f.panel == panel), key=lambda f: -len(f.sizes))
        for rank, failure in enumerate(mine[:MAX_NAMED]):
            lo, hi = max(_runs(failure.mask), key=lambda run: run[1] - run[0])
            scale = np.log if self.log_x else np.asarray
            where = (scale(edges[[lo, hi + 1]]).mean() - scale(edges[0])) / (scale(edges[-1]) - scale(edges[0]))
            align = "left" if where < 0.2 else "right" if where > 0.8 else "center"  # keep the label inside the axes
            ax.annotate(
                f"{failure.node} fails first\n({failure.layer})\nat {failure.sizes}", xy=(float(where), 0.97 - 0.13 * rank),
                xycoords="axes fraction", ha=align, va="top", fontsize=8, color=MERGE_COLOR, zorder=5,
                bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": MERGE_COLOR, "lw": 0.8, "alpha": 0.9},
            )
        if len(mine) > MAX_NAMED:
            rest = ", ".join(f.node for f in mine[MAX_NAMED:])
            ax.text(0.01, 0.01, f"also failing first somewhere: {rest}", transform=ax.transAxes, fontsize=7, color=MERGE_COLOR)


def size_plot(loaded: Pictured, *, timeout: float | None = None) -> SizePlot:
    """What the size plot of a network (or of a space, through one of its networks) shows.

    Parameters:
        loaded: a :class:`~convsolve.network.Network`, a :class:`~convsolve.space.Space` or a
            :class:`~convsolve.render.subject.Subject`; over its own input range.
        timeout: seconds for finding a valid assignment of a space.

    Raises:
        InvalidAssignment: a space none of whose assignments makes a network.
    """
    subject = subject_of(loaded, timeout=timeout)
    network = subject.network
    if network is None:
        raise InvalidAssignment(f"nothing to plot: {subject.chosen}", file=subject.source)
    configured = None
    if all(r.lo == r.hi for r in network.input.ranges):
        configured = tuple(r.lo for r in network.input.ranges)
        wider = [_widened(r.lo) for r in network.input.ranges]
        network = network.with_input(wider, network.input.tied)
    return _SizePlotBuilder(network, subject, configured).build()


def _widened(size: int) -> SizeRange:
    """``1..max(64, 4 * size)`` holding ``size``: every size, or every k-th when that would be more than MAX_SIZES."""
    hi = min(max(WIDEN_MIN, WIDEN_FACTOR * size), MAX_SIZE)
    step = -(-hi // MAX_SIZES)
    return SizeRange(1 + (size - 1) % step, hi, step)


class _SizePlotBuilder:
    def __init__(self, network: Network, subject: Subject, configured: tuple[int, ...] | None) -> None:
        self.network = network
        self.subject = subject
        self.configured = configured
        self.result = infer(network)
        self.spatial = [name for name in network.order if self.result.nodes[name].sizes is not None]

    def build(self) -> SizePlot:
        network, sweep = self.network, self.result.sweep
        together = sweep.tied and all(
            all(np.array_equal(node.sizes[0], s) and np.array_equal(node.ok[0], o) for s, o in zip(node.sizes or (), node.ok))  # type: ignore[index]
            for node in (self.result.nodes[name] for name in self.spatial)
        )
        axes = [0] if together else list(range(network.ndim))
        panels = (" = ".join(network.axis_names),) if together else network.axis_names
        valid = self._valid(axes)
        lines, stages = self._lines(axes)
        failures = [f for panel, axis in enumerate(axes) for f in self._failures(panel, axis, valid[panel])]
        disagreements = [d for panel, axis in enumerate(axes) for d in self._disagreements(panel, axis)]
        inputs = tuple(sweep.axes[a] for a in axes)
        sizes = np.concatenate([line.sizes[p] for line in lines for p in range(len(axes))]) if lines else np.array([1.0])
        sizes = sizes[~np.isnan(sizes) & (sizes > 0)]
        return SizePlot(
            network.name, self.subject.source, self.subject.describe(), self.subject.assignment_dict(), network.input.describe(),
            str(self.result.valid_sizes()),
            tuple(panels), inputs, valid, tuple(lines), tuple(stages), tuple(failures), tuple(disagreements),
            len(network.order) - len(self.spatial), self.configured,
            log_x=bool(max(x.max() / x.min() for x in inputs) >= LOG_RATIO),
            log_y=bool(len(sizes) and sizes.max() / sizes.min() >= LOG_RATIO),
        )

    def _valid(self, axes: list[int]) -> tuple[np.ndarray, ...]:
        mask = self.result.valid_mask()
        if self.result.sweep.tied:
            return tuple(mask for _ in axes)
        return tuple(np.asarray(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis))) for axis in axes)

    def _lines(self, axes: list[int]) -> tuple[list[SizeLine], list[str]]:
        groups: dict[bytes, list[str]] = {}
        for name in self.spatial:
            node = self.result.nodes[name]
            key = b"|".join(np.where(node.ok[a], node.sizes[a], -1).tobytes() for a in axes)  # type: ignore[index]
            groups.setdefault(key, []).append(name)
        members = list(groups.values())
        if len(members) <= MAX_LINES:
            stage_of = list(range(len(members)))
            stages = [_names(nodes) for nodes in members]
        else:
            bounds = np.linspace(0, len(members), MAX_LINES + 1).round().astype(int)
            stage_of = [int(np.searchsorted(bounds, i, side="right")) - 1 for i in range(len(members))]
            stages = [_names([n for nodes in members[lo:hi] for n in nodes]) for lo, hi in itertools.pairwise(bounds)]
        lines = []
        for nodes, stage in zip(members, stage_of):
            node = self.result.nodes[nodes[0]]
            sizes = tuple(np.where(node.ok[a], node.sizes[a], np.nan) for a in axes)  # type: ignore[index]
            lines.append(SizeLine(tuple(nodes), sizes, stage))
        return lines, stages

    def _failures(self, panel: int, axis: int, valid: np.ndarray) -> list[Failure]:
        """Who fails first at each invalid input size of the panel: the earliest such node in topological order."""
        network, result = self.network, self.result
        tied = result.sweep.tied
        static = {problem.node for problem in result.static}
        first = np.full(len(valid), -1)
        for position in range(len(network.order) - 1, 0, -1):
            name = network.order[position]
            node = result.nodes[name]
            hit = np.logical_or.reduce(node.fails) if tied else node.fails[axis].copy()
            if node.joint_fails is not None:
                joint = node.joint_fails
                hit = hit | (joint if tied else joint.any(axis=tuple(a for a in range(joint.ndim) if a != axis)))
            if name in static:
                hit = np.ones(len(valid), dtype=bool)
            first[hit] = position
        x, rng = result.sweep.axes[axis], network.input.ranges[axis]
        out = []
        for position in sorted(set(first[~valid].tolist()) - {-1}):
            name = network.order[position]
            mask = ~valid & (first == position)
            out.append(Failure(name, network.layer(name).describe(), panel, SizeSet.from_mask(x, mask, rng.lo, rng.hi), mask))
        return out

    def _disagreements(self, panel: int, axis: int) -> list[Disagreement]:
        network, result = self.network, self.result
        x = result.sweep.axes[axis]
        out = []
        for name in self.spatial:
            if name == INPUT or network.layer(name).family != "merge":
                continue
            fails = result.nodes[name].fails[axis]
            if fails.any():
                inputs = network.inputs_of(name)
                sizes = np.stack([result.nodes[s].sizes[axis][fails] for s in inputs], axis=1)  # type: ignore[index]
                out.append(Disagreement(name, inputs, panel, x[fails], sizes))
        return out


def _names(nodes: list[str]) -> str:
    """``a``, ``a, b``, or ``a … z (n nodes)``."""
    if len(nodes) <= 2:
        return ", ".join(nodes)
    return f"{nodes[0]} … {nodes[-1]} ({len(nodes)} nodes)"


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of true entries, as inclusive index pairs.

    Example:
        >>> _runs(np.array([True, True, False, True]))
        [(0, 1), (3, 3)]
    """
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    change = np.flatnonzero(np.diff(padded))
    return [(int(lo), int(hi) - 1) for lo, hi in zip(change[::2], change[1::2])]


def _isolated(present: np.ndarray) -> np.ndarray:
    """Points with no present neighbour, which a line alone would not show."""
    left = np.concatenate([[False], present[:-1]])
    right = np.concatenate([present[1:], [False]])
    return np.asarray(present & ~left & ~right, dtype=bool)


def _cell_edges(x: np.ndarray, log: bool) -> np.ndarray:
    """Boundaries between consecutive input sizes (geometric on a log axis), so one size shades a visible band."""
    if len(x) == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    values = x.astype(float)
    inner = np.sqrt(values[:-1] * values[1:]) if log else (values[:-1] + values[1:]) / 2
    first = values[0] ** 2 / inner[0] if log else 2 * values[0] - inner[0]
    last = values[-1] ** 2 / inner[-1] if log else 2 * values[-1] - inner[-1]
    return np.concatenate([[first], inner, [last]])


def _colors(count: int) -> list[Any]:
    """One colour per stage (there are at most :data:`MAX_LINES`): tab20's dark shades, then its light ones."""
    import matplotlib

    palette = matplotlib.colormaps["tab20"]
    return [palette((2 * i) % 20 + (2 * i) // 20) for i in range(count)]


def _integer_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:g}")
