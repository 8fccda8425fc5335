"""Assignments written to a file straight from the solver's columnar blocks: CSV, JSON lines or Parquet.

The format is the file's suffix: ``.csv``, ``.jsonl`` (or ``.ndjson``), ``.parquet`` (needs the
``parquet`` extra: pyarrow). Each block (parameter -> array of values) is formatted as a whole, not
row by row through dictionaries; CSV uses pyarrow's writer when it is installed. The file is written
to a temporary file beside the target and renamed over it when closed, so it appears whole (all the
rows written, also after a timeout) or not at all (an error); :func:`~convsolve.io.config.output_target`
checks the path first.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.jsonl"
    >>> with AssignmentWriter(path) as writer:
    ...     writer.write({"c.kernel": np.array([3, 5]), "c.bias": np.array([True, False])})
    >>> print(path.read_text(), end="")
    {"c.kernel": 3, "c.bias": true}
    {"c.kernel": 5, "c.bias": false}
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np

from ..errors import MissingExtraError, OutputError, UsageError
from .config import mode_for

__all__ = ["FORMATS", "AssignmentWriter", "arrow_module", "block_text", "columns_of", "table_format"]

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
"""File suffix -> format."""


def table_format(path: str | Path, option: str = "-o") -> str:
    """The format of an output path, from its suffix; a UsageError naming the suffixes otherwise.

    Example:
        >>> table_format("rows.parquet")
        'parquet'
    """
    kind = FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise UsageError(f"{path}: the output format is the file's suffix, one of {', '.join(sorted(FORMATS))}", field=option)
    return kind


def columns_of(rows: Sequence[Mapping[str, Any]], names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Rows (dictionaries) as one columnar block, with the columns ``names`` (by default the first row's keys); a
    column some row has no value for, or that holds names, is an object array with None in those rows.

    Example:
        >>> columns_of([{"a": 1}, {"a": 2}])["a"].tolist()
        [1, 2]
        >>> columns_of([{"op": "conv", "k": 3}, {"op": "skip"}], ["op", "k"])["k"].tolist()
        [3, None]
    """
    names = list(rows[0]) if names is None and rows else list(names or ())
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if any(value is None or isinstance(value, str) for value in values):
            column = np.empty(len(values), dtype=object)
            column[:] = values
            columns[name] = column
        else:
            columns[name] = np.asarray(values)
    return columns


class AssignmentWriter:
    """Writes columnar blocks of assignments to ``path`` (see the module); a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format = table_format(self.path)
        self.rows = 0
        self._names: list[str] | None = None
        self._parquet: Any = None
        self._arrow: Any = None
        if self.format == "parquet":
            try:
                import pyarrow
                import pyarrow.parquet
            except ImportError:
                raise MissingExtraError("pyarrow (to write Parquet)", "parquet") from None
            self._arrow = pyarrow
        else:
            try:  # the fast CSV and JSON-lines formatting, when the extra is installed
                import pyarrow
                import pyarrow.compute
                import pyarrow.csv  # noqa: F401
            except ImportError:
                pyarrow = None
            self._arrow = pyarrow
        try:
            handle = tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp", delete=False)
        except OSError as exc:
            raise _cannot_write(self.path, exc) from None
        self._temporary = Path(handle.name)
        self._handle: IO[bytes] = handle

    def __enter__(self) -> AssignmentWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()

    def write(self, columns: Mapping[str, np.ndarray]) -> None:
        """Append one block (parameter -> array of values, all of one length)."""
        try:
            self._write(columns)
        except OSError as exc:  # a full disk, a folder gone: nothing is left behind (see __exit__)
            raise _cannot_write(self.path, exc) from None

    def _write(self, columns: Mapping[str, np.ndarray]) -> None:
        names = list(columns)
        if self._names is None:
            self._names = names
            if self.format == "csv" and self._arrow is None:
                self._handle.write((",".join(_csv_cell(name) for name in names) + "\n").encode())
        elif names != self._names:
            raise ValueError(f"a block with other columns ({names}) than the first ({self._names})")
        count = len(columns[names[0]]) if names else 0
        if count == 0:
            return
        if self.format == "parquet":
            table = self._arrow.table({name: np.asarray(columns[name]) for name in names})
            if self._parquet is None:
                import pyarrow.parquet

                self._parquet = pyarrow.parquet.ParquetWriter(self._handle, table.schema)
            self._parquet.write_table(table)
        elif self.format == "csv" and self._arrow is not None:
            import pyarrow.csv

            table = self._arrow.table({name: np.asarray(columns[name]) for name in names})
            pyarrow.csv.write_csv(table, self._handle, pyarrow.csv.WriteOptions(include_header=self.rows == 0, quoting_style="needed"))
        elif self.format == "csv":
            cells = [_texts(np.asarray(columns[name])) for name in names]
            self._handle.write(("\n".join(map(",".join, zip(*cells))) + "\n").encode())
        else:
            self._handle.write(block_text(columns, "jsonl", self._arrow))
        self.rows += count

    def close(self) -> None:
        """Finish the file and rename it over the target."""
        try:
            self._close()
        except OSError as exc:
            self.discard()
            raise _cannot_write(self.path, exc) from None

    def _close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        elif self.format == "parquet":  # no block at all: an empty table with no columns is still a Parquet file
            import pyarrow.parquet

            pyarrow.parquet.write_table(self._arrow.table({}), self._handle)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.chmod(self._temporary, mode_for(self.path))
        os.replace(self._temporary, self.path)

    def discard(self) -> None:
        """Drop what was written: the target is left as it was."""
        with contextlib.suppress(OSError):
            self._handle.close()
        with contextlib.suppress(OSError):
            self._temporary.unlink(missing_ok=True)


def block_text(columns: Mapping[str, np.ndarray], style: str, arrow: Any = None) -> bytes:
    """A block's rows as text, one line each: ``jsonl`` (``{"c.kernel": 3, "c.bias": true}``) or ``text``
    (``c.kernel=3 c.bias=True``, as ``enumerate`` prints). With pyarrow (``arrow``) every line is made by Arrow's
    string kernels and the block is one buffer; else by one format string per row.

    Example:
        >>> block_text({"a": np.array([1, 2]), "b": np.array([True, False])}, "text").decode().splitlines()
        ['a=1 b=True', 'a=2 b=False']
    """
    names = list(columns)
    if not names or not len(columns[names[0]]):
        return b""
    if any(_has_names_or_gaps(np.asarray(columns[name])) for name in names):
        return _rows_text(columns, style)
    if style == "jsonl":
        prefixes = [("{" if index == 0 else ", ") + json.dumps(name) + ": " for index, name in enumerate(names)]
        end, words = "}\n", ("true", "false")
    else:
        prefixes = [("" if index == 0 else " ") + name + "=" for index, name in enumerate(names)]
        end, words = "\n", ("True", "False")
    if arrow is not None:
        import pyarrow.compute

        parts: list[Any] = []
        for prefix, name in zip(prefixes, names):
            values = arrow.array(np.asarray(columns[name]))
            text = (pyarrow.compute.if_else(values, words[0], words[1]) if values.type == arrow.bool_() else values)
            parts += [arrow.scalar(prefix, arrow.large_string()), pyarrow.compute.cast(text, arrow.large_string())]
        parts.append(arrow.scalar(end, arrow.large_string()))
        lines = pyarrow.compute.binary_join_element_wise(*parts, arrow.scalar("", arrow.large_string()))
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64, count=len(lines) + 1, offset=lines.offset * 8)
        return bytes(memoryview(lines.buffers()[2])[int(offsets[0]):int(offsets[-1])])
    template = "".join(prefix.replace("{", "{{").replace("}", "}}") + "{}" for prefix in prefixes) + end.replace("}", "}}")
    cells = [_texts(np.asarray(columns[name]), words) for name in names]
    return "".join(map(template.format, *cells)).encode()


def _has_names_or_gaps(values: np.ndarray) -> bool:
    """Whether a column holds names (an op, an input) or gaps (a parameter out of the network in some rows)."""
    if values.dtype != object or not len(values):
        return False
    return isinstance(values[0], str) or bool((values == None).any())  # noqa: E711 (elementwise, on an object array)


def _rows_text(columns: Mapping[str, np.ndarray], style: str) -> bytes:
    """:func:`block_text` row by row, leaving out the parameters a row has no value for (they are not in its network)."""
    names = list(columns)
    lines = []
    for row in zip(*(np.asarray(columns[name]).tolist() for name in names)):
        present = {name: value for name, value in zip(names, row) if value is not None}
        if style == "jsonl":
            lines.append(json.dumps(present))
        else:
            lines.append(" ".join(f"{name}={value}" for name, value in present.items()))
    return ("\n".join(lines) + "\n").encode()


def arrow_module() -> Any:
    """pyarrow with its compute kernels, or None without the ``parquet`` extra."""
    try:
        import pyarrow
        import pyarrow.compute  # noqa: F401
    except ImportError:
        return None
    return pyarrow


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {exc.strerror or exc}", field="-o", path=str(path),
                       reason=errno.errorcode.get(exc.errno or 0))


def _texts(values: np.ndarray, words: tuple[str, str] = ("true", "false")) -> list[str]:
    """Each value as JSON and CSV write it: integers as digits, booleans as true/false."""
    if values.dtype == bool:
        return np.where(values, *words).tolist()  # type: ignore[no-any-return]
    if _has_names_or_gaps(values):
        return ["" if v is None else _csv_cell(v) if isinstance(v, str) else words[0] if v is True else words[1] if v is False else str(v)
                for v in values.tolist()]
    return values.astype(str).tolist()  # type: ignore[no-any-return]


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text
