"""The HTML report: its sections, self-containment, a real browser rendering it, and every shipped config."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from convsolve import load, load_space, ops
from convsolve.cli import app
from convsolve.render import build_report
from extras import needs

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
runner = CliRunner()
needs_matplotlib = needs("matplotlib")
CHROMIUM = shutil.which("chromium")
BIG_BENCH = {"chain-12", "chain-40", "chain-100", "chain-1000", "res-6", "res-20", "res-40", "res-100"}
"""The larger generated benchmark spaces, left out to keep the test short (chain-6 and res-12 stand for them)."""

SHIPPED = sorted(p for p in CONFIGS.rglob("*.yaml") if not (p.parent.name == "bench" and p.stem in BIG_BENCH))


def _outside_references(page: str) -> list[str]:
    """Anything in a page that would make a browser fetch or link elsewhere."""
    patterns = [r"://", r"<script", r"<link", r"<iframe", r"@import", r"url\((?!#)", r"\ssrc="]
    return [p for p in patterns if re.search(p, page, re.IGNORECASE)]


def test_network_report_has_check_violations_and_valid_sizes():
    report = build_report(load(CONFIGS / "vgg16.yaml"))
    page = report.html(figures=False)
    assert report.space is None and not report.check.ok
    assert "<h2>Check</h2>" in page and "invalid: 6 violations" in page  # pool1..pool5 at small sizes, fc6 at the rest
    assert "<code>224..255</code>" in page
    for violation in report.check.violations:
        assert f"layer &#x27;{violation.node}&#x27;" in page
    assert "cause</dt><dd>the size reaching it (1) is smaller than the kernel (2), 1 short" in page
    assert _outside_references(page) == []


def test_space_report_counts_prunes_and_samples_like_the_solver():
    space = load_space(CONFIGS / "spaces" / "resnet_space.yaml")
    report = build_report(space, samples=3, seed=7)
    assert report.space.valid == ops.count(space).valid
    assert report.space.domains == ops.prune(space).domains
    assert report.space.samples == ops.sample(space, 3, seed=7)
    assert report.subject.assignment == next(ops.enumerate_assignments(space, limit=1))
    page = report.html(figures=False)
    assert "<b>387,420,489</b> valid of 2,066,242,608 assignments" in page
    assert page.count("<tr>") == 1 + len(space.params) and "<th>sample 3</th>" in page
    assert "Of the network pictured: the first valid assignment." in page


def test_huge_counts_are_written_compactly():
    report = build_report(load_space(CONFIGS / "spaces" / "mobilenetv2_nas.yaml"), samples=1)
    assert "2.66 × 10^17 valid of 2.66 × 10^17 assignments" in str(report)


def test_out_of_time_solver_sections_say_so():
    report = build_report(load_space(CONFIGS / "spaces" / "unet_space.yaml"), timeout=1e-9)
    assert report.space.valid is None and report.space.samples is None
    assert "counting and pruning stopped after 1e-09 s" in report.html(figures=False)
    assert report.drawing.domains_note == "domains as written: counting and pruning stopped after 1e-09 s"


@needs_matplotlib
def test_figures_are_inline_svg_without_outside_references():
    page = build_report(load(CONFIGS / "seed" / "stride_too_large.yaml")).html()
    assert page.count("<svg") == 2 and "<?xml" not in page and "DOCTYPE svg" not in page
    assert ">conv fails first<" in page  # the plot's annotation, as text
    assert _outside_references(page) == []


@needs_matplotlib
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_report_renders_in_headless_chromium(tmp_path):
    from matplotlib.image import imread

    page = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(CONFIGS / "vgg16.yaml"), "-o", str(page)])
    assert result.exit_code == 0, result.output
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"]

    def chromium(profile: str, *extra: str) -> str:
        done = subprocess.run([CHROMIUM, *flags, f"--user-data-dir={tmp_path / profile}", *extra, page.as_uri()],
                              capture_output=True, text=True, timeout=120, check=True)
        return done.stdout

    shot = tmp_path / "shot.png"
    chromium("profile-shot", f"--screenshot={shot}", "--window-size=1200,3000")
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (3000, 1200)
    assert (pixels.min(axis=2) < 0.9).mean() > 0.05  # ink, not a blank page
    levels = (pixels * 15).round().astype(np.int64)
    colours = np.unique((levels[..., 0] * 16 + levels[..., 1]) * 16 + levels[..., 2])
    assert len(colours) > 50  # text, the red violations, the plot's lines
    dom = chromium("profile-dom", "--dump-dom")
    assert dom.count("<svg") == 2 and dom.count("<text") > 100 and "fc6 fails first" in dom
    assert "<h2>Output sizes over the input range</h2>" in dom and "<h2>Network</h2>" in dom


@needs_matplotlib
@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_the_three_commands_work_on_every_shipped_config(config, tmp_path):
    outputs = {"plot": (tmp_path / "sizes.png", 20_000), "draw": (tmp_path / "net.svg", 5_000), "report": (tmp_path / "report.html", 30_000)}
    for command, (out, smallest) in outputs.items():
        result = runner.invoke(app, [command, str(config), "-o", str(out), "--json"])
        assert result.exit_code == 0, f"{command}: {result.output}"
        summary = json.loads(result.stdout)
        assert summary["path"] == str(out) and summary["bytes"] == out.stat().st_size > smallest
    assert _outside_references(outputs["report"][0].read_text()) == []
