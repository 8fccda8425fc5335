"""Counting a chain over dense vectors of sizes gives the table's count, and the table's only."""

import random
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from convsolve import ops
from convsolve.solve.dense import _convolved, _factored, dense_count
from convsolve.solve.plan import make_plan
from convsolve.solve.programme import Programme
from convsolve.solve.table import Table
from convsolve.space import load_space

from small_spaces import SPACES, conv, pool, space_of

ROOT = Path(__file__).resolve().parent.parent


def counted_both_ways(space):
    """(dense count, table count) of ``space``."""
    plan = make_plan(space)
    return dense_count(Programme(plan, space)), Table(plan, space, keep_transitions=False).count()


def random_layer(rng, i, channels):
    """One layer of a random chain: convs (dilated, grouped), pools (ceil mode, own constraint), transposed convs."""
    kind = rng.choice(["conv", "conv", "pool", "avg", "transposed"])
    choice = lambda values: {"choice": sorted(rng.sample(values, rng.randint(1, len(values))))}  # noqa: E731
    if kind == "conv":
        layer = {"name": f"l{i}", "type": "conv2d", "out_channels": {"choice": [4, 6]} if channels else 4,
                 "kernel": choice([1, 2, 3, 5, 7]), "stride": choice([1, 2, 3]), "padding": choice([0, 1, 2, 3])}
        if rng.random() < 0.3:
            layer["dilation"] = {"choice": [1, 2]}
            layer["stride"] = 1
        if channels and rng.random() < 0.5:
            layer["groups"] = {"choice": [1, 2, 3]}
        return layer, []
    if kind in ("pool", "avg"):
        layer = {"name": f"l{i}", "type": "max_pool2d" if kind == "pool" else "avg_pool2d", "kernel": choice([2, 3, 4]),
                 "stride": choice([1, 2]), "padding": choice([0, 1, 2]), "ceil_mode": {"choice": [False, True]}}
        return layer, [f"l{i}.padding <= l{i}.kernel // 2"]
    return {"name": f"l{i}", "type": "conv_transpose2d", "out_channels": 4, "kernel": choice([2, 3, 4]), "stride": 2,
            "padding": choice([0, 1]), "output_padding": {"choice": [0, 1]}}, []


@settings(max_examples=60, derandomize=True, deadline=None)
@given(st.integers(0, 10**6))
def test_random_chains_count_densely_as_the_table_does(seed):
    rng = random.Random(seed)
    channels = rng.random() < 0.3
    layers, constraints = [], []
    for i in range(rng.randint(1, 7)):
        layer, checks = random_layer(rng, i, channels)
        layers.append(layer)
        constraints += checks
    space = space_of(layers, lo=rng.randint(1, 12), hi=rng.randint(12, 40), constraints=constraints, channels=6 if channels else 4)
    dense, table = counted_both_ways(space)
    assert dense is not None and dense == table


def test_small_chains_count_densely_as_brute_force_does(brute_force):
    space = SPACES["chain"]()  # a pool with ceil mode between two convs
    dense, _ = counted_both_ways(space)
    assert dense is not None and dense == len(brute_force(space)) > 0


def test_a_deep_shipped_chain_counts_densely_as_the_table_does():
    dense, table = counted_both_ways(load_space(ROOT / "configs/bench/chain-100.yaml"))
    assert dense is not None and dense == table > 2**300


def test_large_input_sizes_count_densely_as_the_table_does():
    """Counts are kept from the smallest size reached on, not from size 1."""
    space = space_of([conv("c1", stride=(1, 2, 3)), pool("p1"), conv("c2"), pool("p2")], lo=30000, hi=30040)
    dense, table = counted_both_ways(space)
    assert dense is not None and dense == table > 0


def test_networks_that_are_not_chains_go_to_the_table(brute_force):
    for name in ("residual", "transposed_concat", "constraints_and_ties", "target", "flatten_linear"):
        space = SPACES[name]()
        assert dense_count(Programme(make_plan(space), space)) is None
        assert ops.count(space).valid == len(brute_force(space))


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=12), st.dictionaries(st.integers(-4, 8), st.integers(1, 5), min_size=1, max_size=6))
def test_kernels_added_by_factors_equal_their_terms_added_one_by_one(base, kernel):
    base = np.array(base, dtype=object)
    at, counts = _convolved(base, kernel)
    expected = {}
    for first, weight in kernel.items():
        for size, value in enumerate(base.tolist()):
            if first + size >= 1:
                expected[first + size] = expected.get(first + size, 0) + weight * value
    got = {at + i: int(v) for i, v in enumerate(counts.tolist())}
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}
    assert at >= 1


def test_a_conv_kernel_factors_into_binomials():
    """kernel {1, 3, 5, 7} x padding {0, 1, 2, 3} at stride 1: offsets 2 * padding - kernel + 1, a product."""
    offsets = [2 * p - k + 1 for k in (1, 3, 5, 7) for p in (0, 1, 2, 3)]
    coefficients = [offsets.count(d) for d in range(min(offsets), max(offsets) + 1)]
    assert _factored(tuple(coefficients)) == ((2, 2, 4, 4), (1,))
    assert _factored((2, 3, 1)) == ((1,), (2, 1))
    assert _factored((1, 1, 1)) == ((), (1, 1, 1))
