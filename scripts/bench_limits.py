"""Peak memory and wall time of every solver verb and of repair on every shipped config, one process each.

Each run is ``python -m convsolve VERB FILE ...`` in its own process, so its peak resident memory
(``ru_maxrss`` from ``os.wait4``, the process alone) and its wall time include starting Python and
importing convsolve; the first row, ``--help``, is that baseline. The verbs: ``count``,
``enumerate --limit 1000``, ``sample -n 100``, ``prune``, ``suggest`` (nothing fixed) and ``repair``
(over the config's own input range), on configs/*.yaml, configs/spaces/ and configs/bench/. A verb
that does not apply to a file (repair on a search space, whose choices are not a network) exits 2 at
once and is shown as ``n/a``. Each run gets the verb's own ``--timeout`` and is killed 30 s later.

A run whose state would outgrow the solver's limit (``MAX_ELEMENTS`` in convsolve/solve/table.py)
stops with an error naming the layer, shown as ``limit`` (repairing configs/vgg16.yaml over its
whole range 1..512 is one): its time to that error and the memory it reached are what the limit
buys. The last row repairs configs/vgg16.yaml over 32..224 as well, the largest repair under it.

Usage:
    python scripts/bench_limits.py                    # every file and verb: a few minutes
    python scripts/bench_limits.py --timeout 30 --only res-100 vgg16
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERBS = {
    "count": [], "enumerate": ["--limit", "1000"], "sample": ["-n", "100"], "prune": [], "suggest": [], "repair": [],
}
EXTRA_CASES = [("repair", "configs/vgg16.yaml", ["--input", "32:224"])]
"""Runs besides every verb on every file with its own input range."""


@dataclass(frozen=True)
class Run:
    verb: str
    file: str
    code: int | None
    """The exit code; None when killed."""
    seconds: float
    peak_mb: float
    message: str

    @property
    def outcome(self) -> str:
        if self.code is None:
            return "killed"
        if self.code == 124:
            return "timeout"
        if self.code == 2 and "would hold" in self.message:
            return "limit"
        if self.code == 2:
            return "n/a" if self.verb == "repair" or "choice" in self.message else "error"
        return "ok"


def shipped() -> list[Path]:
    """Every shipped network and space: configs/*.yaml, configs/spaces/*, configs/bench/*."""
    configs = ROOT / "configs"
    return sorted(configs.glob("*.yaml")) + sorted((configs / "spaces").glob("*.yaml")) + sorted((configs / "bench").glob("*.yaml"))


def measure(arguments: list[str], timeout: float) -> tuple[int | None, float, float, str]:
    """Run ``python -m convsolve ARGUMENTS``: exit code (None if killed), wall seconds, peak RSS in MB, last stderr line."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "convsolve", *arguments], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    os.set_blocking(process.stderr.fileno(), False)
    errors = b""
    killed = False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        errors += process.stderr.read() or b""
        if pid:
            break
        if not killed and time.perf_counter() - started > timeout + 30:
            process.send_signal(signal.SIGKILL)
            killed = True
        time.sleep(0.005)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it: tell Popen
    errors += process.stderr.read() or b""
    process.stderr.close()
    lines = errors.decode("utf-8", "replace").strip().splitlines()
    peak = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20  # KB on Linux, bytes on macOS
    return (None if killed else process.returncode), seconds, peak, (lines[-1] if lines else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=120.0, help="The verbs' --timeout, seconds (killed 30 s later).")
    parser.add_argument("--only", nargs="*", default=None, help="Only the files whose name contains one of these.")
    args = parser.parse_args()

    code, seconds, peak, _ = measure(["--help"], args.timeout)
    runs = [Run("--help", "(startup baseline)", code, seconds, peak, "")]
    print(f"{'verb':<10} {'file':<36} {'outcome':<8} {'seconds':>8} {'peak MB':>8}")
    print(f"{runs[0].verb:<10} {runs[0].file:<36} {runs[0].outcome:<8} {seconds:>8.2f} {peak:>8.0f}", flush=True)
    files = [f for f in shipped() if args.only is None or any(part in f.name for part in args.only)]
    cases = [(verb, f.relative_to(ROOT).as_posix(), extra) for f in files for verb, extra in VERBS.items()]
    cases += [(verb, file, extra) for verb, file, extra in EXTRA_CASES if args.only is None or any(p in file for p in args.only)]
    for verb, file, extra in cases:
        code, seconds, peak, message = measure([verb, file, *extra, "--timeout", f"{args.timeout:g}"], args.timeout)
        run = Run(verb, file + ("" if not extra or verb != "repair" else " " + " ".join(extra)), code, seconds, peak, message)
        runs.append(run)
        print(f"{run.verb:<10} {run.file:<36} {run.outcome:<8} {run.seconds:>8.2f} {run.peak_mb:>8.0f}", flush=True)

    solved = [r for r in runs[1:] if r.outcome in ("ok", "timeout", "killed")]
    if solved:
        slowest = max(solved, key=lambda r: r.seconds)
        biggest = max(solved, key=lambda r: r.peak_mb)
        print(f"\nslowest: {slowest.verb} {slowest.file}: {slowest.seconds:.2f} s ({slowest.outcome}), peak {slowest.peak_mb:.0f} MB")
        print(f"most memory: {biggest.verb} {biggest.file}: peak {biggest.peak_mb:.0f} MB in {biggest.seconds:.2f} s")
        per_file: dict[str, list[Run]] = {}
        for run in solved:
            per_file.setdefault(run.file, []).append(run)
        worst = max(per_file, key=lambda f: max(r.seconds for r in per_file[f]))
        print(f"worst file: {worst}: at most {max(r.seconds for r in per_file[worst]):.2f} s and "
              f"{max(r.peak_mb for r in per_file[worst]):.0f} MB per verb")
    for run in runs:
        if run.outcome in ("limit", "error", "killed"):
            print(f"{run.verb} {run.file}: {run.outcome} after {run.seconds:.2f} s at peak {run.peak_mb:.0f} MB: {run.message}")


if __name__ == "__main__":
    main()
