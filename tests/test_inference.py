"""Range-wide inference agrees with evaluating one size at a time, per axis and jointly."""

import itertools

import numpy as np
from hypothesis import given, settings, strategies as st

import convsolve
from convsolve.inference import infer
from convsolve.network import INPUT


def net(layers, size=None, height=None, width=None, channels=2):
    spec = {"channels": channels}
    if size is not None:
        spec["size"] = {"range": list(size)}
    else:
        spec["height"], spec["width"] = {"range": list(height)}, {"range": list(width)}
    return convsolve.load_config({"name": "t", "input": spec, "layers": layers})


def one_size_at_a_time(network, sizes):
    """Reference: push one input size through the layers with plain ints (no arrays)."""
    values = {INPUT: tuple(sizes)}
    for name in network.order[1:]:
        layer = network.layer(name)
        inputs = [values[s] for s in network.inputs_of(name)]
        if any(v is None for v in inputs):
            values[name] = None
        elif layer.family == "merge":
            values[name] = inputs[0] if all(v == inputs[0] for v in inputs) else None
        elif layer.family == "preserve":
            values[name] = inputs[0]
        else:
            outs = [layer.axis_size(a, n) for a, n in enumerate(inputs[0])]
            values[name] = tuple(o for o, _ in outs) if all(ok for _, ok in outs) else None
    return all(v is not None for v in values.values())


conv = st.fixed_dictionaries({
    "type": st.just("conv2d"), "out_channels": st.just(2),
    "kernel": st.integers(1, 5), "stride": st.integers(1, 3), "padding": st.integers(0, 2), "dilation": st.integers(1, 2),
})
pool = st.fixed_dictionaries({
    "type": st.sampled_from(["max_pool2d", "avg_pool2d"]), "kernel": st.integers(2, 3),
    "stride": st.integers(1, 3), "padding": st.integers(0, 1), "ceil_mode": st.booleans(),
})
up = st.fixed_dictionaries({"type": st.just("conv_transpose2d"), "out_channels": st.just(2), "kernel": st.integers(1, 4),
                           "stride": st.integers(1, 3), "padding": st.integers(0, 2)})


@st.composite
def residual_stacks(draw):
    layers = []
    for i, spec in enumerate(draw(st.lists(st.one_of(conv, pool, up), min_size=1, max_size=5))):
        layers.append({"name": f"l{i}", **spec})
    if draw(st.booleans()):
        branch = draw(conv)
        layers.append({"name": "side", "inputs": ["input"], **branch})
        layers.append({"name": "sum", "type": "add", "inputs": [layers[-2]["name"], "side"]})
    return layers


@settings(max_examples=60, derandomize=True, deadline=None)
@given(residual_stacks())
def test_square_sweep_matches_one_size_at_a_time(layers):
    network = net(layers, size=(1, 40))
    valid = network.valid_sizes().sets[0]
    expected = [n for n in range(1, 41) if one_size_at_a_time(network, (n, n))]
    assert list(valid.values) == expected


@settings(max_examples=30, derandomize=True, deadline=None)
@given(residual_stacks())
def test_independent_axes_sweep_the_product(layers):
    network = net(layers, height=(1, 14), width=(3, 17))
    mask = infer(network).valid_mask()
    for (i, h), (j, w) in itertools.product(enumerate(range(1, 15)), enumerate(range(3, 18))):
        assert mask[i, j] == one_size_at_a_time(network, (h, w))


def test_flatten_then_linear_couples_the_axes():
    layers = [
        {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 3},
        {"name": "p", "type": "max_pool2d", "kernel": 2},
        {"name": "f", "type": "flatten"},
        {"name": "fc", "type": "linear", "in_features": 4 * 3 * 5, "out_features": 10},
    ]
    square = net(layers, size=(1, 40))
    assert str(square.valid_sizes()) == "none"  # 3 x 5 is never square
    grid = net(layers, height=(1, 20), width=(1, 20))
    valid = grid.valid_sizes()
    pairs = valid.to_dict()["pairs"]
    expected = [[h, w] for h in range(3, 21) for w in range(3, 21) if 4 * ((h - 2) // 2) * ((w - 2) // 2) == 60]
    assert [8, 12] in expected and [12, 8] in expected
    assert pairs == expected
    assert valid.coupled_by == ("fc",)


def test_vgg_style_head_is_valid_on_one_stride_period():
    layers = [{"name": f"p{i}", "type": "max_pool2d", "kernel": 2} for i in range(5)]
    layers += [{"name": "f", "type": "flatten"}, {"name": "fc", "type": "linear", "in_features": 2 * 7 * 7, "out_features": 10}]
    assert str(net(layers, size=(1, 512)).valid_sizes()) == "224..255"


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.lists(st.one_of(conv, pool), min_size=1, max_size=6))
def test_floor_chains_gain_one_output_per_total_stride(specs):
    """SEMANTICS: a conv/pool chain with total stride S maps n + S to F(n) + 1 wherever both are valid."""
    layers = [{"name": f"l{i}", **spec} for i, spec in enumerate(specs)]
    network = net(layers, size=(1, 200))
    total = int(np.prod([network.layer(name).stride[0] for name in network.order[1:]]))
    result = infer(network)
    last = result.nodes[network.order[-1]]
    sizes, ok = last.sizes[0], last.ok[0]
    for i in range(len(sizes) - total):
        if ok[i] and ok[i + total]:
            assert sizes[i + total] == sizes[i] + 1
        if ok[i]:
            assert ok[i + total]  # monotone: valid stays valid for larger inputs


def test_shapes_reports_the_first_invalid_layer_and_unreached_ones():
    network = net([
        {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 5},
        {"name": "r", "type": "relu"},
    ], size=(1, 8))
    rows = network.shapes([3, 9])
    assert [r.node for r in rows] == ["input", "c", "r"]
    assert rows[0].shape == (2, 3, 9)
    assert rows[1].shape is None and "invalid" in rows[1].problem
    assert rows[2].shape is None and "not reached" in rows[2].problem


def test_channels_flow_through_concat_and_groups_are_checked():
    network = net([
        {"name": "a", "type": "conv2d", "out_channels": 3, "kernel": 1},
        {"name": "b", "type": "conv2d", "out_channels": 5, "kernel": 1, "inputs": ["input"]},
        {"name": "cat", "type": "concat", "inputs": ["a", "b"]},
        {"name": "g", "type": "conv2d", "out_channels": 6, "kernel": 1, "groups": 3},
    ], size=(4, 4))
    report = network.check()
    assert [(v.node, v.cause) for v in report.violations] == [("g", "groups: groups (3) must divide the input channels (8)")]
    rows = network.shapes([4, 4])
    assert rows[3].shape == (8, 4, 4)
    assert rows[4].shape is None and "groups" in rows[4].problem


def test_min_of_independent_axes_with_a_step_is_an_examined_size():
    from convsolve.network import Network

    net = Network.from_config({"input": {"channels": 3, "height": {"range": [8, 40], "step": 8}, "width": {"range": [10, 30], "step": 10}},
                               "layers": [{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": [20, 15]}]})
    assert net.valid_sizes().min == (24, 20)
