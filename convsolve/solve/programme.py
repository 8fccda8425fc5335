"""A plan's units and how one is applied to frontier states: the step every solver of :mod:`convsolve.solve` takes.

A step applies one layer to every *distinct input* it reads (input ids and earlier parameter
values), once per combination of its new parameters, as one NumPy operation per axis; the states
then look their results up. A step that is a size rule on one spatial input and nothing more reads
every combination's sizes at once from tables of its layers' rules over input sizes
(:meth:`~convsolve.solve.catalogue.LayerCatalogue.axis_tables`), and layers written alike (twins, see
:func:`~convsolve.solve.plan.make_plan`) are built once, so a deep chain costs little per layer; combos
whose layers act alike are computed once, and a step remembers its outputs per input, which its twins
(the repeated blocks of a deep network) look up. A merge that directly follows the layer producing its
last input is applied in the same step (a :class:`Unit`), as a join on the sizes ids, so disagreeing
branch pairs are never formed. When one output is all the frontier tracks at every size, its sizes are
kept as a set (:meth:`Programme.canonical`): states that differ only in how many input sizes reach each
size are one state.

Example:
    >>> from convsolve import load_space
    >>> from convsolve.solve.plan import make_plan
    >>> space = load_space("configs/bench/chain-6.yaml")
    >>> programme = Programme(make_plan(space), space)
    >>> moves, rows = programme.apply(0, programme.initial_row())
    >>> len(programme.units), len(moves.src) == len(moves.combo), rows.shape[1]
    (6, True, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SolverLimit
from ..layers import Layer, Merge
from ..network import INPUT
from .cache import DEFAULT_CACHE, SolverCache
from .catalogue import LayerCatalogue
from .plan import Plan, Step
from .rows import (
    INVALID,
    RECEPTIVE_COLUMNS,
    Layout,
    OutputMemo,
    Sizes,
    Transitions,
    matching,
    pair_codes,
    unique_rows,
)

__all__ = ["MAX_ELEMENTS", "MAX_KEPT", "TABLE_SIZES", "Programme", "Unit", "units_of"]

MAX_ELEMENTS = 60_000_000
"""The most integers one step may materialise (about 480 MB): past it the solver stops with SolverLimit."""
MAX_KEPT = 400_000_000
"""The most integers a programme may keep over all its steps (states and moves, about 3.2 GB): past it the
solver stops with SolverLimit. The deepest shipped space, chain-1000, keeps about 120 million."""
TABLE_SIZES = 1 << 16
"""Input sizes up to this are read from tables of each layer's rule; larger ones (up to 2**31 - 1) are
computed from the sizes themselves, so a huge input range costs time, not a table of that many sizes."""


@dataclass(frozen=True)
class Unit:
    """One step of the programme: a layer, and the merge that directly follows it when it can be fused."""

    step: Step
    merge: Step | None

    @property
    def last(self) -> Step:
        return self.merge or self.step


def units_of(plan: Plan) -> list[Unit]:
    """The plan's steps as units: each merge grouped with the step producing its last input when nothing else
    happens between (a plain add, mul or concat without parameters, constraints or targets)."""
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


class Programme:
    """The units of a plan, the layout of the states between them, and the moves of a unit out of given states.

    It keeps no states of its own: :class:`~convsolve.solve.table.Table` runs it over every reachable
    state, :func:`~convsolve.solve.depth_first.depth_first` along one path, the cheapest search over the
    states within a bound; the dense and interval counters read its catalogue and layouts.
    """

    def __init__(self, plan: Plan, space: Any, cache: SolverCache = DEFAULT_CACHE) -> None:
        self.plan = plan
        self.space = space
        self.catalogue = LayerCatalogue(plan, space, cache)
        self.sizes = Sizes()
        self.units = units_of(plan)
        self.layouts = [Layout.of(plan.initial_live, ())] + [
            Layout.of(unit.last.live_tensors, unit.last.live_params) for unit in self.units
        ]
        """The layout of the states before every unit, and after the last."""
        self._alone_at: dict[int, str | None] = {}
        self._canonical_ids: dict[str, dict[int, int]] = {}
        self._memos: dict[tuple[bytes, bool, bool], OutputMemo] = {}
        self._row_maps: dict[int, tuple[list[tuple[int, int, int]], int | None, list[int], list[int]]] = {}
        self._untabled: set[int] = set()

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
        if candidates * max(1, self.catalogue.width(step.node)) > MAX_ELEMENTS:
            raise SolverLimit(step.node, f"candidate outputs ({len(keys):,} inputs x {len(step.combos):,} combinations, "
                              f"each tracked at {self.catalogue.width(step.node):,} sizes)",
                              candidates * self.catalogue.width(step.node), MAX_ELEMENTS)
        out_ok, out_channels, out_ids = self._outputs(step, keys)
        grouped = grouped and not set(step.new_params) & set(after.params)
        if grouped:
            weight = self._weight(step, keys)
            out_ok &= weight > 0
        others = [name for name in unit.merge.inputs if name != step.node] if unit.merge is not None else []
        if others:  # only pairs whose new output has the sizes of the merge's other input can merge
            src, combo = matching(out_ok, out_ids, group, rows[:, layout.tensors[others[0]] + 1])
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
        alone = self.alone(index)
        if alone is not None:
            column = after.tensors[alone] + 1
            block[:, column] = self.canonical(alone, block[:, column])
        next_rows, dst = unique_rows(block)
        return Transitions(src.astype(np.int64), combo.astype(np.int64), dst, weight[combo] if grouped else None), next_rows

    def is_chain_link(self, index: int) -> bool:
        """Whether unit ``index`` is a chain link: one layer reading the one output the state holds, with no
        merge, target or parameter carried across, handing on its own output alone (or, at the end, nothing)."""
        unit = self.units[index]
        step = unit.step
        before, after = self.layouts[index], self.layouts[index + 1]
        return (unit.merge is None and not step.old_params and not step.targets and not before.params and not after.params
                and tuple(before.tensors) == step.inputs and tuple(after.tensors) in ((step.node,), ()))

    def alone(self, index: int) -> str | None:
        """The one output tracked at every size after unit ``index``, when it is the only one and its
        sizes matter only as a set (no size target reads a given input size): see :meth:`canonical`."""
        if index not in self._alone_at:
            plan = self.plan
            exact = [name for name in self.layouts[index + 1].tensors if name in plan.full]
            positional = any(target.at is not None or target.size is not None for target in self.space.targets)
            self._alone_at[index] = exact[0] if len(exact) == 1 and exact[0] not in plan.flat and not positional else None
        return self._alone_at[index]

    def canonical(self, name: str, ids: np.ndarray) -> np.ndarray:
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
        """:meth:`canonical` of distinct ids, computed."""
        width = self.catalogue.width(name)
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
        if self.catalogue.plain_spatial(step):
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
            sources = [(ch[members], self.sizes.get(self.catalogue.width(name), sid[members])) for name, (ch, sid) in zip(step.inputs, inputs)]
            for c, combo in enumerate(step.combos):
                chosen.update(zip(step.new_params, (int(v) for v in combo)))
                layer = self.catalogue.layer(step, chosen)
                if layer is None or not self.catalogue.constraints_hold(step, chosen):
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

    def _spatial_outputs(self, step: Step, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """:meth:`_outputs` of a plain spatial step: sizes read from the catalogue's
        :meth:`~convsolve.solve.catalogue.LayerCatalogue.axis_tables`, no loop over combos; None when an input
        not seen before holds a size too large to tabulate (:data:`TABLE_SIZES`).

        Results are remembered per input (channels and sizes id) for the step's layers, so twin steps -
        the repeated blocks of a deep network, which mostly see the inputs the block before saw - look
        them up instead of computing them again.
        """
        shape = (len(keys), len(step.combos))
        layer_ids = self.catalogue.combo_layers(step)
        combos = np.flatnonzero(layer_ids != INVALID)
        if not len(combos):
            return np.zeros(shape, bool), np.full(shape, INVALID, np.int64), np.full(shape, INVALID, np.int64)
        plan, first = self.plan, step.inputs[0]
        memo = self._memos.setdefault((layer_ids.tobytes(), first in plan.full, step.node in plan.full), OutputMemo(shape[1]))
        codes = pair_codes(keys[:, 0], keys[:, 1])
        where = memo.find(codes) if codes is not None else np.full(len(keys), -1, dtype=np.int64)
        fresh = np.flatnonzero(where < 0)
        if len(fresh):
            computed = self._compute_spatial(step, keys[fresh], layer_ids, combos)
            if computed is None or codes is None:
                return computed
            where[fresh] = memo.add(codes[fresh], *computed)
        return memo.ok[where], memo.channels[where], memo.ids[where]

    def _compute_spatial(
        self, step: Step, keys: np.ndarray, layer_ids: np.ndarray, combos: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Valid, channels and sizes id of every combo's output from every input of ``keys``; None when a size
        is too large to tabulate."""
        first = step.inputs[0]
        sizes = self.sizes.get(self.catalogue.width(first), keys[:, 1])
        if int(sizes.max(initial=0)) >= TABLE_SIZES:
            return None
        shape = (len(keys), len(step.combos))
        ok, channels, ids = np.zeros(shape, bool), np.full(shape, INVALID, np.int64), np.full(shape, INVALID, np.int64)
        every = self._split(first, sizes, None)  # validity at every size the input is tracked at
        blocks = self._split(first, sizes, self.plan.points(step.node))  # outputs at the step's own points
        tables = [self.catalogue.axis_tables(layer_ids[combos], axis, int(block.max()) + 1) for axis, block in enumerate(every)]
        distinct_counts, inverse = self.catalogue.channel_table(layer_ids[combos], keys[:, 0])
        first_of, class_of = self.catalogue.classes(layer_ids[combos], tables, distinct_counts)
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
        if not self.catalogue.plain_spatial(step) or step.index in self._untabled:
            return np.ones(len(step.combos), dtype=np.int64)
        layer_ids = self.catalogue.combo_layers(step)
        combos = np.flatnonzero(layer_ids != INVALID)
        if not len(combos):
            return np.ones(len(step.combos), dtype=np.int64)
        channels_in = keys[:, 0]
        tables = [self.catalogue.axis_tables(layer_ids[combos], axis, 1) for axis in range(len(self.plan.sweep.axes))]
        distinct_counts, _ = self.catalogue.channel_table(layer_ids[combos], channels_in)
        first_of, class_of = self.catalogue.classes(layer_ids[combos], tables, distinct_counts)
        weight = np.zeros(len(step.combos), dtype=np.int64)
        weight[combos[first_of]] = np.bincount(class_of, minlength=len(first_of))
        return weight

    def _merge(
        self, merge: Step, produced: str, rows: np.ndarray, layout: Layout,
        ok: np.ndarray, channels: np.ndarray, ids: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Apply a merge fused into the step that produced its last input."""
        parts_ch = [channels if n == produced else rows[:, layout.tensors[n]] for n in merge.inputs]
        parts_id = [ids if n == produced else rows[:, layout.tensors[n] + 1] for n in merge.inputs]
        layer = self.catalogue.merge_layer(merge)
        if layer.broadcast:
            raise AssertionError("only merges without broadcasting are fused")
        agree = ok & np.logical_and.reduce([i == parts_id[0] for i in parts_id])
        merged_channels, channels_fit = layer.merged_channel_counts(parts_ch)
        if merge.inputs[0] not in self.plan.flat:  # flattened outputs carry no channels: their features agree or not
            agree &= channels_fit
        merged_ids = parts_id[0]
        if self.catalogue.width(merge.node) != self.catalogue.width(produced) and agree.any():
            # the inputs are tracked at every size, the merged output only at the probes
            merged_ids = merged_ids.copy()
            payload = self.sizes.get(self.catalogue.width(produced), merged_ids[agree])
            kept = self._split(produced, payload, self.plan.points(merge.node))
            merged_ids[agree] = self.sizes.intern(np.concatenate(kept, axis=1))
        return agree, merged_channels, merged_ids

    def _receptive(self, step: Step, layer: Layer, sources: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Jump and receptive field (numerator, denominator each) per axis of ``layer``'s output."""
        ndim = len(self.plan.sweep.axes)
        carried = [payload[:, -RECEPTIVE_COLUMNS * ndim :].reshape(len(payload), ndim, RECEPTIVE_COLUMNS) for _, payload in sources]
        if isinstance(layer, Merge):
            jump, field = layer.merged_receptive([(c[:, :, 0], c[:, :, 1]) for c in carried], [(c[:, :, 2], c[:, :, 3]) for c in carried])
            out = np.stack([jump[0], jump[1], field[0], field[1]], axis=2)
        else:
            out = carried[0].copy()
        for axis in range(ndim):
            (jn, jd), (fn, fd) = layer.receptive(axis, (out[:, axis, 0], out[:, axis, 1]), (out[:, axis, 2], out[:, axis, 3]))
            out[:, axis] = np.stack([np.broadcast_to(v, jn.shape) for v in (jn, jd, fn, fd)], axis=1)
        return out.reshape(len(out), -1)

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
            if isinstance(layer, Merge):
                payload, agree = layer.merged_features(features)
                ok &= np.broadcast_to(agree, payload.shape).all(axis=1)
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
        if isinstance(layer, Merge):
            inputs = [self._split(name, payload, None) for name, (_, payload) in zip(step.inputs, sources)]
            for axis in range(len(want)):
                size, agree = layer.merged_size([sizes[axis] for sizes in inputs])
                merged = np.asarray(size)
                ok &= np.broadcast_to(agree, merged.shape).all(axis=1)
                outs.append(merged if merged.shape[1] == len(want[axis]) else merged[:, want[axis]])
            return channels, *self._finish(step, layer, sources, outs, ok)
        constant = node in plan.full and first not in plan.full
        sizes = self._split(first, sources[0][1], None)
        for axis in range(len(want)):
            out, valid = layer.apply_sizes(axis, sizes[axis])
            ok &= valid.all(axis=1)
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
                if isinstance(layer, Merge):
                    results[i] = layer.merged_channels([int(v) for v in values])
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

    def initial_row(self) -> np.ndarray:
        """The state before the first unit (one row): the input's channel count and sizes id, when it is read."""
        if INPUT not in self.plan.initial_live:
            return np.zeros((1, 0), dtype=np.int64)
        payload = np.concatenate([self.plan.sweep.axes[a][points] for a, points in enumerate(self.plan.points(INPUT))])
        if INPUT in self.plan.receptive:
            payload = np.concatenate([payload, np.ones(RECEPTIVE_COLUMNS * len(self.plan.sweep.axes), dtype=np.int64)])
        size_id = int(self.sizes.intern(payload[None, :].astype(np.int64))[0])
        return np.array([[self.space.input.channels, size_id]], dtype=np.int64)


