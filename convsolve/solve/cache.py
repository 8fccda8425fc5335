"""What the solvers of one process share: built layers, their numbers and tables of their rules, in one bounded object.

A batch of configs, an Optuna study or a test run builds many programmes over layers written alike;
:class:`SolverCache` keeps what one computed for the next: the layer built from given parameter values,
the layers of a step's combos, a number per distinct layer (what the other entries are keyed by), the
tables of layers' rules over input sizes, the classes of layers acting alike and their channel tables.
Each kind of entry has a bound (entries, or sizes held); a kind that would pass its bound is emptied
and starts again, so memory stays bounded however long the process runs. :meth:`SolverCache.clear`
empties it all.

Every read and write holds the cache's lock, so one cache may be shared by threads; two threads may
compute the same entry at once, and both get equal values.

Example:
    >>> cache = SolverCache(max_layers=1000)
    >>> cache.layer(("conv", 3), lambda: None) is None and len(cache)
    1
    >>> cache.clear(); len(cache)
    0
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import numpy as np

from ..layers import Layer

__all__ = ["SolverCache", "DEFAULT_CACHE", "MAX_SHARED_LAYERS", "MAX_SHARED_SIZES"]

MAX_SHARED_LAYERS = 200_000
"""The most layers kept (and numbered) at once; layers of combos up to a hundredth of it, classes and channel
tables up to a tenth."""
MAX_SHARED_SIZES = 4_000_000
"""The most input sizes the tables of layers' rules hold in all (about 36 MB per kind); a table of more than a
tenth of it is not kept."""

Value = TypeVar("Value")
_MISSING: Any = object()


class _Shelf(Generic[Value]):
    """One kind of entry within a bound: each entry costs something (1, or the sizes it holds); an entry costing
    more than a tenth of the bound is not kept, and one that would pass the bound empties the shelf first."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.entries: dict[Hashable, Value] = {}
        self.used = 0

    def put(self, key: Hashable, value: Value, cost: int = 1) -> bool:
        """Keep ``value`` under ``key``; False when it costs too much to keep."""
        if cost > max(1, self.bound // 10):
            return False
        if self.used + cost > self.bound:
            self.entries.clear()
            self.used = 0
        self.entries[key] = value
        self.used += cost
        return True


class SolverCache:
    """Layers, their numbers and tables of their rules shared by the programmes of a process, within bounds.

    A layer's number is never reused in the life of the cache (not even after :meth:`clear`): programmes
    still running hold numbers, and an entry keyed by numbers must never be found for other layers.
    """

    def __init__(self, max_layers: int = MAX_SHARED_LAYERS, max_sizes: int = MAX_SHARED_SIZES) -> None:
        self._lock = threading.Lock()
        self._layers: _Shelf[Layer | None] = _Shelf(max_layers)
        self._combo_layers: _Shelf[tuple[Layer | None, ...]] = _Shelf(max_layers // 100)
        self._serials: _Shelf[int] = _Shelf(max_layers)
        self._next_serial = itertools.count()
        self._size_tables: _Shelf[tuple[np.ndarray, np.ndarray]] = _Shelf(max_sizes)
        self._classes: _Shelf[tuple[np.ndarray, np.ndarray]] = _Shelf(max_layers // 10)
        self._channel_tables: _Shelf[np.ndarray] = _Shelf(max_layers // 10)
        self._axis_rows: _Shelf[tuple[np.ndarray, np.ndarray]] = _Shelf(max_sizes)
        self._shelves: tuple[_Shelf[Any], ...] = (
            self._layers, self._combo_layers, self._serials, self._size_tables, self._classes, self._channel_tables, self._axis_rows,
        )

    def __len__(self) -> int:
        """How many entries are kept, of every kind."""
        with self._lock:
            return sum(len(shelf.entries) for shelf in self._shelves)

    def clear(self) -> None:
        """Forget every entry (numbers already given stay taken)."""
        with self._lock:
            for shelf in self._shelves:
                shelf.entries.clear()
                shelf.used = 0

    def _recalled(self, shelf: _Shelf[Value], key: Hashable, compute: Callable[[], Value], cost: Callable[[Value], int] = lambda _: 1) -> Value:
        with self._lock:
            found = shelf.entries.get(key, _MISSING)
        if found is _MISSING:
            found = compute()
            with self._lock:
                shelf.put(key, found, cost(found))
        return found  # type: ignore[no-any-return]

    def layer(self, key: Hashable, build: Callable[[], Layer | None]) -> Layer | None:
        """The layer written as ``key`` (how it is written and its parameter values), built by ``build`` when new
        (None: its values build no valid layer)."""
        return self._recalled(self._layers, key, build)

    def known_combo_layers(self, key: Hashable) -> tuple[Layer | None, ...] | None:
        """The layer of every combo of a step written as ``key`` (None where it builds none or breaks a constraint),
        when kept; else None."""
        with self._lock:
            return self._combo_layers.entries.get(key)

    def keep_combo_layers(self, key: Hashable, layers: tuple[Layer | None, ...]) -> None:
        """Keep the layers of a step's combos (see :meth:`known_combo_layers`)."""
        with self._lock:
            self._combo_layers.put(key, layers)

    def serial(self, layer: Layer) -> int:
        """``layer``'s number: one number for equal layers while kept, never one number for two unequal layers."""
        with self._lock:
            found = self._serials.entries.get(layer)
            if found is None:
                found = next(self._next_serial)
                self._serials.put(layer, found)
            return found

    def size_tables(self, key: Hashable, limit: int, build: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """Output size and validity of some layers (one row each, ``key``: their numbers and the axis) for input
        sizes ``0 .. limit - 1`` at least; ``build(width)`` computes them for the sizes below ``width``."""
        with self._lock:
            found = self._size_tables.entries.get(key)
        if found is None or found[0].shape[1] < limit:
            found = build(max(limit, 2 * found[0].shape[1] if found is not None else 64))
            with self._lock:
                self._size_tables.put(key, found, found[0].size)
        return found

    def classes(self, key: Hashable, build: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """The classes of layers acting alike, keyed by the layers' numbers and what they were compared on."""
        return self._recalled(self._classes, key, build)

    def channel_table(self, key: Hashable, build: Callable[[], np.ndarray]) -> np.ndarray:
        """The output channels of some layers from some channel counts, keyed by the layers' numbers and the counts."""
        return self._recalled(self._channel_tables, key, build)

    def axis_rows(self, layer: Layer, axis: int, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``layer``'s output size and validity on ``axis`` for the input sizes ``0 .. len(sizes) - 1`` (``sizes``),
        at least: :meth:`~convsolve.layers.Layer.apply_sizes`, computed once per layer and axis."""
        key = (layer, axis)
        with self._lock:
            found = self._axis_rows.entries.get(key)
        if found is not None and len(found[0]) >= len(sizes):
            return found
        found = layer.apply_sizes(axis, sizes)
        with self._lock:
            if len(sizes) <= max(1, self._axis_rows.bound // 10):
                found = (found[0].copy(), found[1].copy())
                self._axis_rows.put(key, found, len(sizes))
        return found


DEFAULT_CACHE = SolverCache()
"""The cache of the process: what a programme uses unless given another."""
