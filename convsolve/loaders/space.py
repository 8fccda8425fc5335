"""The search-space loader: a config mapping into a :class:`~convsolve.space.Space`.

A space config is a network config (read by :class:`~convsolve.loaders.network.NetworkLoader`, step
by step) whose layer fields may be left open, plus ``params:``, ``constraints:`` and ``targets:``;
:mod:`convsolve.space` describes the format. :class:`SpaceLoader` raises
:class:`~convsolve.errors.ConfigError` at the first problem, naming the file, line, layer and field.

Example:
    >>> space = SpaceLoader("net.yaml").load({"input": {"channels": 1, "size": 8},
    ...     "layers": [{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": {"range": [1, 7], "step": 2}}]})
    >>> space.params["c.kernel"].values
    (1, 3, 5, 7)
    >>> SpaceLoader("net.yaml").load({"input": {"channels": 1, "size": 8},
    ...     "layers": [{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": {"choice": []}}]})
    Traceback (most recent call last):
    ...
    convsolve.errors.ConfigError: net.yaml: layer 'c', field 'kernel': empty choice: give at least one value
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from typing import Any

import networkx as nx

from ..errors import ConfigError, ExpressionError, InvalidAssignment
from ..expressions import parse_expression
from ..network import AXIS_NAMES, INPUT
from ..layers import LAYER_TYPES, Select
from ..space import (
    MAX_RANGE_VALUES, ConfigPath, Gate, LayerTemplate, LocalExpression, OpenSlot, Param, Space, SpaceConstraint, Target, Value, Variant,
)
from .fields import (
    SPACE_KEYS, SPACE_MARKERS, TOP_LEVEL_KEYS, did_you_mean, is_space_value, line_of, show_config_value, show_param_value,
)
from .network import LayerHead, NetworkLoader
from .structure import RESOLUTION, Declaration, Entry, Unroller

__all__ = ["SpaceLoader"]

_NEUTRAL_FIELDS = {"kernel": 1, "stride": 1, "dilation": 1}
"""Values that make no field of the loader fail together with any other (padding words need stride 1)."""


class SpaceLoader:
    """Turns a space config mapping into a Space, raising ConfigError at the first problem."""

    def __init__(self, source: str | None) -> None:
        self.source = source
        self.network_loader = NetworkLoader(source)
        self.params: dict[str, Param] = {}
        self.sites: dict[str, list[ConfigPath]] = {}
        self.uses: dict[str, list[ConfigPath]] = {}
        self.symbol_lines: dict[str, int | None] = {}
        self.declared_by: dict[str, list[str]] = {}
        """Node -> the parameters its open fields declare."""

    def error(self, message: str, *, node: str | None = None, field: str | None = None, line: int | None = None) -> ConfigError:
        return self.network_loader.error(message, node=node, field=field, line=line)

    def load(self, data: Any) -> Space:
        """The space of config mapping ``data``."""
        raw_input, resolution = self.resolution(data)
        convention, ndim, input_spec, raw_layers = self.network_loader.header(data, TOP_LEVEL_KEYS + SPACE_KEYS, raw_input)
        self.convention, self.ndim = convention, ndim
        self.symbols(data.get("params"), data)
        entries = Unroller(self, {name: param.values for name, param in self.params.items()}).unroll(raw_layers, resolution)
        graph = self.network_loader.new_graph(data)
        graph.nodes[INPUT]["type"] = INPUT
        drafted: list[tuple[Entry, dict[str | None, tuple[Variant, list[tuple[OpenSlot, str | None]]]], tuple[str, ...]]] = []
        for entry in entries:
            before = len(self.params)
            for declaration in entry.declares:
                self.declare(declaration.name, declaration.values, declaration.origin, declaration.site, declaration.gates)
            variants = {key: self.variant(entry, key, body, path) for key, (body, path) in entry.bodies.items()}
            if entry.node in graph:
                raise self.error(f"duplicate layer name {entry.node!r}", node=entry.node, field="name", line=entry.line)
            graph.add_node(entry.node, inputs=entry.inputs, line=entry.line, type=next(iter(variants.values()))[0].head.type_name)
            drafted.append((entry, variants, tuple(list(self.params)[before:])))
        self.network_loader.connect(graph)
        order = list(nx.topological_sort(graph))
        self.check_structure(graph, order, drafted)
        readers: set[str] = set()
        templates = {}
        for entry, variants, declared in drafted:
            built = {}
            for key, (variant, drafts) in variants.items():
                aliases, constants = self.local_names(entry, key) if any(text is not None for _, text in drafts) else ({}, {})
                slots = tuple(self.parse_expr(variant.head, variant.raw, slot, text, readers, aliases, constants) for slot, text in drafts)
                built[key] = Variant(variant.head, variant.raw, variant.path, slots)
            names = {slot.param for v in built.values() for slot in v.slots if slot.param is not None}
            names.update(name for v in built.values() for slot in v.slots if slot.expression is not None for name in slot.expression.names)
            own = tuple(name for name in declared if self.params[name].active_when)
            names.update(own)
            names.update(gate.param for gate in entry.gates)
            if entry.switch:
                names.add(entry.switch)
            if entry.pick:
                names.update(entry.pick.names)
            if entry.resolution:
                names.add(entry.resolution)
            templates[entry.node] = LayerTemplate(built, tuple(sorted(names)), entry.switch, entry.gates, entry.through or 0, own,
                                                  entry.pick, entry.resolution)
        constraints = self.constraints(data.get("constraints"), data, readers)
        targets = self.targets(data.get("targets"), data, graph)
        if resolution is not None and any(target.at is not None for target in targets):
            raise self.error("a size target is at an input size, but this space chooses the input size (input.size); "
                             "give stride or receptive_field targets", field="targets", line=line_of(data, "targets"))
        self.check_symbols_used(readers)
        space = Space(
            name=str(data.get("name", "network")), convention=convention, input=input_spec, source=self.source,
            params=self.params, graph=graph, constraints=constraints, targets=targets, templates=templates,
            loader=self.network_loader, data=data, sites=self.sites, uses=self.uses, readers=frozenset(readers),
        )
        for template in templates.values():
            self.check_fixed_fields(space, template)
        if space.structural:
            try:
                space.total  # noqa: B018 (refused here when the nesting is too deep to count, with the file named)
            except ConfigError as exc:
                raise self.error(exc.message, field="layers") from None
        return space

    def resolution(self, data: Any) -> tuple[Any, Declaration | None]:
        """The input as the header reads it, and the input-size parameter when the config leaves the size open
        (``size: {param: {choice: [...]}}`` or ``size: {choice: [...]}``): the header then reads the largest size."""
        raw = data.get("input") if isinstance(data, Mapping) else None
        size = raw.get("size") if isinstance(raw, Mapping) else None
        if not isinstance(size, Mapping) or not ({"param", "choice"} & set(size)):
            return None, None
        where: dict[str, Any] = {"field": "input.size", "line": line_of(raw, "size")}
        marker = size.get("param", size) if set(size) == {"param"} else size
        if not isinstance(marker, Mapping) or not ({"choice", "range"} & set(marker)):
            raise self.error(f"an input size left open is {{param: {{choice: [...]}}}} or {{param: {{range: [lo, hi], step: s}}}}, "
                             f"got {show_config_value(size)}", **where)
        values = self.domain(marker, **where)
        sizes = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v >= 1]
        if len(sizes) < len(values):
            raise self.error(f"input sizes are integers >= 1, got {show_config_value(list(values))}", **where)
        site: ConfigPath = ("input", "size", "param") if set(size) == {"param"} else ("input", "size")
        declaration = Declaration(RESOLUTION, tuple(sizes), "input, field 'size'", site, ())
        shown = {key: value for key, value in (raw or {}).items() if key != "size"}
        return {**shown, "size": max(sizes)}, declaration

    def variant(self, entry: Entry, key: str | None, body: Any, path: ConfigPath) -> tuple[Variant, list[tuple[OpenSlot, str | None]]]:
        """One way ``entry`` is written (its option ``key``, or the layer), with its open fields' slots still as text."""
        if entry.pick is not None:
            return Variant(LayerHead(entry.node, "select", Select, entry.inputs, entry.line, {}), body, path, ()), []
        if entry.resolution is not None:
            type_name = f"adaptive_avg_pool{self.ndim}d"
            return Variant(LayerHead(entry.node, type_name, LAYER_TYPES[type_name][0], entry.inputs, entry.line, {"output_size": 1}),
                           body, path, ()), []
        field = "type" if key is None else f"choose.{key}.type"
        type_name, cls = self.network_loader.layer_type(body, entry.node, entry.line, field)
        values = {k: v for k, v in body.items() if k not in ("name", "type", "inputs")}
        head = LayerHead(entry.node, type_name, cls, entry.inputs, line_of(body, "type") or entry.line, values)
        specs = self.network_loader.field_specs(cls, type_name, values, self.convention, entry.node, body, head.line, spaces=True)
        prefix = entry.node if key is None else f"{entry.node}.{key}"
        gates = entry.gates if key is None else (*entry.gates, Gate(entry.switch or "", "op", key))
        return Variant(head, body, path, ()), self.open_fields(head, specs, body, path, prefix, gates)

    def check_structure(self, graph: nx.DiGraph, order: list[str], drafted: list[Any]) -> None:
        """Every option of an op choice takes the node's inputs; a flatten is neither one option among others nor in a
        copy a depth may leave out (the solver keeps flattened and spatial outputs apart)."""
        options = max((len(variants) for _, variants, _ in drafted), default=1)
        for k in range(options):
            types = {entry.node: list(variants.values())[min(k, len(variants) - 1)][0].head.type_name
                     for entry, variants, _ in drafted if entry.pick is None and entry.resolution is None}
            self.network_loader.check_arity_and_rank(graph, order, types)
        for entry, variants, _ in drafted:
            flattens = {variant.head.cls.family == "flatten" for variant, _ in variants.values()}
            if len(flattens) > 1:
                raise self.error("the options of a choice must all flatten or none: a flatten cannot be one option among others",
                                 node=entry.node, field="choose", line=entry.line)
            if entry.gates and True in flattens:
                raise self.error("a flatten cannot be in a copy that the chosen depth may leave out; put it after the block",
                                 node=entry.node, field="type", line=entry.line)

    def local_names(self, entry: Entry, key: str | None) -> tuple[dict[str, str], dict[str, int]]:
        """The names an expr of ``entry``'s variant ``key`` may read besides the parameters: its own fields
        (``kernel``), the layers of the same copy (``conv.kernel``), and ``index``, the copy's number; the nearest wins."""
        aliases: dict[str, str] = {}
        for table in reversed(entry.scope):  # outermost copy first: inner names override
            for local, node in table.items():
                for name in self.declared_by.get(node, ()):
                    aliases[f"{local}{name[len(node):]}"] = name
        own = entry.node if key is None else f"{entry.node}.{key}"
        for name in self.declared_by.get(entry.node, ()):
            if name.startswith(own + "."):
                aliases[name[len(own) + 1 :]] = name
        return aliases, ({"index": entry.copy[-1]} if entry.copy else {})

    # --- parameters ---------------------------------------------------------------------------

    def symbols(self, raw: Any, data: Any) -> None:
        """Declare the ``params:`` symbols, in the order written."""
        if raw is None:
            return
        if not isinstance(raw, Mapping):
            raise self.error(f"'params' must be a mapping of names to {{choice: [...]}} or {{range: [lo, hi]}}, got {show_config_value(raw)}",
                             field="params", line=line_of(data, "params"))
        for name, value in raw.items():
            line = line_of(raw, name) or line_of(data, "params")
            where: dict[str, Any] = {"field": f"params.{name}", "line": line}
            if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
                raise self.error(f"a param name must be an identifier (letters, digits, _), got {name!r}", **where)
            if not isinstance(value, Mapping) or not ({"choice", "range"} & set(value)):
                raise self.error(f"param {name!r} must be {{choice: [...]}} or {{range: [lo, hi], step: s}}, got {show_config_value(value)}", **where)
            self.declare(name, self.domain(value, **where, names=True), "params", ("params", name))
            self.symbol_lines[name] = line

    def declare(self, name: str, values: tuple[Value, ...], origin: str, site: ConfigPath, gates: tuple[Gate, ...] = ()) -> None:
        if name in self.params:
            raise self.error(f"two parameters are named {name!r}; rename a layer", field=name)
        self.params[name] = Param(name, values, origin, gates)
        self.sites[name] = [site]

    def domain(
        self, raw: Mapping[str, Any], *, node: str | None = None, field: str | None = None, line: int | None = None, names: bool = False,
    ) -> tuple[Value, ...]:
        """The values of a ``{choice: [...]}`` or ``{range: [lo, hi], step: s}``: deduplicated, in the order written
        (with ``names``, a choice may hold names instead: a ``params:`` symbol tying op choices)."""
        where: dict[str, Any] = {"node": node, "field": field, "line": line}
        if "choice" in raw:
            if set(raw) != {"choice"}:
                raise self.error(f"a choice is {{choice: [v1, v2, ...]}} alone, got {show_config_value(raw)}", **where)
            values = raw["choice"]
            if not isinstance(values, list):
                raise self.error(f"a choice needs a list of values, got {show_config_value(values)}", **where)
            if not values:
                raise self.error("empty choice: give at least one value", **where)
            if names and all(isinstance(v, str) and v.isidentifier() for v in values):
                return tuple(dict.fromkeys(str(v) for v in values))
            if not all(isinstance(v, int) for v in values):
                also = " (or, to tie op choices, option names)" if names else ""
                raise self.error(f"choice values must be integers or true/false{also}, got {show_config_value(values)}", **where)
            if len({isinstance(v, bool) for v in values}) > 1:
                raise self.error(f"a choice mixes true/false with integers: {show_config_value(values)}", **where)
            items = [bool(v) if isinstance(v, bool) else int(v) for v in values]
        else:
            if not set(raw) <= {"range", "step"}:
                raise self.error(f"a range is {{range: [lo, hi], step: s}}, got {show_config_value(raw)}", **where)
            bounds, step = raw["range"], raw.get("step", 1)
            if not isinstance(bounds, list) or len(bounds) != 2 or not all(_is_int(v) for v in bounds):
                raise self.error(f"a range needs two integers [lo, hi], got {show_config_value(bounds)}", **where)
            if not _is_int(step) or step < 1:
                raise self.error(f"a range's step must be an integer >= 1, got {show_config_value(step)}", **where)
            lo, hi, step = int(bounds[0]), int(bounds[1]), int(step)
            if lo > hi:
                raise self.error(f"a range needs lo <= hi, got [{lo}, {hi}]", **where)
            count = (hi - lo) // step + 1
            if count > MAX_RANGE_VALUES:
                raise self.error(f"range [{lo}, {hi}] step {step} has {count:,} values; at most {MAX_RANGE_VALUES:,} are allowed", **where)
            items = list(range(lo, hi + 1, step))
        return tuple(dict.fromkeys(items))  # a choice holds only ints or only bools, so 1 and True never meet

    def open_fields(
        self, head: LayerHead, specs: Mapping[str, Any], raw: Any, path: ConfigPath, prefix: str, gates: tuple[Gate, ...] = (),
    ) -> list[tuple[OpenSlot, str | None]]:
        """Declare the parameters of a layer's open fields (named ``<prefix>.<field>``, in the network when ``gates``
        hold); returns its slots, exprs still as text. ``path`` is where ``raw`` sits in the config."""
        drafts: list[tuple[OpenSlot, str | None]] = []
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
                drafts.append(self.open_value(head, spec, raw, path, value, None, f"{prefix}.{key}", "", gates))
                continue
            if kind not in ("axes", "padding"):
                raise self.error(f"{key} takes one value, not a list; got {show_config_value(value)}", **where)
            if len(value) not in (1, self.ndim):
                raise self.error(f"expected an integer or a list of {self.ndim} (one per axis), got {show_config_value(value)}", **where)
            axes = AXIS_NAMES[self.ndim] if len(value) == self.ndim else (None,)
            for position, (axis, item) in enumerate(zip(axes, value)):
                if isinstance(item, Mapping):
                    name = f"{prefix}.{key}" + (f".{axis}" if axis else "")
                    detail = f", axis {axis!r}" if axis else ""
                    drafts.append(self.open_value(head, spec, raw, path, item, position, name, detail, gates))
                elif is_space_value(item):
                    raise self.error(
                        f"choices inside [before, after] pairs are not supported: give the whole {key} or one value per axis as a choice",
                        **where,
                    )
        return drafts

    def open_value(
        self, head: LayerHead, spec: Any, raw: Any, base: ConfigPath, marker: Mapping[str, Any], position: int | None,
        name: str, detail: str, gates: tuple[Gate, ...] = (),
    ) -> tuple[OpenSlot, str | None]:
        """The slot of one open value; declares its parameter (a choice or range) or checks its symbol."""
        key = spec.name
        where: dict[str, Any] = {"node": head.name, "field": key, "line": line_of(raw, key) or head.line}
        path: ConfigPath = (*base, key) if position is None else (*base, key, position)
        markers = [m for m in SPACE_MARKERS if m in marker]
        if len(markers) != 1 or (markers[0] in ("param", "expr") and len(marker) != 1):
            raise self.error(
                'an open field is one of {choice: [...]}, {range: [lo, hi], step: s}, {param: name} or {expr: "..."}, '
                f"got {show_config_value(marker)}", **where,
            )
        if markers[0] == "expr":
            text = marker["expr"]
            if not isinstance(text, str):
                raise self.error(f'an expr is a string, like {{expr: "stem.kernel // 2"}}, got {show_config_value(text)}', **where)
            return OpenSlot(key, position), text
        if markers[0] == "param":
            symbol = marker["param"]
            if not isinstance(symbol, str):
                raise self.error(f"a param is named by a string, like {{param: k}}, got {show_config_value(symbol)}", **where)
            if symbol not in self.params or self.params[symbol].origin != "params":
                known = [p for p, param in self.params.items() if param.origin == "params"]
                hint = did_you_mean(str(symbol), known) or (f" (declared: {', '.join(known)})" if known else " (declare it under params:)")
                raise self.error(f"unknown param {symbol!r}{hint}; to derive from another field use {{expr: ...}}", **where)
            for value in self.params[symbol].values:
                self.check_value(head, spec, raw, value, f"{{param: {symbol}}} takes {show_param_value(value)}: ")
            self.uses.setdefault(symbol, []).append(path)
            return OpenSlot(key, position, param=symbol), None
        values = self.domain(marker, **where)
        for value in values:
            self.check_value(head, spec, raw, value, "")
        self.declare(name, values, f"layer {head.name!r}, field {key!r}{detail}", path, gates)
        self.declared_by.setdefault(head.name, []).append(name)
        return OpenSlot(key, position, param=name), None

    def check_value(self, head: LayerHead, spec: Any, raw: Any, value: Value, context: str) -> None:
        """Refuse a domain value the network loader would refuse for this field on its own."""
        try:
            if spec.metadata.get("kind") == "padding":
                if not _is_int(value):
                    raise self.error(f"padding choices must be integers, got {show_config_value(value)}", node=head.name, field=spec.name,
                                     line=line_of(raw, spec.name) or head.line)
                # with a kernel (conv, pool) padding must be >= 0; pad crops with negative values
                parsed = {"kernel": (1,) * self.ndim} if "kernel" in head.cls.__dataclass_fields__ else {}
                self.network_loader.padding(value, self.convention, parsed, self.ndim, head.name, raw, head.line)
            else:
                self.network_loader.field_value(spec, value, self.ndim, head.name, raw, head.line)
        except ConfigError as exc:
            if not context:
                raise
            raise ConfigError(context + exc.message, **exc.facts) from None

    def parse_expr(
        self, head: LayerHead, raw: Any, slot: OpenSlot, text: str | None, readers: set[str],
        aliases: Mapping[str, str] | None = None, constants: Mapping[str, int] | None = None,
    ) -> OpenSlot:
        """The slot with its expr parsed now that every parameter is declared (reading ``aliases`` and ``constants`` too:
        see :meth:`local_names`)."""
        if text is None:
            return slot
        aliases, constants = aliases or {}, constants or {}
        try:
            expression = parse_expression(text, {*self.params, *aliases, *constants} if aliases or constants else self.params,
                                          self.text_names({**{a: self.params[n] for a, n in aliases.items() if n in self.params}, **self.params}))
        except ExpressionError as exc:
            raise ExpressionError(
                exc.problem, expression=exc.expression, column=exc.column, file=self.source, node=head.name,
                field=slot.field, line=line_of(raw, slot.field) or head.line,
            ) from None
        if not set(expression.names) & {*aliases, *constants}:
            readers.update(expression.names)
            return OpenSlot(slot.field, slot.position, expression=expression)
        local = LocalExpression(expression, {n: aliases[n] for n in expression.names if n in aliases and n not in constants},
                                {n: constants[n] for n in expression.names if n in constants})
        readers.update(local.names)
        return OpenSlot(slot.field, slot.position, expression=local)

    @staticmethod
    def text_names(params: Mapping[str, Param]) -> set[str]:
        """The parameters (by the names an expression reads them) whose values are names: ops, inputs."""
        return {name for name, param in params.items() if any(isinstance(v, str) for v in param.values)}

    def check_symbols_used(self, readers: set[str]) -> None:
        """A ``params:`` symbol nothing refers to would multiply the space for nothing: refuse it."""
        for name, param in self.params.items():
            if param.origin == "params" and name not in self.uses and name not in readers:
                raise self.error(
                    f"param {name!r} is declared but no layer, expr or constraint uses it: "
                    f"remove it, or use it with {{param: {name}}}",
                    field=f"params.{name}", line=self.symbol_lines.get(name),
                )

    def check_fixed_fields(self, space: Space, template: LayerTemplate) -> None:
        """Refuse at load what no assignment can repair: a layer without parameters must build, and one
        with parameters must build with every open value neutral (kernel, stride, dilation 1, padding 0,
        the field's minimum), which leaves only the fixed fields to fail; so must each option of an op choice."""
        if template.pick is not None or template.resolution is not None:
            return
        head = template.head
        if not template.params:
            try:
                space.build_layer(head.name, {})
            except InvalidAssignment as exc:
                raise ConfigError(exc.message, **exc.facts) from None
            return
        for variant in template.variants.values():
            head = variant.head
            fields = dict(head.fields)
            specs = self.network_loader.field_specs(head.cls, head.type_name, fields, space.convention, head.name, variant.raw, head.line,
                                                    spaces=True)
            for slot in variant.slots:
                spec = specs[slot.field]
                kind = spec.metadata.get("kind")
                neutral = False if kind == "bool" else 0 if kind == "padding" else _NEUTRAL_FIELDS.get(slot.field, spec.metadata.get("min", 0))
                if slot.position is None:
                    fields[slot.field] = neutral
                else:
                    if fields[slot.field] is head.fields[slot.field]:
                        fields[slot.field] = list(fields[slot.field])
                    fields[slot.field][slot.position] = neutral
            self.network_loader.layer_fields(head.cls, head.type_name, fields, self.ndim, self.convention, head.name, variant.raw, head.line)

    # --- constraints and targets ---------------------------------------------------------------

    def constraints(self, raw: Any, data: Any, readers: set[str]) -> tuple[SpaceConstraint, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.error(f"'constraints' must be a list of expressions (strings), got {show_config_value(raw)}",
                             field="constraints", line=line_of(data, "constraints"))
        parsed = []
        for index, text in enumerate(raw):
            line = line_of(raw, index) or line_of(data, "constraints")
            if not isinstance(text, str):
                raise self.error(f"constraint #{index + 1} must be a string (quote it in YAML), got {show_config_value(text)}",
                                 field="constraints", line=line)
            try:
                expression = parse_expression(text, self.params, self.text_names(self.params))
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
            raise self.error(f"'targets' must be a list like [{{node: b1, size: 7, at: 224}}], got {show_config_value(raw)}",
                             field="targets", line=line_of(data, "targets"))
        return tuple(self.target(item, index, line_of(raw, index) or line_of(data, "targets"), graph) for index, item in enumerate(raw))

    def target(self, raw: Any, index: int, line: int | None, graph: nx.DiGraph) -> Target:
        label = f"target #{index + 1}"
        where: dict[str, Any] = {"field": "targets", "line": line}
        allowed = ("node", "size", "at", "stride", "receptive_field")
        if not isinstance(raw, Mapping):
            raise self.error(f"{label} must be a mapping like {{node: b1, size: 7, at: 224}}, got {show_config_value(raw)}", **where)
        for key in raw:
            if key not in allowed:
                raise self.error(f"{label}: unknown key {key!r}{did_you_mean(str(key), allowed)} (allowed: {', '.join(allowed)})", **where)
        node = raw.get("node")
        if not isinstance(node, str) or node not in graph or node == INPUT:
            hint = did_you_mean(str(node), [n for n in graph if n != INPUT]) if isinstance(node, str) else ""
            raise self.error(f"{label}: 'node' must name a layer, got {show_config_value(node)}{hint}", **where)
        label = f"{label} ({node})"
        if ("size" in raw) != ("at" in raw):
            raise self.error(f"{label}: 'size' and 'at' go together (the output size at an input size)", **where)
        if not {"size", "stride", "receptive_field"} & set(raw):
            raise self.error(f"{label} needs 'size' (with 'at'), 'stride' or 'receptive_field'", **where)
        size = self.per_axis(raw["size"], f"{label}: size", where) if "size" in raw else None
        at = self.per_axis(raw["at"], f"{label}: at", where) if "at" in raw else None
        stride = raw.get("stride")
        if stride is not None and (not _is_int(stride) or stride < 1):
            raise self.error(f"{label}: stride must be an integer >= 1, got {show_config_value(stride)}", **where)
        field_range = self.receptive_field(raw["receptive_field"], label, where) if "receptive_field" in raw else None
        return Target(node, size, at, None if stride is None else int(stride), field_range, line)

    def per_axis(self, value: Any, label: str, where: dict[str, Any]) -> tuple[int, ...]:
        items = value if isinstance(value, list) else [value]
        if len(items) not in (1, self.ndim) or not all(_is_int(v) and v >= 1 for v in items):
            raise self.error(f"{label} must be an integer >= 1 or a list of {self.ndim} (one per axis), got {show_config_value(value)}", **where)
        return tuple(int(v) for v in items) * (self.ndim if len(items) == 1 else 1)

    def receptive_field(self, value: Any, label: str, where: dict[str, Any]) -> tuple[int | None, int | None]:
        if _is_int(value):
            value = {"min": value, "max": value}
        if not isinstance(value, Mapping) or not value or not set(value) <= {"min", "max"}:
            raise self.error(
                f"{label}: receptive_field is an integer or {{min: a, max: b}} (either may be left out), got {show_config_value(value)}", **where
            )
        low, high = value.get("min"), value.get("max")
        for bound in (low, high):
            if bound is not None and (not _is_int(bound) or bound < 1):
                raise self.error(f"{label}: receptive_field bounds must be integers >= 1, got {show_config_value(value)}", **where)
        if low is not None and high is not None and low > high:
            raise self.error(f"{label}: receptive_field needs min <= max, got {show_config_value(value)}", **where)
        return (None if low is None else int(low), None if high is None else int(high))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
