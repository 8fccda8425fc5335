"""scripts/zoo_sweep.py's core on tiny models: its rows, its table, and that it catches a wrong importer answer."""

from __future__ import annotations

import csv
import importlib
import io
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from extras import require

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
SIZES = range(1, 65)
"""squeezenet1_0 over 1..64 (its valid sizes start at 21); timm's resnet10t, slower per size, over 1..32."""


@pytest.fixture(scope="module")
def zoo() -> Iterator[ModuleType]:
    """scripts/zoo_sweep.py as a module."""
    require("torchvision")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(SCRIPTS))
        yield importlib.import_module("zoo_sweep")


def squeezenet(zoo: ModuleType) -> object:
    return zoo.Candidate("torchvision", "squeezenet1_0", "squeezenet")


def test_tiny_models_are_exact_and_rows_read_well(zoo):
    require("timm")
    rows = [zoo.sweep_model(squeezenet(zoo), SIZES, timeout=60),
            zoo.sweep_model(zoo.Candidate("timm", "resnet10t", "resnet"), range(1, 33), timeout=60)]
    assert [(r.model, r.verdict, r.detail) for r in rows] == [
        ("torchvision.models:squeezenet1_0", "exact", ""), ("timm:resnet10t", "exact", "")]
    assert rows[0].valid == "21..64" and rows[0].kind == "CNN" and rows[0].dyn == ""
    assert rows[1].dyn == "no"  # a ResNet's constructor takes no dynamic_img_size
    assert all(r.cpu_checks >= 2 and r.convsolve_s is not None and r.oracle_s is not None for r in rows)
    table = zoo.markdown(rows).splitlines()
    assert table[0].startswith("| model | family | kind | verdict | detail |") and table[1].startswith("|---|")
    assert table[2].startswith("| torchvision.models:squeezenet1_0 | squeezenet | CNN | exact |  | 21..64 | ")
    parsed = list(csv.reader(io.StringIO(zoo.csv_text(rows))))
    assert len(parsed) == 3 and all(len(line) == len(parsed[0]) for line in parsed)
    assert zoo.summary(rows).startswith("summary: 2 models: 2 exact, 0 refused, 0 MISMATCH")
    assert "CNN families: 2/2 exact (100%); transformer/hybrid families: 0/0 exact (-)" in zoo.summary(rows)


def test_a_wrong_importer_answer_is_a_mismatch(zoo, monkeypatch):
    """convsolve's answer with 30 dropped and 5..6 added: the sweep names both, confirmed on the CPU."""
    right = zoo.convsolve_valid_sizes

    def wrong(model, sizes):
        valid, statement, channels = right(model, sizes)
        return (valid - {30}) | {5, 6}, statement, channels

    monkeypatch.setattr(zoo, "convsolve_valid_sizes", wrong)
    row = zoo.sweep_model(squeezenet(zoo), SIZES, timeout=60)
    assert row.verdict == "MISMATCH"
    assert "convsolve says valid, PyTorch fails at 5..6 (at 5: RuntimeError" in row.detail
    assert "convsolve says invalid, PyTorch runs at 30" in row.detail
    assert zoo.summary([row]).startswith("summary: 1 models: 0 exact, 0 refused, 1 MISMATCH")


def test_boundaries_and_compressed_sizes(zoo):
    assert zoo.boundaries({3, 4, 5, 8}, range(1, 11)) == {2, 3, 5, 6, 7, 8, 9}
    assert zoo.boundaries(set(), range(1, 5)) == set()
    assert zoo.compress([1, 2, 3, 5, 7, 8]) == "1..3, 5, 7..8"
    assert zoo.compress(list(range(0, 40, 2)), limit=3) == "0, 2, 4, ... (20 sizes)"


def test_one_model_per_family_prefers_small_names(zoo):
    candidates = [zoo.Candidate("timm", name, "resnet") for name in ("resnet50", "test_resnet", "resnet18", "resnet101")]
    assert [c.name for c in zoo.one_per_family(candidates)] == ["resnet18"]
