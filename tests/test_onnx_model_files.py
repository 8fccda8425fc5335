"""ONNX's backend test cases of Conv, ConvTranspose, MaxPool, AveragePool and LpPool, imported as model files.

Every single-node case of these ops in ``onnx.backend.test.case.node.collect_testcases()`` is saved to a
``.onnx`` file and imported as a user would: ``convsolve.load(path)`` (and ``convsolve shapes FILE --input``
for one case). The output shape convsolve infers at the case's input shape must be the shape of the case's
expected output, and over small inputs the VALID/INVALID verdict must be the one of ONNX's
``ReferenceEvaluator``: valid when the run succeeds and its output has no dimension below 1. A case that
does not import is a failure, never a skip. Weights (Conv's and ConvTranspose's W) are graph inputs with
a static shape in these models, not initializers.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from extras import require

onnx = require("onnx")

from onnx.backend.test.case.node import collect_testcases  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

import convsolve  # noqa: E402
from convsolve.cli import app  # noqa: E402
from convsolve.io.onnx import from_onnx  # noqa: E402
from convsolve.sizesets import SizeRange  # noqa: E402

pytestmark = pytest.mark.onnx

OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool")

CASE_COUNTS = {"Conv": 6, "ConvTranspose": 11, "MaxPool": 19, "AveragePool": 20, "LpPool": 8}
"""The cases of onnx 1.23 per op (64 in all): a newer onnx adding or dropping one is noticed here."""

VERDICT_SIZES = SizeRange(1, 8)
"""Square (cubic) inputs on which the verdict is compared with the reference: small, so every run is cheap."""


def _collect() -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    return [case for case in cases if case.kind == "node" and len(case.model.graph.node) == 1 and case.model.graph.node[0].op_type in OPS]


CASES = _collect()


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every case's model saved as ``<case name>.onnx``, once for the module."""
    folder = tmp_path_factory.mktemp("onnx_cases")
    paths = {}
    for case in CASES:
        paths[case.name] = folder / f"{case.name}.onnx"
        onnx.save(case.model, str(paths[case.name]))
    return paths


def activation_name(case) -> str:
    return str(case.model.graph.node[0].input[0])


def test_every_case_of_the_five_ops_is_collected():
    counts = Counter(case.model.graph.node[0].op_type for case in CASES)
    assert dict(counts) == CASE_COUNTS, "onnx's backend cases changed: update CASE_COUNTS once the new ones pass"
    assert len(CASES) == 64


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_model_file_gives_the_expected_output_shape(case, model_files):
    network = convsolve.load(model_files[case.name])
    names = [value.name for value in case.model.graph.input]
    for inputs, outputs in case.data_sets:
        shape = np.shape(inputs[names.index(activation_name(case))])
        rows = network.shapes([int(n) for n in shape[2:]])
        assert not any(row.problem for row in rows), [row.problem for row in rows]
        assert (shape[0], *rows[-1].shape) == np.shape(outputs[0])


def reference_valid(case, n: int) -> bool:
    """Whether ONNX's reference evaluator runs the case's model at spatial size ``n`` on every axis and gives an output
    without an empty dimension; the weights are the case's own."""
    names = [value.name for value in case.model.graph.input]
    inputs = list(case.data_sets[0][0])
    position = names.index(activation_name(case))
    x = inputs[position]
    inputs[position] = np.ones(np.shape(x)[:2] + (n,) * (np.ndim(x) - 2), dtype=np.asarray(x).dtype)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            output = ReferenceEvaluator(case.model).run(None, dict(zip(names, inputs)))[0]
    except Exception:  # noqa: BLE001 - the oracle: whatever the reference raises, the size is refused
        return False
    return min(np.shape(output)) >= 1


REFERENCE_NARROWER = {
    "test_convtranspose_output_shape": "output_shape without auto_pad",
    "test_convtranspose_kernel_shape": "output_shape without auto_pad",
}
"""Cases where ONNX's reference runs at fewer sizes than the operator's definition allows. With ``output_shape``
and auto_pad NOTSET, the definition derives the pads from output_shape (``total_padding = s*(n-1) + output_padding
+ E - output_shape``), so every input size gives output_shape, as convsolve says (and ONNX Runtime runs it);
the reference keeps the pads at 0 and runs only where ``output_shape - (s*(n-1) + E)`` is in ``0..s-1``."""


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_model_file_is_valid_exactly_where_the_onnx_reference_runs(case, model_files):
    mask = [bool(ok) for ok in from_onnx(model_files[case.name], VERDICT_SIZES).valid_sizes().mask]
    reference = [reference_valid(case, n) for n in range(VERDICT_SIZES.lo, VERDICT_SIZES.hi + 1)]
    if case.name in REFERENCE_NARROWER:
        assert all(mask) and any(reference)
        return
    assert mask == reference


def test_cli_shapes_of_a_model_file_whose_weight_is_a_graph_input(model_files):
    case = next(case for case in CASES if case.name == "test_conv_with_strides_and_asymmetric_padding")
    result = CliRunner().invoke(app, ["shapes", str(model_files[case.name]), "--input", "7x5", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["layers"]
    assert [row["problem"] for row in rows] == [None, None]
    assert (1, *rows[-1]["shape"]) == np.shape(case.data_sets[0][1][0])
