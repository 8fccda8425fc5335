"""A fast YAML reader for plain configs: libyaml's C parser, with ruamel.yaml's line numbers and YAML 1.2 values.

The round-trip parser (ruamel.yaml) keeps comments for writing a config back, but takes about 8 ms
for a 100-line config; batch repair only reads positions from the parsed config (it edits the text
itself). This reader composes the document with PyYAML's libyaml binding and builds dicts and lists
that carry the same ``lc`` (line and column of every key, value and item) and ``fa`` (flow style)
as ruamel.yaml's, in well under a millisecond.

It reads only what both parsers read the same way: plain integers of up to 18 digits, short decimals, plain words,
quoted strings, null (written out) and booleans. Anything else — tags, aliases, merge keys, directives, block
scalars, other number forms, duplicate keys, complex keys, lines long enough to nest deeply,
or text libyaml refuses — returns None, and the caller uses ruamel.yaml, which answers exactly as
before (values and error messages alike).

Example:
    >>> data = read_plain("layers:\\n  - {name: c, kernel: 3}\\n")
    >>> data["layers"][0]["kernel"], data["layers"][0].lc.value("kernel"), data["layers"].fa.flow_style()
    (3, (1, 22), False)
"""

from __future__ import annotations

import re
from typing import Any

try:
    import yaml
    from yaml import CSafeLoader as _Loader
except ImportError:  # PyYAML without libyaml: everything goes to ruamel.yaml
    _Loader = None

__all__ = ["read_plain", "LineMap", "LineList"]

MAX_LINE = 500
"""Longer lines can nest structures deeply on one line (``- - - ...``), which overflows libyaml's composer's C stack."""

_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,8})\.[0-9]{1,9}")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_./ -]*")
_CONSTANTS: dict[str, Any] = {"null": None, "Null": None, "NULL": None, "~": None,
                              "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_REFUSED = re.compile(r"^%|!", re.MULTILINE)
"""Directives and tags (or a ``!`` anywhere, such as in a comment: ruamel.yaml then), which the composed nodes do not show."""


class _Places:
    """Line and column (0-based) of a container, its keys, its values and its items, as ruamel.yaml's ``lc``."""

    def __init__(self, line: int, col: int) -> None:
        self.line, self.col = line, col
        self.keys: dict[Any, tuple[int, int]] = {}
        self.values: dict[Any, tuple[int, int]] = {}

    def key(self, key: Any) -> tuple[int, int]:
        return self.keys[key]

    def value(self, key: Any) -> tuple[int, int]:
        return self.values[key]

    def item(self, index: int) -> tuple[int, int]:
        return self.values[index]


class _Style:
    """Whether a container was written in flow style (``[...]``, ``{...}``), as ruamel.yaml's ``fa``."""

    def __init__(self, flow: bool) -> None:
        self.flow = flow

    def flow_style(self) -> bool:
        return self.flow


class LineMap(dict):  # type: ignore[type-arg]
    """A mapping read by :func:`read_plain`, with ``lc`` and ``fa``."""

    lc: _Places
    fa: _Style


class LineList(list):  # type: ignore[type-arg]
    """A sequence read by :func:`read_plain`, with ``lc`` and ``fa``."""

    lc: _Places
    fa: _Style


class _NotPlain(Exception):
    """The document holds something only ruamel.yaml reads faithfully."""


def read_plain(text: str) -> Any | None:
    """The document in ``text`` as LineMap / LineList / scalars, or None when it is not a plain config (see the module)."""
    if _Loader is None or _REFUSED.search(text) or max(map(len, text.split("\n"))) > MAX_LINE:
        return None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    try:
        return _build(node, set())
    except _NotPlain:
        return None


def _build(node: Any, seen: set[int]) -> Any:
    if node is None:
        return None
    if id(node) in seen:  # an alias: the same node twice
        raise _NotPlain
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    places = _Places(node.start_mark.line, node.start_mark.column)
    result: LineMap | LineList
    if isinstance(node, yaml.SequenceNode):
        result = LineList(_build(item, seen) for item in node.value)
        places.values = {i: (item.start_mark.line, item.start_mark.column) for i, item in enumerate(node.value)}
    else:
        result = LineMap()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _NotPlain
            key = _scalar(key_node)
            if key in result or key == "<<":  # a duplicate, or a merge key
                raise _NotPlain
            result[key] = _build(value_node, seen)
            places.keys[key] = (key_node.start_mark.line, key_node.start_mark.column)
            places.values[key] = (value_node.start_mark.line, value_node.start_mark.column)
    result.lc, result.fa = places, _Style(bool(node.flow_style))
    return result


def _scalar(node: Any) -> Any:
    value = node.value
    if node.style in ("'", '"'):
        return value
    if node.style or not value:  # a block scalar ('' or None is plain: libyaml's binding and PyYAML's differ); an empty
        raise _NotPlain  # value, which ruamel.yaml places at the start of the next line
    if value in _CONSTANTS:
        return _CONSTANTS[value]
    if _INT.fullmatch(value):
        return int(value)
    if _DECIMAL.fullmatch(value):
        return float(value)
    if _WORD.fullmatch(value):
        return value
    raise _NotPlain
