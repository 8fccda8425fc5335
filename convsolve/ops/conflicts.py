"""Why a space has no valid assignment: the smallest set of targets, constraints and fixed values in conflict.

Each target, each constraint and each value fixed with ``--set`` is a *demand*. When the space with all of them
is empty, the demands are dropped one at a time, in the order written, and a demand stays in the answer only
if the space becomes valid without it: what is left is a conflict no demand of which can go (every proper subset
has valid assignments), found with one count per demand. When the space is empty with no demand at all, the
network itself is to blame, and the answer names the layer where the programme ran out of states.

Example:
    >>> from convsolve.space import Space
    >>> space = Space.from_config({"input": {"channels": 1, "size": {"range": [8, 16]}}, "layers": [
    ...     {"name": "c", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [1, 3]}, "stride": {"choice": [1, 2]}}],
    ...     "constraints": ["c.kernel > 1"], "targets": [{"node": "c", "stride": 2}, {"node": "c", "receptive_field": 1}]})
    >>> print(explain_empty(space))
    no valid assignment: these demands cannot all hold, and without any one of them some assignment is valid:
      constraint: c.kernel > 1
      target: c: receptive field 1..1
      (with them every assignment fails at layer 'c' over the input range 8..16 (every spatial axis))
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..solve.engine import Progress, table_of

__all__ = ["Conflict", "Demand", "explain_empty"]


@dataclass(frozen=True)
class Demand:
    """One thing asked of a space: a constraint, a target, or a value fixed for a parameter."""

    kind: str
    """``constraint``, ``target`` or ``fixed``."""
    text: str
    index: int | None = None
    """The constraint's or target's position in the config (None for a fixed value)."""
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.kind}: {self.text}{where}"


@dataclass(frozen=True)
class Conflict:
    """The demands that cannot hold together (empty when the network alone has no valid assignment), and why."""

    demands: tuple[Demand, ...]
    reason: str = ""
    """Where every assignment fails with the demands (or with none): ``layer 'b1' over the input range 32..224``."""
    also: tuple[Demand, ...] = ()
    """Other demands that empty the space on their own (another conflict, of one)."""

    def __str__(self) -> str:
        if not self.demands:
            return f"no valid assignment, whatever the constraints and targets: every assignment fails at {self.reason}"
        if len(self.demands) == 1:
            lines = [f"no valid assignment: {self.demands[0]} cannot hold: with it every assignment fails at {self.reason}; "
                     "without it some assignment is valid"]
        else:
            lines = ["no valid assignment: these demands cannot all hold, and without any one of them some assignment is valid:"]
            lines += [f"  {demand}" for demand in self.demands] + [f"  (with them every assignment fails at {self.reason})"]
        lines += [f"also cannot hold on its own: {demand}" for demand in self.also]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def shown(demands: tuple[Demand, ...]) -> list[dict[str, Any]]:
            return [{"kind": d.kind, "text": d.text, "index": d.index, "line": d.line} for d in demands]

        return {"conflict": shown(self.demands), "reason": self.reason or None, "also": shown(self.also)}


def explain_empty(space: Any, fixed: Mapping[str, Any] | None = None, on_step: Progress | None = None) -> Conflict:
    """The smallest conflict among ``space``'s constraints, targets and the ``fixed`` values (see the module)."""
    fixed = dict(fixed or {})
    demands = [Demand("constraint", c.text, i, c.line) for i, c in enumerate(space.constraints)]
    demands += [Demand("target", str(t), i, t.line) for i, t in enumerate(space.targets)]
    demands += [Demand("fixed", f"{name} = {value}") for name, value in fixed.items()]

    def table_with(kept: Sequence[Demand]) -> Any:
        names = {d.text.split(" = ", 1)[0] for d in kept if d.kind == "fixed"}
        domains = {name: (value,) for name, value in fixed.items() if name in names}
        return table_of(_restricted(space, kept), domains, on_step=on_step, transitions=False)

    def failing(table: Any) -> str:
        step, merge = table.empty_at, table.empty_merge
        where = f"layer {step.node!r}" if step is not None else "the network's end"
        if merge is not None:
            where += f" or the {merge.node!r} merge after it"
        described = space.describe_input()
        return f"{where} over {described if described.startswith('the sizes') else f'the input range {described}'}"

    table = table_with([])
    if not table.count():
        return Conflict((), failing(table))
    kept = list(demands)
    for demand in demands:  # a demand goes when the rest still conflict
        trial = [d for d in kept if d is not demand]
        if not table_with(trial).count():
            kept = trial
    also = tuple(d for d in demands if d not in kept and not table_with([d]).count())
    return Conflict(tuple(kept), failing(table_with(kept)), also)


def _restricted(space: Any, kept: Sequence[Demand]) -> Any:
    """``space`` with only the constraints and targets among ``kept`` (the layers and their built combinations shared)."""
    restricted = copy.copy(space)
    constraints = {d.index for d in kept if d.kind == "constraint"}
    targets = {d.index for d in kept if d.kind == "target"}
    restricted.constraints = tuple(c for i, c in enumerate(space.constraints) if i in constraints)
    restricted.targets = tuple(t for i, t in enumerate(space.targets) if i in targets)
    return restricted
