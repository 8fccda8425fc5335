"""The layer contract: every fact a layer kind declares holds for its own size rule, by brute force.

For every registered type name, random layers (drawn from the fields the type takes in a config) are
run over input sizes 1..80 and channel counts 1..12, and each declaration is checked against what the
rule does: ``upward_closed`` (valid at n implies valid at n + 1), ``non_decreasing`` (the output never
shrinks where valid), ``constant_output``, ``passes_input_on``, ``rule_key`` (equal keys act alike),
``apply_sizes`` (the array form of ``axis_size``), ``stride_defaults_to_kernel``, ``config_fields`` and
``fields_unknown_to`` (what the loader reads and export writes, in the PyTorch and the ONNX convention).
Then the solver is shown to stay exact for a kind that declares nothing: a layer valid only at even
sizes, and one whose output size goes down and up again.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from convsolve import load_config, ops
from convsolve.errors import ChannelMismatch, ConfigError, InvalidAssignment
from convsolve.io.export import layer_to_config
from convsolve.conventions import CONVENTIONS
from convsolve.layers import LAYER_TYPES, Layer, Size
from convsolve.space import Space

SIZES = np.arange(1, 81, dtype=np.int64)
CHANNELS = range(1, 13)
LAYERS_PER_TYPE = 60
SPATIAL_TYPES = sorted(name for name, (cls, _) in LAYER_TYPES.items() if cls.family != "merge")


Drawn = tuple[str, Layer]
"""A random layer and the convention it was loaded in."""


def random_layer(rng: random.Random, type_name: str) -> Drawn:
    """A layer of ``type_name`` built through the loader, in a random convention, from random values of the fields
    it takes there."""
    cls, rank = LAYER_TYPES[type_name]
    ndim = rank or rng.choice([1, 2, 3])
    specs = {spec.name: spec for spec in dataclasses.fields(cls)}
    while True:
        convention = rng.choice(["pytorch", "onnx"])
        unknown = cls.fields_unknown_to(type_name, CONVENTIONS[convention])
        raw: dict[str, Any] = {"name": "x", "type": type_name}
        for name in (name for name in cls.config_fields(type_name) if name not in unknown):
            metadata = specs[name].metadata
            if not metadata.get("required") and name not in cls.exactly_one_of and rng.random() < 0.3:
                continue
            raw[name] = random_value(rng, name, metadata.get("kind"), metadata.get("min", 0), ndim, type_name)
        if cls.exactly_one_of:
            keep = rng.choice(cls.exactly_one_of)
            raw = {key: value for key, value in raw.items() if key not in cls.exactly_one_of or key == keep}
        axes = {1: ["length"], 2: ["height", "width"], 3: ["depth", "height", "width"]}[ndim]
        config = {"convention": convention, "input": {"channels": 4, **{axis: 8 for axis in axes}}, "layers": [raw]}
        try:
            return convention, load_config(config).layer("x")
        except ConfigError:
            continue  # e.g. a pool padding over half its kernel: draw again


def random_value(rng: random.Random, name: str, kind: Any, minimum: int, ndim: int, type_name: str) -> Any:
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "scales":
        return rng.choice([0.3, 0.5, 1.0, 1.5, 2.0, 2.5, 1 / 3])
    if kind == "padding":
        low = -4 if type_name == "pad" else 0
        return [[rng.randint(low, 3), rng.randint(low, 3)] for _ in range(ndim)]
    if kind == "axes":
        return [rng.randint(minimum, minimum + 5) for _ in range(ndim)]
    if name == "groups":
        return rng.choice([1, 2, 3])
    return rng.randint(minimum, minimum + 11)


def layers_of(type_name: str) -> list[Drawn]:
    rng = random.Random(f"contract-{type_name}")
    return [random_layer(rng, type_name) for _ in range(LAYERS_PER_TYPE)]


def rule(layer: Layer, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Output sizes and validity over :data:`SIZES`, one size at a time (ints, as diagnosis asks)."""
    pairs = [layer.axis_size(axis, int(n)) for n in SIZES]
    return np.array([int(out) for out, _ in pairs]), np.array([bool(ok) for _, ok in pairs])


def channels_of(layer: Layer) -> list[int | None]:
    out: list[int | None] = []
    for channels in CHANNELS:
        try:
            out.append(layer.out_channels_for(channels))
        except ChannelMismatch:
            out.append(None)
    return out


@pytest.fixture(scope="module", params=SPATIAL_TYPES)
def kind(request: Any) -> tuple[str, list[Drawn]]:
    return request.param, layers_of(request.param)


def test_every_declared_fact_holds_for_the_size_rule(kind):
    type_name, layers = kind
    for _, layer in layers:
        for axis in range(layer.ndim):
            out, ok = rule(layer, axis)
            where = f"{layer} on axis {axis}"
            if layer.upward_closed():
                assert not (ok[:-1] & ~ok[1:]).any(), (
                    f"{where}: declared upward-closed, but valid at {SIZES[:-1][ok[:-1] & ~ok[1:]][:5]} and not one larger"
                )
            if layer.non_decreasing() and ok.any():
                valid_out = out[ok]
                assert (np.diff(valid_out) >= 0).all(), f"{where}: declared non-decreasing, but its valid outputs are {valid_out[:20]}"
            if layer.constant_output():
                assert len(set(out[ok].tolist())) <= 1, f"{where}: declared constant, but gives {sorted(set(out[ok].tolist()))[:10]}"
            if layer.passes_input_on():
                assert ok.all() and (out == SIZES).all(), f"{where}: declared to pass its input on"
            if layer.keeps_size():
                assert ok.all() and (out == SIZES).all(), f"{where}: declared to keep the size"
            array_out, array_ok = layer.apply_sizes(axis, SIZES[None, :])
            assert (array_ok[0] == ok).all() and (array_out[0][ok] == out[ok]).all(), f"{where}: apply_sizes differs from axis_size"
        if layer.passes_input_on():
            assert channels_of(layer) == list(CHANNELS), f"{layer}: declared to pass its input on, but changes channels"


@pytest.mark.parametrize("raw", [
    {"type": "conv2d", "out_channels": 2, "kernel": 3, "padding": 1},
    {"type": "conv2d", "out_channels": 2, "kernel": 3, "dilation": 2, "padding": [[1, 3], [2, 2]]},
    {"type": "conv1d", "out_channels": 2, "kernel": 4, "padding": "same"},
    {"type": "max_pool2d", "kernel": 3, "stride": 1, "padding": 1, "ceil_mode": True},
    {"type": "avg_pool2d", "kernel": [3, 1], "stride": 1, "padding": [1, 0]},
])
def test_size_keeping_windows_declare_it_and_keep_it(raw: dict[str, Any]) -> None:
    """Random draws rarely keep the size (stride 1, padding = window - 1): these do, and the rule agrees."""
    ndim = int(raw["type"][-2])
    axes = {1: ["length"], 2: ["height", "width"]}[ndim]
    layer = load_config({"input": {"channels": 2, **{axis: 8 for axis in axes}}, "layers": [{"name": "x", **raw}]}).layer("x")
    assert layer.keeps_size()
    for axis in range(ndim):
        out, ok = rule(layer, axis)
        assert ok.all() and (out == SIZES).all()
    assert not layer.replaced(stride=2).keeps_size() and not layer.replaced(kernel=5).keeps_size()


def test_select_passes_one_input_on_whatever_the_others_are() -> None:
    from convsolve.layers import Select

    pick = Select(type="select", ndim=2, index=1)
    sizes = [np.array([3, 0, 7]), np.array([5, 6, 9])]
    out, agree = pick.merged_size(sizes)
    assert out.tolist() == [5, 6, 9] and agree is True
    assert pick.merged_channel_counts([np.array([4]), np.array([8])])[0].tolist() == [8]
    assert pick.merged_receptive([(1, 1), (2, 1)], [(3, 1), (9, 1)]) == ((2, 1), (9, 1))
    assert not pick.keeps_size() and not pick.passes_input_on() and not pick.requires_equal_sizes()
    assert Select(type="select", ndim=2, index=0).keeps_size()


def test_layers_with_one_rule_key_act_alike(kind):
    _, layers = kind
    groups: dict[Any, list[Layer]] = {}
    for _, layer in layers:
        key = layer.rule_key()
        if key is not None:
            groups.setdefault((layer.ndim, key), []).append(layer)
    for members in groups.values():
        first = members[0]
        for other in members[1:]:
            for axis in range(first.ndim):
                (out_a, ok_a), (out_b, ok_b) = rule(first, axis), rule(other, axis)
                assert (ok_a == ok_b).all() and (out_a[ok_a] == out_b[ok_b]).all(), f"{first} and {other} share a rule key"
            assert channels_of(first) == channels_of(other), f"{first} and {other} share a rule key but not channels"


def test_config_fields_round_trip_through_export(kind):
    type_name, layers = kind
    for convention, layer in layers:
        written = layer_to_config(layer)
        assert set(written) - {"type"} <= set(layer.config_fields(type_name)) - layer.fields_unknown_to(type_name, CONVENTIONS[convention])
        axes = {1: ["length"], 2: ["height", "width"], 3: ["depth", "height", "width"]}[layer.ndim]
        config = {"convention": convention, "input": {"channels": 4, **{a: 8 for a in axes}}, "layers": [{"name": "x", **written}]}
        reloaded = load_config(config).layer("x")
        assert reloaded == layer, f"{written} loads as {reloaded}, not {layer}"


@pytest.mark.parametrize("type_name", SPATIAL_TYPES)
def test_a_stride_left_out_is_the_kernel_exactly_where_declared(type_name):
    cls, rank = LAYER_TYPES[type_name]
    if "stride" not in cls.config_fields(type_name):
        assert not cls.stride_defaults_to_kernel
        return
    convention, layer = random_layer(random.Random(type_name), type_name)
    written = {key: value for key, value in layer_to_config(layer).items() if key != "stride"}
    written["kernel"] = [2 + axis for axis in range(layer.ndim)]
    axes = {1: ["length"], 2: ["height", "width"], 3: ["depth", "height", "width"]}[layer.ndim]
    config = {"convention": convention, "input": {"channels": 4, **{a: 8 for a in axes}}, "layers": [{"name": "x", **written}]}
    try:
        loaded = load_config(config).layer("x")
    except ConfigError:  # a padding over half the new kernel: nothing to learn here
        return
    expected = tuple(written["kernel"]) if cls.stride_defaults_to_kernel else (1,) * layer.ndim
    assert getattr(loaded, "stride") == expected


def test_tunable_fields_are_repair_kinds_the_layer_has():
    from convsolve.ops.repair import KINDS

    for type_name, (cls, _) in LAYER_TYPES.items():
        assert set(cls.tunable) <= set(KINDS), type_name
        names = {spec.name for spec in dataclasses.fields(cls)}
        assert set(cls.tunable) <= names, type_name


# --- a kind that declares nothing is counted exactly -------------------------------------------


@dataclass(frozen=True)
class EvenOnly(Layer):
    """Valid only at even sizes (a divisibility rule), declaring nothing."""

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        return n, (n % 2 == 0) & (n >= 1)


@dataclass(frozen=True)
class Fold(Layer):
    """Output ``n mod 5 + 1``: valid everywhere, the size goes down and up again; declares nothing."""

    def axis_size(self, axis: int, n: Size) -> tuple[Size, Any]:
        return n % 5 + 1, n >= 1


@pytest.fixture
def undeclared_kinds(monkeypatch):
    monkeypatch.setitem(LAYER_TYPES, "even_only", (EvenOnly, None))
    monkeypatch.setitem(LAYER_TYPES, "fold", (Fold, None))


def brute_force(space: Space) -> list[str]:
    """Every valid assignment (as sorted JSON), checked by inference at every input size."""
    names = list(space.params)
    valid = []
    for values in itertools.product(*[space.params[name].values for name in names]):
        assignment = dict(zip(names, values))
        try:
            network = space.fixed(assignment)
        except InvalidAssignment:
            continue
        inference = network.infer()
        if not inference.static and inference.valid_mask().all():
            valid.append(json.dumps(assignment, sort_keys=True))
    return sorted(valid)


def conv(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 2, 3]},
            "stride": {"choice": [1, 2]}, "padding": {"choice": [0, 1]}, **extra}


UNDECLARED_SPACES = {
    "even_only_in_a_chain": [conv("a"), {"name": "e", "type": "even_only"}, conv("b")],
    "fold_before_convs": [conv("a"), {"name": "f", "type": "fold"}, conv("b"), conv("c")],
    "fold_in_a_branch": [conv("a"), {"name": "f", "type": "fold"}, conv("b"), conv("s", inputs=["a"]),
                         {"name": "m", "type": "add", "inputs": ["b", "s"]}],
    "even_only_after_a_merge": [conv("a"), conv("s", inputs=["input"]), {"name": "m", "type": "add", "inputs": ["a", "s"]},
                                {"name": "e", "type": "even_only"}, conv("b")],
}


@pytest.mark.parametrize("name", sorted(UNDECLARED_SPACES))
def test_a_kind_declaring_nothing_is_counted_enumerated_and_sampled_exactly(undeclared_kinds, name):
    space = Space.from_config({"input": {"channels": 4, "size": {"range": [5, 13]}}, "layers": UNDECLARED_SPACES[name]})
    valid = brute_force(space)
    assert ops.count(space).valid == len(valid)
    assert sorted(json.dumps(a, sort_keys=True) for a in ops.enumerate_assignments(space)) == valid
    assert all(json.dumps(a, sort_keys=True) in valid for a in ops.sample(space, 20, seed=1))


def test_pixel_unshuffle_probed_at_the_smallest_size_only(undeclared_kinds):
    """Regression: a pixel_unshuffle was checked at the smallest size only (count 0, yet 4 assignments enumerated)."""
    space = Space.from_config({"input": {"channels": 4, "size": {"range": [8, 9]}}, "layers": [
        {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 3]}, "padding": 1},
        {"name": "p", "type": "pixel_unshuffle", "downscale_factor": 2},
        {"name": "d", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 2]}}]})
    assert brute_force(space) == []
    assert ops.count(space).valid == 0 and list(ops.enumerate_assignments(space)) == []


def test_broadcast_add_agreeing_at_the_smallest_size_only():
    """Regression: an unfused (broadcast) add was compared at the smallest input size only (count 4, not 2)."""
    space = Space.from_config({"input": {"channels": 4, "size": {"range": [8, 9]}}, "layers": [
        {"name": "a", "type": "conv2d", "out_channels": 4, "kernel": 3, "stride": 2, "padding": 1},
        {"name": "b", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 2]}, "stride": 2, "inputs": ["input"]},
        {"name": "m", "type": "add", "broadcast": True, "inputs": ["a", "b"]},
        {"name": "d", "type": "conv2d", "out_channels": 4, "kernel": {"choice": [1, 3]}}]})
    valid = brute_force(space)
    assert len(valid) == 2
    assert ops.count(space).valid == 2
    assert sorted(json.dumps(a, sort_keys=True) for a in ops.enumerate_assignments(space)) == valid



def test_a_scaled_size_past_int64_saturates_without_a_warning(recwarn):
    """Regression: two interpolates scaling 2**31 - 1 by 2**31 - 1 overflowed int64 (numpy's cast warning, a negative size)."""
    network = load_config({"input": {"channels": 3, "size": 2**31 - 1}, "layers": [
        {"name": "a", "type": "interpolate", "scale_factor": 2**31 - 1}, {"name": "b", "type": "interpolate", "scale_factor": 2**31 - 1}]})
    assert network.check().ok
    assert network.shapes([2**31 - 1])[-1].shape == (3, 2**62)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
