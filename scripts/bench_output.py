"""The whole `enumerate` command, as a user runs it, against the brute force a user would write, in the same run.

Each run is a fresh process (start-up, loading the config, solving and writing every row to a file),
timed by its CPU time (user + system) and wall time:

- the baseline: a short script that walks ``itertools.product`` of the domains, checks each assignment
  with inline size arithmetic at the smallest input size (exact for a pure chain) and writes each valid
  one as a JSON line to a file;
- ``convsolve enumerate SPACE --jsonl > FILE`` (printing, the way before ``-o``);
- ``convsolve enumerate SPACE -o FILE`` for .jsonl, .csv and .parquet.

The files are compared: every run must write the same assignments (the baseline's order differs, so
the comparison is of sorted rows, on the first ``--compare`` rows of each, and only over every row: the
first ``--limit`` rows of the baseline are others).

Usage:
    python scripts/bench_output.py                       # configs/bench/chain-6.yaml, every row (~11.4 million)
    python scripts/bench_output.py --limit 1000000       # the first million rows of each
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BASELINE = r'''
import itertools, json, sys
sys.path.insert(0, {scripts!r})
from bench_solver import BenchNet, chain_check
from convsolve import load_space

space = load_space({space!r})
net = BenchNet.of(space)
check = chain_check(net)
names = list(space.params)
limit = {limit!r}
found = 0
with open({out!r}, "w") as out:
    for values in itertools.product(*(space.params[n].values for n in names)):
        row = dict(zip(names, values))
        if check(row):
            out.write(json.dumps(row) + "\n")
            found += 1
            if limit is not None and found >= limit:
                break
'''


def run(command: list[str], stdout_path: Path | None = None) -> tuple[float, float]:
    """CPU seconds (user + system, of the child) and wall seconds of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(stdout_path, "w") if stdout_path is not None else open(os.devnull, "w") as sink:
        subprocess.run(command, stdout=sink, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def rows_of(path: Path, count: int) -> list[tuple[tuple[str, int], ...]]:
    """The first ``count`` rows of a JSON-lines, CSV or Parquet file, as sorted tuples of (parameter, value)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet

        table = pyarrow.parquet.read_table(path).slice(0, count).to_pydict()
        names = list(table)
        rows = [dict(zip(names, values)) for values in zip(*(table[n] for n in names))]
    elif path.suffix == ".csv":
        with open(path) as handle:
            names = [n.strip('"') for n in handle.readline().strip().split(",")]
            rows = [dict(zip(names, map(int, line.split(",")))) for _, line in zip(range(count), handle)]
    else:
        with open(path) as handle:
            rows = [json.loads(line) for _, line in zip(range(count), handle)]
    return sorted(tuple(sorted(row.items())) for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("space", nargs="?", default="configs/bench/chain-6.yaml")
    parser.add_argument("--limit", type=int, help="the first N valid assignments of each run (default: all)")
    parser.add_argument("--compare", type=int, default=200_000, help="rows compared between the files (default 200,000)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="convsolve-bench-output-"))
    limit = ["--limit", str(args.limit)] if args.limit else []
    convsolve = [sys.executable, "-m", "convsolve", "enumerate", args.space, *limit]
    results: list[tuple[str, float, float, Path]] = []
    out = folder / "baseline.jsonl"
    code = BASELINE.format(scripts=str(ROOT / "scripts"), space=args.space, limit=args.limit, out=str(out))
    results.append(("brute force (product + inline arithmetic), JSON lines", *run([sys.executable, "-c", code]), out))
    out = folder / "printed.jsonl"
    results.append(("convsolve enumerate --jsonl > FILE", *run([*convsolve, "--jsonl"], out), out))
    for suffix in (".jsonl", ".csv", ".parquet"):
        out = folder / f"rows{suffix}"
        results.append((f"convsolve enumerate -o FILE{suffix}", *run([*convsolve, "-o", str(out)]), out))
    reference = rows_of(results[0][3], args.compare)
    same = {name: rows_of(path, args.compare) == reference if args.limit is None else None for name, _, _, path in results}
    baseline_cpu = results[0][1]
    print(f"{args.space}, {'every valid assignment' if args.limit is None else f'the first {args.limit:,}'}; one fresh process each")
    print(f"{'command':58} {'CPU s':>8} {'wall s':>8} {'MB':>8} {'vs brute force (CPU)':>22} same rows")
    for name, cpu, wall, path in results:
        ratio = baseline_cpu / cpu if cpu else float("inf")
        verdict = "-" if same[name] is None else "yes" if same[name] else "NO"
        print(f"{name:58} {cpu:8.1f} {wall:8.1f} {path.stat().st_size / 1e6:8.0f} {ratio:21.1f}x {verdict}")
    for _, _, _, path in results:
        path.unlink()
    folder.rmdir()
    return 0 if all(v is not False for v in same.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
