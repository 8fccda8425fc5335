"""What users ask of a search space: count, enumerate, sample, prune and suggest.

Each is a thin layer over :mod:`~convsolve.solve.engine`, which picks the programme that answers (dense
vectors for chains, intervals for residual networks, else the table and its ranking), and over
:class:`~convsolve.solve.table.Table` for pruning and suggesting. Validity is always over the space's
whole input range.

Example:
    >>> from convsolve import load_space
    >>> space = load_space("configs/bench/chain-6.yaml")      # doctest: +SKIP
    >>> count(space).valid                                     # doctest: +SKIP
    11417906
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import MissingExtraError, SolverTimeout, UsageError
from ..space import INACTIVE
from ..solve.engine import (
    Progress,
    assignment_blocks,
    count_valid,
    sample_assignments,
    table_of,
)
from ..solve.table import Table
from .conflicts import Conflict, explain_empty

__all__ = [
    "Conflict", "explain_empty",
    "CountResult", "PruneResult", "Suggestion", "step_callback", "count", "enumerate_assignments", "enumerate_blocks", "enumerate_table",
    "sample", "sample_table", "prune", "suggest",
]

BLOCK = 65536
"""Assignments produced per block by the columnar enumerator."""


def step_callback(timeout: float | None, progress: Progress | None) -> Progress:
    """What the solvers call after each step: reports ``progress`` and raises SolverTimeout once ``timeout`` seconds
    have passed since this was made.

    Example:
        >>> step_callback(None, None)(1, 2) is None
        True
    """
    end = None if timeout is None else time.monotonic() + timeout

    def on_step(done: int, total: int) -> None:
        if end is not None and time.monotonic() > end:
            raise SolverTimeout(timeout or 0)
        if progress is not None:
            progress(done, total)

    return on_step


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
    return CountResult(count_valid(space, step_callback(timeout, progress)), space.total)


def enumerate_blocks(
    space: Any, *, block: int = BLOCK, limit: int | None = None, timeout: float | None = None, progress: Progress | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Valid assignments in a fixed order, as columnar blocks: parameter -> array of values.

    Memory stays constant: each block is unranked from its position, with no dead end entered.
    """
    yield from assignment_blocks(space, block, limit, step_callback(timeout, progress))


def enumerate_assignments(
    space: Any, *, limit: int | None = None, timeout: float | None = None, progress: Progress | None = None,
) -> Iterator[dict[str, Any]]:
    """Valid assignments one by one (dictionaries), lazily, in a fixed order."""
    for columns in enumerate_blocks(space, limit=limit, timeout=timeout, block=4096, progress=progress):
        names = list(columns)
        for row in zip(*(columns[n].tolist() for n in names)):
            yield {name: value for name, value in zip(names, row) if value is not INACTIVE}


def enumerate_table(space: Any, *, limit: int | None = None, library: str = "pyarrow", timeout: float | None = None) -> Any:
    """Valid assignments as one table, a column per parameter (a parameter out of the network in a row is null there):
    a ``pyarrow.Table``, or a ``pandas.DataFrame`` with ``library="pandas"``. Built from the columnar blocks, never
    row by row.

    Raises:
        MissingExtraError: pyarrow (the ``parquet`` extra) or pandas (the ``pandas`` extra) is not installed.

    Example:
        >>> from convsolve import load_space
        >>> enumerate_table(load_space("configs/bench/chain-6.yaml"), limit=3).num_rows   # doctest: +SKIP
        3
    """
    arrow = _arrow(library)
    schema = _schema(arrow, space)
    tables = [arrow.table({name: block[name] for name in schema.names}, schema=schema)
              for block in enumerate_blocks(space, limit=limit, timeout=timeout)]
    table = arrow.concat_tables(tables) if tables else schema.empty_table()
    return table.to_pandas() if library == "pandas" else table


def sample_table(space: Any, n: int, *, seed: int = 0, replace: bool = True, library: str = "pyarrow", timeout: float | None = None) -> Any:
    """:func:`sample` as one table (see :func:`enumerate_table`)."""
    from ..io.tables import columns_of

    arrow = _arrow(library)
    rows = sample(space, n, seed=seed, replace=replace, timeout=timeout)
    table = arrow.table(columns_of(rows, list(space.params)), schema=_schema(arrow, space))
    return table.to_pandas() if library == "pandas" else table


def _schema(arrow: Any, space: Any) -> Any:
    """A column per parameter, typed by its values: integers, true/false or names."""
    def kind(values: tuple[Any, ...]) -> Any:
        if any(isinstance(v, str) for v in values):
            return arrow.string()
        return arrow.bool_() if all(isinstance(v, bool) for v in values) else arrow.int64()

    return arrow.schema([(name, kind(param.values)) for name, param in space.params.items()])


def _arrow(library: str) -> Any:
    """pyarrow, checking that ``library`` (pyarrow or pandas) is installed."""
    if library not in ("pyarrow", "pandas"):
        raise UsageError(f"library must be 'pyarrow' or 'pandas', got {library!r}", field="library")
    try:
        import pyarrow
    except ImportError:
        raise MissingExtraError("pyarrow (to build tables)", "parquet") from None
    if library == "pandas" and importlib.util.find_spec("pandas") is None:  # (Arrow's to_pandas imports it)
        raise MissingExtraError("pandas", "pandas")
    return pyarrow


def sample(
    space: Any, n: int, *, seed: int = 0, replace: bool = True, timeout: float | None = None, progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """``n`` valid assignments drawn uniformly (with or without replacement), reproducible by ``seed``."""
    if n < 0:
        raise UsageError(f"the number of samples must be >= 0, got {n}", field="-n")
    return sample_assignments(space, n, seed, replace, step_callback(timeout, progress))


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
    domains = table.plan.domains  # a parameter out of the network in some assignments has no value there
    return {name: tuple(domains[name][i] for i in sorted(indices) if domains[name][i] is not INACTIVE) for name, indices in used.items()}


def prune(space: Any, *, timeout: float | None = None, progress: Progress | None = None) -> PruneResult:
    """Drop every value that appears in no valid assignment: the tightest per-parameter domains."""
    table = table_of(space, on_step=step_callback(timeout, progress))
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
    absent: tuple[str, ...] = ()
    """Parameters out of the network in every valid completion (their op is not chosen, their copy is beyond the depth)."""

    def __str__(self) -> str:
        given = ", ".join(f"{k}={v}" for k, v in self.fixed.items()) or "nothing fixed"
        if not self.valid:
            return f"with {given}: no valid completion — {self.reason}"
        lines = [f"with {given}: {self.valid:,} valid completions"]
        for name, values in self.domains.items():
            if name in self.absent:
                lines.append(f"  {name}: not in the network")
            elif name not in self.fixed:
                gone = self.removed.get(name)
                mark = f"   (not {', '.join(map(str, gone))})" if gone else ""
                lines.append(f"  {name}: {', '.join(map(str, values))}{mark}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"fixed": self.fixed, "valid": str(self.valid), "reason": self.reason or None,
                "domains": {k: list(v) for k, v in self.domains.items() if k not in self.absent}, "absent": list(self.absent)}


def suggest(space: Any, fixed: Mapping[str, Any], *, timeout: float | None = None, progress: Progress | None = None) -> Suggestion:
    """The values still possible for every parameter once ``fixed`` are set; why none are, if so."""
    for name, value in fixed.items():
        if name not in space.params:
            raise UsageError(f"unknown parameter {name!r} (parameters: {', '.join(space.params)})", field="--set")
        if value not in space.params[name].values:
            raise UsageError(f"{name}={value} is not in its domain {list(space.params[name].values)}", field="--set")
    domains = {name: (fixed[name],) if name in fixed else param.domain for name, param in space.params.items()}
    table = table_of(space, domains, on_step=step_callback(timeout, progress))
    valid = table.count()
    if not valid:
        return Suggestion(dict(fixed), {n: () for n in domains}, 0, str(explain_empty(space, fixed, step_callback(timeout, progress))))
    supported = _supported(table)
    absent = tuple(n for n in domains if n not in fixed and not supported[n])
    removed = {n: tuple(v for v in domains[n] if v not in supported[n] and v is not INACTIVE) for n in domains if n not in fixed and n not in absent}
    return Suggestion(dict(fixed), supported, valid, "", {k: v for k, v in removed.items() if v}, absent)
