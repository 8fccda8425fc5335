"""Model references (convsolve.io.references): timm:NAME, MODULE:CALLABLE(args), FILE.py:CALLABLE(args), and hostile ones."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

import convsolve
from convsolve.cli import app
from convsolve.errors import MissingExtraError, ModelImportError
from convsolve.io.references import is_model_reference, load_callable, parse_reference, split_reference
from convsolve.io.sources import is_torch_reference
from extras import needs, require

runner = CliRunner()

FACTORIES_PY = '''
import torch.nn as nn

def build(width, depth=1, kernel=(3, 3), pool=None):
    layers = [nn.Conv2d(3, width, kernel)]
    for _ in range(depth - 1):
        layers.append(nn.Conv2d(width, width, kernel))
    if pool is not None:
        layers.append(nn.MaxPool2d(pool["kernel"], stride=pool["stride"]))
    return nn.Sequential(*layers)

instance = build(4)
'''


@pytest.fixture
def factories_py(tmp_path):
    require("torch")
    path = tmp_path / "factories.py"
    path.write_text(FACTORIES_PY)
    return path


# --- parsing: literals only, nothing imported ------------------------------------------------------


@pytest.mark.parametrize("text, args, kwargs", [
    ("m:f()", (), {}),
    ("m:f(1, -2, 3.5, -0.25, 'a:b/c)', None, True)", (1, -2, 3.5, -0.25, "a:b/c)", None, True), {}),
    ("m:f(size=(224, 224), layers=[1, [2, 3]], cfg={'k': -1, 2: (None, False)})", (),
     {"size": (224, 224), "layers": [1, [2, 3]], "cfg": {"k": -1, 2: (None, False)}}),
    ("m:f(8, name='x', )", (8,), {"name": "x"}),
])
def test_arguments_are_parsed_as_literals(text, args, kwargs):
    reference = parse_reference(text)
    assert (reference.module, reference.attribute, reference.args, reference.kwargs) == ("m", "f", args, kwargs)
    assert reference.called


@pytest.mark.parametrize("text, split", [
    ("torchvision.models:resnet18", ("torchvision.models", "resnet18", "")),
    ("timm:vit_base_patch16_224.augreg_in21k", ("timm", "vit_base_patch16_224.augreg_in21k", "")),
    ("a/b.py:f(path='x:y/z')", ("a/b.py", "f", "(path='x:y/z')")),
    ("pkg:mod:f(1)", ("pkg:mod", "f", "(1)")),
    ("configs/unet.yaml", None),
    ("configs/a:b/c.yaml", None),
])
def test_split_reference_keeps_a_colon_inside_the_arguments(text, split):
    assert split_reference(text) == split


def test_an_existing_path_shaped_like_a_call_is_still_a_file(tmp_path):
    path = tmp_path / "net:v(1).yaml"
    assert is_model_reference(path) and is_torch_reference(path)  # not there yet: read as a reference
    path.write_text("x")
    assert not is_model_reference(path) and not is_torch_reference(path)
    assert is_torch_reference("timm:resnet18") and is_torch_reference("torchvision.models:resnet18(num_classes=10)")
    assert not is_torch_reference("a(1).yaml")


@pytest.mark.parametrize("text, message", [
    ('timm:resnet18(__import__("os"))', "argument 1 is a call (__import__('os')): only literals are allowed"),
    ("x:y(a=b)", "argument 'a' is a name (b): only literals are allowed"),
    ("x:y(a=os.sep)", "argument 'a' is an attribute (os.sep)"),
    ("x:y(1 + 2)", "argument 1 is an operator (1 + 2)"),
    ("x:y(--1)", "argument 1 is an operator (--1)"),
    ("x:y(*[1])", "argument 1 is *-unpacking"),
    ("x:y(**{'a': 1})", "**-unpacking"),
    ("x:y(a=lambda: 0)", "argument 'a' is a lambda"),
    ("x:y(a={1, 2})", "argument 'a' is a set"),
    ("x:y(a=b'1')", "argument 'a' is a constant of another type"),
    ("x:y(a=[f(1)])", "argument 'a' is a call (f(1))"),
    ("x:y(a=1)(2)", "expected one argument list in parentheses"),
    ("x:y(a=1).z", "expected one argument list in parentheses"),
    ("x:y(a=1, a=2)", "keyword argument 'a' is given twice"),
    ("timm:resnet18(", "'(' was never closed"),
    ("timm:resnet18(num_classes=(10)", "'(' was never closed"),
    ("timm:resnet18)", "'resnet18)' is not a timm model name (unbalanced parentheses?)"),
    ("m:f)", "'f)' is not a dotted Python name (unbalanced parentheses?)"),
    ("m:f(" + "[" * 300 + "]" * 300 + ")", "are not a Python argument list"),
    ("m:f(" + "1," * 6000 + ")", "characters long"),
    ("timm:resnet18(1)", "timm models take keyword arguments only"),
    ("timm:resnet18(pretrained=True)", "pretrained=True asks for weights, which convsolve never downloads"),
    ("torchvision.models:resnet18(weights='DEFAULT')", "weights='DEFAULT' asks for weights"),
    ("torchvision.models.detection:fasterrcnn_resnet50_fpn(weights_backbone='DEFAULT')", "weights_backbone='DEFAULT' asks for weights"),
])
def test_hostile_references_are_refused_before_anything_is_imported(text, message):
    modules = set(sys.modules)
    with pytest.raises(ModelImportError) as caught:
        parse_reference(text)
    assert message in str(caught.value) and str(caught.value).startswith(text[:40])
    assert "\n" not in str(caught.value)
    assert set(sys.modules) == modules


# --- loading each form ---------------------------------------------------------------------------


def test_a_file_callable_with_positional_and_keyword_literals(factories_py):
    network = convsolve.load(f"{factories_py}:build(6, depth=2, kernel=[5, 5], pool={{'kernel': 2, 'stride': 2}})")
    assert network.name == "build"
    convs = [network.layer(n) for n in network.order[1:] if network.layer(n).type == "conv2d"]
    assert [(c.out_channels, c.kernel) for c in convs] == [(6, (5, 5)), (6, (5, 5))]
    assert network.valid_sizes().sets[0].min == 10  # two 5x5 convs (9), then a 2x2 pool
    assert str(convsolve.load(f"{factories_py}:build(4)").valid_sizes()) == "3..512"


def test_a_module_callable_with_literal_arguments():
    require("torch")
    network = convsolve.load("torch.nn:Conv2d(3, 8, kernel_size=5, stride=2, padding=-0)")
    assert network.name == "Conv2d" and str(network.valid_sizes()) == "5..512"


def test_a_callable_failing_on_its_arguments_and_an_instance_given_arguments(factories_py):
    with pytest.raises(ModelImportError, match=r"calling build\(depth=2\) failed: TypeError: .*width.* \(check the arguments\)"):
        load_callable(f"{factories_py}:build(depth=2)")
    with pytest.raises(ModelImportError, match="is a torch.nn.Module instance, not a factory; write .*:instance without arguments"):
        load_callable(f"{factories_py}:instance()")
    assert load_callable(f"{factories_py}:instance")[1] == "instance"


@needs("torchvision")
def test_torchvision_with_keyword_arguments():
    network = convsolve.load("torchvision.models:squeezenet1_0(num_classes=10)")
    assert network.name == "squeezenet1_0"
    assert [network.layer(n).out_channels for n in network.order[1:] if network.layer(n).type == "conv2d"][-1] == 10


@needs("timm")
def test_timm_models_are_built_without_weights():
    model, name = load_callable("timm:resnet10t(num_classes=5, pretrained=False)")
    assert name == "resnet10t" and model.fc.out_features == 5 and model.pretrained_cfg["architecture"] == "resnet10t"
    network = convsolve.load("timm:resnet10t")
    assert network.name == "resnet10t" and str(network.valid_sizes()) == "1..512"


@needs("timm")
def test_an_unknown_timm_model_names_close_matches():
    with pytest.raises(ModelImportError, match=r"has no model 'resnet1' \(close matches: resnet1"):
        load_callable("timm:resnet1")
    with pytest.raises(ModelImportError, match=r"has no model 'nope' \(timm.list_models\(\) lists them\)"):
        load_callable("timm:nope")
    with pytest.raises(ModelImportError, match=r"timm.create_model\('resnet10t', pretrained=False, no_such_option=1\) failed: TypeError"):
        load_callable("timm:resnet10t(no_such_option=1)")


def test_missing_timm_is_a_missing_extra(monkeypatch):
    require("torch")
    monkeypatch.setitem(sys.modules, "timm", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'convsolve\[timm\]'"):
        load_callable("timm:resnet18")


# --- the command line -----------------------------------------------------------------------------


@needs("timm")
def test_cli_sizes_of_a_timm_model():
    result = runner.invoke(app, ["sizes", "timm:resnet18", "--input", "1:64"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid input sizes in 1..64")


@needs("torchvision")
def test_cli_takes_a_torchvision_call(factories_py):
    assert runner.invoke(app, ["sizes", "torchvision.models:squeezenet1_0(num_classes=10)", "--input", "1:64"]).exit_code == 0
    assert runner.invoke(app, ["sizes", f"{factories_py}:build(6, kernel=7)", "--input", "1:64"]).output.startswith(
        "valid input sizes in 1..64 (every spatial axis): 7..64")


@needs("timm")
@pytest.mark.parametrize("reference, message", [
    ('timm:resnet18(__import__("os"))', "only literals are allowed"),
    ("x:y(a=b)", "argument 'a' is a name"),
    ("timm:nope", "has no model 'nope'"),
    ("timm:resnet18(pretrained=True)", "never downloads"),
    ("timm:resnet18(num_classes=10", "'(' was never closed"),
    ("timm:resnet18)", "unbalanced parentheses"),
])
def test_cli_hostile_references_exit_2_in_one_paragraph(reference, message):
    result = runner.invoke(app, ["sizes", reference, "--input", "1:64"])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert result.output.startswith(f"error: {reference}: ") and result.output.count("\n") == 1
