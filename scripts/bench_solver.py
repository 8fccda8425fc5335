"""Enumerate, count, sample, prune and suggest on the benchmark spaces: convsolve against the baselines.

The baselines are what a user writes without convsolve, each run in this process on a fixed time
budget and extrapolated from its rate (marked ``~``):

- brute force: ``itertools.product`` over the domains, checking each assignment with
  scripts/brute_force_count.py's ``is_valid`` (convsolve's own inference, at the smallest input
  size, exact for a pure chain) and, as a second, faster variant, with the size arithmetic written
  inline;
- python-constraint, the naive formulation: one ``FunctionConstraint`` per layer over every
  upstream hyperparameter, checking that layer's output size, solved by
  ``OptimizedBacktrackingSolver.getSolutionIter``;
- OR-Tools CP-SAT (optional, ``pip install 'convsolve[bench]'``): integer variables for the sizes,
  ``add_division_equality`` for the floor division, every solution through a callback.

Baselines are checked: their first solutions must be valid by ``is_valid``, and so must convsolve's.
There is no counting, sampling, pruning or suggesting baseline: those rows state convsolve's time
against the target alone. Every convsolve operation is capped (``--cap``); a capped row shows
``>`` and the cap. Operations under a second report the best of up to five runs, all others one run.
The memory section runs first, so the process's peak RSS before and after it is its own.

Usage:
    python scripts/bench_solver.py              # the full run, about 10 minutes on 2 cores
    python scripts/bench_solver.py --quick      # a smoke run: short budgets, small caps
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from constraint import FunctionConstraint, OptimizedBacktrackingSolver, Problem  # type: ignore[import-untyped]  # noqa: E402

from brute_force_count import format_seconds, is_pure_chain, is_valid  # noqa: E402
from convsolve.ops import count, enumerate_assignments, enumerate_blocks, prune, sample, suggest  # noqa: E402
from convsolve.sizesets import SizeRange  # noqa: E402
from convsolve.space import Space, load_space  # noqa: E402
from generate_spaces import chain, describe_count  # noqa: E402

BENCH = ROOT / "configs" / "bench"
SPACES = ROOT / "configs" / "spaces"
MOBILENET = SPACES / "mobilenetv2_nas.yaml"
MOBILENET_FIXED = {"block2_dw.stride": 2, "block2_dw.kernel": 7, "block4_dw.stride": 2}
"""The parameters ``suggest`` is given on MobileNetV2."""
CHECKED_SOLUTIONS = 200
"""How many of each method's solutions are checked with ``is_valid``."""
REPEATS = 5
"""Operations that take under a second report the best of this many runs."""


@dataclass(frozen=True)
class Budgets:
    """How long each baseline runs and how long any convsolve operation may take."""

    baseline: float
    cap: float
    stream_rows: int


FULL = Budgets(baseline=20.0, cap=60.0, stream_rows=10_000_000)
QUICK = Budgets(baseline=2.0, cap=5.0, stream_rows=1_000_000)


# --- time limits ---------------------------------------------------------------------------------

class BudgetSpent(Exception):
    """Raised into the running code when a time limit is reached."""


class TimeLimit:
    """``with TimeLimit(seconds) as limit:`` stops the body after ``seconds`` (SIGALRM); ``limit.reached`` says whether it did.

    The exception is raised between Python bytecodes, so it also stops a solver written in Python (or
    Cython calling back into Python) mid-search; code inside one long NumPy call stops when it returns.
    ``seconds <= 0`` sets no limit.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.reached = False
        self.armed = False
        self.start = 0.0
        self.elapsed = 0.0

    def _fire(self, signum: int, frame: Any) -> None:
        if self.armed:
            self.armed = False
            raise BudgetSpent

    def __enter__(self) -> TimeLimit:
        self.previous = signal.signal(signal.SIGALRM, self._fire)
        self.start = time.perf_counter()
        if self.seconds > 0:
            self.armed = True
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> bool:
        self.armed = False
        self.elapsed = time.perf_counter() - self.start
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)
        if kind is BudgetSpent:
            self.reached = True
            return True
        return False


@dataclass
class Timing:
    """One timed operation: seconds, how many items it produced, whether the cap stopped it."""

    seconds: float
    items: int = 0
    capped: bool = False
    extrapolated: bool = False
    value: Any = None

    def duration(self) -> str:
        return (">" if self.capped else "~" if self.extrapolated else "") + _duration(self.seconds)


def timed(action: Callable[[], Any], cap: float, repeats: int = REPEATS) -> Timing:
    """Best of up to ``repeats`` runs of ``action`` (only one if it takes a second or more), stopped at ``cap``."""
    best: Timing | None = None
    for _ in range(repeats):
        with TimeLimit(cap) as limit:
            value = action()
        if limit.reached:
            return Timing(cap, capped=True)
        if best is None or limit.elapsed < best.seconds:
            best = Timing(limit.elapsed, value=value)
        if limit.elapsed >= 1:
            break
    assert best is not None
    return best


def streamed(blocks: Callable[[], Iterator[Mapping[str, Any]]], cap: float, keep: int = 0) -> Timing:
    """Rows produced by iterating ``blocks()`` (counted, not stored), within ``cap``; the first ``keep`` rows are kept."""
    rows = 0
    kept: list[dict[str, Any]] = []
    with TimeLimit(cap) as limit:
        for block in blocks():
            size = len(next(iter(block.values()))) if block else 0
            if len(kept) < keep:
                names = list(block)
                kept += [dict(zip(names, row)) for row in zip(*(block[n][: keep - len(kept)].tolist() for n in names))]
            rows += size
    return Timing(limit.seconds if limit.reached else limit.elapsed, rows, limit.reached, value=kept)


def counted(rows: Callable[[], Iterator[Any]], cap: float) -> Timing:
    """How many items iterating ``rows()`` produces within ``cap``."""
    produced = 0
    with TimeLimit(cap) as limit:
        for _ in rows():
            produced += 1
    return Timing(limit.seconds if limit.reached else limit.elapsed, produced, limit.reached)


# --- what the baselines know about a benchmark space ------------------------------------------------

@dataclass(frozen=True)
class Node:
    """One layer of a benchmark space as the baselines see it: kind, inputs, parameter names."""

    name: str
    kind: str  # "conv" (conv2d or max_pool2d: the same size rule here) or "add"
    inputs: tuple[str, ...]
    kernel: str = ""
    stride: str = ""
    padding: str = ""

    @property
    def params(self) -> tuple[str, ...]:
        return (self.kernel, self.stride, self.padding) if self.kind == "conv" else ()


@dataclass(frozen=True)
class BenchNet:
    """A configs/bench space read as plain layers: every conv2d and max_pool2d has kernel, stride, padding open."""

    nodes: tuple[Node, ...]
    domains: dict[str, tuple[int, ...]]
    pool_paddings: tuple[tuple[str, str], ...]
    """(padding, kernel) pairs of ``padding <= kernel // 2``."""
    sizes: tuple[int, ...]

    @classmethod
    def of(cls, space: Space) -> BenchNet:
        nodes, pools = [], []
        for name in space.order[1:]:
            kind = space.graph.nodes[name]["type"]
            inputs = space.inputs_of(name)
            if kind == "add":
                nodes.append(Node(name, "add", inputs))
                continue
            if kind not in ("conv2d", "max_pool2d"):
                raise ValueError(f"{space.name}: layer {name!r} is a {kind}; the baselines model conv2d, max_pool2d and add")
            fields = [f"{name}.{f}" for f in ("kernel", "stride", "padding")]
            missing = [f for f in fields if f not in space.params]
            if missing:
                raise ValueError(f"{space.name}: the baselines expect {', '.join(missing)} to be open")
            nodes.append(Node(name, "conv", inputs, *fields))
            if kind == "max_pool2d":
                pools.append((fields[2], fields[0]))
        lo, hi = space.input.ranges[0].lo, space.input.ranges[0].hi
        return cls(tuple(nodes), {n: p.values for n, p in space.params.items()}, tuple(pools), tuple(range(lo, hi + 1)))

    def upstream(self, target: str) -> list[Node]:
        """The nodes ``target`` depends on, and itself, in topological order."""
        by_name = {n.name: n for n in self.nodes}
        needed, stack = set(), [target]
        while stack:
            name = stack.pop()
            if name in by_name and name not in needed:
                needed.add(name)
                stack.extend(by_name[name].inputs)
        return [n for n in self.nodes if n.name in needed]


def out_size(n: int, kernel: int, stride: int, padding: int) -> int:
    """conv2d and max_pool2d (dilation 1, no ceil_mode): floor((n + 2*padding - kernel) / stride) + 1."""
    return (n + 2 * padding - kernel) // stride + 1


# --- brute force -------------------------------------------------------------------------------------

@dataclass
class BruteForce:
    checked: int
    valid: int
    seconds: float
    first: list[dict[str, int]] = field(default_factory=list)


def brute_force(space: Space, budget: float, check: Callable[[dict[str, int]], bool]) -> BruteForce:
    """``itertools.product`` over the domains, each assignment checked by ``check``, for ``budget`` seconds."""
    names = list(space.params)
    checked = valid = 0
    first: list[dict[str, int]] = []
    with TimeLimit(budget) as limit:
        for values in itertools.product(*(p.values for p in space.params.values())):
            assignment = dict(zip(names, values))
            ok = check(assignment)
            checked += 1
            if ok:
                valid += 1
                if len(first) < CHECKED_SOLUTIONS:
                    first.append(assignment)
    return BruteForce(checked, valid, limit.elapsed, first)


def chain_check(net: BenchNet) -> Callable[[dict[str, int]], bool]:
    """The check a user writes for a pure chain: the pool padding rule, then every output >= 1 at the smallest size."""
    layers = [(n.kernel, n.stride, n.padding) for n in net.nodes]
    pools = net.pool_paddings
    smallest = net.sizes[0]

    def check(a: dict[str, int]) -> bool:
        for padding, kernel in pools:
            if a[padding] > a[kernel] // 2:
                return False
        n = smallest
        for kernel, stride, padding in layers:
            n = (n + 2 * a[padding] - a[kernel]) // a[stride] + 1
            if n < 1:
                return False
        return True

    return check


# --- python-constraint, the naive formulation -------------------------------------------------------

def naive_problem(net: BenchNet) -> Problem:
    """One FunctionConstraint per layer over all its upstream hyperparameters; one per add over the whole range.

    A conv or pool constraint checks the layer's output at the smallest input size (every size rule
    here is non-decreasing, so that decides every larger size); an add constraint checks that its two
    inputs have equal sizes at every input size of the range.
    """
    problem = Problem(OptimizedBacktrackingSolver())
    for name, values in net.domains.items():
        problem.addVariable(name, list(values))
    for padding, kernel in net.pool_paddings:
        problem.addConstraint(FunctionConstraint(lambda p, k: p <= k // 2), [padding, kernel])
    for node in net.nodes:
        upstream = net.upstream(node.name)
        variables = [p for n in upstream for p in n.params]
        sizes = net.sizes[:1] if node.kind == "conv" else net.sizes
        problem.addConstraint(FunctionConstraint(_layer_check(upstream, variables, sizes)), variables)
    return problem


def _layer_check(upstream: list[Node], variables: list[str], sizes: tuple[int, ...]) -> Callable[..., bool]:
    """A function of ``variables``' values: is the last node of ``upstream`` valid at every input size of ``sizes``?"""
    last = upstream[-1]

    def check(*values: int) -> bool:
        a = dict(zip(variables, values))
        out: dict[str, list[int]] = {"input": list(sizes)}
        for node in upstream:
            if node.kind == "add":
                left, right = (out[i] for i in node.inputs)
                if left != right:
                    return False
                out[node.name] = left
                continue
            k, s, p = a[node.kernel], a[node.stride], a[node.padding]
            out[node.name] = [(n + 2 * p - k) // s + 1 for n in out[node.inputs[0]]]
        return last.kind == "add" or out[last.name][0] >= 1

    return check


@dataclass
class SolverRun:
    solutions: int
    seconds: float
    first: list[dict[str, int]] = field(default_factory=list)
    note: str = ""


def python_constraint(net: BenchNet, budget: float, limit: int | None = None) -> SolverRun:
    """Solutions of the naive formulation from ``getSolutionIter`` for ``budget`` seconds (or until ``limit``)."""
    problem = naive_problem(net)
    solutions = 0
    first: list[dict[str, int]] = []
    with TimeLimit(budget) as timer:
        for solution in problem.getSolutionIter():
            solutions += 1
            if len(first) < CHECKED_SOLUTIONS:
                first.append(dict(solution))
            if limit is not None and solutions >= limit:
                break
    return SolverRun(solutions, timer.elapsed, first)


# --- OR-Tools CP-SAT ---------------------------------------------------------------------------------

def cp_sat_model(net: BenchNet, cp_model: Any) -> tuple[Any, dict[str, Any]]:
    """A CP-SAT model of ``net``'s validity and its hyperparameter variables (see :func:`cp_sat`).

    An add equates its inputs' sizes at every input size of the range.
    """
    chain_only = all(n.kind == "conv" for n in net.nodes)
    sizes = net.sizes[:1] if chain_only else net.sizes
    model = cp_model.CpModel()
    params = {name: model.new_int_var_from_domain(cp_model.Domain.from_values(list(values)), name)
              for name, values in net.domains.items()}
    for padding, kernel in net.pool_paddings:
        half = model.new_int_var(0, max(net.domains[kernel]) // 2, f"{kernel}//2")
        model.add_division_equality(half, params[kernel], 2)
        model.add(params[padding] <= half)
    bound = net.sizes[-1] + 2 * max(max(net.domains[n.padding]) for n in net.nodes if n.kind == "conv") * len(net.nodes)
    out: dict[str, list[Any]] = {"input": list(sizes)}
    for node in net.nodes:
        if node.kind == "add":
            left, right = (out[i] for i in node.inputs)
            for a, b in zip(left, right):
                model.add(a == b)
            out[node.name] = left
            continue
        k, s, p = params[node.kernel], params[node.stride], params[node.padding]
        column = []
        for i, n in enumerate(out[node.inputs[0]]):
            reach = model.new_int_var(0, bound, f"{node.name}.m{i}")
            model.add(reach == n + 2 * p - k)
            quotient = model.new_int_var(0, bound, f"{node.name}.q{i}")
            model.add_division_equality(quotient, reach, s)
            column.append(quotient + 1)
        out[node.name] = column
    return model, params


def cp_sat(net: BenchNet, budget: float, limit: int | None = None) -> SolverRun | None:
    """Every solution of a CP-SAT model of ``net`` through a callback, for ``budget`` seconds; None without OR-Tools.

    Each layer's size at each input size of the range is an integer variable: with
    ``m = n + 2*padding - kernel`` constrained to ``m >= 0`` (the output is >= 1 exactly then), CP-SAT's
    division, which truncates toward zero, is the floor division, and the output is ``m / stride + 1``.
    A pure chain is modelled at the smallest input size only, as the brute force checks it.
    """
    try:
        from ortools.sat.python import cp_model
    except ImportError:
        return None
    model, params = cp_sat_model(net, cp_model)
    variables = list(params.items())

    class Collector(cp_model.CpSolverSolutionCallback):
        def __init__(self) -> None:
            super().__init__()
            self.solutions = 0
            self.first: list[dict[str, int]] = []

        def on_solution_callback(self) -> None:
            solution = {name: self.value(var) for name, var in variables}
            self.solutions += 1
            if len(self.first) < CHECKED_SOLUTIONS:
                self.first.append(solution)
            if limit is not None and self.solutions >= limit:
                self.stop_search()

    # branch on the hyperparameters in layer order, without the LP relaxation: 1.3x (chain-6) to 3x
    # (res-12) more solutions per second than CP-SAT's defaults here
    model.add_decision_strategy([var for _, var in variables], cp_model.CHOOSE_FIRST, cp_model.SELECT_MIN_VALUE)
    solver = cp_model.CpSolver()
    solver.parameters.search_branching = cp_model.FIXED_SEARCH
    solver.parameters.linearization_level = 0
    solver.parameters.enumerate_all_solutions = True
    solver.parameters.num_workers = 1  # enumerating every solution is single-threaded in CP-SAT
    solver.parameters.max_time_in_seconds = budget
    collector = Collector()
    start = time.perf_counter()
    status = solver.solve(model, collector)
    seconds = time.perf_counter() - start
    note = "all solutions found" if status == cp_model.OPTIMAL else ""
    return SolverRun(collector.solutions, seconds, collector.first, note)


# --- checks ------------------------------------------------------------------------------------------

def check_solutions(space: Space, solutions: Sequence[Mapping[str, Any]], method: str, problems: list[str]) -> None:
    """Record in ``problems`` any of ``solutions`` that brute_force_count.is_valid rejects."""
    checker = _checker(space)
    bad = [s for s in solutions if not checker(dict(s))]
    if bad:
        problems.append(f"{method}: {len(bad)} of the {len(solutions)} solutions checked are not valid, e.g. {bad[0]}")


def _checker(space: Space) -> Callable[[dict[str, Any]], bool]:
    if is_pure_chain(space):
        space = space.with_input([SizeRange(r.lo, r.lo) for r in space.input.ranges], space.input.tied)
    return lambda assignment: is_valid(space, assignment)


# --- the sections ------------------------------------------------------------------------------------

@dataclass
class Summary:
    rows: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)

    def add(self, operation: str, convsolve: Timing, baseline: str, ratio: str, target: str, met: bool) -> None:
        self.rows.append((operation, convsolve.duration(), baseline, ratio, target, "met" if met else "MISSED"))


def memory_section(budgets: Budgets) -> list[list[str]]:
    """Peak and current RSS before and after streaming ``stream_rows`` rows of chain-40."""
    space = load_space(BENCH / "chain-40.yaml")
    before_peak, before_now = _peak_rss(), _current_rss()
    trace: list[float] = []
    rows = 0
    step = budgets.stream_rows // 10
    start = time.perf_counter()
    for block in enumerate_blocks(space, limit=budgets.stream_rows):
        rows += len(next(iter(block.values())))
        if rows // step > len(trace):
            trace.append(_current_rss())
    seconds = time.perf_counter() - start
    after_peak, after_now = _peak_rss(), _current_rss()
    print(f"\n5. memory: stream {rows:,} valid assignments of chain-40 ({len(space.params)} parameters) through "
          f"enumerate_blocks, counting rows (measured first, so the peak RSS is this section's own)\n")
    print(_table(["", "peak RSS (ru_maxrss)", "current RSS"],
                 [["before", _megabytes(before_peak), _megabytes(before_now)],
                  ["after", _megabytes(after_peak), _megabytes(after_now)]]))
    print(f"\n{rows:,} rows in {_duration(seconds)} ({_number(rows / seconds)} rows/s); current RSS at every "
          f"{step:,} rows: {', '.join(f'{m:.0f}' for m in trace)} MB")
    return [[f"stream {rows:,} rows of chain-40", _duration(seconds),
             f"peak RSS {_megabytes(before_peak)} -> {_megabytes(after_peak)}"]]


def enumerate_chain6(budgets: Budgets, summary: Summary, problems: list[str]) -> None:
    space = load_space(BENCH / "chain-6.yaml")
    net = BenchNet.of(space)
    valid = count(space).valid
    narrowed = space.with_input([SizeRange(r.lo, r.lo) for r in space.input.ranges], space.input.tied)
    rows: list[tuple[str, int, float, bool, float, bool, str]] = []

    blocks = streamed(lambda: enumerate_blocks(space), budgets.cap, keep=CHECKED_SOLUTIONS)
    check_solutions(space, blocks.value, "enumerate_blocks", problems)
    if not blocks.capped and blocks.items != valid:
        problems.append(f"enumerate_blocks gave {blocks.items:,} rows, count() says {valid:,}")
    reference = blocks.seconds if not blocks.capped else blocks.seconds * valid / max(blocks.items, 1)
    rows.append(("convsolve enumerate_blocks, all", blocks.items, blocks.seconds, blocks.capped, reference, blocks.capped, ""))

    first = min(1_000_000, valid)
    dicts = counted(lambda: enumerate_assignments(space, limit=first), budgets.cap)
    rows.append((f"convsolve enumerate_assignments, first {first:,}", dicts.items, dicts.seconds, dicts.capped,
                 dicts.seconds * valid / max(dicts.items, 1), True, ""))

    baselines: list[tuple[str, float]] = []
    for label, check in (("brute force: product + is_valid (brute_force_count.py)", lambda a: is_valid(narrowed, a)),
                         ("brute force: product + inline size arithmetic", chain_check(net))):
        run = brute_force(space, budgets.baseline, check)
        check_solutions(space, run.first, label, problems)
        full = run.seconds * space.total / max(run.checked, 1)
        rows.append((label, run.valid, run.seconds, False, full, run.checked < space.total,
                     f"{run.checked:,} of {space.total:,} assignments checked, {_number(run.checked / run.seconds)}/s"))
        baselines.append((label, full))
    inline = chain_check(net)
    sample_rng = random.Random(0)
    names = list(space.params)
    for _ in range(2000):
        assignment = {n: sample_rng.choice(space.params[n].values) for n in names}
        if inline(assignment) != is_valid(narrowed, assignment):
            problems.append(f"inline size arithmetic and is_valid disagree on {assignment}")
            break

    solver = python_constraint(net, budgets.baseline)
    check_solutions(space, solver.first, "python-constraint", problems)
    label = "python-constraint naive, OptimizedBacktrackingSolver"
    rows.append((label, solver.solutions, solver.seconds, False, solver.seconds * valid / max(solver.solutions, 1),
                 solver.solutions < valid, ""))
    baselines.append((label, rows[-1][4]))

    sat = cp_sat(net, budgets.baseline)
    if sat is None:
        print("\n(CP-SAT skipped: OR-Tools is not installed; pip install 'convsolve[bench]')")
    else:
        check_solutions(space, sat.first, "CP-SAT", problems)
        label = "OR-Tools CP-SAT, solution callback"
        done = sat.solutions >= valid
        rows.append((label, sat.solutions, sat.seconds, False, sat.seconds * valid / max(sat.solutions, 1), not done, sat.note))
        baselines.append((label, rows[-1][4]))

    print(f"\n1. enumerate every valid assignment of chain-6: {valid:,} of {space.total:,} "
          f"({len(space.params)} parameters); baselines on a {budgets.baseline:g} s budget\n")
    table = []
    for method, solutions, seconds, capped, full, extrapolated, note in rows:
        table.append([method, f"{solutions:,}", (">" if capped else "") + _duration(seconds), _number(solutions / seconds),
                      ("~" if extrapolated else "") + format_seconds(full), _ratio(full / reference), note])
    print(_table(["method", "solutions", "time", "solutions/s", f"all {valid:,}", "vs enumerate_blocks", ""], table))
    print(f"\n~ extrapolated from the rate within the time budget: brute force must check all {space.total:,} "
          f"assignments (time x {space.total:,} / checked); the solvers' rate of solutions is assumed to hold to the end.")
    best_label, best = min(baselines, key=lambda b: b[1])
    ratio = best / reference
    summary.add(f"enumerate chain-6, all {valid:,}", Timing(blocks.seconds, capped=blocks.capped),
                f"~{format_seconds(best)} ({best_label})", _ratio(ratio), ">= 10x fastest baseline",
                ratio >= 10 and not blocks.capped)


def enumerate_res12(budgets: Budgets, summary: Summary, problems: list[str]) -> None:
    space = load_space(BENCH / "res-12.yaml")
    net = BenchNet.of(space)
    want = 1_000_000
    rows: list[tuple[str, int, float, bool, float, str]] = []
    blocks = streamed(lambda: enumerate_blocks(space, limit=want), budgets.cap, keep=CHECKED_SOLUTIONS)
    check_solutions(space, blocks.value, "enumerate_blocks", problems)
    reference = blocks.seconds if not blocks.capped else blocks.seconds * want / max(blocks.items, 1)
    rows.append((f"convsolve enumerate_blocks, first {want:,}", blocks.items, blocks.seconds, blocks.capped, reference, ""))
    baselines: list[tuple[str, float]] = []
    solver = python_constraint(net, budgets.baseline, limit=want)
    check_solutions(space, solver.first, "python-constraint", problems)
    label = "python-constraint naive, OptimizedBacktrackingSolver"
    rows.append((label, solver.solutions, solver.seconds, False, solver.seconds * want / max(solver.solutions, 1), ""))
    baselines.append((label, rows[-1][4]))
    sat = cp_sat(net, budgets.baseline, limit=want)
    if sat is None:
        print("\n(CP-SAT skipped: OR-Tools is not installed; pip install 'convsolve[bench]')")
    else:
        check_solutions(space, sat.first, "CP-SAT", problems)
        label = "OR-Tools CP-SAT, solution callback"
        rows.append((label, sat.solutions, sat.seconds, False, sat.seconds * want / max(sat.solutions, 1), sat.note))
        baselines.append((label, rows[-1][4]))

    print(f"\n2. enumerate the first {want:,} valid assignments of res-12 ({len(space.params)} parameters, space size "
          f"{describe_count(space.total)}; adds must agree at every input size {net.sizes[0]}..{net.sizes[-1]}); "
          f"baselines on a {budgets.baseline:g} s budget\n")
    table = []
    for method, solutions, seconds, capped, full, note in rows:
        table.append([method, f"{solutions:,}", (">" if capped else "") + _duration(seconds), _number(solutions / seconds),
                      ("~" if solutions < want else "") + format_seconds(full), _ratio(full / reference), note])
    print(_table(["method", "solutions", "time", "solutions/s", f"first {want:,}", "vs enumerate_blocks", ""], table))
    print("\n~ extrapolated from the rate of solutions within the time budget, assumed to hold.")
    best_label, best = min(baselines, key=lambda b: b[1])
    summary.add(f"enumerate res-12, first {want:,}", Timing(blocks.seconds, capped=blocks.capped),
                f"~{format_seconds(best)} ({best_label})", _ratio(best / reference), "< 2 s",
                not blocks.capped and blocks.seconds < 2)


def count_section(budgets: Budgets, summary: Summary, workdir: Path) -> None:
    paths = []
    for length in (25, 50, 100, 200, 1000):
        path = BENCH / f"chain-{length}.yaml"
        if not path.exists():
            path = workdir / f"chain-{length}.yaml"
            path.write_text(chain(length).render(), encoding="utf-8")
        paths.append(path)
    paths.append(BENCH / "res-100.yaml")
    print("\n3. count the valid assignments (chain-25, -50, -200 generated into a temporary directory by "
          "generate_spaces.chain); no counting baseline exists: brute force and the solvers enumerate\n")
    table = []
    for path in paths:
        start = time.perf_counter()
        space = load_space(path)
        load_seconds = time.perf_counter() - start
        result = timed(lambda: count(space), budgets.cap)  # noqa: B023 - timed() calls it at once
        valid = describe_count(result.value.valid) if result.value is not None else "?"
        fraction = f"{result.value.fraction:.3g}" if result.value is not None else "?"
        table.append([space.name, f"{len(space.params):,}", describe_count(space.total), valid, fraction,
                      _duration(load_seconds), result.duration()])
        if space.name in ("chain-1000", "res-100"):
            summary.add(f"count {space.name}", result, "none (no counting baseline)", "-", "< 1 s",
                        not result.capped and result.seconds < 1)
    print(_table(["space", "parameters", "space size", "valid", "fraction", "load", "count"], table))


def sample_prune_suggest(budgets: Budgets, summary: Summary, problems: list[str]) -> None:
    res100 = load_space(BENCH / "res-100.yaml")
    drawn = timed(lambda: sample(res100, 10_000, seed=0), budgets.cap)
    if drawn.value is not None:
        check_solutions(res100, drawn.value[:20], "sample res-100", problems)
    start = time.perf_counter()
    mobilenet = load_space(MOBILENET)
    load_seconds = time.perf_counter() - start
    pruned = timed(lambda: prune(mobilenet), budgets.cap)
    suggested = timed(lambda: suggest(mobilenet, MOBILENET_FIXED), budgets.cap)
    fixed = ", ".join(f"{k}={v}" for k, v in MOBILENET_FIXED.items())
    print("\n4. sample, prune, suggest (no baselines; load times not included)\n")
    print(_table(["operation", "time", "result"], [
        ["sample 10,000 uniform assignments of res-100", drawn.duration(),
         f"{len(drawn.value):,} assignments" if drawn.value is not None else "capped"],
        [f"prune mobilenetv2_nas (load {_duration(load_seconds)})", pruned.duration(),
         f"{pruned.value.valid:,} valid; {sum(len(v) for v in pruned.value.removed.values())} values removed"
         if pruned.value is not None else "capped"],
        [f"suggest mobilenetv2_nas given {fixed}", suggested.duration(),
         f"{suggested.value.valid:,} valid completions" if suggested.value is not None else "capped"],
    ]))
    summary.add("sample 10,000 of res-100", drawn, "none", "-", "< 1 s", not drawn.capped and drawn.seconds < 1)
    summary.add("prune mobilenetv2_nas", pruned, "none", "-", "< 100 ms", not pruned.capped and pruned.seconds < 0.1)
    summary.add("suggest mobilenetv2_nas", suggested, "none", "-", "< 100 ms", not suggested.capped and suggested.seconds < 0.1)

    paths = sorted(BENCH.glob("*.yaml"), key=_natural) + sorted(SPACES.glob("*.yaml"))
    print("\n   time to first solution after loading (the issue's measure): enumerate_blocks(limit=1);"
          " loading shown apart\n")
    table, timings = [], []
    for path in paths:
        loaded = timed(lambda: load_space(path), budgets.cap, repeats=1)  # noqa: B023 - timed() calls it at once
        space = loaded.value

        def first() -> int:
            return sum(len(next(iter(b.values()))) for b in enumerate_blocks(space, limit=1))  # noqa: B023 - called below, at once

        result = timed(first, budgets.cap)
        ok = not result.capped and result.seconds < 0.05
        timings.append((ok, result))
        found = "-" if result.value is None else "none (infeasible)" if result.value == 0 else "found"
        table.append([str(path.relative_to(ROOT)), loaded.duration(), result.duration(), found, "met" if ok else "MISSED"])
    print(_table(["config", "load", "first solution", "", "< 50 ms"], table))
    met = sum(ok for ok, _ in timings)
    worst = max((t for _, t in timings), key=lambda t: (t.capped, t.seconds))
    summary.add(f"first solution, worst of {len(paths)} configs ({met} met)", worst, "none", "-", "< 50 ms", met == len(paths))


# --- printing ----------------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    numeric = [i > 0 and all(_looks_numeric(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [f"{str(cell):>{w}}" if right else f"{str(cell):<{w}}" for cell, w, right in zip(row, widths, numeric)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _looks_numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "~>-") and not text.startswith("-1")


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s" if seconds < 60 else format_seconds(seconds)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _ratio(value: float) -> str:
    return f"{value:,.0f}x" if value >= 100 else f"{value:.3g}x"


def _natural(path: Path) -> tuple[str, int]:
    stem, _, number = path.stem.rpartition("-")
    return (stem, int(number)) if number.isdigit() else (path.stem, 0)


def _peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _current_rss() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _megabytes(value: float) -> str:
    return f"{value:,.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: baselines {QUICK.baseline:g} s, convsolve "
                        f"capped at {QUICK.cap:g} s, {QUICK.stream_rows:,} rows streamed")
    parser.add_argument("--budget", type=float, help="seconds each baseline runs (default 20; 2 with --quick)")
    parser.add_argument("--cap", type=float, help="seconds any convsolve operation may take, 0 for no cap (default 60; 5 with --quick)")
    args = parser.parse_args()
    budgets = QUICK if args.quick else FULL
    budgets = Budgets(args.budget if args.budget is not None else budgets.baseline,
                      args.cap if args.cap is not None else budgets.cap, budgets.stream_rows)
    try:
        sat = f"OR-Tools {version('ortools')}"
    except PackageNotFoundError:
        sat = "OR-Tools not installed (CP-SAT skipped)"
    print(f"convsolve solver benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python "
          f"{sys.version.split()[0]}, NumPy {version('numpy')}, python-constraint2 {version('python-constraint2')}, "
          f"{sat}; baselines {budgets.baseline:g} s each, convsolve capped at {budgets.cap:g} s"
          f"{' (--quick)' if args.quick else ''}")

    began = time.perf_counter()
    summary = Summary()
    problems: list[str] = []
    memory_rows = memory_section(budgets)
    enumerate_chain6(budgets, summary, problems)
    enumerate_res12(budgets, summary, problems)
    with tempfile.TemporaryDirectory(prefix="bench_solver_") as workdir:
        count_section(budgets, summary, Path(workdir))
    sample_prune_suggest(budgets, summary, problems)

    print(f"\nsummary (targets from the issue; > marks an operation stopped at the {budgets.cap:g} s cap, "
          f"~ an extrapolated baseline)\n")
    print(_table(["operation", "convsolve", "fastest baseline", "ratio", "target", ""], [list(r) for r in summary.rows]))
    for row in memory_rows:
        print(f"\nmemory: {row[0]} in {row[1]}, {row[2]}")
    print(f"\ntotal wall time {format_seconds(time.perf_counter() - began)}")
    for line in problems:
        print(f"DISAGREEMENT: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
