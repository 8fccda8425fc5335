"""Compact descriptions of valid-size sets agree with the sets they describe."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convsolve.sizesets import SizeRange, SizeSet


@pytest.mark.parametrize(
    "values, text",
    [
        ([], "none"),
        ([7], "7"),
        (range(224, 256), "224..255"),
        (range(16, 513, 16), "16, 32, ..., 512"),
        ([3, 9], "3, 9"),
        ([n for n in range(20, 400) if n % 16 in (4, 5)], "every n in 20..389 with n mod 16 in {4, 5}"),
        ([1, 2, 3, 10, 20], "1..3, 10, 20"),
    ],
)
def test_describe(values, text):
    assert SizeSet.from_values(values, 1, 512).describe() == text


@settings(max_examples=200, derandomize=True)
@given(
    period=st.integers(1, 40),
    residues=st.sets(st.integers(0, 39), min_size=1, max_size=6),
    start=st.integers(1, 100),
    length=st.integers(1, 400),
)
def test_period_reconstructs_the_set(period, residues, start, length):
    residues = {r % period for r in residues}
    values = [n for n in range(start, start + length) if n % period in residues]
    if len(values) < 2 or values[-1] - values[0] + 1 < 2 * period:
        return  # a period shows only over two full periods
    found = SizeSet.from_values(values, 1, 1000).period()
    assert found is not None
    p, rs = found
    rebuilt = [n for n in range(values[0], values[-1] + 1) if n % p in rs]
    assert rebuilt == values
    assert p <= period


def test_to_dict_has_the_exact_list():
    data = SizeSet.from_values(range(16, 65, 16), 1, 64).to_dict()
    assert data["values"] == [16, 32, 48, 64]
    assert data["min"] == 16 and data["count"] == 4
    assert data["period"] == {"period": 16, "residues": [0]}


def test_size_range_parse():
    assert SizeRange.parse("224") == SizeRange(224, 224)
    assert SizeRange.parse("32:224") == SizeRange.parse("32..224") == SizeRange(32, 224)
    assert np.array_equal(SizeRange(3, 5).values(), [3, 4, 5])
    assert SizeRange.parse("64:512:16").values()[:3].tolist() == [64, 80, 96]
    for bad in ("a:b", "1:2:3:4", "0:4", "9:2", "1:9:0"):
        with pytest.raises(ValueError):
            SizeRange.parse(bad)
