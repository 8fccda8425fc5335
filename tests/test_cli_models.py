"""The command line on real models: module:callable and FILE.py:callable references, .onnx files, and export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import convsolve
import convsolve.io.torch
from convsolve.cli import app
from extras import needs, require

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parent.parent / "configs"

MODELS_PY = '''
import torch.nn as nn
import torch

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 7, stride=2, padding=3)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ConvTranspose2d(8, 8, 2, stride=2)

    def forward(self, x):
        y = self.stem(x)
        return torch.cat([y, self.up(self.pool(y))], 1)

def build_net():
    return Net()

def needs_args(width):
    return Net()

def fails_to_trace():
    class Gate(nn.Module):
        def forward(self, x):
            return x if x.shape[-1] > 4 else x[:, :, :, 1:]  # a branch on a size: torch.fx cannot trace it
    return nn.Sequential(nn.Conv2d(3, 3, 1), Gate())
'''


@pytest.fixture
def models_py(tmp_path):
    require("torch")
    path = tmp_path / "my_models.py"
    path.write_text(MODELS_PY)
    return path


def test_check_sizes_and_shapes_take_a_file_callable(models_py):
    import torch

    reference = f"{models_py}:build_net"
    result = runner.invoke(app, ["sizes", reference, "--input", "1:64", "--json"])
    assert result.exit_code == 0, result.output
    model = convsolve.io.torch.load_callable(reference)[0].to("meta")
    runs = set()
    for n in range(1, 65):
        try:
            model(torch.empty(1, 3, n, n, device="meta"))
            runs.add(n)
        except RuntimeError:
            pass
    assert set(json.loads(result.stdout)["values"]) == runs  # the stride-2 stem, pool and up-conv need n mod 4 in {0, 3}
    text = runner.invoke(app, ["sizes", reference, "--input", "1:64"]).output
    assert "valid input sizes in 1..64 (every spatial axis): every n in 3..64 with n mod 4 in {0, 3}" in text
    data = json.loads(runner.invoke(app, ["check", reference, "--input", "64:256", "--json"]).stdout)
    assert data["valid"] is False and data["violations"][0]["node"] == "cat"
    shapes = runner.invoke(app, ["shapes", reference, "--input", "1x3x64x64", "--json"])
    assert shapes.exit_code == 0
    assert json.loads(shapes.stdout)["layers"][-1] == {"node": "cat", "layer": "concat", "shape": [16, 32, 32], "problem": None}


@pytest.mark.torchvision
@needs("torchvision")
def test_a_torchvision_callable_by_module_name():
    result = runner.invoke(app, ["sizes", "torchvision.models:alexnet", "--input", "1:128"])
    assert result.exit_code == 0, result.output
    assert "63..128 (66 sizes; smallest 63x63)" in result.output


@pytest.mark.parametrize("suffix, message", [
    (":build", "has no attribute 'build' (did you mean 'build_net'?)"),
    (":needs_args", "calling needs_args() failed: TypeError"),
    (":fails_to_trace", "torch.fx cannot trace"),
])
def test_model_errors_exit_2_in_one_paragraph(models_py, suffix, message):
    result = runner.invoke(app, ["check", f"{models_py}{suffix}"])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1


@pytest.mark.parametrize("name", ["none.py:net", "none.onnx", "none.yaml"])
def test_missing_files_exit_2(tmp_path, name):
    """A missing file says so, with or without the extra its kind of model needs."""
    result = runner.invoke(app, ["sizes", f"{tmp_path}/{name}"])
    assert result.exit_code == 2 and "no such file" in result.output


def test_an_onnx_file_with_a_full_input_shape(tmp_path):
    onnx = require("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("Conv", ["x", "w"], ["y"], name="stem", strides=[2, 2], pads=[3, 3, 3, 3])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(np.zeros((8, 3, 7, 7), np.float32), "w")])
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    result = runner.invoke(app, ["shapes", str(path), "--input", "1x3x224x224", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["layers"][-1]["shape"] == [8, 112, 112]


def test_export_writes_a_loadable_config_and_refuses_to_overwrite(models_py, tmp_path):
    out = tmp_path / "net.yaml"
    result = runner.invoke(app, ["export", f"{models_py}:build_net", "-o", str(out), "--input", "16:128"])
    assert result.exit_code == 0, result.output
    network = convsolve.load(out)
    assert str(network.valid_sizes()) == str(convsolve.load(f"{models_py}:build_net").with_input(network.input.ranges, True).valid_sizes())
    again = runner.invoke(app, ["export", f"{models_py}:build_net", "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(app, ["export", f"{models_py}:build_net", "-o", str(out), "--force"]).exit_code == 0


def test_export_prints_yaml_without_an_output_and_never_overwrites_its_input(tmp_path):
    result = runner.invoke(app, ["export", str(CONFIGS / "vgg16.yaml")])
    assert result.exit_code == 0 and result.stdout.startswith("# vgg16: exported by convsolve")
    copy = tmp_path / "vgg16.yaml"
    copy.write_text((CONFIGS / "vgg16.yaml").read_text())
    refused = runner.invoke(app, ["export", str(copy), "-o", str(copy), "--force"])
    assert refused.exit_code == 2 and "refusing to overwrite the input" in refused.output


def test_help_says_what_a_torch_reference_runs():
    result = runner.invoke(app, ["--help"])
    text = " ".join(result.output.split())
    assert "imports only the named module (or file) and calls only the named callable" in text
    sizes_help = " ".join(runner.invoke(app, ["sizes", "--help"]).output.split())
    assert "MODULE:CALLABLE" in sizes_help and "calls only that callable" in sizes_help


def test_a_python_file_without_a_callable_names_the_form_to_use(models_py):
    result = runner.invoke(app, ["check", str(models_py)])
    assert result.exit_code == 2
    assert "is a Python file, not a config" in result.output and f"{models_py}:build_model" in result.output
    assert "YAML" not in result.output and result.output.count("\n") == 1
