"""Diagnostics name the first failing layer, fill in the formula, give the cause, and offer fixes that work."""

import dataclasses
import json

import pytest

import convsolve
from convsolve.conventions import Padding


def net(layers, size=(1, 64), **input_spec):
    spec = {"channels": 1, **({"size": {"range": list(size)}} if not input_spec else input_spec)}
    return convsolve.load_config({"name": "t", "input": spec, "layers": layers})


UNET_LIKE = [
    {"name": "down", "type": "max_pool2d", "kernel": 2},
    {"name": "up", "type": "conv_transpose2d", "out_channels": 1, "kernel": 2, "stride": 2},
    {"name": "skip", "type": "concat", "inputs": ["input", "up"]},
]


def test_merge_of_unequal_sizes_names_both_inputs():
    report = net(UNET_LIKE, size=(8, 64)).check()
    assert not report.ok
    (violation,) = report.violations
    assert violation.node == "skip" and violation.axes == ("height", "width")
    assert violation.at == (9, 9)
    assert "'input' gives 9, 'up' gives 8" in violation.cause
    assert violation.sizes.describe() == "9, 11, ..., 63"
    assert violation.fixes[0] == "input in 8, 10, ..., 64"


def test_only_the_first_failing_layer_is_blamed():
    report = net([
        {"name": "a", "type": "conv2d", "out_channels": 1, "kernel": 5},
        {"name": "b", "type": "conv2d", "out_channels": 1, "kernel": 5},
    ], size=(1, 20)).check()
    blamed = {(v.node, v.sizes.describe()) for v in report.violations}
    assert blamed == {("a", "1..4"), ("b", "5..8")}


def apply_fix(network, fix):
    """Apply a fix text like "b.padding = 1" or "a.kernel = [3, 5]" to the network."""
    target, value = fix.split(" (")[0].split(" = ")
    node, field = target.split(".")
    value = json.loads(value)
    layer = network.layer(node)
    if field == "padding":
        new = Padding(((value, value),) * 2) if isinstance(value, int) else Padding(tuple((v, v) if isinstance(v, int) else tuple(v) for v in value))
    else:
        new = (value,) * 2 if isinstance(value, int) else tuple(value)
    return network.replace_layer(node, dataclasses.replace(layer, **{field: new}))


@pytest.mark.parametrize("layers", [
    [{"name": "a", "type": "conv2d", "out_channels": 1, "kernel": 3, "stride": 4},
     {"name": "b", "type": "conv2d", "out_channels": 1, "kernel": 3},
     {"name": "p", "type": "max_pool2d", "kernel": 3, "stride": 2}],
    [{"name": "a", "type": "conv2d", "out_channels": 1, "kernel": [7, 3], "dilation": 2},
     {"name": "p", "type": "avg_pool2d", "kernel": 2, "ceil_mode": True}],
])
def test_every_offered_fix_removes_its_failure(layers):
    network = net(layers, size=(4, 30))
    report = network.check()
    assert report.violations
    for violation in report.violations:
        field_fixes = [f for f in violation.fixes if not f.startswith("input")]
        assert field_fixes, violation
        for fix in field_fixes:
            fixed = apply_fix(network, fix).check()
            assert all(v.node != violation.node or v.axes != violation.axes for v in fixed.violations), fix
            if "then valid at every size" in fix:
                assert fixed.ok, fix


def test_pool_padding_limit_is_a_violation_at_every_size():
    report = net([{"name": "p", "type": "max_pool2d", "kernel": 2, "padding": 2}]).check()
    (violation,) = report.violations
    assert violation.at is None
    assert violation.cause == "padding: padding (2) must be at most half the kernel (2 // 2 = 1)"
    assert report.valid_sizes.empty


def test_linear_after_flatten_explains_the_feature_count():
    report = net([
        {"name": "p", "type": "max_pool2d", "kernel": 4},
        {"name": "f", "type": "flatten"},
        {"name": "fc", "type": "linear", "in_features": 9, "out_features": 2},
    ], size=(1, 40)).check()
    assert [v.node for v in report.violations] == ["p", "fc"]
    violation = report.violations[1]
    assert violation.formula == "1 features reach it, in_features is 9"
    assert "input in 12..15" in violation.fixes[0]


def test_independent_axes_name_the_failing_axis():
    report = net(
        [{"name": "c", "type": "conv2d", "out_channels": 1, "kernel": [1, 9]}],
        height={"range": [1, 4]}, width={"range": [5, 12]},
    ).check()
    (violation,) = report.violations
    assert violation.axes == ("width",)
    assert violation.sizes.describe() == "5..8"
    assert violation.formula == "floor((5 + 2*0 - 9) / 1) + 1 = -3"


def test_report_serialises():
    data = net(UNET_LIKE, size=(8, 16)).check().to_dict()
    json.dumps(data)
    assert data["valid"] is False
    assert data["valid_sizes"]["values"] == [8, 10, 12, 14, 16]
    assert data["violations"][0]["node"] == "skip"


def test_formula_filled_in_for_ceil_mode_last_window_rule():
    layer = convsolve.load_config({"input": {"channels": 1, "size": 5}, "layers": [
        {"name": "p", "type": "max_pool1d", "kernel": 1, "stride": 3, "ceil_mode": True}]}).layer("p")
    formula, _ = layer.explain(0, 5)
    assert formula == "ceil((5 + 0 - 1) / 3) + 1 = 3, minus 1 as the last window would start at 6 >= 5 + 0: 2"


def test_input_fix_search_stops_at_the_largest_size_range_past_a_huge_input():
    """`check vgg16.yaml --input 1000000:1000010` raised a ValueError traceback: the search for a valid input
    size built a range 1..1000010, more sizes than one range may hold."""
    report = net([
        {"name": "f", "type": "flatten"},
        {"name": "fc", "type": "linear", "in_features": 9, "out_features": 2},
    ], size=(1_000_000, 1_000_010)).check()
    (violation,) = report.violations
    assert violation.fixes[0] == "input in 3 (none of 1000000..1000010 is valid; searched 1..1000000)"


def test_a_fix_every_violation_shares_is_said_once():
    from pathlib import Path

    from convsolve.diagnose import diagnose

    network = convsolve.load(Path(__file__).resolve().parent.parent / "configs" / "unet.yaml")
    report = diagnose(network)
    text = str(report)
    shared = report.shared_fix()
    assert shared.startswith("input in") and len(report.violations) > 2
    assert text.count(shared) == 1 and text.endswith(f"fix for every layer above: {shared}")
    assert "fix: pool4.kernel = 1; or the input below" in text
    assert all(shared in v.fixes for v in report.violations)  # the JSON keeps every violation's fixes whole
