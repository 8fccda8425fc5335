"""What users ask of a search space: count, enumerate, sample, prune and suggest.

Each is a thin layer over :class:`~convsolve.solve.table.Table` (the dynamic programme) and
:class:`~convsolve.solve.ranking.Ranking`; counting and sampling first try the programmes that cover
chains (:mod:`~convsolve.solve.dense`) and residual networks (:mod:`~convsolve.solve.intervals`) with
fewer states. Validity is always over the space's whole input range.

Example:
    >>> from convsolve import load_space
    >>> space = load_space("configs/bench/chain-6.yaml")      # doctest: +SKIP
    >>> count(space).valid                                     # doctest: +SKIP
    11417906
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ..errors import SolverTimeout, UsageError
from ..solve.dense import dense_count
from ..solve.intervals import interval_programme
from ..solve.plan import Plan, make_plan
from ..solve.ranking import Ranking, assignment_rows, columns_of
from ..solve.table import Table, depth_first, fewer_collections

__all__ = ["CountResult", "PruneResult", "Suggestion", "count", "enumerate_assignments", "enumerate_blocks", "sample", "prune", "suggest"]

BLOCK = 65536
"""Assignments produced per block by the columnar enumerator."""
DEPTH_FIRST = 1000
"""Up to this many assignments are first sought depth first, without building the whole table."""
DEPTH_FIRST_EXPANSIONS_PER_UNIT = 3
"""How many state expansions per layer the depth-first search may spend before the table takes over
(a chain needs 1 per layer, a residual chain about 2.3; a space that needs more is usually one whose
table is cheap, like resnet_space, or one with many dead ends, like the UNet)."""


Progress = Callable[[int, int], None]
"""Called with (steps done, steps in all) while the programme runs."""


def _on_step(timeout: float | None, progress: Progress | None) -> Progress:
    end = None if timeout is None else time.monotonic() + timeout

    def on_step(done: int, total: int) -> None:
        if end is not None and time.monotonic() > end:
            raise SolverTimeout(timeout or 0)
        if progress is not None:
            progress(done, total)

    return on_step


@fewer_collections()
def _table(
    space: Any, domains: Mapping[str, Sequence[Any]] | None = None, *, transitions: bool = True, on_step: Progress,
    plan: Plan | None = None,
) -> Table:
    plan = plan or make_plan(space, dict(domains) if domains else None)
    return Table(plan, space, keep_transitions=transitions, on_step=on_step)


@dataclass(frozen=True)
class CountResult:
    """The number of valid assignments, of how many."""

    valid: int
    total: int

    @property
    def fraction(self) -> float:
        return self.valid / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.valid:,} valid of {self.total:,} assignments ({self.fraction:.6g})"

    def to_dict(self) -> dict[str, Any]:
        return {"valid": str(self.valid), "total": str(self.total), "fraction": self.fraction}


def count(space: Any, *, timeout: float | None = None, progress: Progress | None = None) -> CountResult:
    """Exact number of valid assignments over the whole input range, without enumerating them."""
    return CountResult(_counted(space, _on_step(timeout, progress)), space.total)


@fewer_collections()
def _counted(space: Any, on_step: Progress) -> int:
    """A chain tracked at one size is counted over dense vectors of sizes (:mod:`~convsolve.solve.dense`),
    a sequence of segments over intervals of sizes (:mod:`~convsolve.solve.intervals`), anything else by the table."""
    plan = make_plan(space)
    unrun = Table(plan, space, keep_transitions=False, run=False)
    found = dense_count(unrun, on_step)
    if found is None:
        programme = interval_programme(unrun, on_step)
        found = programme.count() if programme is not None else None
    return Table(plan, space, keep_transitions=False, on_step=on_step).count() if found is None else found


def enumerate_blocks(
    space: Any, *, block: int = BLOCK, limit: int | None = None, timeout: float | None = None, progress: Progress | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Valid assignments in a fixed order, as columnar blocks: parameter -> array of values.

    Memory stays constant: each block is unranked from its position, with no dead end entered.
    """
    on_step = _on_step(timeout, progress)
    if limit is not None and limit <= DEPTH_FIRST:
        found = _depth_first(space, limit, on_step)
        if found is not None:
            table, chosen = found
            for begin in range(0, len(chosen), block):
                yield columns_of(table, chosen[begin : begin + block], True)
            return
    ranking = Ranking(_table(space, on_step=on_step), on_step)
    stop = ranking.total if limit is None else min(limit, ranking.total)
    for begin in range(0, stop, block):
        yield ranking.assignments(np.arange(begin, min(begin + block, stop), dtype=np.int64), decode=True)


class _OverBudget(Exception):
    """The depth-first search expanded more states than it is allowed."""


@fewer_collections()
def _depth_first(space: Any, limit: int, on_step: Progress) -> tuple[Table, np.ndarray] | None:
    """The first ``limit`` solutions' combos found depth first, or None when that search gets expensive.

    Depth first, a space whose early choices rarely fail yields its first solutions after about one
    expansion per layer; one with many dead ends (a UNet) is better served by the whole table.
    """
    table = Table(make_plan(space), space, run=False)
    budget = DEPTH_FIRST_EXPANSIONS_PER_UNIT * len(table.units) + limit

    def counted(done: int, total: int) -> None:
        nonlocal budget
        on_step(done, total)
        budget -= 1
        if budget < 0:
            raise _OverBudget

    try:
        chosen = list(itertools.islice(depth_first(table, counted), limit))
    except _OverBudget:
        return None
    return table, np.array(chosen, dtype=np.int64).reshape(-1, len(table.units))


def enumerate_assignments(
    space: Any, *, limit: int | None = None, timeout: float | None = None, progress: Progress | None = None,
) -> Iterator[dict[str, Any]]:
    """Valid assignments one by one (dictionaries), lazily, in a fixed order."""
    for columns in enumerate_blocks(space, limit=limit, timeout=timeout, block=4096, progress=progress):
        names = list(columns)
        for row in zip(*(columns[n].tolist() for n in names)):
            yield dict(zip(names, row))


def sample(
    space: Any, n: int, *, seed: int = 0, replace: bool = True, timeout: float | None = None, progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """``n`` valid assignments drawn uniformly (with or without replacement), reproducible by ``seed``."""
    if n < 0:
        raise UsageError(f"the number of samples must be >= 0, got {n}", field="-n")
    on_step = _on_step(timeout, progress)
    plan = make_plan(space)
    drawn = _interval_sample(space, plan, n, seed, replace, on_step)
    if drawn is not None:
        return drawn
    ranking = Ranking(_table(space, on_step=on_step, plan=plan), on_step)
    if ranking.total == 0:
        return []
    rng = random.Random(seed)
    if replace:
        ranks = [rng.randrange(ranking.total) for _ in range(n)]
    else:
        if n > ranking.total:
            raise UsageError(f"cannot draw {n} distinct assignments: only {ranking.total} are valid", field="-n")
        ranks = rng.sample(range(ranking.total), n)
    return ranking.values(ranking.assignments(ranks))


@fewer_collections()
def _interval_sample(space: Any, plan: Plan, n: int, seed: int, replace: bool, on_step: Progress) -> list[dict[str, Any]] | None:
    """:func:`sample` over intervals of sizes (:mod:`~convsolve.solve.intervals`), or None when that does not
    cover the space, or when drawing ``n`` distinct assignments would repeat many (more than a quarter of them all)."""
    table = Table(plan, space, run=False)
    programme = interval_programme(table, on_step)
    if programme is None:
        return None
    total = programme.count()
    if total == 0:
        return []
    if not replace and n > total:
        raise UsageError(f"cannot draw {n} distinct assignments: only {total} are valid", field="-n")
    if not replace and 4 * n > total:
        return None
    rng = np.random.default_rng(seed)
    chosen = programme.sample(n, rng)
    while not replace:  # draws that repeat an earlier one are drawn again: every set of n is equally likely
        _, first = np.unique(chosen, axis=0, return_index=True)
        if len(first) == n:
            break
        kept = chosen[np.sort(first)]
        chosen = np.concatenate([kept, programme.sample(n - len(kept), rng)])
    return assignment_rows(table.plan.domains, columns_of(table, chosen, False))


@dataclass(frozen=True)
class PruneResult:
    """Per parameter, the values that appear in at least one valid assignment."""

    domains: dict[str, tuple[Any, ...]]
    before: dict[str, tuple[Any, ...]]
    valid: int

    @property
    def removed(self) -> dict[str, tuple[Any, ...]]:
        return {name: tuple(v for v in self.before[name] if v not in values) for name, values in self.domains.items()
                if len(values) < len(self.before[name])}

    def __str__(self) -> str:
        lines = [f"{self.valid:,} valid assignments"]
        for name, values in self.domains.items():
            gone = self.removed.get(name)
            mark = f"   (removed {', '.join(map(str, gone))})" if gone else ""
            lines.append(f"  {name}: {', '.join(map(str, values)) or 'none'}{mark}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"valid": str(self.valid), "domains": {k: list(v) for k, v in self.domains.items()},
                "removed": {k: list(v) for k, v in self.removed.items()}}


def _supported(table: Table) -> dict[str, tuple[Any, ...]]:
    back = table.backward()
    used: dict[str, set[int]] = {name: set() for name in table.plan.params}
    for j, (unit, moves) in enumerate(zip(table.units, table.moves)):
        live = np.asarray(back[j + 1] > 0, dtype=bool)[moves.dst]
        combos = unit.step.combos[np.unique(moves.combo[live])]
        for i, name in enumerate(unit.step.new_params):
            used[name].update(int(v) for v in combos[:, i])
    domains = table.plan.domains
    return {name: tuple(domains[name][i] for i in sorted(indices)) for name, indices in used.items()}


def prune(space: Any, *, timeout: float | None = None, progress: Progress | None = None) -> PruneResult:
    """Drop every value that appears in no valid assignment: the tightest per-parameter domains."""
    table = _table(space, on_step=_on_step(timeout, progress))
    before = {name: param.values for name, param in space.params.items()}
    return PruneResult(_supported(table) if table.count() else {n: () for n in before}, before, table.count())


@dataclass(frozen=True)
class Suggestion:
    """Given some parameters fixed: the values of every other parameter that still admit a valid completion."""

    fixed: dict[str, Any]
    domains: dict[str, tuple[Any, ...]]
    valid: int
    reason: str = ""
    removed: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def __str__(self) -> str:
        given = ", ".join(f"{k}={v}" for k, v in self.fixed.items()) or "nothing fixed"
        if not self.valid:
            return f"with {given}: no valid completion — {self.reason}"
        lines = [f"with {given}: {self.valid:,} valid completions"]
        for name, values in self.domains.items():
            if name not in self.fixed:
                gone = self.removed.get(name)
                mark = f"   (not {', '.join(map(str, gone))})" if gone else ""
                lines.append(f"  {name}: {', '.join(map(str, values))}{mark}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"fixed": self.fixed, "valid": str(self.valid), "reason": self.reason or None,
                "domains": {k: list(v) for k, v in self.domains.items()}}


def suggest(space: Any, fixed: Mapping[str, Any], *, timeout: float | None = None, progress: Progress | None = None) -> Suggestion:
    """The values still possible for every parameter once ``fixed`` are set; why none are, if so."""
    for name, value in fixed.items():
        if name not in space.params:
            raise UsageError(f"unknown parameter {name!r} (parameters: {', '.join(space.params)})", field="--set")
        if value not in space.params[name].values:
            raise UsageError(f"{name}={value} is not in its domain {list(space.params[name].values)}", field="--set")
    domains = {name: (fixed[name],) if name in fixed else param.values for name, param in space.params.items()}
    table = _table(space, domains, on_step=_on_step(timeout, progress))
    valid = table.count()
    if not valid:
        return Suggestion(dict(fixed), {n: () for n in domains}, 0, _why_none(table, space, fixed))
    supported = _supported(table)
    removed = {n: tuple(v for v in domains[n] if v not in supported[n]) for n in domains if n not in fixed}
    return Suggestion(dict(fixed), supported, valid, "", {k: v for k, v in removed.items() if v})


def _why_none(table: Table, space: Any, fixed: Mapping[str, Any]) -> str:
    step = table.empty_at
    if step is None:
        return "no assignment is valid"
    layer = f"layer {step.node!r}"
    for index in step.constraints:
        text = space.constraints[index].text
        return f"no choice for {layer} is valid given the values fixed and chosen before it (constraint checked there: {text})"
    where = "at the smallest input size" if space.input.ranges[0].lo == space.input.ranges[0].hi else f"over the input range {space.input.describe()}"
    return f"every choice for {layer} gives an invalid output {where}, whatever the earlier free parameters are"
