"""Frontier state rows and the operations on them: interned sizes, row layouts, moves, distinct rows, pushed counts.

A frontier state (see :mod:`convsolve.solve.plan`) is one int64 row: for every remembered output its
channel count and the id of its tracked sizes, then the value index of every remembered parameter.
Tracked sizes are interned (:class:`Sizes`), so rows stay narrow however wide the input range, and
two outputs agree at every size exactly when their ids are equal.

Example:
    >>> sizes = Sizes()
    >>> ids = sizes.intern(np.array([[8, 9, 10], [8, 9, 10], [4, 5, 5]]))
    >>> bool(ids[0] == ids[1]), sizes.get(3, ids[2:]).tolist()
    (True, [[4, 5, 5]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["INVALID", "RECEPTIVE_COLUMNS", "Sizes", "Layout", "Transitions", "OutputMemo", "matching", "pair_codes", "pushed_counts", "unique_rows"]

INVALID = -1
"""A layer id, channel count or sizes id that stands for none (no valid layer, channels that do not fit)."""
RECEPTIVE_COLUMNS = 4
"""Per axis: jump numerator, jump denominator, receptive field numerator, denominator."""
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
    def of(cls, tensors: tuple[str, ...], params: tuple[str, ...]) -> Layout:
        spans = {name: 2 * i for i, name in enumerate(tensors)}
        start = 2 * len(tensors)
        return cls(spans, {name: start + i for i, name in enumerate(params)}, start + len(params))


@dataclass(frozen=True)
class Transitions:
    """Valid moves out of one unit's states: ``src`` state, ``combo`` of new values, ``dst`` state."""

    src: np.ndarray
    combo: np.ndarray
    dst: np.ndarray
    weight: np.ndarray | None = None
    """With ``grouped=True``: how many combos each move stands for (its combo is the first of them)."""


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


class OutputMemo:
    """Per input (a code of its channels and sizes id, see :func:`pair_codes`), the outputs of a step's layers."""

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


def pair_codes(channels: np.ndarray, ids: np.ndarray) -> np.ndarray | None:
    """One int64 per (channels, sizes id) pair, or None when they do not fit in one."""
    if len(ids) and (channels.min() < -1 or channels.max() >= 2**20 or ids.min() < 0 or ids.max() >= 2**42):
        return None
    codes: np.ndarray = (channels + 1) * 2**42 + ids
    return codes


def matching(ok: np.ndarray, ids: np.ndarray, group: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (state, combo) pairs with ``ok[group[state], combo]`` and ``ids[group[state], combo] == wanted[state]``,
    in the order of ``np.nonzero``, found by a sorted join instead of testing every pair.

    Example:
        >>> ok = np.array([[True, True, False]])
        >>> ids = np.array([[7, 9, 7]])
        >>> [a.tolist() for a in matching(ok, ids, np.array([0, 0]), np.array([9, 7]))]
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


_HASH_WEIGHTS = np.random.default_rng(20261126).integers(1, 2**63, size=4096, dtype=np.uint64) | np.uint64(1)
"""Fixed odd multipliers: row hashes (and so state order) are the same in every run."""
