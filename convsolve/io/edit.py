"""Edit values inside a YAML file's text, so everything else — comments, spacing, quoting — stays byte for byte.

Round-trip YAML libraries keep comments and key order but may still re-indent or re-wrap a file.
A repair changes a few integers, so it edits exactly those tokens, at the positions the round-trip
parser recorded, and adds a missing key next to the last key of its mapping.

Example:
    >>> text = "layers:\\n  - {name: c, type: conv2d, kernel: 7}   # stem\\n"
    >>> print(edit_yaml(text, [(("layers", 0, "kernel"), 3), (("layers", 0, "padding"), 1)]), end="")
    layers:
      - {name: c, type: conv2d, kernel: 3, padding: 1}   # stem
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

from ruamel.yaml import YAML

__all__ = ["edit_yaml", "apply_edits"]

Path = tuple[str | int, ...]
"""Keys and indices from the top of the document to one value; a last ``int`` indexes a list."""

_TOKEN = re.compile(r"""-?\d+|'[^'\n]*'|"[^"\n]*"|[A-Za-z_]+""")


def edit_yaml(text: str, edits: Sequence[tuple[Path, Any]], parsed: Any = None) -> str | None:
    """``text`` with each value at a path set (an integer, or a list written in flow style), or None when an edit needs a re-layout.

    A path ending at a list of integers sets every item (a value written once per axis). A key
    missing from its mapping is added after the mapping's last key when that key's value is on one
    line; anything more involved returns None, and the caller falls back to a round-trip dump.
    ``parsed`` is ``text`` already loaded round-trip (its positions are read, nothing is changed).
    """
    data = YAML(typ="rt").load(text) if parsed is None else parsed
    lines = text.splitlines(keepends=True)
    spans: list[tuple[int, int, int, str]] = []  # line, start column, end column, replacement
    inserts: list[tuple[int, int, str]] = []  # line, column, text
    for path, value in edits:
        parent: Any = data  # ruamel.yaml's mappings and sequences: indexed by key or position
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        in_sequence = isinstance(parent, list)  # kept apart: narrowing would make ``parent`` a list[Any] without .lc
        if in_sequence or key in parent:
            current: Any = parent[key]
            if isinstance(current, list):
                if not all(isinstance(v, int) for v in current):
                    return None
                places = [cast(Any, current).lc.item(i) for i in range(len(current))]
            else:
                places = [parent.lc.item(key) if in_sequence else parent.lc.value(key)]
            for line, column in places:
                match = _TOKEN.match(lines[line], column)
                if match is None:
                    return None
                if isinstance(value, list):
                    return None
                spans.append((line, column, match.end(), str(value)))
        else:
            insert = _insertion(parent, lines, str(key), value)
            if insert is None:
                return None
            inserts.append(insert)
    # right to left, so every edit's recorded column still points at its place
    operations = spans + [(line, column, column, addition) for line, column, addition in inserts]
    for line, start, end, replacement in sorted(operations, reverse=True):
        lines[line] = lines[line][:start] + replacement + lines[line][end:]
    return "".join(lines)


def _insertion(mapping: Any, lines: list[str], key: str, value: Any) -> tuple[int, int, str] | None:
    """Where and what to insert to add ``key: value`` to ``mapping`` (after its last key)."""
    if not len(mapping):
        return None
    last = list(mapping)[-1]
    if isinstance(mapping[last], (dict, list)) and not (isinstance(mapping[last], list) and mapping[last].fa.flow_style()):
        return None
    line, column = mapping.lc.value(last)
    if mapping.fa.flow_style():
        end = _value_end(lines[line], column)
        return None if end is None else (line, end, f", {key}: {value}")
    key_line, key_column = mapping.lc.key(last)
    if line != key_line or _value_end(lines[line], column) is None:
        return None
    ending = "\n" if lines[line].endswith("\n") else ""
    return (line, len(lines[line]), ("" if ending else "\n") + " " * key_column + f"{key}: {value}" + ending)


def _value_end(line: str, column: int) -> int | None:
    """The column just past a one-line scalar or flow list starting at ``column``."""
    if line.startswith("[", column):
        end = line.find("]", column)
        return None if end < 0 else end + 1
    match = _TOKEN.match(line, column)
    return None if match is None else match.end()


def apply_edits(data: Any, edits: Sequence[tuple[Path, Any]]) -> None:
    """Set each value of ``edits`` in parsed config ``data`` (in place), as :func:`edit_yaml` does in text."""
    for path, value in edits:
        parent: Any = data  # ruamel.yaml's mappings and sequences: indexed by key or position
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        in_sequence = isinstance(parent, list)
        current = parent[key] if in_sequence or key in parent else None
        if isinstance(current, list) and not isinstance(value, list):
            current[:] = [value] * len(current)
        else:
            parent[key] = value
