"""The layer graph drawn top to bottom, each node with its kind, hyperparameters and output size.

Nodes sit in rows by topological generation (a node's row is one below its lowest input's), ordered
within a row by the mean position of their inputs so that branches stay apart. Edges between
adjacent rows are straight; longer ones (skip connections) run along lanes to the right, the
shorter inside, so they cross no node. Layout is computed here, without Graphviz; matplotlib draws.

A node is red when it is invalid at the drawn input size (``at``): its own size rule fails there or,
for a merge, its inputs disagree (the edges into it are red too); a dashed red outline marks a node
that is valid at ``at`` but fails first at other sizes of the range. A search space is drawn
through one of its networks (see :mod:`convsolve.render.subject`), and every node lists the
parameters it depends on with their pruned domains (:func:`convsolve.ops.prune`).

Example:
    >>> from convsolve import load_config
    >>> net = load_config({"name": "skip", "input": {"channels": 1, "size": {"range": [4, 64]}}, "layers": [
    ...     {"name": "down", "type": "max_pool2d", "kernel": 2},
    ...     {"name": "up", "type": "interpolate", "scale_factor": 2},
    ...     {"name": "sum", "type": "add", "inputs": ["input", "up"]}]})
    >>> print(drawing(net, at=[5]))
    skip at 5x5: 4 nodes; invalid at 5x5: sum
    >>> print(drawing(net, at=[8]))
    skip at 8x8: 4 nodes; invalid at 8x8: none
      fail first elsewhere in 4..64 (every spatial axis): sum
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from ..errors import SolverTimeout, UsageError
from ..inference import Inference, NodeSizes, infer
from ..network import INPUT, Network
from ..sizesets import SizeRange, SizeSet
from ..space import Space
from .figures import FIGURE_FORMATS, figure_bytes, new_figure, plain_text
from .output import Written, check_output, write_output
from .subject import Pictured, Subject, subject_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Drawing", "DrawnNode", "drawing"]

FONT = 7.0
"""Label size in points; the layout below is in inches."""
LINE_HEIGHT = FONT * 1.4 / 72
CHAR_WIDTH = FONT * 0.62 / 72
"""A generous average glyph width of DejaVu Sans, so labels fit their boxes."""
PAD, GAP_X, GAP_Y, LANE, MARGIN = 0.07, 0.3, 0.26, 0.14, 0.3
HEADER = 0.75
"""Inches above the first row: title and colour key."""

RED, RED_FILL, GREY = "#c62828", "#f8d0d0", "#9e9e9e"
FAMILY_FILL = {"spatial": "#dbe9f6", "merge": "#fde2c4", "preserve": "#eeeeee", "flatten": "#e6dcf2", "linear": "#e6dcf2"}
POOL_FILL = "#dcefd8"
DOMAIN_COLOR = "#1a4e8a"
KEY = (("conv", FAMILY_FILL["spatial"], "black", "-"), ("pool", POOL_FILL, "black", "-"), ("merge", FAMILY_FILL["merge"], "black", "-"),
       ("other", FAMILY_FILL["preserve"], "black", "-"), ("invalid here", RED_FILL, RED, "-"),
       ("fails elsewhere", "white", RED, "--"), ("not reached", "white", GREY, "--"))
"""The colour key: label, fill, edge colour and line style."""
KEY_SPACING = 0.4


@dataclass(frozen=True)
class DrawnNode:
    """One node as drawn: its label lines, state and place in the layout."""

    name: str
    kind: str
    details: str
    """Hyperparameters in words (``kernel 3, stride 2, padding 1``)."""
    shape: str
    """Output shape at the drawn size (channels x height x width), ``-`` when invalid or not reached."""
    state: str
    """``ok``, ``invalid`` (at the drawn size), ``unreached`` (an input is invalid there) or ``unknown`` (no network)."""
    problem: str = ""
    """Why it is invalid at the drawn size."""
    fails_elsewhere: str = ""
    """The input sizes of the range at which it fails first, when it does."""
    domains: tuple[str, ...] = ()
    """For a space: ``kernel ∈ {3, 5}`` for each parameter the node depends on."""
    row: int = 0
    slot: int = 0
    family: str = ""

    def lines(self) -> list[str]:
        """The label, line by line: name and shape, kind and hyperparameters, then the domains."""
        head = self.name if not self.shape else f"{self.name}  ·  {self.shape}"
        kind = self.kind + (f": {self.details}" if self.details else "")
        extra = [text for text in (self.problem, self.fails_elsewhere and f"fails first at {self.fails_elsewhere}") if text]
        return [head, kind, *extra, *self.domains]

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.name, "kind": self.kind, "details": self.details, "shape": self.shape, "state": self.state,
                "problem": self.problem or None, "fails_first_at": self.fails_elsewhere or None, "domains": list(self.domains)}


@dataclass(frozen=True)
class Drawing:
    """What the drawing shows; :meth:`figure` draws it, :meth:`save` writes it."""

    network: str
    source: str | None
    subject: str
    assignment: dict[str, Any] | None
    at: tuple[int, ...] | None
    input: str
    nodes: tuple[DrawnNode, ...]
    edges: tuple[tuple[str, str, bool], ...]
    """``(source, target, mismatched)``: mismatched when the target is a merge whose inputs disagree at ``at``."""
    domains_note: str = ""
    """For a space: how the domains were pruned, or why they were not."""

    @property
    def at_text(self) -> str:
        return "" if self.at is None else "x".join(map(str, self.at))

    def __str__(self) -> str:
        invalid = [n.name for n in self.nodes if n.state == "invalid"]
        elsewhere = [n.name for n in self.nodes if n.fails_elsewhere]
        where = f" at {self.at_text}" if self.at is not None else ""
        head = f"{self.network}{where}: {len(self.nodes)} nodes"
        if self.at is not None:
            head += f"; invalid at {self.at_text}: {', '.join(invalid) or 'none'}"
        lines = [head]
        if elsewhere:
            lines.append(f"  fail first elsewhere in {self.input}: {', '.join(elsewhere)}")
        if self.subject:
            lines.append(f"  {self.subject}")
        if self.domains_note:
            lines.append(f"  {self.domains_note}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "network": self.network, "file": self.source, "at": None if self.at is None else list(self.at),
            "input": self.input, "assignment": self.assignment, "domains": self.domains_note or None,
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [{"source": u, "target": v, "mismatched": bad} for u, v, bad in self.edges],
        }

    def figure(self) -> Figure:
        """The drawing as a matplotlib figure (needs the ``plot`` extra)."""
        return _Painter(self).paint()

    def save(self, path: str, *, overwrite: bool = False) -> Written:
        """Write the figure to ``path`` (.png, .svg or .pdf, by its suffix)."""
        fmt = check_output(path, overwrite=overwrite, formats=FIGURE_FORMATS)
        content = figure_bytes(self.figure(), fmt)
        write_output(path, content, overwrite=overwrite)
        return Written(str(path), len(content), self)


def drawing(
    loaded: Pictured, at: Sequence[int] | None = None, *, domains: Mapping[str, Sequence[Any]] | None = None,
    timeout: float | None = None,
) -> Drawing:
    """What the drawing of a network (or of a space, through one of its networks) shows.

    Parameters:
        loaded: a :class:`~convsolve.network.Network`, :class:`~convsolve.space.Space` or
            :class:`~convsolve.render.subject.Subject`.
        at: the input size whose output sizes are written on the nodes: one per spatial axis, or one
            for all. Default: the smallest valid input size of the range, or the range's smallest
            size when none is valid.
        domains: a space's pruned domains, when already known; else they are computed here.
        timeout: seconds for the solver (finding the pictured assignment, pruning); when it runs out
            the drawing shows the unpruned domains and says so.

    Raises:
        UsageError: ``at`` has the wrong number of sizes or a size below 1.
    """
    subject = subject_of(loaded, timeout=timeout)
    network, space = subject.network, subject.space
    note = ""
    shown_domains: dict[str, tuple[Any, ...]] = {}
    if space is not None:
        shown_domains, note = _domains(space, domains, timeout)
    if network is None:
        assert space is not None, "a subject without a network stands for a space"
        layout = _layout(space.graph, space.order)
        nodes = [_unknown_node(subject, name, shown_domains, layout[name]) for name in space.order]
        edges = tuple((u, v, False) for u, v in space.graph.edges)
        return Drawing(subject.name, subject.source, subject.describe(), subject.assignment_dict(), None,
                       space.describe_input(), tuple(nodes), edges, note)
    layout = _layout(network.graph, network.order)
    sizes = _at(network, at)
    here = infer(network.with_input([SizeRange(s, s) for s in sizes], tied=False))
    ranged = infer(network)
    nodes = [_drawn_node(network, subject, name, here, ranged, shown_domains, layout[name]) for name in network.order]
    state = {node.name: node.state for node in nodes}
    edges = tuple(
        (u, v, state[v] == "invalid" and network.layer(v).family == "merge")
        for u in network.order for v in network.graph.successors(u)
    )
    return Drawing(network.name, subject.source, subject.describe(), subject.assignment_dict(), tuple(sizes),
                   network.input.describe(), tuple(nodes), edges, note)


def _at(network: Network, at: Sequence[int] | None) -> list[int]:
    ndim = network.ndim
    if at is None:
        smallest = network.valid_sizes().min
        return list(smallest) if smallest is not None else [r.lo for r in network.input.ranges]
    sizes = list(at) * ndim if len(at) == 1 else list(at)
    if len(sizes) != ndim or any(s < 1 for s in sizes):
        raise UsageError(f"--at {'x'.join(map(str, at))}: give one input size >= 1, or {ndim} joined by 'x'", field="--at")
    return sizes


def _domains(space: Space, known: Mapping[str, Sequence[Any]] | None, timeout: float | None) -> tuple[dict[str, tuple[Any, ...]], str]:
    if known is not None:
        return {name: tuple(values) for name, values in known.items()}, f"domains pruned over {space.input.describe()}"
    from .. import ops

    try:
        pruned = ops.prune(space, timeout=timeout)
    except SolverTimeout:
        return {name: p.values for name, p in space.params.items()}, f"domains as written: pruning stopped after {timeout:g} s"
    return dict(pruned.domains), f"domains pruned over {space.input.describe()} ({pruned.valid:,} valid assignments)"


def _domain_lines(subject: Subject, node: str, domains: Mapping[str, tuple[Any, ...]]) -> tuple[str, ...]:
    space = subject.space
    if space is None or node == INPUT:
        return ()
    lines = []
    for name in space.layer_params(node):
        short = name[len(node) + 1:] if name.startswith(node + ".") else name
        values, before = domains.get(name, ()), space.params[name].values
        removed = len(before) - len(values)
        lines.append(f"{short} ∈ {values_text(values)}" + (f"  ({removed} of {len(before)} pruned)" if removed and values else ""))
    return tuple(lines)


def values_text(values: Sequence[Any]) -> str:
    """``{3, 5}``, ``{1..64}``, ``{2..64 step 2}``, or the first few and the last.

    Example:
        >>> values_text([1, 2, 3, 4]), values_text([3, 5]), values_text([]), values_text([1, 2, 5, 9, 10, 12, 30, 31])
        ('{1..4}', '{3, 5}', '{} (none valid)', '{1, 2, 5, 9, …, 31}')
    """
    if not values:
        return "{} (none valid)"
    items = list(values)
    if len(items) >= 4 and all(type(v) is int for v in items):
        steps = {b - a for a, b in itertools.pairwise(items)}
        if len(steps) == 1:
            step = steps.pop()
            return f"{{{items[0]}..{items[-1]}{'' if step == 1 else f' step {step}'}}}"
    shown = [str(v).lower() if isinstance(v, bool) else str(v) for v in items]
    if len(shown) > 6:
        shown = shown[:4] + ["…", shown[-1]]
    return "{" + ", ".join(shown) + "}"


def _drawn_node(
    network: Network, subject: Subject, name: str, here: Inference, ranged: Inference,
    domains: Mapping[str, tuple[Any, ...]], place: tuple[int, int],
) -> DrawnNode:
    node = here.nodes[name]
    static = [p for p in here.static if p.node == name]
    if name == INPUT:
        kind, details, family = "input", "", "input"
    else:
        layer = network.layer(name)
        kind, _, details = layer.describe().partition(", ")
        family = "pool" if "pool" in layer.type else layer.family
    fails = bool(static) or any(bool(f[0]) for f in node.fails) or (node.joint_fails is not None and bool(node.joint_fails.flat[0]))
    reached = all(bool(o[0]) for o in node.ok) and (node.joint_ok is None or bool(node.joint_ok.flat[0]))
    state = "invalid" if fails else "ok" if reached else "unreached"
    problem = _problem(network, here, name) if fails else ""
    shape = _shape(node) if state == "ok" else "-"
    return DrawnNode(name, kind, details, shape, state, problem, _fails_elsewhere(network, ranged, name, fails),
                     _domain_lines(subject, name, domains), place[0], place[1], family)


def _problem(network: Network, here: Inference, name: str) -> str:
    """Why node ``name`` is invalid at the drawn size, in the words of its own size rule."""
    static = [f"{p.field}: {p.message}" for p in here.static if p.node == name]
    if static:
        return "; ".join(static)
    layer, sources = network.layer(name), network.inputs_of(name)
    node = here.nodes[name]
    if node.joint_fails is not None and bool(node.joint_fails.flat[0]):
        features = here.nodes[sources[0]].features
        reaching = "?" if features is None else str(int(features.flat[0]))
        return f"{reaching} features reach it, in_features is {getattr(layer, 'in_features', '?')}"
    if layer.family == "merge":
        listed = ", ".join(f"{s} {_shape(here.nodes[s]).partition(' x ')[2]}" for s in sources)
        return f"inputs disagree: {listed}"
    axis = next(a for a, f in enumerate(node.fails) if bool(f[0]))
    formula, cause = layer.explain(axis, int(here.nodes[sources[0]].sizes[axis][0]))  # type: ignore[index]
    return cause or formula


def _unknown_node(subject: Subject, name: str, domains: Mapping[str, tuple[Any, ...]], place: tuple[int, int]) -> DrawnNode:
    space = subject.space
    assert space is not None
    kind = "input" if name == INPUT else str(space.graph.nodes[name]["type"])
    return DrawnNode(name, kind, "", "", "unknown", domains=_domain_lines(subject, name, domains), row=place[0], slot=place[1],
                     family="input" if name == INPUT else "")


def _shape(node: NodeSizes) -> str:
    if node.sizes is None:
        return "-" if node.features is None else str(int(node.features.flat[0]))
    channels = "?" if node.channels is None else str(node.channels)
    return " x ".join([channels, *(str(int(s[0])) for s in node.sizes)])


def _fails_elsewhere(network: Network, ranged: Inference, name: str, fails_here: bool) -> str:
    """The input sizes of the range at which ``name`` fails first, unless it fails at the drawn size."""
    if fails_here:
        return ""
    node = ranged.nodes[name]
    if ranged.sweep.tied:
        mask = np.logical_or.reduce(node.fails)
        if node.joint_fails is not None:
            mask = mask | node.joint_fails
        if not mask.any():
            return ""
        rng = network.input.ranges[0]
        return str(SizeSet.from_mask(ranged.sweep.axes[0], mask, rng.lo, rng.hi))
    hits = [
        f"{axis} {SizeSet.from_mask(values, fails, r.lo, r.hi)}"
        for axis, values, fails, r in zip(network.axis_names, ranged.sweep.axes, node.fails, network.input.ranges) if fails.any()
    ]
    if node.joint_fails is not None and node.joint_fails.any():
        hits.append("some size combinations")
    return "; ".join(hits)


def _layout(graph: nx.DiGraph, order: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Row and slot of every node: rows by topological generation, slots by the inputs' mean slot.

    Example:
        >>> graph = nx.DiGraph([("input", "a"), ("input", "b"), ("a", "c"), ("b", "c")])
        >>> _layout(graph, ["input", "a", "b", "c"])
        {'input': (0, 0), 'a': (1, 0), 'b': (1, 1), 'c': (2, 0)}
    """
    position = {name: index for index, name in enumerate(order)}
    placed: dict[str, tuple[int, int]] = {}
    for row, generation in enumerate(nx.topological_generations(graph)):

        def centre(name: str) -> tuple[float, int]:
            slots = [placed[p][1] for p in graph.predecessors(name)]
            return (sum(slots) / len(slots) if slots else 0.0, position[name])

        for slot, name in enumerate(sorted(generation, key=centre)):
            placed[name] = (row, slot)
    return {name: placed[name] for name in order}


class _Painter:
    """Turns a Drawing into a figure: boxes in inches, edges, lanes for long edges, a colour key."""

    def __init__(self, drawn: Drawing) -> None:
        self.drawn = drawn
        self.by_name = {n.name: n for n in drawn.nodes}
        widest = max(max(len(line) for line in n.lines()) for n in drawn.nodes)
        self.box_width = max(1.4, widest * CHAR_WIDTH + 2 * PAD)
        rows = 1 + max(n.row for n in drawn.nodes)
        self.slots = 1 + max(n.slot for n in drawn.nodes)
        heights = [0.0] * rows
        for n in drawn.nodes:
            heights[n.row] = max(heights[n.row], len(n.lines()) * LINE_HEIGHT + 2 * PAD)
        self.row_height = heights
        self.row_top = list(np.cumsum([HEADER + MARGIN] + [h + GAP_Y for h in heights[:-1]]))
        self.lanes = self._lanes()
        lane_count = 1 + max(self.lanes.values(), default=-1)
        self.width = 2 * MARGIN + self.slots * self.box_width + (self.slots - 1) * GAP_X + lane_count * LANE + (LANE if lane_count else 0)
        self.width = max(self.width, 2 * MARGIN + max(len(line) * size / FONT * CHAR_WIDTH for line, size in self._header_lines()),
                         2 * MARGIN + sum(KEY_SPACING + len(label) * CHAR_WIDTH for label, *_ in KEY))
        self.height = self.row_top[-1] + heights[-1] + MARGIN

    def box(self, name: str) -> tuple[float, float, float, float]:
        """Left, top, width and height of a node's box, in inches from the top left."""
        node = self.by_name[name]
        left = MARGIN + node.slot * (self.box_width + GAP_X)
        return left, self.row_top[node.row], self.box_width, len(node.lines()) * LINE_HEIGHT + 2 * PAD

    def _lanes(self) -> dict[tuple[str, str], int]:
        """A lane for every edge spanning more than one row: shorter spans nearer the boxes, none sharing a row."""
        long = [(u, v) for u, v, _ in self.drawn.edges if self.by_name[v].row - self.by_name[u].row > 1]
        long.sort(key=lambda edge: (self.by_name[edge[1]].row - self.by_name[edge[0]].row, self.by_name[edge[0]].row))
        taken: list[list[tuple[int, int]]] = []
        lanes = {}
        for u, v in long:
            span = (self.by_name[u].row, self.by_name[v].row)
            lane = next((i for i, used in enumerate(taken) if all(span[1] < a or b < span[0] for a, b in used)), len(taken))
            if lane == len(taken):
                taken.append([])
            taken[lane].append(span)
            lanes[(u, v)] = lane
        return lanes

    def paint(self) -> Figure:
        figure = new_figure(self.width, self.height)
        ax = figure.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, self.width)
        ax.set_ylim(self.height, 0)
        ax.axis("off")
        self._header(ax)
        for u, v, bad in self.drawn.edges:
            self._edge(ax, u, v, bad)
        for node in self.drawn.nodes:
            self._node(ax, node)
        return plain_text(figure)

    def _header_lines(self) -> list[tuple[str, float]]:
        """The title and the note under it (which space and domains), with their font sizes."""
        drawn = self.drawn
        title = drawn.network + (f" at input {drawn.at_text}" if drawn.at is not None else "") + f"  (range {drawn.input})"
        notes = "; ".join(n for n in (drawn.subject, drawn.domains_note) if n)
        return [(title, 10.0), (notes, FONT)]

    def _header(self, ax: Axes) -> None:
        from matplotlib.patches import FancyBboxPatch

        (title, title_size), (notes, _) = self._header_lines()
        ax.text(MARGIN, MARGIN, title, fontsize=title_size, fontweight="bold", va="top")
        ax.text(MARGIN, MARGIN + 0.2, notes, fontsize=FONT, va="top", color=DOMAIN_COLOR)
        x = MARGIN
        for label, fill, edge, style in KEY:
            ax.add_patch(FancyBboxPatch((x, MARGIN + 0.42), 0.22, 0.12, boxstyle="round,pad=0.01", fc=fill, ec=edge, ls=style, lw=0.8))
            ax.text(x + 0.28, MARGIN + 0.48, label, fontsize=FONT, va="center")
            x += KEY_SPACING + len(label) * CHAR_WIDTH

    def _node(self, ax: Axes, node: DrawnNode) -> None:
        from matplotlib.patches import FancyBboxPatch

        left, top, width, height = self.box(node.name)
        fill = POOL_FILL if node.family == "pool" else FAMILY_FILL.get(node.family, "white")
        edge, style, lw, text = "#424242", "-", 0.8, "black"
        if node.state == "invalid":
            fill, edge, lw = RED_FILL, RED, 1.6
        elif node.state == "unreached":
            fill, edge, style, text = "white", GREY, "--", "#757575"
        elif node.fails_elsewhere:
            edge, style, lw = RED, "--", 1.4
        ax.add_patch(FancyBboxPatch((left, top), width, height, boxstyle="round,pad=0,rounding_size=0.05",
                                    fc=fill, ec=edge, ls=style, lw=lw, zorder=3))
        lines = node.lines()
        first_domain = len(lines) - len(node.domains)
        for index, line in enumerate(lines):
            color = text
            if index >= first_domain:
                color = DOMAIN_COLOR
            elif index >= 2:
                color = RED  # the problem here, or where else it fails first
            ax.text(left + PAD, top + PAD + (index + 0.5) * LINE_HEIGHT, line, fontsize=FONT, va="center", color=color,
                    fontweight="bold" if index == 0 else "normal", zorder=4)

    def _edge(self, ax: Axes, u: str, v: str, bad: bool) -> None:
        from matplotlib.patches import FancyArrowPatch
        from matplotlib.path import Path

        ul, ut, uw, uh = self.box(u)
        vl, vt, vw, vh = self.box(v)
        lane = self.lanes.get((u, v))
        if lane is None:
            points = [(ul + uw / 2, ut + uh), (vl + vw / 2, vt)]
        else:
            x = MARGIN + self.slots * self.box_width + (self.slots - 1) * GAP_X + (lane + 1) * LANE
            # leave low on the right side, arrive high: an edge out of a node and one into it never overlap
            points = [(ul + uw, ut + 0.7 * uh), (x, ut + 0.7 * uh), (x, vt + 0.3 * vh), (vl + vw, vt + 0.3 * vh)]
        path = Path(points, [Path.MOVETO] + [Path.LINETO] * (len(points) - 1))
        ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=7, lw=1.4 if bad else 0.8,
                                     color=RED if bad else "#616161", zorder=2))
