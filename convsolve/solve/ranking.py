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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..space import INACTIVE
from .programme import Programme
from .table import Table

__all__ = ["Ranking", "assignment_rows", "columns_of"]

CAP = 2**62
"""Ranks below this are walked in int64; larger ones in Python integers."""


@dataclass(frozen=True)
class _Moves:
    """One step's moves into states that complete, in (source state, combo) order, with per-state segments."""

    start: np.ndarray
    length: np.ndarray
    combo: np.ndarray
    dst: np.ndarray


class Ranking:
    """Unranks valid assignments of a :class:`Table` (built with its transitions).

    The running totals a rank is looked up in are computed for the states a block of ranks visits,
    when it visits them, so drawing a few samples of a huge space touches a few segments per step
    instead of holding a total for every move.
    """

    def __init__(self, table: Table, on_step: Callable[[int, int], None] | None = None) -> None:
        self.table = table
        self._tables: dict[tuple[int, bool], list[tuple[str, np.ndarray]]] = {}
        """Per step, what each combo means for its new parameters (see :func:`columns_of`)."""
        back = table.backward()
        self.total = int(back[0][0]) if len(back[0]) else 0
        self._small = self.total < CAP
        self._back = back
        """Per unit boundary, how many ways each state completes (int64 when every total fits)."""
        self.moves: list[_Moves] = []
        for j, moves in enumerate(table.moves):
            if on_step is not None:
                on_step(j, len(table.moves))
            keep = (back[j + 1] > 0).astype(bool)[moves.dst]
            src, combo, dst = moves.src[keep], moves.combo[keep], moves.dst[keep]
            code = src * max(1, len(table.units[j].step.combos)) + combo
            if len(code) > 1 and not (code[1:] > code[:-1]).all():  # Table.apply lists them in this order already
                order = np.argsort(code, kind="stable")
                src, combo, dst = src[order], combo[order], dst[order]
            length = np.bincount(src, minlength=len(table.states[j]))
            start = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
            self.moves.append(_Moves(start, length, combo, dst))

    def combos(self, ranks: Sequence[int] | np.ndarray) -> np.ndarray:
        """The combo index chosen at every step for each rank: an array (len(ranks), steps)."""
        residual = np.array(ranks, dtype=np.int64 if self._small else object).reshape(-1)
        state = np.zeros(len(residual), dtype=np.int64)
        chosen = np.empty((len(residual), len(self.moves)), dtype=np.int64)
        for j, moves in enumerate(self.moves):
            if not len(residual):
                break
            visited, at = np.unique(state, return_inverse=True)
            lengths = moves.length[visited]
            offsets = np.cumsum(lengths) - lengths
            # the visited states' segments laid end to end, with one running total over them
            index = np.repeat(moves.start[visited] - offsets, lengths) + np.arange(int(lengths.sum()))
            running = np.cumsum(self._back[j + 1][moves.dst[index]])
            before = np.concatenate([np.zeros(1, dtype=running.dtype), running])[offsets]
            target = before[at.reshape(-1)] + residual
            pick = np.searchsorted(running, target, side="right")
            residual = target - np.concatenate([np.zeros(1, dtype=running.dtype), running])[pick]
            chosen[:, j] = moves.combo[index[pick]]
            state = moves.dst[index[pick]]
        return chosen

    def assignments(self, ranks: Sequence[int] | np.ndarray, *, decode: bool = False) -> dict[str, np.ndarray]:
        """Columnar assignments for ``ranks``: parameter name -> array of value indices (values if ``decode``)."""
        return columns_of(self.table.programme, self.combos(ranks), decode, self._tables)

    def values(self, columns: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        """Row dictionaries of parameter values from columnar value indices."""
        return assignment_rows(self.table.plan.domains, columns)


def columns_of(
    programme: Programme, chosen: np.ndarray, decode: bool, cache: dict[tuple[int, bool], list[tuple[str, np.ndarray]]] | None = None,
) -> dict[str, np.ndarray]:
    """Columnar assignments from the combo chosen at each step (rows of ``chosen``): value indices, or values."""
    cache = {} if cache is None else cache
    columns: dict[str, np.ndarray] = {}
    decoded: dict[tuple[Any, ...], np.ndarray] = {}  # the layers of a deep network share domains and combos
    for j, unit in enumerate(programme.units):
        if (j, decode) not in cache:
            step, tables = unit.step, []
            for i, name in enumerate(step.new_params):
                indices = step.combos[:, i]
                if decode:
                    values = programme.plan.domains[name]
                    key = (id(step.combos), i, values, tuple(map(type, values)))
                    found = decoded.get(key)
                    if found is None:
                        found = decoded[key] = _value_table(values)[indices]
                    tables.append((name, found))
                else:
                    tables.append((name, indices))
            cache[(j, decode)] = tables
        for name, meaning in cache[(j, decode)]:
            columns[name] = meaning[chosen[:, j]]
    return {name: columns[name] for name in programme.plan.params}


def assignment_rows(domains: dict[str, tuple[Any, ...]], columns: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Row dictionaries of parameter values from columnar value indices into ``domains``.

    Example:
        >>> assignment_rows({"c.kernel": (1, 3)}, {"c.kernel": np.array([1, 0])})
        [{'c.kernel': 3}, {'c.kernel': 1}]
    """
    names = list(columns)
    decoded = [_value_table(domains[name])[columns[name]].tolist() for name in names]
    if any(INACTIVE in domains[name] for name in names):  # a parameter out of the network has no value
        return [{name: value for name, value in zip(names, row) if value is not INACTIVE} for row in zip(*decoded)]
    return [dict(zip(names, row)) for row in zip(*decoded)]


def _value_table(values: Sequence[Any]) -> np.ndarray:
    """A domain's values indexable by value index: int64, or objects when some are not plain integers (bools stay
    bools; names and :data:`~convsolve.space.INACTIVE` are kept as they are)."""
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.int64)
    table = np.empty(len(values), dtype=object)
    table[:] = list(values)
    return table
