"""Structural choices of a search space unrolled into the nodes the solver sees.

A space may choose *which op* a node is (``choose:``), *how many* copies of a block there are (``repeat:``),
*which earlier node(s)* feed a node (``inputs: {choice: [...]}`` or ``{choose: K, from: [...]}``) and the input
size (``input: {size: {param: {choice: [...]}}}``); :mod:`convsolve.space` describes the format. The
:class:`Unroller` turns such a layer list into flat :class:`Entry` records, one per node:

- a repeated block becomes its copies at the largest depth, named ``<block>.<i>.<layer>``; a copy beyond the
  chosen depth is *gated*: it passes its input on, and the parameters written in it are inactive;
- an op choice is one node with a variant per option, and a parameter ``<node>.op``;
- an input choice adds a node ``<node>:input`` (``<node>:input0``, ... for K of N) that passes on the
  chosen input; the input size adds ``input:size``, which resizes the input to the chosen size.

Names inside a block resolve to the same copy, and ``input`` there is the copy's input (the block's input, or the
copy before); a block's name, read from outside, is its last copy's output.
Nothing here is sized by a value of the config before :data:`MAX_UNROLLED` bounds it.

Example:
    >>> from convsolve.space import Space
    >>> space = Space.from_config({"input": {"channels": 1, "size": 8}, "layers": [
    ...     {"name": "b", "repeat": {"choice": [1, 2]}, "layers": [{"name": "c", "type": "conv2d", "out_channels": 1, "kernel": 3,
    ...                                                             "padding": 1}]},
    ...     {"name": "h", "type": "relu", "inputs": {"choice": ["b", "input"]}}]})
    >>> space.order
    ['input', 'b.0.c', 'b.1.c', 'h:input', 'h']
    >>> [str(gate) for gate in space.template("b.1.c").gates]
    ['b.depth > 1']
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ExpressionError
from ..expressions import parse_expression
from ..network import INPUT
from ..space import MAX_RANGE_VALUES, ConfigPath, Gate, LocalExpression, Pick, Value
from .fields import did_you_mean, line_of, show_config_value

if TYPE_CHECKING:
    from .space import SpaceLoader

__all__ = ["Entry", "Declaration", "Unroller", "MAX_UNROLLED", "RESOLUTION", "RESIZE_NODE"]

MAX_UNROLLED = 20_000
"""The most nodes a space may unroll to (every copy of every repeated block, and the nodes input choices add)."""
RESOLUTION = "input.size"
"""The parameter of an input size left open."""
RESIZE_NODE = "input:size"
"""The node that resizes the network input to :data:`RESOLUTION`."""


@dataclass(frozen=True)
class Declaration:
    """A structural parameter the loader declares just before an entry's own: a depth, an op, an input choice."""

    name: str
    values: tuple[Value, ...]
    origin: str
    site: ConfigPath
    gates: tuple[Gate, ...]


@dataclass
class Entry:
    """One node of the unrolled space, as the loader reads it."""

    node: str
    line: int | None
    inputs: tuple[str, ...]
    bodies: dict[str | None, tuple[Any, ConfigPath]]
    """Variant key (None for a plain layer, else an option's name) -> the mapping holding its type and fields, and
    where it sits in the config."""
    gates: tuple[Gate, ...] = ()
    switch: str | None = None
    pick: Pick | None = None
    resolution: str | None = None
    copy: tuple[int, ...] = ()
    """The copy numbers of the blocks around it, outermost first."""
    scope: tuple[dict[str, str], ...] = ()
    """Name -> node in each block around it, innermost first (for the names an expr reads)."""
    declares: list[Declaration] = field(default_factory=list)
    through: int | None = None
    """The input passed on when a gate fails (set for the nodes of gated copies)."""


@dataclass
class _Scope:
    table: dict[str, str]
    parent: _Scope | None
    copy_nodes: set[str] | None = None
    """The nodes of the copy this scope is (None at the top)."""
    prefix: str = ""
    blocks: dict[str, int] = field(default_factory=dict)
    """The repeated blocks written in it and their largest depths: ``inner.0.op`` reads into one of their copies."""


class Unroller:
    """Turns a layer list with ``choose``, ``repeat`` and input choices into :class:`Entry` records."""

    def __init__(self, loader: SpaceLoader, symbols: Mapping[str, tuple[Value, ...]]) -> None:
        self.loader = loader
        self.symbols = symbols
        self.entries: list[Entry] = []
        self.copies: list[tuple[set[str], str, str, str]] = []
        """Each copy: its nodes, its input, its output, the block's name (for messages)."""

    def error(self, message: str, *, node: str | None = None, field: str | None = None, line: int | None = None) -> Exception:
        return self.loader.error(message, node=node, field=field, line=line)

    def unroll(self, raw_layers: list[Any], resolution: Declaration | None) -> list[Entry]:
        """The entries of ``raw_layers`` (the top-level layer list), after the resize node when the size is chosen."""
        size = sum(self._size(raw, ("layers", i), raw_layers, i) for i, raw in enumerate(raw_layers))
        if size > MAX_UNROLLED:
            raise self.error(f"the space unrolls to {size:,} nodes (every copy of every repeated block); at most "
                             f"{MAX_UNROLLED:,} are allowed: lower the largest depths", field="layers")
        top = _Scope({}, None)
        first = INPUT
        if resolution is not None:
            self.entries.append(Entry(RESIZE_NODE, None, (INPUT,), {None: ({}, ("input", "size"))},
                                      resolution=resolution.name, declares=[resolution]))
            top.table[INPUT] = first = RESIZE_NODE
        self._unroll_list(raw_layers, ("layers",), "", top, first, (), ())
        for nodes, start, end, block in self.copies:
            self._set_through(nodes, start, end, block)
        return self.entries

    # --- sizes, before anything is allocated --------------------------------------------------

    def _size(self, raw: Any, path: ConfigPath, container: Any, index: int) -> int:
        """How many nodes ``raw`` unrolls to (checked against :data:`MAX_UNROLLED` before unrolling)."""
        if not isinstance(raw, Mapping) or "repeat" not in raw:
            inputs = raw.get("inputs") if isinstance(raw, Mapping) else None
            extra = int(inputs.get("choose", 1)) if isinstance(inputs, Mapping) and _is_int(inputs.get("choose", 1)) else 1
            return 1 + (min(extra, MAX_UNROLLED) if isinstance(inputs, Mapping) else 0)
        layers = raw.get("layers")
        if not isinstance(layers, list) or not layers:
            raise self.error("a repeated block needs 'layers': a non-empty list of layers", node=_name(raw), field="layers",
                             line=line_of(raw, "layers") or line_of(container, index))
        inner = sum(self._size(item, (*path, "layers", i), layers, i) for i, item in enumerate(layers))
        most = max(self._depths(raw, line_of(container, index))[0])
        return min(inner * most, MAX_UNROLLED + 1)

    def _depths(self, raw: Mapping[str, Any], line: int | None) -> tuple[tuple[int, ...], str | None]:
        """The depths a block may have, and the symbol they are tied to (None: a choice of its own or a fixed depth)."""
        value, name = raw["repeat"], _name(raw)
        where: dict[str, Any] = {"node": name, "field": "repeat", "line": line_of(raw, "repeat") or line}
        if _is_int(value):
            if value < 1:
                raise self.error(f"a block repeats at least once, got repeat: {value}", **where)
            return (int(value),), None
        if isinstance(value, Mapping) and set(value) == {"param"}:
            symbol = value["param"]
            values = self.symbols.get(symbol) if isinstance(symbol, str) else None
            if values is None:
                raise self.error(f"unknown param {show_config_value(symbol)}{did_you_mean(str(symbol), self.symbols)} "
                                 "(declare it under params:)", **where)
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
                raise self.error(f"param {symbol!r} ties a depth, so its values must be integers >= 0, got {show_config_value(list(values))}",
                                 **where)
            return tuple(int(v) for v in values), symbol
        if isinstance(value, Mapping) and ({"choice", "range"} & set(value)):
            depths = [v for v in self.loader.domain(value, **where) if isinstance(v, int) and not isinstance(v, bool) and v >= 0]
            if len(depths) < len(self.loader.domain(value, **where)):
                raise self.error(f"a depth is an integer >= 0, got {show_config_value(value)}", **where)
            if max(depths) < 1:
                raise self.error("a repeated block needs a largest depth of at least 1", **where)
            return tuple(depths), None
        raise self.error(f"repeat is a depth: an integer, {{choice: [...]}}, {{range: [lo, hi]}} or {{param: name}}, "
                         f"got {show_config_value(value)}", **where)

    # --- unrolling ----------------------------------------------------------------------------

    def _unroll_list(
        self, items: list[Any], path: ConfigPath, prefix: str, scope: _Scope, first: str, gates: tuple[Gate, ...],
        copy: tuple[int, ...],
    ) -> str:
        """Unroll one layer list whose first layer reads ``first`` by default; returns its last node."""
        for index, raw in enumerate(items):  # every name of the list first: inputs may name a later layer
            name = _name(raw)
            if isinstance(raw, Mapping) and isinstance(name, str) and name:
                if name == INPUT:
                    raise self.error(f"{INPUT!r} is reserved for the network input; rename the layer", node=name, field="name",
                                     line=line_of(items, index))
                if name in scope.table and name != INPUT:
                    raise self.error(f"duplicate layer name {name!r}", node=prefix + name, field="name", line=line_of(items, index))
                scope.table[name] = self._output_of(raw, prefix + name, items, index)
                if "repeat" in raw:
                    scope.blocks[name] = max(self._depths(raw, line_of(items, index))[0])
        previous = first
        for index, raw in enumerate(items):
            item_path = (*path, index)
            line = line_of(items, index)
            self.loader.network_loader.layer_name(raw, index, line)
            if "repeat" in raw:
                previous = self._unroll_block(raw, item_path, prefix, scope, previous, gates, copy, line)
            else:
                previous = self._unroll_layer(raw, item_path, prefix, scope, previous, gates, copy, line)
        return previous

    def _output_of(self, raw: Mapping[str, Any], node: str, container: Any, index: int) -> str:
        """The node a layer's name stands for: itself, or a block's last copy's last layer."""
        if "repeat" not in raw:
            return node
        layers = raw.get("layers")
        if not isinstance(layers, list) or not layers or not isinstance(layers[-1], Mapping):
            return node  # refused with its reason when unrolled
        depths, _ = self._depths(raw, line_of(container, index))
        last = layers[-1]
        return self._output_of(last, f"{node}.{max(depths) - 1}.{_name(last)}", layers, len(layers) - 1)

    def _resolve(self, name: Any, scope: _Scope, node: str, line: int | None) -> str:
        current: _Scope | None = scope
        while current is not None:
            if name in current.table:
                return str(current.table[name])
            if isinstance(name, str) and name.split(".", 1)[0] in current.blocks:
                return current.prefix + name
            current = current.parent
        return str(name)  # unknown: the graph's connect names it, with a hint

    def _inputs(self, raw: Mapping[str, Any], path: ConfigPath, node: str, scope: _Scope, previous: str, line: int | None,
                gates: tuple[Gate, ...], copy: tuple[int, ...]) -> tuple[tuple[str, ...], list[Declaration]]:
        """The nodes feeding ``node``: as written, the previous node, or the nodes an input choice adds."""
        value = raw.get("inputs")
        where: dict[str, Any] = {"node": node, "field": "inputs", "line": line_of(raw, "inputs") or line}
        if value is None:
            return (previous,), []
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            named = [self._copy_reference(item, f"{node}:input{k}", scope, path, line, gates, copy) if "[" in item
                     else self._resolve(item, scope, node, line) for k, item in enumerate(value)]
            return tuple(named), []
        if not isinstance(value, Mapping):
            raise self.error(f"'inputs' must be a non-empty list of layer names, {{choice: [a, b]}} or {{choose: K, from: [a, b, c]}}, "
                             f"got {show_config_value(value)}", **where)
        if set(value) == {"choice"}:
            names, count, param = value["choice"], 1, f"{node}.input"
        elif set(value) == {"choose", "from"}:
            names, count, param = value["from"], value["choose"], f"{node}.inputs"
        else:
            raise self.error(f"an input choice is {{choice: [a, b]}} or {{choose: K, from: [a, b, c]}}, got {show_config_value(value)}", **where)
        if not isinstance(names, list) or not names or not all(isinstance(item, str) and item for item in names):
            raise self.error(f"an input choice needs a non-empty list of layer names, got {show_config_value(names)}", **where)
        if len(set(names)) != len(names):
            raise self.error(f"an input choice names a layer twice: {show_config_value(names)}", **where)
        if not _is_int(count) or not 1 <= count <= len(names):
            raise self.error(f"choose: K needs 1 <= K <= {len(names)} (the names to choose from), got {show_config_value(count)}", **where)
        if math.comb(len(names), count) > MAX_RANGE_VALUES:
            raise self.error(f"choosing {count} of {len(names)} inputs gives {math.comb(len(names), count):,} choices; at most "
                             f"{MAX_RANGE_VALUES:,} are allowed", **where)
        if count > 1 and any("+" in item for item in names):
            raise self.error("to choose several inputs, their names may not hold '+' (it joins the chosen names)", **where)
        values = tuple(names) if count == 1 else tuple("+".join(c) for c in itertools.combinations(names, count))
        declaration = Declaration(param, values, f"layer {node!r}, field 'inputs'", (*path, "inputs"), gates)
        sources = tuple(self._resolve(item, scope, node, line) for item in names)
        picks = []
        for position in range(count):
            hidden = f"{node}:input" if count == 1 else f"{node}:input{position}"
            self.entries.append(Entry(hidden, line, sources, {None: ({}, path)}, gates=gates,
                                      pick=Pick(param, tuple(names), position), copy=copy))
            self._note(hidden, scope)
            picks.append(hidden)
        return tuple(picks), [declaration]

    def _copy_reference(self, text: str, hidden: str, scope: _Scope, path: ConfigPath, line: int | None,
                        gates: tuple[Gate, ...], copy: tuple[int, ...]) -> str:
        """The node added for an input like ``enc[depth - 1 - index].conv``: the layer ``conv`` of the copy of block
        ``enc`` whose number the expression gives (from ``params:`` symbols and ``index``, this copy's number)."""
        where: dict[str, Any] = {"node": hidden.split(":")[0], "field": "inputs", "line": line}
        match = _COPY_REFERENCE.fullmatch(text)
        if match is None:
            raise self.error(f"an input reading a copy of a block is written block[expression].layer, like enc[depth - 1 - index].conv; "
                             f"got {text!r}", **where)
        block, formula, rest = match.groups()
        current: _Scope | None = scope
        while current is not None and block not in current.blocks:
            current = current.parent
        if current is None:
            raise self.error(f"{text!r} reads block {block!r}, which is no repeated block here", **where)
        constants = {"index": copy[-1]} if copy else {}
        try:
            parsed = parse_expression(formula, {*self.symbols, *constants})
        except ExpressionError as exc:
            raise self.error(f"{text!r}: the copy number {exc.message}", **where) from None
        expression = LocalExpression(parsed, {}, {n: v for n, v in constants.items() if n in parsed.names}) if constants else parsed
        candidates = tuple(f"{current.prefix}{block}.{k}.{rest}" for k in range(current.blocks[block]))
        self.entries.append(Entry(hidden, line, candidates, {None: ({}, path)}, gates=gates,
                                  pick=Pick(None, candidates, 0, expression), copy=copy))
        self._note(hidden, scope)
        return hidden

    def _unroll_layer(self, raw: Mapping[str, Any], path: ConfigPath, prefix: str, scope: _Scope, previous: str,
                      gates: tuple[Gate, ...], copy: tuple[int, ...], line: int | None) -> str:
        node = prefix + str(raw["name"])
        start = len(self.entries)
        inputs, declares = self._inputs(raw, path, node, scope, previous, line, gates, copy)
        if "choose" in raw:
            entry = self._choice(raw, path, node, inputs, scope, gates, copy, line)
        else:
            if "layers" in raw:
                raise self.error("'layers' belongs to a repeated block: give it a 'repeat' (a depth)", node=node, field="layers",
                                 line=line_of(raw, "layers") or line)
            entry = Entry(node, line, inputs, {None: (raw, path)}, gates=gates, copy=copy)
        entry.declares[:0] = declares
        if start < len(self.entries):  # the nodes an input choice added declare its parameter
            self.entries[start].declares[:0] = entry.declares
            entry.declares = []
        entry.scope = self._tables(scope)
        self.entries.append(entry)
        self._note(node, scope)
        return node

    def _choice(self, raw: Mapping[str, Any], path: ConfigPath, node: str, inputs: tuple[str, ...], scope: _Scope,
                gates: tuple[Gate, ...], copy: tuple[int, ...], line: int | None) -> Entry:
        """An op choice: one node with a variant per option; or, when an option is a list of layers (a composite op,
        like a separable conv), every option's layers, each gated by its option, and the node picking the chosen output."""
        options = raw["choose"]
        where: dict[str, Any] = {"node": node, "field": "choose", "line": line_of(raw, "choose") or line}
        extra = [key for key in raw if key not in ("name", "inputs", "choose", "op", "comment")]
        if extra:
            raise self.error(f"a layer with 'choose' takes its type and fields from each option; move {', '.join(map(repr, extra))} "
                             "into the options", node=node, field=str(extra[0]), line=line_of(raw, extra[0]) or line)
        if not isinstance(options, Mapping) or not options:
            raise self.error(f"choose is a mapping of option names to layers, like {{conv3: {{type: conv2d, ...}}, skip: {{type: identity}}}}, "
                             f"got {show_config_value(options)}", **where)
        bodies: dict[str | None, tuple[Any, ConfigPath]] = {}
        for option, body in options.items():
            if not isinstance(option, str) or not option.isidentifier():
                raise self.error(f"an option's name must be an identifier (letters, digits, _), got {option!r}", **where)
            if isinstance(body, list) and body:
                bodies[option] = (body, (*path, "choose", option))
                continue
            if not isinstance(body, Mapping):
                raise self.error(f"option {option!r} must be a layer mapping like {{type: conv2d, ...}} or a non-empty list of layers, "
                                 f"got {show_config_value(body)}", **where)
            for key in ("name", "inputs", "choose", "repeat"):
                if key in body:
                    raise self.error(f"option {option!r} may not give {key!r}: an option is one layer, fed by the node's inputs",
                                     node=node, field=f"choose.{option}.{key}", line=line_of(body, key) or line)
            bodies[option] = (body, (*path, "choose", option))
        switch, declares = f"{node}.op", []
        tie = raw.get("op")
        if tie is not None:
            symbol = tie.get("param") if isinstance(tie, Mapping) and set(tie) == {"param"} else None
            values = self.symbols.get(symbol) if isinstance(symbol, str) else None
            if values is None:
                raise self.error(f"op ties the choice to a param: {{param: name}} declared under params:, got {show_config_value(tie)}",
                                 node=node, field="op", line=line_of(raw, "op") or line)
            missing = [v for v in values if v not in bodies]
            if missing:
                raise self.error(f"param {symbol!r} takes {show_config_value(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                                 f"not an option of this choice ({', '.join(map(str, bodies))})", node=node, field="op",
                                 line=line_of(raw, "op") or line)
            switch = str(symbol)
            self.loader.uses.setdefault(switch, []).append((*path, "op"))
        else:
            declares.append(Declaration(switch, tuple(str(o) for o in bodies), f"layer {node!r}, field 'choose'", (*path, "choose"), gates))
        if not any(isinstance(body, list) for body, _ in bodies.values()):
            return Entry(node, line, inputs, bodies, gates=gates, switch=switch, copy=copy, declares=declares)
        if len(inputs) != 1:
            raise self.error("an op choice with a list of layers as an option reads one input", node=node, field="inputs", line=line)
        # the options in a chain, each gated by its own: the chosen one acts, the others pass what they get on
        previous = inputs[0]
        for option, (body, option_path) in bodies.items():
            option_gates = (*gates, Gate(switch, "op", str(option)))
            # inside an option ``input`` is the node's input, which the options before it pass on when this one acts
            inner = _Scope({INPUT: previous}, scope, set(), f"{node}.{option}.")
            start = previous
            if isinstance(body, list):
                previous = self._unroll_list(body, option_path, f"{node}.{option}.", inner, previous, option_gates, copy)
            else:
                previous = self._unroll_layer({**body, "name": str(option)}, option_path, f"{node}.", inner, previous, option_gates,
                                              copy, line_of(raw["choose"], option) or line)
            self.copies.append((inner.copy_nodes or set(), start, previous, f"{node} (option {option})"))
        return Entry(node, line, (previous,), {None: ({}, path)}, gates=gates, pick=Pick(None, (previous,)), copy=copy, declares=declares)

    def _unroll_block(self, raw: Mapping[str, Any], path: ConfigPath, prefix: str, scope: _Scope, previous: str,
                      gates: tuple[Gate, ...], copy: tuple[int, ...], line: int | None) -> str:
        name = raw["name"]
        block = prefix + name
        for key in raw:
            if key not in ("name", "repeat", "layers", "inputs", "comment"):
                raise self.error(f"unknown key {key!r} for a repeated block (it takes name, repeat, layers and inputs)", node=block,
                                 field=str(key), line=line_of(raw, key) or line)
        depths, symbol = self._depths(raw, line)
        if symbol is not None:
            self.loader.uses.setdefault(symbol, []).append((*path, "repeat"))
        layers = raw.get("layers")
        if not isinstance(layers, list) or not layers:
            raise self.error("a repeated block needs 'layers': a non-empty list of layers", node=block, field="layers", line=line)
        inputs = raw.get("inputs")
        if inputs is not None:
            if not (isinstance(inputs, list) and len(inputs) == 1 and isinstance(inputs[0], str)):
                raise self.error(f"a repeated block reads one input: inputs: [name], got {show_config_value(inputs)}", node=block,
                                 field="inputs", line=line_of(raw, "inputs") or line)
            previous = self._resolve(inputs[0], scope, block, line)
        depth = symbol
        declares = []
        if depth is None and len(depths) > 1:
            depth = f"{block}.depth"
            declares.append(Declaration(depth, depths, f"layer {block!r}, field 'repeat'", (*path, "repeat"), gates))
        for i in range(max(depths)):
            copy_gates = gates + ((Gate(depth, "depth", i),) if depth is not None and i >= min(depths) else ())
            inner = _Scope({INPUT: previous}, scope, set(), f"{block}.{i}.")  # inside a block, ``input`` is the copy's input
            start = len(self.entries)
            source = previous
            previous = self._unroll_list(layers, (*path, "layers"), f"{block}.{i}.", inner, previous, copy_gates, (*copy, i))
            if i == 0 and declares:
                self.entries[start].declares[:0] = declares
            if copy_gates:
                self.copies.append((inner.copy_nodes or set(), source, previous, block))
        return previous

    def _note(self, node: str, scope: _Scope) -> None:
        current: _Scope | None = scope
        while current is not None:
            if current.copy_nodes is not None:
                current.copy_nodes.add(node)
            current = current.parent

    def _tables(self, scope: _Scope) -> tuple[dict[str, str], ...]:
        tables = []
        current: _Scope | None = scope
        while current is not None and current.copy_nodes is not None:
            tables.append(current.table)
            current = current.parent
        return tuple(tables)

    def _set_through(self, nodes: set[str], start: str, end: str, block: str) -> None:
        """Which input each node of a gated copy passes on when the copy is beyond the depth: the first from the
        copy itself; the copy's last node must lead back to its input through them."""
        entries = {entry.node: entry for entry in self.entries if entry.node in nodes}
        for entry in entries.values():  # inner copies first: theirs were set by their own chains
            if entry.through is None:
                inside = [k for k, source in enumerate(entry.inputs) if source in nodes or source == start]
                entry.through = inside[0] if inside else 0
        current, seen = end, set()
        while current != start:
            found = entries.get(current)
            if found is None or current in seen:
                raise self.error(f"a copy of repeated block {block!r} beyond the chosen depth passes its input on, so its last layer "
                                 "must be reached from the block's input through the block's own layers; feed the first layer from the "
                                 "block's input", node=current, field="inputs", line=found.line if found else None)
            seen.add(current)
            current = found.inputs[found.through or 0]


_COPY_REFERENCE = re.compile(r"([^\[\]]+)\[([^\[\]]+)\]\.([^\[\]]+)")
"""``block[expression].layer``."""


def _name(raw: Any) -> Any:
    return raw.get("name") if isinstance(raw, Mapping) else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
