"""MACs and weights of a network, against PyTorch's own modules counted with hooks, and beside every repair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from extras import require
from typer.testing import CliRunner

from convsolve.cli import app
from convsolve.ops.compute import network_cost

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
runner = CliRunner()


def counted_by_hooks(torch, model, size):
    """MACs and weights (no biases) of every convolution and linear layer, from the shapes PyTorch computes."""
    totals = {"macs": 0, "weights": 0}

    def hook(module, inputs, output):
        weights = module.weight.numel()
        if isinstance(module, torch.nn.Linear):
            macs = weights * (inputs[0].numel() // inputs[0].shape[-1])
        elif isinstance(module, torch.nn.modules.conv._ConvTransposeNd):
            macs = weights * inputs[0][0, 0].numel()
        else:
            macs = weights * output[0, 0].numel()
        totals["macs"] += macs
        totals["weights"] += weights

    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.modules.conv._ConvNd)):
            module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, 3, *size))
    return totals["macs"], totals["weights"]


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "vgg11", "squeezenet1_0", "googlenet"])
@pytest.mark.parametrize("size", [(224, 224), (160, 192)])
def test_the_cost_of_a_torchvision_model_is_what_its_modules_compute(name, size):
    torch = require("torch")
    torchvision = require("torchvision")
    from convsolve.io.torch import from_torch

    model = getattr(torchvision.models, name)(**({"aux_logits": False, "init_weights": False} if name == "googlenet" else {})).eval()
    network = from_torch(model, input=[range(size[0], size[0] + 1), range(size[1], size[1] + 1)])
    cost = network_cost(network, size)
    assert cost is not None
    assert (cost.macs, cost.weights) == counted_by_hooks(torch, model, size)


def test_a_network_invalid_at_the_size_has_no_cost():
    from convsolve import load

    assert network_cost(load(CONFIGS / "vgg16.yaml"), (32, 32)) is None


def test_a_repair_shows_its_compute_and_warns_past_the_bound():
    path = str(CONFIGS / "broken" / "vgg_on_32px.yaml")
    strides = runner.invoke(app, ["repair", path, "--input", "32:224"])
    assert strides.exit_code == 0
    assert "compute at 224x224: 10.2 GMACs -> 591 GMACs (x58.1)" in strides.output
    assert "warning: this repair multiplies the compute by 58.1, more than --max-macs-ratio 2" in strides.output
    allowed = runner.invoke(app, ["repair", path, "--input", "32:224", "--max-macs-ratio", "100"])
    assert "warning" not in allowed.output
    padding = runner.invoke(app, ["repair", path, "--input", "32:224", "--allow", "padding", "--json"])
    data = json.loads(padding.output)
    assert data["macs_ratio"] == pytest.approx(1.28, abs=0.01) and data["macs_before"] < data["macs_after"]
    bad = runner.invoke(app, ["repair", path, "--max-macs-ratio", "0"])
    assert bad.exit_code == 2 and "--max-macs-ratio" in bad.output
