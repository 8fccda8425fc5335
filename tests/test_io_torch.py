"""Importing PyTorch models: convsolve's valid sizes and shapes are the ones PyTorch's own forward gives.

The oracle is the model itself: a forward pass on ``meta`` tensors (shapes computed and checked as on
the CPU, no arithmetic) at every size of a sample of 1..300 that includes both sides of every change
of validity convsolve reports, and per-layer shapes from ``torch.fx``'s ShapeProp at valid sizes.
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from extras import require

torch = require("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.fx.passes.shape_prop import ShapeProp  # noqa: E402

import convsolve  # noqa: E402
from convsolve.errors import MissingExtraError, ModelImportError  # noqa: E402
from convsolve.io.export import network_to_config  # noqa: E402
from convsolve.io.torch import from_torch, load_callable, register_module  # noqa: E402

pytestmark = pytest.mark.torch

SWEEP = range(1, 301)


def torch_valid(model: nn.Module, sizes, channels: int = 3, ndim: int = 2) -> set[int]:
    """The square sizes at which the model's forward succeeds on meta tensors (batch 1)."""
    model = model.to("meta")
    valid = set()
    with torch.no_grad():
        for n in sizes:
            try:
                model(torch.empty(1, channels, *[n] * ndim, device="meta"))
            except Exception:  # noqa: BLE001, S112 - the oracle: whatever PyTorch raises, the size is refused
                continue
            valid.add(n)
    assert valid, "the forward fails at every size: a broken oracle, not a finding"
    return valid


def claimed_sizes(network: convsolve.Network) -> set[int]:
    return set(network.valid_sizes().sets[0].values)


def sample_sizes(network: convsolve.Network, dense: int, every: int) -> list[int]:
    """1..dense, every ``every``-th size up to 300, and both sides of every change of validity convsolve reports."""
    mask = network.valid_sizes().mask
    sizes = set(range(1, dense + 1)) | set(range(dense + 1, SWEEP[-1] + 1, every)) | {SWEEP[-1]}
    for i in np.flatnonzero(mask[1:] != mask[:-1]):
        sizes.update(range(max(1, int(i) - 1), min(SWEEP[-1], int(i) + 4) + 1))
    return sorted(sizes)


def assert_layer_shapes_match(model: nn.Module, network: convsolve.Network, size: int, channels: int = 3) -> int:
    """Every layer named after an fx node has the shape that node's output has in PyTorch; returns how many were compared."""
    graph_module = torch.fx.symbolic_trace(model.to("meta"))
    ShapeProp(graph_module).propagate(torch.empty(1, channels, size, size, device="meta"))
    rows = {row.node: row.shape for row in network.shapes([size, size])}
    compared = 0
    for node in graph_module.graph.nodes:
        meta = node.meta.get("tensor_meta")
        if node.name not in rows or node.name == "input" or meta is None or not hasattr(meta, "shape"):
            continue
        expected = tuple(meta.shape)[1:]
        assert rows[node.name] == expected, (node.name, rows[node.name], expected)
        compared += 1
    return compared


# --- torchvision classification models ------------------------------------------------------------

TORCHVISION_MODELS = {
    # name: (dense sizes 1..d, then every k-th; cheap models are swept in full)
    "alexnet": (300, 1), "vgg11": (300, 1), "squeezenet1_0": (300, 1), "resnet18": (80, 7),
    "resnet50": (48, 13), "googlenet": (48, 13), "mobilenet_v2": (40, 19), "densenet121": (40, 19),
    "inception_v3": (40, 19), "mobilenet_v3_small": (40, 19), "efficientnet_b0": (40, 19),
}
"""The models checked, with how densely 1..300 is sampled (the meta forward of the larger ones takes 40-80 ms)."""


def torchvision_model(name: str) -> nn.Module:
    torchvision = require("torchvision")
    extra = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        model = getattr(torchvision.models, name)(weights=None, **extra)
    return model.eval()


@pytest.mark.torchvision
@pytest.mark.parametrize("name", list(TORCHVISION_MODELS))
def test_torchvision_valid_sizes_are_where_the_pytorch_forward_succeeds(name):
    model = torchvision_model(name)
    network = from_torch(model, input=SWEEP)
    dense, every = TORCHVISION_MODELS[name]
    sizes = sample_sizes(network, dense, every)
    claimed = {n for n in sizes if network.valid_sizes().mask[n - 1]}
    assert claimed == torch_valid(model, sizes)
    smallest = network.valid_sizes().sets[0].min
    assert smallest is not None
    assert assert_layer_shapes_match(model, network, smallest) > 10


@pytest.mark.torchvision
@pytest.mark.parametrize("name, size", [("alexnet", 63), ("squeezenet1_0", 21), ("googlenet", 15)])
def test_torchvision_smallest_size_holds_on_the_cpu_too(name, size):
    """The meta oracle against real tensors: the CPU forward fails just below convsolve's smallest size."""
    model = torchvision_model(name).to_empty(device="cpu").eval()
    assert from_torch(model, input=range(1, 300)).valid_sizes().sets[0].min == size
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
        with pytest.raises(RuntimeError):
            model(torch.zeros(1, 3, size - 1, size - 1))


@pytest.mark.torchvision
def test_imported_resnet18_agrees_with_the_shipped_config():
    network = from_torch(torchvision_model("resnet18"), input=range(1, 513))
    shipped = convsolve.load(Path(__file__).resolve().parent.parent / "configs" / "resnet18.yaml")
    assert str(network.valid_sizes()) == str(shipped.valid_sizes()) == "1..512"
    assert network.shapes([224, 224])[-1].shape == shipped.shapes([224, 224])[-1].shape == (1000,)


@pytest.mark.torchvision
def test_an_imported_model_written_as_config_loads_back_equal(tmp_path):
    network = from_torch(torchvision_model("squeezenet1_0"), input=range(1, 301), name="squeezenet")
    path = tmp_path / "squeezenet.yaml"
    from convsolve.io.export import write_network

    write_network(network, path)
    loaded = convsolve.load(path)
    assert loaded.order == network.order
    assert all(loaded.layer(n) == network.layer(n) for n in network.order[1:])
    assert str(loaded.valid_sizes()) == str(network.valid_sizes()) == "21..300"
    assert [r.shape for r in loaded.shapes([57, 57])] == [r.shape for r in network.shapes([57, 57])]


# --- a UNet written the usual way -----------------------------------------------------------------


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        )


class Down(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.MaxPool2d(2), DoubleConv(cin, cout))


class Up(nn.Module):
    def __init__(self, cin: int, cout: int, bilinear: bool) -> None:
        super().__init__()
        self.bilinear = bilinear
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True) if bilinear else nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        self.conv = DoubleConv(cin + cin // 2 if bilinear else cin, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class UNet(nn.Module):
    """Four levels, skips joined with torch.cat: the classic size trap (valid at multiples of 16)."""

    def __init__(self, channels: int = 1, classes: int = 2, width: int = 4, bilinear: bool = False) -> None:
        super().__init__()
        w = width
        self.inc = DoubleConv(channels, w)
        self.down1, self.down2, self.down3, self.down4 = Down(w, 2 * w), Down(2 * w, 4 * w), Down(4 * w, 8 * w), Down(8 * w, 16 * w)
        self.up1, self.up2 = Up(16 * w, 8 * w, bilinear), Up(8 * w, 4 * w, bilinear)
        self.up3, self.up4 = Up(4 * w, 2 * w, bilinear), Up(2 * w, w, bilinear)
        self.outc = nn.Conv2d(w, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        return self.outc(self.up4(x, x1))


@pytest.mark.parametrize("bilinear", [False, True], ids=["conv_transpose", "upsample"])
def test_unet_with_cat_skips_is_valid_exactly_where_pytorch_runs(bilinear):
    model = UNet(bilinear=bilinear).eval()
    sweep = range(1, 161)
    network = from_torch(model, input=sweep)
    assert torch_valid(model, sweep, channels=1) == set(network.valid_sizes().sets[0].values)
    assert str(network.valid_sizes()) == "16, 32, ..., 160"
    assert assert_layer_shapes_match(model, network, 48, channels=1) > 40


# --- functional forms and the small print -----------------------------------------------------------


class Functional(nn.Module):
    """Functional forms, a parameter used as a weight, a view to (batch, -1) and a global mean."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(8, 3, 3, 3))
        self.scale = nn.Parameter(torch.empty(1, 8, 1, 1))
        self.fc = nn.Linear(4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(F.conv2d(x, self.weight, stride=2, padding=1)) * self.scale
        y = F.max_pool2d(y, 3, stride=2, ceil_mode=True)
        y = F.pad(y, [0, 1, 1, 0])
        z = F.avg_pool2d(y, 4, stride=2, padding=1)
        z = F.interpolate(z, scale_factor=1.5, mode="nearest")
        w = F.adaptive_avg_pool2d(y, (3, 3))
        v = torch.cat([F.interpolate(w, size=(4, 4)), F.interpolate(z, size=4)], 1)
        v = v + v.sigmoid()
        v = F.pixel_shuffle(v, 2)
        return self.fc(v.mean((2, 3)))


def test_functional_forms_translate_with_pytorch_semantics():
    model = Functional().eval()
    network = from_torch(model, input=range(1, 61))
    assert set(network.valid_sizes().sets[0].values) == torch_valid(model, range(1, 61))
    assert network.valid_sizes().sets[0].min is not None
    assert assert_layer_shapes_match(model, network, 37) >= 8
    kinds = {network.layer(n).type for n in network.order[1:]}
    assert {"conv2d", "max_pool2d", "pad", "avg_pool2d", "interpolate", "adaptive_avg_pool2d", "concat", "add"} <= kinds


class ViewToFeatures(nn.Module):
    def __init__(self, flatten: str) -> None:
        super().__init__()
        self.flatten = flatten
        self.conv = nn.Conv2d(3, 8, 3, stride=2)
        self.fc = nn.Linear(8 * 5 * 5, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.flatten == "batch, -1":
            x = x.view(x.size(0), -1)
        elif self.flatten == "batch, features":
            x = x.reshape(x.shape[0], 8 * 5 * 5)
        else:
            x = torch.flatten(x, 1)
        return self.fc(x)


@pytest.mark.parametrize("flatten", ["batch, -1", "batch, features", "torch.flatten"])
def test_flatten_spellings_before_a_linear_agree_with_pytorch(flatten):
    model = ViewToFeatures(flatten).eval()
    network = from_torch(model, input=range(1, 40))
    assert set(network.valid_sizes().sets[0].values) == torch_valid(model, range(1, 40)) == {11, 12}


def test_channels_and_rank_come_from_the_first_convolution():
    model = nn.Sequential(nn.Conv1d(5, 4, 3), nn.MaxPool1d(2))
    network = from_torch(model, input=range(1, 30))
    assert (network.ndim, network.input.channels) == (1, 5)
    assert set(network.valid_sizes().sets[0].values) == torch_valid(model, range(1, 30), channels=5, ndim=1)


def test_tracing_runs_in_eval_mode_and_restores_the_mode():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout(0.5))
    model.train()
    from_torch(model)
    assert model.training


def test_a_registered_rule_replaces_tracing_and_may_give_a_chain():
    class Downsample(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[-1] % 2:  # control flow on a size: torch.fx cannot trace it
                x = F.pad(x, [0, 1, 0, 1])
            return F.avg_pool2d(x, 2)

    model = nn.Sequential(nn.Conv2d(3, 4, 3), Downsample())
    with pytest.raises(ModelImportError, match=r"cannot trace .*Downsample.*register_module\(Downsample") as info:
        from_torch(model)
    assert info.value.facts["module"] == "1"
    register_module(Downsample, [{"type": "pad", "padding": [[0, 1], [0, 1]]}, {"type": "avg_pool2d", "kernel": 2}])
    network = from_torch(model, input=range(1, 20))
    assert [network.layer(n).type for n in network.order[1:]] == ["conv2d", "pad", "avg_pool2d"]
    # the rule pads every size (the module only odd ones): both need the conv output to be at least 1
    assert set(network.valid_sizes().sets[0].values) == torch_valid(model, range(1, 20))


def test_unknown_module_is_named_with_how_to_register_it():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(2), nn.LSTM(4, 4))
    with pytest.raises(ModelImportError) as info:
        from_torch(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Fold(output_size=4, kernel_size=2)))
    message = str(info.value)
    assert "torch.nn.modules.fold.Fold has no convsolve rule" in message
    assert "register_module(Fold, rule)" in message and info.value.facts["module"] == "1"
    with pytest.raises(ModelImportError, match="flattens from dim 1"):
        from_torch(model)


@pytest.mark.parametrize("module, message", [
    (nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect")), "padding_mode 'reflect'"),
    (nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(16)), "num_features is 16 but 8 channels reach it"),
    (nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d((None, 2))), "output size of None"),
])
def test_what_pytorch_would_refuse_or_convsolve_cannot_model_is_an_error(module, message):
    with pytest.raises(ModelImportError, match=message):
        from_torch(module)


class ResizeToSkip(nn.Module):
    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.conv = nn.Conv2d(3, 3, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.how == "interpolate":
            y = F.interpolate(y, size=x.shape[2:])
        elif self.how == "view(-1, F)":
            return y.view(-1, 27)
        else:
            y = y[:, :, 1:]
        return torch.cat([x, y], 1)


def test_interpolating_to_another_tensors_size_is_valid_exactly_where_pytorch_runs():
    network = from_torch(ResizeToSkip("interpolate"), input=range(1, 40))
    assert claimed_sizes(network) == torch_valid(ResizeToSkip("interpolate"), range(1, 40))
    assert "resize_as" in {network.layer(n).type for n in network.order[1:]}


def test_sizes_decided_at_run_time_are_refused_with_the_reason():
    with pytest.raises(ModelImportError, match="indexing or slicing an activation"):
        from_torch(ResizeToSkip("slice"))


def test_a_view_to_rows_of_a_fixed_width_is_valid_where_the_count_divides():
    """``y.view(-1, 27)`` of a 3-channel grid needs 27 | 3*g*g, so g a multiple of 3 (the ATen capture's view check)."""
    model = ResizeToSkip("view(-1, F)").eval()
    expected = set()
    for n in range(1, 81):
        try:
            model(torch.zeros(1, 3, n, n))
        except RuntimeError:
            continue
        expected.add(n)
    assert set(from_torch(model, input=range(1, 81)).valid_sizes().sets[0].values) == expected


def test_view_to_a_feature_count_no_linear_checks_is_refused():
    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.conv(x)
            return x.view(x.size(0), 200)

    with pytest.raises(ModelImportError, match=r"needs exactly 200 features"):
        from_torch(Head())


def test_input_sizes_per_axis_and_channels_override():
    network = from_torch(nn.Sequential(nn.Conv2d(3, 4, (3, 5))), input=[range(1, 10), 7], channels=3)
    assert not network.input.tied and [str(r) for r in network.input.ranges] == ["1..9", "7"]
    assert network.valid_sizes().sets[0].min == 3


def test_missing_torch_is_a_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingExtraError, match=r"convsolve\[torch\]"):
        from_torch(object())


# --- module:callable references -------------------------------------------------------------------


def test_load_callable_from_a_file_and_a_module(tmp_path):
    (tmp_path / "helpers_for_models.py").write_text("WIDTH = 6\n")
    (tmp_path / "my_models.py").write_text(
        "import torch.nn as nn\nfrom helpers_for_models import WIDTH\n"
        "def build_net():\n    return nn.Sequential(nn.Conv2d(3, WIDTH, 5), nn.MaxPool2d(2))\n"
        "net = build_net()\nnot_a_model = 3\ndef broken():\n    raise ValueError('no weights here')\n"
        "def returns_int():\n    return 7\n"
    )
    model, name = load_callable(f"{tmp_path}/my_models.py:build_net")
    assert name == "build_net" and isinstance(model, nn.Sequential) and model[0].out_channels == 6
    assert isinstance(load_callable(f"{tmp_path}/my_models.py:net")[0], nn.Sequential)
    assert str(tmp_path) not in sys.path
    network = convsolve.load(f"{tmp_path}/my_models.py:build_net")
    assert network.name == "build_net" and str(network.valid_sizes()) == "6..512"
    for ref, message in [
        (f"{tmp_path}/my_models.py:buildnet", "has no attribute 'buildnet' (did you mean 'build_net'?)"),
        (f"{tmp_path}/my_models.py:not_a_model", "is a int, neither a torch.nn.Module nor callable"),
        (f"{tmp_path}/my_models.py:broken", "calling broken() failed: ValueError: no weights here"),
        (f"{tmp_path}/my_models.py:returns_int", "returns_int() returned a int, not a torch.nn.Module"),
        (f"{tmp_path}/missing.py:net", "no such file"),
        ("no_such_module_xyz:net", "no module named 'no_such_module_xyz'"),
        ("torch.nn:Conv2dd", "did you mean 'Conv2d'"),
    ]:
        with pytest.raises(ModelImportError, match=re.escape(message)):
            load_callable(ref)


SYS_EXIT_MODELS = """
import sys
import torch.nn as nn

def quits():
    sys.exit(0)

class Exits(nn.Module):
    def forward(self, x):
        sys.exit(0)

class Inner(nn.Module):
    def forward(self, x):
        raise SystemExit(5)

class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Inner()

    def forward(self, x):
        return self.inner(x)
"""


@pytest.mark.parametrize("callable_name, message", [
    ("quits", "calling quits() failed: it called sys.exit(0) (it must return a torch.nn.Module)"),
    ("Exits", "torch.fx cannot trace the forward of"),
    ("Outer", ".Inner: it called sys.exit(5)"),
    ("on_import", "exits_on_import.py failed: it called sys.exit(4)"),
])
def test_a_model_calling_sys_exit_is_an_import_error_naming_it(tmp_path, callable_name, message):
    """A callable calling sys.exit(0) made convsolve exit 0 without a word, as if the model were valid."""
    (tmp_path / "exiting_models.py").write_text(SYS_EXIT_MODELS)
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(4)\n")
    file = "exits_on_import.py" if callable_name == "on_import" else "exiting_models.py"
    with pytest.raises(ModelImportError) as info:
        convsolve.load(f"{tmp_path}/{file}:{callable_name}")
    assert message in str(info.value) and str(tmp_path) in str(info.value)


def test_importing_never_changes_the_config_of_a_layer_it_cannot_express():
    """Every imported layer is a config layer: the network's config is exactly what from_torch built."""
    network = from_torch(UNet(), input=range(16, 65))
    assert convsolve.load_config(network_to_config(network)).valid_sizes().sets[0].values == (16, 32, 48, 64)


class LpPools(nn.Module):
    """An nn.LPPool2d module and F.lp_pool2d, as PyTorch users write them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.LPPool2d(2, 3, stride=2, ceil_mode=True)

    def forward(self, x):
        return F.lp_pool2d(self.pool(self.conv(x)), 1.5, 2)


def test_lp_pool_modules_and_functions_are_valid_exactly_where_pytorch_runs():
    model = LpPools().eval()
    network = from_torch(model, input=range(1, 40), channels=3)
    assert [network.layer(node).type for node in network.order[1:]] == ["conv2d", "lp_pool2d", "lp_pool2d"]
    assert set(network.valid_sizes().sets[0].values) == torch_valid(model, range(1, 40))


class InPlaceArithmetic(nn.Module):
    """Two branches, equal at odd sizes, 1x1 against 2x2 at size 4 (3x3 conv stride 2 against a 2x2 pool)."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.pool = nn.MaxPool2d(2)
        self.widen = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = self.conv(x), self.widen(self.pool(x))
        if self.how == "x += y":
            left += right
        elif self.how == "y += x":
            right += left
            left = right
        elif self.how == "x -= y":
            left -= right
        elif self.how == "x *= y":
            left *= right
        elif self.how == "x /= y":
            left /= right
        elif self.how == "x.add_(y)":
            left.add_(right)
        elif self.how == "x.mul_(y)":
            left.mul_(right)
        else:
            left = left + right
        return left


@pytest.mark.parametrize("how", ["x += y", "y += x", "x -= y", "x *= y", "x /= y", "x.add_(y)", "x.mul_(y)", "x = x + y"])
def test_in_place_arithmetic_cannot_stretch_its_left_operand(how):
    model = InPlaceArithmetic(how).eval()
    network = from_torch(model, input=range(1, 41))
    expected = torch_valid(model, range(1, 41))
    assert set(network.valid_sizes().sets[0].values) == expected
    assert {3, 5, 7} <= expected and 6 not in expected
    if how in ("x = x + y", "y += x"):  # the 2x2 side takes the 1x1 side
        assert 4 in expected
    else:  # in place, the 1x1 conv output cannot take the 2x2 pool output, on the CPU as on meta tensors
        with torch.no_grad(), pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
            InPlaceArithmetic(how).eval()(torch.zeros(1, 3, 4, 4))
        assert 4 not in expected


def test_an_in_place_operation_into_a_parameter_is_refused():
    class IntoParameter(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bias = nn.Parameter(torch.zeros(1, 4, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b = self.bias
            b += self.conv(x)
            return b

    with pytest.raises(ModelImportError, match="in-place operation writes an activation into a parameter"):
        from_torch(IntoParameter(), input=range(1, 9))
