"""Counting and sampling over intervals of sizes: a residual network without its (block input, branch) states.

The table (:mod:`~convsolve.solve.table`) keeps, inside a residual block, the block's input beside the
branch being built: res-100's last pool has 87,608 such pairs. This module skips them when the programme
is a sequence of *segments*: stretches of units between boundaries where the frontier holds one output
(or none) and no parameter. Inside a segment every layer is a size rule on one input, alike on every axis,
and every merge is a plain one fused into its unit, so every size inside is a function of the segment's
input size ``v`` alone, and every combination of the segment's classes of combos (combos acting alike,
:meth:`~convsolve.solve.catalogue.LayerCatalogue.classes`) is one row: its output size at every ``v``, and the ``v``
where every layer is valid and every merge agrees (:func:`segment_rows`, once per segment written alike).

A state is then the segment input's channel count and the *interval* of its sizes: every rule here steps
by 0 or 1 as its input grows by 1, so the sizes an output takes over a range of input sizes are
consecutive (the table keeps the same set, :meth:`~convsolve.solve.programme.Programme.canonical`). A row is
valid from an interval exactly when it is valid at every size of it, and maps it to the interval of its
outputs at both ends. An output tracked only at the smallest input size keeps an interval of one size.
Anything else (a rule stepping by more, such as a transposed conv; targets; parameters carried across
segments; different rules on different axes) is left to the table: :func:`interval_programme` gives None.

Sampling walks back from the last boundary: a state's moves are drawn by their share of its count, in
floating point with every draw close to a boundary between moves decided exactly (:func:`_drawn`), then
a row's classes by their weights and each class's combos uniformly: every valid assignment is equally
likely.

Example:
    >>> from convsolve import load_space
    >>> from convsolve.solve.plan import make_plan
    >>> space = load_space("configs/bench/res-6.yaml")
    >>> programme = interval_programme(Programme(make_plan(space), space))
    >>> programme.count(), programme.sample(3, np.random.default_rng(0)).shape   # 3 draws, 9 units
    (29932619, (3, 9))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SolverLimit
from ..network import INPUT
from . import programme as programme_module
from .catalogue import LayerCatalogue
from .programme import TABLE_SIZES, Programme, Unit
from .rows import INVALID, Transitions, pushed_counts, unique_rows

__all__ = ["IntervalProgramme", "Segment", "SegmentRows", "interval_programme", "segment_rows"]

MAX_CANDIDATES = 1_000_000
"""The most (row, class) candidates one unit of a segment may make before the segment is left to the table."""
CHUNK = 4_000_000
"""States are checked against a segment's rows this many (row, state) pairs at a time."""
MAX_WEIGHT = 2**62
"""Row weights (combos per row) stay below this, in int64."""
FLOAT_SPAN = 1000
"""Counts are shifted to at most this many bits before they are made floats for drawing."""


@dataclass(frozen=True)
class Segment:
    """Units ``first .. end - 1``, reading ``source`` (the one output held before them) and handing on ``sink``."""

    first: int
    end: int
    source: str
    sink: str | None


@dataclass(frozen=True)
class _Level:
    """How one unit of a segment made its rows: candidate (earlier row, class) pairs, the row each became,
    and each class's combos (``members[starts[k] : starts[k] + sizes[k]]`` for class ``k``)."""

    parent: np.ndarray
    combo_class: np.ndarray
    row_start: np.ndarray
    """Per row, where its candidates begin (candidates are sorted by row)."""
    running: np.ndarray
    """The running total of the candidates' weights (a row's candidates are drawn within its stretch of it)."""
    members: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray


@dataclass(frozen=True)
class SegmentRows:
    """What a segment does from one input channel count, for input sizes ``base .. base + width - 1``.

    Row ``r`` stands for ``weight[r]`` combos; from input size ``base + i`` it gives ``out[r, i]`` with
    ``channels[r]`` channels, and it is valid on the sizes ``base + i .. run_end[r, i]`` (``run_end`` below
    ``base + i`` where it is not valid at ``base + i``).
    """

    base: int
    width: int
    out: np.ndarray
    run_end: np.ndarray
    channels: np.ndarray
    weight: np.ndarray
    levels: tuple[_Level, ...]
    """Per unit, how its rows were made: what sampling walks back through."""


def interval_programme(programme: Programme, on_step: Callable[[int, int], None] | None = None) -> IntervalProgramme | None:
    """The forward counts of ``programme``'s space over interval states, or None when the space is not one this
    module covers (the table handles it then)."""
    segments = _segments(programme)
    if segments is None:
        return None
    start = _start(programme)
    if start is None:
        return None
    intervals = IntervalProgramme(programme, segments, start)
    return intervals if intervals.run(on_step) else None


def _segments(programme: Programme) -> list[Segment] | None:
    """The programme cut where the frontier holds at most one output and no parameter, or None when a unit
    is not a plain size rule on one input (with the plain merge fused into it), or the axes or targets ask for more."""
    plan, layouts, units = programme.plan, programme.layouts, programme.units
    axes = plan.sweep.axes
    if (not units or INPUT not in plan.initial_live or plan.flat or plan.receptive or programme.space.targets
            or any(layout.params for layout in layouts) or any(not np.array_equal(a, axes[0]) for a in axes[1:])
            or any(len(points) != 1 or int(points[0]) != int(np.argmin(axes[0])) for points in plan.probes)):
        return None
    cuts = [j for j, layout in enumerate(layouts) if len(layout.tensors) <= 1]
    if cuts[0] != 0 or cuts[-1] != len(units):
        return None
    segments = []
    for first, end in zip(cuts, cuts[1:]):
        if not layouts[first].tensors:
            return None
        if not all(programme.catalogue.plain_spatial(units[index].step) for index in range(first, end)):
            return None  # (a fused merge is a plain add, mul or concat: see units_of)
        sink = next(iter(layouts[end].tensors), None)
        segments.append(Segment(first, end, next(iter(layouts[first].tensors)), sink))
    return segments


def _start(programme: Programme) -> tuple[int, int, int] | None:
    """The first state: the input's channel count and the interval of its sizes; None when the input is
    tracked at every size and its sizes are not consecutive."""
    sizes = np.sort(programme.plan.sweep.axes[0])
    low, high = int(sizes[0]), int(sizes[-1])
    if low < 1 or high >= TABLE_SIZES:
        return None
    if INPUT not in programme.plan.full:
        high = low
    elif (np.diff(sizes) != 1).any():
        return None
    return programme.space.input.channels, low, high


class IntervalProgramme:
    """Forward counts per segment boundary over (channels, lowest size, highest size) states, and the moves
    between them, for counting and uniform sampling."""

    def __init__(self, programme: Programme, segments: list[Segment], start: tuple[int, int, int]) -> None:
        self.programme = programme
        self.segments = segments
        self.states: list[np.ndarray] = [np.array([start], dtype=np.int64)]
        """Per boundary, one row per state: channels, lowest size, highest size."""
        self.forward: list[np.ndarray] = [np.array([1], dtype=object)]
        self.moves: list[tuple[np.ndarray, np.ndarray, np.ndarray, list[SegmentRows]]] = []
        """Per segment, its moves sorted by next state: source state, row (numbered over the rows objects), next state."""
        self._rows: dict[tuple[Any, ...], SegmentRows] = {}

    def run(self, on_step: Callable[[int, int], None] | None) -> bool:
        """Push the counts through every segment; False when a segment is not covered after all.

        Raises:
            SolverLimit: the states and moves kept would pass :data:`~convsolve.solve.programme.MAX_KEPT`.
        """
        kept = 0
        for segment in self.segments:
            if on_step is not None:  # progress, and the place a timeout interrupts
                on_step(segment.first, len(self.programme.units))
            moved = self._moves(segment, self.states[-1])
            if moved is None:
                return False
            src, row, dst, weight, next_states, used = moved
            kept += 3 * len(src) + next_states.size
            if kept > programme_module.MAX_KEPT:
                node = self.programme.units[segment.end - 1].last.node
                raise SolverLimit(node, "states and moves over the layers up to here", kept, programme_module.MAX_KEPT)
            self.moves.append((src, row, dst, used))
            self.states.append(next_states)
            self.forward.append(pushed_counts(self.forward[-1], Transitions(src, row, dst, weight), len(next_states)))
        return True

    def count(self) -> int:
        """The number of valid assignments."""
        return int(self.forward[-1].sum())

    # --- one segment ---------------------------------------------------------------------------

    def _moves(
        self, segment: Segment, states: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[SegmentRows]] | None:
        """Every valid (state, row) move of ``segment``, its next state and weight, sorted by next state."""
        full_sink = segment.sink is not None and segment.sink in self.programme.plan.full
        if not len(states):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty, np.zeros((0, 3), dtype=np.int64), []
        parts: list[tuple[np.ndarray, ...]] = []
        used: list[SegmentRows] = []
        offset = 0
        for channels in np.unique(states[:, 0]).tolist():
            at = np.flatnonzero(states[:, 0] == channels)
            low, high = states[at, 1], states[at, 2]
            rows = self._segment_rows(segment, channels, int(low.min()), int(high.max()))
            if rows is None:
                return None
            row, which = _fitting(rows, low, high)
            src = at[which]
            first = rows.out[row, low[which] - rows.base]
            last = rows.out[row, high[which] - rows.base] if full_sink else first
            made = rows.channels[row]
            if segment.sink is None:
                first, last, made = np.zeros_like(first), np.zeros_like(first), np.zeros_like(first)
            parts.append((src, row + offset, np.stack([made, first, last], axis=1), rows.weight[row]))
            used.append(rows)
            offset += len(rows.weight)
        src, row, made, weight = (np.concatenate(column) for column in zip(*parts))
        next_states, dst = unique_rows(made)
        order = np.argsort(dst, kind="stable")
        return src[order], row[order], dst[order], weight[order], next_states, used

    def _segment_rows(self, segment: Segment, channels: int, low: int, high: int) -> SegmentRows | None:
        """:func:`segment_rows` for sizes ``low .. high`` at least, shared by segments written alike."""
        key = (_signature(self.programme, segment), channels)
        found = self._rows.get(key)
        if found is None or found.base > low or found.base + found.width <= high:
            span = high - low + 1  # room around the sizes seen: the next segments' sizes drift
            base = max(1, low - span)
            if found is not None:
                base = min(base, found.base)
                high = max(high, found.base + found.width - 1)
            if high + span + 1 >= TABLE_SIZES:  # rows that long (a padding of 10**9 makes sizes of 2 * 10**9): the table's turn
                return None
            found = segment_rows(self.programme, segment, channels, base, high + span + 1 - base)
            if found is None:
                return None
            self._rows[key] = found
        return found

    # --- sampling ------------------------------------------------------------------------------

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` valid assignments drawn uniformly (with replacement): the combo chosen at every unit, one row each."""
        chosen = np.zeros((n, len(self.programme.units)), dtype=np.int64)
        last = self.forward[-1]
        state = _drawn(rng, np.zeros(n, dtype=np.int64), np.array([0]), np.array([len(last)]),
                       last, np.ones(len(last), dtype=np.int64), np.arange(len(last)), np.array([int(last.sum())], dtype=object))
        for j in range(len(self.segments) - 1, -1, -1):
            src, row, dst, used = self.moves[j]
            starts = np.searchsorted(dst, np.arange(len(self.states[j + 1])), side="left")
            ends = np.searchsorted(dst, np.arange(len(self.states[j + 1])), side="right")
            weights = np.concatenate([rows.weight for rows in used])
            move = _drawn(rng, state, starts, ends, self.forward[j], weights[row], src, self.forward[j + 1])
            state = src[move]
            self._walk_back(rng, self.segments[j], used, row[move], chosen)
        return chosen

    def _walk_back(self, rng: np.random.Generator, segment: Segment, used: list[SegmentRows], row: np.ndarray, chosen: np.ndarray) -> None:
        """Draw each unit's combo of the segment for samples whose move took row ``row`` (numbered over ``used``)."""
        offset = 0
        for rows in used:
            mine = np.flatnonzero((row >= offset) & (row < offset + len(rows.weight)))
            at = row[mine] - offset
            for index, level in zip(range(segment.end - 1, segment.first - 1, -1), reversed(rows.levels)):
                begin = level.row_start[at]
                before = np.where(begin > 0, level.running[np.maximum(begin - 1, 0)], 0)
                total = level.running[level.row_start[at + 1] - 1] - before
                target = before + rng.integers(0, total)
                candidate = np.searchsorted(level.running, target, side="right")
                combo_class = level.combo_class[candidate]
                chosen[mine, index] = level.members[level.starts[combo_class] + rng.integers(0, level.sizes[combo_class])]
                at = level.parent[candidate]
            offset += len(rows.weight)


def _fitting(rows: SegmentRows, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, state) pair where the row is valid on the state's sizes ``low .. high``: the rows, and the
    states' positions in ``low`` and ``high``."""
    step = max(1, CHUNK // max(1, len(rows.weight)))
    found = [np.nonzero(rows.run_end[:, low[i : i + step] - rows.base] >= high[i : i + step]) for i in range(0, len(low), step)]
    return (np.concatenate([row for row, _ in found]),
            np.concatenate([which + i for (_, which), i in zip(found, range(0, len(low), step))]))


def _summed(at: np.ndarray, weight: np.ndarray, groups: int) -> np.ndarray:
    """Per group, the sum of the int64 ``weight`` of its members."""
    out = np.zeros(groups, dtype=np.int64)
    np.add.at(out, at, weight)
    return out


def _signature(programme: Programme, segment: Segment) -> tuple[Any, ...]:
    """What a segment does, apart from its names: segments with one signature map every state alike."""
    plan, local = programme.plan, {segment.source: 0}
    parts: list[Any] = [segment.source in plan.full]
    for index in range(segment.first, segment.end):
        unit = programme.units[index]
        step = unit.step
        parts.append((programme.catalogue.combo_layers(step).tobytes(), local[step.inputs[0]], step.node in plan.full))
        local[step.node] = len(local)
        if unit.merge is not None:
            parts.append(
                (programme.catalogue.merge_layer(unit.merge).type, tuple(local[name] for name in unit.merge.inputs), unit.merge.node in plan.full)
            )
            local[unit.merge.node] = len(local)
        parts.append(tuple(local[name] for name in programme.layouts[index + 1].tensors))
    return tuple(parts)


def segment_rows(programme: Programme, segment: Segment, channels: int, base: int, width: int) -> SegmentRows | None:
    """Every combination of the segment's classes of combos, as rows over input sizes ``base .. base + width - 1``
    (rows acting alike on them are one row); None when a rule steps by more than 1, sizes grow past what is
    tabulated or the combinations get too many."""
    sizes_of: dict[str, np.ndarray] = {segment.source: np.arange(base, base + width, dtype=np.int64)[None, :]}
    channels_of: dict[str, np.ndarray] = {segment.source: np.array([channels], dtype=np.int64)}
    valid = np.ones((1, width), dtype=bool)
    weight = np.ones(1, dtype=np.int64)
    levels: list[_Level] = []
    for index in range(segment.first, segment.end):
        applied = _applied(programme.catalogue, programme.units[index], sizes_of, channels_of, valid)
        if applied is None:
            return None
        if isinstance(applied, str):  # no combo builds a valid layer (or meets the constraints), or no row is left
            return SegmentRows(base, width, np.zeros((0, width), np.int64), np.zeros((0, width), np.int64),
                               np.zeros(0, np.int64), np.zeros(0, np.int64), ())
        sizes_of, channels_of, fine, combos, class_of = applied
        live = programme.layouts[index + 1].tensors
        grouped = _grouped(live, sizes_of, channels_of, fine, weight, combos, class_of)
        if grouped is None:
            return None
        level, kept, weight = grouped
        levels.append(level)
        sizes_of = {name: sizes_of[name][kept] for name in live}
        channels_of = {name: channels_of[name][kept] for name in live}
        valid = fine[kept]
    sink = segment.sink
    out = sizes_of[sink] if sink is not None else np.zeros((len(weight), width), dtype=np.int64)
    steps = np.diff(out, axis=1)
    if sink in programme.plan.full and ((valid[:, 1:] & valid[:, :-1]) & ((steps < 0) | (steps > 1))).any():
        return None  # a rule steps by more than 1: the sizes reached are not an interval
    positions = np.where(valid, width, np.arange(width))  # the first invalid position at or after each
    next_invalid = np.minimum.accumulate(positions[:, ::-1], axis=1)[:, ::-1]
    made = channels_of[sink] if sink is not None else np.zeros(len(weight), np.int64)
    return SegmentRows(base, width, out, base + next_invalid - 1, made, weight, tuple(levels))


def _applied(
    catalogue: LayerCatalogue, unit: Unit, sizes_of: dict[str, np.ndarray], channels_of: dict[str, np.ndarray], valid: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray] | str | None:
    """Every (class of the unit's combos, row) candidate, numbered ``class * rows + row``: the sizes and channels
    of every output, where all is valid, the valid combos and each one's class. "empty" when no candidate can
    be made; None when the unit is not covered after all."""
    step, rows = unit.step, len(valid)
    layer_ids = catalogue.combo_layers(step)
    combos = np.flatnonzero(layer_ids != INVALID)
    if not len(combos) or not rows:
        return "empty"
    before, width = sizes_of[step.inputs[0]], valid.shape[1]
    limit = int(before.max(initial=0)) + 1
    if limit > TABLE_SIZES:
        return None
    tables = [catalogue.axis_tables(layer_ids[combos], axis, limit) for axis in range(len(catalogue.plan.sweep.axes))]
    out_table, ok_table = tables[0]
    if any(not (np.array_equal(o[:, :limit], out_table[:, :limit]) and np.array_equal(k[:, :limit], ok_table[:, :limit])) for o, k in tables[1:]):
        return None
    channel_table, column = catalogue.channel_table(layer_ids[combos], channels_of[step.inputs[0]])
    first_of, class_of = catalogue.classes(layer_ids[combos], [(out_table, ok_table)], channel_table)
    classes = len(first_of)
    if classes * rows > MAX_CANDIDATES or classes * rows * width > programme_module.MAX_ELEMENTS:
        return None
    read = np.clip(before, 0, limit - 1)
    made_channels = channel_table[first_of][:, column]  # (class, row)
    fine = (ok_table[first_of][:, read] & valid[None] & (made_channels != INVALID)[:, :, None]).reshape(classes * rows, width)
    new_sizes = {name: np.broadcast_to(sizes, (classes, rows, width)).reshape(-1, width) for name, sizes in sizes_of.items()}
    new_channels = {name: np.broadcast_to(counts, (classes, rows)).reshape(-1) for name, counts in channels_of.items()}
    new_sizes[step.node] = out_table[first_of][:, read].reshape(-1, width)
    new_channels[step.node] = made_channels.reshape(-1)
    merge = unit.merge
    if merge is not None:
        parts = [new_sizes[name] for name in merge.inputs]
        for part in parts[1:]:
            fine &= part == parts[0]
        merged_channels, channels_fit = catalogue.merge_layer(merge).merged_channel_counts([new_channels[name] for name in merge.inputs])
        fine &= np.broadcast_to(channels_fit, merged_channels.shape)[:, None]
        new_channels[merge.node] = merged_channels
        new_sizes[merge.node] = parts[0]
    return new_sizes, new_channels, fine, combos, class_of


def _grouped(
    live: Any, sizes_of: dict[str, np.ndarray], channels_of: dict[str, np.ndarray], fine: np.ndarray,
    weight: np.ndarray, combos: np.ndarray, class_of: np.ndarray,
) -> tuple[_Level, np.ndarray, np.ndarray] | None:
    """The candidates valid somewhere, grouped into rows by what they hand on (the ``live`` outputs' sizes
    where valid, their channels, where valid): how each row was made, the first candidate of each row and
    each row's weight (how many combos it stands for). None when a weight does not fit in int64."""
    rows = len(weight)
    class_sizes = np.bincount(class_of)  # every class has a combo
    candidate_weight = (weight[None, :] * class_sizes[:, None]).reshape(-1)
    alive = np.flatnonzero(fine.any(axis=1))
    key = [np.where(fine[alive], sizes_of[name][alive], 0) for name in live]
    key += [channels_of[name][alive][:, None] for name in live] + [fine[alive]]
    distinct, row_of = unique_rows(np.concatenate(key, axis=1).astype(np.int64)) if len(alive) else (np.zeros((0, 1)), np.zeros(0, np.int64))
    order = np.argsort(row_of, kind="stable")
    candidates = alive[order]
    row_weight = _summed(row_of, candidate_weight[alive], len(distinct))
    if len(row_weight) and int(row_weight.max()) >= MAX_WEIGHT:
        return None
    row_start = np.searchsorted(row_of[order], np.arange(len(distinct)))
    level = _Level(
        parent=candidates % rows, combo_class=candidates // rows, row_start=np.r_[row_start, len(candidates)],
        running=np.cumsum(candidate_weight[candidates]), members=combos[np.argsort(class_of, kind="stable")],
        starts=np.cumsum(class_sizes) - class_sizes, sizes=class_sizes,
    )
    return level, candidates[row_start], row_weight


def _drawn(
    rng: np.random.Generator, state: np.ndarray, starts: np.ndarray, ends: np.ndarray,
    counts: np.ndarray, weight: np.ndarray, src: np.ndarray, totals: np.ndarray,
) -> np.ndarray:
    """Per sample at ``state``, a move among ``starts[state] .. ends[state] - 1`` drawn with probability
    ``counts[src[move]] * weight[move] / totals[state]`` (the totals are those sums, exact integers).

    A uniform real ``u`` in [0, 1) picks the move whose share holds it. Its first 53 bits are compared with
    the shares' running sums in floating point; when they are closer to a boundary than the rounding
    could move it, more bits of ``u`` are drawn and compared exactly, so the draw is exact.
    """
    if len(state) == 0:
        return np.zeros(0, dtype=np.int64)
    shift = max(0, max(int(c).bit_length() for c in (counts.max(), totals.max())) - FLOAT_SPAN)
    approx_counts = (counts >> shift if shift else counts).astype(np.float64)
    approx_totals = (totals >> shift if shift else totals).astype(np.float64)
    owner = np.repeat(np.arange(len(starts)), ends - starts)
    share = approx_counts[src] * weight / np.where(approx_totals[owner] > 0, approx_totals[owner], 1.0)
    running = np.cumsum(share)
    before = np.r_[0.0, running]
    bits = rng.integers(0, 2**53, size=len(state), dtype=np.int64)
    u = bits / 2.0**53
    begin, end = starts[state], ends[state]
    pick: np.ndarray = np.clip(np.searchsorted(running, before[begin] + u, side="right"), begin, end - 1)
    lower, upper = before[pick] - before[begin], before[pick + 1] - before[begin]
    slack = rounding_slack(len(src), float(running[-1]))
    precise = approx_totals[state] >= 2.0**60 if shift else np.ones(len(state), dtype=bool)
    sure = precise & (u - lower > slack) & (upper - u > slack + 2.0**-53)
    for k in np.flatnonzero(~sure).tolist():
        pick[k] = _exact(rng, int(bits[k]), counts, weight, src, int(begin[k]), int(end[k]), int(totals[state[k]]))
    return pick


def rounding_slack(moves: int, total: float) -> float:
    """How far the running sums of ``moves`` floating-point shares (adding up to ``total``) can be from the exact
    ones: each share is within a few roundings of its value, and each of the sums adds one rounding of at
    most ``total * 2**-53``.

    Example:
        >>> rounding_slack(1000, 500.0) < 1e-9
        True
    """
    return 4.0 * moves * max(1.0, total) * 2.0**-52 + 2.0**-50


def _exact(rng: np.random.Generator, bits: int, counts: np.ndarray, weight: np.ndarray, src: np.ndarray, begin: int, end: int, total: int) -> int:
    """The move among ``begin .. end - 1`` whose exact share holds the uniform real whose first 53 bits are
    ``bits``, drawing 62 more bits at a time until that real's remaining interval lies in one share."""
    running, edges = 0, []
    for move in range(begin, end):
        running += int(counts[src[move]]) * int(weight[move])
        edges.append(running)
    known = 53
    while True:
        # u lies in [bits, bits + 1) / 2**known; the move whose edges enclose that interval is decided
        low, high = bits * total, (bits + 1) * total
        for move, edge in enumerate(edges):
            if low < edge << known:
                if high <= edge << known and (move == 0 or edges[move - 1] << known <= low):
                    return begin + move
                break
        bits = (bits << 62) | int(rng.integers(0, 2**62))
        known += 62
