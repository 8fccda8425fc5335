"""Benchmark batch repair: a generated NAS-style folder, on local processes and on a Dask cluster.

In one run: a single process (what a loop over ``convsolve repair`` amounts to, without its start-up
cost), ``--workers 2`` local processes, and a Dask ``LocalCluster`` of two single-thread worker
processes on loopback. Each writes to its own output folder; the script checks that the three
folders hold the same files and prints times, rates and ratios.

Usage:
    python scripts/bench_batch.py --count 10000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from convsolve.ops.batch import plan_jobs, run_batch

HERE = Path(__file__).resolve().parent


def timed(label: str, jobs_of: Path, out: Path, timeout: float, **kwargs: object) -> tuple[float, Counter[str]]:
    jobs = plan_jobs([str(jobs_of)], out, timeout=timeout)
    started = time.perf_counter()
    summary = run_batch(jobs, out, **kwargs)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    print(f"{label:<28} {seconds:8.1f} s  {len(jobs) / seconds:7.0f} files/s  {dict(summary.counts)}", flush=True)
    return seconds, summary.counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--sequential-count", type=int, default=1000, help="Files for the single-process baseline (it is slow)")
    parser.add_argument("--timeout", type=float, default=10.0, help="Seconds per file before it is reported as a timeout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        subprocess.run([sys.executable, str(HERE / "generate_broken_configs.py"), str(root / "runs"), "--count", str(args.count)], check=True)
        subprocess.run([sys.executable, str(HERE / "generate_broken_configs.py"), str(root / "few"), "--count", str(args.sequential_count)],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"{'path':<28} {'time':>10}  {'rate':>13}  statuses")
        one, _ = timed(f"1 process ({args.sequential_count} files)", root / "few", root / "out-one", args.timeout, workers=1)
        local, counts = timed(f"2 local processes ({args.count})", root / "runs", root / "out-local", args.timeout, workers=2)
        from dask.distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
            dask, _ = timed(f"Dask LocalCluster 2x1 ({args.count})", root / "runs", root / "out-dask", args.timeout, scheduler=cluster.scheduler_address)
        rerun, _ = timed("rerun, all current", root / "runs", root / "out-local", args.timeout, workers=2)
        pairs = [(p, root / "out-dask" / p.relative_to(root / "out-local")) for p in (root / "out-local").rglob("*.yaml")]
        both = [(a, b) for a, b in pairs if b.exists()]  # a file can time out on one path and not the other
        same = f"{sum(a.read_bytes() == b.read_bytes() for a, b in both)} of {len(both)} written by both"
        per_file_one = one / args.sequential_count
        print(f"\nlocal processes vs one process: {per_file_one * args.count / local:.2f}x; "
              f"Dask vs one process: {per_file_one * args.count / dask:.2f}x; outputs identical: {same}")
        print(f"{args.count} files: {local:.1f} s locally, {dask:.1f} s on Dask (target < 120 s); rerun {rerun:.1f} s; {dict(counts)}")


if __name__ == "__main__":
    main()
