"""Counting and sampling over intervals of sizes give the table's counts, and uniform samples."""

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convsolve import ops
from convsolve.solve import intervals
from convsolve.solve.intervals import interval_programme
from convsolve.solve.plan import make_plan
from convsolve.solve.programme import Programme
from convsolve.solve.table import Table
from convsolve.space import Space, load_space

from small_spaces import SPACES, canonical, conv, is_valid, pool, space_of
from uniformity import assert_uniform

ROOT = Path(__file__).resolve().parent.parent


def programme_of(space):
    return interval_programme(Programme(make_plan(space), space))


def table_count(space):
    return Table(make_plan(space), space, keep_transitions=False).count()


def random_branch_layer(rng, name, channels, transposed):
    """A conv (dilated, grouped, channel choices), a pool (ceil mode, own constraint) or a transposed conv."""
    kind = rng.choice(["conv", "conv", "pool", "avg"] + (["transposed"] if transposed else []))
    choice = lambda values: {"choice": sorted(rng.sample(values, rng.randint(1, len(values))))}  # noqa: E731
    if kind == "conv":
        layer = {"name": name, "type": "conv2d", "out_channels": {"choice": [4, 6]} if channels else 4,
                 "kernel": choice([1, 2, 3, 5]), "stride": choice([1, 2]), "padding": choice([0, 1, 2])}
        if rng.random() < 0.3:
            layer["dilation"] = {"choice": [1, 2]}
        if channels and rng.random() < 0.4:
            layer["groups"] = {"choice": [1, 3]}  # 3 divides 6 channels, not 4: some combos build no layer
        return layer, []
    if kind in ("pool", "avg"):
        layer = {"name": name, "type": "max_pool2d" if kind == "pool" else "avg_pool2d", "kernel": choice([2, 3]),
                 "stride": choice([1, 2]), "padding": choice([0, 1]), "ceil_mode": {"choice": [False, True]}}
        return layer, [f"{name}.padding <= {name}.kernel // 2"]
    return {"name": name, "type": "conv_transpose2d", "out_channels": 4, "kernel": choice([2, 3]), "stride": 2,
            "padding": choice([0, 1]), "output_padding": {"choice": [0, 1]}}, []


def random_network(rng, transposed=False):
    """Blocks of a main branch (one or two layers) and a shortcut (none, or a conv) joined by add, mul or concat,
    with chain links between them."""
    channels = rng.random() < 0.4
    layers, constraints, previous = [], [], "input"
    for block in range(rng.randint(1, 3)):
        for i in range(rng.randint(1, 2)):
            layer, checks = random_branch_layer(rng, f"m{block}_{i}", channels, transposed)
            layer["inputs"] = [previous] if i == 0 else [f"m{block}_{i - 1}"]
            layers.append(layer)
            constraints += checks
        main = layers[-1]["name"]
        if rng.random() < 0.3:  # a chain link: no merge
            previous = main
            continue
        shortcut = previous
        if rng.random() < 0.7:
            shortcut = f"s{block}"
            layers.append({"name": shortcut, "type": "conv2d", "out_channels": {"choice": [4, 6]} if channels else 4,
                           "kernel": {"choice": [1, 3]}, "stride": {"choice": [1, 2]}, "padding": {"choice": [0, 1]}, "inputs": [previous]})
        merge = rng.choice(["add", "add", "mul", "concat"])
        layers.append({"name": f"j{block}", "type": merge, "inputs": [main, shortcut]})
        previous = f"j{block}"
    lo = rng.randint(1, 10)
    return space_of(layers, lo=lo, hi=lo + rng.randint(0, 30), constraints=constraints, channels=4 if rng.random() < 0.7 else 6)


@settings(max_examples=80, derandomize=True, deadline=None)
@given(st.integers(0, 10**6))
def test_random_residual_networks_count_over_intervals_as_the_table_does(seed):
    space = random_network(random.Random(seed))
    programme = programme_of(space)
    assert programme is not None  # convs and pools step by 0 or 1: every such network is covered
    assert programme.count() == table_count(space)


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.integers(0, 10**6))
def test_networks_with_transposed_convs_count_as_the_table_does_or_go_to_it(seed):
    space = random_network(random.Random(seed), transposed=True)
    programme = programme_of(space)
    assert ops.count(space).valid == table_count(space)
    if programme is not None:
        assert programme.count() == table_count(space)


def test_shipped_residual_spaces_count_over_intervals_as_the_table_does():
    for name in ("res-6", "res-20"):
        space = load_space(ROOT / f"configs/bench/{name}.yaml")
        programme = programme_of(space)
        assert programme is not None and programme.count() == table_count(space) > 10**6


def test_small_spaces_count_over_intervals_as_the_table_does():
    """(test_solve checks the table against brute force on them.)"""
    covered = [name for name, make in sorted(SPACES.items()) if programme_of(make()) is not None]
    assert {"residual", "stacked_residual", "chain", "activations"} <= set(covered)
    for name in covered:
        space = SPACES[name]()
        assert programme_of(space).count() == table_count(space)


def test_untied_axes_over_one_range_count_over_one_interval(brute_force):
    """Height and width move apart, over the same sizes: every axis acts alike, one interval holds both."""
    space = Space.from_config({
        "name": "s", "input": {"channels": 4, "height": {"range": [5, 11]}, "width": {"range": [5, 11]}},
        "layers": [conv("c1"), pool("p1"), conv("s1", inputs=["input"]), {"name": "a1", "type": "add", "inputs": ["p1", "s1"]},
                   conv("c2", stride=(1,))]})
    assert not space.input.tied
    programme = programme_of(space)
    assert programme is not None and programme.count() == len(brute_force(space)) > 0


def test_what_intervals_cannot_hold_goes_to_the_table():
    # a transposed conv before a merge steps by 2; a size target reads one input size; a parameter read twice
    for name in ("transposed_concat", "stacked_residual_target", "constraints_and_ties"):
        assert programme_of(SPACES[name]()) is None, name
    # inputs in steps of 2 are no interval once the input is compared at every size
    assert programme_of(Space.from_config({
        "name": "s", "input": {"channels": 4, "size": {"range": [6, 16], "step": 2}},
        "layers": [conv("c1"), conv("s1", inputs=["input"]), {"name": "a1", "type": "add", "inputs": ["c1", "s1"]}]})) is None


def test_a_layer_no_combo_builds_leaves_nothing_to_count_or_draw():
    space = space_of([conv("c1"), conv("s1", inputs=["input"]), {"name": "a1", "type": "add", "inputs": ["c1", "s1"]},
                      pool("p1")], constraints=["p1.padding > p1.kernel"])
    programme = programme_of(space)
    assert programme is not None and programme.count() == 0
    assert ops.sample(space, 5) == []
    # ... and when the segment's first layer is valid at no size its rows cover (a dilated kernel spans 13), the next has no row
    space = space_of([conv("c1", kernel=(7,), padding=(0,), dilation=2), conv("c2"), conv("s1", inputs=["input"]),
                      {"name": "a1", "type": "add", "inputs": ["c2", "s1"]}], lo=3, hi=5)
    programme = programme_of(space)
    assert programme is not None and programme.count() == 0


def test_merged_channels_decide_later_merges(brute_force):
    """A concat adds its inputs' channels (4 + 4): the add after it takes only the conv making 8."""
    space = space_of([
        conv("c1", kernel=(1, 3)), conv("s1", kernel=(1, 3), inputs=["input"]), {"name": "j1", "type": "concat", "inputs": ["c1", "s1"]},
        conv("c2", kernel=(1, 3), out_channels={"choice": [8, 12]}), {"name": "j2", "type": "add", "inputs": ["c2", "j1"]},
        conv("c3", kernel=(1, 3), out_channels=6, groups={"choice": [1, 4]}),
    ], lo=4, hi=9)
    programme = programme_of(space)
    assert programme is not None and programme.count() == len(brute_force(space)) > 0


def test_a_merge_of_sizes_stepping_by_two_goes_to_the_table(brute_force):
    """Transposed convs double sizes: their sum takes every other size, no interval, and a later merge compares it."""
    up = {"type": "conv_transpose2d", "out_channels": 4, "kernel": {"choice": [2, 3]}, "stride": 2, "padding": {"choice": [0, 1]},
          "inputs": ["input"]}
    space = space_of([
        {"name": "u1", **up}, {"name": "u2", **up}, {"name": "a1", "type": "add", "inputs": ["u1", "u2"]},
        conv("c1", kernel=(1, 3), stride=(2, 3)), conv("s1", kernel=(1, 2), stride=(2, 3), inputs=["a1"]),
        {"name": "a2", "type": "add", "inputs": ["c1", "s1"]},
    ], lo=3, hi=8)
    assert programme_of(space) is None
    assert ops.count(space).valid == len(brute_force(space)) > 0


class FixedBits:
    """Stands in for a numpy Generator whose further bits are all ``bit``."""

    def __init__(self, bit):
        self.bit = bit

    def integers(self, low, high):
        return high - 1 if self.bit else low


@pytest.mark.parametrize("bit, move", [(0, 0), (1, 1)])
def test_an_exact_draw_reads_more_bits_until_one_share_holds_them(bit, move):
    """Shares 1/3 and 2/3: the first 53 bits floor(2**53 / 3) straddle 1/3, the next bits decide."""
    counts, weight, src = np.array([1, 2], dtype=object), np.array([1, 1]), np.array([0, 1])
    assert intervals._exact(FixedBits(bit), 2**53 // 3, counts, weight, src, 0, 2, 3) == move


@settings(max_examples=15, derandomize=True, deadline=None)
@given(st.integers(0, 10**6))
def test_samples_over_intervals_are_valid_assignments(seed):
    space = random_network(random.Random(seed))
    total = ops.count(space).valid
    drawn = ops.sample(space, 40, seed=seed)
    assert len(drawn) == (40 if total else 0)
    assert all(is_valid(space, assignment) for assignment in drawn)


def test_distinct_samples_over_intervals_are_distinct_and_valid(brute_force):
    space = SPACES["stacked_residual"]()
    valid = set(canonical(brute_force(space)))
    assert programme_of(space) is not None and len(valid) > 400
    drawn = canonical(ops.sample(space, 100, seed=5, replace=False))
    assert len(set(drawn)) == 100 and set(drawn) <= valid


def assert_samples_uniform(brute_force, name, draws_per_assignment=40, seed=7):
    space = SPACES[name]()
    valid = canonical(brute_force(space))
    assert_uniform(canonical(ops.sample(space, draws_per_assignment * len(valid), seed=seed)), valid)


@pytest.mark.parametrize("name", ["residual", "stacked_residual"])
def test_samples_over_intervals_are_uniform_chi_square(brute_force, name):
    assert_samples_uniform(brute_force, name, draws_per_assignment=20 if name == "stacked_residual" else 40)


def test_samples_decided_exactly_are_uniform_too(brute_force, monkeypatch):
    """With no trust in floating point every draw is decided by exact integers (:func:`intervals._exact`)."""
    calls = Counter()
    exact = intervals._exact

    def counted(*args):
        calls["exact"] += 1
        return exact(*args)

    monkeypatch.setattr(intervals, "rounding_slack", lambda moves, total: 2.0)
    monkeypatch.setattr(intervals, "_exact", counted)
    assert_samples_uniform(brute_force, "residual")
    assert calls["exact"] > 1000


@pytest.mark.parametrize("trust", [True, False])
def test_draws_follow_huge_and_tiny_counts(monkeypatch, trust):
    """Counts past what a float holds are shifted; a state whose counts all shift to nothing is drawn exactly."""
    if not trust:
        monkeypatch.setattr(intervals, "rounding_slack", lambda moves, total: 2.0)
    big = 2**1500
    counts = np.array([big, 3 * big, 1, 1, 2], dtype=object)
    src = np.array([0, 1, 2, 3, 4])
    weight = np.array([1, 1, 5, 1, 1])
    starts, ends = np.array([0, 3]), np.array([3, 5])
    totals = np.array([4 * big + 5, 3], dtype=object)
    rng = np.random.default_rng(11)
    draws = 40_000
    state = np.repeat([0, 1], draws // 2)
    picked = intervals._drawn(rng, state, starts, ends, counts, weight, src, totals)
    first, second = Counter(picked[: draws // 2].tolist()), Counter(picked[draws // 2 :].tolist())
    assert set(first) <= {0, 1, 2} and set(second) == {3, 4}
    assert abs(first[1] / (draws // 2) - 0.75) < 0.015 and first[2] == 0
    assert abs(second[4] / (draws // 2) - 2 / 3) < 0.015
