"""Benchmark batch repair: a generated NAS-style folder, on local processes and on a Dask cluster.

In one run: a single process (what a loop over ``convsolve repair`` amounts to, without its start-up
cost), ``--workers`` local processes, and a Dask ``LocalCluster`` of as many single-thread worker
processes on loopback, then a rerun on the local processes with every result current. Each path
writes to its own output folder; the script checks that the local and Dask folders hold the same
bytes, and prints a table of times, rates, ratios to the single process, the mean time per file of
each status, and the CPU time per file (all processes) against the target.

Usage:
    python scripts/bench_batch.py --count 10000 --sequential-count 1000
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from convsolve.ops.batch import plan_jobs, run_batch

HERE = Path(__file__).resolve().parent
TARGET_SECONDS = 120.0
"""The issue's target: 10,000 files in under 2 minutes on 2 cores."""


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (local workers; Dask workers are not children)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(folder: Path, out: Path, timeout: float, **kwargs: Any) -> tuple[int, float, float, list[dict[str, Any]]]:
    """Files, wall seconds, CPU seconds (local paths only) and the records of one batch."""
    jobs = plan_jobs([str(folder)], out, timeout=timeout)
    records: list[dict[str, Any]] = []
    cpu, started = cpu_seconds(), time.perf_counter()
    run_batch(jobs, out, on_record=records.append, **kwargs)
    return len(jobs), time.perf_counter() - started, cpu_seconds() - cpu, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--sequential-count", type=int, default=1000, help="Files for the single-process baseline")
    parser.add_argument("--workers", type=int, default=2, help="Local processes, and Dask workers")
    parser.add_argument("--timeout", type=float, default=10.0, help="Seconds per file before it is reported as a timeout")
    parser.add_argument("--no-dask", action="store_true", help="Leave out the Dask LocalCluster")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        for name, count in (("runs", args.count), ("few", args.sequential_count)):
            subprocess.run([sys.executable, str(HERE / "generate_broken_configs.py"), str(root / name), "--count", str(count)],
                           check=True, stdout=subprocess.DEVNULL)
        rows: list[tuple[str, int, float, float | None, Counter[str]]] = []

        def run(label: str, folder: str, out: str, cpu_counted: bool = True, **kwargs: Any) -> list[dict[str, Any]]:
            files, seconds, cpu, records = timed(root / folder, root / out, args.timeout, **kwargs)
            statuses = Counter(record["status"] for record in records)
            rows.append((label, files, seconds, cpu if cpu_counted else None, statuses))
            print(f"{label:<34} {files:>6} files {seconds:8.1f} s  {files / seconds:6.1f} files/s  {dict(statuses)}", flush=True)
            return records

        run("1 process", "few", "out-one", workers=1)
        local = run(f"{args.workers} local processes", "runs", "out-local", workers=args.workers)
        if not args.no_dask:
            from dask.distributed import LocalCluster

            with LocalCluster(n_workers=args.workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
                run(f"Dask LocalCluster, {args.workers} workers", "runs", "out-dask", cpu_counted=False, scheduler=cluster.scheduler_address)
        run("rerun, everything current", "runs", "out-local", workers=args.workers)

        one_rate = rows[0][1] / rows[0][2]
        print("\n| path | files | time | files/s | vs 1 process | CPU per file | 10,000 files at this rate |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for label, files, seconds, cpu, _ in rows:
            rate = files / seconds
            per_file = "" if cpu is None else f"{1000 * cpu / files:.0f} ms"
            print(f"| {label} | {files:,} | {seconds:.1f} s | {rate:.1f} | {rate / one_rate:.2f}x | {per_file} | {10000 / rate:.0f} s |")
        by_status: dict[str, list[float]] = defaultdict(list)
        for record in local:
            by_status[record["status"]].append(record["seconds"])
        print("\nper file on the local processes (wall, both busy): " + ", ".join(
            f"{status} {len(times)} x {1000 * sum(times) / len(times):.0f} ms" for status, times in sorted(by_status.items())))
        if not args.no_dask:
            pairs = [(p, root / "out-dask" / p.relative_to(root / "out-local")) for p in (root / "out-local").rglob("*.yaml")]
            both = [(a, b) for a, b in pairs if b.exists()]  # a file can time out on one path and not the other
            print(f"local and Dask outputs identical: {sum(a.read_bytes() == b.read_bytes() for a, b in both)} of {len(both)} written by both")
        local_seconds = rows[1][2]
        needed = 10000 / (rows[1][1] / local_seconds)
        verdict = "met" if needed < TARGET_SECONDS else f"missed by {needed / TARGET_SECONDS:.1f}x"
        print(f"target, 10,000 files in under {TARGET_SECONDS:.0f} s on {args.workers} local processes: {needed:.0f} s at this rate, {verdict}")


if __name__ == "__main__":
    main()
