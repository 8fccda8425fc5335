"""The cheapest valid assignment against brute force: same optimal cost, and the answer is valid.

Larger random spaces (repeated residual blocks, shared parameters) are checked against the (min, +)
programme over the whole table, with no bound and no dominance; the lead-size bound is checked to
never exceed the cheapest completion of any reachable state.
"""

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from small_spaces import SPACES, conv, space_of

import convsolve.solve.cheapest as cheapest_module
from convsolve.solve.cheapest import (
    UNREACHABLE,
    CheapestSearch,
    LeadBound,
    cheapest,
    combo_costs,
)
from convsolve.solve.plan import make_plan
from convsolve.solve.programme import Programme
from convsolve.solve.table import Table
from convsolve.space import Space, load_space

BENCH = Path(__file__).resolve().parent.parent / "configs" / "bench"


def total_cost(costs, assignment):
    return sum(costs.get(name, {}).get(value, 0) for name, value in assignment.items())


def random_costs(space, rng):
    return {name: {value: rng.choice([0, 1, 1, 2, 5]) for value in param.values} for name, param in space.params.items()}


def worst_case_costs(space):
    """Every layer at its most shrinking values (largest kernel and stride, no padding), 1 per value changed."""
    worst = {}
    for name, param in space.params.items():
        worst[name] = max(param.values) if name.split(".")[1] in ("kernel", "stride") else min(param.values)
    return {name: {value: int(value != worst[name]) for value in param.values} for name, param in space.params.items()}


def plain_pool(name):
    return {"name": name, "type": "max_pool2d", "kernel": {"choice": [2, 3]}, "stride": {"choice": [1, 2]}, "padding": {"choice": [0, 1]}}


def DEEP_CHAIN():
    """Four layers whose outputs are only probed: the programme drops dominated states here."""
    return space_of([conv("c1", kernel=(1, 3)), plain_pool("p1"), conv("c2", kernel=(3, 5)), plain_pool("p2")], lo=6, hi=12)


def BROADCAST_CONCAT():
    """A squeeze-and-excitation style broadcast mul, a concat, then flatten and linear: the bound keeps no size there."""
    return space_of([
        conv("c1", kernel=(1, 3)),
        {"name": "g", "type": "adaptive_avg_pool2d", "output_size": 1},
        {"name": "m", "type": "mul", "broadcast": True, "inputs": ["c1", "g"]},
        {"name": "c2", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 3, 5]}, "stride": {"choice": [1, 2]}, "inputs": ["input"]},
        {"name": "p2", "type": "max_pool2d", "kernel": {"choice": [1, 2]}, "stride": {"choice": [1, 2]}},
        {"name": "cat", "type": "concat", "inputs": ["m", "p2"]},
        {"name": "f", "type": "flatten"},
        {"name": "fc", "type": "linear", "out_features": 3},
    ], lo=6, hi=14)


def INDEPENDENT_AXES():
    """Height and width over their own ranges: the bound follows the height only."""
    layers = [
        {"name": "c1", "type": "conv2d", "out_channels": 4, "kernel": [{"choice": [1, 3, 5]}, {"choice": [3, 7]}],
         "stride": {"choice": [1, 2]}, "padding": [{"choice": [0, 1]}, 0]},
        plain_pool("p1"),
        {"name": "s1", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 3]}, "stride": {"choice": [1, 2, 4]}, "inputs": ["input"]},
        {"name": "a1", "type": "add", "inputs": ["p1", "s1"]},
    ]
    return Space.from_config({"name": "s", "input": {"channels": 4, "height": {"range": [5, 9]}, "width": {"range": [7, 12]}}, "layers": layers})


MORE_SPACES = {"deep_chain": DEEP_CHAIN, "broadcast_concat": BROADCAST_CONCAT, "independent_axes": INDEPENDENT_AXES}


def random_residual_space(rng, blocks):
    """Repeated residual blocks (conv, maybe a pool, a shortcut conv, add), maybe a kernel shared by every block."""
    shared = rng.random() < 0.3
    kernels = tuple(sorted(rng.sample([1, 2, 3, 5], 2)))
    with_pool = rng.random() < 0.7
    layers, previous = [], "input"
    for block in range(blocks):
        main = conv(f"m{block}", kernel=kernels, stride=(1, 2), padding=(0, 1))
        if shared:
            main["kernel"] = {"param": "k"}
        layers.append(main)
        last = f"m{block}"
        if with_pool:
            layers.append({"name": f"p{block}", "type": "max_pool2d", "kernel": {"choice": [1, 2, 3]}, "stride": {"choice": [1, 2]}})
            last = f"p{block}"
        layers.append({"name": f"s{block}", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 3]},
                       "stride": {"choice": [1, 2]}, "padding": {"choice": [0, 1]}, "inputs": [previous]})
        layers.append({"name": f"a{block}", "type": "add", "inputs": [last, f"s{block}"]})
        previous = f"a{block}"
    lo = rng.randint(4, 12)
    return space_of(layers, lo=lo, hi=lo + rng.randint(0, 12), params={"k": {"choice": list(kernels)}} if shared else None)


def exhaustive(space, costs):
    """Per unit boundary of the whole table, the least cost of completing each state (UNREACHABLE: none)."""
    plan = make_plan(space)
    table = Table(plan, space)
    unit_costs = [combo_costs(unit.step, plan.domains, costs) for unit in table.units]
    to_go = [np.zeros(len(table.states[-1]), dtype=np.int64)]
    for index in range(len(table.units) - 1, -1, -1):
        moves = table.moves[index]
        values = np.full(len(table.states[index]), UNREACHABLE, dtype=np.int64)
        np.minimum.at(values, moves.src, unit_costs[index][moves.combo] + to_go[0][moves.dst])
        to_go.insert(0, np.minimum(values, UNREACHABLE))
    return table, unit_costs, to_go


def is_valid(space, assignment):
    result = space.fixed(assignment).infer()
    return not result.static and result.valid_mask().all()


@pytest.fixture(scope="module", params=sorted(SPACES) + sorted(MORE_SPACES))
def case(brute_force, request):
    space = {**SPACES, **MORE_SPACES}[request.param]()
    return space, brute_force(space)


@settings(max_examples=15, derandomize=True, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_cheapest_cost_equals_brute_force_minimum(case, seed):
    space, valid = case
    costs = random_costs(space, random.Random(seed))
    found = cheapest(space, costs)
    assert found is not None and valid
    assert found.cost == min(total_cost(costs, a) for a in valid)
    assert found.assignment in valid
    assert total_cost(costs, found.assignment) == found.cost


def test_one_search_answers_several_cost_maps_and_stops_at_a_cost_limit(case):
    """A CheapestSearch reuses its table and relaxation across cost maps; ``at_most`` answers only up to a cost."""
    space, valid = case
    search = CheapestSearch(space)
    for seed in range(4):
        costs = random_costs(space, random.Random(seed))
        optimum = min(total_cost(costs, a) for a in valid)
        found = search.run(costs)
        assert found is not None and found.cost == optimum and found.assignment in valid
        for at_most in (0, optimum - 1, optimum):
            limited = search.run(costs, at_most=at_most)
            if at_most < optimum:
                assert limited is None
            else:
                assert limited is not None and limited.cost == optimum


def test_the_bound_never_exceeds_the_cheapest_completion(case):
    space, _ = case
    for seed in range(3):
        table, unit_costs, to_go = exhaustive(space, random_costs(space, random.Random(seed)))
        bound = LeadBound(table.programme, unit_costs)
        for boundary, states in enumerate(table.states):
            assert (bound.of(boundary, states) <= to_go[boundary]).all(), boundary


@settings(max_examples=30, derandomize=True, deadline=None)
@given(seed=st.integers(0, 10**6), blocks=st.integers(1, 4))
def test_random_residual_spaces_cheapest_equals_the_whole_table_minimum(seed, blocks):
    rng = random.Random(seed)
    space = random_residual_space(rng, blocks)
    costs = random_costs(space, rng)
    table, unit_costs, to_go = exhaustive(space, costs)
    bound = LeadBound(table.programme, unit_costs)
    for boundary, states in enumerate(table.states):
        assert (bound.of(boundary, states) <= to_go[boundary]).all(), boundary
    found = cheapest(space, costs)
    if to_go[0][0] >= UNREACHABLE:
        assert found is None
        return
    assert found is not None and found.cost == to_go[0][0]
    assert total_cost(costs, found.assignment) == found.cost
    assert is_valid(space, found.assignment)


def test_repeated_blocks_share_one_enumeration_of_the_relaxation():
    space = random_residual_space(random.Random(5), blocks=4)
    costs = random_costs(space, random.Random(6))
    plan = make_plan(space)
    programme = Programme(plan, space)
    bound = LeadBound(programme, [combo_costs(unit.step, plan.domains, costs) for unit in programme.units])
    assert bound.values is not None
    assert len(bound._segments) <= 2  # the blocks, and the last one (its add is read by nothing)


def test_without_a_bound_the_search_finds_the_same_optimum(monkeypatch):
    space = random_residual_space(random.Random(11), blocks=3)
    costs = random_costs(space, random.Random(12))
    bounded = cheapest(space, costs)
    monkeypatch.setattr(LeadBound, "MOST_MOVES", 0)
    unbounded = cheapest(space, costs)
    assert bounded is not None and unbounded is not None
    assert bounded.cost == unbounded.cost
    assert unbounded.searches == 1
    assert bounded.states <= unbounded.states


@pytest.mark.parametrize(("config", "optimum"), [("chain-12", 10), ("res-12", 19)])
def test_worst_case_repairs_of_the_benchmark_spaces(config, optimum):
    """Every layer at its most shrinking values; the optima are those of the programme without bounds."""
    space = load_space(BENCH / f"{config}.yaml")
    costs = worst_case_costs(space)
    found = cheapest(space, costs)
    assert found is not None and found.cost == optimum
    assert total_cost(costs, found.assignment) == optimum
    assert is_valid(space, found.assignment)
    if config.startswith("chain"):
        assert found.searches == 1  # on a chain the relaxation is the problem itself: the bound is exact


def test_progress_is_reported_and_can_interrupt_the_search():
    class Interrupted(Exception):
        pass

    calls = []

    def on_step(done, total):
        calls.append((done, total))
        if len(calls) == 5:
            raise Interrupted

    space = DEEP_CHAIN()
    with pytest.raises(Interrupted):
        cheapest(space, random_costs(space, random.Random(1)), on_step)
    assert all(0 <= done < total for done, total in calls)


def test_no_valid_assignment_gives_none(brute_force):
    space = space_of([conv("c1", kernel=(7,), padding=(0,))], lo=3, hi=5)
    assert brute_force(space) == []
    assert cheapest(space, {}) is None


def test_the_same_answer_in_every_run():
    space = DEEP_CHAIN()
    costs = random_costs(space, random.Random(7))
    assert len({str(cheapest(space, costs).assignment) for _ in range(3)}) == 1


def test_negative_costs_are_refused():
    space = DEEP_CHAIN()
    with pytest.raises(ValueError, match="non-negative"):
        cheapest(space, {"c1.kernel": {1: -1}})


def test_dropping_dominated_states_keeps_the_optimum_with_fewer_states(monkeypatch):
    space = DEEP_CHAIN()
    costs = random_costs(space, random.Random(3))
    monkeypatch.setattr(LeadBound, "MOST_MOVES", 0)  # no bound: dominance alone
    pruned = cheapest(space, costs)
    monkeypatch.setattr(cheapest_module, "_prunable_boundaries", lambda programme: [False] * len(programme.units))
    full = cheapest(space, costs)
    assert pruned.cost == full.cost
    assert pruned.states < full.states


def classifier(lo, hi, in_features, targets=None):
    """conv (kernel 1..7, padding 0..3) -> flatten -> linear: the linear reads one size only, so most ranges have no repair."""
    config = {"input": {"channels": 1, "size": {"range": [lo, hi]}}, "layers": [
        {"name": "c", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [1, 3, 5, 7]}, "padding": {"choice": [0, 1, 2, 3]}},
        {"name": "f", "type": "flatten"},
        {"name": "fc", "type": "linear", "in_features": in_features, "out_features": 2}]}
    if targets:
        config["targets"] = targets
    return Space.from_config(config)


@pytest.mark.parametrize("lo, hi, in_features", [(8, 12, 64), (8, 8, 64), (8, 8, 100), (8, 9, 64), (5, 5, 9)])
def test_the_ends_check_never_changes_an_answer(brute_force, monkeypatch, lo, hi, in_features):
    space = classifier(lo, hi, in_features)
    costs = random_costs(space, random.Random(lo + hi))
    expected = brute_force(space)
    found = cheapest(space, costs)
    assert (found is None) == (not expected)
    if expected:
        assert found.cost == min(total_cost(costs, a) for a in expected)
    monkeypatch.setattr(cheapest_module, "ENDS_CHECK_AFTER", 10**9)  # never checked
    again = cheapest(space, costs)
    assert (again is None) == (found is None) and (found is None or again.assignment == found.assignment)


def test_the_ends_check_proves_a_range_has_no_valid_assignment(monkeypatch):
    space = classifier(8, 40, 64)  # one size after the conv at every input from 8 to 40: impossible
    search = CheapestSearch(space)
    assert not search.valid_at_ends()
    searches = []
    real = cheapest_module._search
    monkeypatch.setattr(cheapest_module, "_search", lambda *a: searches.append(a[4]) or real(*a))
    assert search.run({"c.kernel": {1: 1, 3: 1, 5: 1, 7: 0}, "c.padding": {0: 0, 1: 1, 2: 1, 3: 1}}) is None
    assert len(searches) <= cheapest_module.ENDS_CHECK_AFTER  # then it stopped (the ends check had its answer)


def test_the_ends_check_holds_where_it_cannot_tell():
    for lo, hi in ((8, 8), (8, 9)):  # the range is its ends: the check would repeat the search
        assert CheapestSearch(classifier(lo, hi, 64)).valid_at_ends()
    assert CheapestSearch(classifier(8, 40, 64, targets=[{"node": "c", "at": 8, "size": 8}])).valid_at_ends()  # targets name sizes
