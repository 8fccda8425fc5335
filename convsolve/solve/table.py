"""The dynamic programme over frontier states: counts, and the transitions between states.

A :class:`~convsolve.solve.programme.Programme` says how one unit moves states (see
:mod:`convsolve.solve.rows` for what a state row holds); :class:`Table` applies it to every reachable
state, unit after unit, and keeps per unit boundary the distinct states and how many parameter choices
reach each (``forward``); the number of valid assignments is the forward count of the single final
state. ``backward`` counts how many ways each state completes, for sampling, enumeration and pruning.

Example:
    >>> from convsolve import load_space
    >>> from convsolve.solve.plan import make_plan
    >>> space = load_space("configs/bench/chain-6.yaml")
    >>> table = Table(make_plan(space), space)
    >>> table.count(), int(table.backward()[0][0])
    (11417906, 11417906)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import SolverLimit
from . import programme as programme_module
from .cache import DEFAULT_CACHE, SolverCache
from .plan import Plan, Step
from .programme import Programme
from .rows import Transitions, pushed_counts

__all__ = ["Table"]


class Table:
    """Frontier states per unit with their forward counts; transitions and backward counts on demand."""

    def __init__(
        self, plan: Plan, space: Any, keep_transitions: bool = True, on_step: Callable[[int, int], None] | None = None,
        cache: SolverCache = DEFAULT_CACHE,
    ) -> None:
        """Run the programme of ``plan`` over every unit; ``on_step`` is called before each (progress, and the
        place a timeout interrupts).

        Raises:
            SolverLimit: the states and moves kept would pass :data:`~convsolve.solve.programme.MAX_KEPT`.
        """
        self.programme = programme = Programme(plan, space, cache)
        self.plan = plan
        self.space = space
        self.units = programme.units
        self.layouts = programme.layouts
        self.states: list[np.ndarray] = [programme.initial_row()]
        self.forward: list[np.ndarray] = [np.array([1], dtype=object)]
        self.moves: list[Transitions] = []
        self.empty_at: Step | None = None
        """The first step that no state got through, if any (what :func:`~convsolve.ops.suggest` explains)."""
        self.empty_merge: Step | None = None
        """The merge applied in the same unit as :attr:`empty_at`, when there is one (either may be where states end)."""
        kept = 0
        for index, unit in enumerate(self.units):
            if on_step is not None:
                on_step(index, len(self.units))
            moves, rows = programme.apply(index, self.states[-1], grouped=not keep_transitions)
            if keep_transitions:
                self.moves.append(moves)
                kept += 3 * len(moves.src)
            kept += rows.size
            if kept > programme_module.MAX_KEPT:
                raise SolverLimit(unit.last.node, "states and moves over the layers up to here", kept, programme_module.MAX_KEPT)
            if not len(moves.src) and self.empty_at is None:
                self.empty_at, self.empty_merge = unit.step, unit.merge
            self.states.append(rows)
            self.forward.append(pushed_counts(self.forward[-1], moves, len(rows)))
        self._backward: list[np.ndarray] | None = None

    # --- results -------------------------------------------------------------------------------

    def count(self) -> int:
        """The number of valid assignments."""
        final = self.forward[-1]
        return int(final.sum()) if len(final) else 0

    def backward(self) -> list[np.ndarray]:
        """Per unit boundary, how many ways each state completes into a valid assignment (int64 arrays
        when the total fits, else Python integers)."""
        if self._backward is None:
            if len(self.moves) != len(self.units):
                raise RuntimeError("backward counts need the transitions: build the Table with keep_transitions=True")
            # every state is reachable, so none completes in more ways than the total: int64 when that fits
            kind = np.int64 if self.count() < 2**62 else object
            back = [np.ones(len(self.states[-1]), dtype=kind)]
            for j in range(len(self.units) - 1, -1, -1):
                moves = self.moves[j]
                counts = np.zeros(len(self.states[j]), dtype=kind)
                if len(moves.src):
                    order = None if (moves.src[1:] >= moves.src[:-1]).all() else np.argsort(moves.src, kind="stable")
                    src, dst = (moves.src, moves.dst) if order is None else (moves.src[order], moves.dst[order])
                    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
                    counts[src[starts]] = np.add.reduceat(back[0][dst], starts)
                back.insert(0, counts)
            self._backward = back
        return self._backward
