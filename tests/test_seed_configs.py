"""The shipped seed configs fail exactly where PyTorch fails, and say why."""

from pathlib import Path

import pytest

import convsolve

SEED = Path(__file__).resolve().parent.parent / "configs" / "seed"


@pytest.mark.parametrize("name", ["kernel_larger_than_input", "valid_padding_too_small", "stride_too_large"])
def test_seed_config_is_invalid_with_a_cause_and_fixes(name):
    report = convsolve.load(SEED / f"{name}.yaml").check()
    assert not report.ok
    violation = report.violations[0]
    assert violation.cause.startswith("the size reaching it")
    assert any("then valid at every size" in fix for fix in violation.fixes)


def test_stride_too_large_names_the_upstream_stride():
    report = convsolve.load(SEED / "stride_too_large.yaml").check()
    assert "down (stride 5) 10->2" in report.violations[0].cause
