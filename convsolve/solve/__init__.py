"""Compiling a search space into a dynamic programme over its DAG (and a python-constraint Problem)."""

from .plan import Plan, make_plan
from .problem import DagSolver, compile_problem
from .ranking import Ranking
from .table import Table

__all__ = ["Plan", "make_plan", "Table", "Ranking", "DagSolver", "compile_problem"]
