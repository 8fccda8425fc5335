"""The command line: exit codes 0/1/2, JSON output, and one-paragraph errors without tracebacks."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convsolve.cli import app, parse_input
from convsolve.errors import UsageError
from convsolve.sizesets import SizeRange

SEED = Path(__file__).resolve().parent.parent / "configs" / "seed"
runner = CliRunner()


@pytest.fixture
def unet_like(tmp_path):
    path = tmp_path / "u.yaml"
    path.write_text(
        "name: u\ninput: {channels: 1, size: {range: [8, 64]}}\nlayers:\n"
        "  - {name: down, type: max_pool2d, kernel: 2}\n"
        "  - {name: up, type: conv_transpose2d, out_channels: 1, kernel: 2, stride: 2}\n"
        "  - {name: skip, type: concat, inputs: [input, up]}\n"
    )
    return path


def test_check_invalid_exits_1_with_cause():
    result = runner.invoke(app, ["check", str(SEED / "kernel_larger_than_input.yaml")])
    assert result.exit_code == 1
    assert "cause: the size reaching it (5) is smaller than the kernel (7), 2 short" in result.output
    assert "floor((5 + 2*0 - 7) / 1) + 1 = -1" in result.output


def test_check_valid_exits_0_and_input_overrides_the_range():
    result = runner.invoke(app, ["check", str(SEED / "kernel_larger_than_input.yaml"), "--input", "7:300"])
    assert result.exit_code == 0, result.output
    assert "valid at every input size in 7..300" in result.output


def test_check_json(unet_like):
    result = runner.invoke(app, ["check", str(unet_like), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid_sizes"]["description"] == "8, 10, ..., 64"
    assert data["violations"][0]["node"] == "skip"


def test_sizes_prints_the_compact_set(unet_like):
    result = runner.invoke(app, ["sizes", str(unet_like), "--input", "1:512"])
    assert result.exit_code == 0
    assert "2, 4, ..., 512 (256 sizes; smallest 2x2)" in result.output
    data = json.loads(runner.invoke(app, ["sizes", str(unet_like), "--json", "--input", "1:16"]).stdout)
    assert data["values"] == [2, 4, 6, 8, 10, 12, 14, 16]


def test_sizes_with_no_valid_size_exits_1():
    result = runner.invoke(app, ["sizes", str(SEED / "kernel_larger_than_input.yaml"), "--input", "1:6"])
    assert result.exit_code == 1
    assert "none" in result.output


def test_shapes_table_and_json(unet_like):
    result = runner.invoke(app, ["shapes", str(unet_like), "--input", "16"])
    assert result.exit_code == 0
    assert "1 x 8 x 8" in result.output
    data = json.loads(runner.invoke(app, ["shapes", str(unet_like), "--input", "1x1x16x20", "--json"]).stdout)
    assert [row["shape"] for row in data["layers"]] == [[1, 16, 20], [1, 8, 10], [1, 16, 20], [2, 16, 20]]
    bad = runner.invoke(app, ["shapes", str(unet_like), "--input", "9"])
    assert bad.exit_code == 1


def test_shapes_refuses_a_range(unet_like):
    result = runner.invoke(app, ["shapes", str(unet_like), "--input", "8:16"])
    assert result.exit_code == 2
    assert "needs one input size" in result.output


@pytest.mark.parametrize("args, message", [
    (["check", "missing.yaml"], "missing.yaml: no such file"),
    (["check", "{unet}", "--input", "0:4"], "1 <= lo <= hi"),
    (["check", "{unet}", "--input", "4x4x4"], "give one size or 2"),
    (["check", "{unet}", "--input", "abc"], "expected a size, LO:HI"),
])
def test_bad_input_exits_2_without_traceback(args, message, unet_like):
    args = [a.replace("{unet}", str(unet_like)) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ")


def test_bad_config_names_file_layer_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("input: {channels: 3, size: 8}\nlayers:\n  - {name: c, type: conv2d, out_channels: 4, kernel: {choice: [1, 3]}}\n")
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert f"{path}:3: layer 'c', field 'kernel'" in result.output


def test_debug_shows_the_exception():
    result = runner.invoke(app, ["--debug", "check", "missing.yaml"])
    assert result.exit_code != 0 and result.exception is not None


def test_parse_input_forms():
    assert parse_input("224", 2) == ([SizeRange(224, 224)] * 2, True)
    assert parse_input("32:64x100", 2) == ([SizeRange(32, 64), SizeRange(100, 100)], False)
    assert parse_input("1x3x224x320", 2) == ([SizeRange(224, 224), SizeRange(320, 320)], False)
    with pytest.raises(UsageError):
        parse_input("1x2x3", 2)


def test_version_is_printed_and_exits_0():
    import convsolve

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"convsolve {convsolve.__version__}"


def test_valid_sizes_take_in_iteration_and_a_short_repr():
    import convsolve

    network = convsolve.load(Path(__file__).resolve().parent.parent / "configs" / "unet.yaml")
    valid = network.valid_sizes()
    assert 256 in valid and 250 not in valid and (256, 256) in valid and (256, 240) not in valid
    assert list(valid) == list(range(16, 513, 16)) and len(valid) == 32
    assert repr(valid) == "ValidSizes('16, 32, ..., 512', 32 valid, square)"
    assert convsolve.ops.count is not None and convsolve.render is not None  # reachable after `import convsolve`


def test_debug_after_the_command_shows_the_traceback(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "empty.yaml"
    path.write_text("")
    quiet = subprocess.run([sys.executable, "-m", "convsolve", "check", str(path)], capture_output=True, text=True, timeout=60)
    loud = subprocess.run([sys.executable, "-m", "convsolve", "check", str(path), "--debug"], capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr and "is empty" in loud.stderr


def test_flags_show_no_value_in_help():
    result = runner.invoke(app, ["sizes", "--help"], env={"COLUMNS": "160"})
    line = next(line for line in result.output.splitlines() if "--json" in line)
    assert "<bool>" not in line


def test_a_size_valid_on_its_axis_is_shown_when_another_axis_fails():
    result = runner.invoke(app, ["check", str(Path(__file__).resolve().parent.parent / "configs" / "unet.yaml"), "--input", "250x320"])
    assert result.exit_code == 1 and "height: none; width: 320" in result.output


def test_input_channels_that_are_not_the_networks_are_refused():
    unet = str(Path(__file__).resolve().parent.parent / "configs" / "unet.yaml")
    result = runner.invoke(app, ["sizes", unet, "--input", "1x5x64x64"])
    assert result.exit_code == 2 and "takes 1 input channels, not 5" in result.output
    assert runner.invoke(app, ["sizes", unet, "--input", "1x1x64x64"]).exit_code == 0


def test_sampling_an_empty_space_says_so(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("input: {channels: 3, size: 4}\nlayers:\n  - {name: c, type: conv2d, out_channels: 4, kernel: {choice: [7, 9]}}\n")
    result = runner.invoke(app, ["sample", str(path), "-n", "3"])
    assert result.exit_code == 1 and "no valid assignment to sample" in result.output


@pytest.mark.parametrize("verb, extra", [("export", []), ("enumerate", ["--limit", "2"]), ("sample", ["-n", "2"])])
def test_every_command_takes_json(verb, extra):
    root = Path(__file__).resolve().parent.parent / "configs"
    config = root / ("resnet18.yaml" if verb == "export" else "spaces/resnet_space.yaml")
    result = runner.invoke(app, [verb, str(config), *extra, "--json"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    parsed = json.loads(result.output) if verb == "export" else [json.loads(line) for line in lines]
    assert parsed
