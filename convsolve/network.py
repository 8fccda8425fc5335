"""The network: a ``networkx.DiGraph`` of layers, with its input and size convention.

Nodes are layer names with attributes ``layer`` (a :class:`~convsolve.layers.Layer`), ``inputs``
(the ordered names feeding it; order matters for ``concat``) and ``line`` (where the config wrote
it). The network input is the node ``"input"``. Edges run from producer to consumer. Config
mappings are turned into networks, and checked, by :mod:`convsolve.loaders.network`.

Example:
    >>> net = Network.from_config({
    ...     "name": "tiny", "input": {"channels": 3, "size": {"range": [32, 224]}},
    ...     "layers": [{"name": "stem", "type": "conv2d", "out_channels": 8, "kernel": 7, "stride": 2}]})
    >>> list(net.graph.successors("input"))
    ['stem']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx

from .conventions import Convention
from .layers import Layer
from .sizesets import SizeRange

if TYPE_CHECKING:
    from .diagnose import Report
    from .inference import Inference, ShapeRow, ValidSizes

__all__ = ["fresh_layer_name", "InputSpec", "Network", "INPUT", "hashable_value"]

INPUT = "input"
"""The name of the network's input node."""

AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def fresh_layer_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_1``, ``name_2``, ... : the first not in ``taken``, which it joins (importers naming layers).

    Example:
        >>> taken = {"conv", "conv_1"}
        >>> fresh_layer_name("conv", taken), fresh_layer_name("pool", taken)
        ('conv_2', 'pool')
    """
    candidate, index = name, 1
    while candidate in taken:
        candidate, index = f"{name}_{index}", index + 1
    taken.add(candidate)
    return candidate


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

    def with_ranges(self, ranges: Sequence[SizeRange], tied: bool) -> InputSpec:
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

    def replace_layer(self, name: str, layer: Layer) -> Network:
        """A copy with node ``name``'s layer replaced (the graph is copied, layers are shared)."""
        graph = self.graph.copy()
        graph.nodes[name]["layer"] = layer
        return Network(self.name, graph, self.input, self.convention, self.source)

    def with_fields_of(self, data: Any, indices: Iterable[int]) -> Network:
        """A copy with the layers at ``indices`` of config ``data`` built again: ``data`` is this network's
        config with only those layers' fields changed (names and inputs as they were).

        Example:
            >>> data = {"input": {"channels": 3, "size": 8}, "layers": [{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 3}]}
            >>> net = Network.from_config(data)
            >>> net.with_fields_of({**data, "layers": [{**data["layers"][0], "kernel": 5}]}, [0]).layer("c").kernel
            (5, 5)
        """
        from .loaders.network import NetworkLoader

        loader, graph, raw_layers = NetworkLoader(self.source), self.graph.copy(), data["layers"]
        for index in indices:
            head = loader.layer_head(raw_layers[index], index, raw_layers)
            graph.nodes[head.name]["layer"] = loader.layer_fields(
                head.cls, head.type_name, head.fields, self.ndim, self.convention, head.name, raw_layers[index], head.line)
        return Network(self.name, graph, self.input, self.convention, self.source)

    def with_input(self, ranges: Sequence[SizeRange], tied: bool) -> Network:
        """A copy over other input ranges."""
        return Network(self.name, self.graph, self.input.with_ranges(ranges, tied), self.convention, self.source)

    def infer(self) -> Inference:
        """Sizes of every node over the whole input range (see :func:`convsolve.inference.infer`)."""
        from .inference import infer

        return infer(self)

    def valid_sizes(self) -> ValidSizes:
        """The input sizes at which every layer is valid: one set, or one per axis when axes vary independently."""
        return self.infer().valid_sizes()

    def check(self) -> Report:
        """Every violation over the input range, with causes and fixes (see :mod:`convsolve.diagnose`)."""
        from .diagnose import diagnose

        return diagnose(self)

    def shapes(self, sizes: Sequence[int]) -> list[ShapeRow]:
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
    def from_config(cls, data: Any, source: str | None = None) -> Network:
        """Build and validate a network from a parsed config mapping; ConfigError names file, layer and field."""
        from .loaders.network import NetworkLoader

        return NetworkLoader(source).load(data)


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
