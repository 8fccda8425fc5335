"""The shipped NAS spaces (``configs/spaces/``): what they claim holds in PyTorch, and every verb answers fast.

Sampled architectures are written as plain configs and run in PyTorch (:mod:`torch_reference`, on the meta
device) at their chosen input size: every valid one runs; the structural ones convsolve says cannot work
(a factorized reduce at an odd size, a NAS-Bench-201 reduction at an odd size) fail in PyTorch too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from convsolve import load_space, ops
from convsolve.space import Space

torch_reference = pytest.importorskip("torch_reference")

SPACES = Path(__file__).resolve().parent.parent / "configs" / "spaces"
NAS_SPACES = ["nas_bench_201", "darts_style", "ofa_mobilenetv3", "unet_nas"]


@pytest.fixture(scope="module", params=NAS_SPACES)
def space(request: pytest.FixtureRequest) -> Space:
    return load_space(SPACES / f"{request.param}.yaml")


def runs_in_torch(space: Space, assignment: dict[str, Any]) -> bool:
    config = json.loads(json.dumps(space.to_config(assignment=assignment)))
    size = config["input"]["size"]
    return torch_reference.ConfigModel(config).run(size).failed is None


def test_sampled_architectures_run_in_pytorch(space: Space) -> None:
    for assignment in ops.sample(space, 6, seed=5):
        assert runs_in_torch(space, assignment), assignment


def test_every_verb_answers_within_the_targets(space: Space) -> None:
    started = time.perf_counter()
    first = next(iter(ops.enumerate_assignments(space, limit=1)))
    assert time.perf_counter() - started < 1.0  # 100 ms on an idle machine: see the README's figures
    assert ops.count(space).valid > 0
    assert ops.prune(space).valid == ops.count(space).valid
    fixed = {name: value for name, value in first.items() if name in ("input.size",) or name.endswith((".op", "depth"))}
    assert ops.suggest(space, dict(list(fixed.items())[:2])).valid > 0


def test_factorized_reduce_breaks_at_odd_sizes_in_both() -> None:
    space = load_space(SPACES / "darts_style.yaml")
    even = ops.suggest(space, {"input.size": 32})
    odd = ops.suggest(space, {"input.size": 30})  # the second reduction cell sees 15
    assert not even.removed
    assert set(odd.removed) == {"red2_r1.op", "red2_r2a.op", "red2_r3a.op"}
    assert all(values == ("skip_connect",) for values in odd.removed.values())
    valid = ops.sample(ops_space_at(space, 30), 1, seed=0)[0]
    assert runs_in_torch(space, valid)
    broken = {**valid, "red2_r1.op": "skip_connect"}
    broken = {k: v for k, v in broken.items() if not k.startswith("red2_r1.") or k == "red2_r1.op"}
    assert not runs_in_torch(space, broken)


def ops_space_at(space: Space, size: int) -> Space:
    """The space with its input size fixed (pruned to one value), as `prune -o` would write it."""
    return Space.from_config(space.to_config(domains={"input.size": [size]}))


def test_nas_bench_201_is_valid_exactly_where_both_reductions_see_even_sizes() -> None:
    space = load_space(SPACES / "nas_bench_201.yaml")
    pruned = ops.prune(space)
    assert pruned.domains["input.size"] == tuple(n for n in space.params["input.size"].values if n % 4 == 0)
    assert pruned.valid == len(pruned.domains["input.size"]) * 5**6
    valid = ops.sample(space, 1, seed=2)[0]
    for size in space.params["input.size"].values:
        assert runs_in_torch(space, {**valid, "input.size": size}) == (size % 4 == 0)


def test_ofa_space_meets_its_speed_targets() -> None:
    space = load_space(SPACES / "ofa_mobilenetv3.yaml")
    started = time.perf_counter()
    assert ops.count(space).valid == space.total  # every architecture of OFA's space is valid at its own resolution
    counted = time.perf_counter() - started
    started = time.perf_counter()
    drawn = ops.sample(space, 10_000, seed=1)
    sampled = time.perf_counter() - started
    assert len(drawn) == 10_000 and len({json.dumps(a, sort_keys=True) for a in drawn}) > 9_990
    assert counted < 3 and sampled < 5  # < 1 s each on an idle machine: see the README's figures
    depths = {a["s1_blocks.depth"] for a in drawn}
    assert depths == {1, 2, 3}


def test_unet_space_pairs_each_decoder_level_with_its_mirror() -> None:
    space = load_space(SPACES / "unet_nas.yaml")
    for assignment in ops.sample(space, 4, seed=3):
        network = space.fixed(assignment)
        depth = assignment["depth"]
        skips = [network.inputs_of(f"dec.{i}.cat")[1] for i in range(depth)]
        assert skips == [f"enc.{depth - 1 - i}.conv2" for i in range(depth)]
        assert f"dec.{depth}.cat" not in network.graph


def test_pruned_domains_write_back_a_space_with_the_same_valid_assignments(space: Space) -> None:
    pruned = ops.prune(space)
    again = Space.from_config(json.loads(json.dumps(space.to_config(domains=pruned.domains))))
    assert ops.count(again).valid == pruned.valid and again.total <= space.total


def test_an_invalid_trial_is_repaired_within_the_space() -> None:
    from convsolve.ops.nearest import nearest

    space = load_space(SPACES / "nas_bench_201.yaml")
    trial = {**ops.sample(space, 1, seed=4)[0], "input.size": 30}  # the second reduction sees 15
    found = nearest(space, trial)
    assert found.status == "repaired" and [change.param for change in found.changes] == ["input.size"]
    assert found.assignment is not None and runs_in_torch(space, found.assignment)
