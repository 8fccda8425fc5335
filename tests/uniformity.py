"""Uniform draws, by chi-square: the one check every sampler's test makes.

Example:
    >>> assert_uniform(["a", "b"] * 50, ["a", "b"])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

__all__ = ["assert_uniform"]


def assert_uniform(drawn: Iterable[Hashable], valid: Sequence[Hashable]) -> None:
    """Every draw is one of ``valid``, and the chi-square statistic of their counts is below ``dof + 4.5 * sqrt(2 * dof)``,
    which is above the 0.999 quantile of chi-square for these sizes."""
    seen = Counter(drawn)
    assert set(seen) <= set(valid), sorted(map(str, set(seen) - set(valid)))[:3]
    expected = sum(seen.values()) / len(valid)
    chi2 = sum((seen[key] - expected) ** 2 / expected for key in valid)
    dof = len(valid) - 1
    assert chi2 < dof + 4.5 * (2 * dof) ** 0.5, (chi2, dof)
