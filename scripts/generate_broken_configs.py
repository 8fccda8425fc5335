"""Write a NAS-style results folder of network configs, many of them broken, for batch repair.

The layout is what a search leaves behind: ``<out>/study_<s>/trial_<t>/arch.yaml``. Each network is
a stem convolution, 2-4 stages of conv blocks (some with a residual shortcut and an ``add``), max
pools between stages, and a head (adaptive pool, flatten, linear), over an input range such as
32..224. Its kernels, strides and paddings are drawn the way a careless search space draws them,
so most configs fail somewhere in the range (a size collapses, or a shortcut disagrees with its
block); a few are valid, a few cannot be repaired (a flatten without an adaptive pool), and a few
are malformed (bad YAML, an unknown layer type), as real result folders have. Every file carries
comments, so a batch run can show they survive. Seeded: the same arguments give the same files.

Usage:
    python scripts/generate_broken_configs.py runs/ --count 10000 --seed 0
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path


def network(rng: random.Random, trial: int) -> str:
    """One config's text: a random CNN drawn from a deliberately loose space."""
    lo = rng.choice([16, 32, 64])
    hi = rng.choice([lo, 128, 224, 256])
    lines = [
        f"# trial {trial}: sampled by the search, not yet checked",
        f"name: trial_{trial}",
        f"input: {{channels: 3, size: {{range: [{lo}, {max(lo, hi)}]}}}}",
        "layers:",
        f"  - {{name: stem, type: conv2d, out_channels: 16, kernel: {rng.choice([3, 5, 7])}, "
        f"stride: {rng.choice([1, 2])}, padding: {rng.choice([0, 1, 3])}}}",
    ]
    previous = "stem"
    stages = rng.randint(2, 4)
    for stage in range(1, stages + 1):
        lines.append(f"  # stage {stage}")
        for block in range(1, rng.randint(1, 3) + 1):
            name = f"s{stage}b{block}"
            kernel = rng.choice([1, 3, 5, 7])
            stride = rng.choice([1, 1, 2])
            padding = rng.choice([0, kernel // 2, kernel // 2])
            lines.append(f"  - {{name: {name}_conv, type: conv2d, out_channels: 16, kernel: {kernel}, stride: {stride}, padding: {padding}}}")
            lines.append(f"  - {{name: {name}_relu, type: relu}}")
            if rng.random() < 0.4:
                short_stride = stride if rng.random() < 0.7 else 3 - stride
                lines.append(f"  - {{name: {name}_short, type: conv2d, out_channels: 16, kernel: 1, stride: {short_stride}, inputs: [{previous}]}}")
                lines.append(f"  - {{name: {name}_add, type: add, inputs: [{name}_relu, {name}_short]}}")
                previous = f"{name}_add"
            else:
                previous = f"{name}_relu"
        if stage < stages:
            lines.append(f"  - {{name: pool{stage}, type: max_pool2d, kernel: {rng.choice([2, 3])}, stride: 2}}")
            previous = f"pool{stage}"
    lines.append("  # head")
    if rng.random() < 0.95:
        lines.append("  - {name: gap, type: adaptive_avg_pool2d, output_size: 1}")
        features = 16
    else:
        features = 16 * 4 * 4  # no adaptive pool: only one input size can give this
    lines += ["  - {name: flatten, type: flatten}", f"  - {{name: fc, type: linear, in_features: {features}, out_features: 10}}"]
    return "\n".join(lines) + "\n"


def malformed(rng: random.Random, trial: int) -> str:
    """A config a crashed or buggy trial leaves: truncated YAML or an unknown layer type."""
    if rng.random() < 0.5:
        return f"# trial {trial}: the writer was killed\nname: trial_{trial}\nlayers:\n  - {{name: stem, type: conv2d, kern"
    return f"# trial {trial}\nname: trial_{trial}\ninput: {{channels: 3, size: 64}}\nlayers:\n  - {{name: stem, type: conv7x7, out_channels: 8}}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="Folder to write (created; existing files are left alone)")
    parser.add_argument("--count", type=int, default=1000, help="Number of configs")
    parser.add_argument("--trials-per-study", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    written = 0
    for trial in range(args.count):
        path = args.out / f"study_{trial // args.trials_per_study:03d}" / f"trial_{trial:05d}" / "arch.yaml"
        text = malformed(rng, trial) if rng.random() < 0.01 else network(rng, trial)  # drawn even when kept, so later trials stay the same
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written += 1
    print(f"wrote {written} configs under {args.out}")


if __name__ == "__main__":
    main()
