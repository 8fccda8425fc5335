"""Compiling a search space into a dynamic programme over its DAG (and a python-constraint Problem)."""

from .cache import DEFAULT_CACHE, SolverCache
from .catalogue import LayerCatalogue
from .plan import Plan, make_plan
from .problem import DagSolver, compile_problem
from .programme import Programme
from .ranking import Ranking
from .table import Table

__all__ = ["Plan", "make_plan", "LayerCatalogue", "Programme", "Table", "Ranking", "DagSolver", "compile_problem", "SolverCache", "DEFAULT_CACHE"]
