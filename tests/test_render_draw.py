"""The drawing: layout by topological generation, labels, red for what is invalid, pruned domains of a space."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convsolve import load, load_config, load_space, ops
from convsolve.cli import app
from convsolve.errors import UsageError
from convsolve.render import drawing
from convsolve.render.draw import RED
from convsolve.render.figures import figure_bytes
from extras import needs

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
needs_matplotlib = needs("matplotlib")

SHORTCUT = {
    "name": "shortcut", "input": {"channels": 8, "size": {"range": [8, 64]}},
    "layers": [
        {"name": "conv1", "type": "conv2d", "out_channels": 8, "kernel": 3, "stride": 2, "padding": 1},
        {"name": "conv2", "type": "conv2d", "out_channels": 8, "kernel": 3, "padding": 1},
        {"name": "proj", "type": "conv2d", "out_channels": 8, "kernel": 1, "inputs": ["input"]},
        {"name": "sum", "type": "add", "inputs": ["conv2", "proj"]},
        {"name": "relu", "type": "relu"},
    ],
}
"""A residual block whose shortcut forgot the stride: the add's inputs are n/2 and n."""


def test_mismatched_merge_is_red_with_its_edges_and_downstream_unreached():
    drawn = drawing(load_config(SHORTCUT), at=[32])
    state = {n.name: n.state for n in drawn.nodes}
    assert state == {"input": "ok", "conv1": "ok", "conv2": "ok", "proj": "ok", "sum": "invalid", "relu": "unreached"}
    assert {(u, v) for u, v, bad in drawn.edges if bad} == {("conv2", "sum"), ("proj", "sum")}
    shapes = {n.name: n.shape for n in drawn.nodes}
    assert shapes["conv2"] == "8 x 16 x 16" and shapes["proj"] == "8 x 32 x 32" and shapes["sum"] == "-"
    assert next(n for n in drawn.nodes if n.name == "sum").problem == "inputs disagree: conv2 16 x 16, proj 32 x 32"


def test_invalid_layer_says_why_in_the_words_of_its_size_rule():
    drawn = drawing(load(ROOT / "configs" / "seed" / "stride_too_large.yaml"))
    conv = next(n for n in drawn.nodes if n.name == "conv")
    assert conv.state == "invalid" and conv.problem == "the size reaching it (2) is smaller than the kernel (3), 1 short"
    fc6 = next(n for n in drawing(load(ROOT / "configs" / "vgg16.yaml"), at=[100]).nodes if n.name == "fc6")
    assert fc6.problem == "4608 features reach it, in_features is 25088"  # 512 x 3 x 3 after pool5


def test_shapes_on_the_nodes_are_the_shapes_table():
    net = load(ROOT / "configs" / "resnet18.yaml")
    drawn = drawing(net, at=[224])
    table = {row.node: " x ".join(map(str, row.shape)) for row in net.shapes([224, 224])}
    assert {n.name: n.shape for n in drawn.nodes} == table
    assert drawn.at == (224, 224) and all(n.state == "ok" for n in drawn.nodes)


def test_rows_are_topological_generations_and_slots_do_not_collide():
    net = load(ROOT / "configs" / "resnet18.yaml")
    drawn = drawing(net)
    place = {n.name: (n.row, n.slot) for n in drawn.nodes}
    for name in net.order[1:]:
        assert place[name][0] == 1 + max(place[p][0] for p in net.graph.predecessors(name))
    assert len(set(place.values())) == len(place)


def test_default_at_is_the_smallest_valid_size_else_the_smallest_of_the_range():
    assert drawing(load(ROOT / "configs" / "vgg16.yaml")).at == (224, 224)
    assert drawing(load(ROOT / "configs" / "seed" / "stride_too_large.yaml")).at == (10, 10)


def test_nodes_valid_here_but_failing_elsewhere_say_where():
    drawn = drawing(load(ROOT / "configs" / "vgg16.yaml"))
    elsewhere = {n.name: n.fails_elsewhere for n in drawn.nodes if n.fails_elsewhere}
    assert elsewhere["fc6"] == "32..223, 256..512"
    assert "fails first at 32..223, 256..512" in next(n for n in drawn.nodes if n.name == "fc6").lines()


def test_at_must_be_one_size_per_axis():
    with pytest.raises(UsageError, match="--at 1x2x3"):
        drawing(load_config(SHORTCUT), at=[1, 2, 3])


def test_space_nodes_list_their_pruned_domains():
    space = load_space(ROOT / "configs" / "spaces" / "unet_space.yaml")
    drawn = drawing(space)
    pruned = ops.prune(space).domains
    assert pruned["pool1.stride"] == (2,)
    pool1 = next(n for n in drawn.nodes if n.name == "pool1")
    assert pool1.domains == ("kernel ∈ {2, 3}", "padding ∈ {0, 1}", "stride ∈ {2}  (1 of 2 pruned)")
    assert next(n for n in drawn.nodes if n.name == "enc1_conv1").domains == ("level1_kernel ∈ {3, 5}",)
    assert "first valid assignment" in drawn.subject and "41,472 valid assignments" in drawn.domains_note


def test_out_of_time_space_shows_domains_as_written():
    space = load_space(ROOT / "configs" / "bench" / "res-12.yaml")
    drawn = drawing(space, timeout=1e-9)
    assert "first value of every parameter" in drawn.subject
    assert drawn.domains_note.startswith("domains as written: pruning stopped after")


@needs_matplotlib
def test_svg_names_the_invalid_node_in_text_and_draws_it_red():
    svg = figure_bytes(drawing(load_config(SHORTCUT), at=[32]).figure(), "svg").decode()
    assert ">sum  ·  -<" in svg and ">conv2  ·  8 x 16 x 16<" in svg and ">inputs disagree: conv2 16 x 16, proj 32 x 32<" in svg
    assert svg.count(f"stroke: {RED}") >= 3  # the merge's box and its two incoming edges


@needs_matplotlib
def test_cli_draws_a_space_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "net.svg"
    args = ["draw", str(ROOT / "configs" / "spaces" / "resnet_space.yaml"), "-o", str(out)]
    result = runner.invoke(app, args + ["--json"])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 30_000 and "∈" in out.read_text()
    assert runner.invoke(app, args).exit_code == 2
    assert runner.invoke(app, args + ["--force", "--at", "64"]).exit_code == 0
    bad = runner.invoke(app, ["draw", str(ROOT / "configs" / "vgg16.yaml"), "--at", "big", "-o", str(tmp_path / "x.png")])
    assert bad.exit_code == 2 and "--at 'big'" in bad.output


@needs_matplotlib
@pytest.mark.parametrize("name", ["cost$$", "$\\foo$", "a$b$c"])
def test_names_are_drawn_as_written_not_as_math(tmp_path, name):
    """A layer named cost$$ or $\\foo$ made draw, plot and report fail with a mathtext traceback; a$b$c was typeset as math."""
    from convsolve.render import size_plot

    config = {"name": name, "input": {"channels": 1, "size": {"range": [1, 16]}},
              "layers": [{"name": name, "type": "conv2d", "out_channels": 1, "kernel": 3}]}
    network = load_config(config)
    for figure in (drawing(network).figure(), size_plot(network).figure()):
        svg = figure_bytes(figure, "svg").decode()
        assert f">{name}" in svg  # in a <text> element: not typeset as math
    path = tmp_path / "net.json"
    path.write_text(json.dumps(config))
    result = runner.invoke(app, ["report", str(path), "-o", str(tmp_path / "report.html")])
    assert result.exit_code == 0 and name in (tmp_path / "report.html").read_text(), result.output
