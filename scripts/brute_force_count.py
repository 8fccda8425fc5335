"""Count the valid assignments of a small search space by brute force: the solver benchmark's baseline.

Every assignment in ``itertools.product`` of the parameters' domains is checked the way one checks
candidates without a solver: the user constraints, then ``Space.fixed(assignment)`` (an
``InvalidAssignment`` means not valid), then the fixed network's inference over the input range,
then the targets (a node's output size at an input size).

For a pure chain only the smallest input size is inferred, which is exact: a pure chain has no
targets and no merges (every layer reads one input), and only layers whose output size is
non-decreasing in their input size and which are valid once their input is large enough —
convolutions, max and average pooling, adaptive pooling and shape-preserving layers. Validity at
the smallest size of the range then implies validity at every larger one. Any other space is
inferred over its whole input range. The user constraints do not depend on the input size.

Usage:
    python scripts/brute_force_count.py configs/bench/chain-6.yaml
    python scripts/brute_force_count.py configs/bench/res-6.yaml --progress 1000000
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from convsolve.errors import ConvsolveError, InvalidAssignment, UsageError
from convsolve.layers import LAYER_TYPES, AdaptivePool, Conv, Layer, Pool, ShapePreserving
from convsolve.sizesets import SizeRange
from convsolve.space import Space, load_space

MONOTONE_LAYERS: tuple[type[Layer], ...] = (Conv, Pool, AdaptivePool, ShapePreserving)
"""Layer classes (exactly these, not subclasses such as transposed convolutions) whose validity is monotone in n."""


@dataclass(frozen=True)
class Count:
    """The outcome of one brute-force count."""

    valid: int
    total: int
    seconds: float
    smallest_only: bool
    """Whether only the smallest input size was inferred (a pure chain)."""

    def __str__(self) -> str:
        share = 100 * self.valid / self.total if self.total else 0.0
        rate = self.total / self.seconds if self.seconds else float("inf")
        return (
            f"valid: {self.valid:,} of {self.total:,} assignments ({share:.2f}%)\n"
            f"time: {format_seconds(self.seconds)}, {rate:,.0f} assignments/s"
        )


def format_seconds(seconds: float) -> str:
    """``0.84 s``, ``12.3 s`` or ``1 h 02 min 11 s``."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {rest:02d} s" if hours else f"{minutes} min {rest:02d} s"


def is_pure_chain(space: Space) -> bool:
    """Whether checking the smallest input size alone decides validity (see the module docstring)."""
    if space.targets:
        return False
    for node in space.order[1:]:
        layer_class = LAYER_TYPES[space.graph.nodes[node]["type"]][0]
        if len(space.inputs_of(node)) != 1 or layer_class not in MONOTONE_LAYERS:
            return False
    return True


def is_valid(space: Space, assignment: Mapping[str, int]) -> bool:
    """Whether the assignment meets the constraints and makes a network valid over the space's input range,
    meeting every size target."""
    try:
        values = space.complete(assignment) if space.structural else assignment  # (parameters out of the network: None)
        if not all(constraint.holds(values) for constraint in space.constraints):
            return False
        network = space.fixed(assignment)
    except (InvalidAssignment, ZeroDivisionError, UsageError):  # UsageError: a parameter valued out of the network
        return False
    if not network.infer().valid_mask().all():
        return False
    for target in space.targets:
        if target.size is None:
            continue  # a stride or receptive-field target: count_valid refuses those, this checks sizes only
        shape = {row.node: row.shape for row in network.shapes(list(target.at or ()))}[target.node]
        if shape is None or shape[1:] != target.size:
            return False
    return True


def count_valid(space: Space, progress: int = 0) -> Count:
    """Check every assignment of ``space``; with ``progress``, report to stderr every that many assignments.

    Raises:
        UsageError: a target asks for a total stride or a receptive field, which this baseline does not check.
    """
    unsupported = [str(target) for target in space.targets if target.size is None or target.stride is not None
                   or target.receptive_field is not None]
    if unsupported:
        raise UsageError(f"only size-at-input targets are checked here, not: {'; '.join(unsupported)}")
    smallest_only = is_pure_chain(space)
    if smallest_only:
        space = space.with_input([SizeRange(r.lo, r.lo) for r in space.input.ranges], space.input.tied)
    names = list(space.params)
    valid = checked = 0
    start = time.perf_counter()
    for values in itertools.product(*(param.values for param in space.params.values())):
        valid += is_valid(space, dict(zip(names, values)))
        checked += 1
        if progress and checked % progress == 0:
            elapsed = time.perf_counter() - start
            print(f"  {checked:,} of {space.total:,} checked, {valid:,} valid, {format_seconds(elapsed)}", file=sys.stderr)
    return Count(valid, space.total, time.perf_counter() - start, smallest_only)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("space", type=Path, help="a search-space config (YAML or JSON)")
    parser.add_argument("--progress", type=int, default=0, metavar="N", help="report to stderr every N assignments")
    args = parser.parse_args()
    try:
        space = load_space(args.space)
        print(f"{args.space}: {space.name}, {len(space.params)} parameters, input {space.input.describe()}")
        count = count_valid(space, args.progress)
    except ConvsolveError as exc:
        print(exc, file=sys.stderr)
        return 2
    if count.smallest_only:
        smallest = "x".join(str(r.lo) for r in space.input.ranges[: 1 if space.input.tied else None])
        checked = f"input {smallest} only (a pure chain: valid there means valid at every larger size)"
    else:
        checked = f"every input size of {space.input.describe()}"
    print(f"checked: {checked}\n{count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
