"""A short Optuna study over a search space: convsolve's valid draws against naive suggestions.

Both studies of a space use the same sampler (TPE, same seed) and the same toy objective, with no
training: minimise the network's multiply-accumulates (GMACs) at the largest input size of the
space's range. The naive study suggests every parameter from its full domain, as one writes it in
Optuna, and prunes the trial when the assignment is invalid — a layer refused at some input size of
the range, a constraint or a size target not met, checked with ``space.fixed(a).check()``. The guided
study draws through :func:`convsolve.integrations.optuna.suggest_valid`, which offers only values that
still admit a valid completion; every one of its trials is checked the same way.

Usage:
    python scripts/nas_optuna_example.py [--trials 100] [--seed 0] [SPACE ...]
    (default spaces: resnet_space, unet_space and the NAS spaces nas_bench_201, darts_style, unet_nas of configs/spaces)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

try:
    import optuna
except ImportError:
    sys.exit("scripts/nas_optuna_example.py runs Optuna: pip install 'convsolve[optuna]'")

from convsolve import Network, load_space  # noqa: E402
from convsolve.integrations.optuna import ValidDraws, assignment_of, suggest_valid  # noqa: E402
from convsolve.layers import Conv, ConvTranspose, Linear  # noqa: E402
from convsolve.space import Space  # noqa: E402

from brute_force_count import is_valid  # noqa: E402 - scripts/, beside this file

DEFAULT_SPACES = ["configs/spaces/resnet_space.yaml", "configs/spaces/unet_space.yaml", "configs/spaces/nas_bench_201.yaml",
                  "configs/spaces/darts_style.yaml", "configs/spaces/unet_nas.yaml"]


def gmacs(network: Network, size: int) -> float:
    """Multiply-accumulates of the convolutions and linear layers at a square input of ``size``, in billions."""
    rows = {row.node: row for row in network.shapes([size] * network.ndim)}
    total = 0
    for node in network.order[1:]:
        layer, shape = network.layer(node), rows[node].shape
        source = rows[network.inputs_of(node)[0]].shape
        if shape is None or source is None:
            continue
        if isinstance(layer, ConvTranspose):
            total += math.prod(source) * (shape[0] // layer.groups) * math.prod(layer.kernel)
        elif isinstance(layer, Conv) and layer.out_channels:
            total += math.prod(shape) * (source[0] // layer.groups) * math.prod(layer.kernel)
        elif isinstance(layer, Linear):
            total += source[-1] * layer.out_features
    return total / 1e9


def run_study(space: Space, trials: int, seed: int, guided: bool) -> dict[str, Any]:
    size = max(r.hi for r in space.input.ranges)  # (a space choosing its input size: the largest it may choose)
    draws = None
    began = time.perf_counter()
    if guided:
        draws = ValidDraws(space)
    prepared = time.perf_counter() - began
    invalid_guided = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal invalid_guided
        if guided:
            assignment = suggest_valid(trial, space, draws=draws)
            if not is_valid(space, assignment):  # never happens: counted to show it
                invalid_guided += 1
                raise optuna.TrialPruned()
        else:  # every parameter in the network, from its full domain (an op's or a copy's only when it is there)
            assignment = {}
            for name, param in space.params.items():
                if param.active(assignment | {n: None for n in space.params if n not in assignment}):
                    assignment[name] = trial.suggest_categorical(name, list(param.values))
            trial.set_user_attr("assignment", assignment)
            if not is_valid(space, assignment):
                raise optuna.TrialPruned()
        network = space.fixed(assignment)
        return gmacs(network, max(r.hi for r in network.input.ranges) if "input.size" in assignment else size)

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    elapsed = time.perf_counter() - began
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = min(complete, key=lambda t: t.value) if complete else None
    if guided:
        assert invalid_guided == 0 and all(is_valid(space, assignment_of(t)) for t in study.trials)
    return {
        "study": "convsolve suggest_valid" if guided else "naive (full domains)", "trials": len(study.trials),
        "invalid": pruned, "best": None if best is None else best.value, "seconds": elapsed, "prepared": prepared,
        "size": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spaces", nargs="*", default=DEFAULT_SPACES)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"Optuna {optuna.__version__}, TPE sampler (seed {args.seed}), {args.trials} trials per study; "
          "objective: GMACs at the largest input size (minimise)")
    print()
    print("| space | valid share | study | trials | invalid trials | invalid rate | best GMACs | time |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for path in args.spaces:
        space = load_space(ROOT / path if not Path(path).is_absolute() else path)
        share = ValidDraws(space).total / space.total
        for guided in (False, True):
            result = run_study(space, args.trials, args.seed, guided)
            best = "-" if result["best"] is None else f"{result['best']:.3f}"
            seconds = f"{result['seconds']:.1f} s" + (f" (table {result['prepared'] * 1000:.0f} ms)" if guided else "")
            print(f"| {space.name} at {result['size']} | {share:.3g} | {result['study']} | {result['trials']} | {result['invalid']} | "
                  f"{result['invalid'] / result['trials']:.0%} | {best} | {seconds} |")
    print()
    print("Every guided trial was re-checked: the constraints, every layer at every input size of the range, and the size targets.")


if __name__ == "__main__":
    main()
