"""Counting a chain over dense vectors of sizes: the count of a deep chain without its states' rows.

When every unit of the programme is a chain link (one layer reading the one output before it, with no
merge, target or parameter carried on: :meth:`~convsolve.solve.programme.Programme.is_chain_link`) and every output
is tracked at one size per axis, alike on every axis (a chain of monotone rules is decided at its
smallest input size), a state is a channel count and one size. The forward counts are then, per channel
count, one vector over consecutive sizes (from the smallest reached), and a layer adds into the next vectors, for every class of its
combos acting alike (with that many combos as weight), the counts of the sizes reaching each output size:

- a class whose output is its input shifted (a stride-1 rule) adds the vector, moved;
- a class whose output grows by one per run of input sizes (a stride-2 rule) adds the run sums, moved;
  classes with the same runs (one stride, one parity of ``2 * padding - kernel``) share them.

When such classes are valid exactly where their output is at least 1, their moves and weights make one
polynomial (a kernel), added in full and cut below size 1. A conv's kernel is a product, since its
offset is a sum over its parameters (``2 * padding - kernel``): it is factored into binomials
``1 + y**a`` (:func:`_factored`), each one addition per size, so a conv layer of chain-1000 costs about
8 additions per size instead of 16 multiply-adds. Other classes are added alone, over their valid sizes.

Example:
    >>> from convsolve import load_space
    >>> from convsolve.solve.plan import make_plan
    >>> space = load_space("configs/bench/chain-6.yaml")
    >>> dense_count(Programme(make_plan(space), space))
    11417906
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..network import INPUT
from .catalogue import LayerCatalogue
from .programme import TABLE_SIZES, Programme
from .rows import INVALID

__all__ = ["dense_count"]

Counts = tuple[int, np.ndarray]
"""The counts of sizes ``low``, ``low + 1``, ... (``low`` is at least 1: no state has size 0), as (low, counts)."""


def dense_count(programme: Programme, on_step: Callable[[int, int], None] | None = None) -> int | None:
    """The number of valid assignments of ``programme``'s space, or None when it is no chain tracked at one size
    alike on every axis (the table counts it then)."""
    vectors = _start(programme)  # per channel count
    if vectors is None:
        return None
    moves: dict[tuple[bytes, tuple[int, ...]], _Moves] = {}  # by the layers and channel counts: twins share them
    for index in range(len(programme.units)):
        if on_step is not None:  # progress, and the place a timeout interrupts
            on_step(index, len(programme.units))
        vectors = _pushed(programme, index, vectors, moves)
        if vectors is None:
            return None
        if not vectors:
            return 0
    return int(sum(int(counts.sum()) for _, counts in vectors.values()))


def _start(programme: Programme) -> dict[int, Counts] | None:
    """The counts before the first layer (1 at the input's channel count and size), or None when the
    programme is not a chain tracked at one size alike on every axis."""
    plan = programme.plan
    names = [INPUT] + [unit.step.node for unit in programme.units]
    if (not programme.units or INPUT not in plan.initial_live
            or any(name in plan.full or name in plan.flat or name in plan.receptive for name in names)
            or any(len(points) != 1 for name in names for points in plan.points(name))):
        return None
    if not all(programme.is_chain_link(index) and programme.catalogue.plain_spatial(unit.step) for index, unit in enumerate(programme.units)):
        return None
    row = programme.initial_row()[0]
    sizes = programme.sizes.get(len(plan.sweep.axes), row[1:2])[0]
    if (sizes != sizes[0]).any() or not 1 <= sizes[0] < TABLE_SIZES:
        return None
    return {int(row[0]): (int(sizes[0]), np.ones(1, dtype=object))}


@dataclass(frozen=True)
class _Moves:
    """What a unit adds, for input sizes below ``width``: per (made, read) channel counts and runs (empty
    for a shift of the input), the kernel {first output size: weight}; then the classes added alone
    (made and read channel counts, weight, output size and validity by input size)."""

    width: int
    kernels: dict[tuple[int, int, tuple[int, ...]], dict[int, int]]
    alone: list[tuple[int, int, int, np.ndarray, np.ndarray]]


def _pushed(
    programme: Programme, index: int, vectors: dict[int, Counts], cache: dict[tuple[bytes, tuple[int, ...]], _Moves],
) -> dict[int, Counts] | None:
    """The counts after unit ``index`` from those before it (per channel count); None when the layer acts
    differently on the axes, sizes grow past what is tabulated or a size rule decreases."""
    catalogue = programme.catalogue
    layer_ids = catalogue.combo_layers(programme.units[index].step)
    layer_ids = layer_ids[layer_ids != INVALID]
    if not len(layer_ids):
        return {}
    limit = max(low + len(counts) for low, counts in vectors.values())
    if limit > TABLE_SIZES:
        return None
    key = (catalogue.serials(layer_ids).tobytes(), tuple(sorted(vectors)))
    moves = cache.get(key)
    if moves is None or moves.width < limit:
        moves = _moves(catalogue, layer_ids, key[1], limit)
        if moves is None:
            return None
        cache[key] = moves
    if any(max(kernel) - min(kernel) >= TABLE_SIZES or max(kernel) >= TABLE_SIZES for kernel in moves.kernels.values()):
        return None  # sizes past what is tabulated (a padding of 10**9): the vectors would be that long
    parts: list[tuple[int, int, np.ndarray, int]] = []  # (made, first output size, counts, weight)
    sums: dict[tuple[int, tuple[int, ...]], tuple[int, np.ndarray]] = {}
    for (made, read, runs), kernel in moves.kernels.items():
        low, counts = vectors[read]
        if runs:  # run k (sizes runs[k] + 1 on) gives the kernel's size + k
            if (read, runs) not in sums:
                first = bisect.bisect_right(runs, low - 1) - 1  # the run holding size low
                end = bisect.bisect_left(runs, low + len(counts) - 1)
                starts = np.r_[0, np.array(runs[first + 1 : end], dtype=np.int64) + 1 - low]
                sums[read, runs] = (first, np.add.reduceat(counts, starts))
            first, base = sums[read, runs]
        else:  # size s gives the kernel's size + s
            first, base = low, counts
        parts.append((made, *_convolved(base, {at + first: weight for at, weight in kernel.items()}), 1))
    for made, read, weight, out, ok in moves.alone:
        part = _part(vectors[read], out, ok)
        if part is None:
            return None
        if part[1] is not None:
            parts.append((made, part[0], part[1], weight))
    return _summed(parts)


def _moves(catalogue: LayerCatalogue, layer_ids: np.ndarray, channels: tuple[int, ...], limit: int) -> _Moves | None:
    """:class:`_Moves` of the layers ``layer_ids`` from the input channel counts ``channels``, worked out
    from their tables (at least ``limit`` sizes wide); None when they act differently on the axes."""
    wide = min(2 * limit, TABLE_SIZES)  # sizes grow layer by layer: room for the next ones
    tables = [catalogue.axis_tables(layer_ids, axis, wide) for axis in range(len(catalogue.plan.sweep.axes))]
    out, ok = tables[0]
    width = out.shape[1]
    if any(not (np.array_equal(o[:, :width], out) and np.array_equal(k[:, :width], ok)) for o, k in tables[1:]):
        return None
    channels_in = np.array(channels, dtype=np.int64)
    channels_out, _ = catalogue.channel_table(layer_ids, channels_in)
    first_of, class_of = catalogue.classes(layer_ids, [(out, ok)], channels_out)
    weights = np.bincount(class_of, minlength=len(first_of))
    kernels: dict[tuple[int, int, tuple[int, ...]], dict[int, int]] = {}
    alone: list[tuple[int, int, int, np.ndarray, np.ndarray]] = []
    for first, weight in zip(first_of.tolist(), weights.tolist()):
        row, fine = out[first, 1:], ok[first, 1:]  # from size 1: no state has size 0
        runs: tuple[int, ...] | None = None  # () for a shift of the input
        at = 0
        if (fine == (row >= 1)).all():  # valid exactly where the output is at least 1: kernels can be combined
            if (np.diff(row) == 1).all():  # the input, shifted
                runs, at = (), int(row[0]) - 1
            else:
                starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
                if (np.diff(row[starts]) == 1).all():  # runs of input sizes, one per output size
                    runs, at = tuple(starts.tolist()), int(row[0])
        for column, read in enumerate(channels):
            made = int(channels_out[first, column])
            if made == INVALID or not fine.any():
                continue
            if runs is None:
                alone.append((made, read, weight, out[first], ok[first]))
            else:
                kernel = kernels.setdefault((made, read, runs), {})
                kernel[at] = kernel.get(at, 0) + weight
    return _Moves(width, kernels, alone)


def _part(vector: Counts, out: np.ndarray, ok: np.ndarray) -> tuple[int, np.ndarray | None] | None:
    """The counts one class adds (first output size, counts; None counts when none is valid), from its valid
    input sizes alone; None when its output size decreases somewhere as its input size grows (no rule does
    that)."""
    low, counts = vector
    valid = np.flatnonzero(ok[low : low + len(counts)])
    if not len(valid):
        return 0, None
    sizes = out[valid + low]
    if (np.diff(sizes) < 0).any():
        return None
    starts = np.flatnonzero(np.r_[True, sizes[1:] != sizes[:-1]])
    run_sizes, run_sums = sizes[starts], np.add.reduceat(counts[valid], starts)
    if int(run_sizes[-1]) - int(run_sizes[0]) + 1 != len(run_sizes):  # runs skip sizes: spread them out
        spread = np.zeros(int(run_sizes[-1]) - int(run_sizes[0]) + 1, dtype=object)
        spread[run_sizes - run_sizes[0]] = run_sums
        run_sums = spread
    return int(run_sizes[0]), run_sums


def _convolved(base: np.ndarray, kernel: dict[int, int]) -> tuple[int, np.ndarray]:
    """``sum(weight * base moved to size first)`` over ``kernel`` (first size -> weight), cut below size 1:
    (first output size, counts). The kernel is first factored into ``1 + y**a`` binomials where it can be
    (a conv's stride-1 offsets ``2 * padding - kernel`` are a sum over two parameters: their kernel is a
    product), each one addition per size."""
    low = min(kernel)
    coefficients = [0] * (max(kernel) - low + 1)
    for at, weight in kernel.items():
        coefficients[at - low] = weight
    gaps, rest = _factored(tuple(coefficients))
    counts = base
    for gap in gaps:
        grown = np.zeros(len(counts) + gap, dtype=object)
        grown[: len(counts)] = counts
        grown[gap:] += counts
        counts = grown
    if rest != (1,):
        spread = np.zeros(len(counts) + len(rest) - 1, dtype=object)
        for at, weight in enumerate(rest):
            if weight:
                spread[at : at + len(counts)] += counts if weight == 1 else counts * weight
        counts = spread
    return (low, counts) if low >= 1 else (1, counts[1 - low :])


@functools.lru_cache(maxsize=1024)
def _factored(coefficients: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``coefficients`` (of a polynomial in y) as gaps ``a`` of binomials ``1 + y**a`` and what is left, every
    factor with coefficients of at least 0.

    Example:
        >>> _factored((1, 2, 3, 4, 3, 2, 1))
        ((1, 1, 2, 2), (1,))
    """
    gaps, left = [], list(coefficients)
    for gap in range(1, len(left)):
        while len(left) > gap:
            quotient = _divided(left, gap)
            if quotient is None:
                break
            gaps.append(gap)
            left = quotient
    return tuple(gaps), tuple(left)


def _divided(coefficients: list[int], gap: int) -> list[int] | None:
    """The quotient of ``coefficients`` by ``1 + y**gap`` when it divides them with a quotient of coefficients
    of at least 0, else None."""
    quotient: list[int] = []
    for j in range(len(coefficients) - gap):
        quotient.append(coefficients[j] - (quotient[j - gap] if j >= gap else 0))
    rest = [coefficients[j] - (quotient[j - gap] if j >= gap else 0) for j in range(len(quotient), len(coefficients))]
    return quotient if min(quotient) >= 0 and not any(rest) else None


def _summed(parts: list[tuple[int, int, np.ndarray, int]]) -> dict[int, Counts]:
    """Per channel count, the weighted sum of the parts' counts placed at their first sizes, without zeros at
    either end (channel counts with nothing left are dropped)."""
    spans: dict[int, tuple[int, int]] = {}
    for made, at, counts, _ in parts:
        low, end = spans.get(made, (at, at + len(counts)))
        spans[made] = (min(low, at), max(end, at + len(counts)))
    result = {made: np.zeros(end - low, dtype=object) for made, (low, end) in spans.items()}
    by_weight: dict[tuple[int, int], np.ndarray] = {}  # parts of one weight are added up, then multiplied once
    filled: set[tuple[int, int]] = set()  # a first part is copied in, not added to zeros
    for made, at, counts, weight in parts:
        total = result[made] if weight == 1 else by_weight.setdefault((made, weight), np.zeros(len(result[made]), dtype=object))
        begin = at - spans[made][0]
        if (made, weight) in filled:
            total[begin : begin + len(counts)] += counts
        else:
            total[begin : begin + len(counts)] = counts
            filled.add((made, weight))
    for (made, weight), total in by_weight.items():
        result[made] += total * weight
    kept = {}
    for made, counts in result.items():
        nonzero = np.flatnonzero(counts)
        if len(nonzero):
            kept[made] = (spans[made][0] + int(nonzero[0]), counts[nonzero[0] : nonzero[-1] + 1])
    return kept
