"""The layers a plan's steps build, and what the solvers read of them: one catalogue per plan.

A step's layer depends on the value indices of its layer parameters; the catalogue builds each layer
once (layers written alike, in any programme of the process, are built once: :class:`~convsolve.solve.cache.SolverCache`)
and numbers it, so the solvers speak of layers by id. From there it gives the layer of every combo of a
step (:meth:`LayerCatalogue.combo_layers`, constraints applied), tables of layers' size rules over input
sizes (:meth:`~LayerCatalogue.axis_tables`), their output channels (:meth:`~LayerCatalogue.channel_table`),
the classes of layers that act alike on both (:meth:`~LayerCatalogue.classes`), and how many columns each
output's tracked sizes take (:meth:`~LayerCatalogue.width`).

Example:
    >>> from convsolve import load_space
    >>> from convsolve.solve.plan import make_plan
    >>> space = load_space("configs/bench/chain-6.yaml")
    >>> catalogue = LayerCatalogue(make_plan(space), space)
    >>> step = catalogue.plan.steps[0]
    >>> layer_ids = catalogue.combo_layers(step)
    >>> out, ok = catalogue.axis_tables(layer_ids[layer_ids != INVALID][:1], 0, 8)
    >>> out.shape[0], bool(ok[0, 7])
    (1, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidAssignment
from ..layers import Layer, Merge
from .cache import DEFAULT_CACHE, SolverCache
from .plan import Plan, Step, local_name
from .rows import INVALID, RECEPTIVE_COLUMNS

__all__ = ["LayerCatalogue"]


class LayerCatalogue:
    """The layers of a plan's steps by id, their combos, size tables, channel tables and classes."""

    def __init__(self, plan: Plan, space: Any, cache: SolverCache = DEFAULT_CACHE) -> None:
        self.plan = plan
        self.space = space
        self.cache = cache
        self.layers: list[Layer] = []
        """Every distinct valid layer built so far; a layer id indexes it."""
        self._layer_ids: dict[tuple[str, tuple[int, ...]], int] = {}
        self._ids_by_layer: dict[int, int] = {}
        self._serial_list: list[int] = []
        """Per layer, its number in the cache (see :meth:`~convsolve.solve.cache.SolverCache.serial`)."""
        self._serials = np.zeros(0, dtype=np.int64)
        self._combo_layer_ids: dict[tuple[int, tuple[int, ...]], np.ndarray] = {}
        self._twin_combo_layer_ids: dict[tuple[Any, ...], np.ndarray] = {}
        self._tables: dict[tuple[bytes, int], tuple[np.ndarray, np.ndarray]] = {}
        self._spatial: dict[int, bool] = {}
        self._widths: dict[str, int] = {}
        self._checks: dict[tuple[int, tuple[int, ...]], bool] = {}

    # --- layers --------------------------------------------------------------------------------

    def layer(self, step: Step, chosen: dict[str, int]) -> Layer | None:
        """The step's layer for the value indices ``chosen`` (of at least its layer parameters), None when they build none."""
        layer_id = self._layer_id(step, tuple(chosen[p] for p in step.layer_params))
        return None if layer_id == INVALID else self.layers[layer_id]

    def merge_layer(self, merge: Step) -> Merge:
        """The layer of a merge step without parameters (a merge fused into a unit)."""
        layer = self.layer(merge, {})
        if not isinstance(layer, Merge):
            raise TypeError(f"{merge.node!r} is not a merge without parameters")
        return layer

    def _layer_id(self, step: Step, values: tuple[int, ...]) -> int:
        """The id of the step's layer for the value indices ``values`` of its layer parameters, or INVALID
        when they build none."""
        key = (step.twin, values)  # twins share their layers
        found = self._layer_ids.get(key)
        if found is None:
            named = tuple((value, type(value)) for value in (self.plan.domains[p][v] for p, v in zip(step.layer_params, values)))
            written = (self.plan.written_as[step.node], step.layer_params, named)
            layer = self.cache.layer(written, lambda: self._built(step, {p: value for p, (value, _) in zip(step.layer_params, named)}))
            found = self._layer_ids[key] = INVALID if layer is None else self._local_id(layer)
        return found

    def _built(self, step: Step, values: dict[str, Any]) -> Layer | None:
        try:
            layer: Layer | None = self.space.build_layer(step.node, values)
        except InvalidAssignment:
            return None
        return None if layer is None or layer.static_problems(self.space.convention) else layer

    def _local_id(self, layer: Layer) -> int:
        """The index of ``layer`` in :attr:`layers` (added when new)."""
        found = self._ids_by_layer.get(id(layer))
        if found is None:
            found = self._ids_by_layer[id(layer)] = len(self.layers)
            self.layers.append(layer)
            self._serial_list.append(self.cache.serial(layer))
        return found

    def serials(self, layer_ids: np.ndarray) -> np.ndarray:
        """The cache's numbers of the layers ``layer_ids``: what keys a result about them across programmes."""
        if len(self._serials) < len(self._serial_list):
            self._serials = np.array(self._serial_list, dtype=np.int64)
        serials: np.ndarray = self._serials[layer_ids]
        return serials

    # --- combos --------------------------------------------------------------------------------

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
                local = (tuple(local_name(step.node, name) for name in names) for names in (step.layer_params, step.new_params, step.old_params))
                assumed = tuple((local_name(step.node, name), value) for name, value in step.assumed)
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
        """:meth:`combo_layers`, computed (or read from the cache, which every programme of the process shares)."""
        domains, space = self.plan.domains, self.space
        shared = (self.plan.written_as[step.node], step.layer_params, step.new_params, step.old_params,
                  tuple(tuple((type(v), v) for v in domains[p]) for p in step.new_params),
                  tuple((type(domains[p][v]), domains[p][v]) for p, v in (*zip(step.old_params, old), *step.assumed)),
                  step.combos.shape, step.combos.tobytes(),
                  tuple(space.constraints[index].expression.text for index in step.constraints))
        layers = self.cache.known_combo_layers(shared)
        if layers is not None:
            return np.array([INVALID if layer is None else self._local_id(layer) for layer in layers], dtype=np.int64)
        found = np.array([self._layer_id(step, tuple(values)) for values in self._value_rows(step, step.layer_params, old)], dtype=np.int64)
        for index in step.constraints:
            names = tuple(sorted(space.constraints[index].expression.names))
            rows = self._value_rows(step, names, old)
            found[[not self._holds(index, names, tuple(values)) for values in rows]] = INVALID
        self.cache.keep_combo_layers(shared, tuple(None if i == INVALID else self.layers[i] for i in found.tolist()))
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

    def constraints_hold(self, step: Step, chosen: dict[str, int]) -> bool:
        """Whether the constraints checked at ``step`` hold at the value indices ``chosen``."""
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
            found = self.space.constraints[index].holds({n: self.plan.domains[n][v] for n, v in zip(names, values)})
            self._checks[key] = found
        return found

    def plain_spatial(self, step: Step) -> bool:
        """Whether the step is a size rule on one spatial input and nothing else (no targets, no receptive
        field, no old parameters), which can be applied for every combo at once from :meth:`axis_tables`."""
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

    # --- tables of layers ----------------------------------------------------------------------

    def axis_tables(self, layer_ids: np.ndarray, axis: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Output size and validity on ``axis`` of each layer of ``layer_ids`` (one row each) for every input
        size ``0 .. limit - 1`` at least.

        Size rules act on each size alone, so a table read at a state's sizes gives what the rule gives;
        the tables of a chain's repeated layers are computed once.
        """
        key = (layer_ids.tobytes(), axis)
        cached = self._tables.get(key)
        if cached is None or cached[0].shape[1] < limit:
            cached = self._tables[key] = self.cache.size_tables((self.serials(layer_ids).tobytes(), axis), limit,
                                                                lambda width: self._size_table(layer_ids, axis, width))
        return cached

    def _size_table(self, layer_ids: np.ndarray, axis: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        sizes = np.arange(width, dtype=np.int64)
        outs, oks = [], []
        for layer_id in layer_ids.tolist():
            out, ok = self.cache.axis_rows(self.layers[layer_id], axis, sizes)
            outs.append(out[:width])
            oks.append(ok[:width])
        return np.stack(outs), np.stack(oks)

    def channel_table(self, layer_ids: np.ndarray, channels_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Output channels of each layer (rows) from each distinct input channel count (columns), INVALID
        where they do not fit, and the column of each of ``channels_in``."""
        if (channels_in == channels_in[0]).all():  # the usual case: one channel count reaches the layer
            distinct, inverse = channels_in[:1], np.zeros(len(channels_in), dtype=np.int64)
        else:
            distinct, inverse = np.unique(channels_in, return_inverse=True)
        table = self.cache.channel_table((self.serials(layer_ids).tobytes(), distinct.tobytes()),
                                         lambda: self._channel_table(layer_ids, distinct))
        return table, inverse.reshape(-1)

    def _channel_table(self, layer_ids: np.ndarray, distinct: np.ndarray) -> np.ndarray:
        table = np.empty((len(layer_ids), len(distinct)), dtype=np.int64)
        for row, layer_id in enumerate(layer_ids.tolist()):
            for column, value in enumerate(distinct.tolist()):
                try:
                    table[row, column] = self.layers[layer_id].out_channels_for(value)
                except ValueError:
                    table[row, column] = INVALID
        return table

    def classes(self, layer_ids: np.ndarray, tables: list[tuple[np.ndarray, np.ndarray]], counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Classes of layers that act alike on every size and channel count in their ``tables`` (from
        :meth:`axis_tables`) and ``counts`` (from :meth:`channel_table`), e.g. convs of one stride and one
        ``kernel - 2 * padding``, so each class is computed once: the first layer of each class, and each
        layer's class."""
        key = (self.serials(layer_ids).tobytes(), tuple(out.shape[1] for out, _ in tables), counts.tobytes())
        return self.cache.classes(key, lambda: _classes(tables, counts))

    # --- tracked sizes -------------------------------------------------------------------------

    def width(self, name: str) -> int:
        """How many columns ``name``'s tracked sizes take (features when flattened, then jump and field when tracked)."""
        found = self._widths.get(name)
        if found is None:
            plan = self.plan
            if name in plan.flat:
                lengths = [len(a) for a in plan.sweep.axes]
                found = lengths[0] if plan.sweep.tied else int(np.prod(lengths))
            else:
                extra = RECEPTIVE_COLUMNS * len(plan.sweep.axes) if name in plan.receptive else 0
                found = sum(len(points) for points in plan.points(name)) + extra
            self._widths[name] = found
        return found


def _classes(tables: list[tuple[np.ndarray, np.ndarray]], counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    alike = np.concatenate([part for out, ok in tables for part in (out, ok)] + [counts], axis=1)
    codes = [row.tobytes() for row in np.ascontiguousarray(alike)]
    seen: dict[bytes, int] = {}
    class_of = np.array([seen.setdefault(code, len(seen)) for code in codes], dtype=np.int64)
    first_of = np.array([codes.index(code) for code in seen], dtype=np.int64)
    return first_of, class_of
