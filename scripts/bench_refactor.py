"""A/B of the solver's operations between two source trees of convsolve, in one run: ``bench_refactor.py OLD_TREE``.

A refactoring must keep the solver's speed. This times the operations of ``bench_solver.py``'s
convsolve rows (count, sample, first solution, enumeration, prune, suggest) with the code of this
checkout (B) and of ``OLD_TREE`` (A, e.g. a ``git worktree`` of the commit before), each in a fresh
subprocess per round so that neither warms the other's caches, rounds alternating A, B, A, B, ...
It prints the best CPU time of each side and the ratio B / A (below 1: B is faster).

Example:
    git worktree add /tmp/before HEAD~5
    python scripts/bench_refactor.py /tmp/before --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

OPERATIONS = {
    "count res-100": "ops.count(load_space('configs/bench/res-100.yaml'))",
    "sample 10,000 of res-100": "ops.sample(load_space('configs/bench/res-100.yaml'), 10_000, seed=1)",
    "count chain-1000": "ops.count(load_space('configs/bench/chain-1000.yaml'))",
    "count chain-100": "ops.count(load_space('configs/bench/chain-100.yaml'))",
    "first solution chain-1000": "next(ops.enumerate_assignments(load_space('configs/bench/chain-1000.yaml'), limit=1))",
    "first solution res-100": "next(ops.enumerate_assignments(load_space('configs/bench/res-100.yaml'), limit=1))",
    "first solution unet_space": "next(ops.enumerate_assignments(load_space('configs/spaces/unet_space.yaml'), limit=1))",
    "enumerate 1,000,000 of res-12": "sum(len(b) for b in ops.enumerate_blocks(load_space('configs/bench/res-12.yaml'), limit=1_000_000))",
    "prune mobilenetv2_nas": "ops.prune(load_space('configs/spaces/mobilenetv2_nas.yaml'))",
    "suggest mobilenetv2_nas": "ops.suggest(load_space('configs/spaces/mobilenetv2_nas.yaml'), {'block2_dw.stride': 2})",
}
"""Operation name -> the Python expression timed (its loading is timed apart and left out)."""

TIMER = """
import json, resource, sys, time
from convsolve import ops
from convsolve.space import load_space
expression = sys.argv[1]
load = expression.split("load_space(")[1].split(")")[0]
eval("load_space(" + load + ")")  # imports and the first load are not timed
start = resource.getrusage(resource.RUSAGE_SELF)
eval(expression)
end = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps(end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime))
"""


def cpu_seconds(tree: Path, expression: str) -> float:
    """CPU seconds of ``expression`` in a fresh process running the convsolve of ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", TIMER, expression], cwd=tree, env=env, capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the source tree of the code before (A)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of them is kept (default 3)")
    args = parser.parse_args()
    print(f"{'operation':32} {'A (before)':>11} {'B (this)':>11} {'B / A':>7}")
    for name, expression in OPERATIONS.items():
        before, after = [], []
        for _ in range(args.rounds):
            before.append(cpu_seconds(args.old.resolve(), expression))
            after.append(cpu_seconds(ROOT, expression))
        print(f"{name:32} {min(before):10.3f}s {min(after):10.3f}s {min(after) / min(before):7.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
