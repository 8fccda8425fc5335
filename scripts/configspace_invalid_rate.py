"""How many of ConfigSpace's own samples of an exported space are invalid, against convsolve's sampler, in one run.

For every space of ``configs/spaces`` it exports the space (:mod:`convsolve.integrations.configspace`) and draws
``--draws`` configurations four ways:

- ``raw``: ConfigSpace's ``sample_configuration`` on the export with the domains as written, no forbidden clauses;
- ``pruned``: the same on the export with the pruned domains (``export-space --no-forbid``);
- ``forbidden``: the same with the pruned domains and the forbidden value pairs (``export-space``, the default);
- ``convsolve``: :class:`~convsolve.integrations.configspace.ValidConfigurationSampler` (uniform over the valid ones).

A configuration is invalid when the space's table (constraints, targets and the whole input range included) has no
path through its values: :meth:`ValidConfigurationSampler.is_valid`, a lookup per decision. Every sample convsolve
draws is also checked with range-wide inference on the fixed network (``space.fixed(a).infer()``).

Usage: ``python scripts/configspace_invalid_rate.py [--draws 1000] [--seed 0] [--spaces unet_nas,darts_style]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from convsolve import load_space  # noqa: E402
from convsolve.integrations.configspace import (  # noqa: E402
    ValidConfigurationSampler,
    assignment_of_configuration,
    export_configspace,
)

SPACES = ["nas_bench_201", "darts_style", "ofa_mobilenetv3", "unet_nas", "resnet_space", "mobilenetv2_nas", "unet_space"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000, help="configurations drawn per space and sampler")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spaces", default=",".join(SPACES), help="names of configs/spaces/*.yaml, comma-separated")
    args = parser.parse_args()
    print(f"invalid share of {args.draws} configurations per sampler (ConfigSpace's sample_configuration on the export, and convsolve's)")
    print(f"{'space':<17} {'params':>6} {'cond':>5} {'clauses':>7} {'raw':>7} {'pruned':>7} {'forbidden':>9} {'convsolve':>9} {'export s':>8}")
    for name in args.spaces.split(","):
        space = load_space(ROOT / "configs" / "spaces" / f"{name}.yaml")
        started = time.perf_counter()
        exported = export_configspace(space)
        seconds = time.perf_counter() - started
        sampler = ValidConfigurationSampler(space, exported.configspace, seed=args.seed)
        rates = []
        for configspace in (export_configspace(space, prune=False, forbid=False).configspace,
                            export_configspace(space, forbid=False).configspace, exported.configspace):
            configspace.seed(args.seed)
            drawn = configspace.sample_configuration(args.draws)
            rates.append(sum(not sampler.is_valid(c) for c in drawn) / args.draws)
        drawn = sampler.sample_configuration(args.draws)
        invalid = sum(not sampler.is_valid(c) or not space.fixed(assignment_of_configuration(c)).infer().valid_mask().all() for c in drawn)
        rates.append(invalid / args.draws)
        shown = [f"{rate:.1%}" for rate in rates]
        print(f"{name:<17} {len(exported.configspace):>6} {exported.conditions:>5} {exported.forbidden:>7} {shown[0]:>7} {shown[1]:>7} "
              f"{shown[2]:>9} {shown[3]:>9} {seconds:>8.2f}")


if __name__ == "__main__":
    main()
