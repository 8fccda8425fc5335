"""Repair against brute force: the cheapest change is found, is valid, and only it is written."""

import itertools
import math
import random

import pytest
from hypothesis import assume, given, settings, strategies as st

from convsolve.errors import UsageError
from convsolve.io.config import edited_text, read_config
from convsolve.network import Network
from convsolve.ops.repair import KINDS, RepairOptions, repair
from convsolve.sizesets import SizeRange

SMALL = ("kernel=1,3", "stride=1,2", "padding=0,1", "dilation=1,2", "output_padding=0,1")


def brute_force_repair(data, options):
    """The cheapest (weighted changes, numeric change) valid variant, trying every combination of candidate values."""
    network = Network.from_config(data)
    sites = []
    for raw in data["layers"]:
        layer = network.layer(raw["name"])
        for kind in KINDS:
            if raw["name"] in options.freeze or kind not in options.allow or kind not in raw:
                continue
            sites.append((raw, kind, getattr(layer, kind)))
    best = None
    domains = [sorted(set(options.candidates[kind]) | {raw[kind]}) for raw, kind, _ in sites]
    assume(math.prod(len(d) for d in domains) <= 1500)  # keep brute force quick
    for values in itertools.product(*domains):
        trial = {**data, "layers": [dict(raw) for raw in data["layers"]]}
        by_name = {raw["name"]: raw for raw in trial["layers"]}
        cost = shift = 0
        for (raw, kind, _), value in zip(sites, values):
            if value != raw[kind]:
                by_name[raw["name"]][kind] = value
                cost += options.weights[kind]
                shift += abs(value - raw[kind])
        try:
            ok = Network.from_config(trial).check().ok
        except Exception:  # noqa: BLE001 - the oracle counts a config that fails to build, however it fails, as invalid
            continue
        if ok and (best is None or (cost, shift) < best):
            best = (cost, shift)
    return best


def random_network(rng):
    """A small conv/pool network (sometimes with a residual add), with every repairable field written."""
    layers, previous = [], "input"
    for block in range(rng.randint(1, 2)):
        layers.append({"name": f"c{block}", "type": "conv2d", "out_channels": 4, "kernel": rng.choice([1, 3]),
                       "stride": rng.choice([1, 2]), "padding": rng.choice([0, 1])})
        if rng.random() < 0.5:
            layers.append({"name": f"s{block}", "type": "conv2d", "out_channels": 4, "kernel": 1, "stride": rng.choice([1, 2]),
                           "padding": 0, "inputs": [previous]})
            layers.append({"name": f"a{block}", "type": "add", "inputs": [f"c{block}", f"s{block}"]})
            previous = f"a{block}"
        else:
            previous = f"c{block}"
    layers.append({"name": "p", "type": "max_pool2d", "kernel": rng.choice([2, 3]), "stride": 2, "padding": 0})
    lo = rng.randint(3, 8)
    return {"name": "n", "input": {"channels": 4, "size": {"range": [lo, lo + rng.randint(0, 6)]}}, "layers": layers}


@settings(max_examples=12, derandomize=True, deadline=None)
@given(seed=st.integers(0, 10**6), allow=st.sampled_from(["kernel,stride,padding", "padding", "stride,kernel", "stride,padding"]),
       weights=st.sampled_from(["", "kernel=3", "padding=2,stride=1"]))
def test_repair_is_as_cheap_as_brute_force(seed, allow, weights):
    data = random_network(random.Random(seed))
    options = RepairOptions.parse(allow=allow, weights=weights, candidates=SMALL)
    if Network.from_config(data).check().ok:
        assert repair(data, options=options).status == "valid"
        return
    expected = brute_force_repair(data, options)
    result = repair(data, options=options)
    if expected is None:
        assert result.status == "unrepairable"
    else:
        assert result.status == "repaired"
        assert (result.cost, result.shift) == expected
        assert Network.from_config(result.config).check().ok
        assert len(result.changes) == len({(c.node, c.field) for c in result.changes})


def test_repair_keeps_comments_order_and_formatting(tmp_path):
    text = (
        "# my network\n"
        "name: demo   # keep me\n"
        "input: {channels: 3, size: {range: [16, 64]}}\n"
        "layers:\n"
        "  - {name: stem, type: conv2d, out_channels: 8, kernel: [7, 7], stride: 4}  # the stem\n"
        "  - name: pool\n"
        "    type: max_pool2d\n"
        "    kernel: 3\n"
        "\n"
        "  # a deep tail\n"
        "  - {name: tail, type: conv2d, out_channels: 8, kernel: 5, padding: 'valid'}\n"
    )
    path = tmp_path / "net.yaml"
    path.write_text(text)
    result = repair(read_config(path), source=str(path))
    assert result.status == "repaired"
    edited = edited_text(path, result.edits)
    before, after = text.splitlines(), edited.splitlines()
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert changed and all(not before[i].lstrip().startswith("#") for i in changed)
    nodes = {c.node for c in result.changes}
    for i in changed:  # only lines of changed layers differ, and their comments stay
        assert any(node in before[i] for node in nodes) or before[i].startswith("    ")
        if "#" in before[i]:
            assert before[i][before[i].index("#"):] == after[i][after[i].index("#"):]
    repaired = Network.from_config(read_config_text(edited, tmp_path))
    assert repaired.check().ok


def read_config_text(text, folder):
    path = folder / "edited.yaml"
    path.write_text(text)
    return read_config(path)


def test_pool_stride_is_kept_when_its_kernel_changes(tmp_path):
    """A pool's stride defaults to its kernel: changing the kernel must not silently change the stride."""
    data = {"name": "n", "input": {"channels": 3, "size": {"range": [6, 6]}},
            "layers": [{"name": "p", "type": "max_pool2d", "kernel": 7}]}
    result = repair(data, options=RepairOptions.parse(allow="kernel"))
    assert result.status == "repaired"
    assert Network.from_config(result.config).layer("p").stride == (7, 7)
    assert Network.from_config(result.config).check().ok


def test_unrepairable_names_the_conflict_and_the_input_that_works():
    data = read_config("configs/seed/stride_too_large.yaml")
    result = repair(data, options=RepairOptions.parse(allow="kernel", freeze="conv"))
    assert result.status == "unrepairable"
    assert set(result.conflict) == {"down", "conv"}
    assert "13..4096" in result.input_fix
    # relaxing either layer of the conflict makes a repair possible: the set is minimal
    for node in result.conflict:
        others = ",".join(n for n in result.conflict if n != node)
        assert repair(data, options=RepairOptions.parse(freeze=others)).status == "repaired"


def test_no_change_can_fix_a_flattened_size_over_a_range():
    result = repair(read_config("configs/broken/fixed_classifier.yaml"))
    assert result.status == "unrepairable"
    assert result.input_fix.startswith("input in 16..19")


def test_repair_over_a_given_input_range():
    data = read_config("configs/broken/vgg_on_32px.yaml")
    result = repair(data, input_ranges=[SizeRange(32, 224)] * 2)
    assert result.status == "repaired"
    assert Network.from_config(result.config).with_input([SizeRange(32, 224)] * 2, True).check().ok


@pytest.mark.parametrize("option, value", [("allow", "kernal"), ("weights", "kernel=x"), ("weights", "size=2")])
def test_bad_options_are_usage_errors(option, value):
    with pytest.raises(UsageError):
        RepairOptions.parse(**{option: value})


def test_unknown_frozen_layer_is_a_usage_error():
    with pytest.raises(UsageError, match="no layer named 'stemm'"):
        repair(read_config("configs/seed/stride_too_large.yaml"), options=RepairOptions.parse(freeze="stemm"))


def renamed(data, names):
    """``data`` with its layers renamed (``names``: old -> new), inputs included."""
    layers = []
    for raw in data["layers"]:
        layer = {**raw, "name": names[raw["name"]]}
        if "inputs" in raw:
            layer["inputs"] = [names.get(name, name) for name in raw["inputs"]]
        layers.append(layer)
    return {**data, "layers": layers}


@settings(max_examples=10, derandomize=True, deadline=None)
@given(seed=st.integers(0, 10**6), allow=st.sampled_from([None, "padding", "stride,kernel"]))
def test_layer_names_a_constraint_cannot_spell_repair_the_same(seed, allow):
    """A repair names its parameters after the layers (so repeated layers are built once), unless an
    expression cannot spell the name ('layer1.0', 'conv-1'): those take symbols, and the repair is the same."""
    data = random_network(random.Random(seed))
    odd = {raw["name"]: f"layer{i}.{i}" if i % 2 else f"conv-{i}" for i, raw in enumerate(data["layers"])}
    options = RepairOptions.parse(allow=allow, candidates=SMALL)
    plain, spelled = repair(data, options=options), repair(renamed(data, odd), options=options)
    assert (spelled.status, spelled.cost, spelled.shift, spelled.edits) == (plain.status, plain.cost, plain.shift, plain.edits)
    assert [(odd[c.node], c.field, c.before, c.after) for c in plain.changes] == [(c.node, c.field, c.before, c.after) for c in spelled.changes]
    assert spelled.conflict == tuple(odd[node] for node in plain.conflict)


def test_repeated_layers_share_their_built_layers():
    """Layers written alike with the same candidates are twins of the repair space: built once."""
    from convsolve.ops.repair import _network, _repair_space
    from convsolve.solve.plan import make_plan

    data = read_config("configs/broken/vgg_on_32px.yaml")
    network = _network(data, None, None, True)
    space, _ = _repair_space(data, None, network, RepairOptions(), relaxed=())
    twins = {step.node: step.twin for step in make_plan(space).steps}
    assert twins["pool2"] == twins["pool3"] == "pool1"
    assert len(set(twins.values())) < len(twins) // 2


def test_repair_leaves_the_data_alone_and_makes_the_repaired_config_on_demand():
    data = read_config("configs/broken/vgg_on_32px.yaml")
    before = repr(data)
    result = repair(data, input_ranges=[SizeRange(32, 224)] * 2)
    assert result.status == "repaired" and repr(data) == before
    config = result.config
    assert config is result.config and config is not data and repr(data) == before
    for path, value in result.edits:
        assert config["layers"][path[1]][path[2]] == value
    assert repair(read_config("configs/seed/kernel_larger_than_input.yaml"), input_ranges=[SizeRange(9, 9)] * 2).config is None


def restricted_feasible(data, options, restricted):
    """Whether a repair exists that keeps the layers ``restricted`` to what ``options`` allow (every other
    layer may change every kind): a search space of its own per question, as the conflict search once did."""
    from convsolve.ops.repair import _network, _repair_space
    from convsolve.solve.cheapest import cheapest

    network = _network(data, None, None, True)
    layers = [raw["name"] for raw in data["layers"] if raw["type"] == "conv2d" or "pool" in raw["type"]]
    space, _ = _repair_space(data, None, network, options, relaxed=set(layers) - set(restricted))
    return cheapest(space, {}) is not None


@settings(max_examples=40, derandomize=True, deadline=None)
@given(seed=st.integers(0, 10**6), allow=st.sampled_from(["padding", "stride", "kernel", "padding,stride"]))
def test_the_conflict_is_a_minimal_set_of_restricted_layers_that_cannot_stay_restricted(seed, allow):
    data = random_network(random.Random(seed))
    options = RepairOptions.parse(allow=allow, candidates=SMALL)
    result = repair(data, options=options)
    assume(result.status == "unrepairable" and result.conflict)
    assert not restricted_feasible(data, options, result.conflict)
    for node in result.conflict:
        assert restricted_feasible(data, options, [n for n in result.conflict if n != node])


@pytest.mark.parametrize("text", ["kernel", "kernel=x", "kernel=-1", "kernel=1.5", "=2", "kernel=\u0663"])
def test_bad_weights_are_a_usage_error_naming_the_option(text):
    from convsolve.ops.repair import parse_weights

    for kinds_only in (True, False):
        with pytest.raises(UsageError) as caught:
            parse_weights(text, kinds_only=kinds_only)
        assert caught.value.facts["field"] == "--weights"


def test_weights_name_kinds_for_a_network_and_also_parameters_for_a_space():
    from convsolve.ops.repair import parse_weights

    assert parse_weights("kernel=2, stride=0") == {"kernel": 2, "stride": 0}
    assert parse_weights("b1.stride=3,kernel=2", kinds_only=False) == {"b1.stride": 3, "kernel": 2}
    with pytest.raises(UsageError, match="KIND=VALUE"):
        parse_weights("b1.stride=3")


def test_repair_takes_a_path_as_well_as_parsed_data():
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "configs" / "broken" / "vgg_on_32px.yaml"
    by_path = repair(path)
    by_data = repair(read_config(path), source=str(path))
    assert by_path.status == by_data.status == "repaired"
    assert [str(c) for c in by_path.changes] == [str(c) for c in by_data.changes]
    assert by_path.source == str(path)
