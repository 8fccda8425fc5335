"""Writing a picture or report: refused over an existing file without ``overwrite``, and atomic.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.html"
    >>> write_output(path, b"<p>hi</p>")
    >>> write_output(path, b"again")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convsolve.errors.UsageError: field '-o': ... exists; choose another output path or pass --force to replace it
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import UsageError
from ..io.config import write_bytes

__all__ = ["Written", "check_output", "write_output"]


class _Shown(Protocol):
    def __str__(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Written:
    """A file written by ``plot``, ``draw`` or ``report``, and what it shows."""

    path: str
    size: int
    """Bytes written."""
    shows: _Shown

    def __str__(self) -> str:
        return f"wrote {self.path} ({self.size:,} bytes)\n{self.shows}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.size, **self.shows.to_dict()}


def check_output(path: str | Path, *, overwrite: bool = False, formats: Sequence[str] = (), source: str | Path | None = None) -> str:
    """Refuse an output path before any work is done; returns its format (the suffix, lower case).

    Raises:
        UsageError: the file exists (without ``overwrite``), is the input config ``source``, or its
            suffix is not one of ``formats`` (when given).
    """
    path = Path(path)
    if source is not None and path.resolve() == Path(source).resolve():
        raise UsageError(f"refusing to overwrite the input {source}; write elsewhere", field="-o")
    fmt = path.suffix.lower().lstrip(".")
    if formats and fmt not in formats:
        raise UsageError(f"{path}: cannot tell the format from the suffix; use one of {', '.join('.' + f for f in formats)}", field="-o")
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists; choose another output path or pass --force to replace it", field="-o")
    return fmt


def write_output(path: str | Path, content: bytes, *, overwrite: bool = False) -> None:
    """Write ``content`` to ``path`` through a temporary file and a rename: whole or not at all.

    Raises:
        UsageError: ``path`` exists and ``overwrite`` is false, or the file cannot be written.
    """
    write_bytes(content, path, overwrite=overwrite)
