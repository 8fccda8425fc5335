"""Fuzz cases for convsolve's loaders and command line, as hypothesis strategies, and the judge of each run.

Shared by ``tests/test_fuzz.py`` (a short, deterministic run in CI) and ``scripts/fuzz.py`` (a long
campaign). A case is one or more files and a CLI verb with its options:

- every shipped config (``configs/``, the large ``bench/`` ones left out) mutated by one to four of:
  a wrong type, a missing or an extra field, a negative, zero or huge integer (``10**100``), a float
  where an integer belongs, a unicode name, duplicate, dangling or cyclic ``inputs``, a layer
  duplicated, dropped, swapped or retyped, search-space markers with hostile domains and
  expressions, hostile ``params``/``constraints``/``targets``, deep nesting (up to 100,000 levels);
  then written as YAML (block or flow) or JSON, sometimes damaged as text (truncated, a byte
  flipped, a YAML snippet such as an alias or a tag inserted, a line duplicated or dropped);
- random YAML/JSON documents, binary garbage and empty files;
- ONNX models (one built with ``onnx.helper``, one exported from PyTorch) truncated, bit-flipped, or
  mutated as protobufs (attributes, op types, shapes, initializers, dangling and cyclic edges).

:func:`run_case` runs the verb in-process with Click's test runner and :func:`judge` says what is
wrong with the run: an exit code other than 0/1/2 (or 124 with ``--timeout``), a traceback, an
exception other than SystemExit, an exit-2 message that does not name the file (or the option at
fault), or the text of an internal Python error leaking into the message.

Example:
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(fuzz_cases(verbs=("check",)))
    ... def test(case):
    ...     assert not run_case(case).problems
    >>> test()  # doctest: +SKIP
"""

from __future__ import annotations

import gc
import json
import math
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import typer.main
import typer.testing
from hypothesis import strategies as st
from ruamel.yaml import YAML

from convsolve.cli import app
from convsolve.layers import LAYER_TYPES

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
LARGE_BENCH = ("chain-40", "chain-100", "chain-1000", "res-20", "res-40", "res-100")
"""Bench configs left out: mutating and solving them takes seconds per case."""

SMALL_CONFIG = 5000
"""Configs smaller than this many bytes are drawn four times as often as the others."""

VERBS = ("check", "sizes", "shapes", "count", "enumerate", "sample", "prune", "suggest", "export", "repair",
         "batch-repair", "plot", "draw", "report")
CHEAP_VERBS = ("check", "sizes", "shapes", "export")
SOLVER_VERBS = ("count", "enumerate", "sample", "prune", "suggest")
PICTURE_VERBS = ("plot", "draw", "report")

VERB_WEIGHTS = {"check": 10, "sizes": 8, "shapes": 8, "export": 6, "count": 6, "enumerate": 5, "sample": 5, "prune": 5,
                "suggest": 5, "repair": 6, "batch-repair": 2, "plot": 1, "draw": 1, "report": 1}
"""How often each verb is drawn: the pictures take ~0.3 s a case, the rest milliseconds."""

CASE_TIMEOUT = 3
"""The ``--timeout`` given to the verbs that take one."""

HUGE_INTS = (0, -1, -2, -7, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**18, 10**100, -(10**100), 10**4000)
HOSTILE_INPUTS = ("0", "-3", "abc", "", "x", "1x2x3x4x5x6", "10**100", "99999999999999999999999", "1:99999999999999999999",
                  "5:1", "1:2:0", "1:2:-1", "8:8:99999999999999999999", "٣:٤", "1e3", "nan", "3.5", "1_000", " 8 ")
"""Malformed or extreme ``--input`` values (the message must then name ``--input``)."""

LEAKED_ERROR = re.compile(
    r"object has no attribute|'NoneType'|unhashable type|not subscriptable|object is not iterable|unsupported operand|"
    r"positional argument|invalid literal for int|maximum recursion depth|index out of range|KeyError|"
    r"not supported between instances|can't multiply sequence|cannot convert float|Python int too large|"
    r"out of bounds for|takes no arguments|must be real number|object is not callable|codec can't"
)
"""Text of Python's own exceptions: seen in a message, an internal error leaked instead of a real one."""


# --- the shipped configs ------------------------------------------------------------------------------


def shipped_configs() -> list[Path]:
    """Every config under configs/ that a case can start from (the large bench ones left out)."""
    paths = sorted(CONFIGS.glob("*.yaml"))
    for folder in ("spaces", "broken", "seed", "bench"):
        paths += [p for p in sorted((CONFIGS / folder).glob("*.yaml")) if p.stem not in LARGE_BENCH]
    return paths


@cache
def _parsed(path: str) -> str:
    """The config at ``path`` as plain data (dicts, lists, scalars), serialised as JSON to be copied cheaply."""
    return json.dumps(YAML(typ="safe", pure=True).load(Path(path).read_text(encoding="utf-8")))


def shipped_document(path: Path) -> Any:
    """A fresh plain-data copy of a shipped config."""
    return json.loads(_parsed(str(path)))


# --- hostile values ------------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", "same", "valid", "same_upper", "SAME", "notset", "conv2d", "input", "3", "0x10", "1e3", "~", "null",
                     "true", "yes", "\u202e", "\x00", "\ud800", "名前", "🙂", "a" * 300]),
)
HOSTILE_VALUES = st.recursive(
    SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
NAMES = st.one_of(
    st.text(min_size=0, max_size=10), st.sampled_from(["input", "", " ", "a.b", "a-b", "1", "__class__", "ü", "名前", "🙂",
                                                       "\u0000", "\ud800", "x" * 500, "layer1_0_conv1", "conv1", "stem"]),
)
EXPRESSIONS = st.one_of(
    st.text(max_size=40),
    st.sampled_from([
        "", "1 +", "conv1.kernel // 0", "conv1.kernel % 0", "10 ** 100", "2 ** 3", "(" * 300 + "1" + ")" * 300,
        "(" * 5000 + "1" + ")" * 5000, "-" * 5000 + "1", "1 + " * 3000 + "1", "not " * 3000 + "1", "__import__('os')",
        "lambda: 1", "open('x')", "conv1.kernel.__class__", "[1, 2]", "'a'", "1.5", "min()", "max(1)", "min(*x)",
        "abs(-1)", "conv1.kernel if conv1.stride else", "1 if 2 else 3", "x[0]", "conv1 . kernel", "k // 2",
        "stem.kernel // 2", "conv1.kernel // 2", "1 < 2 < 3", "9" * 5000, "True", "None", "width", "a.b.c.d.e",
        "conv1.kernel.height", "f'{1}'", "1;2", "\x00", "é", "١ + ١", "𝑥", "1_000", "0x10", "1e100", "~1", "1 << 70",
    ]),
    st.builds(lambda a, op, b: f"{a} {op} {b}", st.sampled_from(["conv1.kernel", "k", "width", "10**100", "0", "-1", "9" * 40]),
              st.sampled_from(["+", "-", "*", "//", "%", "/", "**", "<", "==", "and", "or", "if", "in", "is", "@", "&"]),
              st.sampled_from(["0", "1", "2", "conv1.stride", "k", "10**100", "9" * 40, "-(10**100)"])),
)


@st.composite
def space_markers(draw: Any) -> tuple[Any, str]:
    """A search-space marker with a domain that is often hostile."""
    kind = draw(st.sampled_from(["choice", "range", "param", "expr", "mixed"]))
    if kind == "choice":
        values = draw(st.one_of(st.lists(st.one_of(st.integers(-3, 9), st.sampled_from(HUGE_INTS), st.booleans()), max_size=5),
                                HOSTILE_VALUES))
        return {"choice": values}, f"choice {_short(values)}"
    if kind == "range":
        bounds = draw(st.one_of(st.lists(st.one_of(st.integers(-5, 12), st.sampled_from(HUGE_INTS)), min_size=2, max_size=2),
                                HOSTILE_VALUES))
        marker = {"range": bounds}
        if draw(st.booleans()):
            marker["step"] = draw(st.one_of(st.integers(-2, 5), st.sampled_from(HUGE_INTS), SCALARS))
        return marker, f"range {_short(marker)}"
    if kind == "param":
        name = draw(st.one_of(NAMES, st.sampled_from(["width", "k"])))
        return {"param": name}, f"param {name!r}"
    if kind == "expr":
        text = draw(st.one_of(EXPRESSIONS, HOSTILE_VALUES))
        return {"expr": text}, f"expr {_short(text)}"
    marker = draw(st.dictionaries(st.sampled_from(["choice", "range", "param", "expr", "step", "x"]), HOSTILE_VALUES,
                                  min_size=1, max_size=3))
    return marker, f"marker {_short(marker)}"


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- mutating a document ---------------------------------------------------------------------------------

DEEP = "\x00deep\x00"
"""A placeholder string, replaced in the written text by a nesting of brackets thousands of levels deep."""


def _walk(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in list(value.items()):
            yield from _walk(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, path + (index,))


def _get(document: Any, path: Sequence[Any]) -> Any:
    for key in path:
        document = document[key]
    return document


def _layers(document: Any) -> list[dict[str, Any]]:
    layers = document.get("layers") if isinstance(document, dict) else None
    return [layer for layer in layers if isinstance(layer, dict)] if isinstance(layers, list) else []


def _layer_names(document: Any) -> list[str]:
    return [layer["name"] for layer in _layers(document) if isinstance(layer.get("name"), str)]


@st.composite
def _mutation(draw: Any, document: Any) -> tuple[Any, str]:
    """One mutation of ``document`` (changed in place when possible); returns the document and what was done."""
    paths = [path for path, _ in _walk(document) if path]
    layers = _layers(document)
    names = _layer_names(document)
    kind = draw(st.sampled_from([
        "type", "number", "number", "float", "delete", "extra", "unicode", "inputs", "inputs", "layer", "retype",
        "marker", "marker", "space", "nest", "deep", "root", "input", "benign", "benign", "benign", "benign", "benign",
    ]))
    if kind in ("type", "delete", "extra", "nest") and not paths:
        kind = "root"
    if kind == "type":
        path = draw(st.sampled_from(paths))
        value = draw(HOSTILE_VALUES)
        _get(document, path[:-1])[path[-1]] = value
        return document, f"{_where(path)} = {_short(value)}"
    if kind == "benign" and layers:  # a plausible edit, so that the run gets past the loader
        layer = draw(st.sampled_from(layers))
        key = draw(st.sampled_from(["kernel", "stride", "padding", "dilation", "out_channels", "ceil_mode"]))
        value = draw(st.one_of(st.integers(0, 9), st.lists(st.integers(1, 5), min_size=2, max_size=2),
                               st.fixed_dictionaries({"choice": st.lists(st.integers(1, 7), min_size=1, max_size=3, unique=True)}),
                               st.booleans()))
        layer[key] = value
        return document, f"layer {layer.get('name')!r} {key} = {_short(value)}"
    if kind in ("number", "float"):
        ints = [path for path, value in _walk(document) if path and isinstance(value, int) and not isinstance(value, bool)]
        if not ints:
            return document, "no integer to change"
        path = draw(st.sampled_from(ints))
        old = _get(document, path)
        if kind == "number":
            new = draw(st.one_of(st.sampled_from(HUGE_INTS), st.integers(-3, 3), st.just(-old), st.just(old * 2**40)))
        else:
            near = float(old) if abs(old) < 2**1000 else 1e300
            new = draw(st.sampled_from([near, near + 0.5, near - 0.25, math.nan, math.inf, -math.inf, 1e300, str(old)[:50]]))
        _get(document, path[:-1])[path[-1]] = new
        return document, f"{_where(path)} = {_short(new)}"
    if kind == "delete":
        path = draw(st.sampled_from(paths))
        del _get(document, path[:-1])[path[-1]]
        return document, f"deleted {_where(path)}"
    if kind == "extra":
        mappings = [path for path, value in _walk(document) if isinstance(value, dict)]
        if not mappings:
            return document, "no mapping to add a field to"
        path = draw(st.sampled_from(mappings))
        key = draw(st.one_of(NAMES, st.sampled_from(["kernal", "stride", "inputs", "params", "constraints", "targets", "size",
                                                     "height", "width", "depth", "length", "step", "name", "type", "choice"])))
        value = draw(HOSTILE_VALUES)
        _get(document, path)[key] = value
        return document, f"{_where(path + (key,))} added = {_short(value)}"
    if kind == "unicode" and layers:
        layer = draw(st.sampled_from(layers))
        old, new = layer.get("name"), draw(NAMES)
        layer["name"] = new
        if draw(st.booleans()):  # rename the references too
            for other in layers:
                if isinstance(other.get("inputs"), list):
                    other["inputs"] = [new if item == old else item for item in other["inputs"]]
        return document, f"layer {old!r} renamed {new!r}"
    if kind == "inputs" and layers:
        index = draw(st.integers(0, len(layers) - 1))
        layer = layers[index]
        later = [n for n in names[index:]] or ["input"]
        choice = draw(st.sampled_from(["duplicate", "dangling", "cycle", "self", "empty", "many", "input", "not-a-list"]))
        mine = layer.get("name", "x")
        inputs = {
            "duplicate": [names[max(0, index - 1)] if names else "input"] * 2,
            "dangling": [draw(NAMES)],
            "cycle": [draw(st.sampled_from(later))],
            "self": [mine],
            "empty": [],
            "many": draw(st.lists(st.sampled_from(names + ["input"]), min_size=2, max_size=6)),
            "input": ["input"],
            "not-a-list": draw(HOSTILE_VALUES),
        }[choice]
        layer["inputs"] = inputs
        return document, f"layer {mine!r} inputs ({choice}) = {_short(inputs)}"
    if kind == "layer" and layers:
        raw = document["layers"]
        i, j = draw(st.integers(0, len(raw) - 1)), draw(st.integers(0, len(raw) - 1))
        action = draw(st.sampled_from(["duplicate", "drop", "swap", "reverse", "clear", "copy-name"]))
        if action == "duplicate":
            raw.insert(j, json.loads(json.dumps(raw[i])))
        elif action == "drop":
            del raw[i]
        elif action == "swap":
            raw[i], raw[j] = raw[j], raw[i]
        elif action == "reverse":
            raw.reverse()
        elif action == "clear":
            raw.clear()
        elif isinstance(raw[i], dict) and isinstance(raw[j], dict):
            raw[i]["name"] = raw[j].get("name")
        return document, f"layers: {action} #{i} #{j}"
    if kind == "retype" and layers:
        layer = draw(st.sampled_from(layers))
        new = draw(st.one_of(st.sampled_from(sorted(LAYER_TYPES)), st.sampled_from(["Conv2D", "CAT", "conv4d", "lstm", ""]), NAMES))
        layer["type"] = new
        return document, f"layer {layer.get('name')!r} type = {new!r}"
    if kind == "marker" and layers:
        layer = draw(st.sampled_from(layers))
        key = draw(st.sampled_from(sorted(set(layer) - {"name", "type", "inputs"}) or ["kernel"]) | st.sampled_from(
            ["kernel", "stride", "padding", "dilation", "ceil_mode", "out_channels", "groups", "output_size", "scale_factor",
             "size", "name", "type", "inputs"]))
        marker, text = draw(space_markers())
        if draw(st.booleans()) and isinstance(layer.get(key), list) and layer[key]:
            layer[key][draw(st.integers(0, len(layer[key]) - 1))] = marker
        else:
            layer[key] = marker
        return document, f"layer {layer.get('name')!r} {key} = {text}"
    if kind == "space" and isinstance(document, dict):
        part = draw(st.sampled_from(["params", "constraints", "targets"]))
        if part == "params":
            value = draw(st.one_of(HOSTILE_VALUES, st.dictionaries(st.one_of(NAMES, st.sampled_from(["width", "k"])),
                                                                   space_markers().map(lambda pair: pair[0]), max_size=3)))
        elif part == "constraints":
            value = draw(st.one_of(st.lists(st.one_of(EXPRESSIONS, SCALARS), max_size=4), HOSTILE_VALUES))
        else:
            target = st.fixed_dictionaries({}, optional={
                "node": st.one_of(st.sampled_from(names or ["input"]), NAMES, SCALARS),
                "size": st.one_of(st.integers(-2, 300), st.sampled_from(HUGE_INTS), HOSTILE_VALUES),
                "at": st.one_of(st.integers(-2, 300), st.sampled_from(HUGE_INTS), HOSTILE_VALUES),
                "stride": st.one_of(st.integers(-2, 64), st.sampled_from(HUGE_INTS), SCALARS),
                "receptive_field": st.one_of(st.integers(-2, 300), HOSTILE_VALUES,
                                             st.fixed_dictionaries({}, optional={"min": SCALARS, "max": SCALARS})),
                "extra": SCALARS,
            })
            value = draw(st.one_of(st.lists(target, max_size=3), HOSTILE_VALUES))
        document[part] = value
        return document, f"{part} = {_short(value)}"
    if kind == "nest":
        path = draw(st.sampled_from(paths))
        depth = draw(st.integers(1, 60))
        value = _get(document, path)
        for _ in range(depth):
            value = [value] if draw(st.booleans()) else {"v": value}
        _get(document, path[:-1])[path[-1]] = value
        return document, f"{_where(path)} nested {depth} deep"
    if kind == "deep":
        path = draw(st.sampled_from(paths)) if paths and draw(st.booleans()) else None
        depth = draw(st.sampled_from([500, 999, 1000, 1001, 3000, 20_000, 100_000]))
        if path is None:
            return f"{DEEP}{depth}", f"the whole document nested {depth} deep"
        _get(document, path[:-1])[path[-1]] = f"{DEEP}{depth}"
        return document, f"{_where(path)} nested {depth} deep"
    if kind == "input" and isinstance(document, dict):
        value = draw(st.one_of(
            HOSTILE_VALUES,
            st.fixed_dictionaries({"channels": st.one_of(st.integers(-2, 4), st.sampled_from(HUGE_INTS), SCALARS)},
                                  optional={"size": st.one_of(st.integers(-2, 64), st.sampled_from(HUGE_INTS), HOSTILE_VALUES,
                                                              st.fixed_dictionaries({"range": st.lists(st.one_of(
                                                                  st.integers(-2, 300), st.sampled_from(HUGE_INTS)),
                                                                  min_size=0, max_size=3)},
                                                                  optional={"step": st.one_of(st.integers(-1, 9),
                                                                                              st.sampled_from(HUGE_INTS), SCALARS)})),
                                            "height": st.one_of(st.integers(-1, 64), st.sampled_from(HUGE_INTS), HOSTILE_VALUES),
                                            "width": st.one_of(st.integers(-1, 64), st.sampled_from(HUGE_INTS), HOSTILE_VALUES),
                                            "depth": st.integers(1, 9), "length": st.integers(1, 9)}),
        ))
        document["input"] = value
        return document, f"input = {_short(value)}"
    value = draw(st.one_of(HOSTILE_VALUES, st.just({}), st.just([]), st.just({"layers": []}),
                           st.builds(lambda d: {k: v for k, v in d.items() if k != "layers"} if isinstance(d, dict) else d,
                                     st.just(document))))
    return value, f"the whole document = {_short(value)}"


def _where(path: Sequence[Any]) -> str:
    return ".".join(str(key) for key in path) or "(root)"


# --- writing a document ----------------------------------------------------------------------------------

YAML_SNIPPETS = (
    "&a ", "*a", "*undefined", "<<: *a\n", "!!python/object/apply:os.system ['true'] ", "!!binary AAAA ", "!!int ", "!!float ",
    "!!str ", "!!set {a, b}\n", "!custom ", "? ", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "\t", "\ufeff", "\x00",
    "\x85", "\u2028", "- ", ": ", "{", "}", "[", "]", ",", "'", '"', "|\n", ">-\n", "#", "@", "`", "\\", "0o17", "0x1F", ".inf",
    "1e400", "1_000", "name: dup\n", "layers: []\n", "  - {name: x, type: relu}\n", "input: {channels: 3, size: 8}\n",
)


@st.composite
def _written(draw: Any, document: Any) -> tuple[bytes, str, str]:
    """``document`` as file content, a file suffix, and how it was written (and damaged)."""
    style = draw(st.sampled_from(["yaml-block", "yaml-flow", "yaml-flow", "json", "json", "json"]))
    ascii_only = draw(st.booleans())
    deep = None
    if isinstance(document, str) and document.startswith(DEEP):
        deep, document = int(document[len(DEEP):]), DEEP
    if style == "yaml-block":
        text = _yaml_block(document) + "\n"
    else:
        text = json.dumps(document, ensure_ascii=ascii_only, allow_nan=True, indent=draw(st.sampled_from([None, 2])))
    text = re.sub(rf'"{re.escape(json.dumps(DEEP)[1:-1])}(\d+)"|{re.escape(DEEP)}(\d+)|"{re.escape(json.dumps(DEEP)[1:-1])}"',
                  lambda m: _deep_text(int(m.group(1) or m.group(2) or deep or 1000), draw(st.booleans())), text)
    suffix = draw(st.sampled_from([".json", ".json", ".yaml"] if style == "json" else [".yaml", ".yaml", ".yml", ".json", ".YAML", ""]))
    how = style
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):
        text, damage = _damaged(draw, text)
        how += f", {damage}"
    return text.encode("utf-8", errors="surrogatepass"), suffix, how


def _yaml_block(document: Any, indent: int = 0) -> str:
    """``document`` as block-style YAML (scalars written as JSON, which YAML reads the same): fast, unlike a full emitter."""
    pad = " " * indent
    if isinstance(document, dict) and document:
        lines = []
        for key, value in document.items():
            head = f"{pad}{json.dumps(key if isinstance(key, str) else str(key))}:"
            nested = isinstance(value, (dict, list)) and value
            lines.append(f"{head}\n{_yaml_block(value, indent + 2)}" if nested else f"{head} {_yaml_block(value)}")
        return "\n".join(lines)
    if isinstance(document, list) and document:
        items = (f"{pad}-\n{_yaml_block(item, indent + 2)}" if isinstance(item, (dict, list)) and item else f"{pad}- {_yaml_block(item)}"
                 for item in document)
        return "\n".join(items)
    return pad + json.dumps(document, allow_nan=True)


def _deep_text(depth: int, as_list: bool) -> str:
    return "[" * depth + "1" + "]" * depth if as_list else '{"a": ' * depth + "1" + "}" * depth


def _damaged(draw: Any, text: str) -> tuple[str, str]:
    damage = draw(st.sampled_from(["truncate", "flip", "insert", "duplicate-line", "drop-line", "bom", "tabs", "crlf"]))
    if damage == "truncate":
        at = draw(st.integers(0, max(0, len(text) - 1)))
        return text[:at], f"truncated at {at}"
    if damage == "flip" and text:
        at = draw(st.integers(0, len(text) - 1))
        char = chr(ord(text[at]) ^ (1 << draw(st.integers(0, 7))))
        return text[:at] + char + text[at + 1:], f"character {at} flipped"
    if damage == "insert":
        at = draw(st.integers(0, len(text)))
        snippet = draw(st.one_of(st.sampled_from(YAML_SNIPPETS), st.text(max_size=6)))
        return text[:at] + snippet + text[at:], f"{snippet!r} inserted at {at}"
    lines = text.splitlines(keepends=True)
    if damage in ("duplicate-line", "drop-line") and lines:
        at = draw(st.integers(0, len(lines) - 1))
        lines[at:at + 1] = [lines[at]] * (2 if damage == "duplicate-line" else 0)
        return "".join(lines), f"line {at + 1} {'duplicated' if damage == 'duplicate-line' else 'dropped'}"
    if damage == "bom":
        return "\ufeff" + text, "a byte-order mark"
    if damage == "tabs":
        return text.replace("  ", "\t"), "indented with tabs"
    return text.replace("\n", "\r\n"), "CRLF line ends"


# --- ONNX models --------------------------------------------------------------------------------------


@cache
def helper_onnx_model() -> bytes:
    """A small ONNX model built with onnx.helper: conv, relu, max pool, resize (constant scales), concat, pool, gemm."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
        helper.make_node("Resize", ["p1", "", "scales"], ["u1"], name="up1", mode="nearest"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", kernel_shape=[3, 3], auto_pad="SAME_UPPER", dilations=[1, 1]),
        helper.make_node("Concat", ["c2", "u1"], ["cat"], name="cat", axis=1),
        helper.make_node("AveragePool", ["cat"], ["a1"], name="avg", kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("ConvTranspose", ["a1", "w3"], ["t1"], name="deconv", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["t1"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "wf"], ["y"], name="fc", transB=1),
    ]
    initializers = [weight("w1", 4, 3, 3, 3), weight("w2", 4, 4, 3, 3), weight("w3", 8, 4, 2, 2), weight("wf", 2, 4),
                    numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")]
    graph = helper.make_graph(
        nodes, "fuzz_helper", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


EXPORT_SCRIPT = """
import io, sys, torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.pool = torch.nn.MaxPool2d(2, ceil_mode=True)
        self.up = torch.nn.Upsample(scale_factor=2)
        self.head = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 2))
    def forward(self, x):
        y = self.pool(torch.relu(self.conv(x)))
        return self.head(torch.cat([y, self.up(self.pool(y))], 1))
buffer = io.BytesIO()
torch.onnx.export(Net(), torch.zeros(1, 3, 32, 32), buffer, dynamo=False, input_names=["x"],
                  dynamic_axes={"x": {2: "h", 3: "w"}})
sys.stdout.buffer.write(buffer.getvalue())
"""


@cache
def exported_onnx_model() -> bytes | None:
    """A small model exported from PyTorch (conv, pools, upsample, concat, linear), or None without torch.

    Exported in a child process, so that torch is never imported into the fuzzing process.
    """
    try:
        done = subprocess.run([sys.executable, "-W", "ignore", "-c", EXPORT_SCRIPT], capture_output=True, timeout=300, check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    return done.stdout or None


def onnx_models() -> list[bytes]:
    """The ONNX models cases start from."""
    return [model for model in (helper_onnx_model(), exported_onnx_model()) if model]


@st.composite
def onnx_files(draw: Any) -> tuple[bytes, str]:
    """An ONNX model, truncated, bit-flipped or mutated as a protobuf; and how."""
    models = onnx_models()
    index = draw(st.integers(0, len(models) - 1))
    content = models[index]
    how = ["helper", "exported"][index]
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "append", "proto", "proto", "proto", "proto", "proto+flip"]))
    if kind.startswith("proto"):
        content, change = _onnx_mutated(draw, content)
        how += f", {change}"
    if kind == "truncate":
        at = draw(st.integers(0, len(content) - 1))
        return content[:at], f"{how}, truncated at {at} of {len(content)}"
    if kind in ("flip", "proto+flip"):
        flipped = bytearray(content)
        spots = draw(st.lists(st.tuples(st.integers(0, len(content) - 1), st.integers(0, 7)), min_size=1, max_size=4))
        for at, bit in spots:
            flipped[at] ^= 1 << bit
        return bytes(flipped), f"{how}, bits flipped at {[at for at, _ in spots]}"
    if kind == "overwrite":
        at = draw(st.integers(0, len(content) - 1))
        junk = draw(st.binary(min_size=1, max_size=16))
        return content[:at] + junk + content[at + len(junk):], f"{how}, {len(junk)} bytes overwritten at {at}"
    if kind == "append":
        return content + draw(st.binary(min_size=1, max_size=64)), f"{how}, junk appended"
    return content, how


ONNX_INTS = st.one_of(st.integers(-3, 9), st.sampled_from([2**31, 2**62, 2**63 - 1, -(2**63), 10**9]))


def _onnx_mutated(draw: Any, content: bytes) -> tuple[bytes, str]:
    import onnx
    from onnx import helper

    model = onnx.load_from_string(content)
    graph = model.graph
    nodes = list(graph.node)
    kind = draw(st.sampled_from(["attribute", "attribute", "attribute-type", "drop-attribute", "add-attribute", "op", "drop-node",
                                 "reorder", "dangling", "cycle", "input-dims", "input-type", "inputs", "initializer", "opset",
                                 "empty-graph", "output"]))
    node = nodes[draw(st.integers(0, len(nodes) - 1))] if nodes else None
    if kind == "attribute" and node is not None and node.attribute:
        attribute = node.attribute[draw(st.integers(0, len(node.attribute) - 1))]
        values = draw(st.lists(ONNX_INTS, max_size=6))
        if attribute.type == onnx.AttributeProto.INTS:
            del attribute.ints[:]
            attribute.ints.extend(values)
        elif attribute.type == onnx.AttributeProto.INT:
            attribute.i = values[0] if values else 0
        elif attribute.type == onnx.AttributeProto.STRING:
            attribute.s = draw(st.sampled_from([b"", b"SAME_LOWER", b"VALID", b"NOTSET", b"same_upper", b"\xff\xfe", b"x" * 100]))
        return model.SerializeToString(), f"{node.name}.{attribute.name} = {values}"
    if kind == "attribute-type" and node is not None and node.attribute:
        attribute = node.attribute[draw(st.integers(0, len(node.attribute) - 1))]
        replacement = draw(st.sampled_from([
            helper.make_attribute(attribute.name, [1.5, 2.5]), helper.make_attribute(attribute.name, "text"),
            helper.make_attribute(attribute.name, 2.0), helper.make_attribute(attribute.name, 3),
            helper.make_attribute(attribute.name, [b"a", b"b"]),
        ]))
        attribute.CopyFrom(replacement)
        return model.SerializeToString(), f"{node.name}.{attribute.name} retyped"
    if kind == "drop-attribute" and node is not None and node.attribute:
        index = draw(st.integers(0, len(node.attribute) - 1))
        name = node.attribute[index].name
        del node.attribute[index]
        return model.SerializeToString(), f"{node.name}.{name} dropped"
    if kind == "add-attribute" and node is not None:
        name = draw(st.sampled_from(["kernel_shape", "strides", "pads", "dilations", "auto_pad", "ceil_mode", "group", "axis",
                                     "output_padding", "output_shape", "mode", "blocksize", "scales", "unknown"]))
        value = draw(st.one_of(st.lists(ONNX_INTS, min_size=1, max_size=6), ONNX_INTS, st.sampled_from(["SAME_UPPER", "VALID", "bogus"])))
        node.attribute.extend([helper.make_attribute(name, value)])
        return model.SerializeToString(), f"{node.name}.{name} += {value!r}"
    if kind == "op" and node is not None:
        node.op_type = draw(st.sampled_from(["Conv", "MaxPool", "AveragePool", "ConvTranspose", "Resize", "Upsample", "Concat",
                                             "Add", "Mul", "Flatten", "Gemm", "MatMul", "Reshape", "Pad", "DepthToSpace",
                                             "SpaceToDepth", "GlobalMaxPool", "Relu", "Unknown", "", "Loop"]))
        return model.SerializeToString(), f"{node.name} op = {node.op_type!r}"
    if kind == "drop-node" and nodes:
        index = draw(st.integers(0, len(nodes) - 1))
        del graph.node[index]
        return model.SerializeToString(), f"node #{index} dropped"
    if kind == "reorder" and len(nodes) > 1:
        graph.node.reverse()
        return model.SerializeToString(), "nodes reversed"
    if kind == "dangling" and node is not None and node.input:
        node.input[draw(st.integers(0, len(node.input) - 1))] = draw(st.sampled_from(["missing", "", "x", "y"]))
        return model.SerializeToString(), f"{node.name} input dangling"
    if kind == "cycle" and node is not None and node.input and node.output:
        node.input[0] = node.output[0]
        return model.SerializeToString(), f"{node.name} reads its own output"
    if kind == "input-dims" and graph.input:
        shape = graph.input[0].type.tensor_type.shape
        dims = draw(st.lists(st.one_of(ONNX_INTS, st.sampled_from(["h", "", "batch"])), max_size=6))
        del shape.dim[:]
        for dim in dims:
            entry = shape.dim.add()
            if isinstance(dim, str):
                entry.dim_param = dim
            else:
                entry.dim_value = dim
        return model.SerializeToString(), f"input dims = {dims}"
    if kind == "input-type" and graph.input:
        graph.input[0].type.tensor_type.elem_type = draw(st.sampled_from([0, 2, 7, 8, 9, 99]))
        if draw(st.booleans()):
            graph.input[0].type.ClearField("tensor_type")
        return model.SerializeToString(), "input type changed"
    if kind == "inputs":
        action = draw(st.sampled_from(["drop", "duplicate", "add"]))
        if action == "drop" and graph.input:
            del graph.input[0]
        elif action == "duplicate" and graph.input:
            graph.input.extend([graph.input[0]])
        else:
            graph.input.extend([helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, [1, 3, 8, 8])])
        return model.SerializeToString(), f"graph inputs: {action}"
    if kind == "initializer" and graph.initializer:
        tensor = graph.initializer[draw(st.integers(0, len(graph.initializer) - 1))]
        action = draw(st.sampled_from(["drop", "truncate", "dims", "type", "nan"]))
        if action == "drop":
            graph.initializer.remove(tensor)
        elif action == "truncate":
            tensor.raw_data = tensor.raw_data[: len(tensor.raw_data) // 2]
        elif action == "dims":
            del tensor.dims[:]
            tensor.dims.extend(draw(st.lists(ONNX_INTS, max_size=5)))
        elif action == "type":
            tensor.data_type = draw(st.sampled_from([0, 6, 7, 11, 16, 99]))
        else:
            import numpy as np

            values = np.frombuffer(tensor.raw_data, dtype=np.float32).copy() if tensor.data_type == 1 else np.zeros(0, np.float32)
            values[:] = draw(st.sampled_from([np.nan, np.inf, -1.0, 0.0, 1e30, 1e-30]))
            tensor.raw_data = values.tobytes()
        return model.SerializeToString(), f"initializer {tensor.name}: {action}"
    if kind == "opset":
        del model.opset_import[:]
        model.opset_import.extend([helper.make_opsetid("", draw(st.sampled_from([0, 1, 7, 9, 10, 11, 999])))])
        return model.SerializeToString(), f"opset {model.opset_import[0].version}"
    if kind == "empty-graph":
        del graph.node[:]
        return model.SerializeToString(), "no nodes"
    if kind == "output" and graph.output:
        del graph.output[:]
        return model.SerializeToString(), "no outputs"
    return content, "unchanged"


# --- cases -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FuzzFile:
    """One file of a case: its name and its bytes."""

    name: str
    content: bytes


@dataclass(frozen=True)
class FuzzCase:
    """Files, and the verb run on the first of them (for batch-repair: on their folder) with ``options``."""

    files: tuple[FuzzFile, ...]
    verb: str
    options: tuple[str, ...]
    origin: str
    """How the subject was made, e.g. ``configs/unet.yaml: layers.3.kernel = 10**100; json``."""
    hostile_options: tuple[str, ...] = ()
    """Options given malformed values on purpose: an exit-2 message may name one of them instead of the file."""

    def arguments(self, folder: Path) -> list[str]:
        """The command line (after ``convsolve``) with the files written in ``folder``."""
        subject = folder / "in" / self.files[0].name
        outputs = {"prune": "pruned.yaml", "repair": "repaired.yaml", "plot": "out.png", "draw": "out.svg", "report": "out.html"}
        if self.verb == "batch-repair":
            return [self.verb, str(folder / "in"), "-o", str(folder / "out"), "--workers", "1", *self.options]
        arguments = [self.verb, str(subject)]
        if self.verb in outputs:
            arguments += ["-o", str(folder / outputs[self.verb])]
        elif self.verb == "export" and "-o" in self.options:
            return arguments + [str(folder / "out.yaml") if option == "OUT" else option for option in self.options]
        return arguments + list(self.options)

    def describe(self) -> str:
        return f"convsolve {' '.join(self.arguments(Path('.')))}  # {self.origin}"


@st.composite
def subjects(draw: Any, onnx: bool = True) -> tuple[bytes, str, str]:
    """A file to run a verb on: content, suffix, and how it was made."""
    kinds = ["mutated"] * 14 + ["random"] * 2 + ["garbage", "empty", "shipped"] + (["onnx"] * 4 if onnx else [])
    kind = draw(st.sampled_from(kinds))
    if kind in ("mutated", "shipped"):
        paths = shipped_configs()
        small = [p for p in paths if p.stat().st_size < SMALL_CONFIG]
        path = draw(st.sampled_from(small * 3 + paths))  # mostly small configs: a case then takes milliseconds
        document = shipped_document(path)
        changes = []
        for _ in range(0 if kind == "shipped" else draw(st.sampled_from([1, 1, 1, 2, 2, 3, 4]))):
            document, change = draw(_mutation(document))
            changes.append(change)
        content, suffix, how = draw(_written(document))
        return content, suffix, f"{path.relative_to(ROOT)}: {'; '.join(changes) or 'unchanged'}; {how}"
    if kind == "random":
        document = draw(st.one_of(HOSTILE_VALUES, st.dictionaries(
            st.sampled_from(["name", "convention", "input", "layers", "params", "constraints", "targets", "description"]),
            HOSTILE_VALUES, max_size=6)))
        content, suffix, how = draw(_written(document))
        return content, suffix, f"random document {_short(document)}; {how}"
    if kind == "garbage":
        content = draw(st.one_of(st.binary(max_size=600), st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))))
        suffix = draw(st.sampled_from([".yaml", ".json", ".onnx", ".yml", ""]))
        return content, suffix, f"garbage ({len(content)} bytes)"
    if kind == "empty":
        content = draw(st.sampled_from([b"", b"\n", b" ", b"---\n", b"...\n", b"null\n", b"~", b"[]", b"{}", b"\x00", b"\xef\xbb\xbf",
                                        b"# only a comment\n", b"0", b"''"]))
        return content, draw(st.sampled_from([".yaml", ".json", ".onnx", ".yml"])), f"empty-ish {content!r}"
    content, how = draw(onnx_files())
    return content, ".onnx", f"onnx: {how}"


@st.composite
def _options(draw: Any, verb: str, content: bytes, timeout: float) -> tuple[tuple[str, ...], tuple[str, ...]]:
    options: list[str] = []
    hostile: list[str] = []
    sizes = (["8:40", "16", "24x32", "1:64:8", "12:20x30", "32", "4:12", "64:96:16"] if verb != "shapes"
             else ["16", "24x32", "1x3x16x16", "40", "8:16"])
    size = draw(st.sampled_from(sizes * 3 + [None, "HOSTILE"]))  # without --input now and then: the config's own range
    if size == "HOSTILE":
        size = draw(st.sampled_from(HOSTILE_INPUTS))
        hostile.append("--input")
    if size is not None:
        options += ["--input", size]
    if takes_option(verb, "--timeout"):
        options += ["--timeout", f"{timeout:g}"]
    if verb in ("check", "sizes", "shapes", "count", "prune", "suggest", "repair") and draw(st.booleans()):
        options.append("--json")
    if verb in ("enumerate", "sample") and draw(st.booleans()):
        options.append("--jsonl")
    if verb == "enumerate":
        options += ["--limit", "3"]
    if verb == "sample":
        options += ["-n", "3", "--seed", str(draw(st.integers(0, 2**32)))]
        if draw(st.booleans()):
            options.append("--distinct")
    if verb == "report":
        options += ["-n", "2"]
    if verb == "draw" and draw(st.booleans()):
        at = draw(st.sampled_from(["16", "24x32", "0", "abc", "99999999999999999999999", "-1"]))
        options += ["--at", at]
        if at in ("0", "abc", "99999999999999999999999", "-1"):
            hostile.append("--at")
    if verb == "export" and draw(st.booleans()):
        options += ["-o", "OUT"]
    if verb == "suggest":
        names = re.findall(rb"name: ?\"?([A-Za-z_][A-Za-z0-9_]*)", content)[:20] or [b"conv1"]
        for _ in range(draw(st.integers(0, 2))):
            name = draw(st.sampled_from(names)).decode()
            value = draw(st.one_of(st.sampled_from(["1", "3", "7", "0", "-1", "true"]), st.sampled_from(["abc", "", "1.5",
                                                                                                      "99999999999999999999999999"])))
            setting = f"{name}.{draw(st.sampled_from(['kernel', 'stride', 'padding', 'kernel.height', 'x']))}={value}"
            if draw(st.integers(0, 9)) == 0:
                setting = draw(st.sampled_from(["=3", "noequals", "a=b=c", "width=٣"]))
            options += ["--set", setting]
            hostile.append("--set")
    if verb in ("repair", "batch-repair") and draw(st.integers(0, 3)) == 0:
        option = draw(st.sampled_from(["--allow", "--freeze", "--weights", "--candidates"]))
        value = draw(st.sampled_from({
            "--allow": ["padding", "stride,kernel", "bogus", "", ",", "padding,"],
            "--freeze": ["conv1", "nothing", "", "a,b,c"],
            "--weights": ["kernel=2", "stride=0", "kernel=-1", "bogus=1", "kernel", "kernel=x", "kernel=1.5"],
            "--candidates": ["kernel=1,3,5", "padding=0", "kernel=", "kernel=-1", "kernel=a", "stride=99999999999999999999999"],
        }[option]))
        options += [option, value]
        hostile.append(option)
    return tuple(options), tuple(hostile)


@st.composite
def fuzz_cases(draw: Any, verbs: Sequence[str] = VERBS, onnx: bool = True, timeout: float = CASE_TIMEOUT) -> FuzzCase:
    """A case: a subject file (and, for batch-repair, a few more), one of ``verbs`` and its options (``--timeout timeout``)."""
    verb = draw(st.sampled_from([v for v in verbs for _ in range(VERB_WEIGHTS[v])]))
    content, suffix, origin = draw(subjects(onnx=onnx and verb not in SOLVER_VERBS + ("repair", "batch-repair")))
    files = [FuzzFile(f"case{suffix}", content)]
    if verb == "batch-repair":
        for index in range(draw(st.integers(1, 3))):
            more, more_suffix, more_origin = draw(subjects(onnx=False))
            files.append(FuzzFile(f"more{index}{more_suffix if more_suffix in ('.yaml', '.yml', '.json') else '.yaml'}", more))
            origin += f" | {more_origin}"
    options, hostile = draw(_options(verb, content, timeout))
    return FuzzCase(tuple(files), verb, options, origin, hostile)


# --- running and judging a case -------------------------------------------------------------------------


@cache
def takes_option(verb: str, option: str) -> bool:
    """Whether the CLI's ``verb`` takes ``option`` (read from the command itself, so the fuzzer follows the CLI)."""
    command = typer.main.get_command(app).commands[verb]  # type: ignore[attr-defined]
    return any(option in parameter.opts for parameter in command.params)


class CaseHung(BaseException):
    """Raised by the alarm when a case runs past its hard limit (a BaseException, so no handler swallows it)."""


@dataclass
class Outcome:
    """What running a case gave, and what is wrong with it (``problems``, empty when it behaved)."""

    case: FuzzCase
    exit_code: int | None
    output: str
    seconds: float
    problems: list[str] = field(default_factory=list)
    error_trace: str = ""

    @property
    def signature(self) -> str:
        """A short key grouping failures of the same kind (problem and where the exception came from)."""
        where = ""
        if self.error_trace:
            frames = [line.strip() for line in self.error_trace.splitlines() if line.strip().startswith('File "')]
            where = f" @ {frames[-1] if frames else ''}"
        return re.sub(r"\d+", "N", "; ".join(self.problems))[:160] + where


_runner = None


def _cli_runner() -> Any:
    global _runner
    if _runner is None:
        from typer.testing import CliRunner

        _runner = CliRunner()
    return _runner


@cache
def _command(typer_app: Any) -> Any:
    """The Click command of the app, built once: Typer builds it anew on every call, which is half of a quick case."""
    return typer.main.get_command(typer_app)


def run_case(case: FuzzCase, folder: Path | None = None, hard_limit: float = 60.0) -> Outcome:
    """Run ``case`` in-process in ``folder`` (a fresh temporary one when None) and judge it."""
    own = folder is None
    folder = Path(tempfile.mkdtemp(prefix="convsolve-fuzz-")) if folder is None else folder
    try:
        if (folder / "in").exists() or (folder / "out").exists():
            shutil.rmtree(folder)
        (folder / "in").mkdir(parents=True, exist_ok=True)
        for file in case.files:
            (folder / "in" / file.name).write_bytes(file.content)
        arguments = case.arguments(folder)
        # a CPU-time timer: the CLI's own --timeout uses the wall-clock one (SIGALRM)
        previous = signal.signal(signal.SIGVTALRM, _alarm)
        signal.setitimer(signal.ITIMER_VIRTUAL, hard_limit)
        started = time.perf_counter()
        harness_callbacks = [callback for callback in gc.callbacks if "hypothesis" in getattr(callback, "__module__", "")]
        for callback in harness_callbacks:  # an alarm (--timeout) must not land in hypothesis's own gc hook
            gc.callbacks.remove(callback)
        try:
            with mock.patch.object(typer.testing, "_get_command", _command):
                result = _cli_runner().invoke(app, arguments)
        except CaseHung:
            return Outcome(case, None, "", time.perf_counter() - started, [f"still running after {hard_limit:g} s of CPU time"])
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, previous)
            gc.callbacks.extend(harness_callbacks)
            _close_figures()
        seconds = time.perf_counter() - started
        outcome = Outcome(case, result.exit_code, result.output, seconds)
        outcome.problems = judge(case, result.exit_code, result.output, result.exception, folder)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            outcome.error_trace = "".join(traceback.format_exception(result.exception))
        return outcome
    finally:
        if own:
            shutil.rmtree(folder, ignore_errors=True)


def _alarm(signum: int, frame: Any) -> None:
    raise CaseHung()


def _close_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def judge(case: FuzzCase, exit_code: int, output: str, exception: BaseException | None, folder: Path) -> list[str]:
    """What is wrong with a run of ``case``: nothing when it exited 0/1/2 cleanly, with a clear message on 2."""
    problems = []
    allowed = {0, 1, 2} | ({124} if "--timeout" in case.options else set())
    if exit_code not in allowed:
        problems.append(f"exit code {exit_code}")
    if exception is not None and not isinstance(exception, SystemExit):
        problems.append(f"raised {type(exception).__name__}: {_short(str(exception), 120)}")
    if "Traceback" in output:
        problems.append("a traceback in the output")
    if exit_code == 2 and not problems:
        message = _error_message(output)
        if message is None:
            problems.append("exit code 2 without an 'error: ' message")
        else:
            names = [str(folder / "in" / file.name) for file in case.files] + [file.name for file in case.files]
            if case.verb == "batch-repair":
                names.append(str(folder / "in"))
            if not any(name in message for name in names) and not any(option in message for option in case.hostile_options):
                problems.append(f"the exit-2 message names neither the file nor the option at fault: {_short(message, 160)}")
            leaked = LEAKED_ERROR.search(message)
            if leaked:
                problems.append(f"an internal error leaked into the message ({leaked.group(0)!r}): {_short(message, 160)}")
    return problems


def _error_message(output: str) -> str | None:
    """The error paragraph of a run: from the first line starting with 'error: ' to the end."""
    for index, line in enumerate(output.splitlines()):
        if line.startswith("error: ") or line.startswith("error"):
            return "\n".join(output.splitlines()[index:])
    return None


def save_reproducer(outcome: Outcome, folder: Path) -> Path:
    """Write the case's files, command line, output and traceback under ``folder``; returns the case's folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "in").mkdir(exist_ok=True)
    for file in outcome.case.files:
        (folder / "in" / file.name).write_bytes(file.content)
    command = outcome.case.arguments(Path("."))
    (folder / "command.txt").write_text(
        f"cd {folder} && python -m convsolve {' '.join(_quoted(a) for a in command)}\n# {outcome.case.origin}\n",
        encoding="utf-8", errors="backslashreplace")
    (folder / "problems.txt").write_text("\n".join(outcome.problems) + "\n", encoding="utf-8", errors="backslashreplace")
    (folder / "output.txt").write_text(outcome.output, encoding="utf-8", errors="backslashreplace")
    if outcome.error_trace:
        (folder / "traceback.txt").write_text(outcome.error_trace, encoding="utf-8", errors="backslashreplace")
    return folder


def _quoted(argument: str) -> str:
    return argument if re.fullmatch(r"[\w./:=,+-]+", argument) else "'" + argument.replace("'", "'\\''") + "'"


def limit_memory(gigabytes: float) -> None:
    """Cap this process's address space, so that a runaway allocation is a MemoryError, not the OOM killer."""
    import resource

    limit = int(gigabytes * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


__all__ = [
    "VERBS", "CHEAP_VERBS", "SOLVER_VERBS", "PICTURE_VERBS", "FuzzFile", "FuzzCase", "Outcome", "fuzz_cases", "subjects",
    "onnx_files", "helper_onnx_model", "exported_onnx_model", "shipped_configs", "run_case", "judge", "save_reproducer",
    "limit_memory",
]
