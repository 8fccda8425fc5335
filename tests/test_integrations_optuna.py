"""Optuna integration: every trial's assignment is valid, and the values offered are exactly those with a valid completion."""

from __future__ import annotations

import itertools
import random
import sys
from pathlib import Path

import pytest

from convsolve import load_space
from convsolve.errors import MissingExtraError, UsageError
from convsolve.integrations.optuna import (
    ValidDraws,
    assignment_of,
    objective,
    suggest_valid,
)
from convsolve.space import Space
from extras import needs
from small_spaces import is_valid

SPACES = Path(__file__).resolve().parent.parent / "configs" / "spaces"


def small_space() -> Space:
    """Small enough to enumerate: a strided conv, a pool and a skip that must agree, over input 10..17."""
    return Space.from_config({
        "input": {"channels": 2, "size": {"range": [10, 17]}},
        "layers": [
            {"name": "c1", "type": "conv2d", "out_channels": 2, "kernel": {"choice": [1, 3, 5]}, "stride": {"choice": [1, 2]},
             "padding": {"choice": [0, 1, 2]}},
            {"name": "p1", "type": "max_pool2d", "kernel": {"choice": [1, 2, 3]}, "stride": 1, "ceil_mode": {"choice": [False, True]}},
            {"name": "c2", "type": "conv2d", "out_channels": 2, "kernel": {"choice": [1, 3]}, "padding": {"choice": [0, 1]}, "inputs": ["c1"]},
            {"name": "join", "type": "add", "inputs": ["p1", "c2"]},
        ],
        "constraints": ["c1.padding <= c1.kernel // 2"],
    })


def test_offered_values_are_exactly_those_with_a_valid_completion():
    space = small_space()
    names = list(space.params)
    valid = [a for a in (dict(zip(names, values)) for values in itertools.product(*(space.params[n].values for n in names)))
             if is_valid(space, a)]
    assert 0 < len(valid) < space.total
    draws = ValidDraws(space)
    assert draws.total == len(valid)
    rng = random.Random(0)
    seen = []
    for _ in range(60):
        prefix: dict = {}

        def choose(name, values, prefix=prefix):
            completions = [a for a in valid if all(a[k] == v for k, v in prefix.items())]
            assert values == tuple(v for v in space.params[name].values if any(a[name] == v for a in completions)), (prefix, name)
            prefix[name] = rng.choice(values)
            return prefix[name]

        drawn = draws.draw(choose)
        assert drawn in valid and list(drawn) == names
        seen.append(drawn)
    assert len({tuple(a.values()) for a in seen}) > 10


def test_choosing_a_value_that_was_not_offered_is_refused():
    draws = ValidDraws(small_space())
    with pytest.raises(UsageError, match="admit a valid completion"):
        draws.draw(lambda name, values: 99)


def test_a_space_without_valid_assignments_is_refused():
    space = Space.from_config({"input": {"channels": 1, "size": 4}, "layers": [
        {"name": "c", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [5, 7]}}]})
    with pytest.raises(UsageError, match="no assignment"):
        ValidDraws(space)


try:
    import optuna
except ImportError:
    optuna = None
needs_optuna = needs("optuna")


@pytest.fixture(autouse=True)
def quiet_optuna():
    if optuna is not None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.optuna
@needs_optuna
@pytest.mark.parametrize("space_file", ["resnet_space.yaml", "unet_space.yaml"])
@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_no_trial_is_ever_invalid(space_file, sampler):
    space = load_space(SPACES / space_file)
    chosen = {"tpe": optuna.samplers.TPESampler(seed=1, n_startup_trials=5), "random": optuna.samplers.RandomSampler(seed=1)}[sampler]
    study = optuna.create_study(sampler=chosen)
    study.optimize(objective(space, lambda a: float(sum(v for v in a.values() if not isinstance(v, bool)))), n_trials=25)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 25
    for trial in study.trials:
        assignment = assignment_of(trial)
        assert list(assignment) == list(space.params)
        assert is_valid(space, assignment), trial.number
        for label, value in trial.params.items():  # every suggestion is the assignment's value, under its name
            assert assignment[label.split("|")[0]] == value


@pytest.mark.optuna
@needs_optuna
@pytest.mark.parametrize("space_file", ["nas_bench_201.yaml", "unet_nas.yaml"])
def test_no_trial_of_a_nas_space_is_ever_invalid(space_file):
    """Ops, depths and the input size chosen: parameters out of the network are never suggested."""
    space = load_space(SPACES / space_file)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=2, n_startup_trials=5))
    study.optimize(objective(space, lambda a: float(len(a))), n_trials=20)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 20
    for trial in study.trials:
        assignment = assignment_of(trial)
        assert is_valid(space, assignment), trial.number
        assert space.complete(assignment)  # exactly the parameters in the network have values
        assert {label.split("|")[0] for label in trial.params} <= set(assignment)


@pytest.mark.optuna
@needs_optuna
def test_parameter_names_keep_their_choices_across_trials():
    """Optuna refuses a categorical whose choices change; narrowed choices get a name of their own."""
    space = small_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda trial: float(len(suggest_valid(trial, space))), n_trials=40)
    choices: dict[str, tuple] = {}
    for trial in study.trials:
        for label, distribution in trial.distributions.items():
            assert choices.setdefault(label, distribution.choices) == distribution.choices
            name = label.split("|")[0]
            if "|" not in label:
                assert distribution.choices == space.params[name].values
            else:
                assert set(distribution.choices) < set(space.params[name].values)
    assert any("|" in label for label in choices) and any("|" not in label for label in choices)


@pytest.mark.optuna
@needs_optuna
def test_naive_suggestions_over_the_same_space_do_produce_invalid_trials():
    """The comparison the example script prints: full domains give invalid trials in this space."""
    space = load_space(SPACES / "resnet_space.yaml")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))

    def naive(trial):
        assignment = {name: trial.suggest_categorical(name, list(p.values)) for name, p in space.params.items()}
        if not is_valid(space, assignment):
            raise optuna.TrialPruned()
        return 0.0

    study.optimize(naive, n_trials=30)
    assert sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials) > 10


def test_missing_optuna_is_a_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(MissingExtraError, match=r"convsolve\[optuna\]"):
        objective(small_space(), lambda a: 0.0)
