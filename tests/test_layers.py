"""Every layer's size rule agrees with PyTorch: same output shape, or both refuse.

The oracle is real PyTorch. Each case is a config mapping; :func:`torch_forward` runs the same
mapping through ``torch.nn`` / ``torch.nn.functional`` (batch 1, zero input), and
:func:`convsolve_shape` asks convsolve. "Invalid" on the convsolve side means any of: the loader
refuses the config, a static or channel problem, or some axis with ``ok=False``; on the PyTorch
side, an exception or a tensor with a zero-sized dimension (see :func:`torch_forward`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from extras import require

torch = require("torch")  # the oracle for layer shapes
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import convsolve  # noqa: E402
from convsolve import ConfigError  # noqa: E402

F = torch.nn.functional

pytestmark = pytest.mark.torch

AXES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
MAX_SIZE = {1: 24, 2: 14, 3: 7}
"""Largest input size drawn per spatial rank (3-D kept small for speed)."""


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny tensors run fastest on one thread; several threads thrash on a busy 2-core runner."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def layer_settings(examples: int) -> Any:
    """Deterministic hypothesis settings: the same examples on every run."""
    return settings(
        derandomize=True, database=None, max_examples=examples, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- the two sides ----------------------------------------------------------------------------


class EmptyOutput(Exception):
    """PyTorch produced a tensor with a zero-sized dimension (e.g. ``F.pad`` cropping everything).

    convsolve calls a network valid when every size is >= 1, so an empty tensor counts as invalid.
    """


class Broadcast(Exception):
    """PyTorch's ``+``/``*`` succeeded only by broadcasting unequal shapes.

    convsolve's add/mul deliberately require equal shapes (a size-1 branch broadcasting against a
    full-size one is a shape bug in a CNN), so a broadcast counts as invalid; see
    :func:`test_add_does_not_model_broadcasting`.
    """


def _as_tuple(value: Any, nd: int) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,) * nd


def _is_pairs(padding: Any) -> bool:
    return isinstance(padding, list) and bool(padding) and isinstance(padding[0], list)


def _pairs(padding: Any, nd: int) -> list[tuple[int, int]]:
    if _is_pairs(padding):
        return [tuple(pair) for pair in padding]
    return [(p, p) for p in _as_tuple(padding, nd)]


def _torch_pad(pairs: list[tuple[int, int]]) -> tuple[int, ...]:
    """Per-axis (before, after) pairs in axis order -> F.pad's flat list, last axis first."""
    return tuple(v for pair in reversed(pairs) for v in pair)


def torch_layer(spec: dict[str, Any], inputs: list[Any], nd: int) -> Any:
    """Apply one config layer with PyTorch."""
    kind = spec["type"]
    x = inputs[0]
    if kind.startswith("conv") and not kind.startswith("conv_transpose"):
        padding = spec.get("padding", 0)
        if _is_pairs(padding):  # PyTorch convs pad symmetrically: asymmetric pairs = F.pad, then no padding
            x, padding = F.pad(x, _torch_pad(_pairs(padding, nd))), 0
        module = getattr(torch.nn, f"Conv{nd}d")(
            spec.get("in_channels", x.shape[1]), spec["out_channels"], _as_tuple(spec["kernel"], nd),
            stride=_as_tuple(spec.get("stride", 1), nd),
            padding=padding if isinstance(padding, str) else _as_tuple(padding, nd),
            dilation=_as_tuple(spec.get("dilation", 1), nd), groups=spec.get("groups", 1), bias=False,
        )
        return module(x)
    if kind.startswith("conv_transpose"):
        padding = spec.get("padding", 0)
        module = getattr(torch.nn, f"ConvTranspose{nd}d")(
            spec.get("in_channels", x.shape[1]), spec["out_channels"], _as_tuple(spec["kernel"], nd),
            stride=_as_tuple(spec.get("stride", 1), nd),
            padding=padding if isinstance(padding, str) else _as_tuple(padding, nd),
            output_padding=_as_tuple(spec.get("output_padding", 0), nd),
            dilation=_as_tuple(spec.get("dilation", 1), nd), groups=spec.get("groups", 1), bias=False,
        )
        output_size = spec.get("output_size")
        return module(x, output_size=None if output_size is None else list(_as_tuple(output_size, nd)))
    if kind.startswith("max_pool"):
        stride = spec.get("stride")
        return getattr(F, f"max_pool{nd}d")(
            x, _as_tuple(spec["kernel"], nd), stride=None if stride is None else _as_tuple(stride, nd),
            padding=spec.get("padding", 0) if isinstance(spec.get("padding"), str) else _as_tuple(spec.get("padding", 0), nd),
            dilation=_as_tuple(spec.get("dilation", 1), nd), ceil_mode=spec.get("ceil_mode", False),
        )
    if kind.startswith("avg_pool"):
        stride = spec.get("stride")
        return getattr(F, f"avg_pool{nd}d")(
            x, _as_tuple(spec["kernel"], nd), stride=None if stride is None else _as_tuple(stride, nd),
            padding=spec.get("padding", 0) if isinstance(spec.get("padding"), str) else _as_tuple(spec.get("padding", 0), nd),
            ceil_mode=spec.get("ceil_mode", False),
        )
    if kind.startswith("lp_pool"):
        stride = spec.get("stride")
        return getattr(F, f"lp_pool{nd}d")(
            # lp_pool1d multiplies by its kernel size: an int there, not a tuple
            x, spec.get("norm_type", 2), _as_tuple(spec["kernel"], nd)[0] if nd == 1 else _as_tuple(spec["kernel"], nd),
            stride=None if stride is None else _as_tuple(stride, nd), ceil_mode=spec.get("ceil_mode", False),
        )
    if kind.startswith("max_unpool"):
        stride, output_size = spec.get("stride"), spec.get("output_size")
        return getattr(F, f"max_unpool{nd}d")(
            x, torch.zeros(x.shape, dtype=torch.long), _as_tuple(spec["kernel"], nd),
            stride=None if stride is None else _as_tuple(stride, nd), padding=_as_tuple(spec.get("padding", 0), nd),
            output_size=None if output_size is None else list(_as_tuple(output_size, nd)),
        )
    if kind.startswith("adaptive_"):
        pool = "adaptive_max_pool" if kind.startswith("adaptive_max") else "adaptive_avg_pool"
        return getattr(F, f"{pool}{nd}d")(x, _as_tuple(spec["output_size"], nd))
    if kind in ("interpolate", "upsample"):
        size, scale = spec.get("size"), spec.get("scale_factor")
        return F.interpolate(
            x, size=None if size is None else _as_tuple(size, nd),
            scale_factor=None if scale is None else _as_tuple(scale, nd), mode="nearest",
        )
    if kind == "pixel_shuffle":
        return F.pixel_shuffle(x, spec["upscale_factor"])
    if kind == "pixel_unshuffle":
        return F.pixel_unshuffle(x, spec["downscale_factor"])
    if kind == "pad":
        return F.pad(x, _torch_pad(_pairs(spec["padding"], nd)))
    if kind == "flatten":
        return torch.flatten(x, 1)
    if kind == "linear":
        return torch.nn.Linear(spec.get("in_features", x.shape[-1]), spec["out_features"], bias=False)(x)
    if kind in ("add", "mul"):
        out = inputs[0] + inputs[1] if kind == "add" else inputs[0] * inputs[1]
        if not spec.get("broadcast", False) and any(t.shape != out.shape for t in inputs):
            raise Broadcast(f"{' vs '.join(str(tuple(t.shape)) for t in inputs)} broadcast to {tuple(out.shape)}")
        return out
    if kind == "concat":
        return torch.cat(inputs, 1)
    if kind in ("relu", "identity", "batch_norm2d"):
        return x
    raise AssertionError(f"the test oracle does not know layer type {kind!r}")


def torch_forward(config: dict[str, Any]) -> tuple[int, ...] | None:
    """Output shape (batch 1) of the config's network run by PyTorch, or None if PyTorch refuses it."""
    names = AXES[3] if "depth" in config["input"] else AXES[1] if "length" in config["input"] else AXES[2]
    nd = len(names)
    x = torch.zeros((1, config["input"]["channels"]) + tuple(config["input"][n] for n in names))
    outputs, previous = {"input": x}, "input"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # padding='same' with even kernels warns about a copy
            for spec in config["layers"]:
                out = torch_layer(spec, [outputs[name] for name in spec.get("inputs", [previous])], nd)
                if 0 in out.shape:
                    raise EmptyOutput(f"{spec['name']} produced {tuple(out.shape)}")
                outputs[spec["name"]], previous = out, spec["name"]
    except (RuntimeError, ValueError, EmptyOutput, Broadcast):
        return None
    except TypeError as exc:  # PyTorch's pools and transposed convs refuse padding words with a TypeError
        if "padding" not in str(exc):
            raise
        return None
    return tuple(out.shape)


def convsolve_shape(config: dict[str, Any]) -> tuple[int, ...] | None:
    """Output shape (with a batch of 1) convsolve predicts for the config's fixed input, or None if invalid."""
    try:
        net = convsolve.load_config(config)
    except ConfigError:
        return None
    inference = net.infer()
    if inference.static or not inference.valid_mask().all():
        return None
    sizes = [r.lo for r in net.input.ranges]
    shape = net.shapes(sizes)[-1].shape
    assert shape is not None, f"valid network without a final shape: {net}"
    return (1,) + tuple(shape)


def single(nd: int, channels: int, sizes: list[int], *layers: dict[str, Any]) -> dict[str, Any]:
    """A config over one fixed input size per axis."""
    return {
        "name": "case", "convention": "pytorch",
        "input": {"channels": channels, **dict(zip(AXES[nd], sizes))},
        "layers": list(layers),
    }


def assert_agrees_with_torch(config: dict[str, Any]) -> tuple[int, ...] | None:
    """convsolve and PyTorch give the same output shape, or both refuse; returns that shape."""
    expected, got = torch_forward(config), convsolve_shape(config)
    assert got == expected, f"PyTorch gives {expected}, convsolve gives {got}\nconfig: {config}"
    return expected


# --- strategies -------------------------------------------------------------------------------


def per_axis(draw: Any, nd: int, lo: int, hi: int) -> int | list[int]:
    """An int (same on every axis) or one int per axis."""
    if nd == 1 or draw(st.booleans()):
        return draw(st.integers(lo, hi))
    return draw(st.lists(st.integers(lo, hi), min_size=nd, max_size=nd))


@st.composite
def ranks_and_sizes(draw: Any) -> tuple[int, list[int]]:
    nd = draw(st.sampled_from([1, 2, 3]))
    return nd, draw(st.lists(st.integers(1, MAX_SIZE[nd]), min_size=nd, max_size=nd))


@st.composite
def conv_cases(draw: Any) -> dict[str, Any]:
    nd, sizes = draw(ranks_and_sizes())
    channels, groups = draw(st.integers(1, 6)), draw(st.sampled_from([1, 1, 2, 3]))
    spec: dict[str, Any] = {
        "name": "conv", "type": f"conv{nd}d", "out_channels": draw(st.integers(1, 6)),
        "kernel": per_axis(draw, nd, 1, 5 if nd < 3 else 3), "stride": per_axis(draw, nd, 1, 3),
        "dilation": per_axis(draw, nd, 1, 3), "groups": groups,
    }
    padding = draw(st.sampled_from(["int", "axes", "pairs", "same", "valid"]))
    if padding == "int":
        spec["padding"] = draw(st.integers(0, 3))
    elif padding == "axes":
        spec["padding"] = draw(st.lists(st.integers(0, 3), min_size=nd, max_size=nd))
    elif padding == "pairs":
        spec["padding"] = [draw(st.lists(st.integers(0, 3), min_size=2, max_size=2)) for _ in range(nd)]
    else:
        spec["padding"] = padding
    if draw(st.integers(0, 5)) == 0:
        spec["in_channels"] = channels + draw(st.sampled_from([0, 1]))
    return single(nd, channels, sizes, spec)


@st.composite
def conv_transpose_cases(draw: Any) -> dict[str, Any]:
    nd, sizes = draw(ranks_and_sizes())
    sizes = [min(n, 6) for n in sizes] if nd == 3 else sizes
    channels, groups = draw(st.integers(1, 4)), draw(st.sampled_from([1, 1, 2]))
    kernel = draw(st.lists(st.integers(1, 4 if nd < 3 else 3), min_size=nd, max_size=nd))
    stride = draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    dilation = draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    padding = draw(st.lists(st.integers(0, 3), min_size=nd, max_size=nd))
    spec: dict[str, Any] = {
        "name": "up", "type": f"conv_transpose{nd}d", "out_channels": draw(st.integers(1, 4)), "kernel": kernel,
        "stride": stride, "dilation": dilation, "padding": padding, "groups": groups,
    }
    if draw(st.booleans()):
        spec["output_padding"] = draw(st.lists(st.integers(0, 3), min_size=nd, max_size=nd))
    if draw(st.integers(0, 2)) == 0:
        # aim around the allowed window [smallest, smallest + stride - 1], one past each end
        smallest = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in zip(sizes, stride, padding, dilation, kernel)]
        spec["output_size"] = [max(1, draw(st.integers(lo - 1, lo + s))) for lo, s in zip(smallest, stride)]
    return single(nd, channels, sizes, spec)


@st.composite
def pool_cases(draw: Any) -> dict[str, Any]:
    nd, sizes = draw(ranks_and_sizes())
    kind = draw(st.sampled_from(["max", "avg"]))
    spec: dict[str, Any] = {
        "name": "pool", "type": f"{kind}_pool{nd}d", "kernel": per_axis(draw, nd, 1, 4 if nd < 3 else 3),
        "ceil_mode": draw(st.booleans()),
    }
    if draw(st.integers(0, 3)):
        spec["stride"] = per_axis(draw, nd, 1, 3)
    padding = draw(st.sampled_from(["none", "int", "int", "axes", "word"]))
    if padding == "int":
        spec["padding"] = draw(st.integers(0, 2))
    elif padding == "axes":
        spec["padding"] = draw(st.lists(st.integers(0, 2), min_size=nd, max_size=nd))
    elif padding == "word":
        spec["padding"] = draw(st.sampled_from(["valid", "same"]))
    if kind == "max" and draw(st.booleans()):
        spec["dilation"] = per_axis(draw, nd, 1, 3)
    return single(nd, draw(st.integers(1, 2)), sizes, spec)


@st.composite
def lp_pool_cases(draw: Any) -> dict[str, Any]:
    nd, sizes = draw(ranks_and_sizes())
    spec: dict[str, Any] = {
        "name": "lp", "type": f"lp_pool{nd}d", "kernel": per_axis(draw, nd, 1, 4 if nd < 3 else 3),
        "ceil_mode": draw(st.booleans()), "norm_type": draw(st.sampled_from([1, 2, 3.5])),
    }
    if draw(st.integers(0, 3)):
        spec["stride"] = per_axis(draw, nd, 1, 3)
    return single(nd, draw(st.integers(1, 3)), sizes, spec)


@st.composite
def max_unpool_cases(draw: Any) -> dict[str, Any]:
    nd, sizes = draw(ranks_and_sizes())
    sizes = [min(n, 5) for n in sizes] if nd == 3 else sizes
    kernel = draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd))
    spec: dict[str, Any] = {"name": "unpool", "type": f"max_unpool{nd}d", "kernel": kernel,
                            "padding": draw(st.lists(st.integers(0, 3), min_size=nd, max_size=nd))}
    stride = kernel
    if draw(st.integers(0, 3)):
        stride = spec["stride"] = draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    if draw(st.integers(0, 2)) == 0:
        # aim around PyTorch's window, strictly between default - stride and default + stride, one past each end
        default = [(n - 1) * s - 2 * p + k for n, s, p, k in zip(sizes, stride, spec["padding"], kernel)]
        spec["output_size"] = [max(1, draw(st.integers(d - s, d + s))) for d, s in zip(default, stride)]
    return single(nd, draw(st.integers(1, 3)), sizes, spec)


@st.composite
def reshaping_cases(draw: Any) -> dict[str, Any]:
    """Adaptive pools, interpolate, pixel (un)shuffle and pad."""
    nd, sizes = draw(ranks_and_sizes())
    channels = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["adaptive", "interpolate", "pixel_shuffle", "pixel_unshuffle", "pad"]))
    if kind == "adaptive":
        pool = draw(st.sampled_from(["adaptive_avg_pool", "adaptive_max_pool"]))
        spec = {"name": "a", "type": f"{pool}{nd}d", "output_size": per_axis(draw, nd, 1, 6)}
    elif kind == "interpolate":
        spec = {"name": "i", "type": draw(st.sampled_from(["interpolate", "upsample"]))}
        if draw(st.integers(0, 3)) == 0:
            spec["size"] = per_axis(draw, nd, 1, 9)
        else:
            scale = st.one_of(
                st.sampled_from([0.3, 0.5, 1.5, 2.0, 0.25, 1 / 3, 2.5, 0.7, 1.1, 0.29, 3.0, 0.1]),
                st.floats(0.05, 3.0, allow_nan=False, allow_infinity=False),
            )
            spec["scale_factor"] = draw(scale) if nd == 1 or draw(st.booleans()) else draw(st.lists(scale, min_size=nd, max_size=nd))
    elif kind in ("pixel_shuffle", "pixel_unshuffle"):
        nd, sizes, channels = 2, draw(st.lists(st.integers(1, 12), min_size=2, max_size=2)), draw(st.integers(1, 12))
        field = "upscale_factor" if kind == "pixel_shuffle" else "downscale_factor"
        spec = {"name": "p", "type": kind, field: draw(st.integers(1, 3))}
    else:
        pairs = [draw(st.lists(st.integers(-4, 3), min_size=2, max_size=2)) for _ in range(nd)]
        spec = {"name": "pad", "type": "pad", "padding": pairs}
    return single(nd, channels, sizes, spec)


# --- 1. single layers ---------------------------------------------------------------------------


@layer_settings(400)
@given(conv_cases())
def test_conv_agrees_with_torch(config):
    assert_agrees_with_torch(config)


@layer_settings(400)
@given(conv_transpose_cases())
def test_conv_transpose_agrees_with_torch(config):
    assert_agrees_with_torch(config)


@layer_settings(500)
@given(pool_cases())
def test_pool_agrees_with_torch(config):
    assert_agrees_with_torch(config)


@layer_settings(250)
@given(lp_pool_cases())
def test_lp_pool_agrees_with_torch(config):
    assert_agrees_with_torch(config)


@layer_settings(250)
@given(max_unpool_cases())
def test_max_unpool_agrees_with_torch(config):
    assert_agrees_with_torch(config)


@layer_settings(400)
@given(reshaping_cases())
def test_reshaping_layers_agree_with_torch(config):
    assert_agrees_with_torch(config)


@layer_settings(150)
@given(ranks_and_sizes(), st.integers(1, 3), st.integers(1, 5), st.booleans(), st.sampled_from(["none", "right", "off"]))
def test_flatten_and_linear_agree_with_torch(rank_sizes, channels, out_features, flatten, in_features):
    nd, sizes = rank_sizes
    features = channels * int(np.prod(sizes)) if flatten else sizes[-1]
    linear: dict[str, Any] = {"name": "fc", "type": "linear", "out_features": out_features}
    if in_features != "none":
        linear["in_features"] = features + (in_features == "off")
    layers = ([{"name": "flat", "type": "flatten"}] if flatten else []) + [linear]
    assert_agrees_with_torch(single(nd, channels, sizes, *layers))


@st.composite
def branch(draw: Any, nd: int, name: str, channels: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["conv", "conv", "pool", "relu"]))
    if kind == "conv":
        return {
            "name": name, "type": f"conv{nd}d", "inputs": ["input"],
            "out_channels": draw(st.sampled_from([channels, channels, 1, 3])), "kernel": draw(st.integers(1, 4)),
            "stride": draw(st.integers(1, 3)), "padding": draw(st.integers(0, 2)),
        }
    if kind == "pool":
        kernel = draw(st.integers(1, 3))
        return {
            "name": name, "type": f"max_pool{nd}d", "inputs": ["input"], "kernel": kernel,
            "stride": draw(st.integers(1, 3)), "padding": draw(st.integers(0, kernel // 2)), "ceil_mode": draw(st.booleans()),
        }
    return {"name": name, "type": "relu", "inputs": ["input"]}


@st.composite
def merge_cases(draw: Any) -> dict[str, Any]:
    nd, sizes = draw(ranks_and_sizes())
    channels = draw(st.integers(1, 3))
    merge = {"name": "m", "type": draw(st.sampled_from(["add", "mul", "concat"])), "inputs": ["a", "b"]}
    if merge["type"] != "concat":
        merge["broadcast"] = draw(st.booleans())
    return single(nd, channels, sizes, draw(branch(nd, "a", channels)), draw(branch(nd, "b", channels)), merge)


@layer_settings(300)
@given(merge_cases())
def test_merges_agree_with_torch(config):
    assert_agrees_with_torch(config)


@layer_settings(200)
@given(st.one_of(conv_cases(), conv_transpose_cases(), pool_cases(), reshaping_cases()))
def test_one_formula_for_ints_and_arrays(config):
    """``axis_size`` on an array of sizes is the element-wise ``axis_size`` on each int."""
    try:
        net = convsolve.load_config(config)
    except ConfigError:
        return
    layer = net.layer(net.order[-1])
    sizes = np.arange(1, 40, dtype=np.int64)
    for axis in range(net.ndim):
        out, ok = layer.axis_size(axis, sizes)
        out, ok = np.broadcast_to(out, sizes.shape), np.broadcast_to(ok, sizes.shape)
        for n, o, k in zip(sizes.tolist(), out.tolist(), ok.tolist()):
            one_out, one_ok = layer.axis_size(axis, n)
            assert isinstance(one_out, int) and isinstance(one_ok, bool), (one_out, one_ok)
            assert bool(one_ok) == k and (not k or one_out == o), (axis, n, one_out, one_ok, o, k)


# --- 2. random stacks over a range of input sizes ---------------------------------------------


@st.composite
def stack_layer(
    draw: Any, nd: int, name: str, channels: int, upsampled: list[int], keep: bool = False
) -> tuple[dict[str, Any], int]:
    """One conv / pool / transposed conv layer and the channels it produces (mostly ``channels`` if ``keep``)."""
    kinds = ["conv", "conv", "pool", "pool"] + (["up"] if upsampled[0] < 2 else [])
    kind = draw(st.sampled_from(kinds))
    out_choices = [channels] * (4 if keep else 1) + [1, 2, 3]
    if kind == "conv":
        out = draw(st.sampled_from(out_choices))
        return {
            "name": name, "type": f"conv{nd}d", "out_channels": out, "kernel": draw(st.integers(1, 5)),
            "stride": draw(st.integers(1, 3)), "padding": draw(st.integers(0, 2)), "dilation": draw(st.integers(1, 2)),
        }, out
    if kind == "pool":
        pool = draw(st.sampled_from(["max", "avg"]))
        kernel = draw(st.integers(1, 3))
        spec = {
            "name": name, "type": f"{pool}_pool{nd}d", "kernel": kernel,
            "padding": draw(st.integers(0, kernel // 2 + (draw(st.integers(0, 9)) == 0))),
            "ceil_mode": draw(st.booleans()),
        }
        if draw(st.booleans()):
            spec["stride"] = draw(st.integers(1, 3))
        if pool == "max" and draw(st.booleans()):
            spec["dilation"] = 2
        return spec, channels
    upsampled[0] += 1
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    out = draw(st.sampled_from(out_choices))
    return {
        "name": name, "type": f"conv_transpose{nd}d", "out_channels": out, "kernel": draw(st.integers(1, 4)),
        "stride": stride, "padding": draw(st.integers(0, 2)), "dilation": dilation,
        "output_padding": draw(st.integers(0, max(stride, dilation) - 1)),
    }, out


@st.composite
def stacks(draw: Any, nd: int) -> tuple[int, list[dict[str, Any]]]:
    """3-6 conv/pool/transposed-conv layers, sometimes forking into two branches merged by add or concat.

    The second branch may be the fork point itself: a residual connection.
    """
    channels = start = draw(st.integers(1, 3))
    target = draw(st.integers(3, 6))
    layers: list[dict[str, Any]] = []
    upsampled = [0]
    previous = "input"
    while len(layers) < target:
        index = len(layers)
        if target - index >= 3 and draw(st.integers(0, 3)) == 0:
            left, left_channels = draw(stack_layer(nd, f"l{index}", channels, upsampled, keep=True))
            left["inputs"] = [previous]
            branches = [left]
            if draw(st.booleans()):
                right, right_channels = draw(stack_layer(nd, f"r{index}", channels, upsampled, keep=True))
                right["inputs"] = [previous]
                branches.append(right)
            else:
                right_channels = channels
            merge = draw(st.sampled_from(["add", "concat"]))
            sources = [left["name"], branches[-1]["name"] if len(branches) > 1 else previous]
            layers += branches + [{"name": f"m{index}", "type": merge, "inputs": sources}]
            channels = left_channels + right_channels if merge == "concat" else left_channels
        else:
            spec, channels = draw(stack_layer(nd, f"x{index}", channels, upsampled))
            layers.append(spec)
        previous = layers[-1]["name"]
    return start, layers


def torch_sizes(channels: int, layers: list[dict[str, Any]], nd: int, grid: Any) -> dict[tuple[int, ...], tuple[int, ...] | None]:
    """PyTorch's final shape (or None) at every input size in ``grid``."""
    return {sizes: torch_forward(single(nd, channels, list(sizes), *layers)) for sizes in grid}


@layer_settings(150)
@given(st.sampled_from([1, 2]).flatmap(lambda nd: st.tuples(st.just(nd), stacks(nd))))
def test_stack_valid_sizes_match_torch_square(case):
    nd, (channels, layers) = case
    hi = 48 if nd == 1 else 32
    config = {"name": "stack", "input": {"channels": channels, "size": {"range": [1, hi]}}, "layers": layers}
    if nd == 1:
        config["input"] = {"channels": channels, "length": {"range": [1, hi]}}
    net = convsolve.load_config(config)
    expected = torch_sizes(channels, layers, nd, [(n,) * nd for n in range(1, hi + 1)])
    valid = net.valid_sizes()
    assert set(valid.sets[0].values) == {sizes[0] for sizes, shape in expected.items() if shape is not None}, net
    for sizes, shape in expected.items():
        if shape is not None:
            assert (1,) + net.shapes(list(sizes))[-1].shape == shape, (sizes, net)


@layer_settings(60)
@given(stacks(2))
def test_stack_valid_mask_matches_torch_independent_axes(case):
    channels, layers = case
    hi = 14
    config = {"name": "stack", "input": {"channels": channels, "height": {"range": [1, hi]}, "width": {"range": [1, hi]}}, "layers": layers}
    net = convsolve.load_config(config)
    grid = [(h, w) for h in range(1, hi + 1) for w in range(1, hi + 1)]
    expected = torch_sizes(channels, layers, 2, grid)
    mask = net.valid_sizes().mask
    assert {(h, w) for h, w in grid if mask[h - 1, w - 1]} == {sizes for sizes, shape in expected.items() if shape is not None}, net


# --- 3. named pitfalls ----------------------------------------------------------------------


def test_ceil_mode_last_window_must_start_inside():
    # n=5, k=1, s=3: ceil gives 3 windows, but the third would start at 6 >= 5 + 0 (2 in PyTorch 2.13)
    config = single(1, 1, [5], {"name": "p", "type": "max_pool1d", "kernel": 1, "stride": 3, "ceil_mode": True})
    assert assert_agrees_with_torch(config) is not None


def test_ceil_mode_window_starting_in_padding():
    # n=5, k=2, s=2, p=1: ceil gives 4 windows, the fourth would start in the right padding
    for pool in ("max_pool1d", "avg_pool1d"):
        config = single(1, 1, [5], {"name": "p", "type": pool, "kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True})
        assert assert_agrees_with_torch(config) is not None


@pytest.mark.parametrize("n", range(1, 12))
@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_ceil_mode_matches_torch_for_every_small_case(n, stride):
    for kernel in (1, 2, 3, 4):
        for padding in range(kernel // 2 + 1):
            for dilation in (1, 2):
                spec = {"name": "p", "type": "max_pool1d", "kernel": kernel, "stride": stride, "padding": padding,
                        "dilation": dilation, "ceil_mode": True}
                assert_agrees_with_torch(single(1, 1, [n], spec))


def test_pool_padding_limit_uses_kernel_not_effective_kernel():
    # kernel 3, dilation 2: the effective kernel is 5, so padding 2 is half of it, yet PyTorch refuses it
    refused = single(1, 1, [20], {"name": "p", "type": "max_pool1d", "kernel": 3, "dilation": 2, "padding": 2})
    assert assert_agrees_with_torch(refused) is None
    accepted = single(1, 1, [20], {"name": "p", "type": "max_pool1d", "kernel": 3, "dilation": 2, "padding": 1})
    assert assert_agrees_with_torch(accepted) is not None


@pytest.mark.parametrize("kernel, dilation", [(2, 1), (4, 1), (2, 3), (3, 2), (4, 3), (5, 1)])
def test_conv_same_padding_odd_pixel_after(kernel, dilation):
    """convsolve's (before, after) pairs for padding='same' pad exactly where PyTorch does."""
    net = convsolve.load_config(single(1, 1, [9], {"name": "c", "type": "conv1d", "out_channels": 1, "kernel": kernel,
                                                  "dilation": dilation, "padding": "same"}))
    (before, after), = net.layer("c").padding.pairs
    x = torch.arange(1.0, 10.0).reshape(1, 1, 9)
    weight = torch.zeros(1, 1, kernel)
    weight[0, 0, 0] = 1.0  # each output reads the first tap of its window: it reveals the left padding
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same = F.conv1d(x, weight, padding="same", dilation=dilation)
    explicit = F.conv1d(F.pad(x, (before, after)), weight, dilation=dilation)
    assert torch.equal(same, explicit), (before, after, same, explicit)


def test_conv_same_padding_refused_with_stride():
    config = single(1, 1, [9], {"name": "c", "type": "conv1d", "out_channels": 1, "kernel": 3, "stride": 2, "padding": "same"})
    assert assert_agrees_with_torch(config) is None


@pytest.mark.parametrize("output_padding", [0, 1, 2, 3])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_output_padding_must_be_below_stride_or_dilation(output_padding, stride, dilation):
    config = single(1, 1, [4], {"name": "u", "type": "conv_transpose1d", "out_channels": 1, "kernel": 2,
                                "stride": stride, "dilation": dilation, "output_padding": output_padding})
    assert_agrees_with_torch(config)


def test_output_size_overrides_output_padding():
    # PyTorch derives the output padding from output_size and ignores the configured one
    config = single(1, 1, [4], {"name": "u", "type": "conv_transpose1d", "out_channels": 1, "kernel": 3, "stride": 2,
                                "output_padding": 5, "output_size": 10})
    assert assert_agrees_with_torch(config) is not None


@pytest.mark.parametrize("kind", ["conv_transpose1d", "max_pool1d", "avg_pool1d"])
@pytest.mark.parametrize("word", ["same", "valid"])
def test_padding_words_only_for_conv(kind, word):
    spec = {"name": "l", "type": kind, "kernel": 3, "stride": 1, "padding": word}
    if kind.startswith("conv"):
        spec["out_channels"] = 1
    assert assert_agrees_with_torch(single(1, 1, [9], spec)) is None


@pytest.mark.parametrize("kind", ["add", "mul"])
def test_broadcasting_only_when_asked(kind):
    # PyTorch's ``+``/``*`` broadcast a 1x1 gate against a 5x5 map; convsolve's strict default refuses it
    layers = [
        {"name": "a", "type": "relu"},
        {"name": "b", "type": "adaptive_avg_pool2d", "output_size": 1, "inputs": ["input"]},
        {"name": "m", "type": kind, "inputs": ["a", "b"]},
    ]
    assert convsolve_shape(single(2, 2, [5, 5], *layers)) is None
    layers[-1]["broadcast"] = True
    assert assert_agrees_with_torch(single(2, 2, [5, 5], *layers)) == (1, 2, 5, 5)


@pytest.mark.parametrize("n, before, after", [(1, 2, -2), (1, -2, 2), (3, -4, 3), (3, -3, 2), (2, 1, -2)])
def test_pad_crops_before_it_pads(n, before, after):
    # F.pad narrows first: (2, -2) on a size of 1 fails although 1 + 2 - 2 = 1
    assert_agrees_with_torch(single(1, 1, [n], {"name": "pad", "type": "pad", "padding": [[before, after]]}))


@pytest.mark.parametrize("pool", ["avg_pool3d", "max_pool3d", "avg_pool2d"])
def test_avg_pool3d_input_must_cover_kernel_despite_padding(pool):
    # avg_pool3d alone checks the unpadded input against the kernel: 1 + 2*1 >= 3 is not enough
    nd = int(pool[-2])
    config = single(nd, 1, [1] * nd, {"name": "p", "type": pool, "kernel": 3, "stride": 1, "padding": 1})
    assert_agrees_with_torch(config)


def test_pad_cropping_to_nothing_is_invalid():
    # PyTorch returns an empty tensor when negative padding crops the whole axis; convsolve calls it invalid
    assert F.pad(torch.zeros(1, 1, 3), (-2, -1)).shape == (1, 1, 0)
    config = single(1, 1, [3], {"name": "crop", "type": "pad", "padding": [[-2, -1]]})
    assert convsolve_shape(config) is None


@pytest.mark.parametrize("n, scale", [(100, 0.29), (10, 0.3), (10, 0.7), (10, 1.1), (3, 1 / 3), (7, 0.5), (1, 0.5)])
def test_interpolate_scale_rounds_like_torch(n, scale):
    config = single(1, 1, [n], {"name": "i", "type": "interpolate", "scale_factor": scale})
    assert_agrees_with_torch(config)
