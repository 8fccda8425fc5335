"""Models torch.fx cannot trace or translate, imported through the ATen capture: valid exactly where PyTorch runs.

Each model here defeats the module-level importer (a rank assert, a permute, a split, size-dependent
control flow) and is compared with its own forward on ``meta`` tensors over every size of the range.
"""

from __future__ import annotations

import json
import warnings

import pytest
from extras import require

torch = require("torch")
from torch import nn  # noqa: E402

from convsolve.errors import ModelImportError  # noqa: E402
from convsolve.io.torch import from_torch  # noqa: E402

pytestmark = pytest.mark.torch


def forward_valid(model: nn.Module, sizes, channels: int = 3) -> set[int]:
    """The square sizes at which the model's forward succeeds on meta tensors (batch 1)."""
    model = model.to("meta").eval()
    valid = set()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in sizes:
            try:
                model(torch.empty(1, channels, n, n, device="meta"))
            except Exception:  # noqa: BLE001 - the oracle: whatever PyTorch raises, the size is refused
                continue
            valid.add(n)
    assert valid, "the forward fails at every size: a broken oracle, not a finding"
    return valid


def claimed(network) -> set[int]:
    return set(network.valid_sizes().sets[0].values)


class ChannelsLastBlock(nn.Module):
    """A rank assert (static), a channels-last norm and linear (permute round trip), a channel split and a cat."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2)
        self.norm = nn.LayerNorm(8)
        self.mix = nn.Linear(8, 16)
        self.down = nn.MaxPool2d(3, stride=2)
        self.left = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._assert(x.ndim == 4, "expects NCHW")
        x = self.stem(x).permute(0, 2, 3, 1)
        x = self.mix(self.norm(x)).permute(0, 3, 1, 2)
        a, b = x.chunk(2, dim=1)
        y = torch.cat([self.left(a), b], dim=1)
        return self.down(y).mean((2, 3))


class PatchTokens(nn.Module):
    """A vision-transformer stem: patches, an assert that the size is a multiple of the patch, tokens and back."""

    def __init__(self, patch: int = 8) -> None:
        super().__init__()
        self.patch = patch
        self.embed = nn.Conv2d(3, 16, patch, stride=patch)
        self.attend = nn.MultiheadAttention(16, 2, batch_first=True)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._assert(x.shape[-1] % self.patch == 0, "width must be a multiple of the patch")
        torch._assert(x.shape[-2] % self.patch == 0, "height must be a multiple of the patch")
        tokens = self.embed(x).flatten(2).transpose(1, 2)
        tokens = tokens + self.attend(tokens, tokens, tokens, need_weights=False)[0]
        return self.head(tokens.mean(1))


class SizeBranch(nn.Module):
    """Python control flow on a size: both branches keep the layers (``same``) or one adds a pad (``pad``)."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.conv = nn.Conv2d(3, 4, 3)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if x.shape[-1] > 20:
            x = x * 2 if self.how == "same" else nn.functional.pad(x, [0, 1, 0, 1])
        else:
            x = x + 1
        return self.pool(x)


class InPlaceAfterBranch(nn.Module):
    """Untraceable by torch.fx (a size branch that changes nothing) and an in-place add whose left side is smaller."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.pool = nn.MaxPool2d(2)
        self.widen = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = 2.0 if x.shape[-1] > 10 else 1.0
        left, right = self.conv(x) * scale, self.widen(self.pool(x))
        left += right
        return left


@pytest.mark.parametrize("model", [ChannelsLastBlock(), PatchTokens(), SizeBranch("same"), InPlaceAfterBranch()],
                         ids=["channels_last", "patch_tokens", "size_branch", "in_place"])
def test_models_beyond_torch_fx_are_valid_exactly_where_pytorch_runs(model):
    network = from_torch(model.eval(), input=range(1, 49))
    expected = forward_valid(model, range(1, 49))
    assert claimed(network) == expected


def test_an_asserted_multiple_is_a_multiple_of_layer():
    network = from_torch(PatchTokens(patch=8).eval(), input=range(1, 49))
    assert str(network.valid_sizes()) == "8, 16, ..., 48"
    assert "multiple_of" in {network.layer(n).type for n in network.order[1:]}


class MadeForOneSize(nn.Module):
    """A vision transformer's stem made for one image size: it asserts the size, then adds a fixed-size position table."""

    def __init__(self, size: int = 32, patch: int = 8) -> None:
        super().__init__()
        self.size = size
        self.embed = nn.Conv2d(3, 16, patch, stride=patch)
        self.position = nn.Parameter(torch.zeros(1, (size // patch) ** 2, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._assert(x.shape[-2] == self.size, "height must be the model's")
        torch._assert(x.shape[-1] == self.size, "width must be the model's")
        tokens = self.embed(x).flatten(2).transpose(1, 2) + self.position
        return tokens.mean(1)


@pytest.mark.parametrize("size", [24, 32])
def test_a_model_asserting_its_size_is_valid_at_that_size_alone(size):
    model = MadeForOneSize(size=size).eval()
    network = from_torch(model, input=range(1, 49))
    assert claimed(network) == forward_valid(model, range(1, 49)) == {size}
    assert network.layer(network.order[1]).type == "fixed_size"
    assert "exactly" in network.layer(network.order[1]).explain(0, size + 8)[1]


class WindowAttention(nn.Module):
    """Swin-style windows of 7x7 patches: padded to a multiple of the window (valid wherever the stem is) or not
    (valid only where the patch grid is a multiple of 7: the view into windows fails elsewhere)."""

    def __init__(self, pad: bool) -> None:
        super().__init__()
        self.pad, self.window = pad, 7
        self.embed = nn.Conv2d(3, 16, 4, stride=4)
        self.qkv = nn.Linear(16, 48)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x).permute(0, 2, 3, 1)
        batch, height, width, channels = x.shape
        w = self.window
        y = nn.functional.pad(x, (0, 0, 0, (w - width % w) % w, 0, (w - height % w) % w)) if self.pad else x
        rows, cols = y.shape[1] // w, y.shape[2] // w
        y = y.view(batch, rows, w, cols, w, channels).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, channels)
        q, k, v = self.qkv(y).chunk(3, dim=-1)
        y = nn.functional.scaled_dot_product_attention(q, k, v)
        y = y.view(batch, rows, cols, w, w, channels).permute(0, 1, 3, 2, 4, 5).reshape(batch, rows * w, cols * w, channels)
        return (x + y[:, :height, :width]).mean((1, 2))


@pytest.mark.parametrize("pad", [True, False], ids=["padded", "unpadded"])
def test_window_partitions_are_valid_exactly_where_pytorch_runs(pad):
    model = WindowAttention(pad).eval()
    network = from_torch(model, input=range(1, 65))
    assert claimed(network) == forward_valid(model, range(1, 65))
    assert ("multiple_of" in {network.layer(n).type for n in network.order[1:]}) is not pad
    if not pad:
        assert str(network.valid_sizes()) == "28..31, 56..59"


class AttentionBiasTable(nn.Module):
    """LeViT/EfficientFormer-style attention with a learned bias per pair of the 4x4 positions it was built for."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, 8, 4, stride=4)
        self.qkv = nn.Linear(8, 24)
        self.bias = nn.Parameter(torch.zeros(2, 16, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x).flatten(2).transpose(1, 2)
        q, k, v = self.qkv(tokens).view(1, -1, 3, 2, 4).permute(2, 0, 3, 1, 4)
        attention = (q @ k.transpose(-2, -1) + self.bias).softmax(-1)
        return (attention @ v).mean(2)


def test_a_parameter_fixing_the_token_count_is_a_fixed_size_layer():
    model = AttentionBiasTable().eval()
    network = from_torch(model, input=range(1, 49))
    assert claimed(network) == forward_valid(model, range(1, 49)) == set(range(16, 20))
    assert "fixed_size" in {network.layer(n).type for n in network.order[1:]}


class PositionTable(nn.Module):
    """A learned position table of 5x5 added to the patch grid (PiT): valid only where the grid is 5x5."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, 8, 4, stride=4)
        self.position = nn.Parameter(torch.zeros(1, 8, 5, 5))
        self.pool = nn.Conv2d(8, 8, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.embed(x) + self.position).mean((2, 3))


class ClassAttention(nn.Module):
    """A class token attending to the patch tokens (CaiT, XCiT): a query of fixed size, keys and values from the input."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, 8, 4, stride=4)
        self.token = nn.Parameter(torch.zeros(1, 1, 8))
        self.q, self.kv = nn.Linear(8, 8), nn.Linear(8, 16)
        self.head = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.token.expand(1, -1, -1), tokens], 1)
        k, v = self.kv(tokens).chunk(2, dim=-1)
        cls = nn.functional.scaled_dot_product_attention(self.q(tokens[:, :1]), k, v)
        return self.head(cls[:, 0] + tokens[:, 0])


@pytest.mark.parametrize("model, lo", [(PositionTable(), 12), (ClassAttention(), 1)], ids=["position_table", "class_attention"])
def test_fixed_size_tables_and_class_tokens_are_valid_exactly_where_pytorch_runs(model, lo):
    network = from_torch(model.eval(), input=range(lo, 49))
    assert claimed(network) == forward_valid(model, range(lo, 49))


def test_a_table_that_broadcasts_where_the_grid_is_1_is_refused_not_guessed():
    """At inputs 4..7 the grid is 1x1, and PyTorch broadcasts it against the 5x5 table: valid, unlike at 8..19."""
    with pytest.raises(ModelImportError, match=r"at 4x4 PyTorch broadcasts the parameter and runs the model"):
        from_torch(PositionTable().eval(), input=range(1, 49))


class ChannelsLastCat(nn.Module):
    """A gated block in NHWC (MambaOut): two linears concatenated along the last dim, then back to NCHW."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2)
        self.a, self.b = nn.Linear(8, 4), nn.Linear(8, 12)
        self.down = nn.Conv2d(16, 8, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem(x).permute(0, 2, 3, 1)
        y = torch.cat([self.a(y), self.b(y)], dim=-1).permute(0, 3, 1, 2)
        return self.down(y).mean((2, 3))


class AssertAfterStem(nn.Module):
    """A stem, then an assert that its grid is exactly 8x8 (Visformer's patch embedding)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem(x)
        torch._assert(y.shape[2] == 8, "height")
        torch._assert(y.shape[3] == 8, "width")
        return y.mean((2, 3))


@pytest.mark.parametrize("model", [ChannelsLastCat(), AssertAfterStem()], ids=["channels_last_cat", "assert_after_stem"])
def test_channels_last_concatenation_and_asserted_grids_are_exact(model):
    network = from_torch(model.eval(), input=range(1, 49))
    assert claimed(network) == forward_valid(model, range(1, 49))


def test_in_place_add_keeps_its_left_operand_through_the_aten_capture():
    network = from_torch(InPlaceAfterBranch().eval(), input=range(1, 49))
    assert 4 not in claimed(network) and {3, 5, 7} <= claimed(network)


def test_branches_giving_other_layers_are_refused_naming_the_line():
    with pytest.raises(ModelImportError, match=r"branches on the input size at .*test_io_aten.py:\d+") as info:
        from_torch(SizeBranch("pad").eval(), input=range(1, 49))
    assert "gives other layers" in str(info.value)
    # inside one branch the answer is exact
    network = from_torch(SizeBranch("pad").eval(), input=range(30, 49))
    assert claimed(network) == forward_valid(SizeBranch("pad"), range(30, 49))


def test_an_untranslated_operator_is_named_with_its_source_line():
    class Unfolds(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            torch._assert(x.ndim == 4, "NCHW")
            return nn.functional.unfold(self.conv(x), 2)

    with pytest.raises(ModelImportError, match=r"ATen operator \w+ .*test_io_aten.py:\d+"):
        from_torch(Unfolds().eval(), input=range(1, 33))


TIMM_MODELS = ["convnext_atto", "vit_tiny_patch16_224", "rexnet_100", "resnetaa50"]
"""Families the module-level importer refused (or, for resnetaa50, answered wrongly): channels-last norms,
dynamic-size transformers, norms with rank asserts, in-place residual adds (scripts/zoo_sweep.py runs the rest)."""


@pytest.mark.parametrize("name", TIMM_MODELS)
def test_timm_models_are_valid_exactly_where_pytorch_runs(name):
    timm = require("timm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = timm.create_model(name, pretrained=False, dynamic_img_size=True)
        except TypeError:
            model = timm.create_model(name, pretrained=False)
    network = from_torch(model.eval(), input=range(1, 49))
    assert claimed(network) == forward_valid(model, range(1, 49))


def test_a_slice_that_empties_a_tensor_is_not_called_valid():
    class Shifted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            torch._assert(x.ndim == 4, "NCHW")
            y = self.conv(x)
            return y[:, :, 1:] * 2  # an empty tensor at height 1: PyTorch runs, convsolve's output rule does not hold

    with pytest.raises(ModelImportError, match=r"size of s\d+ - 1, which is below 1 at input 1"):
        from_torch(Shifted().eval(), input=range(1, 17))


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())


class UpToSkip(nn.Module):
    """A UNet decoder step fitted to its skip at any size: interpolate to the skip's size, or pad the difference."""

    def __init__(self, cin: int, cout: int, how: str) -> None:
        super().__init__()
        self.how = how
        self.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        self.conv = DoubleConv(cin // 2 + cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        if self.how == "interpolate":
            x = nn.functional.interpolate(x, size=skip.shape[2:], mode="bilinear", align_corners=False)
        else:  # the pad of milesial/Pytorch-UNet
            x = self.up(x)
            dy, dx = skip.size(2) - x.size(2), skip.size(3) - x.size(3)
            x = nn.functional.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], 1)) if self.how != "interpolate" else self.conv(torch.cat([skip, x[:, : x.shape[1] // 2]], 1))


class FittedUNet(nn.Module):
    def __init__(self, how: str) -> None:
        super().__init__()
        self.inc = DoubleConv(3, 8)
        self.downs = nn.ModuleList([nn.Sequential(nn.MaxPool2d(2), DoubleConv(8 * 2**i, 16 * 2**i)) for i in range(4)])
        self.ups = nn.ModuleList([UpToSkip(16 * 2**i, 8 * 2**i, how) for i in reversed(range(4))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return x


@pytest.mark.parametrize("how", ["interpolate", "pad"])
def test_a_unet_fitted_to_its_skips_is_valid_at_every_size_pytorch_runs(how):
    model = FittedUNet(how).eval()
    network = from_torch(model, input=range(1, 81))
    expected = forward_valid(model, range(1, 81))
    assert claimed(network) == expected
    assert min(expected) == 16 and 17 in expected  # not only the multiples of 16


def test_tensorflow_same_padding_is_a_pad_same_layer():
    timm_layers = require("timm.layers")
    model = nn.Sequential(
        timm_layers.Conv2dSame(3, 8, 3, stride=2), nn.ReLU(), timm_layers.create_pool2d("max", 3, stride=2, padding="same"),
        timm_layers.Conv2dSame(8, 8, 5, stride=3, dilation=2),
    ).eval()
    network = from_torch(model, input=range(1, 61))
    assert claimed(network) == forward_valid(model, range(1, 61))
    assert [network.layer(n).type for n in network.order[1:]].count("pad_same") == 3


def test_a_model_fixed_to_one_size_answers_for_that_size_alone():
    class Fixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 4, stride=4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            torch._assert(x.shape[-1] == 32 and x.shape[-2] == 32, "made for 32x32")
            return self.conv(x).flatten(1)

    with pytest.raises(ModelImportError, match=r"fixes the input size on axis 0 to 32 .*give --input 32"):
        from_torch(Fixed().eval(), input=range(24, 33))
    assert str(from_torch(Fixed().eval(), input=range(32, 33)).valid_sizes()) == "32"


class SplitAttention(nn.Module):
    """resnest's split attention: a 5-D (batch, radix, channels, h, w) tensor gated by a pooled one of another layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.fc = nn.Conv2d(8, 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        b, c, h, w = x.shape
        split = x.reshape(b, 2, c // 2, h, w)
        gate = self.fc(split.sum(1).mean((2, 3), keepdim=True)).reshape(b, 2, c // 2, 1, 1).softmax(1)
        return (split * gate).sum(1)


class TokenResidual(nn.Module):
    """Tokens of two layers on one grid (a 'same' convolution and its input) added in (batch, tokens, channels) layout."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, 8, 4, stride=4)
        self.mix = nn.Conv2d(8, 8, 3, padding=1)
        self.norm = nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        tokens = x.flatten(2).transpose(1, 2) + self.mix(x).flatten(2).transpose(1, 2)
        return self.norm(tokens).mean(1)


@pytest.mark.parametrize("model", [SplitAttention(), TokenResidual()], ids=["split_attention", "token_residual"])
def test_merges_of_layers_outside_the_standard_layout_are_exact(model):
    network = from_torch(model.eval(), input=range(1, 41))
    assert claimed(network) == forward_valid(model, range(1, 41))
    assert any(network.layer(n).family == "merge" for n in network.order[1:])


def test_a_vit_whose_position_table_fits_one_size_follows_both_branches_through_the_cli():
    """At 224 timm adds its position table as it is, elsewhere it resamples it: two branches, the same layers."""
    require("timm")
    from typer.testing import CliRunner

    from convsolve.cli import app

    result = CliRunner().invoke(app, ["sizes", "timm:vit_tiny_patch16_224(dynamic_img_size=True)", "--input", "200:256", "--json"])
    assert result.exit_code == 0, result.output
    timm = require("timm")
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, dynamic_img_size=True)
    expected = forward_valid(model, range(200, 257))
    assert expected == {208, 224, 240, 256}
    assert set(json.loads(result.output)["values"]) == expected


class SameLayerMismatch(nn.Module):
    """Two tensors of one layer whose sizes differ by one: PyTorch refuses to add or concatenate them at every size."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._assert(x.ndim == 4, "NCHW")
        y = self.conv(x)
        if self.how == "cat":
            return torch.cat([y, y[:, :, 1:]], 1)
        return torch.maximum(y, y[:, :, 1:])


@pytest.mark.parametrize("how", ["cat", "maximum"])
def test_tensors_of_one_layer_that_never_line_up_are_refused_not_passed(how):
    with pytest.raises(ModelImportError, match="only at some input sizes|line up only at some sizes|capturing the model"):
        from_torch(SameLayerMismatch(how).eval(), input=range(1, 17))


def test_a_slice_clamped_to_its_end_is_not_called_valid_beyond_it():
    """``y[:, :, :300]`` has y's size up to 300 and 300 after: PyTorch's capture assumes the first, so does nothing else."""

    class Clamped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            torch._assert(x.ndim == 4, "NCHW")
            y = self.conv(x)
            return torch.maximum(y, y[:, :, :300])

    assert max(forward_valid(Clamped(), range(290, 320))) == 302  # 303 and up fail in PyTorch
    with pytest.raises(ModelImportError, match=r"ATen operator slice relies on s\d+ - 2 < 300"):
        from_torch(Clamped().eval(), input=range(290, 320))
    assert claimed(from_torch(Clamped().eval(), input=range(1, 200))) == forward_valid(Clamped(), range(1, 200))


class CropToSkip(nn.Module):
    """Up-sampled past its skip, then cropped back to it (``x[:, :, :h, :w]``): valid wherever the crop fits."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.down = nn.MaxPool2d(2, ceil_mode=True)
        self.up = nn.ConvTranspose2d(4, 4, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.stem(x)
        y = self.up(self.down(skip))
        return skip + y[:, :, : skip.shape[2], : skip.shape[3]]


def test_a_crop_back_to_a_skip_is_a_resize_as_checked_by_the_slices_guard():
    network = from_torch(CropToSkip().eval(), input=range(1, 41))
    assert claimed(network) == forward_valid(CropToSkip(), range(1, 41)) == set(range(1, 41))
    assert "resize_as" in {network.layer(n).type for n in network.order[1:]}


class UnfoldBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.unfold = nn.Unfold(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._assert(x.ndim == 4, "NCHW")
        return self.unfold(x)


def test_a_refusal_names_the_module_path_the_operator_and_the_source_line():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(UnfoldBlock())).eval()
    with pytest.raises(ModelImportError) as info:
        from_torch(model, input=range(1, 40))
    text = str(info.value)
    assert text.startswith("module '1.0.unfold': ATen operator im2col has no convsolve translation")
    assert "test_io_aten.py:" in text and "(return self.unfold(x))" in text
