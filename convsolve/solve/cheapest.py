"""The cheapest valid assignment: the dynamic programme of :mod:`convsolve.solve.table` in the (min, +) semiring.

Every parameter value has a cost (zero for the value it has now); the cost of an assignment is the
sum. Frontier states keep only the cheapest way to reach them, so the result is optimal over every
valid assignment — not a heuristic — while only one predecessor per state is remembered.

Two prunings keep the frontier small, and neither can lose every optimal assignment:

- *Bounds*. A :class:`LeadBound` gives each state a lower bound on the cost of completing it. A search
  keeps only states whose cost so far plus bound is within a limit; the first limit is the bound of
  the start, and a search that finds nothing within its limit raises it (to at least the smallest
  estimate it had to drop) and runs again. The first search to reach the end has found the optimum:
  every state of an optimal assignment has a cost so far plus bound of at most the optimum (a bound
  never exceeds the cost of the rest of that assignment), so a search whose limit is at least the
  optimum keeps them, while a search whose limit is below the optimum cannot reach the end. A failed
  search is cheap: it stops where its limit runs out, early when the bound is close.
- *Dominance*. A state whose outputs are all *probed* (tracked at the smallest input only, nothing
  downstream compares them exactly; see :mod:`convsolve.solve.plan`) is dominated by a state with
  the same channels and remembered values, sizes at least as large at every tracked point and a cost
  no higher: size rules and their validity are non-decreasing in the input size, so every completion
  of the first also completes the second, for no more (and so within the same limit). Dropping
  dominated states keeps a deep chain's frontier to a Pareto front of (size, cost) instead of every
  reachable size.

Example:
    >>> from convsolve.space import Space
    >>> space = Space.from_config({"input": {"channels": 3, "size": {"range": [8, 16]}},
    ...     "layers": [{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [9, 3]}}]})
    >>> plan = cheapest(space, {"c.kernel": {9: 0, 3: 1}})
    >>> plan.assignment, plan.cost
    ({'c.kernel': 3}, 1)
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..layers import Merge
from ..sizesets import SizeRange
from .engine import fewer_collections
from .plan import make_plan
from .programme import TABLE_SIZES, Programme
from .rows import INVALID, unique_rows

__all__ = ["Cheapest", "CheapestSearch", "LeadBound", "cheapest", "combo_costs"]

UNREACHABLE = np.iinfo(np.int64).max // 4
"""The cost of what cannot be completed (small enough that adding costs to it cannot overflow)."""

ENDS_CHECK_AFTER = 2
"""Searches failing at the last unit after which one pass over the two end sizes of the input range asks
whether any assignment is valid there at all (see :meth:`CheapestSearch.valid_at_ends`). Most repairs
need one search; of 1,000 generated broken configs, every unrepairable one failed at the last unit each
time, and 103 of the 579 failed searches of the repairable ones did."""


@dataclass(frozen=True)
class Cheapest:
    """The cheapest valid assignment found, its cost, and how much searching it took."""

    assignment: dict[str, Any]
    cost: int
    states: int
    """Frontier states kept over all layers by the last search (after dropping bounded and dominated ones)."""
    searches: int = 1
    """Searches run, each with a higher limit than the one before (see the module docstring)."""


@fewer_collections()
def cheapest(
    space: Any, costs: Mapping[str, Mapping[Any, int]], on_step: Callable[[int, int], None] | None = None,
) -> Cheapest | None:
    """The valid assignment of least total cost, or None when no assignment is valid.

    ``costs[param][value]`` is the (non-negative integer) cost of giving ``param`` that value;
    values left out cost 0. Ties go to the cheapest move into each state with the smallest previous
    state and combination, so the answer is the same in every run.
    """
    return CheapestSearch(space, on_step).run(costs)


class CheapestSearch:
    """The cheapest valid assignments of one space under several cost maps: the plan, the programme (its
    layer catalogue, size tables and memos) and the relaxed states of the bound are built once for all of them.

    Example:
        >>> from convsolve.space import Space
        >>> space = Space.from_config({"input": {"channels": 3, "size": {"range": [8, 16]}},
        ...     "layers": [{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [9, 3]}}]})
        >>> search = CheapestSearch(space)
        >>> search.run({"c.kernel": {3: 1}}).assignment, search.run({"c.kernel": {3: 1}}, at_most=0)
        ({'c.kernel': 3}, None)
    """

    def __init__(self, space: Any, on_step: Callable[[int, int], None] | None = None) -> None:
        """Prepare the programme of ``space``; ``on_step`` is called per unit of every pass (progress, and the place a timeout interrupts)."""
        self.plan = make_plan(space)
        self.programme = Programme(self.plan, space)
        self.on_step = on_step
        self.space = space
        self._prunable = _prunable_boundaries(self.programme)
        self._bound: LeadBound | None = None
        self._valid_at_ends: bool | None = None

    def run(self, costs: Mapping[str, Mapping[Any, int]], at_most: int | None = None) -> Cheapest | None:
        """The cheapest valid assignment under ``costs`` (see :func:`cheapest`), or None when there is none,
        or none of cost at most ``at_most``: then the search stops at that limit (``at_most=0`` asks
        only whether the costly values can all be avoided)."""
        programme, on_step = self.programme, self.on_step
        unit_costs = [combo_costs(unit.step, self.plan.domains, costs) for unit in programme.units]
        bound = self._bound = LeadBound(programme, unit_costs, on_step) if self._bound is None else self._bound.recosted(unit_costs)
        start = int(bound.of(0, programme.initial_row())[0])
        most = UNREACHABLE - 1 if at_most is None else at_most
        if start > most:  # not even the relaxation has a valid assignment (cheap enough)
            return None
        limit, searches = start if bound.values is not None else most, 1  # no bound: one search, as far as allowed
        failed_last = 0
        while True:
            found, dropped, reached = _search(programme, unit_costs, bound, self._prunable, limit, on_step)
            if found is not None:
                assignment, best, kept = found
                return Cheapest(assignment, best, kept, searches)
            if dropped > most:  # nothing was left out for the limit (or nothing cheap enough): nothing is valid
                return None
            failed_last += reached == len(programme.units) - 1
            if failed_last == ENDS_CHECK_AFTER and not self.valid_at_ends():
                return None
            # at least the least estimate left out, and half as much slack again: few searches however far the bound is
            limit, searches = min(max(dropped, limit + (limit - start) // 2), most), searches + 1

    def valid_at_ends(self) -> bool:
        """Whether some assignment, whatever it costs, is valid at the smallest and the largest input size.

        A network valid over the range is valid at its ends, so False proves that nothing is valid. An
        unrepairable network otherwise takes a search per raised limit, each to its end (the bound sees
        neither channels nor the larger sizes): 8 to 10 searches for a classifier without an adaptive
        pool, whose fixed input size no candidate keeps over the range. Over two sizes, one pass with
        every cost 0 (nothing dropped for the limit) is cheap. True when the check does not apply (a
        range of at most two sizes, or targets, which may name other sizes).
        """
        if self._valid_at_ends is None:
            space = self.space
            ends = [SizeRange(r.lo, r.lo + (r.hi - r.lo) // r.step * r.step, max(1, (r.hi - r.lo) // r.step * r.step)) for r in space.input.ranges]
            if space.targets or ends == list(space.input.ranges):
                self._valid_at_ends = True
            else:
                programme = Programme(make_plan(space.with_input(ends, space.input.tied)), space)
                free = [np.zeros(len(unit.step.combos), dtype=np.int64) for unit in programme.units]
                found, _, _ = _search(programme, free, _NoBound(), _prunable_boundaries(programme), 0, self.on_step)
                self._valid_at_ends = found is not None
        return self._valid_at_ends


class _NoBound:
    """A bound of 0 for every state."""

    def of(self, boundary: int, rows: np.ndarray) -> np.ndarray:
        return np.zeros(len(rows), dtype=np.int64)


def _search(
    programme: Programme, unit_costs: list[np.ndarray], bound: LeadBound | _NoBound, prunable: list[bool], limit: int,
    on_step: Callable[[int, int], None] | None,
) -> tuple[tuple[dict[str, Any], int, int] | None, int, int]:
    """The cheapest assignment whose states all have cost plus bound within ``limit`` (assignment, cost,
    states kept), or None; the least estimate dropped for exceeding ``limit``; and the unit at which no
    state was left (the number of units when the search reached the end)."""
    rows, cost = programme.initial_row(), np.zeros(1, dtype=np.int64)
    back: list[tuple[np.ndarray, np.ndarray]] = []
    kept, dropped = 1, UNREACHABLE
    for index in range(len(programme.units)):
        if on_step is not None:
            on_step(index, len(programme.units))
        moves, next_rows = programme.apply(index, rows)
        if not len(moves.src):
            return None, dropped, index
        total = cost[moves.src] + unit_costs[index][moves.combo]
        order = np.lexsort((moves.combo, moves.src, total, moves.dst))
        dst = moves.dst[order]
        first = order[np.r_[True, dst[1:] != dst[:-1]]]  # the cheapest move into each state
        next_cost, src, combo = total[first], moves.src[first], moves.combo[first]
        estimate = next_cost + bound.of(index + 1, next_rows)
        keep = estimate <= limit
        if not keep.all():
            dropped = min(dropped, int(estimate[~keep].min()))
            keep = np.flatnonzero(keep)
            next_rows, next_cost, src, combo = next_rows[keep], next_cost[keep], src[keep], combo[keep]
        if not len(next_rows):
            return None, dropped, index
        if prunable[index]:
            keep = _undominated(programme, index + 1, next_rows, next_cost)
            next_rows, next_cost, src, combo = next_rows[keep], next_cost[keep], src[keep], combo[keep]
        back.append((src, combo))
        rows, cost = next_rows, next_cost
        kept += len(rows)
    state = int(np.argmin(cost))
    best = int(cost[state])
    plan = programme.plan
    assignment: dict[str, Any] = {}
    for index in range(len(programme.units) - 1, -1, -1):
        src, combo = back[index]
        step = programme.units[index].step
        for name, value in zip(step.new_params, step.combos[combo[state]]):
            assignment[name] = plan.domains[name][int(value)]
        state = int(src[state])
    return ({name: assignment[name] for name in plan.params}, best, kept), dropped, len(programme.units)


class LeadBound:
    """Lower bounds on the cost of completing frontier states: the same programme on *lead sizes* only.

    An output's lead size is its size on the first axis at the smallest input size. Keeping only that
    — dropping channels, the other sizes and axes, targets and receptive fields, and letting a layer read
    any value of a parameter decided before it — keeps only checks the real programme also makes, so
    every real completion of a state is a relaxed completion of its lead sizes, at the same cost. The
    cheapest relaxed completion is therefore a lower bound; it is computed backwards once, for every
    lead size reachable at every unit boundary. Merges still compare their inputs' lead sizes, which
    keeps the bound of a residual network close.

    A boundary with one lead size (a *cut*: a chain's every boundary, a residual network's between
    blocks) keeps a bound per size, 0 up to the largest reachable. Between two cuts the relaxed states
    are tuples of lead sizes, enumerated forwards from every size at the first cut; that enumeration does
    not depend on the costs, so repeated blocks (twin layers, :func:`~convsolve.solve.plan._twins`)
    share it, enumerated once from the largest size any of them needs. When the enumeration would not fit
    (:attr:`MOST_MOVES`), every bound is 0.
    """

    MOST_MOVES = 1 << 21
    """The most relaxed moves one unit may have before the bound is given up."""
    MOST_OLD_VALUES = 4096
    """The most combinations of earlier parameters a layer may read before the bound is given up."""

    def __init__(self, programme: Programme, unit_costs: list[np.ndarray], on_step: Callable[[int, int], None] | None = None) -> None:
        """The bounds for ``unit_costs`` (per unit, the cost of each combo); ``on_step`` is called per unit
        of each pass (progress, and the place a timeout interrupts)."""
        plan = programme.plan
        self.programme = programme
        self.unit_costs = unit_costs
        self.on_step = on_step
        self.leads = [tuple(name for name in layout.tensors if name not in plan.flat) for layout in programme.layouts]
        self.keys: list[np.ndarray | None] = [None] * len(programme.layouts)
        self.radix = [0] * len(programme.layouts)
        self._segments: dict[tuple[Any, ...], _Segment] = {}
        self._choice_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._top_sizes: list[int] | None = None
        self.values: list[np.ndarray] | None
        try:
            self.values = self._solve()
        except _TooLarge:
            self.values = None

    def recosted(self, unit_costs: list[np.ndarray]) -> LeadBound:
        """The bounds of the same relaxation under other costs: the relaxed states and moves, which do not
        depend on the costs, are enumerated once for both."""
        other = copy.copy(self)
        other.unit_costs = unit_costs
        other.keys, other.radix = list(self.keys), list(self.radix)
        try:
            other.values = other._solve()
        except _TooLarge:
            other.values = None
        return other

    def of(self, boundary: int, rows: np.ndarray) -> np.ndarray:
        """The bound of each frontier state ``rows`` at ``boundary`` (UNREACHABLE: no relaxed completion)."""
        if self.values is None:
            return np.zeros(len(rows), dtype=np.int64)
        programme = self.programme
        layout = programme.layouts[boundary]
        names = self.leads[boundary]
        leads = np.stack(
            [programme.sizes.get(programme.catalogue.width(name), rows[:, layout.tensors[name] + 1])[:, 0] for name in names], axis=1,
        ) if names else np.zeros((len(rows), 0), dtype=np.int64)
        bounds: np.ndarray = self.values[boundary][self._index(boundary, leads)]
        return bounds

    # --- the relaxed programme -----------------------------------------------------------------

    def _solve(self) -> list[np.ndarray]:
        """The bound of every relaxed state, boundary by boundary, from the last cut back to the first."""
        if self._top_sizes is None:
            self._top_sizes = self._tops()
        tops = self._top_sizes
        last = len(self.programme.units)
        cuts = [b for b in range(last + 1) if len(self.leads[b]) <= 1]
        values: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * (last + 1)
        values[last] = np.zeros(len(self._cut_states(last, tops[last])), dtype=np.int64)
        for begin, end in reversed(list(itertools.pairwise(cuts))):
            if self.on_step is not None:
                self.on_step(begin, last)
            if end == begin + 1:
                cost, ok, following = self._moves(begin, self._cut_states(begin, tops[begin]))
                values[begin] = _cheapest_moves(cost, ok, following[0] if following else 0, values[end])
                continue
            segment = self._segment(begin, end, tops[begin])
            following_values = np.zeros(max(segment.top_out + 1, len(values[end])), dtype=np.int64)
            following_values[: len(values[end])] = values[end]  # sizes past the top are not reachable: any bound does
            for offset in range(end - begin - 1, -1, -1):
                boundary = begin + offset
                moves = segment.moves[offset]
                total = self.unit_costs[boundary][moves.combo] + following_values[moves.dst]
                following_values = np.full(moves.count, UNREACHABLE, dtype=np.int64)
                if len(total):
                    following_values[moves.sources] = np.minimum(np.minimum.reduceat(total, moves.starts), UNREACHABLE)
                values[boundary] = following_values
                if offset:
                    self.keys[boundary], self.radix[boundary] = segment.keys[offset - 1], segment.radix[offset - 1]
        return values

    def _tops(self) -> list[int]:
        """Per cut, the largest lead size reachable (-1: none); 0 at the other boundaries."""
        programme, plan = self.programme, self.programme.plan
        top = {name: int(plan.sweep.axes[0][0]) for name in self.leads[0]}
        tops = [top[self.leads[0][0]] if self.leads[0] else 0]
        for index, unit in enumerate(programme.units):
            if self.on_step is not None:
                self.on_step(index, len(programme.units))
            step = unit.step
            _, layer_ids = self._choices(step)
            family = self._family(step, layer_ids)
            if family == "none":
                top[step.node] = -1
            elif family == "sizes":  # merges and size rules alike (an op choice, a copy beyond the depth): the largest
                merges = self._merges(layer_ids)
                found = [int(merge.merged_size([top[n] for n in step.inputs])[0]) for i in layer_ids[merges].tolist()
                         if isinstance(merge := programme.catalogue.layers[i], Merge)]
                rules = layer_ids[~merges]
                if len(rules):
                    reach = top[step.inputs[0]] + 1
                    if reach > TABLE_SIZES:  # a table per candidate that wide (a kernel of 6,000,000): no bound, the search alone
                        raise _TooLarge
                    out, ok = programme.catalogue.axis_tables(rules, 0, reach)
                    found.append(int(np.where(ok[:, :reach], out[:, :reach], -1).max(initial=-1)))
                top[step.node] = max(found)
            if unit.merge is not None and unit.merge.inputs[0] not in plan.flat:
                top[unit.merge.node] = min(top[name] for name in unit.merge.inputs)  # a merge's inputs agree
            after = self.leads[index + 1]
            tops.append(top[after[0]] if len(after) == 1 else 0)
        return tops

    def _cut_states(self, boundary: int, top: int) -> np.ndarray:
        """The relaxed states of a cut: every lead size up to ``top``, or the one empty state."""
        if self.leads[boundary]:
            return np.arange(top + 1, dtype=np.int64)[:, None]
        return np.zeros((1, 0), dtype=np.int64)

    def _segment(self, begin: int, end: int, top: int) -> _Segment:
        """The relaxed moves of the units between two cuts from every lead size up to ``top`` at the first."""
        signature = tuple(self._signature(index) for index in range(begin, end))
        segment = self._segments.get(signature)
        if segment is None or segment.top < top:
            segment = self._segments[signature] = self._enumerate(begin, end, max(top, 2 * segment.top if segment else top))
        return segment

    def _signature(self, index: int) -> tuple[Any, ...]:
        """What the relaxed moves of unit ``index`` depend on, apart from the states they start from."""
        unit = self.programme.units[index]
        step, leads, after = unit.step, self.leads[index], self.leads[index + 1]
        combos, layer_ids = self._choices(step)
        inputs = tuple(leads.index(name) if name in leads else -1 for name in step.inputs)
        merge = None if unit.merge is None else (unit.merge.twin, tuple(leads.index(n) if n in leads else "step" for n in unit.merge.inputs))
        produced = {step.node: "step"} | ({unit.merge.node: "merge"} if unit.merge else {})
        wiring = tuple(produced.get(name) or leads.index(name) for name in after)
        return step.twin, inputs, merge, wiring, combos.tobytes(), layer_ids.tobytes()

    def _enumerate(self, begin: int, end: int, top: int) -> _Segment:
        """Enumerate the relaxed states between two cuts and the moves joining them (costs left out)."""
        states = self._cut_states(begin, top)
        moves: list[_Moves] = []
        keys: list[np.ndarray] = []
        radixes: list[int] = []
        top_out = -1
        for index in range(begin, end):
            count = len(states)
            src, combo, following = self._move_list(index, states)
            if index + 1 == end:
                dst = following[:, 0] if following.shape[1] else np.zeros(len(src), dtype=np.int64)
                top_out = int(dst.max(initial=-1))
            else:
                radix = int(following.max(initial=0)) + 1
                if float(radix) ** following.shape[1] >= 2.0**62:
                    raise _TooLarge
                packed = _pack(following, radix)
                key, first, dst = np.unique(packed, return_index=True, return_inverse=True)
                keys.append(key)
                radixes.append(radix)
                states = following[first]
            starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]]) if len(src) else np.zeros(0, dtype=np.int64)
            moves.append(_Moves(src[starts], starts, combo, dst.reshape(-1), count))
        return _Segment(top, top_out, moves, keys, radixes)

    def _move_list(self, index: int, states: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The valid relaxed moves of unit ``index`` as (state, combo, next lead sizes), grouped by state."""
        _, ok, following = self._moves(index, states)
        combos, _ = self._choices(self.programme.units[index].step)
        src, choice = np.nonzero(ok.T)
        rows = [values[choice, src] if values.ndim == 2 else values[src] for values in following]
        return src, combos[choice], np.stack(rows, axis=1) if rows else np.zeros((len(src), 0), dtype=np.int64)

    def _family(self, step: Any, layer_ids: np.ndarray) -> str:
        """How the relaxation treats a step: 'none' (no valid choice), 'flat' (no lead size in or out), or 'sizes'
        (merges and size rules, each layer by its kind)."""
        if not len(layer_ids):
            return "none"
        if step.inputs[0] in self.programme.plan.flat:
            return "flat"
        family = self.programme.catalogue.layers[layer_ids[0]].family
        return "flat" if family == "flatten" else "sizes"

    def _merges(self, layer_ids: np.ndarray) -> np.ndarray:
        """Which of ``layer_ids`` merge their inputs (the others are size rules on the first)."""
        return np.array([self.programme.catalogue.layers[i].family == "merge" for i in layer_ids.tolist()], dtype=bool)

    def _index(self, boundary: int, leads: np.ndarray) -> np.ndarray:
        """Where each row of lead sizes is among the relaxed states of ``boundary``."""
        if leads.shape[1] == 0:
            return np.zeros(len(leads), dtype=np.int64)
        if leads.shape[1] == 1:
            return leads[:, 0]
        keys = self.keys[boundary]
        assert keys is not None
        return np.searchsorted(keys, _pack(leads, self.radix[boundary]))

    def _moves(self, index: int, states: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Every relaxed move of unit ``index`` from ``states``: cost (a column, one row per choice), validity
        (a row per choice, a column per state) and per next lead size, its value (the same shape, or one
        per state where the unit carries it over)."""
        programme = self.programme
        unit = programme.units[index]
        step = unit.step
        leads, after = self.leads[index], self.leads[index + 1]
        combos, layer_ids = self._choices(step)
        if len(combos) * len(states) > self.MOST_MOVES:
            raise _TooLarge
        shape = (len(combos), len(states))
        cost = self.unit_costs[index][combos][:, None]
        family = self._family(step, layer_ids)
        if family == "none":
            return cost, np.zeros(shape, dtype=bool), [np.zeros(shape, dtype=np.int64) for _ in after]
        column = {name: states[:, i] for i, name in enumerate(leads)}
        made: dict[str, np.ndarray] = {}
        ok = np.ones(shape, dtype=bool)
        if family == "sizes":
            merges = self._merges(layer_ids)
            made[step.node] = np.zeros(shape, dtype=np.int64)
            for row in np.flatnonzero(merges).tolist():
                merge = programme.catalogue.layers[int(layer_ids[row])]
                assert isinstance(merge, Merge)
                made[step.node][row], agree = merge.merged_size([column[name] for name in step.inputs])
                ok[row] &= agree
            rows = np.flatnonzero(~merges)
            if len(rows):
                sizes = column[step.inputs[0]]
                if max(len(states), int(sizes.max(initial=0)) + 1) > TABLE_SIZES:
                    raise _TooLarge
                if len(leads) == 1:  # a cut's states are the sizes 0, 1, 2, ...: read the tables' first columns
                    out_table, ok_table = programme.catalogue.axis_tables(layer_ids[rows], 0, len(states))
                    made[step.node][rows], ok[rows] = out_table[:, : len(states)], ok_table[:, : len(states)] & ok[rows]
                else:
                    out_table, ok_table = programme.catalogue.axis_tables(layer_ids[rows], 0, int(sizes.max(initial=0)) + 1)
                    made[step.node][rows] = out_table[:, sizes]
                    ok[rows] &= ok_table[:, sizes]
        if unit.merge is not None and unit.merge.inputs[0] not in programme.plan.flat:
            layer = programme.catalogue.merge_layer(unit.merge)
            fused, agree = layer.merged_size([made.get(name, column.get(name)) for name in unit.merge.inputs])  # type: ignore[misc]
            ok &= agree
            made[unit.merge.node] = np.broadcast_to(fused, shape)
        return cost, ok, [made[name] if name in made else column[name] for name in after]

    def _choices(self, step: Any) -> tuple[np.ndarray, np.ndarray]:
        """The step's valid choices: the combo of new values (a cost index) and its layer id, once for every
        value of the parameters decided before it (the relaxation lets the layer read any of them)."""
        found = self._choice_cache.get(step.index)
        if found is None:
            plan, programme = self.programme.plan, self.programme
            if math.prod(len(plan.domains[name]) for name in step.old_params) > self.MOST_OLD_VALUES:
                raise _TooLarge
            olds = itertools.product(*[range(len(plan.domains[name])) for name in step.old_params])
            per_combo = np.concatenate([programme.catalogue.combo_layers(step, old) for old in olds])
            valid = np.flatnonzero(per_combo != INVALID)
            found = self._choice_cache[step.index] = (valid % len(step.combos), per_combo[valid])
        return found


@dataclass(frozen=True)
class _Segment:
    """The relaxed moves between two cuts, from every lead size up to ``top`` at the first (costs left out)."""

    top: int
    top_out: int
    """The largest lead size the moves reach at the second cut."""
    moves: list[_Moves]
    keys: list[np.ndarray]
    """Per boundary inside, the packed keys of its states (ascending)."""
    radix: list[int]


@dataclass(frozen=True)
class _Moves:
    """The relaxed moves of one unit, grouped by the state they leave (costs left out)."""

    sources: np.ndarray
    """The states with a move, ascending."""
    starts: np.ndarray
    """Where each of those states' moves start."""
    combo: np.ndarray
    dst: np.ndarray
    count: int
    """How many states the moves leave from."""


def _cheapest_moves(cost: np.ndarray, ok: np.ndarray, dst: np.ndarray | int, following_values: np.ndarray) -> np.ndarray:
    """Per state (column), the least cost of a valid move plus the bound of the state it reaches."""
    if not ok.any():
        return np.full(ok.shape[1], UNREACHABLE, dtype=np.int64)
    total = np.where(ok, cost + following_values[np.where(ok, dst, 0)], UNREACHABLE)
    least: np.ndarray = np.minimum(total.min(axis=0, initial=UNREACHABLE), UNREACHABLE)
    return least


class _TooLarge(Exception):
    """The relaxed programme would not fit: the bound is given up (every bound is 0)."""


def _pack(rows: np.ndarray, radix: int) -> np.ndarray:
    """Each row of small non-negative integers as one integer (mixed radix)."""
    key = np.zeros(len(rows), dtype=np.int64)
    for column in range(rows.shape[1]):
        key = key * radix + rows[:, column]
    return key


def combo_costs(step: Any, domains: Mapping[str, tuple[Any, ...]], costs: Mapping[str, Mapping[Any, int]]) -> np.ndarray:
    """The cost of every combination of the step's new parameters: a unit's costs, as :class:`LeadBound` takes them."""
    total = np.zeros(len(step.combos), dtype=np.int64)
    for column, name in enumerate(step.new_params):
        by_value = costs.get(name, {})
        per_index = np.array([int(by_value.get(value, 0)) for value in domains[name]], dtype=np.int64)
        if (per_index < 0).any():
            raise ValueError(f"costs of {name!r} must be non-negative")
        total += per_index[step.combos[:, column]]
    return total


def _prunable_boundaries(programme: Programme) -> list[bool]:
    """After which units may dominated states be dropped: only probed outputs live, no target ahead."""
    plan = programme.plan
    exact = plan.full | plan.receptive
    prunable = []
    targets_ahead = [bool(unit.step.targets) or bool(unit.merge and unit.merge.targets) for unit in programme.units]
    for index in range(len(programme.units)):
        layout = programme.layouts[index + 1]
        ahead = any(targets_ahead[index + 1 :])
        prunable.append(not ahead and not any(name in exact for name in layout.tensors))
    return prunable


def _undominated(programme: Programme, boundary: int, rows: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices of the states no other state dominates (same exact columns, sizes >=, cost <=), in order."""
    layout = programme.layouts[boundary]
    size_columns = [column + 1 for column in layout.tensors.values()]
    exact_columns = [c for c in range(layout.width) if c not in size_columns]
    sizes = np.concatenate(
        [programme.sizes.get(programme.catalogue.width(name), rows[:, column + 1]) for name, column in layout.tensors.items()], axis=1,
    ) if size_columns else np.zeros((len(rows), 0), dtype=np.int64)
    distinct = [c for c in range(sizes.shape[1]) if not any((sizes[:, c] == sizes[:, d]).all() for d in range(c))]
    sizes = sizes[:, distinct]  # tied axes track equal sizes: compare each once
    group = unique_rows(rows[:, exact_columns])[1]
    # cheapest first, then largest sizes, so a dominating state is always met before those it dominates
    order = np.lexsort(tuple(-sizes[:, c] for c in range(sizes.shape[1] - 1, -1, -1)) + (cost, group))
    if sizes.shape[1] == 1:
        return np.sort(_front_1d(order, group, sizes[:, 0], cost))
    keep: list[int] = []
    kept_sizes: dict[int, list[np.ndarray]] = {}
    for i in order:
        mine = kept_sizes.setdefault(int(group[i]), [])
        if mine and (np.stack(mine) >= sizes[i]).all(axis=1).any():
            continue
        mine.append(sizes[i])
        keep.append(int(i))
    return np.sort(np.array(keep, dtype=np.int64))


def _front_1d(order: np.ndarray, group: np.ndarray, size: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Pareto front per group for one tracked size: keep a state only if it is larger than every cheaper one."""
    # offset each group's sizes past the previous groups' (``order`` is by group): one running maximum
    # then restarts at every group
    key = group[order] * (int(size.max()) - int(size.min()) + 1) + (size[order] - size.min())
    before = np.r_[np.iinfo(np.int64).min, np.maximum.accumulate(key)[:-1]]
    front: np.ndarray = order[key > before]
    return front
