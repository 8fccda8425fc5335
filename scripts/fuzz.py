"""A long fuzzing campaign over convsolve's loaders and every CLI verb; prints what it ran and what failed.

Cases come from ``tests/fuzzing.py`` (hypothesis strategies: mutated shipped configs, random YAML/JSON,
garbage, empty files, damaged ONNX models) and run in-process, one worker process per core, each
with its own seed. A case fails when it exits other than 0/1/2 (124 with --timeout), prints a
traceback, raises, or exits 2 without naming the file (or the option at fault); each kind of failure
is saved once (files, command line, output, traceback) under --failures.

    python scripts/fuzz.py                                   # 100,000 cases, every verb, 2 workers
    python scripts/fuzz.py --cases 2000 --verbs check,count  # a short run of two verbs
    python scripts/fuzz.py --minutes 30                      # as many cases as 30 minutes allow

Ctrl-C (or --minutes running out) stops every worker after its current case and prints the summary so far.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import fuzzing  # noqa: E402

CAMPAIGN_WEIGHTS = {"check": 80, "sizes": 250, "shapes": 240, "export": 240, "count": 30, "enumerate": 25, "sample": 25,
                    "prune": 25, "suggest": 25, "repair": 25, "batch-repair": 8, "plot": 3, "draw": 3, "report": 3}
"""The campaign's mix (per 1,000 cases): mostly the loader-level verbs (tens of milliseconds a case; check's verified
fixes re-run the inference hundreds of times, the pictures take a second), every verb often enough to be covered."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="Cases in all (split between the workers).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the first worker (worker i uses seed + i).")
    parser.add_argument("--verbs", default=",".join(fuzzing.VERBS), help="Comma-separated CLI verbs to run.")
    parser.add_argument("--workers", type=int, default=2, help="Worker processes.")
    parser.add_argument("--batch", type=int, default=200, help="Cases per hypothesis run (each with its own seed).")
    parser.add_argument("--minutes", type=float, default=None, help="Stop after this many minutes, whatever the count.")
    parser.add_argument("--failures", type=Path, default=Path("fuzz-failures"), help="Folder for the reproducers.")
    parser.add_argument("--case-timeout", type=float, default=fuzzing.CASE_TIMEOUT,
                        help="The --timeout given to each case (exit code 124 past it is not a failure).")
    parser.add_argument("--hard-limit", type=float, default=60.0, help="CPU seconds after which a case counts as hung.")
    parser.add_argument("--memory-gb", type=float, default=6.0, help="Address-space cap per worker (a runaway allocation fails).")
    parser.add_argument("--even", action="store_true", help="Draw every verb equally often instead of the campaign's mix.")
    args = parser.parse_args()
    verbs = tuple(v.strip() for v in args.verbs.split(",") if v.strip())
    unknown = set(verbs) - set(fuzzing.VERBS)
    if unknown:
        parser.error(f"unknown verbs {sorted(unknown)}; the verbs are {', '.join(fuzzing.VERBS)}")
    if not args.even:
        fuzzing.VERB_WEIGHTS.update(CAMPAIGN_WEIGHTS)
    fuzzing.onnx_models()  # export the PyTorch model once, before the workers fork
    shares = [args.cases // args.workers + (i < args.cases % args.workers) for i in range(args.workers)]
    jobs = [(i, shares[i], args.seed + i, verbs, args) for i in range(args.workers)]
    started = time.perf_counter()
    if args.workers == 1:
        results = [_worker(jobs[0])]
    else:
        with multiprocessing.get_context("fork").Pool(args.workers) as pool:
            workers = [process.pid for process in pool._pool]  # type: ignore[attr-defined]

            def forward(signum: int, frame: Any) -> None:  # stop the workers; each returns what it has done
                for pid in workers:
                    os.kill(pid, signal.SIGUSR1)

            signal.signal(signal.SIGINT, forward)
            signal.signal(signal.SIGTERM, forward)
            results = pool.map(_worker, jobs)
    _report(results, time.perf_counter() - started, args)


def _worker(job: tuple[int, int, int, tuple[str, ...], Any]) -> dict[str, Any]:
    from hypothesis import HealthCheck, Phase, given, seed, settings

    index, cases, base_seed, verbs, args = job
    fuzzing.limit_memory(args.memory_gb)
    stopping = {"now": False}

    def stop(signum: int, frame: Any) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGUSR1, stop)
    signal.signal(signal.SIGINT, stop if args.workers == 1 else signal.SIG_IGN)
    deadline = None if args.minutes is None else time.perf_counter() + 60 * args.minutes
    stats: dict[str, Any] = {"cases": 0, "failures": 0, "kinds": Counter(), "saved": {}, "slowest": (0.0, ""),
                             "codes": Counter(), "seconds": Counter(), "harness": []}
    folder = Path(tempfile.mkdtemp(prefix=f"convsolve-fuzz-{index}-"))
    started = time.perf_counter()
    batch = 0
    while stats["cases"] < cases and not stopping["now"]:
        todo = min(args.batch, cases - stats["cases"])

        @seed(base_seed * 1_000_003 + batch)
        @settings(max_examples=todo, database=None, phases=[Phase.generate], deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(fuzzing.fuzz_cases(verbs=verbs, timeout=args.case_timeout))
        def run(case: fuzzing.FuzzCase) -> None:
            if deadline is not None and time.perf_counter() > deadline:
                stopping["now"] = True
            if stopping["now"]:  # let hypothesis finish the batch without running anything
                return
            outcome = fuzzing.run_case(case, folder, hard_limit=args.hard_limit)
            stats["cases"] += 1
            stats["codes"][(case.verb, outcome.exit_code)] += 1
            stats["seconds"][case.verb] += outcome.seconds
            if outcome.seconds > stats["slowest"][0]:
                stats["slowest"] = (outcome.seconds, case.describe())
            if outcome.problems:
                stats["failures"] += 1
                stats["kinds"][outcome.signature] += 1
                if outcome.signature not in stats["saved"]:
                    target = args.failures / f"w{index}-{len(stats['saved']):03d}"
                    stats["saved"][outcome.signature] = str(fuzzing.save_reproducer(outcome, target))
                    print(f"[worker {index}] FAILURE {outcome.signature} -> {target}", file=sys.stderr, flush=True)
            if stats["cases"] % 2000 == 0:
                rate = stats["cases"] / (time.perf_counter() - started)
                print(f"[worker {index}] {stats['cases']:,} cases, {stats['failures']} failures, {rate:.1f} cases/s, "
                      f"slowest {stats['slowest'][0]:.2f} s", file=sys.stderr, flush=True)

        before = stats["cases"]
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - a fault of the case generator: report it, go on with the next batch
            stats["harness"].append(f"batch {batch}: {type(exc).__name__}: {exc}"[:300])
            print(f"[worker {index}] generator error in batch {batch}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        if stats["cases"] == before and not stopping["now"]:  # hypothesis ran nothing: do not loop forever
            break
        batch += 1
    return stats


def _report(results: list[dict[str, Any]], wall: float, args: Any) -> None:
    cases = sum(r["cases"] for r in results)
    failures = sum(r["failures"] for r in results)
    kinds: Counter[str] = sum((r["kinds"] for r in results), Counter())
    codes: Counter[Any] = sum((r["codes"] for r in results), Counter())
    seconds: Counter[str] = sum((r["seconds"] for r in results), Counter())
    slowest = max((r["slowest"] for r in results), key=lambda pair: pair[0])
    stopped = f", stopped early: {args.cases - cases:,} of {args.cases:,} not run" if cases < args.cases else ""
    print(f"cases run:      {cases:,} ({args.workers} workers, seeds {args.seed}..{args.seed + args.workers - 1}{stopped})")
    print(f"failures:       {failures:,} ({len(kinds)} kinds)")
    print(f"wall time:      {wall:,.0f} s ({cases / wall:,.1f} cases/s)")
    print(f"slowest case:   {slowest[0]:.2f} s: {slowest[1][:300]}")
    harness = [line for r in results for line in r["harness"]]
    if harness:
        print(f"generator errors (batches cut short): {len(harness)}; first: {harness[0]}")
    print()
    print(f"{'verb':<14}{'cases':>8}{'exit 0':>8}{'exit 1':>8}{'exit 2':>8}{'other':>8}{'ms/case':>9}")
    for verb in fuzzing.VERBS:
        total = sum(n for (v, _), n in codes.items() if v == verb)
        if not total:
            continue
        by_code = [codes[(verb, code)] for code in (0, 1, 2)]
        print(f"{verb:<14}{total:>8,}{by_code[0]:>8,}{by_code[1]:>8,}{by_code[2]:>8,}{total - sum(by_code):>8,}"
              f"{1000 * seconds[verb] / total:>9.1f}")
    if kinds:
        print("\nfailures by kind (reproducers under the folder named):")
        saved = {signature: folder for r in results for signature, folder in r["saved"].items()}
        for signature, count in kinds.most_common():
            print(f"  {count:>6,}  {signature}\n          {saved.get(signature, '')}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
