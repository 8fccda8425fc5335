"""Sets of input sizes, stated compactly: ranges, arithmetic progressions, residues modulo a period.

A conv/pool chain with total stride ``S`` maps ``n + S`` to one more than ``n``, so which sizes are
valid is, past the smallest one, periodic in ``n``: the set is often ``{n >= n_min : n mod S in R}``.
:meth:`SizeSet.describe` finds the shortest period that explains the whole set and says it that way,
falling back to a list of runs.

Example:
    >>> SizeSet.from_values(range(16, 513, 16), 1, 512).describe()
    '16, 32, ..., 512'
    >>> SizeSet.from_values(range(224, 256), 1, 512).describe()
    '224..255'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import UsageError

__all__ = ["MAX_SIZE", "MAX_SIZES", "SizeRange", "SizeSet", "parse_input", "show_number"]

MAX_SIZE = 2**31 - 1
"""The largest input size, and the largest value of a layer's integer field: one size rule's arithmetic then fits in int64."""

MAX_SIZES = 1_000_000
"""The most input sizes one axis's range may hold (a step spreads them over a wider range)."""


@dataclass(frozen=True)
class SizeRange:
    """The input sizes examined on one axis: ``lo, lo + step, ...`` up to ``hi`` inclusive.

    Example:
        >>> SizeRange.parse("32:224")
        SizeRange(lo=32, hi=224, step=1)
        >>> str(SizeRange.parse("64:512:16"))
        '64..512 step 16'
    """

    lo: int
    hi: int
    step: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.lo <= self.hi:
            raise ValueError(f"a size range needs 1 <= lo <= hi, got {show_number(self.lo)}..{show_number(self.hi)}")
        if self.step < 1:
            raise ValueError(f"a size range needs step >= 1, got {show_number(self.step)}")
        if self.hi > MAX_SIZE:
            raise ValueError(f"sizes go up to {MAX_SIZE:,}, got {show_number(self.hi)}")
        count = (self.hi - self.lo) // self.step + 1
        if count > MAX_SIZES:
            raise ValueError(f"a size range holds at most {MAX_SIZES:,} sizes, got {count:,}; narrow it or give a step (LO:HI:STEP)")

    @classmethod
    def parse(cls, text: str) -> SizeRange:
        """``"224"``, ``"32:224"`` (also ``"32..224"``) or ``"64:512:16"`` (every 16th size)."""
        parts = text.replace("..", ":").split(":")
        try:
            numbers = [int(part) for part in parts]
        except ValueError:
            raise ValueError(f"expected a size, LO:HI or LO:HI:STEP, got {text!r}") from None
        if len(numbers) == 1:
            return cls(numbers[0], numbers[0])
        if len(numbers) in (2, 3):
            return cls(*numbers)
        raise ValueError(f"expected a size, LO:HI or LO:HI:STEP, got {text!r}")

    def values(self) -> np.ndarray:
        """Every size in the range, as an int64 array."""
        return np.arange(self.lo, self.hi + 1, self.step, dtype=np.int64)

    def __str__(self) -> str:
        if self.lo == self.hi:
            return str(self.lo)
        return f"{self.lo}..{self.hi}" + (f" step {self.step}" if self.step != 1 else "")


@dataclass(frozen=True)
class SizeSet:
    """A sorted set of valid sizes within the examined range ``lo..hi``."""

    values: tuple[int, ...]
    lo: int
    hi: int

    @classmethod
    def from_values(cls, values: Iterable[int], lo: int, hi: int) -> SizeSet:
        """The set of ``values`` (any order, duplicates allowed) examined over ``lo..hi``."""
        return cls(tuple(sorted({int(v) for v in values})), lo, hi)

    @classmethod
    def from_mask(cls, sizes: np.ndarray, mask: np.ndarray, lo: int, hi: int) -> SizeSet:
        """The sizes whose ``mask`` entry is true."""
        return cls(tuple(int(v) for v in sizes[mask]), lo, hi)

    @property
    def min(self) -> int | None:
        """The smallest valid size, or None when there is none."""
        return self.values[0] if self.values else None

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, size: object) -> bool:
        return size in set(self.values)

    def period(self) -> tuple[int, tuple[int, ...]] | None:
        """``(P, residues)`` such that the set is ``{min <= n <= max : n mod P in residues}``."""
        if len(self.values) < 2:
            return None
        first, last = self.values[0], self.values[-1]
        mask = np.zeros(last - first + 1, dtype=bool)
        mask[np.asarray(self.values) - first] = True
        for p in range(1, len(mask) // 2 + 1):
            if np.array_equal(mask[p:], mask[:-p]):
                residues = tuple(sorted(int(v) % p for v in np.flatnonzero(mask[:p]) + first))
                return p, residues
        return None

    def runs(self) -> list[tuple[int, int, int]]:
        """Maximal arithmetic runs ``(start, stop, step)``, greedy from the smallest value."""
        out: list[tuple[int, int, int]] = []
        values = self.values
        i = 0
        while i < len(values):
            if i + 2 < len(values) and values[i + 1] - values[i] == values[i + 2] - values[i + 1]:
                step = values[i + 1] - values[i]
                j = i + 2
                while j + 1 < len(values) and values[j + 1] - values[j] == step:
                    j += 1
                out.append((values[i], values[j], step))
                i = j + 1
            else:
                out.append((values[i], values[i], 1))
                i += 1
        return out

    def describe(self) -> str:
        """The set in words a person reads at a glance."""
        if not self.values:
            return "none"
        first, last = self.values[0], self.values[-1]
        if len(self.values) == 1:
            return str(first)
        found = self.period()
        if found is not None:
            p, residues = found
            if p == 1:
                return f"{first}..{last}"
            if len(residues) == 1:
                return f"{first}, {first + p}, ..., {last}"
            runs = self.runs()
            if len(runs) > 3:
                listed = ", ".join(map(str, residues))
                return f"every n in {first}..{last} with n mod {p} in {{{listed}}}"
        return ", ".join(_run_text(run) for run in self.runs())

    def to_dict(self) -> dict[str, Any]:
        """For ``--json``: the exact list, the smallest, and the compact description."""
        found = self.period()
        return {
            "range": [self.lo, self.hi],
            "min": self.min,
            "count": len(self.values),
            "description": self.describe(),
            "period": None if found is None else {"period": found[0], "residues": list(found[1])},
            "values": list(self.values),
        }

    def __str__(self) -> str:
        return self.describe()


def show_number(value: int) -> str:
    """An integer for a message: in full up to 20 digits, else its first digits and how many there are.

    Example:
        >>> show_number(10**100)
        '10000000...(101 digits)'
    """
    digits = len(str(abs(value))) if abs(value) < 10**4000 else None
    if digits is not None and digits <= 20:
        return str(value)
    sign = "-" if value < 0 else ""
    return f"{sign}{str(abs(value))[:8]}...({digits} digits)" if digits is not None else f"{sign}a number of more than 4,000 digits"


def _run_text(run: tuple[int, int, int]) -> str:
    start, stop, step = run
    if start == stop:
        return str(start)
    if step == 1:
        return f"{start}..{stop}"
    if stop - start == step:
        return f"{start}, {stop}"
    return f"{start}, {start + step}, ..., {stop}"


def parse_input(text: str, ndim: int) -> tuple[list[SizeRange], bool]:
    """An ``--input`` text into per-axis ranges and whether they are tied (one value for every axis).

    Example:
        >>> parse_input("32:64", 2)
        ([SizeRange(lo=32, hi=64, step=1), SizeRange(lo=32, hi=64, step=1)], True)
    """
    parts = text.lower().split("x")
    if len(parts) == ndim + 2:
        parts = parts[2:]  # N x C x H x W, as ONNX and PyTorch print shapes
    try:
        ranges = [SizeRange.parse(part.strip()) for part in parts]
    except ValueError as exc:
        raise UsageError(f"--input {text!r}: {exc}", field="--input") from None
    if len(ranges) == 1:
        return ranges * ndim, True
    if len(ranges) != ndim:
        raise UsageError(f"--input {text!r}: the network is {ndim}-D, give one size or {ndim} joined by 'x'", field="--input")
    return ranges, False
