"""The valid assignment of a search space nearest to a given one: a NAS trial repaired within the space.

A search space's own choices are the candidates. Giving a parameter another value than the trial's
costs the weight of its kind (the last part of its name: ``b1.kernel`` is a ``kernel``; 1 unless
weighted), plus the numeric change as the tie-break, exactly as :mod:`convsolve.ops.repair` costs
the fields of a fixed network; the cheapest valid assignment over the whole input range is the
answer, optimal (:func:`convsolve.solve.cheapest.cheapest`). Parameters the trial leaves out are free.

Example:
    >>> from convsolve.space import Space
    >>> space = Space.from_config({"input": {"channels": 3, "size": {"range": [8, 16]}}, "layers": [
    ...     {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [3, 5, 11]},
    ...      "padding": {"choice": [0, 1]}}]})
    >>> found = nearest(space, {"c.kernel": 11, "c.padding": 0})
    >>> found.status, [str(change) for change in found.changes]
    ('repaired', ['c.kernel: 11 -> 5'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..errors import UsageError
from ..space import INACTIVE
from ..solve.cheapest import cheapest
from .repair import SHIFT_SCALE

__all__ = ["Nearest", "nearest"]


@dataclass(frozen=True)
class Nearest:
    """The trial, the nearest valid assignment (None when the space has none) and what changed."""

    status: str
    """``valid`` (the trial itself), ``repaired`` or ``unrepairable`` (no valid assignment at all)."""
    trial: dict[str, Any]
    assignment: dict[str, Any] | None
    cost: int

    @cached_property
    def changes(self) -> list[Changed]:
        """The parameters whose value differs from the trial's, in the space's order."""
        if self.assignment is None:
            return []
        return [Changed(name, before, self.assignment.get(name)) for name, before in self.trial.items()
                if self.assignment.get(name) != before]

    def __str__(self) -> str:
        if self.assignment is None:
            return "unrepairable: the space has no valid assignment over its input range"
        if self.status == "valid":
            return "valid: the assignment needs no change"
        changes = self.changes
        lines = [f"repaired: {len(changes)} change{'s' if len(changes) != 1 else ''}"] + [f"  {change}" for change in changes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "changes": [{"param": c.param, "before": c.before, "after": c.after} for c in self.changes],
            "assignment": self.assignment,
        }


@dataclass(frozen=True)
class Changed:
    """One parameter given another value."""

    param: str
    before: Any
    after: Any

    def __str__(self) -> str:
        after = "(out of the network)" if self.after is None else self.after  # its op not chosen, its copy beyond the depth
        return f"{self.param}: {self.before} -> {after}"


def nearest(
    space: Any, trial: Mapping[str, Any], weights: Mapping[str, int] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> Nearest:
    """The valid assignment of ``space`` with the fewest weighted changes from ``trial``, then the least numeric change.

    ``weights`` maps a kind (``kernel``) or a parameter name (``b1.kernel``) to the cost of changing
    it; unknown parameter names in ``trial`` are refused with the name in the message.
    """
    unknown = [name for name in trial if name not in space.params]
    if unknown:
        known = ", ".join(list(space.params)[:8]) + (", ..." if len(space.params) > 8 else "")
        raise UsageError(f"{', '.join(map(repr, unknown))}: not a parameter of this space (its parameters: {known})",
                         field="--set")
    for name, before in trial.items():
        values = space.params[name].values
        if isinstance(before, str) != isinstance(values[0], str):
            raise UsageError(f"{name}={before} is not in its domain [{', '.join(map(str, values))}]", field="--set")
    weights = weights or {}
    costs = {}
    for name, before in trial.items():
        weight = weights.get(name, weights.get(name.rsplit(".", 1)[-1], 1))
        costs[name] = {value: 0 if value == before else weight * SHIFT_SCALE + _distance(value, before)
                       for value in space.params[name].values}
        costs[name][INACTIVE] = weight * SHIFT_SCALE  # taking it out of the network changes it too
    found = cheapest(space, costs, on_step)
    if found is None:
        return Nearest("unrepairable", dict(trial), None, 0)
    assignment = {name: value for name, value in found.assignment.items() if value is not INACTIVE}
    return Nearest("valid" if found.cost == 0 else "repaired", dict(trial), assignment, found.cost)


def _distance(value: Any, before: Any) -> int:
    """The numeric change between two values (1 between values that are not both numbers)."""
    try:
        return abs(int(value) - int(before))
    except (TypeError, ValueError):
        return 1
