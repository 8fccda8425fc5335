"""What a picture shows: a network, or a search space through one fixed network of it.

A search space has no sizes of its own; its pictures show the first valid assignment in the
solver's fixed enumeration order (so the same file gives the same picture), or, when no
assignment is valid, the first value of every parameter, which shows why.

Example:
    >>> from convsolve import Space
    >>> space = Space.from_config({"input": {"channels": 1, "size": {"range": [4, 16]}},
    ...     "layers": [{"name": "c", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [5, 3]}}]})
    >>> subject = subject_of(space)
    >>> subject.assignment, subject.chosen
    ({'c.kernel': 3}, 'the first valid assignment')
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidAssignment, SolverTimeout
from ..network import Network
from ..space import Space

__all__ = ["Deadline", "Subject", "subject_of"]


class Deadline:
    """The seconds left of a time budget shared by several solver calls (None: no limit)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float | None:
        """Seconds left (at least a millisecond, so a solver call stops at its first step), or None."""
        return None if self.end is None else max(self.end - time.monotonic(), 0.001)


@dataclass(frozen=True)
class Subject:
    """A network to picture, and the space and assignment it stands for when it comes from a space."""

    network: Network | None
    """None when a space has no valid assignment and its first values make no network either."""
    space: Space | None = None
    assignment: Mapping[str, Any] | None = None
    chosen: str = ""
    """How the assignment was chosen, in words."""

    @property
    def name(self) -> str:
        source = self.space if self.space is not None else self.network
        assert source is not None
        return source.name

    @property
    def source(self) -> str | None:
        source = self.space if self.space is not None else self.network
        assert source is not None
        return source.source

    def describe(self) -> str:
        """``search space 'x', pictured with the first valid assignment``, or empty for a network."""
        if self.space is None:
            return ""
        return f"search space {self.name!r}, pictured with {self.chosen}"

    def assignment_dict(self) -> dict[str, Any] | None:
        return None if self.assignment is None else dict(self.assignment)


Pictured = Network | Space | Subject
"""What the render functions take: a network, a search space, or a subject already chosen."""


def subject_of(loaded: Pictured, *, timeout: float | None = None) -> Subject:
    """The subject of the pictures of ``loaded``: itself for a network, one fixed network for a space.

    ``timeout`` bounds the search for a valid assignment; when it runs out, the first value of every
    parameter is pictured instead, and ``chosen`` says so.
    """
    if isinstance(loaded, Subject):
        return loaded
    if isinstance(loaded, Network):
        return Subject(loaded)
    from .. import ops

    try:
        first = next(ops.enumerate_assignments(loaded, limit=1, timeout=timeout), None)
        why = "no assignment is valid"
    except SolverTimeout:
        first, why = None, f"the search for a valid one stopped after {timeout:g} s"
    if first is not None:
        return Subject(loaded.fixed(first), loaded, first, "the first valid assignment")
    guess = {name: param.values[0] for name, param in loaded.params.items()}
    try:
        network = loaded.fixed(guess)
    except InvalidAssignment as exc:
        return Subject(None, loaded, guess, f"no network: {why}, and the first value of every parameter makes none ({exc.message})")
    return Subject(network, loaded, guess, f"the first value of every parameter ({why})")
