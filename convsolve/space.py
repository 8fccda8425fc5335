"""Search spaces: a network config whose integer hyperparameters may be choices.

A layer field may be left open, making it a parameter (a decision variable):

- ``{choice: [3, 5, 7]}`` or ``{range: [1, 7], step: 2}``: a parameter named ``<layer>.<field>``;
  in a per-axis list (``kernel: [{choice: [1, 3]}, 3]``) one per open axis, ``<layer>.<field>.<axis>``
  with the axes ``length`` (1-D), ``height``/``width`` (2-D), ``depth``/``height``/``width`` (3-D);
- ``{param: width}``: the shared symbol ``width`` declared under ``params:`` (every use takes the same value);
- ``{expr: "stem.kernel // 2"}``: derived from parameters with the safe expression language of
  :mod:`convsolve.expressions` (no parameter of its own).

``constraints:`` are expressions over the parameters that must hold; ``targets:`` ask for an output
size at an input size, a total stride, or a receptive field at a node. The layers themselves are
parsed by :mod:`convsolve.network`'s loader, so a value is valid in a space exactly when it is
valid in a fixed network; :meth:`Space.build_layer` makes the layer of one combination.

Example:
    >>> space = Space.from_config({
    ...     "input": {"channels": 3, "size": {"range": [32, 224]}},
    ...     "params": {"width": {"choice": [16, 32]}},
    ...     "layers": [{"name": "stem", "type": "conv2d", "out_channels": {"param": "width"},
    ...                 "kernel": {"choice": [3, 5, 7]}, "padding": {"expr": "stem.kernel // 2"}}],
    ...     "constraints": ["stem.kernel <= width"]})
    >>> list(space.params), space.total
    (['width', 'stem.kernel'], 6)
    >>> space.build_layer("stem", {"width": 16, "stem.kernel": 5}).padding.pairs
    ((2, 2), (2, 2))
"""

from __future__ import annotations

import copy
import keyword
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import networkx as nx

from .conventions import Convention
from .errors import ConfigError, ExpressionError, InvalidAssignment, UsageError
from .expressions import Expression, parse_expression
from .layers import Layer
from .network import (
    AXIS_NAMES, INPUT, SPACE_KEYS, SPACE_MARKERS, TOP_LEVEL_KEYS, InputSpec, LayerHead, Network, _Builder, _show,
    _suggest, hashable_value, is_space_value, line_of,
)
from .sizesets import SizeRange

__all__ = ["Param", "Target", "SpaceConstraint", "Space", "load_space", "MAX_RANGE_VALUES"]

MAX_RANGE_VALUES = 10_000
"""The most values one ``{range: ...}`` may hold."""

Value = Union[int, bool]
ConfigPath = tuple[Union[str, int], ...]
"""Keys and indices leading from the top of the config to one value."""

_NEUTRAL_FIELDS = {"kernel": 1, "stride": 1, "dilation": 1}
"""Values that make no field of the loader fail together with any other (padding words need stride 1)."""


@dataclass(frozen=True)
class Param:
    """One decision variable: its name, its values in the order written, and where it was declared."""

    name: str
    values: tuple[Value, ...]
    origin: str
    """``"params"`` for a shared symbol, else ``"layer 'stem', field 'kernel'"`` (and ``", axis 'height'"``)."""

    def __str__(self) -> str:
        shown = [_show_value(v) for v in self.values]
        if len(shown) > 8:
            shown = shown[:3] + ["..."] + shown[-2:]
        return f"{self.name} in {{{', '.join(shown)}}}"


@dataclass(frozen=True)
class Target:
    """What a node's output must be: a size at an input size, a total stride, a receptive field range."""

    node: str
    size: tuple[int, ...] | None = None
    """The output size per spatial axis, at input :attr:`at`."""
    at: tuple[int, ...] | None = None
    """The input size per spatial axis at which :attr:`size` is required."""
    stride: int | None = None
    """The total downsampling factor from the input to the node (the same on every axis)."""
    receptive_field: tuple[int | None, int | None] | None = None
    """``(min, max)`` of the node's receptive field, either end open (None)."""

    def __str__(self) -> str:
        parts = []
        if self.size is not None and self.at is not None:
            parts.append(f"output {_times(self.size)} at input {_times(self.at)}")
        if self.stride is not None:
            parts.append(f"total stride {self.stride}")
        if self.receptive_field is not None:
            low, high = self.receptive_field
            parts.append(f"receptive field {'' if low is None else low}..{'' if high is None else high}")
        return f"{self.node}: {', '.join(parts)}"


@dataclass(frozen=True)
class SpaceConstraint:
    """A user constraint: the parsed expression, its text, and its line in the config."""

    expression: Expression
    text: str
    line: int | None = None

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class _Slot:
    """One place in a layer's fields whose value comes from the space: a whole field or one item of its list."""

    field: str
    position: int | None
    """Index in the field's per-axis list, or None for the whole field."""
    param: str | None = None
    """The parameter whose value it takes, or None when derived by :attr:`expression`."""
    expression: Expression | None = None


@dataclass
class _LayerTemplate:
    """A layer with open fields: its head as parsed, where the open values go, and its built layers."""

    head: LayerHead
    raw: Any
    index: int
    slots: tuple[_Slot, ...]
    params: tuple[str, ...]
    cache: dict[tuple[Any, ...], Layer | InvalidAssignment] = field(default_factory=dict)


class Space:
    """A network config in which integer hyperparameters may be choices.

    Attributes:
        name, convention, input, source: as for :class:`~convsolve.network.Network`.
        params: every parameter by name: the ``params:`` symbols as declared, then the open layer
            fields in config order.
        graph: the layer graph, with node attributes ``inputs``, ``line`` and ``type`` (the layer
            type name); no ``layer``, since layers depend on the parameters (see :meth:`build_layer`).
        order: a topological order of the graph, the input first.
        constraints: the user constraints, in config order.
        targets: the user targets, in config order.
    """

    def __init__(
        self, *, name: str, convention: Convention, input: InputSpec, source: str | None, params: dict[str, Param],
        graph: nx.DiGraph, constraints: tuple[SpaceConstraint, ...], targets: tuple[Target, ...],
        templates: dict[str, _LayerTemplate], builder: _Builder, data: Any, sites: dict[str, list[ConfigPath]],
        uses: dict[str, list[ConfigPath]], readers: frozenset[str],
    ) -> None:
        self.name = name
        self.convention = convention
        self.input = input
        self.source = source
        self.params = params
        self.graph = graph
        self.order: list[str] = list(nx.topological_sort(graph))
        self.constraints = constraints
        self.targets = targets
        self._templates = templates
        self._builder = builder
        self._data = data
        self._sites = sites
        self._uses = uses
        self._readers = readers

    @classmethod
    def from_config(cls, data: Any, source: str | None = None) -> "Space":
        """Build and validate a space from a parsed config mapping.

        Raises:
            ConfigError: naming file, line, layer and field: anything the network loader refuses, and
                unknown params, empty or malformed choices and ranges, ranges of more than
                :data:`MAX_RANGE_VALUES` values, bad expressions (:class:`ExpressionError`), params
                declared but never used, malformed constraints and targets.
        """
        return _SpaceLoader(source).load(data)

    @property
    def ndim(self) -> int:
        """Spatial rank: 1, 2 or 3."""
        return self.input.ndim

    @property
    def total(self) -> int:
        """The number of assignments: the product of the domain sizes (1 with no parameters)."""
        return math.prod(len(param.values) for param in self.params.values())

    def inputs_of(self, name: str) -> tuple[str, ...]:
        """The names feeding node ``name``, in order."""
        inputs: tuple[str, ...] = self.graph.nodes[name]["inputs"]
        return inputs

    def layer_params(self, node: str) -> tuple[str, ...]:
        """The parameters node ``node``'s fields depend on, directly or through an expr, sorted by name."""
        return self._template(node).params

    def build_layer(self, node: str, values: Mapping[str, Value]) -> Layer:
        """The concrete layer of ``node`` for the given parameter values (memoised per combination).

        Parameters:
            node: a layer name.
            values: a value for each of :meth:`layer_params` (other keys are ignored). Values are
                checked by the same rules as a fixed config, not against the domains.

        Raises:
            InvalidAssignment: the combination is not a valid layer (a derived padding of -1,
                ``padding: same`` with stride 2, a division by zero in an expr, ...).
            UsageError: ``node`` is not a layer, or a value is missing.
        """
        template = self._template(node)
        try:
            key = tuple((values[name], type(values[name])) for name in template.params)
        except KeyError as exc:
            raise UsageError(f"layer {node!r} needs a value for {exc.args[0]!r} (it depends on {', '.join(template.params)})") from None
        built = template.cache.get(key)
        if built is None:
            built = template.cache[key] = self._build(template, values)
        if isinstance(built, InvalidAssignment):
            raise built.with_traceback(None)
        return built

    def fixed(self, assignment: Mapping[str, Value]) -> Network:
        """The concrete network for a value of every parameter.

        Raises:
            InvalidAssignment: a layer is not valid with these values (see :meth:`build_layer`).
            UsageError: a parameter is missing from ``assignment``, or an unknown name is in it.

        Constraints and targets are not checked: they are the solver's.
        """
        self._check_names(assignment, "assignment", complete=True)
        graph = self.graph.copy()
        for node in self.order[1:]:
            attributes = graph.nodes[node]
            del attributes["type"]
            attributes["layer"] = self.build_layer(node, assignment)
        del graph.nodes[INPUT]["type"]
        return Network(self.name, graph, self.input, self.convention, self.source)

    def with_input(self, ranges: Sequence[SizeRange], tied: bool) -> "Space":
        """A copy over other input ranges (the layers and their built combinations are shared)."""
        other = copy.copy(self)
        other.input = self.input.with_ranges(ranges, tied)
        return other

    def to_config(self, domains: Mapping[str, Sequence[Value]] | None = None, assignment: Mapping[str, Value] | None = None) -> Any:
        """The config as loaded (a ruamel round-trip object when read from YAML, comments and key order
        kept), with some parameters' domains replaced and some values fixed, for writing back.

        Parameters:
            domains: new values for some parameters (a pruned space); a ``range`` stays a range when
                the values are still evenly spaced, else it becomes a ``choice``.
            assignment: a value for some parameters. When it covers every parameter the result is a
                plain network config (``params``, ``constraints`` and ``targets`` removed, exprs
                evaluated) that :func:`convsolve.load` reads. Otherwise each fixed parameter's value
                is written in place of its choice, or, when an expr or constraint reads it, kept as a
                one-value choice so that they still parse.

        Raises:
            UsageError: an unknown parameter, an empty domain, or a parameter in both arguments.
            InvalidAssignment: with a full assignment, an expr divides by zero.

        Example:
            >>> space = Space.from_config({"input": {"channels": 1, "size": 8}, "layers": [
            ...     {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": {"range": [1, 7]}}]})
            >>> space.to_config(domains={"c.kernel": [1, 3, 5]})["layers"][0]["kernel"]
            {'range': [1, 5], 'step': 2}
            >>> space.to_config(assignment={"c.kernel": 3})["layers"][0]["kernel"]
            3
        """
        full = assignment is not None and set(assignment) == set(self.params)
        domains, assignment = dict(domains or {}), dict(assignment or {})
        self._check_names(domains, "domains")
        self._check_names(assignment, "assignment")
        both = sorted(set(domains) & set(assignment))
        if both:
            raise UsageError(f"{', '.join(both)} both narrowed and fixed; give each parameter to one of domains and assignment")
        data = copy.deepcopy(self._data)
        for name, values in domains.items():
            values = list(values)
            if not values:
                raise UsageError(f"the new domain of {name!r} is empty; an empty space has no config")
            for path in self._sites[name]:
                _write_domain(_at(data, path), values)
        if full:
            self._write_network(data, assignment)
            return data
        for name, value in assignment.items():
            if name in self._readers:
                for path in self._sites[name]:
                    _write_domain(_at(data, path), [value])
                continue
            if name in self._uses:  # a params: symbol: write the value where it is used
                for path in self._uses[name]:
                    _set(data, path, value)
                del data["params"][name]
            else:
                for path in self._sites[name]:
                    _set(data, path, value)
        if "params" in data and not data["params"] and assignment:
            del data["params"]
        return data

    def __str__(self) -> str:
        count = len(self.params)
        lines = [
            f"space {self.name!r} ({self.convention.name}), input {self.input.channels} x {self.input.describe()}: "
            f"{count} parameter{'s' * (count != 1)}, {self.total:,} assignment{'s' * (self.total != 1)}"
        ]
        lines += [f"  {param}  ({param.origin})" for param in self.params.values()]
        for node in self.order[1:]:
            for slot in self._templates[node].slots:
                if slot.expression is not None:
                    item = "" if slot.position is None else f"[{slot.position}]"
                    lines.append(f"  {node}.{slot.field}{item} = {slot.expression.text}")
        lines += [f"  constraint: {constraint}" for constraint in self.constraints]
        lines += [f"  target: {target}" for target in self.targets]
        return "\n".join(lines)

    def _template(self, node: str) -> _LayerTemplate:
        try:
            return self._templates[node]
        except KeyError:
            raise UsageError(f"no layer named {node!r}{_suggest(str(node), self._templates)}") from None

    def _check_names(self, values: Mapping[str, Any], what: str, complete: bool = False) -> None:
        unknown = [name for name in values if name not in self.params]
        if unknown:
            hint = _suggest(str(unknown[0]), self.params)
            raise UsageError(f"{what}: unknown parameter{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}{hint}")
        missing = [name for name in self.params if name not in values] if complete else []
        if missing:
            raise UsageError(f"{what}: no value for {', '.join(map(repr, missing))}")

    def _build(self, template: _LayerTemplate, values: Mapping[str, Value]) -> Layer | InvalidAssignment:
        """The layer for these values, or the InvalidAssignment saying why there is none."""
        head = template.head
        fields = dict(head.fields)
        for slot in template.slots:
            if slot.position is not None and fields[slot.field] is head.fields[slot.field]:
                fields[slot.field] = list(fields[slot.field])
        for slot in template.slots:
            try:
                value = _slot_value(slot, values)
            except ZeroDivisionError:
                return InvalidAssignment(
                    f"{{expr: {slot.expression.text!r}}} divides by zero{_with_values(template, values)}",  # type: ignore[union-attr]
                    file=self.source, node=head.name, field=slot.field, line=line_of(template.raw, slot.field) or head.line,
                )
            if slot.position is None:
                fields[slot.field] = value
            else:
                fields[slot.field][slot.position] = value
        key = (head.cls, head.type_name, self.ndim, self.convention.name, hashable_value(fields))
        layer = _BUILT.get(key)
        if layer is not None:
            return layer
        try:
            layer = self._builder.layer_fields(
                head.cls, head.type_name, fields, self.ndim, self.convention, head.name, template.raw, head.line
            )
        except ConfigError as exc:
            return InvalidAssignment(f"{exc.message}{_with_values(template, values)}", **exc.facts)
        if len(_BUILT) >= MAX_BUILT:
            _BUILT.clear()
        _BUILT[key] = layer
        return layer

    def _write_network(self, data: Any, assignment: Mapping[str, Value]) -> None:
        """Replace every open value of ``data`` with its value under a full assignment; drop the space keys."""
        for node in self.order[1:]:
            template = self._templates[node]
            for slot in template.slots:
                try:
                    value = _slot_value(slot, assignment)
                except ZeroDivisionError:
                    raise InvalidAssignment(
                        f"{{expr: {slot.expression.text!r}}} divides by zero",  # type: ignore[union-attr]
                        file=self.source, node=node, field=slot.field,
                    ) from None
                path: ConfigPath = ("layers", template.index, slot.field)
                _set(data, path if slot.position is None else (*path, slot.position), value)
        for key in SPACE_KEYS:
            if key in data:
                del data[key]


_BUILT: dict[Any, Layer] = {}
"""Layers built from equal fields, whichever node or space they came from: a layer depends on its
type, fields, rank and convention only, and repeated blocks and repair spaces rebuild the same ones."""
MAX_BUILT = 200_000


def _with_values(template: _LayerTemplate, values: Mapping[str, Value]) -> str:
    """`` (with a = 1, b = 2)``: the values a layer was built with, for a message (empty without parameters)."""
    given = ", ".join(f"{name} = {_show_value(values[name])}" for name in template.params)
    return f" (with {given})" if given else ""


def _slot_value(slot: _Slot, values: Mapping[str, Value]) -> Value:
    """The value an open field takes: its parameter's, or its expression's (ZeroDivisionError passes through)."""
    if slot.expression is None:
        return values[slot.param]  # type: ignore[index]
    return slot.expression.evaluate(values)


def load_space(path: str | Path) -> Space:
    """The search space described by the YAML or JSON config file at ``path``.

    Raises:
        ConfigError: the file cannot be read or parsed, or the space is malformed (see :meth:`Space.from_config`).
    """
    from .io.config import read_config

    if Path(path).suffix.lower() == ".onnx":
        raise ConfigError("is an ONNX model, which is one fixed network; a search space is a YAML or JSON config "
                          "(`convsolve export MODEL -o net.yaml` writes one to edit)", file=str(path))
    return Space.from_config(read_config(path), source=str(path))


class _SpaceLoader:
    """Turns a space config mapping into a Space, raising ConfigError at the first problem."""

    def __init__(self, source: str | None) -> None:
        self.source = source
        self.builder = _Builder(source)
        self.params: dict[str, Param] = {}
        self.sites: dict[str, list[ConfigPath]] = {}
        self.uses: dict[str, list[ConfigPath]] = {}
        self.symbol_lines: dict[str, int | None] = {}

    def error(self, message: str, *, node: str | None = None, field: str | None = None, line: int | None = None) -> ConfigError:
        return self.builder.error(message, node=node, field=field, line=line)

    def load(self, data: Any) -> Space:
        convention, ndim, input_spec, raw_layers = self.builder.header(data, TOP_LEVEL_KEYS + SPACE_KEYS)
        self.convention, self.ndim = convention, ndim
        self.symbols(data.get("params"), data)
        graph = self.builder.new_graph(data)
        graph.nodes[INPUT]["type"] = INPUT
        heads: list[tuple[LayerHead, Any, int, list[tuple[_Slot, str | None]]]] = []
        previous = INPUT
        for index, raw in enumerate(raw_layers):
            head = self.builder.layer_head(raw, index, raw_layers)
            previous = self.builder.add_node(graph, head, previous, type=head.type_name)
            specs = self.builder.field_specs(head.cls, head.type_name, head.fields, head.name, raw, head.line, spaces=True)
            heads.append((head, raw, index, self.open_fields(head, specs, raw, index)))
        self.builder.connect(graph)
        order = list(nx.topological_sort(graph))
        self.builder.check_arity_and_rank(graph, order, {head.name: head.type_name for head, *_ in heads})
        readers: set[str] = set()
        templates = {}
        for head, raw, index, drafts in heads:
            slots = tuple(self.parse_expr(head, raw, slot, text, readers) for slot, text in drafts)
            names = {slot.param for slot in slots if slot.param is not None}
            names.update(name for slot in slots if slot.expression is not None for name in slot.expression.names)
            templates[head.name] = _LayerTemplate(head, raw, index, slots, tuple(sorted(names)))
        constraints = self.constraints(data.get("constraints"), data, readers)
        targets = self.targets(data.get("targets"), data, graph)
        self.check_symbols_used(readers)
        space = Space(
            name=str(data.get("name", "network")), convention=convention, input=input_spec, source=self.source,
            params=self.params, graph=graph, constraints=constraints, targets=targets, templates=templates,
            builder=self.builder, data=data, sites=self.sites, uses=self.uses, readers=frozenset(readers),
        )
        for template in templates.values():
            self.check_fixed_fields(space, template)
        return space

    # --- parameters ---------------------------------------------------------------------------

    def symbols(self, raw: Any, data: Any) -> None:
        """Declare the ``params:`` symbols, in the order written."""
        if raw is None:
            return
        if not isinstance(raw, Mapping):
            raise self.error(f"'params' must be a mapping of names to {{choice: [...]}} or {{range: [lo, hi]}}, got {_show(raw)}",
                             field="params", line=line_of(data, "params"))
        for name, value in raw.items():
            line = line_of(raw, name) or line_of(data, "params")
            where: dict[str, Any] = {"field": f"params.{name}", "line": line}
            if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
                raise self.error(f"a param name must be an identifier (letters, digits, _), got {name!r}", **where)
            if not isinstance(value, Mapping) or not ({"choice", "range"} & set(value)):
                raise self.error(f"param {name!r} must be {{choice: [...]}} or {{range: [lo, hi], step: s}}, got {_show(value)}", **where)
            self.declare(name, self.domain(value, **where), "params", ("params", name))
            self.symbol_lines[name] = line

    def declare(self, name: str, values: tuple[Value, ...], origin: str, site: ConfigPath) -> None:
        self.params[name] = Param(name, values, origin)
        self.sites[name] = [site]

    def domain(self, raw: Mapping[str, Any], *, node: str | None = None, field: str | None = None, line: int | None = None) -> tuple[Value, ...]:
        """The values of a ``{choice: [...]}`` or ``{range: [lo, hi], step: s}``: deduplicated, in the order written."""
        where: dict[str, Any] = {"node": node, "field": field, "line": line}
        if "choice" in raw:
            if set(raw) != {"choice"}:
                raise self.error(f"a choice is {{choice: [v1, v2, ...]}} alone, got {_show(raw)}", **where)
            values = raw["choice"]
            if not isinstance(values, list):
                raise self.error(f"a choice needs a list of values, got {_show(values)}", **where)
            if not values:
                raise self.error("empty choice: give at least one value", **where)
            if not all(isinstance(v, int) for v in values):
                raise self.error(f"choice values must be integers or true/false, got {_show(values)}", **where)
            if len({isinstance(v, bool) for v in values}) > 1:
                raise self.error(f"a choice mixes true/false with integers: {_show(values)}", **where)
            items = [bool(v) if isinstance(v, bool) else int(v) for v in values]
        else:
            if not set(raw) <= {"range", "step"}:
                raise self.error(f"a range is {{range: [lo, hi], step: s}}, got {_show(raw)}", **where)
            bounds, step = raw["range"], raw.get("step", 1)
            if not isinstance(bounds, list) or len(bounds) != 2 or not all(_is_int(v) for v in bounds):
                raise self.error(f"a range needs two integers [lo, hi], got {_show(bounds)}", **where)
            if not _is_int(step) or step < 1:
                raise self.error(f"a range's step must be an integer >= 1, got {_show(step)}", **where)
            lo, hi, step = int(bounds[0]), int(bounds[1]), int(step)
            if lo > hi:
                raise self.error(f"a range needs lo <= hi, got [{lo}, {hi}]", **where)
            count = (hi - lo) // step + 1
            if count > MAX_RANGE_VALUES:
                raise self.error(f"range [{lo}, {hi}] step {step} has {count:,} values; at most {MAX_RANGE_VALUES:,} are allowed", **where)
            items = list(range(lo, hi + 1, step))
        return tuple(dict.fromkeys(items))  # a choice holds only ints or only bools, so 1 and True never meet

    def open_fields(self, head: LayerHead, specs: Mapping[str, Any], raw: Any, index: int) -> list[tuple[_Slot, str | None]]:
        """Declare the parameters of a layer's open fields; returns its slots, exprs still as text."""
        drafts: list[tuple[_Slot, str | None]] = []
        for key, value in head.fields.items():
            if not is_space_value(value):
                continue
            where: dict[str, Any] = {"node": head.name, "field": key, "line": line_of(raw, key) or head.line}
            spec = specs.get(key)
            if spec is None:
                raise self.error(f"{key} does not change any size; give it a fixed value", **where)
            kind = spec.metadata.get("kind")
            if kind not in ("int", "axes", "padding", "bool"):
                raise self.error(f"{key} cannot be a search space: only integer and true/false fields can", **where)
            if isinstance(value, Mapping):
                drafts.append(self.open_value(head, spec, raw, index, value, None, f"{head.name}.{key}", ""))
                continue
            if kind not in ("axes", "padding"):
                raise self.error(f"{key} takes one value, not a list; got {_show(value)}", **where)
            if len(value) not in (1, self.ndim):
                raise self.error(f"expected an integer or a list of {self.ndim} (one per axis), got {_show(value)}", **where)
            axes = AXIS_NAMES[self.ndim] if len(value) == self.ndim else (None,)
            for position, (axis, item) in enumerate(zip(axes, value)):
                if isinstance(item, Mapping):
                    name = f"{head.name}.{key}" + (f".{axis}" if axis else "")
                    detail = f", axis {axis!r}" if axis else ""
                    drafts.append(self.open_value(head, spec, raw, index, item, position, name, detail))
                elif is_space_value(item):
                    raise self.error(
                        f"choices inside [before, after] pairs are not supported: give the whole {key} or one value per axis as a choice",
                        **where,
                    )
        return drafts

    def open_value(
        self, head: LayerHead, spec: Any, raw: Any, index: int, marker: Mapping[str, Any], position: int | None,
        name: str, detail: str,
    ) -> tuple[_Slot, str | None]:
        """The slot of one open value; declares its parameter (a choice or range) or checks its symbol."""
        key = spec.name
        where: dict[str, Any] = {"node": head.name, "field": key, "line": line_of(raw, key) or head.line}
        path: ConfigPath = ("layers", index, key) if position is None else ("layers", index, key, position)
        markers = [m for m in SPACE_MARKERS if m in marker]
        if len(markers) != 1 or (markers[0] in ("param", "expr") and len(marker) != 1):
            raise self.error(
                'an open field is one of {choice: [...]}, {range: [lo, hi], step: s}, {param: name} or {expr: "..."}, '
                f"got {_show(marker)}", **where,
            )
        if markers[0] == "expr":
            text = marker["expr"]
            if not isinstance(text, str):
                raise self.error(f'an expr is a string, like {{expr: "stem.kernel // 2"}}, got {_show(text)}', **where)
            return _Slot(key, position), text
        if markers[0] == "param":
            symbol = marker["param"]
            if not isinstance(symbol, str):
                raise self.error(f"a param is named by a string, like {{param: k}}, got {_show(symbol)}", **where)
            if symbol not in self.params or self.params[symbol].origin != "params":
                known = [p for p, param in self.params.items() if param.origin == "params"]
                hint = _suggest(str(symbol), known) or (f" (declared: {', '.join(known)})" if known else " (declare it under params:)")
                raise self.error(f"unknown param {symbol!r}{hint}; to derive from another field use {{expr: ...}}", **where)
            for value in self.params[symbol].values:
                self.check_value(head, spec, raw, value, f"{{param: {symbol}}} takes {_show_value(value)}: ")
            self.uses.setdefault(symbol, []).append(path)
            return _Slot(key, position, param=symbol), None
        values = self.domain(marker, **where)
        for value in values:
            self.check_value(head, spec, raw, value, "")
        self.declare(name, values, f"layer {head.name!r}, field {key!r}{detail}", path)
        return _Slot(key, position, param=name), None

    def check_value(self, head: LayerHead, spec: Any, raw: Any, value: Value, context: str) -> None:
        """Refuse a domain value the network loader would refuse for this field on its own."""
        try:
            if spec.metadata.get("kind") == "padding":
                if not _is_int(value):
                    raise self.error(f"padding choices must be integers, got {_show(value)}", node=head.name, field=spec.name,
                                     line=line_of(raw, spec.name) or head.line)
                # with a kernel (conv, pool) padding must be >= 0; pad crops with negative values
                parsed = {"kernel": (1,) * self.ndim} if "kernel" in head.cls.__dataclass_fields__ else {}
                self.builder.padding(value, self.convention, parsed, self.ndim, head.name, raw, head.line)
            else:
                self.builder.field_value(spec, value, self.ndim, head.name, raw, head.line)
        except ConfigError as exc:
            if not context:
                raise
            raise ConfigError(context + exc.message, **exc.facts) from None

    def parse_expr(self, head: LayerHead, raw: Any, slot: _Slot, text: str | None, readers: set[str]) -> _Slot:
        """The slot with its expr parsed now that every parameter is declared."""
        if text is None:
            return slot
        try:
            expression = parse_expression(text, self.params)
        except ExpressionError as exc:
            raise ExpressionError(
                exc.problem, expression=exc.expression, column=exc.column, file=self.source, node=head.name,
                field=slot.field, line=line_of(raw, slot.field) or head.line,
            ) from None
        readers.update(expression.names)
        return _Slot(slot.field, slot.position, expression=expression)

    def check_symbols_used(self, readers: set[str]) -> None:
        """A ``params:`` symbol nothing refers to would multiply the space for nothing: refuse it."""
        for name, param in self.params.items():
            if param.origin == "params" and name not in self.uses and name not in readers:
                raise self.error(
                    f"param {name!r} is declared but no layer, expr or constraint uses it: "
                    f"remove it, or use it with {{param: {name}}}",
                    field=f"params.{name}", line=self.symbol_lines.get(name),
                )

    def check_fixed_fields(self, space: Space, template: _LayerTemplate) -> None:
        """Refuse at load what no assignment can repair: a layer without parameters must build, and one
        with parameters must build with every open value neutral (kernel, stride, dilation 1, padding 0,
        the field's minimum), which leaves only the fixed fields to fail."""
        head = template.head
        if not template.params:
            try:
                space.build_layer(head.name, {})
            except InvalidAssignment as exc:
                raise ConfigError(exc.message, **exc.facts) from None
            return
        fields = dict(head.fields)
        specs = self.builder.field_specs(head.cls, head.type_name, fields, head.name, template.raw, head.line, spaces=True)
        for slot in template.slots:
            spec = specs[slot.field]
            kind = spec.metadata.get("kind")
            neutral = False if kind == "bool" else 0 if kind == "padding" else _NEUTRAL_FIELDS.get(slot.field, spec.metadata.get("min", 0))
            if slot.position is None:
                fields[slot.field] = neutral
            else:
                if fields[slot.field] is head.fields[slot.field]:
                    fields[slot.field] = list(fields[slot.field])
                fields[slot.field][slot.position] = neutral
        self.builder.layer_fields(head.cls, head.type_name, fields, self.ndim, self.convention, head.name, template.raw, head.line)

    # --- constraints and targets ---------------------------------------------------------------

    def constraints(self, raw: Any, data: Any, readers: set[str]) -> tuple[SpaceConstraint, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.error(f"'constraints' must be a list of expressions (strings), got {_show(raw)}",
                             field="constraints", line=line_of(data, "constraints"))
        parsed = []
        for index, text in enumerate(raw):
            line = line_of(raw, index) or line_of(data, "constraints")
            if not isinstance(text, str):
                raise self.error(f"constraint #{index + 1} must be a string (quote it in YAML), got {_show(text)}",
                                 field="constraints", line=line)
            try:
                expression = parse_expression(text, self.params)
            except ExpressionError as exc:
                raise ExpressionError(exc.problem, expression=exc.expression, column=exc.column, file=self.source,
                                      field="constraints", line=line) from None
            readers.update(expression.names)
            parsed.append(SpaceConstraint(expression, str(text), line))
        return tuple(parsed)

    def targets(self, raw: Any, data: Any, graph: nx.DiGraph) -> tuple[Target, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.error(f"'targets' must be a list like [{{node: b1, size: 7, at: 224}}], got {_show(raw)}",
                             field="targets", line=line_of(data, "targets"))
        return tuple(self.target(item, index, line_of(raw, index) or line_of(data, "targets"), graph) for index, item in enumerate(raw))

    def target(self, raw: Any, index: int, line: int | None, graph: nx.DiGraph) -> Target:
        label = f"target #{index + 1}"
        where: dict[str, Any] = {"field": "targets", "line": line}
        allowed = ("node", "size", "at", "stride", "receptive_field")
        if not isinstance(raw, Mapping):
            raise self.error(f"{label} must be a mapping like {{node: b1, size: 7, at: 224}}, got {_show(raw)}", **where)
        for key in raw:
            if key not in allowed:
                raise self.error(f"{label}: unknown key {key!r}{_suggest(str(key), allowed)} (allowed: {', '.join(allowed)})", **where)
        node = raw.get("node")
        if not isinstance(node, str) or node not in graph or node == INPUT:
            hint = _suggest(str(node), [n for n in graph if n != INPUT]) if isinstance(node, str) else ""
            raise self.error(f"{label}: 'node' must name a layer, got {_show(node)}{hint}", **where)
        label = f"{label} ({node})"
        if ("size" in raw) != ("at" in raw):
            raise self.error(f"{label}: 'size' and 'at' go together (the output size at an input size)", **where)
        if not {"size", "stride", "receptive_field"} & set(raw):
            raise self.error(f"{label} needs 'size' (with 'at'), 'stride' or 'receptive_field'", **where)
        size = self.per_axis(raw["size"], f"{label}: size", where) if "size" in raw else None
        at = self.per_axis(raw["at"], f"{label}: at", where) if "at" in raw else None
        stride = raw.get("stride")
        if stride is not None and (not _is_int(stride) or stride < 1):
            raise self.error(f"{label}: stride must be an integer >= 1, got {_show(stride)}", **where)
        field_range = self.receptive_field(raw["receptive_field"], label, where) if "receptive_field" in raw else None
        return Target(node, size, at, None if stride is None else int(stride), field_range)

    def per_axis(self, value: Any, label: str, where: dict[str, Any]) -> tuple[int, ...]:
        items = value if isinstance(value, list) else [value]
        if len(items) not in (1, self.ndim) or not all(_is_int(v) and v >= 1 for v in items):
            raise self.error(f"{label} must be an integer >= 1 or a list of {self.ndim} (one per axis), got {_show(value)}", **where)
        return tuple(int(v) for v in items) * (self.ndim if len(items) == 1 else 1)

    def receptive_field(self, value: Any, label: str, where: dict[str, Any]) -> tuple[int | None, int | None]:
        if _is_int(value):
            value = {"min": value, "max": value}
        if not isinstance(value, Mapping) or not value or not set(value) <= {"min", "max"}:
            raise self.error(f"{label}: receptive_field is an integer or {{min: a, max: b}} (either may be left out), got {_show(value)}", **where)
        low, high = value.get("min"), value.get("max")
        for bound in (low, high):
            if bound is not None and (not _is_int(bound) or bound < 1):
                raise self.error(f"{label}: receptive_field bounds must be integers >= 1, got {_show(value)}", **where)
        if low is not None and high is not None and low > high:
            raise self.error(f"{label}: receptive_field needs min <= max, got {_show(value)}", **where)
        return (None if low is None else int(low), None if high is None else int(high))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show_value(value: Value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _times(sizes: tuple[int, ...]) -> str:
    return str(sizes[0]) if len(set(sizes)) == 1 else " x ".join(map(str, sizes))


def _at(data: Any, path: ConfigPath) -> Any:
    for key in path:
        data = data[key]
    return data


def _set(data: Any, path: ConfigPath, value: Any) -> None:
    _at(data, path[:-1])[path[-1]] = value


def _write_domain(marker: Any, values: list[Value]) -> None:
    """Rewrite a ``{choice: ...}`` or ``{range: ...}`` in place (keeping its style and comments) to hold ``values``."""
    if "choice" in marker:
        marker["choice"][:] = values
        return
    step = _even_step(values, marker.get("step", 1))
    bounds = marker["range"]
    if step is not None:
        bounds[:] = [values[0], values[-1]]
        if step == 1:
            marker.pop("step", None)
        else:
            marker["step"] = step
        return
    bounds[:] = values  # the same sequence object carries the flow style over to the choice
    del marker["range"]
    marker.pop("step", None)
    marker["choice"] = bounds


def _even_step(values: Sequence[Value], step: int) -> int | None:
    """The step of an increasing, evenly spaced run of integers (``step`` for a single value), else None."""
    if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        return None
    if len(values) == 1:
        return step
    gaps = {b - a for a, b in zip(values, values[1:])}
    gap = gaps.pop()
    return gap if not gaps and gap > 0 else None
