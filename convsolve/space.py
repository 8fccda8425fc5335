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
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from .conventions import Convention
from .errors import ConfigError, InvalidAssignment, UsageError
from .expressions import Expression
from .layers import Layer, Select
from .loaders.fields import SPACE_KEYS, did_you_mean, line_of, show_param_value
from .network import INPUT, InputSpec, Network, hashable_value
from .sizesets import SizeRange

if TYPE_CHECKING:
    from .loaders.network import LayerHead, NetworkLoader

__all__ = ["Param", "Target", "SpaceConstraint", "OpenSlot", "LayerTemplate", "Space", "load_space", "MAX_RANGE_VALUES"]

MAX_RANGE_VALUES = 10_000
"""The most values one ``{range: ...}`` may hold."""

Value = int | bool | str
"""A parameter's value: an integer field's, a true/false field's, or the name of an op, an input or inputs (``a+b``)."""
ConfigPath = tuple[str | int, ...]
"""Keys and indices leading from the top of the config to one value."""
INACTIVE = None
"""The value the solver gives a parameter that is not in the network (its op not chosen, its copy beyond the
depth): one value, so each valid *active* assignment is counted once; it never reaches a user's assignment."""


@dataclass(frozen=True)
class Gate:
    """A condition for a layer (and the parameters written in it) to be in the network: a repeated block's copy
    ``value`` is there when the depth parameter exceeds it; an op choice's option ``value`` when it is chosen."""

    param: str
    kind: str
    """``"depth"`` or ``"op"``."""
    value: int | str

    def holds(self, values: Mapping[str, Any]) -> bool:
        found = values[self.param]
        if found is INACTIVE:
            return False
        return bool(found > self.value) if self.kind == "depth" else bool(found == self.value)

    def __str__(self) -> str:
        return f"{self.param} > {self.value}" if self.kind == "depth" else f"{self.param} = {self.value}"


@dataclass(frozen=True)
class Param:
    """One decision variable: its name, its values in the order written, and where it was declared."""

    name: str
    values: tuple[Value, ...]
    origin: str
    """``"params"`` for a shared symbol, else ``"layer 'stem', field 'kernel'"`` (and ``", axis 'height'"``)."""
    active_when: tuple[Gate, ...] = ()
    """Every condition under which it is in the network (none: always); else it is inactive and has no value."""

    @property
    def domain(self) -> tuple[Value | None, ...]:
        """The values the solver gives it: :attr:`values`, and :data:`INACTIVE` when it may be out of the network."""
        return (*self.values, INACTIVE) if self.active_when else self.values

    def active(self, values: Mapping[str, Any]) -> bool:
        """Whether it is in the network under ``values`` (which hold every parameter its gates read)."""
        return all(gate.holds(values) for gate in self.active_when)

    def __str__(self) -> str:
        shown = [show_param_value(v) for v in self.values]
        if len(shown) > 8:
            shown = shown[:3] + ["..."] + shown[-2:]
        when = f" when {' and '.join(map(str, self.active_when))}" if self.active_when else ""
        return f"{self.name} in {{{', '.join(shown)}}}{when}"


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
    line: int | None = field(default=None, compare=False)
    """Its line in the config, when known."""

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

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether it holds under ``values``: false where it divides by zero, and true where a parameter it reads is
        out of the network (its op not chosen, its copy beyond the depth): a constraint speaks of what is there.

        Example:
            >>> from .expressions import parse_expression
            >>> rule = SpaceConstraint(parse_expression("b1.kernel <= 3", {"b1.kernel"}), "b1.kernel <= 3")
            >>> rule.holds({"b1.kernel": 5}), rule.holds({"b1.kernel": None})
            (False, True)
        """
        if any(values.get(name) is INACTIVE for name in self.expression.names):
            return True
        try:
            return bool(self.expression.evaluate(values))
        except ZeroDivisionError:
            return False

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class LocalExpression:
    """An expr written inside a repeated block: its names as written (``kernel``, ``conv.kernel``, ``index``), read
    from the parameters of the same copy they stand for, and ``index`` as the copy's number.

    Example:
        >>> from .expressions import parse_expression
        >>> local = LocalExpression(parse_expression("kernel // 2 + index", {"kernel", "index"}),
        ...                         {"kernel": "s.1.conv.kernel"}, {"index": 1})
        >>> sorted(local.names), local.evaluate({"s.1.conv.kernel": 5})
        (['s.1.conv.kernel'], 3)
    """

    expression: Expression
    aliases: Mapping[str, str]
    """A name as written -> the parameter it stands for."""
    constants: Mapping[str, int]

    @property
    def text(self) -> str:
        return self.expression.text

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.aliases.get(name, name) for name in self.expression.names if name not in self.constants)

    def evaluate(self, values: Mapping[str, Any]) -> int | bool:
        local = {name: self.constants[name] if name in self.constants else values[self.aliases.get(name, name)]
                 for name in self.expression.names}
        return self.expression.evaluate(local)


@dataclass(frozen=True)
class OpenSlot:
    """One place in a layer's fields whose value comes from the space: a whole field or one item of its list."""

    field: str
    position: int | None
    """Index in the field's per-axis list, or None for the whole field."""
    param: str | None = None
    """The parameter whose value it takes, or None when derived by :attr:`expression`."""
    expression: Expression | LocalExpression | None = None


@dataclass(frozen=True)
class Variant:
    """One way a node is written: its head as parsed, the mapping it was read from and where that sits in the
    config, and its open slots. A plain layer has one; an op choice one per option."""

    head: LayerHead
    raw: Any
    path: ConfigPath
    slots: tuple[OpenSlot, ...]


@dataclass(frozen=True)
class Pick:
    """A node the loader adds for an input choice: it passes on the input that parameter :attr:`param` names (of
    ``a+b``, the :attr:`position`-th name), or, for a reference into another block's copies (``enc[depth - 1 -
    index].conv``), the copy :attr:`expression` computes; :meth:`Space.fixed` wires it through."""

    param: str | None
    candidates: tuple[str, ...]
    """The names as written (or the referenced layer in every copy), in the order of the node's inputs."""
    position: int = 0
    expression: Expression | LocalExpression | None = None

    @property
    def names(self) -> frozenset[str]:
        """The parameters it reads (none for the end of an op choice's chain of options, which passes its input on)."""
        if self.expression is not None:
            return self.expression.names
        return frozenset() if self.param is None else frozenset({self.param})

    def index(self, values: Mapping[str, Any]) -> int:
        """The input passed on under ``values``; ValueError when a computed copy number is not a copy."""
        if self.expression is None:
            return 0 if self.param is None else self.candidates.index(str(values[self.param]).split("+")[self.position])
        copy = self.expression.evaluate(values)
        if isinstance(copy, bool) or not 0 <= copy < len(self.candidates):
            raise ValueError(f"copy {copy} of {len(self.candidates)}")
        return int(copy)


@dataclass
class LayerTemplate:
    """A node of a space: how its layer is written (one variant, or one per option of an op choice) and the
    parameters it reads; when :attr:`gates` may fail it passes input :attr:`through` on instead."""

    variants: dict[str | None, Variant]
    """``None`` -> the layer of a plain node; option name -> its layer for an op choice."""
    params: tuple[str, ...]
    """Every parameter the node reads: its fields', its exprs', its op's, its gates'."""
    switch: str | None = None
    """The op choice's parameter: its value names the variant."""
    gates: tuple[Gate, ...] = ()
    through: int = 0
    own: tuple[str, ...] = ()
    """Parameters written in this node that may be inactive: the node checks each has a value exactly when active."""
    pick: Pick | None = None
    resolution: str | None = None
    """The input-size parameter, for the node that resizes the network input to it."""
    cache: dict[tuple[Any, ...], Layer | InvalidAssignment] = field(default_factory=dict)

    @property
    def head(self) -> LayerHead:
        """The head of the first variant (the layer for a plain node)."""
        return next(iter(self.variants.values())).head

    @property
    def slots(self) -> tuple[OpenSlot, ...]:
        """The open slots of every variant."""
        return tuple(slot for variant in self.variants.values() for slot in variant.slots)

    def written_as(self, node: str, domains: Mapping[str, Sequence[Any]]) -> tuple[Any, ...]:
        """How the node is written apart from its own name in its parameters' (``conv2.kernel`` read as
        ``kernel``): nodes with equal keys build equal layers from corresponding values."""
        variants = []
        for key, variant in self.variants.items():
            slots = tuple(
                (slot.field, slot.position, slot.param and local_name(node, slot.param), slot.expression and slot.expression.text,
                 slot.expression and tuple(sorted(local_name(node, n) for n in slot.expression.names)),
                 tuple(sorted(getattr(slot.expression, "constants", {}).items())))
                for slot in variant.slots
            )
            # a field that is one slot is written by the slot (its parameter or expression) and the domains below
            whole = {slot.field for slot in variant.slots if slot.position is None}
            fields = {name: value for name, value in variant.head.fields.items() if name not in whole}
            variants.append((key, variant.head.type_name, hashable_value(fields), slots))
        structure = (self.switch and local_name(node, self.switch), tuple(map(str, self.gates)), self.through,
                     self.pick and (self.pick.param and local_name(node, self.pick.param), self.pick.candidates, self.pick.position,
                                    self.pick.expression and self.pick.expression.text,
                                    tuple(sorted(getattr(self.pick.expression, "constants", {}).items()))), self.resolution)
        return (
            tuple(variants), structure, tuple(local_name(node, name) for name in self.params),
            tuple(hashable_value(list(domains[name])) for name in self.params),
        )


def local_name(node: str, name: str) -> tuple[bool, str]:
    """A parameter name as seen from layer ``node``: its own parameters without the layer's name."""
    return (True, name[len(node) + 1 :]) if name.startswith(f"{node}.") else (False, name)


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
        """The number of assignments: the product of the domain sizes (1 with no parameters), where a parameter
        out of the network (its op not chosen, its copy beyond the depth) has no value of its own."""
        if not any(param.active_when for param in self.params.values()):
            return math.prod(len(param.values) for param in self.params.values())
        return _count_active(self.params)

    def describe_input(self) -> str:
        """The input sizes, for messages: the range (``32..224 (every spatial axis)``), or the sizes the input-size
        parameter may take when the space chooses it."""
        chosen = next((t.resolution for t in self._templates.values() if t.resolution), None)
        return self.input.describe() if chosen is None else f"the sizes {self.params[chosen]}"

    @property
    def structural(self) -> bool:
        """Whether the space chooses structure: an op, a depth, an input, or the input size."""
        return any(t.switch or t.gates or t.pick or t.resolution for t in self._templates.values())

    def inputs_of(self, name: str) -> tuple[str, ...]:
        """The names feeding node ``name``, in order."""
        inputs: tuple[str, ...] = self.graph.nodes[name]["inputs"]
        return inputs

    def layer_params(self, node: str) -> tuple[str, ...]:
        """The parameters node ``node``'s fields depend on, directly or through an expr, sorted by name."""
        return self.template(node).params

    def build_layer(self, node: str, values: Mapping[str, Value | None]) -> Layer:
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

    def fixed(self, assignment: Mapping[str, Value | None]) -> Network:
        """The concrete network for a value of every parameter in the network (a parameter out of it, whose op is
        not chosen or whose copy is beyond the depth, has no value: leave it out, or give it None).

        Raises:
            InvalidAssignment: a layer is not valid with these values (see :meth:`build_layer`).
            UsageError: a parameter is missing from ``assignment``, an unknown name is in it, or an inactive one has a value.

        Constraints and targets are not checked: they are the solver's.
        """
        if not self.structural:
            self._check_names(assignment, "assignment", complete=True)
            values: Mapping[str, Value | None] = assignment
            graph = self.graph.copy()
            for node in self.order[1:]:
                attributes = graph.nodes[node]
                del attributes["type"]
                attributes["layer"] = self.build_layer(node, values)
            del graph.nodes[INPUT]["type"]
            return Network(self.name, graph, self.input, self.convention, self.source)
        values = self.complete(assignment)
        graph = nx.DiGraph()
        graph.add_node(INPUT, layer=None, inputs=(), line=self.graph.nodes[INPUT].get("line"))
        spec, through = self.input, dict[str, str]()
        for node in self.order[1:]:
            template = self._templates[node]
            layer = self.build_layer(node, values)
            inputs = tuple(through.get(name, name) for name in self.inputs_of(node))
            if template.resolution is not None:
                size = int(values[template.resolution])  # type: ignore[arg-type]
                spec = self.input.with_ranges([SizeRange(size, size)] * self.ndim, True)
            if isinstance(layer, Select) or template.resolution is not None:
                through[node] = inputs[layer.index] if isinstance(layer, Select) else inputs[0]
                continue
            graph.add_node(node, layer=layer, inputs=inputs, line=self.graph.nodes[node].get("line"))
            graph.add_edges_from((name, node) for name in dict.fromkeys(inputs))
        return Network(self.name, graph, spec, self.convention, self.source)

    def complete(self, assignment: Mapping[str, Value | None]) -> dict[str, Value | None]:
        """``assignment`` with :data:`INACTIVE` for every parameter out of the network under it.

        Raises:
            UsageError: an unknown name, a parameter in the network without a value, or one out of it with a value.

        Example:
            >>> space = Space.from_config({"input": {"channels": 1, "size": 8}, "layers": [{"name": "e", "choose": {
            ...     "conv": {"type": "conv2d", "out_channels": 2, "kernel": {"choice": [1, 3]}}, "skip": {"type": "identity"}}}]})
            >>> space.complete({"e.op": "skip"})
            {'e.op': 'skip', 'e.conv.kernel': None}
        """
        self._check_names(assignment, "assignment")
        values: dict[str, Value | None] = {}
        for name, param in self.params.items():  # a parameter's gates read parameters declared before it
            active = param.active(values)
            given = assignment.get(name, INACTIVE)
            if active and given is INACTIVE:
                raise UsageError(f"assignment: no value for {name!r}")
            if not active and given is not INACTIVE:
                gates = " and ".join(str(gate) for gate in param.active_when)
                raise UsageError(f"assignment: {name!r} is not in the network (it is when {gates}); leave it out")
            values[name] = given
        return values

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
        if self.structural:
            return self._structural_config(domains, assignment)
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

    def _structural_config(self, domains: Mapping[str, Sequence[Value]] | None, assignment: Mapping[str, Value] | None) -> Any:
        """:meth:`to_config` of a space with op, depth, input or input-size choices: the network of a whole assignment,
        or the config with narrowed domains. A domain written once for every copy of a block is the union of the
        copies' domains; an option no domain of the op keeps is left out of the choice."""
        if assignment is not None:
            if domains:
                raise UsageError("give either domains or a whole assignment for a space with op, depth or input choices")
            return self._network_config(assignment)
        domains = dict(domains or {})
        self._check_names(domains, "domains")
        data = copy.deepcopy(self._data)
        kept: dict[ConfigPath, list[Any]] = {}
        options: dict[ConfigPath, list[Any]] = {}
        for name, values in domains.items():
            values = [v for v in values if v is not INACTIVE]
            for path in self._sites[name]:
                if path[-1] == "choose":  # an op's own parameter (a field's site goes on into its option)
                    options.setdefault(path, []).extend(values)
                else:
                    kept.setdefault(path, []).extend(values)
        for path, values in options.items():
            choose = _at(data, path)
            if not values:
                raise UsageError(f"no option of the op choice at {'.'.join(map(str, path))} is left; an empty space has no config")
            for option in [o for o in choose if o not in values]:
                del choose[option]
        for path, values in sorted(kept.items(), key=lambda item: len(item[0]), reverse=True):
            try:
                marker = _at(data, path)
            except KeyError:  # inside an option left out
                continue
            if not values:
                continue  # never in the network: its domain stays as written
            if isinstance(marker, Mapping) and "from" in marker:  # K of N inputs: the names some kept choice uses
                names = {part for value in values for part in str(value).split("+")}
                marker["from"][:] = [n for n in marker["from"] if n in names]
                continue
            marker = marker.get("param", marker) if isinstance(marker, Mapping) and set(marker) == {"param"} else marker
            _write_domain(marker, list(dict.fromkeys(values)) if not all(isinstance(v, int) for v in values)
                          else sorted(set(values), key=list(dict.fromkeys(values)).index))
        return data

    def _network_config(self, assignment: Mapping[str, Value]) -> Any:
        """The plain network config of a whole assignment: the layers in the network, each written as its variant is
        (comments kept), with its values and its inputs."""
        network = self.fixed(assignment)
        values = self.complete(assignment)
        data = copy.deepcopy(self._data)
        layers = []
        previous = INPUT
        for node in [n for n in self.graph.nodes if n in network.graph and n != INPUT]:  # in the config's order
            template = self._templates[node]
            variant = template.variants[None if template.switch is None else str(values[template.switch])]
            item = type(variant.raw)()
            item["name"] = node
            for key, value in variant.raw.items():
                if key not in ("name", "inputs"):
                    item[key] = copy.deepcopy(value)
            for slot in variant.slots:
                value = _slot_value(slot, values)
                if slot.position is None:
                    item[slot.field] = value
                else:
                    item[slot.field][slot.position] = value
            inputs = network.inputs_of(node)
            if inputs != (previous,):
                item["inputs"] = list(inputs)
            layers.append(item)
            previous = node
        data["layers"] = layers
        if any(template.resolution for template in self._templates.values()):
            data["input"]["size"] = network.input.ranges[0].lo
        for key in SPACE_KEYS:
            if key in data:
                del data[key]
        return data

    def __str__(self) -> str:
        count = len(self.params)
        lines = [
            f"space {self.name!r} ({self.convention.name}), input {self.input.channels} x {self.describe_input()}: "
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

    def _build(self, template: LayerTemplate, values: Mapping[str, Value | None]) -> Layer | InvalidAssignment:
        """The layer for these values, or the InvalidAssignment saying why there is none."""
        for name in template.own:
            if (values[name] is INACTIVE) == self.params[name].active(values):
                state = "has no value though it is" if values[name] is INACTIVE else "has a value though it is not"
                return InvalidAssignment(f"{name} {state} in the network", file=self.source, node=template.head.name)
        if not all(gate.holds(values) for gate in template.gates):
            return Select(type="select", ndim=self.ndim, index=template.through)
        if template.pick is not None:
            try:
                return Select(type="select", ndim=self.ndim, index=template.pick.index(values))
            except (ValueError, IndexError, ZeroDivisionError) as exc:  # (IndexError: no value where the choice is in the network)
                text = template.pick.expression.text if template.pick.expression else ""
                return InvalidAssignment(f"the input {text!r} names no copy ({exc}){_with_values(template, values)}",
                                         file=self.source, node=template.head.name, field="inputs")
        variant = template.variants[None if template.switch is None else str(values[template.switch])]
        head = variant.head
        fields = dict(head.fields)
        if template.resolution is not None:
            fields["output_size"] = values[template.resolution]
        for slot in variant.slots:
            if slot.position is not None and fields[slot.field] is head.fields[slot.field]:
                fields[slot.field] = list(fields[slot.field])
        for slot in variant.slots:
            try:
                value = _slot_value(slot, values)
            except ZeroDivisionError:
                return InvalidAssignment(
                    f"{{expr: {slot.expression.text!r}}} divides by zero{_with_values(template, values)}",  # type: ignore[union-attr]
                    file=self.source, node=head.name, field=slot.field, line=line_of(variant.raw, slot.field) or head.line,
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
                head.cls, head.type_name, fields, self.ndim, self.convention, head.name, variant.raw, head.line
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
                path: ConfigPath = (*template.variants[None].path, slot.field)
                _set(data, path if slot.position is None else (*path, slot.position), value)
        for key in SPACE_KEYS:
            if key in data:
                del data[key]


MAX_COUNTING_CELLS = 1 << 16
"""The most combinations of structural parameters counted at once for :attr:`Space.total`."""

_BUILT: dict[Any, Layer] = {}
"""Layers built from equal fields, whichever node or space they came from: a layer depends on its
type, fields, rank and convention only, and repeated blocks and repair spaces rebuild the same ones."""
MAX_BUILT = 200_000


def _count_active(params: Mapping[str, Param]) -> int:
    """The number of assignments in which exactly the parameters in the network have values, by summing the
    parameters out one at a time: first those no gate reads, then the gates' own, innermost (declared last) first.

    Example:
        >>> op = Param("e.op", ("conv", "skip"), "")
        >>> kernel = Param("e.conv.kernel", (1, 3, 5), "", (Gate("e.op", "op", "conv"),))
        >>> _count_active({"e.op": op, "e.conv.kernel": kernel})
        4
    """
    gate_params = {gate.param for param in params.values() for gate in param.active_when}
    factors: list[tuple[tuple[str, ...], dict[tuple[Any, ...], int]]] = []

    def bounded(scope: tuple[str, ...]) -> tuple[str, ...]:
        cells = math.prod(len(params[n].domain) for n in scope)
        if cells > MAX_COUNTING_CELLS:
            raise ConfigError(f"the structural choices {', '.join(scope)} are nested too deeply to count the assignments: "
                              f"{cells:,} combinations at once (at most {MAX_COUNTING_CELLS:,}); nest fewer repeated blocks or ops")
        return scope

    for name, param in params.items():
        scope = bounded(tuple(dict.fromkeys(gate.param for gate in param.active_when)))
        if name not in gate_params:  # how many values it may take, given its gates
            table = {}
            for shape in itertools.product(*[params[n].domain for n in scope]):
                table[shape] = len(param.values) if param.active(dict(zip(scope, shape))) else 1
            factors.append((scope, table))
        else:  # a value exactly when its gates hold
            scope = (name, *scope)
            table = {}
            for shape in itertools.product(*[params[n].domain for n in scope]):
                table[shape] = int((shape[0] is INACTIVE) != param.active(dict(zip(scope[1:], shape[1:]))))
            factors.append((scope, table))
    total = math.prod(next(iter(table.values())) for scope, table in factors if not scope)
    factors = [(scope, table) for scope, table in factors if scope]
    for name in reversed([n for n in params if n in gate_params]):
        mine = [f for f in factors if name in f[0]]
        factors = [f for f in factors if name not in f[0]]
        scope = bounded(tuple(dict.fromkeys(n for f in mine for n in f[0] if n != name)))
        table = {}
        for shape in itertools.product(*[params[n].domain for n in scope]):
            chosen = dict(zip(scope, shape))
            table[shape] = sum(
                math.prod(t[tuple({**chosen, name: value}[n] for n in s)] for s, t in mine) for value in params[name].domain
            )
        if scope:
            factors.append((scope, table))
        else:
            total *= table[()]
    return total


def _with_values(template: LayerTemplate, values: Mapping[str, Value | None]) -> str:
    """`` (with a = 1, b = 2)``: the values a layer was built with, for a message (empty without parameters)."""
    given = ", ".join(f"{name} = {show_param_value(value)}" for name in template.params if (value := values[name]) is not INACTIVE)
    return f" (with {given})" if given else ""


def _slot_value(slot: OpenSlot, values: Mapping[str, Any]) -> Any:
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
    numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    if len(numbers) < len(values):
        return None
    if len(numbers) == 1:
        return step
    gaps = {b - a for a, b in zip(numbers, numbers[1:])}
    gap = gaps.pop()
    return gap if not gaps and gap > 0 else None
