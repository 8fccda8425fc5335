"""The DAG programme against brute force: counts, enumeration, samples, pruning and suggestions agree."""

import random

import numpy as np
import pytest
from constraint import BacktrackingSolver
from hypothesis import given, settings
from hypothesis import strategies as st

from convsolve import ops
from convsolve.errors import ConfigError, UsageError
from convsolve.sizesets import SizeRange
from convsolve.solve import compile_problem, engine
from convsolve.space import Space
from small_spaces import SPACES, canonical, conv, pool, space_of
from uniformity import assert_uniform


@pytest.fixture(scope="module", params=sorted(SPACES))
def case(brute_force, request):
    space = SPACES[request.param]()
    return space, brute_force(space)


def test_count_equals_brute_force(case):
    space, valid = case
    assert valid, "each test space has valid assignments"
    result = ops.count(space)
    assert result.valid == len(valid)
    assert result.total == space.total


def test_enumerate_yields_exactly_the_valid_assignments_in_a_stable_order(case):
    space, valid = case
    listed = list(ops.enumerate_assignments(space))
    assert canonical(listed) == canonical(valid)
    assert listed == list(ops.enumerate_assignments(space))
    assert list(ops.enumerate_assignments(space, limit=3)) == listed[:3]


def test_prune_keeps_exactly_the_supported_values(case):
    space, valid = case
    result = ops.prune(space)
    for name, param in space.params.items():
        expected = tuple(v for v in param.values if any(row[name] == v for row in valid))
        assert result.domains[name] == expected, name


def test_suggest_agrees_with_filtering_brute_force(case):
    space, valid = case
    name = next(iter(space.params))
    for value in space.params[name].values:
        result = ops.suggest(space, {name: value})
        matching = [row for row in valid if row[name] == value]
        assert result.valid == len(matching)
        if not matching:
            assert result.reason
            continue
        for other, param in space.params.items():
            assert result.domains[other] == tuple(v for v in param.values if any(r[other] == v for r in matching))


def test_python_constraint_backtracking_finds_the_same_solutions(case):
    space, valid = case
    dag = compile_problem(space).getSolutions()
    assert canonical(dag) == canonical(valid)
    if space.total <= 3000:
        backtracking = compile_problem(space, BacktrackingSolver()).getSolutions()
        assert canonical(backtracking) == canonical(valid)


def test_samples_are_valid_and_reproducible(case):
    space, valid = case
    drawn = ops.sample(space, 50, seed=3)
    assert drawn == ops.sample(space, 50, seed=3)
    assert set(canonical(drawn)) <= set(canonical(valid))
    distinct = ops.sample(space, len(valid), seed=1, replace=False)
    assert canonical(distinct) == canonical(valid)
    with pytest.raises(UsageError):
        ops.sample(space, len(valid) + 1, replace=False)


def test_samples_are_uniform_chi_square(brute_force):
    space = SPACES["residual"]()
    valid = canonical(brute_force(space))
    assert_uniform(canonical(ops.sample(space, 40 * len(valid), seed=7)), valid)


def test_infeasible_partial_assignment_says_why():
    space = SPACES["chain"]()
    result = ops.suggest(space, {"c1.kernel": 5, "c1.stride": 2, "c1.padding": 0, "c2.kernel": 7})
    if result.valid == 0:
        assert "layer" in result.reason
    with pytest.raises(UsageError, match="unknown parameter"):
        ops.suggest(space, {"nope": 1})
    with pytest.raises(UsageError, match="not in its domain"):
        ops.suggest(space, {"c1.kernel": 4})


@settings(max_examples=25, derandomize=True, deadline=None)
@given(st.data())
def test_random_small_residual_spaces_count_like_brute_force(brute_force, data):
    rng = random.Random(data.draw(st.integers(0, 10**6)))
    layers = []
    previous = "input"
    for block in range(data.draw(st.integers(1, 2))):
        kernels = tuple(sorted(rng.sample([1, 2, 3, 5], 2)))
        main = conv(f"m{block}", kernel=kernels, stride=(1, 2), padding=(0, 1))
        layers.append(main)
        if rng.random() < 0.5:
            layers.append({"name": f"s{block}", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 3]},
                           "stride": {"choice": [1, 2]}, "padding": {"choice": [0, 1]}, "inputs": [previous]})
            layers.append({"name": f"a{block}", "type": "add", "inputs": [f"m{block}", f"s{block}"]})
            previous = f"a{block}"
        else:
            previous = f"m{block}"
    space = space_of(layers, lo=rng.randint(3, 8), hi=rng.randint(9, 16))
    assert ops.count(space).valid == len(brute_force(space))


@pytest.mark.parametrize("input_spec", [
    {"height": {"range": [5, 9]}, "width": {"range": [7, 12]}},
    {"height": {"range": [6, 6]}, "width": {"range": [4, 10], "step": 3}},
])
def test_independent_axes_count_like_brute_force(brute_force, input_spec):
    layers = [
        {"name": "c1", "type": "conv2d", "out_channels": 4, "kernel": [{"choice": [1, 3, 5]}, {"choice": [3, 7]}],
         "stride": {"choice": [1, 2]}, "padding": [{"choice": [0, 1]}, 0]},
        pool("p1"),
        {"name": "s1", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 3]}, "stride": {"choice": [1, 2, 4]}, "inputs": ["input"]},
        {"name": "a1", "type": "add", "inputs": ["p1", "s1"]},
    ]
    space = Space.from_config({"name": "s", "input": {"channels": 4, **input_spec}, "layers": layers})
    valid = brute_force(space)
    assert ops.count(space).valid == len(valid)
    assert canonical(ops.enumerate_assignments(space)) == canonical(valid)


def test_one_dimensional_space_counts_like_brute_force(brute_force):
    layers = [
        {"name": "c1", "type": "conv1d", "out_channels": 2, "kernel": {"choice": [1, 3, 5, 7]}, "stride": {"choice": [1, 2, 3]},
         "dilation": {"choice": [1, 2]}},
        {"name": "p1", "type": "avg_pool1d", "kernel": {"choice": [2, 3]}, "ceil_mode": {"choice": [False, True]}},
        {"name": "u1", "type": "interpolate", "scale_factor": 1.5},
    ]
    space = Space.from_config({"name": "s", "input": {"channels": 2, "length": {"range": [4, 30]}}, "layers": layers})
    assert ops.count(space).valid == len(brute_force(space))


def hand_jump_and_field(layers_values):
    """Jump and receptive field of a conv/pool chain, by the textbook recurrence."""
    jump, field = 1, 1
    for kernel, stride in layers_values:
        field += (kernel - 1) * jump
        jump *= stride
    return jump, field


def test_stride_and_receptive_field_targets_match_the_textbook_recurrence(brute_force):
    layers = [conv("c1", kernel=(1, 3, 5, 7)), pool("p1"), conv("c2", kernel=(1, 3))]
    targets = [{"node": "c2", "stride": 4}, {"node": "c2", "receptive_field": {"min": 9, "max": 15}}]
    space = space_of(layers, lo=12, hi=20, targets=targets)
    plain = space_of(layers, lo=12, hi=20)
    expected = []
    for row in brute_force(plain):
        jump, field = hand_jump_and_field([(row[f"{layer}.kernel"], row[f"{layer}.stride"]) for layer in ("c1", "p1", "c2")])
        if jump == 4 and 9 <= field <= 15:
            expected.append(row)
    assert expected
    assert canonical(ops.enumerate_assignments(space)) == canonical(expected)
    assert canonical(compile_problem(space).getSolutions()) == canonical(expected)
    small = space_of([conv("c1", kernel=(3, 5)), pool("p1")], lo=12, hi=14, targets=[{"node": "p1", "stride": 4}])
    assert canonical(compile_problem(small, BacktrackingSolver()).getSolutions()) == canonical(ops.enumerate_assignments(small))


def test_receptive_field_through_a_residual_merge_takes_the_wider_branch():
    layers = [conv("c1", kernel=(3, 5), stride=(1,), padding=(1, 2)), conv("s1", kernel=(1,), stride=(1,), padding=(0,), inputs=["input"]),
              {"name": "a1", "type": "add", "inputs": ["c1", "s1"]}]
    space = space_of(layers, targets=[{"node": "a1", "receptive_field": {"min": 5}}])
    rows = list(ops.enumerate_assignments(space))
    assert rows and all(row["c1.kernel"] == 5 for row in rows)


def test_first_solutions_depth_first_or_from_the_table_are_the_same(monkeypatch):
    space = SPACES["transposed_concat"]()
    depth_first = list(ops.enumerate_assignments(space, limit=5))
    monkeypatch.setattr(engine, "DEPTH_FIRST_EXPANSIONS_PER_UNIT", 0)  # no budget: the table answers
    assert list(ops.enumerate_assignments(space, limit=5)) == depth_first
    monkeypatch.setattr(engine, "DEPTH_FIRST", 0)
    assert list(ops.enumerate_assignments(space, limit=5)) == depth_first


def test_depth_first_reuses_moves_only_between_links_that_act_alike(monkeypatch):
    """Kernel 1 keeps the size, so every link sees the first state again; c2 and c3 differ only in their names
    (their constraints too), c1 has no constraint and c4 another one: only c2 and c3 may share moves."""
    from convsolve.solve.depth_first import chain_signature
    from convsolve.solve.plan import make_plan
    from convsolve.solve.programme import Programme

    link = {"kernel": (1, 3), "stride": (1,), "padding": (0, 1)}
    space = space_of([conv(f"c{i}", **link) for i in range(1, 5)] + [pool("p1")], lo=5, hi=9,
                     constraints=["c2.padding <= c2.kernel // 2", "c3.padding <= c3.kernel // 2", "c4.kernel >= 3"])
    programme = Programme(make_plan(space), space)
    signatures = [chain_signature(programme, index) for index in range(4)]
    assert signatures[1] == signatures[2] and len({signatures[0], signatures[1], signatures[3]}) == 3
    depth_first = list(ops.enumerate_assignments(space, limit=200))
    assert depth_first[0]["c4.kernel"] == 3 and depth_first[0]["c3.kernel"] == 1
    monkeypatch.setattr(engine, "DEPTH_FIRST", 0)  # the table answers
    assert list(ops.enumerate_assignments(space, limit=200)) == depth_first


def test_a_tied_parameter_is_remembered_only_while_a_layer_notices_it():
    """k keeps every conv's size, so the convs after e1 build their layers with any k; j changes d3's size,
    and q is a pool, so d3 reads j and q reads k from the state."""
    from convsolve.solve.plan import make_plan

    steps = {step.node: step for step in make_plan(SPACES["unnoticed_tie"]()).steps}
    assert [steps[n].assumed for n in ("e2", "d1", "d3", "q")] == [(("k", 0),), (("k", 0),), (), ()]
    assert steps["d3"].old_params == ("j",) and steps["q"].old_params == ("k",)


def test_count_does_not_depend_on_the_order_layers_are_written():
    """res-12 with every shortcut written before its conv/pool pair: another elimination order, the same count."""
    from pathlib import Path

    from convsolve.io.config import read_config

    path = Path(__file__).resolve().parent.parent / "configs" / "bench" / "res-12.yaml"
    data = read_config(path)
    layers, reordered, i = list(data["layers"]), [], 0
    while i < len(layers):
        if layers[i]["name"].startswith("conv") and layers[i + 2]["name"].startswith("shortcut"):
            conv = dict(layers[i], inputs=list(layers[i + 2]["inputs"]))
            reordered += [layers[i + 2], conv, layers[i + 1]]
            i += 3
        else:
            reordered.append(layers[i])
            i += 1
    data["layers"] = reordered
    assert ops.count(Space.from_config(data)).valid == ops.count(Space.from_config(read_config(path))).valid


@pytest.mark.parametrize("at", [30, 15])  # beyond the range; inside it but off its step
def test_a_size_target_at_an_input_size_outside_the_sweep_is_a_clear_error(at):
    space = space_of([conv("c1"), pool("p1")], lo=8, hi=20, step=2, targets=[{"node": "p1", "size": 4, "at": at}])
    with pytest.raises(ConfigError, match=f"'p1' is at input size {at}, which the input range 8..20 \\(step 2\\) does not contain"):
        ops.count(space)


def test_a_table_keeping_too_much_over_all_its_steps_stops_naming_the_layer(monkeypatch):
    from convsolve.errors import SolverLimit
    from convsolve.solve import programme

    space = space_of([conv(f"c{i}") for i in range(6)], lo=5, hi=40)
    monkeypatch.setattr(programme, "MAX_KEPT", 100)
    with pytest.raises(SolverLimit, match=r"layer 'c\d': the solver would hold [\d,]+ states and moves over the layers up to here"):
        ops.sample(space, 3)
    monkeypatch.setattr(programme, "MAX_KEPT", 10**9)
    assert len(ops.sample(space, 3)) == 3


def test_inputs_too_large_to_tabulate_are_computed_from_the_sizes_themselves(brute_force):
    # a table of every size up to 2**31 would take 16 GiB: the answer must come without one
    import tracemalloc

    layers = [conv("c1"), pool("p1"), conv("s1", inputs=["input"]), {"name": "a1", "type": "add", "inputs": ["p1", "s1"]}]
    space = space_of(layers, lo=2**31 - 40, hi=2**31 - 1)
    tracemalloc.start()  # NumPy reports its arrays to tracemalloc
    try:
        assert ops.count(space).valid == len(brute_force(space))
        assert len(ops.sample(space, 3)) == 3
        assert tracemalloc.get_traced_memory()[1] < 200 * 2**20
    finally:
        tracemalloc.stop()


def test_sizes_past_two_to_the_31_keep_one_id_per_content():
    """Found by the fuzz campaign: once one row of one or two sizes went to the table, the packed ids of the
    others were read as table rows (IndexError), and a row could get two ids."""
    from convsolve.solve.rows import Sizes

    sizes = Sizes()
    small = np.array([[3, 4], [5, 6]])
    big = np.array([[2**31 + 1, 4], [3, 4], [-1, 0]])
    first, second = sizes.intern(small), sizes.intern(big)
    assert second[1] == first[0]  # the same content, the same id, whatever it was interned with
    assert (sizes.get(2, np.concatenate([first, second])) == np.concatenate([small, big])).all()
    assert (sizes.get(2, sizes.intern(big)) == big).all() and (sizes.intern(big) == second).all()


def test_a_padding_of_two_to_the_31_with_untied_axes_counts_like_brute_force(brute_force):
    space = space_of([conv("c1", padding=(0, 2**31 - 1)), pool("p1", ceil_mode=False)], lo=5, hi=8)
    untied = space.with_input([SizeRange(5, 8), SizeRange(9, 9)], tied=False)
    assert ops.count(untied).valid == len(brute_force(untied))


def test_wide_size_rows_get_one_id_per_content_whether_interned_few_or_many_at_a_time():
    """Up to SMALL_BATCH rows are interned one by one, more are made distinct with numpy first: both ways must
    give a content the same id, and ``get`` must give the content back."""
    from convsolve.solve.rows import SMALL_BATCH, Sizes

    rng = np.random.default_rng(0)
    rows = rng.integers(1, 5, size=(4 * SMALL_BATCH, 7))  # many repeats: 4**7 contents at most
    sizes = Sizes()
    few = sizes.intern(rows[:SMALL_BATCH // 2])
    many = sizes.intern(rows)
    assert (many[: SMALL_BATCH // 2] == few).all()
    _, first = np.unique(rows, axis=0, return_inverse=True)
    first = first.reshape(-1)
    assert len(set(zip(first.tolist(), many.tolist()))) == len(set(first.tolist())) == len(set(many.tolist()))
    assert (sizes.get(7, many) == rows).all()


def test_canonical_sizes_are_remembered_exactly_as_computed():
    """Programme.canonical keeps each sizes id's canonical id once computed: asked again (in another order) it must
    give what computing it gave, and both must be the sizes with every input size that repeats the one before it
    (on every tied axis) dropped, padded with the last; on a residual space whose merged outputs are tracked at
    every size, for the outputs the programme keeps as sets."""
    from convsolve.solve.plan import make_plan
    from convsolve.solve.table import Table

    def canonical_rows(payload, blocks, tied):
        out = payload.copy()
        for group in [blocks] if tied else [[block] for block in blocks]:
            length = group[0][1] - group[0][0]
            for r in range(len(payload)):
                keep = [0] + [i for i in range(1, length) if any(payload[r, a + i] != payload[r, a + i - 1] for a, _ in group)]
                for a, b in group:
                    values = [payload[r, a + i] for i in keep]
                    out[r, a:b] = values + [values[-1]] * (b - a - len(values))
        return out

    space = SPACES["stacked_residual"]()
    table = Table(make_plan(space), space)
    programme, plan = table.programme, table.plan
    rng = np.random.default_rng(0)
    checked = 0
    for index in range(len(table.units)):
        name = programme.alone(index)
        if name is None:
            continue
        column = table.layouts[index + 1].tensors[name] + 1
        reached = np.unique(table.states[index + 1][:, column])
        assert programme.canonical(name, reached).tolist() == reached.tolist()  # the states hold canonical sizes already
        blocks, start = [], 0
        for points in plan.points(name):
            blocks.append((start, start + len(points)))
            start += len(points)
        width = programme.catalogue.width(name)
        payload = rng.integers(1, 4, size=(40, width))
        ids = programme.sizes.intern(payload)
        computed = programme.canonical(name, ids)
        remembered = programme.canonical(name, ids[::-1])
        assert remembered.tolist() == computed[::-1].tolist()
        assert (programme.sizes.get(width, computed) == canonical_rows(payload, blocks, plan.sweep.tied)).all()
        checked += 1
    assert checked


def test_fewer_collections_puts_the_thresholds_back_even_after_an_error():
    import gc

    from convsolve.solve.engine import fewer_collections

    before = gc.get_threshold()
    with pytest.raises(ZeroDivisionError), fewer_collections():
        assert gc.get_threshold() == (100_000, 50, 100)
        1 // 0  # noqa: B018 - the error the context managers see
    assert gc.get_threshold() == before


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_pushed_counts_equal_a_plain_loop_over_the_moves(data):
    """Big counts are summed per (state, weight) first and multiplied once: the sums must be the plain ones."""
    from convsolve.solve.rows import Transitions, pushed_counts

    sources, states = data.draw(st.integers(1, 30)), data.draw(st.integers(1, 12))
    bits = data.draw(st.sampled_from([4, 40, 200]))  # small ones sum in int64, big ones as Python integers
    counts = np.array(data.draw(st.lists(st.integers(0, 2**bits), min_size=sources, max_size=sources)), dtype=object)
    moves = data.draw(st.lists(st.tuples(st.integers(0, sources - 1), st.integers(0, states - 1), st.integers(1, 6)), max_size=80))
    weighted = data.draw(st.booleans())
    src, dst, weight = (np.array(column, dtype=np.int64) for column in zip(*moves)) if moves else (np.zeros(0, np.int64),) * 3
    pushed = pushed_counts(counts, Transitions(src, np.zeros(len(src), np.int64), dst, weight if weighted else None), states)
    expected = [0] * states
    for s, d, w in moves:
        expected[d] += counts[s] * (w if weighted else 1)
    assert pushed.tolist() == expected


def test_the_solver_cache_stays_within_its_bound_and_never_reuses_a_number():
    from convsolve.layers import Conv
    from convsolve.solve.cache import SolverCache

    cache = SolverCache(max_layers=100, max_sizes=1000)
    layers = [Conv(type="conv2d", ndim=2, out_channels=c, kernel=3) for c in range(1, 251)]
    numbers = [cache.serial(layer) for layer in layers]
    assert len(set(numbers)) == 250 and len(cache) <= 100  # a full shelf is emptied, numbers go on
    assert cache.serial(layers[-1]) == numbers[-1]  # an equal layer kept has its number
    for layer in layers[:30]:
        cache.axis_rows(layer, 0, np.arange(40))  # 40 sizes each: at most 1000 sizes are kept
    assert len(cache) <= 100 + 1000 // 40
    out, ok = cache.axis_rows(layers[0], 0, np.arange(40))
    assert (out == np.arange(40) - 2).all() and (ok == (np.arange(40) >= 3)).all()
    cache.clear()
    assert len(cache) == 0 and cache.serial(layers[0]) not in numbers


def test_a_table_with_its_own_cache_counts_alike_and_leaves_the_default_alone(brute_force):
    from convsolve.solve.cache import DEFAULT_CACHE, SolverCache
    from convsolve.solve.plan import make_plan
    from convsolve.solve.table import Table

    space = SPACES["stacked_residual"]()
    DEFAULT_CACHE.clear()
    own = SolverCache()
    assert Table(make_plan(space), space, cache=own).count() == len(brute_force(space))
    assert len(own) > 0 and len(DEFAULT_CACHE) == 0
    assert Table(make_plan(space), space).count() == len(brute_force(space)) and len(DEFAULT_CACHE) > 0
