"""A search space as a python-constraint ``Problem``, solved by the DAG programme or by backtracking.

python-constraint is the modelling layer: every parameter is a variable with its domain, every
user constraint an :class:`ExpressionConstraint` (evaluated by convsolve's own parser — never a
string handed to python-constraint, which would ``exec`` it), and validity over the input range one
:class:`NetworkConstraint` over all variables. :class:`DagSolver` answers from
:class:`~convsolve.solve.table.Table`, honouring the domains the Problem hands it; any other
``Constraint`` a caller adds is checked on each solution. python-constraint's own solvers
(``BacktrackingSolver``...) give the same solutions, slowly: tests hold both to each other.

Example:
    >>> problem = compile_problem(space)                     # doctest: +SKIP
    >>> problem.getSolution()                                # doctest: +SKIP
    {'conv1.kernel': 1, ...}
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any, cast

from constraint import Constraint, Problem, Solver

from ..errors import InvalidAssignment, UsageError
from ..space import SpaceConstraint
from ..network import INPUT
from .plan import make_plan
from .ranking import Ranking
from .table import Table

__all__ = ["ExpressionConstraint", "NetworkConstraint", "DagSolver", "compile_problem", "reaches", "receptive_fields"]


class ExpressionConstraint(Constraint):  # type: ignore[misc]
    """A user constraint, checked once all its variables are assigned (forward checking on the last one)."""

    def __init__(self, constraint: SpaceConstraint) -> None:
        self.constraint = constraint

    def __call__(
        self,
        variables: Sequence[Hashable],
        domains: dict[Hashable, Any],
        assignments: dict[Hashable, Any],
        forwardcheck: bool = False,
        _unassigned: Any = None,
    ) -> bool:
        missing = [v for v in variables if v not in assignments]
        if missing:
            if forwardcheck and len(missing) == 1:
                domain = domains[missing[0]]
                for value in domain[:]:
                    if not self._holds({**assignments, missing[0]: value}):
                        domain.hideValue(value)
                return bool(domain)
            return True
        return self._holds(assignments)

    def _holds(self, values: dict[Hashable, Any]) -> bool:
        return self.constraint.holds(cast(Mapping[str, Any], values))  # the variables are parameter names


class NetworkConstraint(Constraint):  # type: ignore[misc]
    """Every layer valid at every input size of the range, once every parameter is assigned."""

    def __init__(self, space: Any) -> None:
        self.space = space

    def __call__(
        self,
        variables: Sequence[Hashable],
        domains: dict[Hashable, Any],
        assignments: dict[Hashable, Any],
        forwardcheck: bool = False,
        _unassigned: Any = None,
    ) -> bool:
        if any(v not in assignments for v in variables):
            return True
        values = {name: assignments[name] for name in self.space.params}
        try:
            network = self.space.fixed(values)
        except (InvalidAssignment, UsageError):  # UsageError: a parameter has a value exactly where it is out of the network
            return False
        result = network.infer()
        return not result.static and bool(result.valid_mask().all()) and all(reaches(network, t) for t in self.space.targets)


def reaches(network: Any, target: Any) -> bool:
    """Whether ``target.node`` meets the target: its size at an input size, its stride, its receptive field."""
    if target.size is not None:
        rows = {row.node: row.shape for row in network.shapes(list(target.at))}
        shape = rows[target.node]
        if shape is None or tuple(shape[1:]) != tuple(target.size):
            return False
    if target.stride is None and target.receptive_field is None:
        return True
    for jump, field in receptive_fields(network, target.node):
        if target.stride is not None and jump != target.stride:
            return False
        low, high = target.receptive_field or (None, None)
        if (low is not None and field < low) or (high is not None and field > high):
            return False
    return True


def receptive_fields(network: Any, node: str) -> list[tuple[Fraction, Fraction]]:
    """Per axis, the jump and receptive field of ``node``'s output, following every path from the input."""
    ones = [(1, 1), (1, 1)]
    found: dict[str, list[tuple[tuple[Any, Any], tuple[Any, Any]]]] = {INPUT: [(ones[0], ones[1])] * network.ndim}
    for name in network.order[1:]:
        sources = [found[s] for s in network.inputs_of(name)]
        per_axis = []
        for axis in range(network.ndim):
            jump, field = sources[0][axis]
            for other in sources[1:]:  # a merge sees the widest field of its inputs
                if Fraction(*other[axis][1]) > Fraction(*field):
                    field = other[axis][1]
            per_axis.append(network.layer(name).receptive(axis, jump, field))
        found[name] = per_axis
    return [(Fraction(int(j[0]), int(j[1])), Fraction(int(f[0]), int(f[1]))) for j, f in found[node]]


class DagSolver(Solver):  # type: ignore[misc]
    """Solves a compiled space with the dynamic programme over the network's DAG."""

    requires_pickling = False

    def __init__(self, space: Any) -> None:
        self.space = space

    def getSolutionIter(self, domains: dict[Hashable, Any], constraints: list[Any], vconstraints: dict[Hashable, Any]) -> Iterator[dict[str, Any]]:  # noqa: N802 (python-constraint's API)
        narrowed: dict[str, Sequence[Any]] = {
            name: [v for v in self.space.params[name].domain if v in list(domains[name])] for name in self.space.params
        }
        if any(not values for values in narrowed.values()):
            return
        others = [(c, v) for c, v in constraints if not isinstance(c, (ExpressionConstraint, NetworkConstraint))]
        table = Table(make_plan(self.space, narrowed), self.space)
        ranking = Ranking(table)
        for begin in range(0, ranking.total, 4096):
            columns = ranking.assignments(list(range(begin, min(begin + 4096, ranking.total))))
            for solution in ranking.values(columns):
                if all(c(v, domains, solution) for c, v in others):
                    yield solution

    def getSolution(self, domains: dict[Hashable, Any], constraints: list[Any], vconstraints: dict[Hashable, Any]) -> dict[str, Any] | None:  # noqa: N802
        return next(self.getSolutionIter(domains, constraints, vconstraints), None)

    def getSolutions(self, domains: dict[Hashable, Any], constraints: list[Any], vconstraints: dict[Hashable, Any]) -> list[dict[str, Any]]:  # noqa: N802
        return list(self.getSolutionIter(domains, constraints, vconstraints))


def compile_problem(space: Any, solver: Solver | None = None) -> Problem:
    """A python-constraint Problem for ``space``; solved by :class:`DagSolver` unless ``solver`` is given."""
    problem = Problem(solver or DagSolver(space))
    for name, param in space.params.items():
        problem.addVariable(name, list(param.domain))
    for constraint in space.constraints:
        problem.addConstraint(ExpressionConstraint(constraint), sorted(constraint.expression.names))
    if space.params:
        problem.addConstraint(NetworkConstraint(space), list(space.params))
    return problem
