"""Fuzzing the loaders and every CLI verb (a short, deterministic run of tests/fuzzing.py), and the crashes it found.

Every case must end with exit code 0, 1 or 2 (or 124 after ``--timeout``), never a traceback, and on
exit 2 with a message naming the file (or the option at fault). ``python scripts/fuzz.py`` runs the
long campaign.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import convsolve
import fuzzing
from extras import installed, needs
from convsolve.cli import app
from convsolve.errors import ConvsolveError, MissingExtraError
from convsolve.space import load_space

runner = CliRunner()
ONNX = installed("onnx")
"""Whether the fuzzed subjects include ONNX models (drawn only with the onnx extra)."""
TIMEOUT = 30
"""The --timeout of the fuzzed cases here: far above what any of them takes, so the run does not depend on the machine."""
FAST = dict(derandomize=True, database=None, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def _assert_clean(outcome: fuzzing.Outcome) -> None:
    assert not outcome.problems, f"{outcome.problems}\n{outcome.case.describe()}\n{outcome.output[-2000:]}\n{outcome.error_trace}"


@settings(max_examples=50, **FAST)
@given(case=fuzzing.fuzz_cases(verbs=fuzzing.CHEAP_VERBS, onnx=ONNX, timeout=TIMEOUT))
def test_loader_verbs_never_crash(case, tmp_path_factory):
    _assert_clean(fuzzing.run_case(case, tmp_path_factory.mktemp("case")))


@settings(max_examples=40, **FAST)
@given(case=fuzzing.fuzz_cases(verbs=fuzzing.SOLVER_VERBS, timeout=TIMEOUT))
def test_solver_verbs_never_crash(case, tmp_path_factory):
    _assert_clean(fuzzing.run_case(case, tmp_path_factory.mktemp("case")))


@settings(max_examples=20, **FAST)
@given(case=fuzzing.fuzz_cases(verbs=("repair", "batch-repair"), timeout=TIMEOUT))
def test_repair_verbs_never_crash(case, tmp_path_factory):
    _assert_clean(fuzzing.run_case(case, tmp_path_factory.mktemp("case")))


@needs("matplotlib")
@settings(max_examples=4, **FAST)
@given(case=fuzzing.fuzz_cases(verbs=fuzzing.PICTURE_VERBS, onnx=ONNX, timeout=TIMEOUT))
def test_picture_verbs_never_crash(case, tmp_path_factory):
    _assert_clean(fuzzing.run_case(case, tmp_path_factory.mktemp("case")))


@needs("onnx")
@settings(max_examples=40, **FAST)
@given(onnx_file=fuzzing.onnx_files(), verb=st.sampled_from(fuzzing.CHEAP_VERBS))
def test_damaged_onnx_models_are_clear_errors(onnx_file, verb, tmp_path_factory):
    content, origin = onnx_file
    case = fuzzing.FuzzCase((fuzzing.FuzzFile("model.onnx", content),), verb, ("--input", "16:32"), f"onnx: {origin}")
    _assert_clean(fuzzing.run_case(case, tmp_path_factory.mktemp("case")))


@settings(max_examples=80, **FAST)
@given(subject=fuzzing.subjects(onnx=False))
def test_the_loaders_raise_only_convsolve_errors(subject, tmp_path_factory):
    content, suffix, _ = subject
    path = tmp_path_factory.mktemp("case") / f"case{suffix or '.yaml'}"
    path.write_bytes(content)
    for loader in (convsolve.load, load_space):
        try:
            loader(path)
        except MissingExtraError:  # an .onnx file without the onnx extra (the message does not name the file yet)
            assert not ONNX and path.suffix == ".onnx"
        except ConvsolveError as exc:
            assert str(path) in str(exc)


# --- the crashes the fuzzer found, one test each -------------------------------------------------------


def _run(tmp_path, text, *args, name="net.yaml"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = runner.invoke(app, [args[0], str(path), *args[1:]])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return path, result


NET = "input: {{channels: 3, size: {size}}}\nlayers:\n  - {{name: c, type: conv2d, out_channels: 4, kernel: {kernel}{extra}}}\n"


@pytest.mark.parametrize("field, text", [
    ("kernel", NET.format(size=16, kernel=10**100, extra="")),
    ("padding", NET.format(size=16, kernel=3, extra=f", padding: {10**30}")),
    ("out_channels", NET.format(size=16, kernel=3, extra="").replace("out_channels: 4", f"out_channels: {2**63}")),
])
def test_a_huge_integer_in_a_layer_field_is_refused_not_an_overflow(tmp_path, field, text):
    path, result = _run(tmp_path, text, "check")
    assert result.exit_code == 2
    assert f"{path}:3: layer 'c', field '{field}'" in result.output and "at most 2,147,483,647" in result.output


@pytest.mark.parametrize("size, message", [
    ("{range: [1, 100000000000000000000000000000000]}", "sizes go up to 2,147,483,647, got 10000000...(33 digits)"),
    ("{range: [1, 10000000]}", "a size range holds at most 1,000,000 sizes"),
])
def test_a_huge_input_range_is_refused_not_an_overflow(tmp_path, size, message):
    path, result = _run(tmp_path, NET.format(size=size, kernel=3, extra=""), "sizes")
    assert result.exit_code == 2
    assert f"{path}: field 'input.size'" in result.output and message in result.output


def test_a_huge_input_option_is_a_usage_error(tmp_path):
    path, result = _run(tmp_path, NET.format(size=16, kernel=3, extra=""), "check", "--input", "1:99999999999999999999")
    assert result.exit_code == 2 and "field '--input'" in result.output and str(path) in result.output


def test_a_scale_factor_too_large_for_a_float_is_refused(tmp_path):
    text = "input: {channels: 3, size: 16}\nlayers:\n  - {name: up, type: interpolate, scale_factor: 1.0e+300}\n"
    path, result = _run(tmp_path, text, "sizes")
    assert result.exit_code == 2 and f"{path}:3: layer 'up', field 'scale_factor'" in result.output


@pytest.mark.parametrize("name", ["net.yaml", "net.json"])
def test_a_number_of_more_than_4300_digits_is_a_parse_error(tmp_path, name):
    text = json.dumps({"input": {"channels": 3, "size": 16}, "layers": [{"name": "c", "type": "conv2d", "out_channels": 4,
                                                                          "kernel": 7}]}).replace(": 7}", ": " + "9" * 5000 + "}")
    path, result = _run(tmp_path, text, "check", name=name)
    assert result.exit_code == 2 and f"{path}: is not valid" in result.output and "more than 4,300 digits" in result.output


def test_deep_nesting_inside_a_layer_is_refused_with_its_line(tmp_path):
    text = NET.format(size=16, kernel="[" * 150 + "3" + "]" * 150, extra="")
    path, result = _run(tmp_path, text, "check")
    assert result.exit_code == 2 and f"{path}:3: is nested 153 levels deep" in result.output


def test_deep_nesting_in_json_is_refused_before_any_message_recurses(tmp_path):
    text = json.dumps({"input": {"channels": 3, "size": 16}, "layers": "DEEP"}).replace('"DEEP"', "[" * 900 + "]" * 900)
    path, result = _run(tmp_path, text, "count", name="net.json")
    assert result.exit_code == 2 and f"{path}: is nested 901 levels deep" in result.output


def test_a_file_that_is_not_utf8_says_so(tmp_path):
    path, result = _run(tmp_path, b"name: \xff\xfe\n", "check")
    assert result.exit_code == 2 and f"{path}: is not UTF-8 text (byte 0xff at offset 6)" in result.output


def test_a_lone_surrogate_escape_is_refused_before_it_reaches_the_terminal(tmp_path):
    text = '{"input": {"channels": 3, "size": 16}, "layers": [{"name": "c\\ud800", "type": "relu"}]}'
    path, result = _run(tmp_path, text, "check", name="net.json")
    assert result.exit_code == 2 and f"{path}: holds text that is not valid Unicode" in result.output


@needs("onnx")
@pytest.mark.parametrize("verb", ["count", "prune", "suggest"])
def test_a_search_space_verb_on_an_onnx_model_says_what_it_needs(tmp_path, verb):
    path, result = _run(tmp_path, fuzzing.helper_onnx_model(), verb, name="model.onnx")
    assert result.exit_code == 2 and f"{path}: is an ONNX model" in result.output


def _helper_model():
    import onnx

    return onnx.load_from_string(fuzzing.helper_onnx_model())


@needs("onnx")
def test_an_onnx_attribute_of_the_wrong_type_names_node_and_attribute(tmp_path):
    from onnx import helper

    model = _helper_model()
    pool = next(node for node in model.graph.node if node.name == "avg")
    kernel = next(a for a in pool.attribute if a.name == "kernel_shape")
    kernel.CopyFrom(helper.make_attribute("kernel_shape", [1.5, 2.5]))
    path, result = _run(tmp_path, model.SerializeToString(), "check", name="model.onnx")
    assert result.exit_code == 2
    assert f"{path}: layer 'avg', field 'kernel_shape': AveragePool: attribute 'kernel_shape' must be of type INTS, got FLOATS" in result.output


@needs("onnx")
def test_a_truncated_onnx_initializer_names_the_tensor(tmp_path):
    model = _helper_model()
    weight = next(t for t in model.graph.initializer if t.name == "w1")
    weight.raw_data = weight.raw_data[: len(weight.raw_data) // 2]
    path, result = _run(tmp_path, model.SerializeToString(), "check", name="model.onnx")
    assert result.exit_code == 2 and str(path) in result.output and "the tensor 'w1' cannot be read" in result.output


@needs("onnx")
def test_a_truncated_onnx_file_is_a_clear_error(tmp_path):
    content = fuzzing.helper_onnx_model()
    path, result = _run(tmp_path, content[: len(content) // 3], "sizes", name="model.onnx")
    assert result.exit_code == 2 and f"{path}: is not a readable ONNX model" in result.output


def test_prune_with_no_valid_assignment_names_the_file(tmp_path):
    text = ("input: {channels: 3, size: 4}\nlayers:\n  - {name: c, type: conv2d, out_channels: 4, kernel: {choice: [7, 9]}}\n")
    path = tmp_path / "space.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["prune", str(path), "-o", str(tmp_path / "out.yaml")])
    assert result.exit_code == 2 and f"{path}: field '-o': no assignment is valid" in result.output


def test_a_solver_limit_names_the_file(tmp_path, monkeypatch):
    from convsolve.solve import programme

    monkeypatch.setattr(programme, "MAX_ELEMENTS", 10_000)
    result = runner.invoke(app, ["count", "configs/bench/res-12.yaml"])
    assert result.exit_code == 2 and result.output.startswith("error: configs/bench/res-12.yaml: layer ")


def test_the_error_value_shown_is_cut_short():
    from convsolve.loaders import show_config_value

    deep = [3]
    for _ in range(5000):
        deep = [deep]
    assert show_config_value(deep) == "[[[[...]]]]"
    assert show_config_value(list(range(100))) == "[0, 1, 2, 3, 4, 5, 6, 7, ...]"
    assert show_config_value(10**100) == "10000000...(101 digits)"


@needs("onnx")
def test_an_onnx_auto_pad_that_is_not_utf8_is_refused_by_name(tmp_path):
    model = _helper_model()
    conv = next(node for node in model.graph.node if node.name == "conv2")
    auto_pad = next(a for a in conv.attribute if a.name == "auto_pad")
    auto_pad.s = b"s\xc1me_upper"
    path, result = _run(tmp_path, model.SerializeToString(), "shapes", "--input", "16", name="model.onnx")
    assert result.exit_code == 2 and f"{path}: layer 'conv2', field 'auto_pad'" in result.output and "is not a padding" in result.output


def test_a_yaml_tag_that_does_not_fit_its_value_is_a_parse_error(tmp_path):
    path, result = _run(tmp_path, "name: !!int convention\n", "check")
    assert result.exit_code == 2 and f"{path}: is not valid YAML: the value 'convention' does not fit its tag" in result.output


@needs("onnx")
def test_an_onnx_input_larger_than_any_size_is_refused(tmp_path):
    model = _helper_model()
    for dim in model.graph.input[0].type.tensor_type.shape.dim[2:]:
        dim.dim_value = 2**31
    path, result = _run(tmp_path, model.SerializeToString(), "sizes", name="model.onnx")
    assert result.exit_code == 2 and f"{path}: field 'input_shape': the input 'x' has shape" in result.output


@needs("matplotlib")
def test_plot_of_a_single_huge_size_widens_with_a_step(tmp_path):
    text = NET.format(size=2_000_000, kernel=3, extra="")
    path, result = _run(tmp_path, text, "plot", "-o", str(tmp_path / "p.svg"))
    assert result.exit_code == 0 and "step 8" in result.output


@needs("matplotlib")
@pytest.mark.parametrize("at", ["0", "-1", "99999999999"])
def test_draw_at_a_size_out_of_bounds_is_a_usage_error(tmp_path, at):
    path, result = _run(tmp_path, NET.format(size=16, kernel=3, extra=""), "draw", "-o", str(tmp_path / "d.svg"), f"--at={at}")
    assert result.exit_code == 2 and f"{path}: field '--at'" in result.output


@needs("onnx")
def test_an_onnx_tensor_of_an_unknown_data_type_names_the_tensor(tmp_path):
    model = _helper_model()
    next(t for t in model.graph.initializer if t.name == "scales").data_type = 99
    path, result = _run(tmp_path, model.SerializeToString(), "check", name="model.onnx")
    assert result.exit_code == 2 and f"{path}: layer 'up1': the tensor 'scales' has the unknown data type 99" in result.output


@needs("onnx")
@pytest.mark.parametrize("damage, message", [
    ("no-output", "layer 'relu1', field 'output': the Relu node has no output"),
    ("arity", "layer 'conv1', field 'input': Conv takes 2..3 inputs, this node has 1"),
])
def test_an_onnx_node_with_the_wrong_number_of_inputs_or_outputs_is_refused(tmp_path, damage, message):
    model = _helper_model()
    if damage == "no-output":
        del next(node for node in model.graph.node if node.name == "relu1").output[:]
    else:
        del next(node for node in model.graph.node if node.name == "conv1").input[1:]
    path, result = _run(tmp_path, model.SerializeToString(), "check", name="model.onnx")
    assert result.exit_code == 2 and f"{path}: {message}" in result.output


def test_a_null_key_in_a_layer_is_named_not_a_crash(tmp_path):
    text = "input: {channels: 3, size: 16}\nlayers:\n  - {name: c, type: conv2d, out_channels: 4, kernel: 3, ~: 1}\n"
    path, result = _run(tmp_path, text, "check")
    assert result.exit_code == 2 and f"{path}:3: has an empty (null) key; write each key as text" in result.output


@pytest.mark.parametrize("value", ["0b_", "!!int ''", "!!int 0b"])
def test_a_scalar_the_yaml_library_cannot_construct_is_a_parse_error(tmp_path, value):
    path, result = _run(tmp_path, f"name: {value}\n", "check")
    assert result.exit_code == 2 and f"{path}: is not valid YAML: a value cannot be read as its type" in result.output


def test_flow_nesting_thousands_deep_is_refused_before_the_yaml_parser(tmp_path):
    path, result = _run(tmp_path, "a: " + "[" * 20000 + "]" * 20000 + "\n", "check")
    assert result.exit_code == 2 and f"{path}: is nested more than 1,000 levels deep" in result.output


@pytest.mark.parametrize("symbol", ["{'': 0}", "[k]", "3"])
def test_a_param_marker_naming_no_string_is_refused(tmp_path, symbol):
    text = ("input: {channels: 3, size: 16}\nparams: {k: {choice: [1, 3]}}\nlayers:\n"
            f"  - {{name: c, type: conv2d, out_channels: 4, kernel: {{param: {symbol}}}}}\n")
    path, result = _run(tmp_path, text, "count")
    assert result.exit_code == 2 and f"{path}:4: layer 'c', field 'kernel': a param is named by a string" in result.output
