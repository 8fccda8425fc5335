"""How many of Ray Tune's trials are invalid architectures: its own random search over the naive space against ValidSearcher.

On each shipped NAS space, in one run:

- **naive**: what a user writes today: ``param_space = {name: tune.choice(domain)}`` for every parameter of the
  space, conditionals ignored (a value is drawn for an op's fields even when another op is chosen), searched by
  Ray Tune's own random search (``BasicVariantGenerator``, the Tuner's default);
- **ValidSearcher**: :class:`convsolve.integrations.ray_tune.ValidSearcher` (inside Ray's ``SearchGenerator``).

Both search algorithms are driven exactly as the Tuner drives them (``next_trial()`` until ``num_samples``
trials), without starting Ray or training anything: each trial's config is checked here. A trial is invalid when
its architecture is: the parameters out of the network under it are dropped (as ``Space.complete`` decides:
a field of an op not chosen, a copy beyond the depth), then the constraints, ``space.fixed(assignment)`` and
range-wide inference must all pass (``scripts/brute_force_count.py``'s ``is_valid``); an assignment that is not
even structurally consistent counts as invalid. With ``--tuner N``, both also run ``N`` trials of a real
``tune.Tuner(...).fit()`` whose trainable does the same check.

Usage:
    python scripts/ray_tune_invalid_rate.py [--trials 1000] [--seed 0] [--tuner 0] [--spaces nas_bench_201,darts_style]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:
    import ray
    from ray import tune
    from ray.tune.experiment import Experiment
    from ray.tune.search import BasicVariantGenerator, SearchAlgorithm, SearchGenerator
except ImportError:
    sys.exit("scripts/ray_tune_invalid_rate.py runs Ray Tune: pip install 'convsolve[ray]'")

from convsolve import load_space  # noqa: E402
from convsolve.errors import ConvsolveError  # noqa: E402
from convsolve.integrations.ray_tune import ValidSearcher  # noqa: E402
from convsolve.space import Space  # noqa: E402

from brute_force_count import is_valid  # noqa: E402 - scripts/, beside this file

SPACES = ["nas_bench_201", "darts_style", "ofa_mobilenetv3", "unet_nas"]


def in_network(space: Space, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without the parameters that are out of the network under it (declaration order: gates come first)."""
    values: dict[str, Any] = {}
    for name, param in space.params.items():
        values[name] = config[name] if param.active(values) else None
    return {name: value for name, value in values.items() if value is not None}


def valid_trial(space: Space, config: dict[str, Any]) -> bool:
    """Whether a trial's config (a value for every parameter, or only for those in the network) is a valid architecture."""
    try:
        return is_valid(space, in_network(space, {name: config.get(name) for name in space.params}))
    except ConvsolveError:  # not even structurally consistent
        return False


def naive_param_space(space: Space) -> dict[str, Any]:
    """Every parameter as ``tune.choice`` of its domain: what one writes without convsolve."""
    return {name: tune.choice(list(param.values)) for name, param in space.params.items()}


def trial_configs(search: SearchAlgorithm, param_space: dict[str, Any], trials: int, folder: str) -> Iterator[dict[str, Any]]:
    """The configs of the trials ``search`` creates, as the Tuner asks for them (no trial is run)."""
    search.add_configurations([Experiment("count", lambda config: None, config=param_space, num_samples=trials, storage_path=folder)])
    while (trial := search.next_trial()) is not None:
        yield trial.config


def driven(space: Space, trials: int, seed: int, ours: bool, folder: str) -> tuple[int, float]:
    """(invalid trials, seconds) of one search algorithm over ``trials`` trials."""
    started = time.perf_counter()
    if ours:
        search: SearchAlgorithm = SearchGenerator(ValidSearcher(space, seed=seed))
        param_space: dict[str, Any] = {}
    else:
        search, param_space = BasicVariantGenerator(random_state=seed), naive_param_space(space)
    invalid = sum(not valid_trial(space, config) for config in trial_configs(search, param_space, trials, folder))
    return invalid, time.perf_counter() - started


def tuned(space: Space, path: Path, trials: int, seed: int, ours: bool, folder: str) -> int:
    """Invalid trials of a real ``Tuner.fit()`` whose trainable checks its own config."""
    source = str(path)

    def check(config: dict[str, Any]) -> dict[str, Any]:  # pickled by value; the space does not pickle, its path does
        return {"valid": valid_trial(load_space(source), config)}

    if ours:
        config = tune.TuneConfig(search_alg=ValidSearcher(space, seed=seed), num_samples=trials)
        param_space: dict[str, Any] = {}
    else:
        config = tune.TuneConfig(search_alg=BasicVariantGenerator(random_state=seed), num_samples=trials)
        param_space = naive_param_space(space)
    grid = tune.Tuner(check, param_space=param_space, tune_config=config,
                      run_config=tune.RunConfig(storage_path=folder, verbose=0)).fit()
    assert grid.num_errors == 0
    return sum(not result.metrics["valid"] for result in grid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="trials per search algorithm and space")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tuner", type=int, default=0, metavar="N", help="also run N trials of a real Tuner.fit() per row")
    parser.add_argument("--spaces", default=",".join(SPACES))
    options = parser.parse_args()
    if options.tuner:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    print(f"Ray {ray.__version__}; {options.trials} trials per search algorithm and space, seed {options.seed}"
          + (f"; real Tuner.fit(): {options.tuner} trials" if options.tuner else ""))
    print()
    extra = " Tuner.fit invalid |" if options.tuner else ""
    print(f"| space | parameters | search | trials | invalid trials | invalid rate | time |{extra}")
    print(f"|---|---:|---|---:|---:|---:|---:|{'---:|' if options.tuner else ''}")
    with tempfile.TemporaryDirectory() as folder:
        for name in options.spaces.split(","):
            path = ROOT / "configs" / "spaces" / f"{name}.yaml"
            space = load_space(path)
            for ours in (False, True):
                invalid, seconds = driven(space, options.trials, options.seed, ours, folder)
                search = "ValidSearcher" if ours else "random search, naive tune.choice"
                row = f"| {name} | {len(space.params)} | {search} | {options.trials} | {invalid} | {invalid / options.trials:.1%} | {seconds:.1f} s |"
                if options.tuner:
                    row += f" {tuned(space, path, options.tuner, options.seed, ours, folder)} of {options.tuner} |"
                print(row, flush=True)
    if options.tuner:
        ray.shutdown()
    print()
    print("Time: creating the trials and checking each architecture over the space's input range (no training).")


if __name__ == "__main__":
    main()
