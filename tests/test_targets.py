"""Targets in a plain network config: check reports the unmet ones, repair keeps them, --keep-stride keeps every stride."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from convsolve import load
from convsolve.cli import app
from convsolve.ops.targets import stride_targets
from convsolve.solve.problem import receptive_fields

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
runner = CliRunner()


def with_targets(tmp_path: Path, source: Path, targets: str) -> Path:
    path = tmp_path / source.name
    path.write_text(source.read_text() + "targets:\n" + targets)
    return path


def test_check_reports_a_target_the_network_misses(tmp_path):
    path = with_targets(tmp_path, CONFIGS / "resnet18.yaml", "  - {node: layer4_1_add, stride: 16}\n  - {node: layer1_1_add, size: 56, at: 224}\n")
    result = runner.invoke(app, ["check", str(path), "--input", "224"])
    assert result.exit_code == 1
    assert "target not met: layer4_1_add: total stride 16 (it is 32)" in result.output
    assert "layer1_1_add" not in result.output  # 56x56 at 224: met
    data = json.loads(runner.invoke(app, ["check", str(path), "--input", "224", "--json"]).output)
    assert data["targets_unmet"] == ["layer4_1_add: total stride 16 (it is 32)"]


def test_repair_keeps_the_configs_targets_and_fixes_the_shortcut_the_comment_points_at(tmp_path):
    path = with_targets(tmp_path, CONFIGS / "broken" / "resnet_shortcut_stride.yaml", "  - {node: b1_conv2, stride: 8}\n")
    plain = runner.invoke(app, ["repair", str(CONFIGS / "broken" / "resnet_shortcut_stride.yaml"), "--input", "224"])
    assert "b1_conv1.stride: 2 -> 1" in plain.output  # without the target: the main branch loses its downsampling
    kept = runner.invoke(app, ["repair", str(path), "--input", "224", "-o", str(tmp_path / "fixed.yaml")])
    assert kept.exit_code == 0, kept.output
    assert "b1_down.stride: 1 -> 2" in kept.output and "b1_conv1" not in kept.output
    assert runner.invoke(app, ["check", str(tmp_path / "fixed.yaml"), "--input", "224"]).exit_code == 0


def test_keep_stride_keeps_every_layers_total_stride(tmp_path):
    source = CONFIGS / "broken" / "vgg_on_32px.yaml"
    out = tmp_path / "fixed.yaml"
    result = runner.invoke(app, ["repair", str(source), "--input", "32:224", "--keep-stride", "-o", str(out)])
    assert result.exit_code == 0, result.output
    before, after = load(source), load(out)
    assert len(stride_targets(before)) > 20 and stride_targets(before) == stride_targets(after)
    assert receptive_fields(after, "pool5")[0][0] == 32
    assert str(after.valid_sizes()) == "32..224"


def test_a_target_naming_no_layer_is_a_clear_error(tmp_path):
    path = with_targets(tmp_path, CONFIGS / "resnet18.yaml", "  - {node: nowhere, stride: 4}\n")
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2 and "nowhere" in result.output and "Traceback" not in result.output
