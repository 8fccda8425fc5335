"""Which solver answers: the dense, interval or table programme for counts and samples, depth first or the table for
the first solutions.

A chain tracked at one size is counted over dense vectors of sizes (:mod:`~convsolve.solve.dense`), a sequence
of segments over intervals of sizes (:mod:`~convsolve.solve.intervals`, which also samples it), anything else
by the :class:`~convsolve.solve.table.Table`, unranked by :class:`~convsolve.solve.ranking.Ranking`. Every
choice gives the same answers; only the time and memory differ.

Example:
    >>> from convsolve import load_space
    >>> count_valid(load_space("configs/bench/chain-6.yaml"))
    11417906
"""

from __future__ import annotations

import gc
import itertools
import random
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import UsageError
from .dense import dense_count
from .depth_first import depth_first
from .intervals import interval_programme
from .plan import Plan, make_plan
from .programme import Programme
from .ranking import Ranking, assignment_rows, columns_of
from .table import Table

__all__ = ["DEPTH_FIRST", "DEPTH_FIRST_EXPANSIONS_PER_UNIT", "Progress", "assignment_blocks", "count_valid", "fewer_collections",
           "sample_assignments", "table_of"]

DEPTH_FIRST = 1000
"""Up to this many assignments are first sought depth first, without building the whole table."""
DEPTH_FIRST_EXPANSIONS_PER_UNIT = 3
"""How many state expansions per layer the depth-first search may spend before the table takes over
(a chain needs 1 per layer, a residual chain about 2.3; a space that needs more is usually one whose
table is cheap, like resnet_space, or one with many dead ends, like the UNet)."""

Progress = Callable[[int, int], None]
"""Called with (steps done, steps in all) while a programme runs: progress, and the place a timeout interrupts."""


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


@fewer_collections()
def table_of(
    space: Any, domains: Mapping[str, Sequence[Any]] | None = None, *, transitions: bool = True, on_step: Progress | None = None,
    plan: Plan | None = None,
) -> Table:
    """The table of ``space`` (with ``domains`` narrowing some parameters, or over ``plan``), with its transitions or not."""
    plan = plan or make_plan(space, dict(domains) if domains else None)
    return Table(plan, space, keep_transitions=transitions, on_step=on_step)


@fewer_collections()
def count_valid(space: Any, on_step: Progress | None = None) -> int:
    """The number of valid assignments of ``space``: densely, over intervals, or by the table, whichever covers it first."""
    plan = make_plan(space)
    programme = Programme(plan, space)
    found = dense_count(programme, on_step)
    if found is None:
        intervals = interval_programme(programme, on_step)
        found = intervals.count() if intervals is not None else None
    return Table(plan, space, keep_transitions=False, on_step=on_step).count() if found is None else found


def sample_assignments(space: Any, n: int, seed: int, replace: bool, on_step: Progress | None = None) -> list[dict[str, Any]]:
    """``n`` valid assignments drawn uniformly (with or without replacement), reproducible by ``seed``.

    Raises:
        UsageError: ``n`` distinct assignments are asked for and fewer are valid.
    """
    plan = make_plan(space)
    drawn = _interval_sample(space, plan, n, seed, replace, on_step)
    if drawn is not None:
        return drawn
    ranking = Ranking(table_of(space, on_step=on_step, plan=plan), on_step)
    if ranking.total == 0:
        return []
    rng = random.Random(seed)
    if replace:
        ranks = [rng.randrange(ranking.total) for _ in range(n)]
    else:
        if n > ranking.total:
            raise UsageError(f"cannot draw {n} distinct assignments: only {ranking.total} are valid", field="-n")
        if ranking.total > sys.maxsize:  # range() of more than 2**63 cannot be sampled; repeats are this rare
            chosen: dict[int, None] = {}
            while len(chosen) < n:
                chosen[rng.randrange(ranking.total)] = None
            ranks = list(chosen)
        else:
            ranks = rng.sample(range(ranking.total), n)
    return ranking.values(ranking.assignments(ranks))


@fewer_collections()
def _interval_sample(space: Any, plan: Plan, n: int, seed: int, replace: bool, on_step: Progress | None) -> list[dict[str, Any]] | None:
    """:func:`sample_assignments` over intervals of sizes (:mod:`~convsolve.solve.intervals`), or None when that does not
    cover the space, or when drawing ``n`` distinct assignments would repeat many (more than a quarter of them all)."""
    programme = Programme(plan, space)
    intervals = interval_programme(programme, on_step)
    if intervals is None:
        return None
    total = intervals.count()
    if total == 0:
        return []
    if not replace and n > total:
        raise UsageError(f"cannot draw {n} distinct assignments: only {total} are valid", field="-n")
    if not replace and 4 * n > total:
        return None
    rng = np.random.default_rng(seed)
    chosen = intervals.sample(n, rng)
    while not replace:  # draws that repeat an earlier one are drawn again: every set of n is equally likely
        _, first = np.unique(chosen, axis=0, return_index=True)
        if len(first) == n:
            break
        kept = chosen[np.sort(first)]
        chosen = np.concatenate([kept, intervals.sample(n - len(kept), rng)])
    return assignment_rows(plan.domains, columns_of(programme, chosen, False))


def assignment_blocks(space: Any, block: int, limit: int | None, on_step: Progress) -> Iterator[dict[str, np.ndarray]]:
    """Valid assignments in rank order, as columnar blocks of at most ``block`` (parameter -> array of values), up
    to ``limit``: the first few depth first when that search stays cheap, else unranked from the table."""
    if limit is not None and limit <= DEPTH_FIRST:
        found = _depth_first(space, limit, on_step)
        if found is not None:
            programme, chosen = found
            for begin in range(0, len(chosen), block):
                yield columns_of(programme, chosen[begin : begin + block], True)
            return
    ranking = Ranking(table_of(space, on_step=on_step), on_step)
    stop = ranking.total if limit is None else min(limit, ranking.total)
    for begin in range(0, stop, block):
        yield ranking.assignments(np.arange(begin, min(begin + block, stop), dtype=np.int64), decode=True)


class _OverBudget(Exception):
    """The depth-first search expanded more states than it is allowed."""


@fewer_collections()
def _depth_first(space: Any, limit: int, on_step: Progress) -> tuple[Programme, np.ndarray] | None:
    """The first ``limit`` solutions' combos found depth first, or None when that search gets expensive.

    Depth first, a space whose early choices rarely fail yields its first solutions after about one
    expansion per layer; one with many dead ends (a UNet) is better served by the whole table.
    """
    programme = Programme(make_plan(space), space)
    budget = DEPTH_FIRST_EXPANSIONS_PER_UNIT * len(programme.units) + limit

    def counted(done: int, total: int) -> None:
        nonlocal budget
        on_step(done, total)
        budget -= 1
        if budget < 0:
            raise _OverBudget

    try:
        chosen = list(itertools.islice(depth_first(programme, counted), limit))
    except _OverBudget:
        return None
    return programme, np.array(chosen, dtype=np.int64).reshape(-1, len(programme.units))
