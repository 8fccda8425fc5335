"""The shipped configs: convsolve's valid sizes and per-layer shapes are PyTorch's, running the same network.

The PyTorch side is tests/torch_reference.py: each config translated layer by layer to torch.nn
modules and run on ``meta`` tensors (shapes only, no memory), one input size at a time.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner

import convsolve
from convsolve.cli import app
from convsolve.io.config import read_config
from convsolve.sizesets import SizeRange
from extras import require

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CONFIGS = ROOT / "configs"

DOCUMENTED_VALID_SIZES = {
    "vgg16": "224..255",
    "resnet18": "1..512",
    "resnet50": "1..512",
    "mobilenetv2": "1..512",
    "unet": "16, 32, ..., 512",
}
"""What each config's header says is valid over its input range 1..512."""

SWEEP = SizeRange(1, 300)
SAMPLE = [*range(1, 81), *range(83, 301, 11)]
"""Square sizes run through PyTorch, besides the sizes on either side of every change of validity."""

SHAPE_SIZES = {
    "vgg16": [(224, 224), (255, 230), (16, 16), (223, 240), (224, 256)],
    "resnet18": [(224, 224), (1, 1), (97, 131)],
    "resnet50": [(224, 224), (97, 131)],
    "mobilenetv2": [(224, 224), (97, 131)],
    "unet": [(64, 64), (48, 96), (8, 8), (40, 40), (64, 17)],
}
"""Height x width at which every layer's output shape is compared (valid and invalid ones)."""

CPU_SIZES = {"vgg16": [223, 224], "resnet18": [1, 37], "resnet50": [1, 37], "mobilenetv2": [1, 37], "unet": [16, 17]}
"""Sizes at which the ``meta`` oracle is itself checked against a real CPU forward."""


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    """tests/torch_reference.py; tests using it are skipped without torch."""
    require("torch")
    import torch_reference

    return torch_reference


def network_over(name: str, rng: SizeRange) -> convsolve.Network:
    return convsolve.load(CONFIGS / f"{name}.yaml").with_input([rng, rng], tied=True)


def model_of(reference: ModuleType, name: str, device: str = "meta") -> Any:
    return reference.ConfigModel(read_config(CONFIGS / f"{name}.yaml"), device=device)


def edges(valid: set[int], rng: SizeRange) -> set[int]:
    """The sizes on either side of every point where validity changes."""
    changes = [n for n in range(rng.lo + 1, rng.hi + 1) if (n in valid) != (n - 1 in valid)]
    return {m for n in changes for m in (n - 1, n)}


def is_search_space(data: Any) -> bool:
    """A config leaving a layer field open ({choice: ...} or {range: ...}), or choosing structure (params:, an op,
    a depth, an input): for the solver commands, not check."""
    layers = data.get("layers") if isinstance(data, Mapping) else None
    if isinstance(data, Mapping) and "params" in data:
        return True
    return any(
        key in ("choose", "repeat") or (isinstance(value, Mapping) and ("choice" in value or "range" in value or "choose" in value))
        for layer in (layers if isinstance(layers, list) else [])
        if isinstance(layer, Mapping)
        for key, value in layer.items()
    )


SHIPPED = sorted(
    path for path in CONFIGS.rglob("*")
    if path.suffix in (".yaml", ".yml", ".json") and not is_search_space(read_config(path))
)


@pytest.mark.parametrize("name", DOCUMENTED_VALID_SIZES)
def test_valid_sizes_are_as_the_config_header_says(name):
    network = convsolve.load(CONFIGS / f"{name}.yaml")
    assert str(network.valid_sizes()) == DOCUMENTED_VALID_SIZES[name]


def test_unet_sizes_command_prints_the_multiples_of_16():
    result = CliRunner().invoke(app, ["sizes", str(CONFIGS / "unet.yaml"), "--input", "1:512"])
    assert result.exit_code == 0
    assert "16, 32, ..., 512" in result.output


def test_resnet50_has_the_full_torchvision_graph():
    network = convsolve.load(CONFIGS / "resnet50.yaml")
    kinds = [network.layer(name).type for name in network.order[1:]]
    assert len(kinds) == 175
    assert (kinds.count("conv2d"), kinds.count("batch_norm2d"), kinds.count("add")) == (53, 53, 16)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: str(path.relative_to(CONFIGS)))
def test_shipped_config_loads_and_check_exits_0_or_1(path):
    convsolve.load(path)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code in (0, 1), result.output


def test_generated_configs_match_their_generator():
    script = ROOT / "scripts" / "generate_configs.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.torch
@pytest.mark.parametrize("name", DOCUMENTED_VALID_SIZES)
def test_valid_sizes_are_where_the_pytorch_forward_succeeds(name, reference):
    valid = set(network_over(name, SWEEP).valid_sizes().sets[0].values)
    model = model_of(reference, name)
    sizes = sorted(set(SAMPLE) | edges(valid, SWEEP))
    runs = {n: model.run(n) for n in sizes}
    disagree = [
        f"{n}: convsolve says {'valid' if n in valid else 'invalid'}, "
        f"PyTorch {'ran' if run.failed is None else f'failed at {run.failed}: {run.error}'}"
        for n, run in runs.items() if (run.failed is None) != (n in valid)
    ]
    assert not disagree, "\n".join(disagree)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("name", "heights", "widths"),
    [("vgg16", [16, 223, 224, 255, 256], [223, 224, 240, 256]), ("unet", [16, 17, 32, 40], [16, 48, 50])],
)
def test_non_square_valid_pairs_are_where_the_pytorch_forward_succeeds(name, heights, widths, reference):
    rows, columns = SizeRange(min(heights), max(heights)), SizeRange(min(widths), max(widths))
    network = convsolve.load(CONFIGS / f"{name}.yaml").with_input([rows, columns], tied=False)
    mask = network.valid_sizes().mask
    model = model_of(reference, name)
    expected = {(h, w): bool(mask[h - rows.lo, w - columns.lo]) for h in heights for w in widths}
    assert {(h, w): model.run(h, w).failed is None for h in heights for w in widths} == expected


@pytest.mark.torch
@pytest.mark.parametrize(
    ("name", "height", "width"), [(name, h, w) for name, sizes in SHAPE_SIZES.items() for h, w in sizes]
)
def test_layer_shapes_are_pytorch_shapes_and_the_failing_layer_is_flagged(name, height, width, reference):
    rows = {row.node: row for row in convsolve.load(CONFIGS / f"{name}.yaml").shapes([height, width])}
    run = model_of(reference, name).run(height, width)
    assert {node: rows[node].shape for node in run.outputs} == {node: tuple(t.shape[1:]) for node, t in run.outputs.items()}
    flagged = {node for node, row in rows.items() if row.problem.startswith("invalid here")}
    assert flagged == (set() if run.failed is None else {run.failed}), run.error


@pytest.mark.torch
@pytest.mark.parametrize(("name", "size"), [(name, n) for name, sizes in CPU_SIZES.items() for n in sizes])
def test_meta_oracle_fails_where_a_cpu_forward_fails(name, size, reference):
    meta, cpu = model_of(reference, name).run(size), model_of(reference, name, device="cpu").run(size)
    assert (meta.failed, list(meta.outputs)) == (cpu.failed, list(cpu.outputs))
    assert all(meta.outputs[node].shape == cpu.outputs[node].shape for node in cpu.outputs)
