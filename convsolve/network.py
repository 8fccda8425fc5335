"""The network: a ``networkx.DiGraph`` of layers, built from a config mapping and validated.

Nodes are layer names with attributes ``layer`` (a :class:`~convsolve.layers.Layer`), ``inputs``
(the ordered names feeding it; order matters for ``concat``) and ``line`` (where the config wrote
it). The network input is the node ``"input"``. Edges run from producer to consumer.

Example:
    >>> net = Network.from_config({
    ...     "name": "tiny", "input": {"channels": 3, "size": {"range": [32, 224]}},
    ...     "layers": [{"name": "stem", "type": "conv2d", "out_channels": 8, "kernel": 7, "stride": 2}]})
    >>> list(net.graph.successors("input"))
    ['stem']
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import networkx as nx

from .conventions import CONVENTIONS, Convention, parse_padding
from .errors import ConfigError
from .layers import LAYER_TYPES, MERGE_ALIASES, Layer
from .sizesets import MAX_SIZE, SizeRange, show_number

if TYPE_CHECKING:
    from .diagnose import Report
    from .inference import Inference, ShapeRow, ValidSizes

__all__ = ["InputSpec", "Network", "INPUT", "hashable_value", "line_of"]

INPUT = "input"
"""The name of the network's input node."""

AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}

TOP_LEVEL_KEYS = ("name", "convention", "input", "layers", "description")

SPACE_KEYS = ("params", "constraints", "targets")
"""Top-level keys of a search-space config (see :mod:`convsolve.space`), on top of :data:`TOP_LEVEL_KEYS`."""

SPACE_MARKERS = ("choice", "range", "param", "expr")
"""Keys of a layer field left open in a search space: ``{choice: [...]}``, ``{range: [lo, hi]}``, ``{param: name}``, ``{expr: "..."}``."""


def is_space_value(value: Any) -> bool:
    """Whether a layer field's config value leaves a choice open (a space marker, or a per-axis list holding one)."""
    if isinstance(value, Mapping):
        return any(key in value for key in SPACE_MARKERS)
    return isinstance(value, list) and any(is_space_value(item) for item in value)


@dataclass(frozen=True)
class InputSpec:
    """Input channels and the size range per spatial axis; ``tied`` means square inputs (one size for all axes)."""

    channels: int
    ranges: tuple[SizeRange, ...]
    tied: bool

    @property
    def ndim(self) -> int:
        return len(self.ranges)

    def describe(self) -> str:
        """``32..224 (square)`` or ``height 32..64, width 100``."""
        if self.tied:
            return f"{self.ranges[0]} (every spatial axis)" if self.ndim > 1 else str(self.ranges[0])
        return ", ".join(f"{axis} {rng}" for axis, rng in zip(AXIS_NAMES[self.ndim], self.ranges))

    def with_ranges(self, ranges: Sequence[SizeRange], tied: bool) -> "InputSpec":
        """The same input over other ranges."""
        return InputSpec(self.channels, tuple(ranges), tied)


class Network:
    """A validated layer graph with its input specification and size convention."""

    def __init__(
        self, name: str, graph: nx.DiGraph, input_spec: InputSpec, convention: Convention, source: str | None = None
    ) -> None:
        self.name = name
        self.graph = graph
        self.input = input_spec
        self.convention = convention
        self.source = source
        self.order: list[str] = list(nx.topological_sort(graph))

    @property
    def ndim(self) -> int:
        """Spatial rank: 1, 2 or 3."""
        return self.input.ndim

    @property
    def axis_names(self) -> tuple[str, ...]:
        return AXIS_NAMES[self.ndim]

    def layer(self, name: str) -> Layer:
        """The layer of node ``name``."""
        layer: Layer = self.graph.nodes[name]["layer"]
        return layer

    def inputs_of(self, name: str) -> tuple[str, ...]:
        """The names feeding node ``name``, in order."""
        inputs: tuple[str, ...] = self.graph.nodes[name]["inputs"]
        return inputs

    def replace_layer(self, name: str, layer: Layer) -> "Network":
        """A copy with node ``name``'s layer replaced (the graph is copied, layers are shared)."""
        graph = self.graph.copy()
        graph.nodes[name]["layer"] = layer
        return Network(self.name, graph, self.input, self.convention, self.source)

    def with_fields_of(self, data: Any, indices: Iterable[int]) -> "Network":
        """A copy with the layers at ``indices`` of config ``data`` built again: ``data`` is this network's
        config with only those layers' fields changed (names and inputs as they were).

        Example:
            >>> data = {"input": {"channels": 3, "size": 8}, "layers": [{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 3}]}
            >>> net = Network.from_config(data)
            >>> net.with_fields_of({**data, "layers": [{**data["layers"][0], "kernel": 5}]}, [0]).layer("c").kernel
            (5, 5)
        """
        builder, graph, raw_layers = _Builder(self.source), self.graph.copy(), data["layers"]
        for index in indices:
            head = builder.layer_head(raw_layers[index], index, raw_layers)
            graph.nodes[head.name]["layer"] = builder.layer_fields(
                head.cls, head.type_name, head.fields, self.ndim, self.convention, head.name, raw_layers[index], head.line)
        return Network(self.name, graph, self.input, self.convention, self.source)

    def with_input(self, ranges: Sequence[SizeRange], tied: bool) -> "Network":
        """A copy over other input ranges."""
        return Network(self.name, self.graph, self.input.with_ranges(ranges, tied), self.convention, self.source)

    def infer(self) -> "Inference":
        """Sizes of every node over the whole input range (see :func:`convsolve.inference.infer`)."""
        from .inference import infer

        return infer(self)

    def valid_sizes(self) -> "ValidSizes":
        """The input sizes at which every layer is valid: one set, or one per axis when axes vary independently."""
        return self.infer().valid_sizes()

    def check(self) -> "Report":
        """Every violation over the input range, with causes and fixes (see :mod:`convsolve.diagnose`)."""
        from .diagnose import diagnose

        return diagnose(self)

    def shapes(self, sizes: Sequence[int]) -> "list[ShapeRow]":
        """Per-layer output shapes for one input size per axis."""
        from .inference import shape_table

        return shape_table(self, sizes)

    def __str__(self) -> str:
        lines = [f"network {self.name!r} ({self.convention.name}), input {self.input.channels} x {self.input.describe()}"]
        for name in self.order[1:]:
            sources = ", ".join(self.inputs_of(name))
            lines.append(f"  {name} = {self.layer(name).describe()} <- {sources}")
        return "\n".join(lines)

    @classmethod
    def from_config(cls, data: Any, source: str | None = None) -> "Network":
        """Build and validate a network from a parsed config mapping; ConfigError names file, layer and field."""
        return _Builder(source).build(data)


def hashable_value(value: Any) -> Any:
    """A config value as nested tuples, so that it hashes: mappings become item tuples sorted by key, lists
    tuples; values other than plain ints and strings carry their type (``true`` is not ``1``, ``1.0`` is not ``1``).

    Example:
        >>> hashable_value({"kernel": [3, 3], "bias": True})
        (('bias', ('bool', True)), ('kernel', (3, 3)))
    """
    if isinstance(value, dict):  # a config's mappings are dicts (plain, ruamel.yaml's or quickyaml's); dict's own items: see lists
        return tuple(sorted((str(key), item if type(item) in _PLAIN else hashable_value(item)) for key, item in dict.items(value)))
    if isinstance(value, list):  # list's own iterator: ruamel.yaml's sequences iterate item by item in Python
        return tuple(item if type(item) in _PLAIN else hashable_value(item) for item in list.__iter__(value))
    return value if type(value) in _PLAIN else (type(value).__name__, value)


_PLAIN = (int, str)
"""The types :func:`hashable_value` keeps as they are (checked inline: a deep chain hashes thousands of fields)."""


def line_of(container: Any, key: Any) -> int | None:
    """1-based line of ``key`` in a ruamel.yaml mapping or sequence, when known."""
    lc = getattr(container, "lc", None)
    if lc is None:
        return None
    try:
        return int(lc.key(key)[0]) + 1 if isinstance(key, str) else int(lc.item(key)[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


@dataclass(frozen=True)
class LayerHead:
    """A config layer's name, type, inputs and line, and its remaining fields as written."""

    name: str
    type_name: str
    cls: type[Layer]
    inputs: tuple[str, ...]
    line: int | None
    fields: dict[str, Any]


class _Builder:
    """Turns a config mapping into a Network, raising ConfigError at the first problem."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def error(self, message: str, *, node: str | None = None, field: str | None = None, line: int | None = None) -> ConfigError:
        return ConfigError(message, file=self.source, node=node, field=field, line=line)

    def build(self, data: Any) -> Network:
        convention, ndim, input_spec, raw_layers = self.header(data, TOP_LEVEL_KEYS)
        graph = self.new_graph(data)
        previous = INPUT
        for index, raw in enumerate(raw_layers):
            head = self.layer_head(raw, index, raw_layers)
            layer = self.layer_fields(head.cls, head.type_name, head.fields, ndim, convention, head.name, raw, head.line)
            previous = self.add_node(graph, head, previous, layer=layer)
        self.connect(graph)
        network = Network(str(data.get("name", "network")), graph, input_spec, convention, self.source)
        self.check_arity_and_rank(graph, network.order, {name: network.layer(name).type for name in network.order[1:]})
        return network

    def header(self, data: Any, keys: Sequence[str]) -> tuple[Convention, int, InputSpec, list[Any]]:
        """The convention, spatial rank, input and raw layer list of a config whose top-level keys are ``keys``."""
        if not isinstance(data, Mapping):
            raise self.error(f"the config must be a mapping with 'input' and 'layers', got {type(data).__name__}")
        for key in data:
            if key in keys:
                continue
            if key in SPACE_KEYS:
                raise self.error(
                    f"{key!r} belongs to a search space: check/shapes/sizes need a fixed network — "
                    "load it with convsolve.load_space, or use the solver commands (count, enumerate, sample)",
                    field=str(key), line=line_of(data, key),
                )
            raise self.error(f"unknown top-level key {key!r}{_suggest(str(key), keys)}", line=line_of(data, key))
        convention = self.convention(data.get("convention", "pytorch"))
        raw_layers = data.get("layers")
        if not isinstance(raw_layers, list) or not raw_layers:
            raise self.error("'layers' must be a non-empty list of layers")
        ndim = self.network_rank(raw_layers, data.get("input"))
        return convention, ndim, self.input_spec(data.get("input"), ndim), raw_layers

    def new_graph(self, data: Any) -> nx.DiGraph:
        """A graph holding only the input node."""
        graph = nx.DiGraph()
        graph.add_node(INPUT, layer=None, inputs=(), line=line_of(data, "input"))
        return graph

    def add_node(self, graph: nx.DiGraph, head: LayerHead, previous: str, **attributes: Any) -> str:
        """Add a layer's node, fed by ``previous`` unless it names its inputs; returns its name."""
        if head.name in graph:
            raise self.error(f"duplicate layer name {head.name!r}", node=head.name, field="name", line=head.line)
        graph.add_node(head.name, inputs=head.inputs or (previous,), line=head.line, **attributes)
        return head.name

    def connect(self, graph: nx.DiGraph) -> None:
        """Add an edge from every input to its consumer; unknown inputs and cycles are errors."""
        for name in list(graph.nodes):
            for source in graph.nodes[name]["inputs"]:
                if source not in graph:
                    hint = _suggest(source, [n for n in graph.nodes if n != name])
                    raise self.error(f"unknown input {source!r}{hint}", node=name, field="inputs", line=graph.nodes[name]["line"])
                graph.add_edge(source, name)
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            path = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
            raise self.error(f"the layers form a cycle: {path}", node=cycle[0][1], field="inputs")

    def convention(self, value: Any) -> Convention:
        if not isinstance(value, str) or value.lower() not in CONVENTIONS:
            raise self.error(f"'convention' must be one of {', '.join(CONVENTIONS)}, got {value!r}", field="convention")
        return CONVENTIONS[value.lower()]

    def network_rank(self, raw_layers: list[Any], raw_input: Any) -> int:
        ranks: dict[int, Any] = {}  # rank -> the name of its first layer
        for raw in raw_layers:
            if isinstance(raw, Mapping) and isinstance(raw.get("type"), str):
                entry = LAYER_TYPES.get(raw["type"].lower())
                if entry and entry[1] is not None:
                    ranks.setdefault(entry[1], raw.get("name", raw["type"]))
        if len(ranks) > 1:
            listed = ", ".join(f"{rank}-D ({name!r})" for rank, name in ranks.items())
            raise self.error(f"layers of different spatial ranks are mixed: {listed}")
        if not ranks and isinstance(raw_input, Mapping):
            # only rank-free layers (pad, interpolate, ...): the input's axis names decide
            for rank in (1, 3):
                if AXIS_NAMES[rank][0] in raw_input:
                    return rank
        return next(iter(ranks), 2)

    def input_spec(self, raw: Any, ndim: int) -> InputSpec:
        if not isinstance(raw, Mapping):
            raise self.error("'input' must be a mapping like {channels: 3, size: {range: [32, 224]}}", field="input")
        names = AXIS_NAMES[ndim]
        allowed = ("channels", "size") + names
        for key in raw:
            if key not in allowed:
                raise self.error(f"unknown input key {key!r} for a {ndim}-D network (allowed: {', '.join(allowed)})", field=f"input.{key}", line=line_of(raw, key))
        channels = raw.get("channels")
        if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= MAX_SIZE:
            raise self.error(f"input channels must be a positive integer (at most {MAX_SIZE:,}), got {_show(channels)}", field="input.channels")
        if "size" in raw:
            if any(name in raw for name in names):
                raise self.error(f"give either 'size' or per-axis sizes ({', '.join(names)}), not both", field="input.size")
            rng = self.size_range(raw["size"], "input.size")
            return InputSpec(channels, (rng,) * ndim, tied=True)
        missing = [name for name in names if name not in raw]
        if missing:
            raise self.error(f"input needs 'size' or all of {', '.join(names)} (missing {', '.join(missing)})", field="input")
        return InputSpec(channels, tuple(self.size_range(raw[name], f"input.{name}") for name in names), tied=False)

    def size_range(self, raw: Any, where: str) -> SizeRange:
        if isinstance(raw, int) and not isinstance(raw, bool):
            values = [raw, raw, 1]
        elif (
            isinstance(raw, Mapping) and set(raw) in ({"range"}, {"range", "step"})
            and isinstance(raw["range"], list) and len(raw["range"]) == 2
        ):
            values = list(raw["range"]) + [raw.get("step", 1)]
        else:
            raise self.error(f"a size is an integer or {{range: [lo, hi]}} (optionally with step: s), got {_show(raw)}", field=where)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise self.error(f"size bounds and step must be integers, got {_show(raw)}", field=where)
        try:
            return SizeRange(values[0], values[1], values[2])
        except ValueError as exc:
            raise self.error(str(exc), field=where) from None

    def layer_head(self, raw: Any, index: int, raw_layers: list[Any]) -> LayerHead:
        """A layer's name, type, inputs and line, with its other fields still raw."""
        line = line_of(raw_layers, index)
        if not isinstance(raw, Mapping):
            raise self.error(f"layer #{index + 1} must be a mapping with 'name' and 'type', got {_show(raw)}", line=line)
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise self.error(f"layer #{index + 1} needs a 'name' (a non-empty string)", field="name", line=line)
        if name == INPUT:
            raise self.error(f"{INPUT!r} is reserved for the network input; rename the layer", node=name, field="name", line=line)
        type_name = raw.get("type")
        if not isinstance(type_name, str):
            raise self.error("needs a 'type', such as conv2d or max_pool2d", node=name, field="type", line=line)
        type_name = MERGE_ALIASES.get(type_name.lower(), type_name.lower())
        if type_name not in LAYER_TYPES:
            raise self.error(f"unknown layer type {raw['type']!r}{_suggest(type_name, LAYER_TYPES)}", node=name, field="type", line=line)
        inputs = raw.get("inputs")
        if inputs is not None and (not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs) or not inputs):
            raise self.error(f"'inputs' must be a non-empty list of layer names, got {_show(inputs)}", node=name, field="inputs", line=line)
        cls, _ = LAYER_TYPES[type_name]
        values = {k: v for k, v in raw.items() if k not in ("name", "type", "inputs")}
        return LayerHead(name, type_name, cls, tuple(inputs or ()), line, values)

    def field_specs(
        self, cls: type[Layer], type_name: str, values: Mapping[str, Any], name: str, raw: Any, line: int | None,
        *, spaces: bool = False,
    ) -> dict[str, Any]:
        """The config fields of a layer type (dataclass fields by name), after refusing unknown keys in ``values``.

        Unless ``spaces``, a field left open (``{choice: ...}`` and the like) is refused too.
        """
        specs = {spec.name: spec for spec in fields(cls)}
        allowed = cls.config_fields(type_name)
        for key in values:
            value = values[key]
            if not spaces and is_space_value(value):
                raise self.error(
                    f"{key} is a search space ({_show(value)}); check/shapes/sizes need fixed values — "
                    "load it with convsolve.load_space, or use the solver commands (count, enumerate, sample)",
                    node=name, field=key, line=line_of(raw, key) or line,
                )
            if key not in allowed and key not in cls.shape_free_fields:
                raise self.error(f"unknown field {key!r} for {type_name}{_suggest(key, sorted(allowed))}", node=name, field=key, line=line_of(raw, key) or line)
        return {key: specs[key] for key in allowed}

    def layer_fields(
        self, cls: type[Layer], type_name: str, values: Mapping[str, Any], ndim: int,
        convention: Convention, name: str, raw: Any, line: int | None,
    ) -> Layer:
        """The layer built from its config fields ``values`` (plain values, no open choices)."""
        specs = self.field_specs(cls, type_name, values, name, raw, line)
        parsed: dict[str, Any] = {}
        for key in ("kernel", "stride", "dilation"):
            if key in specs and key in values:
                parsed[key] = self.field_value(specs[key], values[key], ndim, name, raw, line)
        if cls.stride_defaults_to_kernel and "stride" not in values and "kernel" in parsed:
            parsed["stride"] = parsed["kernel"]
        for key, spec in specs.items():
            if key in parsed:
                continue
            if key in values:
                if spec.metadata.get("kind") == "padding":
                    if isinstance(values[key], str) and convention.padding_words_only_for_conv and not cls.takes_padding_words:
                        raise self.error(
                            f"{type_name} takes integer padding in the {convention.name} convention, not {values[key]!r} "
                            "(padding words are for convolutions only)",
                            node=name, field=key, line=line_of(raw, key) or line,
                        )
                    parsed[key] = self.padding(values[key], convention, parsed, ndim, name, raw, line)
                else:
                    parsed[key] = self.field_value(spec, values[key], ndim, name, raw, line)
            elif spec.metadata.get("required"):
                raise self.error(f"{type_name} needs {key!r}", node=name, field=key, line=line)
        if cls.exactly_one_of and sum(key in parsed for key in cls.exactly_one_of) != 1:
            wanted = " and ".join(repr(key) for key in cls.exactly_one_of)
            raise self.error(f"{type_name} needs exactly one of {wanted}", node=name, field=cls.exactly_one_of[0], line=line)
        parsed.update(cls.convention_fields(type_name, convention, parsed))
        return cls(type=type_name, ndim=ndim, **parsed)

    def padding(self, value: Any, convention: Convention, parsed: dict[str, Any], ndim: int, name: str, raw: Any, line: int | None) -> Any:
        try:
            if isinstance(value, int) and not isinstance(value, bool) and value < 0 and "kernel" in parsed:
                raise ValueError(f"padding must be >= 0, got {value}")
            padding = parse_padding(
                value, convention,
                kernel=parsed.get("kernel", (1,) * ndim),
                dilation=parsed.get("dilation", (1,) * ndim),
                stride=parsed.get("stride", (1,) * ndim),
            )
        except ValueError as exc:
            raise self.error(str(exc), node=name, field="padding", line=line_of(raw, "padding") or line) from None
        if "kernel" in parsed and any(min(pair) < 0 for pair in padding.pairs):
            raise self.error(f"padding must be >= 0, got {_show(value)}", node=name, field="padding", line=line_of(raw, "padding") or line)
        return padding

    def field_value(self, spec: Any, value: Any, ndim: int, name: str, raw: Any, line: int | None) -> Any:
        kind, minimum = spec.metadata.get("kind"), spec.metadata.get("min", 0)
        where = {"node": name, "field": spec.name, "line": line_of(raw, spec.name) or line}
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.error(f"expected true or false, got {_show(value)}", **where)
            return value
        if kind == "scales":
            items = value if isinstance(value, list) else [value]
            if len(items) not in (1, ndim) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= MAX_SIZE for v in items
            ):
                raise self.error(f"expected a positive number (at most {MAX_SIZE:,}) or {ndim} of them, got {_show(value)}", **where)
            return tuple(float(v) for v in items) * (ndim if len(items) == 1 else 1)
        items = value if isinstance(value, list) and kind == "axes" else [value]
        if kind == "axes" and len(items) not in (1, ndim):
            raise self.error(f"expected an integer or a list of {ndim} (one per axis), got {_show(value)}", **where)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int):
                raise self.error(f"expected an integer{' or a list of ' + str(ndim) if kind == 'axes' else ''}, got {_show(value)}", **where)
            if item < minimum:
                raise self.error(f"must be >= {minimum}, got {show_number(item)}", **where)
            if item > MAX_SIZE:
                raise self.error(f"must be at most {MAX_SIZE:,}, got {show_number(item)}", **where)
        if kind == "axes":
            return tuple(items) * (ndim if len(items) == 1 else 1)
        return items[0]

    def check_arity_and_rank(self, graph: nx.DiGraph, order: Sequence[str], types: Mapping[str, str]) -> None:
        """Merges need two or more inputs, others exactly one; no spatial layer after a flatten.

        ``order`` is a topological order starting at the input; ``types`` gives each layer's type name.
        """
        flat: dict[str, bool] = {INPUT: False}
        for name in order[1:]:
            type_name, inputs, line = types[name], graph.nodes[name]["inputs"], graph.nodes[name]["line"]
            family = LAYER_TYPES[type_name][0].family
            if family == "merge":
                if len(inputs) < 2:
                    raise self.error(f"{type_name} needs at least two inputs, got {len(inputs)}", node=name, field="inputs", line=line)
                if len({flat[i] for i in inputs}) > 1:
                    raise self.error(f"{type_name} mixes flattened and spatial inputs", node=name, field="inputs", line=line)
            elif len(inputs) != 1:
                raise self.error(f"{type_name} takes one input, got {len(inputs)}: {', '.join(inputs)}", node=name, field="inputs", line=line)
            source_flat = flat[inputs[0]]
            if source_flat and family == "spatial":
                raise self.error(f"{type_name} needs spatial input but {inputs[0]!r} is flattened", node=name, field="inputs", line=line)
            flat[name] = source_flat or family == "flatten"


def _suggest(word: Any, choices: Any) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``word`` (any key YAML allows: null, a number, ...), or ''."""
    close = difflib.get_close_matches(str(word), [str(choice) for choice in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _show(value: Any, depth: int = 3) -> str:
    """A config value for a message, cut short: at most 8 items per list or mapping, 3 levels, 60 characters per string."""
    if isinstance(value, Mapping):
        shown = [f"{str(key)[:60]}: {_show(item, depth - 1)}" for key, item in list(value.items())[:8]] if depth else ["..."]
        return "{" + ", ".join(shown + ["..."] * (depth > 0 and len(value) > 8)) + "}"
    if isinstance(value, list):
        shown = [_show(item, depth - 1) for item in value[:8]] if depth else ["..."]
        return "[" + ", ".join(shown + ["..."] * (depth > 0 and len(value) > 8)) + "]"
    if isinstance(value, int) and not isinstance(value, bool):
        return show_number(value)
    if isinstance(value, str) and len(value) > 60:
        return repr(value[:57] + "...")
    return repr(value)

