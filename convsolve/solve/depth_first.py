"""The first valid assignments, depth first: one path of states at a time instead of the whole table.

Only the states on the current path are expanded, and a state found to have no completion is
remembered, so the first solutions of a large space come without building every state. The moves of a
chain's repeated links are computed once (:func:`chain_signature`).

Example:
        >>> from convsolve import load_space
    >>> from convsolve.solve.plan import make_plan
    >>> space = load_space("configs/bench/chain-6.yaml")
    >>> first = next(depth_first(Programme(make_plan(space), space)))
    >>> len(first)   # the combo chosen at each of the 6 units
    6
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .programme import Programme

__all__ = ["chain_signature", "depth_first"]


def depth_first(programme: Programme, on_step: Callable[[int, int], None] | None = None) -> Iterator[list[int]]:
    """Valid assignments as the combo chosen at each unit, in rank order, found depth first.

    Only the states on the current path are expanded, and a state found to have no completion is
    remembered, so the first solutions of a large space come without building the whole programme.
    """
    last = len(programme.units) - 1
    dead: set[tuple[int, bytes]] = set()
    known: dict[tuple[Any, bytes], tuple[list[int], np.ndarray]] = {}
    start = programme.initial_row()[0]
    # a frame: unit index, state key, its remaining moves, whether a solution lies below it
    frames: list[list[Any]] = [[0, start.tobytes(), _moves(programme, 0, start, on_step, known), False]]
    path: list[int] = []
    while frames:
        frame = frames[-1]
        index, key, moves = frame[0], frame[1], frame[2]
        move = next(moves, None)
        if move is None:
            frames.pop()
            if frame[3]:
                if frames:
                    frames[-1][3] = True
            else:
                dead.add((index, key))
            if frames:
                path.pop()
            continue
        combo, row = move
        if index == last:
            frame[3] = True
            yield path + [combo]
            continue
        row_key = row.tobytes()
        if (index + 1, row_key) in dead:
            continue
        path.append(combo)
        frames.append([index + 1, row_key, _moves(programme, index + 1, row, on_step, known), False])


def _moves(
    programme: Programme, index: int, row: np.ndarray, on_step: Callable[[int, int], None] | None,
    known: dict[tuple[Any, bytes], tuple[list[int], np.ndarray]],
) -> Iterator[tuple[int, np.ndarray]]:
    """The valid moves out of one state, in combo order: (combo, next state row).

    ``known`` keeps the moves of chain units (see :func:`chain_signature`) by signature and state: the
    repeated layers of a deep chain reach the same states again and again.
    """
    if on_step is not None:
        on_step(index, len(programme.units))
    signature = chain_signature(programme, index)
    found = None if signature is None else known.get((signature, row.tobytes()))
    if found is None:
        moves, rows = programme.apply(index, row[None, :])
        order = np.argsort(moves.combo, kind="stable")
        found = moves.combo[order].tolist(), rows[moves.dst[order]]
        if signature is not None:
            known[signature, row.tobytes()] = found
    combos, rows = found
    for k, combo in enumerate(combos):
        yield combo, rows[k]


def chain_signature(programme: Programme, index: int) -> tuple[Any, ...] | None:
    """What unit ``index`` does to a state when it is a chain link (:meth:`~convsolve.solve.programme.Programme.is_chain_link`);
    None otherwise.

    Two links with one signature map every state alike: their combos build the same layers (ids of this
    programme, constraints applied), they track their input and output at the same sizes, and both hand on
    their output or neither does.
    """
    if not programme.is_chain_link(index):
        return None
    step, plan = programme.units[index].step, programme.plan
    return (programme.catalogue.combo_layers(step).tobytes(), programme.alone(index) is not None, bool(programme.layouts[index + 1].tensors),
            *((programme.catalogue.width(name), name in plan.full, name in plan.flat, name in plan.receptive)
              for name in (step.inputs[0], step.node)))
