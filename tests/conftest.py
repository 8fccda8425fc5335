"""Fixtures shared by the whole test run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convsolve.space import Space
from small_spaces import valid_assignments


class BruteForce:
    """The brute-force valid assignments of each space, computed once per test run.

    Spaces are keyed by their config (``Space.to_config()``), so the same space built by several test
    modules is brute-forced once. Each call returns a fresh list of fresh dicts: a test may change it.
    Not thread-safe (pytest runs tests one at a time); unbounded, as the spaces of the suite are few and small.

    Example:
        >>> from small_spaces import SPACES
        >>> brute_force = BruteForce()
        >>> len(brute_force(SPACES["target"]())), len(brute_force.valid)
        (24, 1)
    """

    def __init__(self) -> None:
        self.valid: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, space: Space) -> list[dict[str, Any]]:
        key = json.dumps(space.to_config(), sort_keys=True)
        if key not in self.valid:
            self.valid[key] = valid_assignments(space)
        return [dict(row) for row in self.valid[key]]


@pytest.fixture(scope="session")
def brute_force() -> BruteForce:
    """Every valid assignment of a space, by brute force (tests/small_spaces.py), once per space in the whole run."""
    return BruteForce()
