"""The shipped NAS spaces: each verb as a user runs it, and rejection sampling, the baseline, in the same run.

For every space of ``configs/spaces`` that chooses structure it prints

- the whole command's wall time (start-up, loading, solving, writing) of ``count``, ``enumerate -n 1``,
  ``sample -n 10000 -o FILE.parquet`` and ``prune``, each in a fresh process;
- the same verbs in-process (the issue's targets: count < 1 s, 10,000 samples < 1 s, prune < 0.5 s, the first
  valid assignment < 100 ms);
- rejection sampling, what a user without convsolve does: draw each parameter in the network uniformly (as
  ConfigSpace samples a conditional space), build the network, keep it when every layer is valid; its invalid
  rate and its time per valid architecture against convsolve's ``sample``.

Usage: ``python scripts/bench_nas.py [--draws 200] [--spaces nas_bench_201,darts_style]``
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from convsolve import load_space, ops  # noqa: E402
from convsolve.errors import InvalidAssignment  # noqa: E402
from convsolve.space import Space  # noqa: E402

SPACES = ["nas_bench_201", "darts_style", "ofa_mobilenetv3", "unet_nas"]


def wall(args: list[str]) -> float:
    """Seconds one convsolve command takes in a fresh process, as a user runs it."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "convsolve", *args], cwd=ROOT, check=False, capture_output=True)
    return time.perf_counter() - started


def timed(action: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def uniform_active(space: Space, rng: random.Random) -> dict[str, Any]:
    """Each parameter in the network drawn uniformly from its domain, in declaration order (gates come first)."""
    chosen: dict[str, Any] = {}
    for name, param in space.params.items():
        chosen[name] = rng.choice(param.values) if param.active(chosen) else None
    return {name: value for name, value in chosen.items() if value is not None}


def valid(space: Space, assignment: dict[str, Any]) -> bool:
    try:
        network = space.fixed(assignment)
    except InvalidAssignment:
        return False
    result = network.infer()
    return not result.static and bool(result.valid_mask().all())


def rejection(space: Space, wanted: int, seed: int, budget: float) -> tuple[int, int, float]:
    """(valid found, tries, seconds) drawing until ``wanted`` valid ones or ``budget`` seconds."""
    rng = random.Random(seed)
    found = tries = 0
    started = time.perf_counter()
    while found < wanted and time.perf_counter() - started < budget:
        tries += 1
        found += valid(space, uniform_active(space, rng))
    return found, tries, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200, help="valid architectures the rejection baseline looks for")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds the baseline may spend per space")
    parser.add_argument("--spaces", default=",".join(SPACES))
    options = parser.parse_args()
    rows = []
    for name in options.spaces.split(","):
        path = f"configs/spaces/{name}.yaml"
        space = load_space(ROOT / path)
        counted, count_s = timed(lambda: ops.count(space))  # noqa: B023 (each is called at once, in this iteration)
        _, first_s = timed(lambda: next(iter(ops.enumerate_assignments(space, limit=1))))  # noqa: B023
        _, sample_s = timed(lambda: ops.sample(space, 10_000, seed=0))  # noqa: B023
        _, prune_s = timed(lambda: ops.prune(space))  # noqa: B023
        with tempfile.TemporaryDirectory() as folder:
            commands = {
                "count": wall(["count", path]),
                "enumerate -n 1": wall(["enumerate", path, "-n", "1"]),
                "sample 10k -o parquet": wall(["sample", path, "-n", "10000", "-o", f"{folder}/rows.parquet"]),
                "prune": wall(["prune", path]),
            }
        drawn, ours_s = timed(lambda: ops.sample(space, options.draws, seed=1))  # noqa: B023
        found, tries, theirs_s = rejection(space, options.draws, 1, options.budget)
        invalid = 1 - found / tries if tries else 0.0
        per_theirs = theirs_s / found if found else float("inf")
        per_ours = ours_s / len(drawn)
        rows.append((name, counted, count_s, first_s, sample_s, prune_s, commands, invalid, tries, found, per_theirs, per_ours))
        print(f"\n== {name}: {counted}")
        print(f"  in-process: count {count_s:.3f} s, first valid {first_s * 1000:.0f} ms, 10,000 samples {sample_s:.3f} s, "
              f"prune {prune_s:.3f} s")
        print("  whole command (fresh process): " + ", ".join(f"{k} {v:.2f} s" for k, v in commands.items()))
        print(f"  rejection sampling: {invalid:.1%} of {tries:,} uniform draws invalid ({found} valid in {theirs_s:.1f} s, "
              f"{per_theirs * 1000:.1f} ms per valid one); convsolve sample: 0 invalid, {per_ours * 1000:.3f} ms each "
              f"({per_theirs / per_ours:,.0f}x)")
    print("\n| space | count (s) | first valid (ms) | 10k samples (s) | prune (s) | `count` command (s) | "
          "rejection: invalid | rejection ms / valid | convsolve ms / valid |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, _, count_s, first_s, sample_s, prune_s, commands, invalid, _, _, per_theirs, per_ours in rows:
        print(f"| {name} | {count_s:.3f} | {first_s * 1000:.0f} | {sample_s:.3f} | {prune_s:.3f} | {commands['count']:.2f} | "
              f"{invalid:.1%} | {per_theirs * 1000:.1f} | {per_ours * 1000:.3f} |")


if __name__ == "__main__":
    main()
