"""Field helpers shared by the network and space loaders: key lists, line numbers and values for messages.

Example:
    >>> show_config_value(list(range(100)))
    '[0, 1, 2, 3, 4, 5, 6, 7, ...]'
    >>> did_you_mean("kernal", ["kernel", "stride"])
    " (did you mean 'kernel'?)"
    >>> is_space_value([{"choice": [1, 3]}, 3])
    True
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from ..sizesets import show_number

__all__ = [
    "SPACE_KEYS", "SPACE_MARKERS", "TOP_LEVEL_KEYS", "did_you_mean", "is_space_value", "line_of",
    "show_config_value", "show_param_value",
]

TOP_LEVEL_KEYS = ("name", "convention", "input", "layers", "description")
"""Top-level keys of a network config."""

SPACE_KEYS = ("params", "constraints", "targets")
"""Top-level keys of a search-space config (see :mod:`convsolve.space`), on top of :data:`TOP_LEVEL_KEYS`."""

SPACE_MARKERS = ("choice", "range", "param", "expr")
"""Keys of a layer field left open in a search space: ``{choice: [...]}``, ``{range: [lo, hi]}``, ``{param: name}``, ``{expr: "..."}``."""


def is_space_value(value: Any) -> bool:
    """Whether a layer field's config value leaves a choice open (a space marker, or a per-axis list holding one)."""
    if isinstance(value, Mapping):
        return any(key in value for key in SPACE_MARKERS)
    return isinstance(value, list) and any(is_space_value(item) for item in value)


def line_of(container: Any, key: Any) -> int | None:
    """1-based line of ``key`` in a ruamel.yaml mapping or sequence, when known."""
    lc = getattr(container, "lc", None)
    if lc is None:
        return None
    try:
        return int(lc.key(key)[0]) + 1 if isinstance(key, str) else int(lc.item(key)[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def did_you_mean(word: Any, choices: Any) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``word`` (any key YAML allows: null, a number, ...), or ''."""
    close = difflib.get_close_matches(str(word), [str(choice) for choice in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def show_config_value(value: Any, depth: int = 3) -> str:
    """A config value for a message, cut short: at most 8 items per list or mapping, 3 levels, 60 characters per string."""
    if isinstance(value, Mapping):
        shown = [f"{str(key)[:60]}: {show_config_value(item, depth - 1)}" for key, item in list(value.items())[:8]] if depth else ["..."]
        return "{" + ", ".join(shown + ["..."] * (depth > 0 and len(value) > 8)) + "}"
    if isinstance(value, list):
        shown = [show_config_value(item, depth - 1) for item in value[:8]] if depth else ["..."]
        return "[" + ", ".join(shown + ["..."] * (depth > 0 and len(value) > 8)) + "]"
    if isinstance(value, int) and not isinstance(value, bool):
        return show_number(value)
    if isinstance(value, str) and len(value) > 60:
        return repr(value[:57] + "...")
    return repr(value)


def show_param_value(value: int | bool | str) -> str:
    """A parameter's value for a message: ``true``/``false`` as YAML writes them, integers as they are."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
