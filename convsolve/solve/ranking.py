"""Valid assignments by rank: the ``i``-th in a fixed order, for enumeration and uniform sampling.

Assignments are ordered by the combination chosen at each step, first step first, combinations in
domain order. Out of a state, the moves are listed in that order; a move's weight is the number of
ways its next state completes (:meth:`Table.backward`). The ``i``-th assignment from a state is found
by walking the cumulative weights: no dead end is ever entered, so each assignment costs one lookup
per step, vectorised over a whole block of ranks.

Example:
    >>> ranking = Ranking(table)                             # doctest: +SKIP
    >>> ranking.assignments(np.arange(3))                    # doctest: +SKIP
    {'conv1.kernel': array([1, 1, 1]), ...}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .table import Table

__all__ = ["Ranking"]

CAP = 2**62
"""Ranks below this are walked in int64; larger ones in Python integers."""


@dataclass(frozen=True)
class _Moves:
    """One step's moves sorted by (source state, combo), with per-state segments and cumulative weights."""

    start: np.ndarray
    length: np.ndarray
    combo: np.ndarray
    dst: np.ndarray
    cumulative: np.ndarray
    """Within each state's segment, the running total of completions (Python ints)."""
    capped: np.ndarray
    """The same, capped at CAP, as int64."""
    running: np.ndarray | None
    """Running total over all states' moves in order, as int64, when it stays below CAP."""
    before: np.ndarray | None
    """Per state, ``running`` just before its segment."""


class Ranking:
    """Unranks valid assignments of a :class:`Table` (built with its transitions)."""

    def __init__(self, table: Table, on_step: Callable[[int, int], None] | None = None) -> None:
        self.table = table
        self._tables: dict[tuple[int, bool], list[tuple[str, np.ndarray]]] = {}
        """Per step, what each combo means for its new parameters (see :func:`columns_of`)."""
        back = table.backward()
        self.total = int(back[0][0]) if len(back[0]) else 0
        self.moves: list[_Moves] = []
        for j, moves in enumerate(table.moves):
            if on_step is not None:
                on_step(j, len(table.moves))
            weights = back[j + 1][moves.dst]
            keep = weights > 0
            src, combo, dst, weights = moves.src[keep], moves.combo[keep], moves.dst[keep], weights[keep]
            order = np.lexsort((combo, src))
            src, combo, dst, weights = src[order], combo[order], dst[order], weights[order]
            states = len(table.states[j])
            length = np.bincount(src, minlength=states)
            start = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
            running_all = np.cumsum(weights) if len(weights) else np.zeros(0, dtype=object)
            before_all = np.concatenate([np.array([0], dtype=object), running_all])[start]
            cumulative = running_all - before_all[src] if len(weights) else running_all
            capped = np.minimum(cumulative, CAP).astype(np.int64) if len(weights) else np.zeros(0, dtype=np.int64)
            running = before = None
            if len(weights) and int(weights.sum()) < CAP:
                running = np.cumsum(weights.astype(np.int64))
                before = np.concatenate([[0], running])[start]
            self.moves.append(_Moves(start, length, combo, dst, cumulative, capped, running, before))

    def combos(self, ranks: Sequence[int] | np.ndarray) -> np.ndarray:
        """The combo index chosen at every step for each rank: an array (len(ranks), steps)."""
        if isinstance(ranks, np.ndarray) and ranks.dtype == np.int64:
            big = False
        else:
            big = bool(len(ranks)) and max(int(r) for r in ranks) >= CAP
        residual = np.array(ranks, dtype=object if big else np.int64)
        state = np.zeros(len(residual), dtype=np.int64)
        chosen = np.empty((len(residual), len(self.moves)), dtype=np.int64)
        for j, moves in enumerate(self.moves):
            if not big and moves.running is not None and moves.before is not None:
                # one search over every state's moves laid end to end
                target = moves.before[state] + residual
                pick = np.searchsorted(moves.running, target, side="right")
                residual = target - np.where(pick > 0, moves.running[np.maximum(pick - 1, 0)], 0)
                chosen[:, j] = moves.combo[pick]
                state = moves.dst[pick]
                continue
            cumulative = moves.cumulative if big else moves.capped
            start, length = moves.start[state], moves.length[state]
            position = np.zeros(len(state), dtype=np.int64)
            # the first move of the state's segment whose running total exceeds the residual
            for offset in range(int(length.max()) if len(length) else 0):
                inside = offset < length
                index = np.where(inside, start + offset, 0)
                beyond = inside & np.asarray(cumulative[index] <= residual, dtype=bool)
                position += beyond
            pick = start + position
            before = np.where(position > 0, cumulative[np.maximum(pick - 1, 0)], 0)
            residual = residual - before
            chosen[:, j] = moves.combo[pick]
            state = moves.dst[pick]
        return chosen

    def assignments(self, ranks: Sequence[int] | np.ndarray, *, decode: bool = False) -> dict[str, np.ndarray]:
        """Columnar assignments for ``ranks``: parameter name -> array of value indices (values if ``decode``)."""
        return columns_of(self.table, self.combos(ranks), decode, self._tables)

    def values(self, columns: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        """Row dictionaries of parameter values from columnar value indices."""
        domains = self.table.plan.domains
        names = list(columns)
        decoded = [[domains[name][i] for i in columns[name]] for name in names]
        return [dict(zip(names, row)) for row in zip(*decoded)]


def columns_of(
    table: Table, chosen: np.ndarray, decode: bool, cache: dict[tuple[int, bool], list[tuple[str, np.ndarray]]] | None = None,
) -> dict[str, np.ndarray]:
    """Columnar assignments from the combo chosen at each step (rows of ``chosen``): value indices, or values."""
    cache = {} if cache is None else cache
    columns: dict[str, np.ndarray] = {}
    for j, unit in enumerate(table.units):
        if (j, decode) not in cache:
            step, tables = unit.step, []
            for i, name in enumerate(step.new_params):
                indices = step.combos[:, i]
                if decode:
                    values = table.plan.domains[name]
                    kind = object if any(isinstance(v, bool) for v in values) else np.int64
                    tables.append((name, np.array(values, dtype=kind)[indices]))
                else:
                    tables.append((name, indices))
            cache[(j, decode)] = tables
        for name, meaning in cache[(j, decode)]:
            columns[name] = meaning[chosen[:, j]]
    return {name: columns[name] for name in table.plan.params}
