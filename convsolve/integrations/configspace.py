"""ConfigSpace: a search space exported as a ``ConfigurationSpace``, and a sampler of valid configurations only.

    cs = to_configspace(space)                                    # SMAC, DEHB, HpBandSter, ... read this
    sampler = ValidConfigurationSampler(space)
    configurations = sampler.sample_configuration(10)              # Configurations of sampler.configspace, all valid

What the export keeps exactly:

- One hyperparameter per convsolve parameter, named as it is (``stem.kernel``, ``cell.depth``, ``e1.op``,
  ``input.size``). Integers become an ``OrdinalHyperparameter`` over their values in increasing order: it
  holds exactly the values of the domain (a ``UniformIntegerHyperparameter`` would fill the gaps, offering
  kernel 4 between 3 and 5), keeps their order for the model-based samplers (a ``Categorical`` of integers
  forgets that 5 lies between 3 and 7), and is the kind ``GreaterThanCondition`` compares. Op, input and
  true/false choices (and any domain mixing kinds, such as padding ``[0, 1, same]``) become a
  ``CategoricalHyperparameter`` in the domain's order. Sampled values come back as the domain's own values.
- A conditional parameter (:attr:`convsolve.space.Param.active_when`) gets one condition per gate, joined by
  ``AndConjunction``: an op gate ``e1.op = conv`` is an ``EqualsCondition``; a depth gate ``cell.depth > 1``
  a ``GreaterThanCondition`` (or an ``InCondition`` over the depths that pass, when pruning removed the
  gate's own value). ConfigSpace makes a child inactive when its parent is, as convsolve does.
- With ``prune`` the domains are those of :func:`convsolve.ops.prune` (a value in no valid assignment is
  dropped; a parameter active in no valid assignment is left out), and the default configuration is a
  valid assignment (the first one :func:`convsolve.ops.enumerate_assignments` gives).
- With ``forbid``, forbidden clauses for pairs of values that appear together in no valid assignment: for a
  value ``a`` of ``p`` and a later parameter ``q``, one ``ForbiddenAndConjunction(p == a, q in {b, ...})``.
  The pairs come from one table of the space (:class:`convsolve.solve.table.Table`, the one
  :class:`~convsolve.integrations.optuna.ValidDraws` builds): one forward pass per parameter over its
  transitions marks which values of every later parameter are reachable, on a path that completes, from
  each of its values. At most ``max_forbidden`` clauses (:data:`MAX_FORBIDDEN`) are written, those that
  exclude the largest share of uniform samples first (a value of a 2-value parameter before one of a
  10-value one), because ConfigSpace checks every clause on every sample.

Pairs are not everything: validity couples more than two parameters (a pooling kernel fits only after
enough small strides), so some of ConfigSpace's own samples stay invalid; ``scripts/configspace_invalid_rate.py``
measures how many on the shipped NAS spaces. :class:`ValidConfigurationSampler` has none: it draws
uniformly over the valid assignments (:func:`convsolve.ops.sample`) and returns them as configurations.

Example:
    >>> from convsolve import Space
    >>> space = Space.from_config({"input": {"channels": 1, "size": {"range": [4, 9]}}, "layers": [
    ...     {"name": "c", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [1, 3, 5]}, "stride": {"choice": [1, 2]}},
    ...     {"name": "p", "type": "max_pool2d", "kernel": {"choice": [1, 2, 4]}}]})
    >>> cs = to_configspace(space)                                # doctest: +SKIP
    >>> list(cs["c.kernel"].sequence), len(cs.forbidden_clauses)  # doctest: +SKIP
    ([1, 3], 2)
    >>> ValidConfigurationSampler(space, seed=0).sample_configuration(2)   # doctest: +SKIP
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from .. import ops
from ..errors import MissingExtraError, UsageError
from ..space import INACTIVE, Gate, Space
from .optuna import ValidDraws

__all__ = [
    "MAX_FORBIDDEN", "ConfigSpaceExport", "InfeasiblePair", "ValidConfigurationSampler", "assignment_of_configuration", "export_configspace",
    "import_configspace", "infeasible_pairs", "to_configspace",
]

MAX_FORBIDDEN = 1000
"""The most forbidden clauses an export writes: ConfigSpace checks each on every sample it draws."""


def import_configspace() -> ModuleType:
    """The ConfigSpace package, or MissingExtraError naming the ``configspace`` extra."""
    try:
        import ConfigSpace
    except ImportError:
        raise MissingExtraError("ConfigSpace", "configspace") from None
    return ConfigSpace


@dataclass(frozen=True)
class InfeasiblePair:
    """Value ``value`` of ``param`` appears in no valid assignment together with any of ``others`` of ``other``."""

    param: str
    value: Any
    other: str
    others: tuple[Any, ...]
    share: float
    """The share of uniform draws over the two domains that the pair excludes (what the bound ranks by)."""


@dataclass(frozen=True)
class ConfigSpaceExport:
    """A space exported to ConfigSpace, with what was left out of it."""

    configspace: Any
    """The ``ConfigSpace.ConfigurationSpace``."""
    source: str
    conditions: int
    forbidden: int
    """The forbidden clauses written."""
    infeasible: int
    """The infeasible value pairs found (grouped as clauses); those beyond the bound are not written."""
    omitted: tuple[str, ...]
    """Parameters active in no valid assignment, left out."""

    def __str__(self) -> str:
        hyperparameters = len(self.configspace)
        text = (f"{self.source}: {hyperparameters} hyperparameters, {self.conditions} conditions, {self.forbidden} forbidden clauses"
                f" (of {self.infeasible} infeasible value pairs found)")
        if self.omitted:
            text += f"; left out (active in no valid assignment): {', '.join(self.omitted)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "hyperparameters": len(self.configspace), "conditions": self.conditions,
                "forbidden": self.forbidden, "infeasible": self.infeasible, "omitted": list(self.omitted)}


def to_configspace(space: Space, *, prune: bool = True, forbid: bool = True, max_forbidden: int = MAX_FORBIDDEN) -> Any:
    """The space as a ``ConfigSpace.ConfigurationSpace`` (see the module docstring for what it keeps).

    Parameters
    ----------
    space : Space
        The search space.
    prune : bool
        Domains narrowed by :func:`convsolve.ops.prune`, and a valid default configuration.
    forbid : bool
        Forbidden clauses for value pairs found in no valid assignment (at most ``max_forbidden``).

    Returns
    -------
    ConfigSpace.ConfigurationSpace

    Raises
    ------
    MissingExtraError
        When ConfigSpace is not installed.
    UsageError
        When no assignment of the space is valid (with ``prune`` or ``forbid``).
    """
    return export_configspace(space, prune=prune, forbid=forbid, max_forbidden=max_forbidden).configspace


def export_configspace(
    space: Space, *, prune: bool = True, forbid: bool = True, max_forbidden: int | None = MAX_FORBIDDEN,
) -> ConfigSpaceExport:
    """:func:`to_configspace`, with the counts of conditions and forbidden clauses and the parameters left out
    (``max_forbidden`` None: :data:`MAX_FORBIDDEN`)."""
    cs = import_configspace()
    max_forbidden = MAX_FORBIDDEN if max_forbidden is None else max_forbidden
    if max_forbidden < 0:
        raise UsageError(f"max_forbidden must be >= 0, got {max_forbidden}")
    domains = {name: param.values for name, param in space.params.items()}
    default: Mapping[str, Any] = {}
    if prune or forbid:
        pruned = ops.prune(space)
        if not pruned.valid:
            raise UsageError(f"no assignment of {space.name!r} is valid over {space.input.describe()}: there is nothing to export")
        default = next(ops.enumerate_assignments(space, limit=1))
        if prune:
            domains = dict(pruned.domains)
    configspace = cs.ConfigurationSpace(name=space.name)
    hyperparameters: dict[str, Any] = {}
    omitted: list[str] = []
    conditions = []
    for name, param in space.params.items():
        values = _ordered(domains[name])
        gates = [_condition(cs, gate, hyperparameters) for gate in param.active_when]
        if not values or any(gate is False for gate in gates):  # never active: its gate's parent or value was pruned
            omitted.append(name)
            continue
        hyperparameters[name] = hyperparameter = _hyperparameter(cs, name, values, default.get(name, values[0]))
        configspace.add(hyperparameter)
        built = [gate(hyperparameter) for gate in gates if callable(gate)]
        if built:
            conditions.append(built[0] if len(built) == 1 else cs.AndConjunction(*built))
    configspace.add(conditions)
    pairs: list[InfeasiblePair] = []
    if forbid:
        unsupported = [(name, value) for name in hyperparameters for value in domains[name]
                       if value not in pruned.domains[name]][:max_forbidden]  # values in no valid assignment, when not pruned away
        pairs = [pair for pair in infeasible_pairs(space, ValidDraws(space))
                 if pair.param in hyperparameters and pair.other in hyperparameters and _may_meet(space, pair)]
        pairs = [_narrowed(pair, domains) for pair in pairs]
        pairs = [pair for pair in pairs if pair.value in domains[pair.param] and pair.others]
        kept = sorted(pairs, key=lambda pair: -pair.share)[:max(0, max_forbidden - len(unsupported))]
        configspace.add([cs.ForbiddenEqualsClause(hyperparameters[name], value) for name, value in unsupported])
        configspace.add([cs.ForbiddenAndConjunction(
            cs.ForbiddenEqualsClause(hyperparameters[pair.param], pair.value),
            cs.ForbiddenEqualsClause(hyperparameters[pair.other], pair.others[0]) if len(pair.others) == 1
            else cs.ForbiddenInClause(hyperparameters[pair.other], list(pair.others))) for pair in kept])
    return ConfigSpaceExport(configspace, space.source or space.name, len(conditions), len(configspace.forbidden_clauses), len(pairs),
                             tuple(omitted))


def _ordered(values: Sequence[Any]) -> tuple[Any, ...]:
    """Integers in increasing order (an ordinal's order); any other domain as written."""
    if values and all(_plain_int(v) for v in values):
        return tuple(sorted(values))
    return tuple(values)


def _plain_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _hyperparameter(cs: ModuleType, name: str, values: tuple[Any, ...], default: Any) -> Any:
    if all(_plain_int(v) for v in values):
        return cs.OrdinalHyperparameter(name, list(values), default_value=default)
    return cs.CategoricalHyperparameter(name, list(values), default_value=default)


def _condition(cs: ModuleType, gate: Gate, hyperparameters: Mapping[str, Any]) -> Any:
    """A maker of the ConfigSpace condition for ``gate`` (given the child hyperparameter), or False when no exported value
    of the gate's parameter passes it (then the child is never active)."""
    parent = hyperparameters.get(gate.param)
    if parent is None:
        return False
    domain = list(parent.sequence if hasattr(parent, "sequence") else parent.choices)
    passing = [v for v in domain if gate.holds({gate.param: v})]
    if not passing:
        return False
    if gate.kind == "depth" and gate.value in domain:
        return lambda child: cs.GreaterThanCondition(child, parent, gate.value)
    if len(passing) == 1:
        return lambda child: cs.EqualsCondition(child, parent, passing[0])
    return lambda child: cs.InCondition(child, parent, passing)


def _may_meet(space: Space, pair: InfeasiblePair) -> bool:
    """Whether the conditions alone let ``pair.param = pair.value`` and ``pair.other`` be active together: a clause on a
    pair the conditions keep apart (options of one op choice) never fires, and would only take a place under the bound."""
    allowed: dict[str, set[Any]] = {pair.param: {pair.value}}
    pending = [pair.param, pair.other]
    while pending:  # every gate above either parameter narrows the values its parameter may take
        param = space.params[pending.pop()]
        for gate in param.active_when:
            if gate.param not in allowed:
                allowed[gate.param] = set(space.params[gate.param].values)
                pending.append(gate.param)
            allowed[gate.param] = {value for value in allowed[gate.param] if gate.holds({gate.param: value})}
    return all(allowed.values())


def _narrowed(pair: InfeasiblePair, domains: Mapping[str, Sequence[Any]]) -> InfeasiblePair:
    kept = tuple(v for v in pair.others if v in domains[pair.other])
    share = len(kept) / max(1, len(domains[pair.other])) / max(1, len(domains[pair.param]))
    return InfeasiblePair(pair.param, pair.value, pair.other, kept, share)


def infeasible_pairs(space: Space, draws: ValidDraws | None = None) -> list[InfeasiblePair]:
    """Every value ``a`` of a parameter ``p`` and later parameter ``q`` with the values of ``q`` that no valid assignment has
    together with ``p = a`` (both active), in the table's decision order; values in no valid assignment at all are not listed.

    One pass per parameter over the transitions of the space's table: ``reach[state, a]`` says that a path through
    ``p = a`` reaches the state; a move that leads to a state that completes, out of a state reached from ``a``, shows
    its values of the parameters it decides as compatible with ``a``.

    Example:
        >>> space = Space.from_config({"input": {"channels": 1, "size": 4}, "layers": [
        ...     {"name": "c", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [1, 3]}},
        ...     {"name": "p", "type": "max_pool2d", "kernel": {"choice": [1, 2, 4]}}]})
        >>> [(pair.param, pair.value, pair.other, pair.others) for pair in infeasible_pairs(space)]
        [('c.kernel', 3, 'p.kernel', (4,))]
    """
    draws = draws or ValidDraws(space)
    table = draws.table
    domains = table.plan.domains
    back = table.backward()
    live = [np.asarray(back[j + 1] > 0, dtype=bool)[moves.dst] for j, moves in enumerate(table.moves)]
    supported: dict[str, set[int]] = {}
    for j, unit in enumerate(table.units):
        for i, name in enumerate(unit.step.new_params):
            supported[name] = {int(v) for v in np.unique(unit.step.combos[table.moves[j].combo[live[j]], i])}
    found: list[InfeasiblePair] = []
    for jp, unit in enumerate(table.units):
        for ip, name in enumerate(unit.step.new_params):
            size = len(domains[name])
            moves = table.moves[jp]
            chosen = unit.step.combos[moves.combo[live[jp]], ip]
            marks = np.zeros((len(chosen), size), dtype=bool)
            marks[np.arange(len(chosen)), chosen] = True
            seen = [_together(marks, unit.step.combos[moves.combo[live[jp]], iq], len(domains[other]))
                    for iq, other in enumerate(unit.step.new_params) if iq > ip]
            later = list(unit.step.new_params[ip + 1:])
            reach = _pushed(marks, moves.dst[live[jp]], len(table.states[jp + 1]))
            for j in range(jp + 1, len(table.units)):
                moves, step = table.moves[j], table.units[j].step
                through = live[j] & reach[moves.src].any(axis=1)
                marks = reach[moves.src[through]]
                for i, other in enumerate(step.new_params):
                    seen.append(_together(marks, step.combos[moves.combo[through], i], len(domains[other])))
                    later.append(other)
                reach = _pushed(marks, moves.dst[through], len(table.states[j + 1]))
            for other, together in zip(later, seen):
                for a in sorted(supported[name]):
                    others = tuple(domains[other][b] for b in sorted(supported[other]) if not together[a, b])
                    others = tuple(v for v in others if v is not INACTIVE)
                    if domains[name][a] is not INACTIVE and others:
                        found.append(InfeasiblePair(name, domains[name][a], other, others,
                                                    len(others) / len(domains[other]) / len(domains[name])))
    return found


def _together(marks: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """``together[a, b]``: some row has mark ``a`` and value ``b``."""
    together = np.zeros((marks.shape[1], size), dtype=bool)
    for b in np.unique(values):
        together[:, int(b)] = marks[values == b].any(axis=0)
    return together


def _pushed(marks: np.ndarray, dst: np.ndarray, states: int) -> np.ndarray:
    """``reach[state, a]``: some row with mark ``a`` leads to the state."""
    reach = np.zeros((states, marks.shape[1]), dtype=bool)
    for a in np.flatnonzero(marks.any(axis=0)):
        reach[dst[marks[:, a]], a] = True
    return reach


def assignment_of_configuration(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The convsolve assignment of a configuration: its active values as plain Python values (ConfigSpace hands back
    NumPy scalars), so ``space.fixed(assignment)`` and the solver accept it."""
    return {name: value.item() if isinstance(value, np.generic) else value for name, value in dict(configuration).items()}


class ValidConfigurationSampler:
    """Configurations of the exported space drawn uniformly over the valid assignments: none is invalid.

    Parameters
    ----------
    space : Space
        The search space.
    configspace : ConfigSpace.ConfigurationSpace, optional
        The export to return configurations of (by default :func:`to_configspace` of ``space``); it must hold every
        parameter a valid assignment sets.
    seed : int
        Makes the sequence of draws reproducible.

    Each call of :meth:`sample_configuration` runs :func:`convsolve.ops.sample` once (it builds the space's table,
    a tenth to half a second on the shipped NAS spaces): draw many configurations per call where you can.

    Raises
    ------
    MissingExtraError
        When ConfigSpace is not installed.
    UsageError
        When no assignment of the space is valid.
    """

    def __init__(self, space: Space, configspace: Any = None, *, seed: int = 0) -> None:
        self._cs = import_configspace()
        self.space = space
        self.configspace = to_configspace(space) if configspace is None else configspace
        self._random = random.Random(seed)
        self._draws: ValidDraws | None = None

    def sample_configuration(self, size: int = 1) -> Any:
        """One ``Configuration`` (``size`` 1), or a list of ``size``, as ``ConfigurationSpace.sample_configuration`` returns."""
        if size < 1:
            raise UsageError(f"size must be >= 1, got {size}")
        drawn = ops.sample(self.space, size, seed=self._random.randrange(2**63))
        if not drawn:
            raise UsageError(f"no assignment of {self.space.name!r} is valid over {self.space.input.describe()}: there is nothing to draw")
        configurations = [self._cs.Configuration(self.configspace, values=assignment) for assignment in drawn]
        return configurations[0] if size == 1 else configurations

    def is_valid(self, configuration: Mapping[str, Any]) -> bool:
        """Whether a configuration (or an assignment) is a valid assignment of the space, constraints and targets included.

        A lookup per decision in the space's table (built on the first call), as :class:`ValidDraws` walks it.
        """
        assignment = assignment_of_configuration(configuration)
        if self._draws is None:
            self._draws = ValidDraws(self.space)
        if any(name not in self.space.params for name in assignment):
            return False
        try:
            drawn = self._draws.draw(lambda name, values: assignment.get(name, INACTIVE))
        except UsageError:
            return False
        return drawn == assignment
