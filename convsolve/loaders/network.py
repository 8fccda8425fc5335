"""The network loader: a config mapping (parsed YAML or JSON) into a validated :class:`~convsolve.network.Network`.

:class:`NetworkLoader` raises :class:`~convsolve.errors.ConfigError` at the first problem, naming the
file, line, layer and field. The search-space loader (:mod:`convsolve.loaders.space`) uses its steps
one by one, so that a value is valid in a space exactly when it is valid in a fixed network.

Example:
    >>> net = NetworkLoader("tiny.yaml").load({
    ...     "input": {"channels": 3, "size": 32},
    ...     "layers": [{"name": "stem", "type": "conv2d", "out_channels": 8, "kernel": 3, "stride": 2}]})
    >>> net.layer("stem").stride
    (2, 2)
    >>> NetworkLoader("tiny.yaml").load({"input": {"channels": 3, "size": 32}, "layers": [{"name": "p", "type": "max_pool"}]})
    Traceback (most recent call last):
    ...
    convsolve.errors.ConfigError: tiny.yaml: layer 'p', field 'type': unknown layer type 'max_pool' (did you mean 'max_pool3d'?)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import networkx as nx

from ..conventions import CONVENTIONS, Convention, parse_padding
from ..errors import ConfigError
from ..layers import LAYER_TYPES, MERGE_ALIASES, Layer
from ..network import AXIS_NAMES, INPUT, InputSpec, Network
from ..sizesets import MAX_SIZE, SizeRange, show_number
from .fields import SPACE_KEYS, TOP_LEVEL_KEYS, did_you_mean, is_space_value, line_of, show_config_value

__all__ = ["LayerHead", "NetworkLoader"]


@dataclass(frozen=True)
class LayerHead:
    """A config layer's name, type, inputs and line, and its remaining fields as written."""

    name: str
    type_name: str
    cls: type[Layer]
    inputs: tuple[str, ...]
    line: int | None
    fields: dict[str, Any]


class NetworkLoader:
    """Turns a config mapping into a Network, raising ConfigError at the first problem."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def error(self, message: str, *, node: str | None = None, field: str | None = None, line: int | None = None) -> ConfigError:
        return ConfigError(message, file=self.source, node=node, field=field, line=line)

    def load(self, data: Any) -> Network:
        """The network of config mapping ``data``."""
        # targets: what a repair must keep and check verifies (read by convsolve.space); params and constraints
        # belong to search spaces
        convention, ndim, input_spec, raw_layers = self.header(data, TOP_LEVEL_KEYS + ("targets",))
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

    def header(self, data: Any, keys: Sequence[str], raw_input: Any = None) -> tuple[Convention, int, InputSpec, list[Any]]:
        """The convention, spatial rank, input and raw layer list of a config whose top-level keys are ``keys``
        (with ``raw_input`` read in place of its ``input`` when given)."""
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
            raise self.error(f"unknown top-level key {key!r}{did_you_mean(str(key), keys)}", line=line_of(data, key))
        convention = self.convention(data.get("convention", "pytorch"))
        raw_layers = data.get("layers")
        if not isinstance(raw_layers, list) or not raw_layers:
            raise self.error("'layers' must be a non-empty list of layers")
        raw_input = data.get("input") if raw_input is None else raw_input
        ndim = self.network_rank(raw_layers, raw_input)
        return convention, ndim, self.input_spec(raw_input, ndim), raw_layers

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
                    hint = did_you_mean(source, [n for n in graph.nodes if n != name])
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
        for raw in _every_layer(raw_layers):
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
                raise self.error(
                    f"unknown input key {key!r} for a {ndim}-D network (allowed: {', '.join(allowed)})", field=f"input.{key}", line=line_of(raw, key)
                )
        channels = raw.get("channels")
        if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= MAX_SIZE:
            raise self.error(
                f"input channels must be a positive integer (at most {MAX_SIZE:,}), got {show_config_value(channels)}", field="input.channels"
            )
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
            raise self.error(f"a size is an integer or {{range: [lo, hi]}} (optionally with step: s), got {show_config_value(raw)}", field=where)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise self.error(f"size bounds and step must be integers, got {show_config_value(raw)}", field=where)
        try:
            return SizeRange(values[0], values[1], values[2])
        except ValueError as exc:
            raise self.error(str(exc), field=where) from None

    def layer_head(self, raw: Any, index: int, raw_layers: list[Any]) -> LayerHead:
        """A layer's name, type, inputs and line, with its other fields still raw."""
        line = line_of(raw_layers, index)
        name = self.layer_name(raw, index, line)
        structural = [key for key in ("choose", "repeat") if key in raw] or (["inputs"] if isinstance(raw.get("inputs"), Mapping) else [])
        if structural:
            raise self.error(
                f"{structural[0]!r} makes a search space (an op, a depth or an input left to choose); check/shapes/sizes need a fixed "
                "network — load it with convsolve.load_space, or use the solver commands (count, enumerate, sample)",
                node=name, field=structural[0], line=line_of(raw, structural[0]) or line,
            )
        type_name, cls = self.layer_type(raw, name, line)
        inputs = raw.get("inputs")
        if inputs is not None and (not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs) or not inputs):
            raise self.error(
                f"'inputs' must be a non-empty list of layer names, got {show_config_value(inputs)}", node=name, field="inputs", line=line
            )
        values = {k: v for k, v in raw.items() if k not in ("name", "type", "inputs")}
        return LayerHead(name, type_name, cls, tuple(inputs or ()), line, values)

    def layer_name(self, raw: Any, index: int, line: int | None) -> str:
        """The name of layer #``index + 1`` (a mapping with a non-empty ``name`` other than ``input``)."""
        if not isinstance(raw, Mapping):
            raise self.error(f"layer #{index + 1} must be a mapping with 'name' and 'type', got {show_config_value(raw)}", line=line)
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise self.error(f"layer #{index + 1} needs a 'name' (a non-empty string)", field="name", line=line)
        if name == INPUT:
            raise self.error(f"{INPUT!r} is reserved for the network input; rename the layer", node=name, field="name", line=line)
        return name

    def layer_type(self, raw: Mapping[str, Any], name: str, line: int | None, field: str = "type") -> tuple[str, type[Layer]]:
        """The type name a layer mapping gives (aliases resolved) and its class."""
        type_name = raw.get("type")
        if not isinstance(type_name, str):
            raise self.error("needs a 'type', such as conv2d or max_pool2d", node=name, field=field, line=line)
        type_name = MERGE_ALIASES.get(type_name.lower(), type_name.lower())
        if type_name not in LAYER_TYPES:
            raise self.error(f"unknown layer type {raw['type']!r}{did_you_mean(type_name, LAYER_TYPES)}", node=name, field=field,
                             line=line_of(raw, "type") or line)
        return type_name, LAYER_TYPES[type_name][0]

    def field_specs(
        self, cls: type[Layer], type_name: str, values: Mapping[str, Any], convention: Convention, name: str, raw: Any,
        line: int | None, *, spaces: bool = False,
    ) -> dict[str, Any]:
        """The config fields of a layer type in ``convention`` (dataclass fields by name, in the order a config writes
        them), after refusing unknown keys in ``values``.

        Unless ``spaces``, a field left open (``{choice: ...}`` and the like) is refused too.
        """
        specs = {spec.name: spec for spec in fields(cls)}
        unknown = cls.fields_unknown_to(type_name, convention)
        allowed = tuple(key for key in cls.config_fields(type_name) if key not in unknown)
        for key in values:
            value = values[key]
            if not spaces and is_space_value(value):
                raise self.error(
                    f"{key} is a search space ({show_config_value(value)}); check/shapes/sizes need fixed values — "
                    "load it with convsolve.load_space, or use the solver commands (count, enumerate, sample)",
                    node=name, field=key, line=line_of(raw, key) or line,
                )
            if key not in allowed and key not in cls.shape_free_fields:
                raise self.error(
                    f"unknown field {key!r} for {type_name}{did_you_mean(key, sorted(allowed))}", node=name, field=key, line=line_of(raw, key) or line
                )
        return {key: specs[key] for key in allowed}

    def layer_fields(
        self, cls: type[Layer], type_name: str, values: Mapping[str, Any], ndim: int,
        convention: Convention, name: str, raw: Any, line: int | None,
    ) -> Layer:
        """The layer built from its config fields ``values`` (plain values, no open choices)."""
        specs = self.field_specs(cls, type_name, values, convention, name, raw, line)
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
            raise self.error(
                f"padding must be >= 0, got {show_config_value(value)}", node=name, field="padding", line=line_of(raw, "padding") or line
            )
        return padding

    def field_value(self, spec: Any, value: Any, ndim: int, name: str, raw: Any, line: int | None) -> Any:
        kind, minimum = spec.metadata.get("kind"), spec.metadata.get("min", 0)
        where = {"node": name, "field": spec.name, "line": line_of(raw, spec.name) or line}
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.error(f"expected true or false, got {show_config_value(value)}", **where)
            return value
        if kind == "scales":
            items = value if isinstance(value, list) else [value]
            if len(items) not in (1, ndim) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= MAX_SIZE for v in items
            ):
                raise self.error(f"expected a positive number (at most {MAX_SIZE:,}) or {ndim} of them, got {show_config_value(value)}", **where)
            return tuple(float(v) for v in items) * (ndim if len(items) == 1 else 1)
        items = value if isinstance(value, list) and kind == "axes" else [value]
        if kind == "axes" and len(items) not in (1, ndim):
            raise self.error(f"expected an integer or a list of {ndim} (one per axis), got {show_config_value(value)}", **where)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int):
                raise self.error(
                    f"expected an integer{' or a list of ' + str(ndim) if kind == 'axes' else ''}, got {show_config_value(value)}", **where
                )
            if item < minimum:
                raise self.error(f"must be >= {minimum}, got {show_number(item)}", **where)
            if item > MAX_SIZE:
                raise self.error(f"must be at most {MAX_SIZE:,}, got {show_number(item)}", **where)
        if kind == "axes":
            return tuple(items) * (ndim if len(items) == 1 else 1)
        return items[0]

    def check_arity_and_rank(self, graph: nx.DiGraph, order: Sequence[str], types: Mapping[str, str]) -> None:
        """Merges need two or more inputs, others exactly one; no spatial layer after a flatten.

        ``order`` is a topological order starting at the input; ``types`` gives each layer's type name (a node
        without one passes its first input's kind on).
        """
        flat: dict[str, bool] = {INPUT: False}
        for name in order[1:]:
            if name not in types:
                flat[name] = flat[graph.nodes[name]["inputs"][0]]
                continue
            type_name, inputs, line = types[name], graph.nodes[name]["inputs"], graph.nodes[name]["line"]
            kind = LAYER_TYPES[type_name][0]
            family = kind.family
            fewest, most = kind.input_count(type_name)
            if most == 1 and len(inputs) != 1:
                raise self.error(f"{type_name} takes one input, got {len(inputs)}: {', '.join(inputs)}", node=name, field="inputs", line=line)
            if len(inputs) < fewest:
                raise self.error(f"{type_name} needs at least {_count(fewest)} inputs, got {len(inputs)}", node=name, field="inputs", line=line)
            if most is not None and len(inputs) > most:
                raise self.error(f"{type_name} takes {_count(most)} inputs, got {len(inputs)}", node=name, field="inputs", line=line)
            if family == "merge" and len({flat[i] for i in inputs}) > 1:
                raise self.error(f"{type_name} mixes flattened and spatial inputs", node=name, field="inputs", line=line)
            source_flat = flat[inputs[0]]
            if source_flat and family == "spatial":
                raise self.error(f"{type_name} needs spatial input but {inputs[0]!r} is flattened", node=name, field="inputs", line=line)
            flat[name] = source_flat or family == "flatten"


def _every_layer(raw_layers: list[Any], depth: int = 0) -> Iterator[Any]:
    """The layer mappings of a list, with those inside a search space's repeated blocks and op choices."""
    for raw in raw_layers:
        yield raw
        if isinstance(raw, Mapping) and depth < 32:
            if isinstance(raw.get("choose"), Mapping):
                yield from raw["choose"].values()
            if isinstance(raw.get("layers"), list):
                yield from _every_layer(raw["layers"], depth + 1)


def _count(number: int) -> str:
    return {1: "one", 2: "two", 3: "three"}.get(number, str(number))
