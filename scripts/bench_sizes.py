"""Valid input sizes of ResNet-50 over 1..1024: convsolve against a PyTorch forward pass per size.

The baseline is what a user does today: build the model, run a forward pass at each size on
``meta`` tensors (shapes only, no arithmetic) and keep the sizes that do not raise. A real CPU
forward at every 64th size is timed too, for scale. Both sides run in this process on the same
network, configs/resnet50.yaml, translated to torch.nn by tests/torch_reference.py, and must agree.
Model building, config loading and one warm-up forward are not timed, except in the row that
says so; convsolve rows are the best of several runs, PyTorch rows a single run.

Usage:
    python scripts/bench_sizes.py [--config configs/resnet50.yaml] [--hi 1024] [--cpu-step 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

try:
    import torch
except ImportError:
    sys.exit("scripts/bench_sizes.py compares with PyTorch: pip install 'convsolve[torch]'")
from torch_reference import ConfigModel  # noqa: E402

import convsolve  # noqa: E402
from convsolve.io.config import read_config  # noqa: E402
from convsolve.sizesets import SizeRange  # noqa: E402

REPEATS = 5
"""convsolve runs take milliseconds: report the best of this many."""


def convsolve_valid(network: convsolve.Network, hi: int) -> set[int]:
    square = SizeRange(1, hi)
    return set(network.with_input([square, square], tied=True).valid_sizes().sets[0].values)


def pytorch_valid(model: ConfigModel, sizes: Iterable[int]) -> set[int]:
    """The sizes at which ``model`` runs, trying them one at a time as a user would."""
    valid = set()
    with torch.no_grad():
        for n in sizes:
            try:
                model(model.input_tensor(n))
            except RuntimeError:
                continue
            valid.add(n)
    return valid


def warmed_up(model: ConfigModel) -> ConfigModel:
    """``model`` after one untimed forward, so one-off start-up costs do not count against it."""
    pytorch_valid(model, [1])
    return model


def timed(action: Callable[[], set[int]], repeats: int = 1) -> tuple[float, set[int]]:
    """Best wall time of ``repeats`` runs, and the result."""
    best, result = float("inf"), set()
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "resnet50.yaml")
    parser.add_argument("--hi", type=int, default=1024, help="largest input size compared (default 1024)")
    parser.add_argument("--cpu-step", type=int, default=64, help="time a CPU forward at every n-th size (0: skip)")
    args = parser.parse_args()

    config = read_config(args.config)
    network = convsolve.load(args.config)
    sizes = range(1, args.hi + 1)
    cpu_sizes = range(args.cpu_step, args.hi + 1, args.cpu_step) if args.cpu_step else range(0)
    rows: list[tuple[str, int, float]] = []
    disagreements: list[str] = []

    seconds, valid = timed(lambda: convsolve_valid(network, args.hi), REPEATS)
    rows.append((f"convsolve valid_sizes, 1..{args.hi}", len(sizes), seconds))

    def compare(method: str, found: set[int], over: Iterable[int]) -> None:
        differ = sorted(found ^ (valid & set(over)))
        if differ:
            disagreements.append(f"{method} and convsolve over 1..{args.hi} disagree at {differ[:20]}")

    seconds, _ = timed(lambda: convsolve_valid(convsolve.load(args.config), args.hi), REPEATS)
    rows.append((f"convsolve load + valid_sizes, 1..{args.hi}", len(sizes), seconds))
    big = 4 * args.hi
    seconds, valid_big = timed(lambda: convsolve_valid(network, big), REPEATS)
    rows.append((f"convsolve valid_sizes, 1..{big}", big, seconds))
    compare(f"convsolve over 1..{big}", valid_big & set(sizes), sizes)

    meta_model = warmed_up(ConfigModel(config, device="meta"))
    seconds, found = timed(lambda: pytorch_valid(meta_model, sizes))
    rows.append((f"pytorch forward on meta, 1..{args.hi}", len(sizes), seconds))
    compare("pytorch meta forward", found, sizes)
    if cpu_sizes:
        cpu_model = warmed_up(ConfigModel(config, device="cpu"))
        seconds, found = timed(lambda: pytorch_valid(cpu_model, cpu_sizes))
        rows.append((f"pytorch forward on cpu, {cpu_sizes.start}..{args.hi} step {args.cpu_step}", len(cpu_sizes), seconds))
        compare("pytorch cpu forward", found, cpu_sizes)

    baseline = next(count / seconds for method, count, seconds in rows if "meta" in method)
    described = convsolve.SizeSet.from_values(valid, 1, args.hi).describe()
    print(f"{network.name}: {network.graph.number_of_nodes() - 1} layers, valid sizes in 1..{args.hi}: {described}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print()
    width = max(len(method) for method, _, _ in rows)
    print(f"{'method':<{width}}  {'sizes':>5}  {'time':>9}  {'sizes/s':>10}  {'vs meta forward':>15}")
    for method, count, seconds in rows:
        rate = count / seconds
        print(f"{method:<{width}}  {count:>5}  {_duration(seconds):>9}  {_number(rate):>10}  {_number(rate / baseline):>14}x")
    for line in disagreements:
        print(f"DISAGREEMENT: {line}", file=sys.stderr)
    return 1 if disagreements else 0


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    sys.exit(main())
