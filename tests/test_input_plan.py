"""The input plan (``sizes --nearest``): nearest valid sizes by brute force, and the pad / crop checked in PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from extras import require
from typer.testing import CliRunner

from convsolve import load, load_config
from convsolve.cli import app
from convsolve.ops.input_plan import input_plan
from convsolve.sizesets import SizeRange

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
runner = CliRunner()

NETWORKS = {
    "unet": {"input": {"channels": 1, "size": {"range": [1, 64]}}, "layers": [
        {"name": "c1", "type": "conv2d", "out_channels": 2, "kernel": 3, "padding": 1},
        {"name": "p1", "type": "max_pool2d", "kernel": 2},
        {"name": "p2", "type": "max_pool2d", "kernel": 2},
        {"name": "u2", "type": "conv_transpose2d", "out_channels": 2, "kernel": 2, "stride": 2},
        {"name": "m2", "type": "add", "inputs": ["p1", "u2"]},
        {"name": "u1", "type": "conv_transpose2d", "out_channels": 2, "kernel": 2, "stride": 2},
        {"name": "m1", "type": "concat", "inputs": ["c1", "u1"]}]},
    "strided": {"input": {"channels": 3, "height": {"range": [1, 40]}, "width": {"range": [1, 40]}}, "layers": [
        {"name": "a", "type": "conv2d", "out_channels": 4, "kernel": [7, 3], "stride": [3, 2], "dilation": [1, 2]},
        {"name": "b", "type": "avg_pool2d", "kernel": [2, 3], "stride": [2, 3]},
        {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 1, "inputs": ["a"]},
        {"name": "d", "type": "interpolate", "size": [9, 11], "inputs": ["b"]},
        {"name": "e", "type": "interpolate", "size": [9, 11], "inputs": ["c"]},
        {"name": "f", "type": "add", "inputs": ["d", "e"]}]},
}


def valid_points(network, upto: int) -> set[tuple[int, int]]:
    """Every valid (height, width) up to ``upto``, from the network over that whole square: the oracle."""
    wide = network.with_input([SizeRange(1, upto)] * 2, tied=False)
    mask = np.asarray(wide.valid_sizes().mask, dtype=bool)
    return {(int(h) + 1, int(w) + 1) for h, w in np.argwhere(mask)}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_the_plan_is_the_nearest_valid_size_above_and_below_by_brute_force(name):
    network = load_config(NETWORKS[name])
    valid = valid_points(network, 120)
    assert valid, "an oracle with nothing valid tests nothing"
    for query in [(q, q) for q in range(1, 60, 3)] + [(5, 17), (23, 8), (31, 44)]:
        plan = input_plan(network, query)
        assert plan.valid == (query in valid)
        squares = network.input.tied and query[0] == query[1]  # a square network's square input stays square
        candidates = [p for p in valid if p[0] == p[1] or not squares]
        above = [p for p in candidates if p[0] >= query[0] and p[1] >= query[1]]
        below = [p for p in candidates if p[0] <= query[0] and p[1] <= query[1]]

        def cost(p: tuple[int, int], query: tuple[int, int] = query) -> tuple[int, int]:
            return abs(p[0] - query[0]) + abs(p[1] - query[1]), max(abs(p[0] - query[0]), abs(p[1] - query[1]))

        if above:
            assert plan.pad is not None and plan.pad.size in valid
            assert cost(plan.pad.size) == min(cost(p) for p in above)
            assert all(b + a == s - q for b, a, s, q in zip(plan.pad.before, plan.pad.after, plan.pad.size, query))
        if below:
            assert plan.crop is not None and plan.crop.size in valid
            assert cost(plan.crop.size) == min(cost(p) for p in below)
        else:
            assert plan.crop is None


def test_a_size_far_beyond_the_window_is_not_found_and_nothing_large_is_allocated():
    network = load_config(NETWORKS["unet"])
    plan = input_plan(network, (2**31 - 5,))
    assert plan.pad is None or plan.pad.size[0] <= 2**31 - 1
    assert all(r.hi - r.lo < 2_000_000 for r in plan.window)


def test_the_pad_and_the_crop_make_a_pytorch_unet_run_and_the_output_crops_back():
    torch = require("torch")
    from torch import nn
    from torch.nn import functional as F

    class TinyUNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.Conv2d(1, 2, 3, padding=1)
            self.down = nn.MaxPool2d(2)
            self.mid = nn.Conv2d(2, 2, 3, padding=1)
            self.up = nn.ConvTranspose2d(2, 2, 2, stride=2)
            self.head = nn.Conv2d(4, 1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            skip = self.enc(x)
            return self.head(torch.cat([skip, self.up(self.mid(self.down(skip)))], 1))

    from convsolve.io.torch import from_torch

    model = TinyUNet().eval()
    network = from_torch(model, input=range(1, 65))
    plan = input_plan(network, (25, 30))
    assert not plan.valid and plan.output_keeps_size
    x = torch.zeros(1, 1, 25, 30)
    with pytest.raises(RuntimeError):
        model(x)
    pads = [v for b, a in zip(reversed(plan.pad.before), reversed(plan.pad.after)) for v in (b, a)]
    y = model(F.pad(x, pads))
    assert tuple(y.shape[2:]) == plan.pad.size
    crop = y[..., plan.pad.before[0]:plan.pad.before[0] + 25, plan.pad.before[1]:plan.pad.before[1] + 30]
    assert tuple(crop.shape[2:]) == (25, 30)
    top, left = -plan.crop.before[0], -plan.crop.before[1]
    assert tuple(model(x[..., top:top + plan.crop.size[0], left:left + plan.crop.size[1]]).shape[2:]) == plan.crop.size
    compile(plan.snippet(), "<plan>", "exec")  # the snippet is Python


def test_sizes_nearest_on_the_shipped_unet_prints_the_plan_and_exits_1():
    result = runner.invoke(app, ["sizes", str(CONFIGS / "unet.yaml"), "--nearest", "250"])
    assert result.exit_code == 1, result.output
    assert "pad up to 256x256 (+6x+6 pixels)" in result.output
    assert "crop down to 240x240 (-10x-10 pixels)" in result.output
    assert "F.pad(x, (3, 3, 3, 3))" in result.output and "y[..., 3:253, 3:253]" in result.output
    data = json.loads(runner.invoke(app, ["sizes", str(CONFIGS / "unet.yaml"), "--nearest", "250x300", "--json"]).output)
    assert data["pad"]["size"] == [256, 304] and data["crop"]["size"] == [240, 288] and data["valid"] is False
    valid = runner.invoke(app, ["sizes", str(CONFIGS / "unet.yaml"), "--nearest", "1x1x256x256"])
    assert valid.exit_code == 0 and "is valid" in valid.output


@pytest.mark.parametrize("text", ["250x3o", "0", "-4", "250x250x250", ""])
def test_a_bad_nearest_size_is_a_one_paragraph_usage_error(text):
    result = runner.invoke(app, ["sizes", str(CONFIGS / "unet.yaml"), "--nearest", text])
    assert result.exit_code == 2
    assert "--nearest" in result.output and "Traceback" not in result.output


def test_the_plan_of_an_imported_shipped_config_matches_its_valid_sizes():
    network = load(CONFIGS / "resnet18.yaml")
    plan = input_plan(network, (7,))
    valid = set(network.with_input([SizeRange(1, 200)], tied=True).valid_sizes().sets[0].values)
    assert plan.valid == (7 in valid)
    if plan.pad is not None:
        assert plan.pad.size[0] == min(v for v in valid if v >= 7)


def test_a_repair_past_the_solver_limit_offers_the_input_plan(monkeypatch, tmp_path):
    from convsolve.solve import programme

    monkeypatch.setattr(programme, "MAX_ELEMENTS", 50)
    result = runner.invoke(app, ["repair", str(CONFIGS / "unet.yaml"), "--input", "240:260"])
    assert result.exit_code == 2
    assert "the solver would hold" in result.output
    assert "valid at 240, 256 of 240..260" in result.output and "--nearest SIZE" in result.output
