"""Optuna: draw only valid architectures, parameter by parameter, inside a define-by-run objective.

    study.optimize(objective(space, train), n_trials=100)      # train(assignment) -> score

How it stays valid: the space's dynamic programme (:class:`convsolve.solve.table.Table`, built once
per space, with the backward counts of :class:`convsolve.solve.ranking.Ranking`) knows, after any
prefix of decisions taken in its order, which values of the next parameter still admit a valid
completion over the whole input range, constraints and targets included. :func:`suggest_valid`
walks the decisions in that order and offers the trial only those values, so no trial is ever
invalid and none is wasted. Each step is a lookup in the table (microseconds), where
:func:`convsolve.ops.suggest` with the partial assignment would rebuild the table every time.

Parameter names: Optuna refuses a categorical parameter whose choices change between trials
("CategoricalDistribution does not support dynamic value space"). A parameter whose whole domain is
still open is suggested under its own name (``conv1.kernel``), so every sampler pools what it
learns about it across trials; one whose choices earlier decisions narrowed is suggested under a
name that lists them (``conv1.kernel|3,5``), which Optuna treats as a conditional parameter, as in
any define-by-run space. A parameter left with a single possible value is not suggested at all.
(The alternatives were worse: a float in [0, 1) mapped onto the allowed values changes meaning from
trial to trial, and a full-domain categorical projected onto an allowed value records a value that
was not evaluated, so ``best_params`` could name an invalid architecture.) The assignment itself (every parameter, by its own name) is stored in the
trial's ``user_attrs["assignment"]``: read it with :func:`assignment_of`.

Example:
    >>> import optuna                                             # doctest: +SKIP
    >>> from convsolve import load_space
    >>> space = load_space("configs/spaces/resnet_space.yaml")    # doctest: +SKIP
    >>> study = optuna.create_study()                             # doctest: +SKIP
    >>> study.optimize(objective(space, lambda a: a["conv1.kernel"]), n_trials=20)   # doctest: +SKIP
    >>> assignment_of(study.best_trial)                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import MissingExtraError, UsageError
from ..space import INACTIVE, Space, load_space

__all__ = ["ASSIGNMENT_ATTR", "ValidDraws", "assignment_of", "import_optuna", "objective", "suggest_valid"]

ASSIGNMENT_ATTR = "assignment"
"""The trial user attribute holding the drawn assignment."""

Chooser = Callable[[str, tuple[Any, ...]], Any]
"""Picks one of the still-possible values of a parameter: ``choose(name, values) -> value``."""


def import_optuna() -> ModuleType:
    """The optuna package, or MissingExtraError naming the ``optuna`` extra."""
    try:
        import optuna
    except ImportError:
        raise MissingExtraError("optuna", "optuna") from None
    return optuna


class ValidDraws:
    """Valid assignments of a space drawn one decision at a time, by any chooser (Optuna's, or your own).

    Parameters
    ----------
    space : Space
        The search space (validity over its whole input range, constraints and targets included).

    Raises
    ------
    UsageError
        When no assignment of the space is valid.

    Example
    -------
    >>> space = Space.from_config({"input": {"channels": 1, "size": {"range": [4, 9]}}, "layers": [
    ...     {"name": "c", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [1, 3, 5]}, "stride": {"choice": [1, 2]}},
    ...     {"name": "p", "type": "max_pool2d", "kernel": {"choice": [1, 2, 4]}}]})
    >>> draws = ValidDraws(space)
    >>> offered = []
    >>> draws.draw(lambda name, values: offered.append((name, values)) or values[-1])   # always the largest
    {'c.kernel': 3, 'c.stride': 2, 'p.kernel': 1}
    >>> offered      # kernel 5 does not fit input 4; after kernel 3, stride 2 leaves 1 pixel at input 4: pool kernel 1 only
    [('c.kernel', (1, 3)), ('c.stride', (1, 2)), ('p.kernel', (1,))]
    """

    def __init__(self, space: Space) -> None:
        from ..solve.plan import make_plan
        from ..solve.ranking import Ranking
        from ..solve.table import Table

        self.space = space
        self.table = Table(make_plan(space), space)
        self.ranking = Ranking(self.table)
        if self.ranking.total == 0:
            raise UsageError(f"no assignment of {space.name!r} is valid over {space.input.describe()}: there is nothing to draw")

    @property
    def total(self) -> int:
        """The number of valid assignments."""
        return self.ranking.total

    def draw(self, choose: Chooser) -> dict[str, Any]:
        """One valid assignment: at each decision ``choose(name, values)`` picks among the values still possible.

        ``values`` keeps the domain's order and always admits a valid completion; the result lists every
        parameter in the space's order.
        """
        domains = self.table.plan.domains
        state = 0
        chosen: dict[str, Any] = {}
        for unit, moves in zip(self.table.units, self.ranking.moves):
            begin = int(moves.start[state])
            end = begin + int(moves.length[state])
            rows = unit.step.combos[moves.combo[begin:end]]
            keep = np.ones(len(rows), dtype=bool)
            for column, name in enumerate(unit.step.new_params):
                indices = np.unique(rows[keep, column])
                values = tuple(domains[name][int(i)] for i in indices)
                value = choose(name, values)
                position = next((i for i, v in enumerate(values) if v == value and type(v) is type(value)), None)
                if position is None:
                    raise UsageError(f"{name}={value!r} was chosen, but only {list(values)} admit a valid completion")
                keep &= rows[:, column] == indices[position]
                chosen[name] = value
            state = int(moves.dst[begin + int(np.flatnonzero(keep)[0])])
        return {name: chosen[name] for name in self.space.params if chosen[name] is not INACTIVE}


def _label(name: str, values: tuple[Any, ...], full: tuple[Any, ...]) -> str:
    if values == full:
        return name
    shown = ",".join(("true" if v else "false") if isinstance(v, bool) else str(v) for v in values)
    return f"{name}|{shown}"


def suggest_valid(trial: Any, space: Space, *, draws: ValidDraws | None = None) -> dict[str, Any]:
    """Draw a valid assignment of ``space`` through ``trial.suggest_categorical``, one parameter at a time.

    Parameters
    ----------
    trial : optuna.Trial
        The trial of a define-by-run objective.
    space : Space
        The search space.
    draws : ValidDraws, optional
        The space's prepared table; pass one built once to avoid rebuilding it every trial.

    Returns
    -------
    dict
        A value for every parameter; also stored as ``trial.user_attrs["assignment"]``. Parameter names
        seen by Optuna follow the module docstring.

    Raises
    ------
    MissingExtraError
        When optuna is not installed.
    """
    import_optuna()
    draws = draws or ValidDraws(space)

    def choose(name: str, values: tuple[Any, ...]) -> Any:
        full = space.params[name].values
        if len(values) == 1 and len(full) > 1:
            return values[0]
        return trial.suggest_categorical(_label(name, values, full), list(values))

    assignment = draws.draw(choose)
    trial.set_user_attr(ASSIGNMENT_ATTR, assignment)
    return assignment


def objective(space: Space | str | Path, train: Callable[[dict[str, Any]], Any]) -> Callable[[Any], Any]:
    """An Optuna objective that evaluates ``train(assignment)`` on valid assignments only.

    Parameters
    ----------
    space : Space, or a path to a search-space config
        The search space; its table is built once, here.
    train : callable
        Given an assignment (parameter name -> value), returns the objective value(s). Build the
        network with ``space.fixed(assignment)``, or the config with ``space.to_config(assignment=assignment)``.

    Returns
    -------
    callable
        ``objective(trial)`` for ``study.optimize``.

    Raises
    ------
    MissingExtraError
        When optuna is not installed.
    UsageError
        When no assignment of the space is valid.
    """
    import_optuna()
    if not isinstance(space, Space):
        space = load_space(space)
    draws = ValidDraws(space)

    def run(trial: Any) -> Any:
        return train(suggest_valid(trial, space, draws=draws))

    return run


def assignment_of(trial: Any) -> dict[str, Any]:
    """The assignment a trial evaluated (every parameter by its own name), from its user attributes."""
    attrs: Mapping[str, Any] = trial.user_attrs
    if ASSIGNMENT_ATTR not in attrs:
        raise UsageError(f"trial {getattr(trial, 'number', '?')} has no {ASSIGNMENT_ATTR!r} attribute: was it drawn by suggest_valid?")
    return dict(attrs[ASSIGNMENT_ATTR])
