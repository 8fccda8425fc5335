"""The size plot: what it shows (failing layers, disagreeing merges, lines by stage) and the files it writes."""

import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from convsolve import load, load_config
from convsolve.cli import app
from convsolve.errors import MissingExtraError
from convsolve.render import size_plot
from convsolve.render.figures import figure_bytes
from convsolve.render.plot import MAX_LINES
from extras import needs

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "configs" / "seed"
runner = CliRunner()
needs_matplotlib = needs("matplotlib")


def _net(layers, size=None, **input_spec):
    spec = {"channels": 1, **({"size": size} if size is not None else {}), **input_spec}
    return load_config({"name": "t", "input": spec, "layers": layers})


SKIP = [
    {"name": "down", "type": "max_pool2d", "kernel": 2},
    {"name": "up", "type": "conv_transpose2d", "out_channels": 1, "kernel": 2, "stride": 2},
    {"name": "skip", "type": "concat", "inputs": ["input", "up"]},
]


def test_failing_layers_are_named_per_run_of_invalid_sizes():
    plot = size_plot(load(SEED / "stride_too_large.yaml"))
    assert plot.configured == (10, 10)  # a single size is widened, and marked
    assert [(f.node, str(f.sizes)) for f in plot.failures] == [("down", "1..2"), ("conv", "3..12")]
    assert plot.valid_sizes == "13..64"
    assert "'conv' (conv2d, kernel 3, stride 1, padding 0) fails first" in str(plot)


def test_every_invalid_size_has_exactly_one_first_failing_layer():
    net = load(ROOT / "configs" / "unet.yaml")
    plot = size_plot(net)
    invalid = ~plot.valid[0]
    masks = np.array([f.mask for f in plot.failures])
    assert (masks.sum(axis=0) == invalid.astype(int)).all()
    assert {f.node for f in plot.failures} == {"pool1", "pool2", "pool3", "pool4", "cat1", "cat2", "cat3", "cat4"}


def test_merge_disagreements_are_the_sizes_where_inputs_differ():
    plot = size_plot(_net(SKIP, {"range": [2, 40]}))
    (merge,) = plot.disagreements
    assert merge.node == "skip" and merge.inputs == ("input", "up")
    assert merge.at.tolist() == list(range(3, 41, 2))  # odd sizes: the upsampled half is one short
    assert (merge.sizes[:, 0] == merge.at).all() and (merge.sizes[:, 1] == merge.at - 1).all()


def test_lines_group_nodes_whose_sizes_agree_everywhere():
    net = load(ROOT / "configs" / "resnet50.yaml")
    plot = size_plot(net)
    drawn = [n for line in plot.lines for n in line.nodes]
    assert len(drawn) == len(set(drawn)) == len(net.order) - plot.flattened
    result = net.infer()
    for line in plot.lines:
        first = result.nodes[line.nodes[0]]
        for name in line.nodes[1:]:
            assert np.array_equal(np.where(first.ok[0], first.sizes[0], -1), np.where(result.nodes[name].ok[0], result.nodes[name].sizes[0], -1))
    assert len(plot.stages) == len(plot.lines) == 7


def test_many_distinct_lines_are_listed_by_stage():
    layers = [{"name": f"c{i}", "type": "conv2d", "out_channels": 1, "kernel": 2} for i in range(30)]
    plot = size_plot(_net(layers, {"range": [40, 200]}))
    assert len(plot.lines) == 31 and len(plot.stages) == MAX_LINES
    assert [line.stage for line in plot.lines] == sorted(line.stage for line in plot.lines)
    assert sorted({line.stage for line in plot.lines}) == list(range(MAX_LINES))
    assert plot.stages[0].startswith("input") and plot.stages[-1].split(" (")[0].endswith("c29")


def test_log_scale_only_when_the_values_span_a_wide_ratio():
    wide = size_plot(load(ROOT / "configs" / "vgg16.yaml"))
    narrow = size_plot(_net([{"name": "c", "type": "conv2d", "out_channels": 1, "kernel": 3}], {"range": [200, 255]}))
    assert wide.log_x and wide.log_y
    assert not narrow.log_x and not narrow.log_y


def test_independent_axes_get_one_panel_each():
    plot = size_plot(_net([{"name": "c", "type": "conv2d", "out_channels": 1, "kernel": [3, 9]}],
                          height={"range": [1, 20]}, width={"range": [5, 30]}))
    assert plot.panels == ("height", "width")
    assert plot.inputs[0].tolist() == list(range(1, 21)) and plot.inputs[1].tolist() == list(range(5, 31))
    assert [(plot.panels[f.panel], str(f.sizes)) for f in plot.failures] == [("height", "1..2"), ("width", "5..8")]


@pytest.mark.parametrize("layer", [
    {"name": "c", "type": "conv1d", "out_channels": 2, "kernel": 5},
    {"name": "c", "type": "conv3d", "out_channels": 2, "kernel": 5},
])
def test_one_and_three_dimensional_networks_plot(layer):
    plot = size_plot(_net([layer], {"range": [1, 40]}))
    assert plot.panels in (("length",), ("depth = height = width",))
    assert [str(f.sizes) for f in plot.failures] == ["1..4"]


@needs_matplotlib
def test_svg_keeps_text_and_names_the_failing_layer():
    svg = figure_bytes(size_plot(load(SEED / "stride_too_large.yaml")).figure(), "svg").decode()
    assert len(svg) > 20_000
    assert ">conv fails first" in svg and ">down fails first" in svg and "config input 10" in svg


@needs_matplotlib
def test_cli_writes_a_png_that_is_not_blank(tmp_path):
    from matplotlib.image import imread

    out = tmp_path / "sizes.png"
    result = runner.invoke(app, ["plot", str(ROOT / "configs" / "vgg16.yaml"), "--input", "8:256", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output and "'fc6' (linear) fails first" in result.output
    pixels = imread(out)[..., :3]
    assert pixels.shape[1] > 1000 and (pixels.min(axis=2) < 0.9).mean() > 0.1
    again = runner.invoke(app, ["plot", str(ROOT / "configs" / "vgg16.yaml"), "-o", str(out)])
    assert again.exit_code == 2 and "pass --force" in again.output


def test_missing_matplotlib_is_one_paragraph_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'convsolve\[plot\]'"):
        size_plot(load(SEED / "stride_too_large.yaml")).figure()
    for command in ("plot", "draw", "report"):
        out = tmp_path / ("x.html" if command == "report" else "x.png")
        result = runner.invoke(app, [command, str(SEED / "stride_too_large.yaml"), "-o", str(out)])
        assert result.exit_code == 2
        assert result.output.startswith("error: this needs matplotlib; install it with: pip install 'convsolve[plot]'")
        assert "Traceback" not in result.output and not out.exists()
