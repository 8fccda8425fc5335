"""The dynamic programme over frontier states: counts, and the transitions between states.

A frontier state (see :mod:`convsolve.solve.plan`) is one int64 row: for every remembered output its
channel count and the id of its tracked sizes, then the value index of every remembered parameter.
Tracked sizes are interned (:class:`Sizes`), so rows stay narrow however wide the input range, and
two outputs agree at every size exactly when their ids are equal.

A step applies one layer to every *distinct input* it reads (input ids and earlier parameter
values), once per combination of its new parameters, as one NumPy operation per axis; the states
then look their results up. A step that is a size rule on one spatial input and nothing more reads
every combination's sizes at once from tables of its layers' rules over input sizes
(:meth:`Table.axis_tables`), and layers written alike (twins, see :func:`~convsolve.solve.plan.make_plan`)
are built once, so a deep chain costs little per layer; combos whose layers act alike are computed
once, and a step remembers its outputs per input, which its twins (the repeated blocks of a deep
network) look up. A merge that directly follows the layer producing its last input is applied in the
same step, as a join on the sizes ids, so disagreeing branch pairs are never formed. When one output
is all the frontier tracks at every size, its sizes are kept as a set (:meth:`Table._canonical`):
states that differ only in how many input sizes reach each size are one state. :class:`Table` keeps, per
step, the distinct reachable states and how many parameter choices reach each (``forward``); the
number of valid assignments is the forward count of the single final state. ``backward`` counts how
many ways each state completes, for sampling, enumeration and pruning.

Example:
    >>> table = Table(make_plan(space), space)        # doctest: +SKIP
    >>> table.count()                                  # doctest: +SKIP
    11417906
"""

from __future__ import annotations

import gc
import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import InvalidAssignment, SolverLimit
from ..layers import Layer
from ..network import INPUT
from .plan import Plan, Step, _local

__all__ = ["Sizes", "Layout", "Transitions", "Unit", "Table", "depth_first", "fewer_collections", "is_chain_link", "pushed_counts", "unique_rows"]

INVALID = -1
RECEPTIVE_COLUMNS = 4
"""Per axis: jump numerator, jump denominator, receptive field numerator, denominator."""
MAX_ELEMENTS = 60_000_000
"""The most integers one step may materialise (about 480 MB): past it the solver stops with SolverLimit."""
MAX_KEPT = 400_000_000
"""The most integers a table may keep over all its steps (states and moves, about 3.2 GB): past it the
solver stops with SolverLimit. The deepest shipped space, chain-1000, keeps about 120 million."""
TABLE_SIZES = 1 << 16
"""Input sizes up to this are read from tables of each layer's rule; larger ones (up to 2**31 - 1) are
computed from the sizes themselves, so a huge input range costs time, not a table of that many sizes."""
PACKED = 2**31
"""Sizes below this pack two to an int64 id."""
TABLED = 2**62
"""Added to the table ids of rows of one or two sizes that do not pack (a size of 2**31 or more, or below 0): above
every packed id, so that a row's id is the same whichever other rows were interned with it."""
SMALL_BATCH = 64
"""Up to this many rows are interned one by one; more are first made distinct with numpy."""


class Sizes:
    """Interned tracked-size vectors, one id space per vector width.

    Vectors of one or two sizes (an output tracked at the smallest input only) need no table: their
    id is the sizes themselves, packed into one integer.
    """

    def __init__(self) -> None:
        self._ids: dict[int, dict[bytes, int]] = {}
        self._rows: dict[int, np.ndarray] = {}
        self._used: dict[int, int] = {}

    def intern(self, rows: np.ndarray) -> np.ndarray:
        """The id of every row (rows of equal content get equal ids)."""
        width = rows.shape[1]
        if width <= 2 and len(rows):
            fits = ((rows >= 0) & (rows < PACKED)).all(axis=1)
            if fits.all():
                return _packed(rows)
            out = np.empty(len(rows), dtype=np.int64)  # rows that fit are packed, as always; the others get a table id
            out[fits] = _packed(rows[fits])
            out[~fits] = self._table_ids(rows[~fits]) + TABLED
            return out
        return self._table_ids(rows)

    def _table_ids(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) <= SMALL_BATCH:  # a dict lookup per row beats numpy's sort on a few rows
            return self._looked_up(rows)
        distinct, inverse = unique_rows(rows)
        ids: np.ndarray = self._looked_up(distinct)[inverse]
        return ids

    def _looked_up(self, rows: np.ndarray) -> np.ndarray:
        width = rows.shape[1]
        ids = self._ids.setdefault(width, {})
        out = np.empty(len(rows), dtype=np.int64)
        for i, row in enumerate(np.ascontiguousarray(rows)):
            key = row.tobytes()
            found = ids.get(key)
            if found is None:
                found = ids[key] = self._append(width, row)
            out[i] = found
        return out

    def get(self, width: int, ids: np.ndarray) -> np.ndarray:
        """The vectors of ``ids`` (of vectors of this width), one row each."""
        if len(ids) == 0:
            return np.zeros((0, width), dtype=np.int64)
        if width <= 2:
            tabled = ids >= TABLED
            if not tabled.any():
                return _unpacked(ids, width)
            out = np.empty((len(ids), width), dtype=np.int64)
            out[~tabled] = _unpacked(ids[~tabled], width)
            out[tabled] = self._rows[width][ids[tabled] - TABLED]
            return out
        rows: np.ndarray = self._rows[width][ids]
        return rows

    def _append(self, width: int, row: np.ndarray) -> int:
        used = self._used.get(width, 0)
        store = self._rows.get(width)
        if store is None or used == len(store):
            grown = np.zeros((max(64, 2 * used), width), dtype=np.int64)
            if store is not None:
                grown[:used] = store[:used]
            self._rows[width] = store = grown
        store[used] = row
        self._used[width] = used + 1
        return used


def _packed(rows: np.ndarray) -> np.ndarray:
    """The ids of rows of one or two sizes in ``0 .. PACKED - 1``: the sizes themselves, packed."""
    return rows[:, 0] * PACKED + rows[:, 1] if rows.shape[1] == 2 else rows[:, 0].copy()


def _unpacked(ids: np.ndarray, width: int) -> np.ndarray:
    return np.stack([ids // PACKED, ids % PACKED], axis=1) if width == 2 else ids[:, None]


@dataclass(frozen=True)
class Layout:
    """Which columns of a state row hold what, at one step boundary."""

    tensors: dict[str, int]
    """Output name -> column of its channel count; the next column holds its sizes id."""
    params: dict[str, int]
    width: int

    @classmethod
    def of(cls, tensors: tuple[str, ...], params: tuple[str, ...]) -> "Layout":
        spans = {name: 2 * i for i, name in enumerate(tensors)}
        start = 2 * len(tensors)
        return cls(spans, {name: start + i for i, name in enumerate(params)}, start + len(params))


@dataclass(frozen=True)
class Unit:
    """One step of the programme: a layer, and the merge that directly follows it when it can be fused."""

    step: Step
    merge: Step | None

    @property
    def last(self) -> Step:
        return self.merge or self.step


@dataclass(frozen=True)
class Transitions:
    """Valid moves out of one unit's states: ``src`` state, ``combo`` of new values, ``dst`` state."""

    src: np.ndarray
    combo: np.ndarray
    dst: np.ndarray
    weight: np.ndarray | None = None
    """With ``grouped=True``: how many combos each move stands for (its combo is the first of them)."""


class Table:
    """Frontier states per unit with their forward counts; transitions and backward counts on demand."""

    def __init__(
        self, plan: Plan, space: Any, keep_transitions: bool = True, on_step: Callable[[int, int], None] | None = None,
        run: bool = True,
    ) -> None:
        """Run the programme over every unit (``run=False`` only prepares it, for :func:`depth_first`)."""
        self.plan = plan
        self.space = space
        self.sizes = Sizes()
        self.units = _units(plan)
        self.layouts = [Layout.of(plan.initial_live, ())] + [
            Layout.of(unit.last.live_tensors, unit.last.live_params) for unit in self.units
        ]
        self.layers: list[Layer] = []
        """Every distinct valid layer built so far; a layer id indexes it."""
        self._layer_ids: dict[tuple[str, tuple[int, ...]], int] = {}
        self._ids_by_layer: dict[int, int] = {}
        self._serial_list: list[int] = []
        """Per layer, its number in the process (see :func:`_serial`)."""
        self._serials = np.zeros(0, dtype=np.int64)
        self._combo_layer_ids: dict[tuple[int, tuple[int, ...]], np.ndarray] = {}
        self._twin_combo_layer_ids: dict[tuple[Any, ...], np.ndarray] = {}
        self._tables: dict[tuple[bytes, int], tuple[np.ndarray, np.ndarray]] = {}
        self._spatial: dict[int, bool] = {}
        self._widths: dict[str, int] = {}
        self._checks: dict[tuple[int, tuple[int, ...]], bool] = {}
        self._alone_at: dict[int, str | None] = {}
        self._canonical_ids: dict[str, dict[int, int]] = {}
        self._memos: dict[tuple[bytes, bool, bool], _Memo] = {}
        self._row_maps: dict[int, tuple[list[tuple[int, int, int]], int | None, list[int], list[int]]] = {}
        self._untabled: set[int] = set()
        self.states: list[np.ndarray] = [self._initial_row()]
        self.forward: list[np.ndarray] = [np.array([1], dtype=object)]
        self.moves: list[Transitions] = []
        self.empty_at: Step | None = None
        kept = 0
        for index, unit in enumerate(self.units if run else ()):
            if on_step is not None:  # progress, and the place a timeout interrupts
                on_step(index, len(self.units))
            moves, rows = self.apply(index, self.states[-1], grouped=not keep_transitions)
            if keep_transitions:
                self.moves.append(moves)
                kept += 3 * len(moves.src)
            kept += rows.size
            if kept > MAX_KEPT:
                raise SolverLimit(unit.last.node, "states and moves over the layers up to here", kept, MAX_KEPT)
            if not len(moves.src) and self.empty_at is None:
                self.empty_at = unit.step
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

    # --- one unit ------------------------------------------------------------------------------

    def apply(self, index: int, rows: np.ndarray, grouped: bool = False) -> tuple[Transitions, np.ndarray]:
        """Apply unit ``index`` to every state in ``rows``: the valid moves and the distinct next states.

        ``grouped`` lets one move stand for all the combos whose layers act alike, when the step remembers
        none of its new values (which is all counting needs).
        """
        unit = self.units[index]
        step = unit.step
        layout, after = self.layouts[index], self.layouts[index + 1]
        if len(rows) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Transitions(empty, empty, empty), np.zeros((0, after.width), dtype=np.int64)
        read = [c for name in step.inputs for c in (layout.tensors[name], layout.tensors[name] + 1)]
        read += [layout.params[p] for p in step.old_params]
        keys, group = unique_rows(rows[:, read]) if read else (np.zeros((1, 0), np.int64), np.zeros(len(rows), np.int64))
        candidates = len(keys) * len(step.combos)
        if candidates * max(1, self._width(step.node)) > MAX_ELEMENTS:
            raise SolverLimit(step.node, f"candidate outputs ({len(keys):,} inputs x {len(step.combos):,} combinations, "
                              f"each tracked at {self._width(step.node):,} sizes)", candidates * self._width(step.node), MAX_ELEMENTS)
        out_ok, out_channels, out_ids = self._outputs(step, keys)
        grouped = grouped and not set(step.new_params) & set(after.params)
        if grouped:
            weight = self._weight(step, keys)
            out_ok &= weight > 0
        others = [name for name in unit.merge.inputs if name != step.node] if unit.merge is not None else []
        if others:  # only pairs whose new output has the sizes of the merge's other input can merge
            src, combo = _matching(out_ok, out_ids, group, rows[:, layout.tensors[others[0]] + 1])
        else:  # every (state, combo) pair at once
            src, combo = np.nonzero(out_ok[group])
        channels, ids = out_channels[group[src], combo], out_ids[group[src], combo]
        if unit.merge is not None:
            ok, channels, ids = self._merge(unit.merge, step.node, rows[src], layout, np.ones(len(src), bool), channels, ids)
            src, combo, channels, ids = src[ok], combo[ok], channels[ok], ids[ok]
        if not len(src):
            empty = np.zeros(0, dtype=np.int64)
            return Transitions(empty, empty, empty), np.zeros((0, after.width), dtype=np.int64)
        if len(src) * after.width > MAX_ELEMENTS:
            raise SolverLimit(unit.last.node, f"frontier states ({len(src):,} moves of {after.width} columns)", len(src) * after.width, MAX_ELEMENTS)
        block = self._next_rows(index, rows, src, channels, ids, combo)
        alone = self._alone(index)
        if alone is not None:
            column = after.tensors[alone] + 1
            block[:, column] = self._canonical(alone, block[:, column])
        next_rows, dst = unique_rows(block)
        return Transitions(src.astype(np.int64), combo.astype(np.int64), dst, weight[combo] if grouped else None), next_rows

    def _alone(self, index: int) -> str | None:
        """The one output tracked at every size after unit ``index``, when it is the only one and its
        sizes matter only as a set (no size target reads a given input size): see :meth:`_canonical`."""
        if index not in self._alone_at:
            plan = self.plan
            exact = [name for name in self.layouts[index + 1].tensors if name in plan.full]
            positional = any(target.at is not None or target.size is not None for target in self.space.targets)
            self._alone_at[index] = exact[0] if len(exact) == 1 and exact[0] not in plan.flat and not positional else None
        return self._alone_at[index]

    def _canonical(self, name: str, ids: np.ndarray) -> np.ndarray:
        """The ids of ``name``'s sizes with every input size that repeats the one before it dropped.

        Every later size rule and comparison acts on each input size alone, so when one output is all that
        later layers see of the input range, two input sizes where it agrees agree downstream too: only
        the set of its distinct sizes matters, not how many input sizes reach each. Dropping repeats
        (and padding with the last size to keep the width) makes states that differ only in those
        multiplicities one state, e.g. ``[8, 8, 9, 9, 10]`` and ``[8, 9, 9, 10, 10]`` both become
        ``[8, 9, 10, 10, 10]``. Tied axes share their input sizes, so a size is dropped only when it
        repeats on every axis.
        """
        distinct, inverse = np.unique(ids, return_inverse=True)
        known = self._canonical_ids.setdefault(name, {})
        found = [known.get(i, -1) for i in distinct.tolist()]
        fresh = [k for k, i in enumerate(found) if i < 0]
        if fresh:
            for k, i in zip(fresh, self._canonical_payload_ids(name, distinct[fresh]).tolist()):
                found[k] = known[int(distinct[k])] = i
        return np.array(found, dtype=np.int64)[inverse.reshape(-1)]

    def _canonical_payload_ids(self, name: str, ids: np.ndarray) -> np.ndarray:
        """:meth:`_canonical` of distinct ids, computed."""
        width = self._width(name)
        payload = self.sizes.get(width, ids).copy()
        blocks, column = [], 0
        for points in self.plan.points(name):
            blocks.append((column, column + len(points)))
            column += len(points)
        groups = [blocks] if self.plan.sweep.tied else [[block] for block in blocks]
        rows = np.arange(len(payload))[:, None]
        for group in groups:
            parts = [payload[:, a:b] for a, b in group]
            fresh = np.zeros(parts[0].shape, dtype=bool)
            fresh[:, 0] = True
            for part in parts:
                fresh[:, 1:] |= part[:, 1:] != part[:, :-1]
            slot = np.cumsum(fresh, axis=1) - 1
            for (a, b), part in zip(group, parts):
                packed = np.repeat(part[:, -1:], b - a, axis=1)
                packed[rows, slot] = part
                payload[:, a:b] = packed
        return self.sizes.intern(payload)

    def _outputs(self, step: Step, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every distinct input (row of ``keys``) and every combo: valid, channels, sizes id."""
        if self._plain_spatial(step):
            found = self._spatial_outputs(step, keys)
            if found is not None:
                return found
            self._untabled.add(step.index)  # inputs too large to tabulate: applied to the sizes themselves below
        n_inputs = len(step.inputs)
        shape = (len(keys), len(step.combos))
        ok, channels, ids = np.zeros(shape, bool), np.full(shape, INVALID, np.int64), np.full(shape, INVALID, np.int64)
        param_keys = keys[:, 2 * n_inputs :]
        by_params, param_group = unique_rows(param_keys) if param_keys.shape[1] else (np.zeros((1, 0), np.int64), np.zeros(len(keys), np.int64))
        inputs = [(keys[:, 2 * i], keys[:, 2 * i + 1]) for i in range(n_inputs)]
        found_at, found_combo, payloads = [], [], []
        for g, values in enumerate(by_params):
            members = np.flatnonzero(param_group == g)
            chosen = dict(step.assumed)
            chosen.update(zip(step.old_params, (int(v) for v in values)))
            sources = [(ch[members], self.sizes.get(self._width(name), sid[members])) for name, (ch, sid) in zip(step.inputs, inputs)]
            for c, combo in enumerate(step.combos):
                chosen.update(zip(step.new_params, (int(v) for v in combo)))
                layer = self._layer(step, chosen)
                if layer is None or not self._constraints_hold(step, chosen):
                    continue
                out_channels, payload, valid = self._apply(step, layer, sources)
                if not valid.any():
                    continue
                sel = members[valid]
                ok[sel, c] = True
                channels[sel, c] = out_channels[valid]
                found_at.append(sel)
                found_combo.append(np.full(len(sel), c, dtype=np.int64))
                payloads.append(payload[valid])
        if payloads:
            ids[np.concatenate(found_at), np.concatenate(found_combo)] = self.sizes.intern(np.concatenate(payloads))
        return ok, channels, ids

    def _plain_spatial(self, step: Step) -> bool:
        """Whether the step is a size rule on one spatial input and nothing else (no targets, no receptive
        field, no old parameters), which :meth:`_spatial_outputs` applies for every combo at once."""
        found = self._spatial.get(step.index)
        if found is None:
            plan, first = self.plan, step.inputs[0]
            found = not (
                len(step.inputs) != 1 or step.old_params or step.targets or first in plan.flat or step.node in plan.receptive
                or (step.node in plan.full and first not in plan.full)
            )
            if found:
                layer_ids = self.combo_layers(step)
                found = all(self.layers[i].family in ("spatial", "preserve", "linear") for i in set(layer_ids[layer_ids >= 0].tolist()))
            self._spatial[step.index] = found
        return found

    def _spatial_outputs(self, step: Step, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """:meth:`_outputs` of a plain spatial step: sizes read from :meth:`axis_tables`, no loop over combos;
        None when an input not seen before holds a size too large to tabulate (:data:`TABLE_SIZES`).

        Results are remembered per input (channels and sizes id) for the step's layers, so twin steps -
        the repeated blocks of a deep network, which mostly see the inputs the block before saw - look
        them up instead of computing them again.
        """
        shape = (len(keys), len(step.combos))
        layer_ids = self.combo_layers(step)
        combos = np.flatnonzero(layer_ids != INVALID)
        if not len(combos):
            return np.zeros(shape, bool), np.full(shape, INVALID, np.int64), np.full(shape, INVALID, np.int64)
        plan, first = self.plan, step.inputs[0]
        memo = self._memos.setdefault((layer_ids.tobytes(), first in plan.full, step.node in plan.full), _Memo(shape[1]))
        codes = _codes(keys[:, 0], keys[:, 1])
        where = memo.find(codes) if codes is not None else np.full(len(keys), -1, dtype=np.int64)
        fresh = np.flatnonzero(where < 0)
        if len(fresh):
            computed = self._compute_spatial(step, keys[fresh], layer_ids, combos)
            if computed is None or codes is None:
                return computed
            where[fresh] = memo.add(codes[fresh], *computed)
        return memo.ok[where], memo.channels[where], memo.ids[where]

    def _compute_spatial(self, step: Step, keys: np.ndarray, layer_ids: np.ndarray, combos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Valid, channels and sizes id of every combo's output from every input of ``keys``; None when a size
        is too large to tabulate."""
        first = step.inputs[0]
        sizes = self.sizes.get(self._width(first), keys[:, 1])
        if int(sizes.max(initial=0)) >= TABLE_SIZES:
            return None
        shape = (len(keys), len(step.combos))
        ok, channels, ids = np.zeros(shape, bool), np.full(shape, INVALID, np.int64), np.full(shape, INVALID, np.int64)
        every = self._split(first, sizes, None)  # validity at every size the input is tracked at
        blocks = self._split(first, sizes, self.plan.points(step.node))  # outputs at the step's own points
        tables = [self.axis_tables(layer_ids[combos], axis, int(block.max()) + 1) for axis, block in enumerate(every)]
        distinct_counts, inverse = self._channel_table(layer_ids[combos], keys[:, 0])
        first_of, class_of = self._alike(layer_ids[combos], tables, distinct_counts)
        counts = distinct_counts[:, inverse]
        fine = counts[first_of] != INVALID
        outs = []
        for (out_table, ok_table), block, checked in zip(tables, blocks, every):
            outs.append(out_table[first_of][:, block])
            fine &= ok_table[first_of][:, checked].all(axis=2)
        at_class, at_key = np.nonzero(fine)
        class_ids = np.full(fine.shape, INVALID, dtype=np.int64)
        if len(at_key):
            payload = np.concatenate([out[at_class, at_key] for out in outs], axis=1)
            class_ids[at_class, at_key] = self.sizes.intern(payload)
        ok[:, combos] = fine[class_of].T
        channels[:, combos] = counts.T
        ids[:, combos] = class_ids[class_of].T
        return ok, channels, ids

    def _weight(self, step: Step, keys: np.ndarray) -> np.ndarray:
        """Per combo: how many combos act as it does on every input of ``keys`` when it is the first of them,
        else 0. Plain spatial steps read the classes from their layers' tables as computed so far, which
        cover every input seen; other steps count every combo alone."""
        if not self._plain_spatial(step) or step.index in self._untabled:
            return np.ones(len(step.combos), dtype=np.int64)
        layer_ids = self.combo_layers(step)
        combos = np.flatnonzero(layer_ids != INVALID)
        if not len(combos):
            return np.ones(len(step.combos), dtype=np.int64)
        channels_in = keys[:, 0]
        tables = [self.axis_tables(layer_ids[combos], axis, 1) for axis in range(len(self.plan.sweep.axes))]
        distinct_counts, _ = self._channel_table(layer_ids[combos], channels_in)
        first_of, class_of = self._alike(layer_ids[combos], tables, distinct_counts)
        weight = np.zeros(len(step.combos), dtype=np.int64)
        weight[combos[first_of]] = np.bincount(class_of, minlength=len(first_of))
        return weight

    def _alike(
        self, layer_ids: np.ndarray, tables: list[tuple[np.ndarray, np.ndarray]], counts: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Classes of layers that act alike on every size and channel count in their tables (e.g. convs of
        one stride and one ``kernel - 2 * padding``), computed once each: the first layer of each class,
        and each layer's class."""
        key = (self._serials_of(layer_ids).tobytes(), tuple(out.shape[1] for out, _ in tables), counts.tobytes())
        found = _CLASSES.get(key)
        if found is None:
            alike = np.concatenate([part for out, ok in tables for part in (out, ok)] + [counts], axis=1)
            codes = [row.tobytes() for row in np.ascontiguousarray(alike)]
            seen: dict[bytes, int] = {}
            class_of = np.array([seen.setdefault(code, len(seen)) for code in codes], dtype=np.int64)
            first_of = np.array([codes.index(code) for code in seen], dtype=np.int64)
            if len(_CLASSES) >= MAX_SHARED_LAYERS // 10:
                _CLASSES.clear()
            found = _CLASSES[key] = (first_of, class_of)
        return found

    def _channel_table(self, layer_ids: np.ndarray, channels_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Output channels of each layer (rows) from each distinct input channel count (columns), INVALID
        where they do not fit, and the column of each of ``channels_in``."""
        if (channels_in == channels_in[0]).all():  # the usual case: one channel count reaches the layer
            distinct, inverse = channels_in[:1], np.zeros(len(channels_in), dtype=np.int64)
        else:
            distinct, inverse = np.unique(channels_in, return_inverse=True)
        key = (self._serials_of(layer_ids).tobytes(), distinct.tobytes())
        table = _CHANNELS.get(key)
        if table is None:
            table = np.empty((len(layer_ids), len(distinct)), dtype=np.int64)
            for row, layer_id in enumerate(layer_ids.tolist()):
                for column, value in enumerate(distinct.tolist()):
                    try:
                        table[row, column] = self.layers[layer_id].out_channels_for(value)
                    except ValueError:
                        table[row, column] = INVALID
            if len(_CHANNELS) >= MAX_SHARED_LAYERS // 10:
                _CHANNELS.clear()
            _CHANNELS[key] = table
        return table, inverse.reshape(-1)

    def _merge(
        self, merge: Step, produced: str, rows: np.ndarray, layout: Layout,
        ok: np.ndarray, channels: np.ndarray, ids: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Apply a merge fused into the step that produced its last input."""
        parts_ch = [channels if n == produced else rows[:, layout.tensors[n]] for n in merge.inputs]
        parts_id = [ids if n == produced else rows[:, layout.tensors[n] + 1] for n in merge.inputs]
        layer = self._layer(merge, {})
        if layer is None or getattr(layer, "broadcast", False):
            raise AssertionError("only merges without broadcasting are fused")
        agree = ok & np.logical_and.reduce([i == parts_id[0] for i in parts_id])
        if layer.type == "concat":
            merged_channels = sum(parts_ch[1:], parts_ch[0])
        else:
            flat = merge.inputs[0] in self.plan.flat
            agree &= np.logical_and.reduce([c == parts_ch[0] for c in parts_ch]) | flat
            merged_channels = parts_ch[0]
        merged_ids = parts_id[0]
        if self._width(merge.node) != self._width(produced) and agree.any():
            # the inputs are tracked at every size, the merged output only at the probes
            merged_ids = merged_ids.copy()
            payload = self.sizes.get(self._width(produced), merged_ids[agree])
            kept = self._split(produced, payload, self.plan.points(merge.node))
            merged_ids[agree] = self.sizes.intern(np.concatenate(kept, axis=1))
        return agree, merged_channels, merged_ids

    def _width(self, name: str) -> int:
        found = self._widths.get(name)
        if found is None:
            found = self._widths[name] = self._count_columns(name)
        return found

    def _count_columns(self, name: str) -> int:
        """How many sizes ``name``'s payload holds (features when flattened, then jump and field when tracked)."""
        plan = self.plan
        if name in plan.flat:
            lengths = [len(a) for a in plan.sweep.axes]
            return lengths[0] if plan.sweep.tied else int(np.prod(lengths))
        extra = RECEPTIVE_COLUMNS * len(plan.sweep.axes) if name in plan.receptive else 0
        return sum(len(points) for points in plan.points(name)) + extra

    def _receptive(self, step: Step, layer: Layer, sources: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Jump and receptive field (numerator, denominator each) per axis of ``layer``'s output."""
        ndim = len(self.plan.sweep.axes)
        carried = [payload[:, -RECEPTIVE_COLUMNS * ndim :].reshape(len(payload), ndim, RECEPTIVE_COLUMNS) for _, payload in sources]
        out = carried[0].copy()
        for other in carried[1:]:  # a merge sees the widest field of its inputs
            wider = other[:, :, 2] * out[:, :, 3] > out[:, :, 2] * other[:, :, 3]
            out[:, :, 2:] = np.where(wider[:, :, None], other[:, :, 2:], out[:, :, 2:])
        for axis in range(ndim):
            (jn, jd), (fn, fd) = layer.receptive(axis, (out[:, axis, 0], out[:, axis, 1]), (out[:, axis, 2], out[:, axis, 3]))
            out[:, axis] = np.stack([np.broadcast_to(v, jn.shape) for v in (jn, jd, fn, fd)], axis=1)
        return out.reshape(len(out), -1)

    def _layer(self, step: Step, chosen: dict[str, int]) -> Layer | None:
        layer_id = self._layer_id(step, tuple(chosen[p] for p in step.layer_params))
        return None if layer_id == INVALID else self.layers[layer_id]

    def _layer_id(self, step: Step, values: tuple[int, ...]) -> int:
        """The id of the step's layer for the value indices ``values`` of its layer parameters, or INVALID
        when they build none."""
        key = (step.twin, values)  # twins share their layers
        found = self._layer_ids.get(key)
        if found is None:
            named = tuple((value, type(value)) for value in (self.plan.domains[p][v] for p, v in zip(step.layer_params, values)))
            shared = (self.plan.written_as[step.node], step.layer_params, named)
            layer = _LAYERS.get(shared, _UNBUILT)
            if layer is _UNBUILT:
                try:
                    layer = self.space.build_layer(step.node, {p: value for p, (value, _) in zip(step.layer_params, named)})
                except InvalidAssignment:
                    layer = None
                if layer is not None and layer.static_problems(self.space.convention):
                    layer = None
                if len(_LAYERS) >= MAX_SHARED_LAYERS:
                    _LAYERS.clear()
                _LAYERS[shared] = layer
            found = self._layer_ids[key] = INVALID if layer is None else self._local_id(layer)
        return found

    def _local_id(self, layer: Layer) -> int:
        """The index of ``layer`` in :attr:`layers` (added when new)."""
        found = self._ids_by_layer.get(id(layer))
        if found is None:
            found = self._ids_by_layer[id(layer)] = len(self.layers)
            self.layers.append(layer)
            self._serial_list.append(_serial(layer))
        return found

    def combo_layers(self, step: Step, old: tuple[int, ...] = ()) -> np.ndarray:
        """Per combo of the step's new parameters, its layer id, or INVALID when the values build no valid
        layer or break a constraint; ``old`` gives the value indices of the step's old parameters."""
        key = (step.index, old)
        found = self._combo_layer_ids.get(key)
        if found is None:
            checks = self._own_constraints(step)
            if checks is None:  # a constraint reads another layer's parameters: no twin shares it
                found = self._combo_layers(step, old)
            else:  # twin steps build the same layers from the same value indices: one (read-only) array for all
                local = (tuple(_local(step.node, name) for name in names) for names in (step.layer_params, step.new_params, step.old_params))
                assumed = tuple((_local(step.node, name), value) for name, value in step.assumed)
                twin_key = (step.twin, *local, old, checks, assumed)
                found = self._twin_combo_layer_ids.get(twin_key)
                if found is None:
                    found = self._twin_combo_layer_ids[twin_key] = self._combo_layers(step, old)
                    found.setflags(write=False)
            self._combo_layer_ids[key] = found
        return found

    def _own_constraints(self, step: Step) -> tuple[str, ...] | None:
        """The texts of the step's constraints with its layer's name left out (``@.padding <= @.kernel // 2``
        for ``pool3``), when they read only that layer's parameters; None when one reads others."""
        texts = []
        for index in step.constraints:
            expression = self.space.constraints[index].expression
            if not all(name.startswith(f"{step.node}.") for name in expression.names):
                return None
            texts.append(expression.text.replace(f"{step.node}.", "@."))  # every name is one of the layer's: no other matches
        return tuple(texts)

    def _combo_layers(self, step: Step, old: tuple[int, ...]) -> np.ndarray:
        """:meth:`combo_layers`, computed (or read from the process-wide :data:`_COMBO_LAYERS`)."""
        domains, space = self.plan.domains, self.space
        shared = (self.plan.written_as[step.node], step.layer_params, step.new_params, step.old_params,
                  tuple(tuple((type(v), v) for v in domains[p]) for p in step.new_params),
                  tuple((type(domains[p][v]), domains[p][v]) for p, v in (*zip(step.old_params, old), *step.assumed)), step.combos.shape, step.combos.tobytes(),
                  tuple(space.constraints[index].expression.text for index in step.constraints))
        layers = _COMBO_LAYERS.get(shared)
        if layers is not None:
            return np.array([INVALID if layer is None else self._local_id(layer) for layer in layers], dtype=np.int64)
        found = np.array([self._layer_id(step, tuple(values)) for values in self._value_rows(step, step.layer_params, old)], dtype=np.int64)
        for index in step.constraints:
            names = tuple(sorted(space.constraints[index].expression.names))
            rows = self._value_rows(step, names, old)
            found[[not self._holds(index, names, tuple(values)) for values in rows]] = INVALID
        if len(_COMBO_LAYERS) >= MAX_SHARED_LAYERS // 100:
            _COMBO_LAYERS.clear()
        _COMBO_LAYERS[shared] = tuple(None if i == INVALID else self.layers[i] for i in found.tolist())
        return found

    def _value_rows(self, step: Step, names: tuple[str, ...], old: tuple[int, ...]) -> list[list[int]]:
        """Per combo, the value indices of ``names``: new parameters from the combo, old ones from ``old``,
        unnoticed ones (:attr:`~convsolve.solve.plan.Step.assumed`) as assumed."""
        assumed = dict(step.assumed)
        columns = [
            step.combos[:, step.new_params.index(name)] if name in step.new_params
            else np.full(len(step.combos), old[step.old_params.index(name)] if name in step.old_params else assumed[name], dtype=np.int64)
            for name in names
        ]
        rows: list[list[int]] = np.stack(columns, axis=1).tolist() if columns else [[] for _ in range(len(step.combos))]
        return rows

    def axis_tables(self, layer_ids: np.ndarray, axis: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Output size and validity on ``axis`` of each layer of ``layer_ids`` (one row each) for every input
        size ``0 .. limit - 1`` at least.

        Size rules act on each size alone, so a table read at a state's sizes gives what the rule gives;
        the tables of a chain's repeated layers are computed once.
        """
        key = (layer_ids.tobytes(), axis)
        cached = self._tables.get(key)
        if cached is None or cached[0].shape[1] < limit:
            shared = (self._serials_of(layer_ids).tobytes(), axis)  # the same layers in another table of the process
            cached = _TABLES.get(shared)
            if cached is None or cached[0].shape[1] < limit:
                sizes = np.arange(max(limit, 2 * cached[0].shape[1] if cached else 64), dtype=np.int64)
                outs, oks = [], []
                for layer_id in layer_ids.tolist():
                    out, ok = _axis_rows(self.layers[layer_id], axis, sizes)
                    outs.append(out[: len(sizes)])
                    oks.append(ok[: len(sizes)])
                cached = (np.stack(outs), np.stack(oks))
                _share_table(shared, cached)
            self._tables[key] = cached
        return cached

    def _serials_of(self, layer_ids: np.ndarray) -> np.ndarray:
        """The process-wide numbers (:func:`_serial`) of the layers ``layer_ids``."""
        if len(self._serials) < len(self._serial_list):
            self._serials = np.array(self._serial_list, dtype=np.int64)
        serials: np.ndarray = self._serials[layer_ids]
        return serials

    def _constraints_hold(self, step: Step, chosen: dict[str, int]) -> bool:
        for index in step.constraints:
            names = tuple(sorted(self.space.constraints[index].expression.names))
            if not self._holds(index, names, tuple(chosen[n] for n in names)):
                return False
        return True

    def _holds(self, index: int, names: tuple[str, ...], values: tuple[int, ...]) -> bool:
        """Whether constraint ``index`` holds with its parameters ``names`` at the value indices ``values``."""
        key = (index, values)
        found = self._checks.get(key)
        if found is None:
            try:
                found = bool(self.space.constraints[index].expression.evaluate({n: self.plan.domains[n][v] for n, v in zip(names, values)}))
            except ZeroDivisionError:
                found = False
            self._checks[key] = found
        return found

    def _split(self, name: str, payload: np.ndarray, want: tuple[np.ndarray, ...] | None) -> list[np.ndarray]:
        """Per axis, ``name``'s tracked sizes as (inputs, points) arrays, at ``want`` points if given."""
        out, column = [], 0
        for axis, points in enumerate(self.plan.points(name)):
            block = payload[:, column : column + len(points)]
            column += len(points)
            if want is not None and len(want[axis]) != len(points):
                block = block[:, want[axis]]
            out.append(block)
        return out

    def _apply(self, step: Step, layer: Layer, sources: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Channels, tracked sizes (or features) and validity of ``layer``'s output for each distinct input."""
        plan, node = self.plan, step.node
        count = len(sources[0][0])
        ok = np.ones(count, dtype=bool)
        channels_in = [ch for ch, _ in sources]
        channels = self._channels(layer, channels_in, ok)
        first = step.inputs[0]
        if first in plan.flat:
            features = [payload for _, payload in sources]
            payload = features[0]
            if layer.family == "merge":
                if layer.type == "concat":
                    payload = sum(features[1:], features[0])
                else:
                    ok &= np.logical_and.reduce([(f == features[0]).all(axis=1) for f in features])
            elif layer.family == "linear":
                wanted = getattr(layer, "in_features")
                if wanted is not None:
                    ok &= (payload == wanted).all(axis=1)
                payload = np.full_like(payload, getattr(layer, "out_features"))
            return np.full(count, -1, dtype=np.int64), payload, ok
        if layer.family == "flatten":
            sizes = self._split(first, sources[0][1], None)
            if plan.sweep.tied:
                product = np.prod(np.stack(sizes), axis=0)
            else:
                product = sizes[0]
                for more in sizes[1:]:
                    product = (product[:, :, None] * more[:, None, :]).reshape(count, -1)
            return np.full(count, -1, dtype=np.int64), product * channels_in[0][:, None], ok
        # the layer is checked at every size its inputs are tracked at; its output is kept at its own points
        want = plan.points(node)
        outs = []
        if layer.family == "merge":
            inputs = [self._split(name, payload, None) for name, (_, payload) in zip(step.inputs, sources)]
            for axis in range(len(want)):
                merged, agree = layer.merged_size([sizes[axis] for sizes in inputs])  # type: ignore[attr-defined]
                ok &= np.broadcast_to(agree, merged.shape).all(axis=1)
                outs.append(merged if merged.shape[1] == len(want[axis]) else merged[:, want[axis]])
            return channels, *self._finish(step, layer, sources, outs, ok)
        constant = node in plan.full and first not in plan.full
        sizes = self._split(first, sources[0][1], None)
        for axis in range(len(want)):
            size: Any
            if layer.family == "preserve":
                size, valid = sizes[axis], True
            else:
                size, valid = layer.axis_size(axis, sizes[axis])
            out = np.broadcast_to(np.asarray(size, dtype=np.int64), sizes[axis].shape)
            ok &= np.broadcast_to(np.asarray(valid, dtype=bool), sizes[axis].shape).all(axis=1)
            if constant:  # a constant-output layer: any tracked point gives the size everywhere
                out = np.repeat(out[:, :1], len(want[axis]), axis=1)
            elif out.shape[1] != len(want[axis]):
                out = out[:, want[axis]]
            outs.append(out)
        return channels, *self._finish(step, layer, sources, outs, ok)

    def _finish(
        self, step: Step, layer: Layer, sources: list[tuple[np.ndarray, np.ndarray]], outs: list[np.ndarray], ok: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The output payload (sizes, then jump and field when tracked) and the targets checked on it."""
        payload = np.concatenate(outs, axis=1)
        receptive = self._receptive(step, layer, sources) if step.node in self.plan.receptive else None
        for target in step.targets:
            ok &= self._target_holds(target, step.node, outs, receptive)
        if receptive is not None:
            payload = np.concatenate([payload, receptive], axis=1)
        return payload, ok

    def _channels(self, layer: Layer, channels_in: list[np.ndarray], ok: np.ndarray) -> np.ndarray:
        if layer.family == "flatten" or (channels_in[0] < 0).any():
            return np.full(len(ok), -1, dtype=np.int64)
        stacked = np.stack(channels_in, axis=1)
        if (stacked == stacked[:1]).all():  # the usual case: one channel count per input
            distinct, inverse = stacked[:1], np.zeros(len(stacked), dtype=np.int64)
        else:
            distinct, inverse = unique_rows(stacked)
        results = np.empty(len(distinct), dtype=np.int64)
        for i, values in enumerate(distinct):
            try:
                if layer.family == "merge":
                    results[i] = layer.merged_channels([int(v) for v in values])  # type: ignore[attr-defined]
                else:
                    results[i] = layer.out_channels_for(int(values[0]))
            except ValueError:
                results[i] = INVALID
        out = results[inverse]
        ok &= out != INVALID
        return out

    def _target_holds(self, target: Any, node: str, outs: list[np.ndarray], receptive: np.ndarray | None) -> np.ndarray:
        plan = self.plan
        ok = np.ones(len(outs[0]), dtype=bool)
        if receptive is not None:
            columns = receptive.reshape(len(receptive), -1, RECEPTIVE_COLUMNS)
            jn, jd, fn, fd = (columns[:, :, i] for i in range(RECEPTIVE_COLUMNS))
            if target.stride is not None:
                ok &= (jn == target.stride * jd).all(axis=1)
            if target.receptive_field is not None:
                low, high = target.receptive_field
                if low is not None:
                    ok &= (fn >= low * fd).all(axis=1)
                if high is not None:
                    ok &= (fn <= high * fd).all(axis=1)
        if target.size is None:
            return ok
        for axis, (wanted, at) in enumerate(zip(target.size, target.at)):
            index = int(np.searchsorted(plan.sweep.axes[axis], at))
            column = index if node in plan.full else int(np.searchsorted(plan.probes[axis], index))
            ok &= outs[axis][:, column] == wanted
        return ok

    def _next_rows(
        self, index: int, rows: np.ndarray, src: np.ndarray, channels: np.ndarray, ids: np.ndarray, combo: np.ndarray,
    ) -> np.ndarray:
        """The next state of each move (out of state ``src`` by ``combo``): carried columns, the new output, and
        the values still to be read."""
        width = self.layouts[index + 1].width
        runs, output, values_to, values_from = self._row_map(index)
        if runs and rows.shape[1] == width and all(to == start for to, start, _ in runs):  # carried columns stay put
            block = np.take(rows, src, axis=0)  # (the others are all written below)
        else:
            block = np.empty((len(src), width), dtype=np.int64)
            carried = np.take(rows, src, axis=0) if runs else rows
            for to, start, length in runs:  # slices: a column at a time through fancy indices is slower
                block[:, to : to + length] = carried[:, start : start + length]
        if output is not None:
            block[:, output] = channels
            block[:, output + 1] = ids
        if values_to:
            block[:, values_to] = self.units[index].step.combos[combo[:, None], values_from]
        return block

    def _row_map(self, index: int) -> tuple[list[tuple[int, int, int]], int | None, list[int], list[int]]:
        """Where unit ``index``'s next rows take their columns from: runs of carried columns (to, from, length),
        the new output's column, and the new values' columns (to, from)."""
        found = self._row_maps.get(index)
        if found is None:
            unit, layout, after = self.units[index], self.layouts[index], self.layouts[index + 1]
            pairs, values_to, values_from = [], [], []
            for name, column in after.tensors.items():
                if name != unit.last.node:
                    pairs += [(column, layout.tensors[name]), (column + 1, layout.tensors[name] + 1)]
            new = {name: i for i, name in enumerate(unit.step.new_params)}
            for name, column in after.params.items():
                if name in new:
                    values_to.append(column)
                    values_from.append(new[name])
                else:
                    pairs.append((column, layout.params[name]))
            runs: list[tuple[int, int, int]] = []
            for to, start in sorted(pairs):
                if runs and runs[-1][0] + runs[-1][2] == to and runs[-1][1] + runs[-1][2] == start:
                    runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + 1)
                else:
                    runs.append((to, start, 1))
            found = self._row_maps[index] = (runs, after.tensors.get(unit.last.node), values_to, values_from)
        return found

    def _initial_row(self) -> np.ndarray:
        if INPUT not in self.plan.initial_live:
            return np.zeros((1, 0), dtype=np.int64)
        payload = np.concatenate([self.plan.sweep.axes[a][points] for a, points in enumerate(self.plan.points(INPUT))])
        if INPUT in self.plan.receptive:
            payload = np.concatenate([payload, np.ones(RECEPTIVE_COLUMNS * len(self.plan.sweep.axes), dtype=np.int64)])
        size_id = int(self.sizes.intern(payload[None, :].astype(np.int64))[0])
        return np.array([[self.space.input.channels, size_id]], dtype=np.int64)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect young objects every 100,000 allocations instead of 700 while the block (or the decorated function)
    runs; the thresholds are put back after.

    The programme allocates many short-lived tuples and arrays while the process holds many long-lived
    objects (a loaded space, the shared caches), and the default collector spends time walking them:
    about 2.5% of a batch of repairs, and 50 of the 200 ms to chain-1000's first solution.

    Example:
        >>> with fewer_collections():
        ...     gc.get_threshold()[0]
        100000
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def depth_first(table: Table, on_step: Callable[[int, int], None] | None = None) -> Iterator[list[int]]:
    """Valid assignments as the combo chosen at each unit, in rank order, found depth first.

    Only the states on the current path are expanded, and a state found to have no completion is
    remembered, so the first solutions of a large space come without building the whole table.
    """
    last = len(table.units) - 1
    dead: set[tuple[int, bytes]] = set()
    known: dict[tuple[Any, bytes], tuple[list[int], np.ndarray]] = {}
    start = table._initial_row()[0]
    # a frame: unit index, state key, its remaining moves, whether a solution lies below it
    frames: list[list[Any]] = [[0, start.tobytes(), _moves(table, 0, start, on_step, known), False]]
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
        frames.append([index + 1, row_key, _moves(table, index + 1, row, on_step, known), False])


def _moves(
    table: Table, index: int, row: np.ndarray, on_step: Callable[[int, int], None] | None,
    known: dict[tuple[Any, bytes], tuple[list[int], np.ndarray]],
) -> Iterator[tuple[int, np.ndarray]]:
    """The valid moves out of one state, in combo order: (combo, next state row).

    ``known`` keeps the moves of chain units (see :func:`_chain_signature`) by signature and state: the
    repeated layers of a deep chain reach the same states again and again.
    """
    if on_step is not None:
        on_step(index, len(table.units))
    signature = _chain_signature(table, index)
    found = None if signature is None else known.get((signature, row.tobytes()))
    if found is None:
        moves, rows = table.apply(index, row[None, :])
        order = np.argsort(moves.combo, kind="stable")
        found = moves.combo[order].tolist(), rows[moves.dst[order]]
        if signature is not None:
            known[signature, row.tobytes()] = found
    combos, rows = found
    for k, combo in enumerate(combos):
        yield combo, rows[k]


def is_chain_link(table: Table, index: int) -> bool:
    """Whether unit ``index`` is a chain link: one layer reading the one output the state holds, with no
    merge, target or parameter carried across, handing on its own output alone (or, at the end, nothing)."""
    unit = table.units[index]
    step = unit.step
    before, after = table.layouts[index], table.layouts[index + 1]
    return (unit.merge is None and not step.old_params and not step.targets and not before.params and not after.params
            and tuple(before.tensors) == step.inputs and tuple(after.tensors) in ((step.node,), ()))


def _chain_signature(table: Table, index: int) -> tuple[Any, ...] | None:
    """What unit ``index`` does to a state when it is a chain link (:func:`is_chain_link`); None otherwise.

    Two links with one signature map every state alike: their combos build the same layers (ids of this
    table, constraints applied), they track their input and output at the same sizes, and both hand on
    their output or neither does.
    """
    if not is_chain_link(table, index):
        return None
    step, plan = table.units[index].step, table.plan
    return (table.combo_layers(step).tobytes(), table._alone(index) is not None, bool(table.layouts[index + 1].tensors),
            *((table._width(name), name in plan.full, name in plan.flat, name in plan.receptive) for name in (step.inputs[0], step.node)))


_LAYERS: dict[tuple[Any, ...], Layer | None] = {}
"""The layer (None: none valid) of a layer written some way (:attr:`~convsolve.solve.plan.Plan.written_as`), its
parameters' names and values, shared by every table of the process: a batch's configs repeat the same layers."""
_COMBO_LAYERS: dict[tuple[Any, ...], tuple[Layer | None, ...]] = {}
"""Per step (how its layer is written, parameters, their domains and combos, the values of the old parameters read and the
constraints checked), the layer of each combo, None where it builds none or breaks a constraint; shared by every
table of the process."""
_UNBUILT: Any = object()
"""What :data:`_LAYERS` gives for a layer not built yet (None means: none valid)."""
MAX_SHARED_LAYERS = 200_000

_SERIALS: dict[Layer, int] = {}
"""A number per distinct layer, never reused in the process: what the caches shared between tables are keyed by."""
_NEXT_SERIAL = itertools.count()
_TABLES: dict[tuple[bytes, int], tuple[np.ndarray, np.ndarray]] = {}
"""The size tables of :meth:`Table.axis_tables` by the numbers of their layers, shared by every table of the process."""
_tabled = 0
_CLASSES: dict[tuple[bytes, tuple[int, ...], bytes], tuple[np.ndarray, np.ndarray]] = {}
""":meth:`Table._alike`'s classes by the numbers of the layers, the width of each axis's table and the channel counts."""
_CHANNELS: dict[tuple[bytes, bytes], np.ndarray] = {}
""":meth:`Table._channel_table` by the numbers of the layers and the distinct input channel counts."""


def _serial(layer: Layer) -> int:
    """``layer``'s number (one number for equal layers)."""
    found = _SERIALS.get(layer)
    if found is None:
        if len(_SERIALS) >= MAX_SHARED_LAYERS:
            _SERIALS.clear()  # the next numbers are new ones: what was shared so far is never found again
        found = _SERIALS[layer] = next(_NEXT_SERIAL)
    return found


def _share_table(key: tuple[bytes, int], table: tuple[np.ndarray, np.ndarray]) -> None:
    """Keep ``table`` for other tables, within :data:`MAX_SHARED_SIZES` sizes in all."""
    global _tabled
    if table[0].size > MAX_SHARED_SIZES // 10:
        return
    if _tabled + table[0].size > MAX_SHARED_SIZES:
        _TABLES.clear()
        _tabled = 0
    _TABLES[key] = table
    _tabled += table[0].size


_AXIS_ROWS: dict[tuple[Layer, int], tuple[np.ndarray, np.ndarray]] = {}
"""Per (layer, axis), its output size and validity for input sizes 0, 1, ...: shared by every table of the
process, so a batch of configs written alike computes each layer's rule once."""
MAX_SHARED_SIZES = 4_000_000
"""The most input sizes the shared rows hold in all (about 36 MB); rows longer than a tenth of it are not shared."""
_shared = 0


def _axis_rows(layer: Layer, axis: int, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``layer``'s output size and validity on ``axis`` for input sizes ``0 .. len(sizes) - 1`` (at least)."""
    global _shared
    key = (layer, axis)
    found = _AXIS_ROWS.get(key)
    if found is not None and len(found[0]) >= len(sizes):
        return found
    out, ok = (sizes, True) if layer.family == "preserve" else layer.axis_size(axis, sizes)
    found = (np.broadcast_to(np.asarray(out, dtype=np.int64), sizes.shape), np.broadcast_to(np.asarray(ok, dtype=bool), sizes.shape))
    if len(sizes) <= MAX_SHARED_SIZES // 10:
        if _shared + len(sizes) > MAX_SHARED_SIZES:
            _AXIS_ROWS.clear()
            _shared = 0
        _AXIS_ROWS[key] = found = (found[0].copy(), found[1].copy())
        _shared += len(sizes)
    return found


def pushed_counts(counts: np.ndarray, moves: Transitions, states: int) -> np.ndarray:
    """Per next state, the sum over the moves into it of their source's count times their weight.

    Counts are Python integers (object arrays) and stay exact however large; while every sum is sure to
    fit, the sums are taken in int64. Past that, moves into one state with one weight are summed first and
    multiplied once: a multiplication of a big integer costs about four additions, and chain-1000's 19.4
    million moves make 4.4 million (state, weight) pairs, 10.6 million of them of weight 1.

    Example:
        >>> moves = Transitions(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([1, 0, 1]), np.array([2, 1, 1]))
        >>> pushed_counts(np.array([3, 5], dtype=object), moves, 2).tolist()
        [3, 11]
    """
    out = np.zeros(states, dtype=object)
    if not len(moves.src):
        return out
    weight = np.ones(len(moves.src), dtype=np.int64) if moves.weight is None else moves.weight
    heaviest = int(weight.max())
    largest = max(counts.max(), 1) * heaviest * len(weight)
    if largest < 2**62:
        order = np.argsort(moves.dst, kind="stable")
        dst = moves.dst[order]
        starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
        parts = counts.astype(np.int64)[moves.src[order]] * weight[order]
        out[dst[starts]] = np.add.reduceat(parts, starts).astype(object)
        return out
    order = np.argsort(moves.dst * (heaviest + 1) + weight, kind="stable")  # by state, then weight
    dst, weight = moves.dst[order], weight[order]
    groups = np.flatnonzero(np.r_[True, (dst[1:] != dst[:-1]) | (weight[1:] != weight[:-1])])
    sums = np.add.reduceat(counts[moves.src[order]], groups)
    scaled = np.flatnonzero(weight[groups] != 1)
    sums[scaled] = sums[scaled] * weight[groups][scaled].astype(object)
    dst = dst[groups]
    starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
    out[dst[starts]] = np.add.reduceat(sums, starts)
    return out


class _Memo:
    """Per input (a code of its channels and sizes id, see :func:`_codes`), the outputs of a step's layers."""

    def __init__(self, combos: int) -> None:
        self.codes = np.zeros(0, dtype=np.int64)
        self.rows = np.zeros(0, dtype=np.int64)
        self.ok = np.zeros((0, combos), dtype=bool)
        self.channels = np.zeros((0, combos), dtype=np.int64)
        self.ids = np.zeros((0, combos), dtype=np.int64)

    def find(self, codes: np.ndarray) -> np.ndarray:
        """The row of each code, -1 where it is not known."""
        at = np.searchsorted(self.codes, codes)
        inside = at < len(self.codes)
        found = np.full(len(codes), -1, dtype=np.int64)
        hit = inside.copy()
        hit[inside] = self.codes[at[inside]] == codes[inside]
        found[hit] = self.rows[at[hit]]
        return found

    def add(self, codes: np.ndarray, ok: np.ndarray, channels: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Remember new (distinct, unknown) codes' outputs; their rows."""
        rows = np.arange(len(self.ok), len(self.ok) + len(codes), dtype=np.int64)
        self.ok, self.channels, self.ids = np.concatenate([self.ok, ok]), np.concatenate([self.channels, channels]), np.concatenate([self.ids, ids])
        merged = np.concatenate([self.codes, codes])
        order = np.argsort(merged, kind="stable")
        self.codes, self.rows = merged[order], np.concatenate([self.rows, rows])[order]
        return rows


def _codes(channels: np.ndarray, ids: np.ndarray) -> np.ndarray | None:
    """One int64 per (channels, sizes id) pair, or None when they do not fit in one."""
    if len(ids) and (channels.min() < -1 or channels.max() >= 2**20 or ids.min() < 0 or ids.max() >= 2**42):
        return None
    codes: np.ndarray = (channels + 1) * 2**42 + ids
    return codes


def _matching(ok: np.ndarray, ids: np.ndarray, group: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (state, combo) pairs with ``ok[group[state], combo]`` and ``ids[group[state], combo] == wanted[state]``,
    in the order of ``np.nonzero``, found by a sorted join instead of testing every pair.

    Example:
        >>> ok = np.array([[True, True, False]])
        >>> ids = np.array([[7, 9, 7]])
        >>> [a.tolist() for a in _matching(ok, ids, np.array([0, 0]), np.array([9, 7]))]
        [[0, 1], [1, 0]]
    """
    key, combo = np.nonzero(ok)
    _, dense = np.unique(np.concatenate([ids[key, combo], wanted]), return_inverse=True)
    dense = dense.reshape(-1)
    span = int(dense.max()) + 1 if len(dense) else 1
    table = key * span + dense[: len(key)]
    order = np.argsort(table, kind="stable")
    table = table[order]
    asked = group * span + dense[len(key) :]
    lo, hi = np.searchsorted(table, asked, "left"), np.searchsorted(table, asked, "right")
    lengths = hi - lo
    src = np.repeat(np.arange(len(group)), lengths)
    starts = np.repeat(lo - (np.cumsum(lengths) - lengths), lengths)
    return src, combo[order[starts + np.arange(len(src))]]


def _units(plan: Plan) -> list[Unit]:
    """Group each merge with the step producing its last input when nothing else happens between."""
    units: list[Unit] = []
    steps = list(plan.steps)
    i = 0
    while i < len(steps):
        step = steps[i]
        following = steps[i + 1] if i + 1 < len(steps) else None
        if following is not None and _fusable(step, following):
            units.append(Unit(step, following))
            i += 2
        else:
            units.append(Unit(step, None))
            i += 1
    return units


def _fusable(step: Step, merge: Step) -> bool:
    return (
        merge.plain_merge
        and not merge.new_params and not merge.old_params and not merge.constraints and not merge.targets
        and step.node in merge.inputs
        and all(name == step.node or name in step.live_tensors for name in merge.inputs)
        and step.node not in merge.live_tensors  # the unit hands on the merge's output alone, not the step's too
    )


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows (sorted) and, per input row, the index of its distinct row."""
    if len(rows) <= 1:
        return rows, np.zeros(len(rows), dtype=np.int64)
    if rows.shape[1] == 0:
        return rows[:1], np.zeros(len(rows), dtype=np.int64)
    lo, hi = rows.min(axis=0), rows.max(axis=0)
    spans = hi - lo + 1
    if np.log2(spans.astype(np.float64)).sum() < 61.5:
        # pack each row into one int64 (mixed radix) and sort that: much faster than unique(axis=0)
        radix = np.concatenate([np.cumprod(spans[::-1])[:-1][::-1], [1]]).astype(np.int64)
        codes = (rows - lo) @ radix
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        return rows[first], inverse.reshape(-1)
    # wide rows: group by a 64-bit hash, then verify that rows sharing a hash are equal
    weights = _HASH_WEIGHTS[: rows.shape[1]] if rows.shape[1] <= len(_HASH_WEIGHTS) else None
    if weights is not None:
        with np.errstate(over="ignore"):
            hashes = (rows.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
        _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        if (rows[first][inverse] == rows).all():
            return rows[first], inverse
    contiguous = np.ascontiguousarray(rows)
    keys = contiguous.view(np.dtype((np.void, contiguous.dtype.itemsize * contiguous.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return contiguous[first], inverse.reshape(-1)


_HASH_WEIGHTS = np.random.default_rng(20261126).integers(1, 2**63, size=4096, dtype=np.uint64) | np.uint64(1)
"""Fixed odd multipliers: row hashes (and so state order) are the same in every run."""
