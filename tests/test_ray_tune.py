"""Ray Tune integration: every suggestion is a valid assignment, uniform over them, reproducible, and survives save/restore.

All but one test call the searcher directly (``suggest`` / ``on_trial_complete``) and start no Ray
instance; ``test_a_real_tuner_runs_only_valid_trials`` runs one short ``Tuner.fit`` (about 20 s).
"""

from __future__ import annotations

import itertools
import json
import pickle
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ray_tune = pytest.importorskip("ray.tune", reason="needs ray[tune]: pip install -e '.[ray]'")

from convsolve import load_space  # noqa: E402 - after the skip: the module needs Ray
from convsolve.errors import MissingExtraError, UsageError  # noqa: E402
from convsolve.integrations.ray_tune import ValidSearcher, searcher_class, tune_config  # noqa: E402
from convsolve.space import Space  # noqa: E402
from small_spaces import SPACES, is_valid  # noqa: E402
from uniformity import assert_uniform  # noqa: E402

SHIPPED = Path(__file__).resolve().parent.parent / "configs" / "spaces"

CHOSEN_STRUCTURE = {  # an op choice, a depth and an input choice: inactive parameters in most assignments
    "input": {"channels": 2, "size": {"range": [5, 12]}},
    "layers": [
        {"name": "e1", "choose": {
            "conv": {"type": "conv2d", "out_channels": 4, "kernel": {"choice": [3, 5]}, "stride": {"choice": [1, 2]}},
            "pool": {"type": "max_pool2d", "kernel": 3, "stride": 2},
            "skip": {"type": "identity"}}},
        {"name": "stage", "repeat": {"choice": [0, 1, 2]}, "layers": [
            {"name": "conv", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 3, 5]}, "stride": {"choice": [1, 2]}}]},
        {"name": "head", "type": "conv2d", "out_channels": 4, "kernel": 1, "inputs": {"choice": ["e1", "stage"]}},
    ],
}


def chosen_structure() -> Space:
    return Space.from_config(json.loads(json.dumps(CHOSEN_STRUCTURE)))


def valid_active_assignments(space: Space) -> list[dict[str, Any]]:
    """Brute force: every assignment giving values to exactly the parameters in the network, kept when valid."""
    names = list(space.params)
    found = []
    for values in itertools.product(*(space.params[name].values + (None,) for name in names)):
        chosen = dict(zip(names, values))
        if all((value is None) != space.params[name].active(chosen) for name, value in chosen.items()):  # None exactly where inactive
            assignment = {name: value for name, value in chosen.items() if value is not None}
            if is_valid(space, assignment):
                found.append(assignment)
    return found


def key(assignment: dict[str, Any]) -> str:
    return json.dumps(assignment, sort_keys=True)


@pytest.mark.parametrize("name", ["chain", "residual", "transposed_concat"])
def test_suggestions_are_valid_on_small_spaces(name, brute_force):
    space = SPACES[name]()
    valid = {key(a) for a in brute_force(space)}
    searcher = ValidSearcher(space, seed=3)
    drawn = [searcher.suggest(f"t{i}") for i in range(200)]
    assert all(key(a) in valid for a in drawn)
    assert all(list(a) == list(space.params) for a in drawn)
    assert len({key(a) for a in drawn}) > min(50, len(valid) // 2)


def test_suggestions_are_valid_active_assignments_of_a_structural_space():
    space = chosen_structure()
    valid = {key(a) for a in valid_active_assignments(space)}
    searcher = ValidSearcher(space, seed=0)
    drawn = [searcher.suggest(str(i)) for i in range(300)]
    assert all(key(a) in valid for a in drawn)
    assert any("e1.conv.kernel" not in a for a in drawn) and any("e1.conv.kernel" in a for a in drawn)  # inactive: absent


@pytest.mark.parametrize("name", ["nas_bench_201", "unet_nas"])
def test_suggestions_are_valid_on_a_shipped_nas_space(name):
    space = load_space(SHIPPED / f"{name}.yaml")
    searcher = ValidSearcher(space, seed=5)
    for i in range(15):
        assignment = searcher.suggest(str(i))
        space.complete(assignment)  # exactly the active parameters have values, or this raises
        assert is_valid(space, assignment), assignment


def test_suggestions_are_uniform_chi_square():
    space = chosen_structure()
    valid = [key(a) for a in valid_active_assignments(space)]
    searcher = ValidSearcher(space, seed=7)
    assert_uniform([key(searcher.suggest(str(i))) for i in range(40 * len(valid))], valid)


def test_suggestions_are_reproducible_by_seed():
    space = SPACES["residual"]()
    first, again, other = ValidSearcher(space, seed=1), ValidSearcher(space, seed=1), ValidSearcher(space, seed=2)
    drawn = [first.suggest(str(i)) for i in range(20)]
    assert drawn == [again.suggest(str(i)) for i in range(20)]
    assert drawn != [other.suggest(str(i)) for i in range(20)]


def test_save_and_restore_continue_the_same_draws(tmp_path):
    space = SPACES["residual"]()
    searcher = ValidSearcher(space, metric="loss", mode="min", seed=4)
    for i in range(5):
        searcher.suggest(f"t{i}")
    searcher.on_trial_complete("t0", {"loss": 1.5})
    searcher.on_trial_complete("t1", error=True)
    path = str(tmp_path / "searcher.pkl")
    searcher.save(path)
    restored = ValidSearcher(space)
    restored.restore(path)
    assert (restored.metric, restored.mode, restored.seed) == ("loss", "min", 4)
    assert restored.suggested == searcher.suggested and restored.results == {"t0": {"loss": 1.5}, "t1": None}
    assert [restored.suggest(f"u{i}") for i in range(5)] == [searcher.suggest(f"u{i}") for i in range(5)]
    with pytest.raises(UsageError, match="another space"):
        ValidSearcher(SPACES["chain"]()).restore(path)


def test_the_searcher_pickles_with_its_space():
    """The Tuner pickles its search algorithm; the space's compiled expressions do not pickle, its config does."""
    searcher = ValidSearcher(chosen_structure(), seed=9)
    searcher.suggest("a")
    copy = pickle.loads(pickle.dumps(searcher))
    assert type(copy) is type(searcher) and copy.suggested == searcher.suggested
    assert copy.suggest("b") == searcher.suggest("b")


def test_param_space_with_search_domains_or_space_parameters_is_refused():
    space = SPACES["residual"]()
    searcher = ValidSearcher(space)
    with pytest.raises(UsageError, match=r"'opt/lr' is a Ray search domain"):
        searcher.set_search_properties("loss", "min", {"epochs": 2, "opt": {"lr": ray_tune.loguniform(1e-4, 1e-1)}})
    with pytest.raises(UsageError, match="'c1.kernel' is a parameter"):
        searcher.set_search_properties("loss", "min", {"c1.kernel": 3})
    assert searcher.set_search_properties("loss", "max", {"epochs": 2, "grid": {"grid_search_not": 1}})
    assert (searcher.metric, searcher.mode) == ("loss", "max")


def test_a_model_based_searcher_draws_valid_assignments_and_learns():
    optuna = pytest.importorskip("optuna", reason="needs optuna: pip install -e '.[optuna]'")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = chosen_structure()
    valid = {key(a) for a in valid_active_assignments(space)}
    searcher = ValidSearcher(space, metric="active", mode="min", sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    for i in range(30):
        assignment = searcher.suggest(str(i))
        assert key(assignment) in valid
        searcher.on_trial_complete(str(i), None if i == 3 else {"active": len(assignment)})
    states = Counter(trial.state.name for trial in searcher.study.trials)
    assert states == {"COMPLETE": 29, "FAIL": 1}
    first, last = (sum(len(searcher.suggested[str(i)]) for i in part) for part in (range(5), range(25, 30)))
    assert last <= first  # TPE moves toward fewer active parameters
    copy = pickle.loads(pickle.dumps(searcher))  # the study travels with it
    assert len(copy.study.trials) == 30 and key(copy.suggest("next")) in valid


def test_a_model_based_searcher_needs_a_metric():
    optuna = pytest.importorskip("optuna", reason="needs optuna: pip install -e '.[optuna]'")
    searcher = ValidSearcher(SPACES["chain"](), sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.raises(UsageError, match="metric and mode"):
        searcher.suggest("a")


def test_tune_config_gives_the_searcher_its_metric():
    config = tune_config(SPACES["chain"](), metric="loss", mode="min", num_samples=3)
    assert isinstance(config.search_alg, ValidSearcher) and config.search_alg.metric == "loss" and config.num_samples == 3


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray.tune.search", None)
    with pytest.raises(MissingExtraError, match=r"convsolve\[ray\]"):
        searcher_class.__wrapped__()


@pytest.mark.ray
def test_a_real_tuner_runs_only_valid_trials(tmp_path):
    import ray

    space = load_space(SHIPPED / "nas_bench_201.yaml")

    def report_length(config: dict[str, Any]) -> dict[str, Any]:  # nested: Ray's workers get it by value, not by importing this file
        return {"active": len(config)}

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        tuner = ray_tune.Tuner(report_length, tune_config=tune_config(space, metric="active", mode="min", num_samples=6, seed=1),
                               run_config=ray_tune.RunConfig(storage_path=str(tmp_path), verbose=0))
        grid = tuner.fit()
    finally:
        ray.shutdown()
    assert grid.num_errors == 0 and len(grid) == 6
    assert all(is_valid(space, result.config) for result in grid)
