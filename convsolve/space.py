"""Search spaces: a network config whose integer hyperparameters may be choices.

A layer field may be left open, making it a parameter (a decision variable):

- ``{choice: [3, 5, 7]}`` or ``{range: [1, 7], step: 2}``: a parameter named ``<layer>.<field>``;
  in a per-axis list (``kernel: [{choice: [1, 3]}, 3]``) one per open axis, ``<layer>.<field>.<axis>``
  with the axes ``length`` (1-D), ``height``/``width`` (2-D), ``depth``/``height``/``width`` (3-D);
- ``{param: width}``: the shared symbol ``width`` declared under ``params:`` (every use takes the same value);
- ``{expr: "stem.kernel // 2"}``: derived from parameters with the safe expression language of
  :mod:`convsolve.expressions` (no parameter of its own).

``constraints:`` are expressions over the parameters that must hold; ``targets:`` ask for an output
size at an input size, a total stride, or a receptive field at a node. The config is read by
:mod:`convsolve.loaders.space`, whose layers are parsed by the network loader, so a value is valid
in a space exactly when it is valid in a fixed network; :meth:`Space.build_layer` makes the layer
of one combination.

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
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from .conventions import Convention
from .errors import ConfigError, InvalidAssignment, UsageError
from .expressions import Expression
from .layers import Layer
from .loaders.fields import SPACE_KEYS, did_you_mean, line_of, show_param_value
from .network import INPUT, InputSpec, Network, hashable_value
from .sizesets import SizeRange

if TYPE_CHECKING:
    from .loaders.network import LayerHead, NetworkLoader

__all__ = ["Param", "Target", "SpaceConstraint", "OpenSlot", "LayerTemplate", "Space", "load_space", "MAX_RANGE_VALUES"]

MAX_RANGE_VALUES = 10_000
"""The most values one ``{range: ...}`` may hold."""

Value = int | bool
ConfigPath = tuple[str | int, ...]
"""Keys and indices leading from the top of the config to one value."""


@dataclass(frozen=True)
class Param:
    """One decision variable: its name, its values in the order written, and where it was declared."""

    name: str
    values: tuple[Value, ...]
    origin: str
    """``"params"`` for a shared symbol, else ``"layer 'stem', field 'kernel'"`` (and ``", axis 'height'"``)."""

    def __str__(self) -> str:
        shown = [show_param_value(v) for v in self.values]
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
class OpenSlot:
    """One place in a layer's fields whose value comes from the space: a whole field or one item of its list."""

    field: str
    position: int | None
    """Index in the field's per-axis list, or None for the whole field."""
    param: str | None = None
    """The parameter whose value it takes, or None when derived by :attr:`expression`."""
    expression: Expression | None = None


@dataclass
class LayerTemplate:
    """A layer with open fields: its head as parsed, where the open values go, and its built layers."""

    head: LayerHead
    raw: Any
    index: int
    slots: tuple[OpenSlot, ...]
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
        templates: dict[str, LayerTemplate], loader: NetworkLoader, data: Any, sites: dict[str, list[ConfigPath]],
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
        self._loader = loader
        self._data = data
        self._sites = sites
        self._uses = uses
        self._readers = readers

    @classmethod
    def from_config(cls, data: Any, source: str | None = None) -> Space:
        """Build and validate a space from a parsed config mapping.

        Raises:
            ConfigError: naming file, line, layer and field: anything the network loader refuses, and
                unknown params, empty or malformed choices and ranges, ranges of more than
                :data:`MAX_RANGE_VALUES` values, bad expressions (:class:`ExpressionError`), params
                declared but never used, malformed constraints and targets.
        """
        from .loaders.space import SpaceLoader

        return SpaceLoader(source).load(data)

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
        return self.template(node).params

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
        template = self.template(node)
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

    def with_input(self, ranges: Sequence[SizeRange], tied: bool) -> Space:
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

    def template(self, node: str) -> LayerTemplate:
        """How layer ``node`` is written: its head, open slots and the parameters they read."""
        try:
            return self._templates[node]
        except KeyError:
            raise UsageError(f"no layer named {node!r}{did_you_mean(str(node), self._templates)}") from None

    def _check_names(self, values: Mapping[str, Any], what: str, complete: bool = False) -> None:
        unknown = [name for name in values if name not in self.params]
        if unknown:
            hint = did_you_mean(str(unknown[0]), self.params)
            raise UsageError(f"{what}: unknown parameter{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}{hint}")
        missing = [name for name in self.params if name not in values] if complete else []
        if missing:
            raise UsageError(f"{what}: no value for {', '.join(map(repr, missing))}")

    def _build(self, template: LayerTemplate, values: Mapping[str, Value]) -> Layer | InvalidAssignment:
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
            layer = self._loader.layer_fields(
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


def _with_values(template: LayerTemplate, values: Mapping[str, Value]) -> str:
    """`` (with a = 1, b = 2)``: the values a layer was built with, for a message (empty without parameters)."""
    given = ", ".join(f"{name} = {show_param_value(values[name])}" for name in template.params)
    return f" (with {given})" if given else ""


def _slot_value(slot: OpenSlot, values: Mapping[str, Value]) -> Value:
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
