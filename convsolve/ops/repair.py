"""Repair: the smallest change of kernel / stride / padding / dilation that makes a network valid.

The network's repairable fields become parameters of a search space whose values are a
neighbourhood of the current ones (:data:`DEFAULT_CANDIDATES`, or the user's); giving a parameter a
value other than its current one costs the weight of its kind. The cheapest valid assignment
(:func:`convsolve.solve.cheapest.cheapest`) is the repair: fewest weighted changes first, then the
smallest total numeric change, over the whole input range (merges included) — optimal, not a guess.
The repaired config is the user's own file with only the changed values edited (comments, key
order and formatting kept), and it is re-checked before it is returned.

Example:
    >>> from convsolve.io.config import read_config
    >>> data = read_config("configs/seed/kernel_larger_than_input.yaml")
    >>> result = repair(data, source="kernel_larger_than_input.yaml")
    >>> result.status, [str(change) for change in result.changes]
    ('repaired', ['conv.padding: 0 -> 1'])
"""

from __future__ import annotations

import copy
import keyword
from os import PathLike
from pathlib import Path
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..diagnose import input_fix
from ..inference import ValidSizes
from ..errors import UsageError
from ..io.config import read_config
from ..io.edit import apply_edits
from ..network import AXIS_NAMES, Network
from ..sizesets import SizeRange
from ..solve.cheapest import CheapestSearch, cheapest
from ..space import Space
from .compute import Cost, network_cost, show_count
from .targets import stride_targets, unmet_targets

__all__ = ["KINDS", "DEFAULT_CANDIDATES", "DEFAULT_WEIGHTS", "Change", "RepairOptions", "RepairResult", "repair"]

KINDS = ("kernel", "stride", "padding", "dilation", "output_padding")
"""The fields a repair may change, in the order they are reported."""

DEFAULT_CANDIDATES: dict[str, tuple[int, ...]] = {
    "kernel": (1, 3, 5, 7, 9, 11),
    "stride": (1, 2, 3, 4),
    "padding": (0, 1, 2, 3, 4, 5),
    "dilation": (1,),
    "output_padding": (0, 1),
}
"""Values tried for each kind besides the current one. Default paddings stay within ``kernel // 2``
(the "same" padding of an odd kernel), unless the current padding is already larger. A dilation is
not introduced unless asked for (``--candidates dilation=1,2,3``): it is rarely the intended fix and
triples the combinations of every convolution."""

DEFAULT_WEIGHTS: dict[str, int] = {kind: 1 for kind in KINDS}

DEFAULT_MAX_MACS_RATIO = 2.0
"""A repair multiplying the network's MACs (at the largest input size) by more is shown with a warning."""

SHIFT_SCALE = 1 << 24
"""Costs are ``weight * SHIFT_SCALE + |new - old|``: weighted changes first, numeric change as the tie-break."""


@dataclass(frozen=True)
class RepairOptions:
    """What a repair may change: kinds (``allow``), layers left alone (``freeze``), weights and candidate values."""

    allow: frozenset[str] = frozenset(KINDS)
    freeze: frozenset[str] = frozenset()
    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    candidates: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: dict(DEFAULT_CANDIDATES))
    max_macs_ratio: float = DEFAULT_MAX_MACS_RATIO
    """A repair multiplying the compute by more is shown with a warning."""
    keep_stride: bool = False
    """Every layer keeps its total stride (a target per layer, see :func:`convsolve.ops.targets.stride_targets`)."""

    @classmethod
    def parse(
        cls, allow: str | None = None, freeze: str | None = None, weights: str | None = None, candidates: Sequence[str] = (),
        max_macs_ratio: float = DEFAULT_MAX_MACS_RATIO, keep_stride: bool = False,
    ) -> RepairOptions:
        """Options from the command-line spellings ``padding,stride``, ``stem,head``, ``kernel=2,stride=3``, ``kernel=1,3,5``.

        Example:
            >>> RepairOptions.parse(allow="padding", weights="padding=2").weights["padding"]
            2
        """
        kinds = set(KINDS) if allow is None else {k.strip() for k in allow.split(",") if k.strip()}
        if not kinds:
            raise UsageError(f"--allow {allow!r} names no kind; give one or more of {', '.join(KINDS)}, or leave --allow out "
                             "to allow every kind", field="--allow")
        unknown = kinds - set(KINDS)
        if unknown:
            raise UsageError(f"unknown kind {sorted(unknown)[0]!r}; the kinds are {', '.join(KINDS)}", field="--allow")
        frozen = frozenset() if freeze is None else frozenset(n.strip() for n in freeze.split(",") if n.strip())
        weight_map = dict(DEFAULT_WEIGHTS) | parse_weights(weights)
        values = dict(DEFAULT_CANDIDATES)
        for item in candidates:
            kind, text = _kind_and_text(item, "--candidates")
            try:
                values[kind] = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
            except ValueError:
                raise UsageError(f"{item!r}: give integers, like kernel=1,3,5", field="--candidates") from None
            if not values[kind] or min(values[kind]) < 0:
                raise UsageError(f"{item!r}: give one or more non-negative integers", field="--candidates")
        if not (0 < max_macs_ratio < float("inf")):
            raise UsageError(f"--max-macs-ratio must be a number above 0, got {max_macs_ratio:g}", field="--max-macs-ratio")
        return cls(frozenset(kinds), frozen, weight_map, values, max_macs_ratio, keep_stride)


def parse_weights(text: str | None, kinds_only: bool = True) -> dict[str, int]:
    """``--weights``: ``kernel=2,stride=3`` -> ``{"kernel": 2, "stride": 3}``; with ``kinds_only=False`` a name may
    also be a parameter (``b1.stride=3``), which the caller checks.

    Example:
        >>> parse_weights("b1.stride=3,kernel=2", kinds_only=False)
        {'b1.stride': 3, 'kernel': 2}
    """
    weights: dict[str, int] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        if kinds_only:
            name, value = _kind_and_text(item, "--weights")
        else:
            name, _, value = (part.strip() for part in item.partition("="))
        if not name or not value.isascii() or not value.isdigit():
            raise UsageError(f"{item.strip()!r}: expected NAME=WEIGHT with a non-negative integer weight, like kernel=2", field="--weights")
        if len(value.lstrip("0")) > len(str(MAX_WEIGHT)) or int(value) > MAX_WEIGHT:
            raise UsageError(f"{name}={_shortened(value)}: a weight is at most {MAX_WEIGHT:,}", field="--weights")
        weights[name] = int(value)
    return weights


MAX_WEIGHT = 1_000_000
"""The largest cost of changing one value (``--weights``): a repair's total cost stays well inside 64 bits."""


def _shortened(text: str, keep: int = 20) -> str:
    return text if len(text) <= keep else f"{text[:keep]}... ({len(text):,} digits)"


def _kind_and_text(item: str, option: str) -> tuple[str, str]:
    kind, sep, text = item.partition("=")
    kind = kind.strip()
    if not sep or kind not in KINDS:
        raise UsageError(f"{item!r} is not KIND=VALUE with KIND one of {', '.join(KINDS)}", field=option)
    return kind, text.strip()


@dataclass(frozen=True)
class Change:
    """One changed value: layer, field, axis (None for every axis), before and after."""

    node: str
    field: str
    axis: str | None
    before: int
    after: int

    def __str__(self) -> str:
        axis = f" ({self.axis})" if self.axis else ""
        return f"{self.node}.{self.field}{axis}: {self.before} -> {self.after}"

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "field": self.field, "axis": self.axis, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class RepairResult:
    """The outcome: ``valid`` (nothing to do), ``repaired`` or ``unrepairable``, and the facts behind it."""

    source: str | None
    status: str
    input: str
    changes: tuple[Change, ...] = ()
    cost: int = 0
    """The weighted number of changes."""
    shift: int = 0
    """The total numeric change, the tie-break between repairs of equal cost."""
    valid_before: str = ""
    valid_after: str = ""
    edits: tuple[tuple[tuple[Any, ...], Any], ...] = ()
    """The changed values as (path in the config, new value): what a writer edits in the user's file."""
    conflict: tuple[str, ...] = ()
    """When unrepairable: a smallest set of layers whose restrictions (frozen, kinds not allowed) conflict."""
    input_fix: str = ""
    """When unrepairable: the input sizes at which the unchanged network is valid."""
    reason: str = ""
    cost_before: Cost | None = None
    """MACs and weights of the network as given, at the largest size of the input range (None: invalid there)."""
    cost_after: Cost | None = None
    """The same of the repaired network."""
    max_macs_ratio: float = DEFAULT_MAX_MACS_RATIO
    """The compute ratio past which the repair is shown with a warning."""
    original: Any = field(default=None, repr=False, compare=False)
    """The user's config the edits apply to (kept by reference, never changed)."""

    @cached_property
    def config(self) -> Any:
        """The repaired config (a copy of the user's data with the changed values edited) when repaired, else None.

        Made on first use: a batch writes the edits into the file's text and never needs it.
        """
        if self.status != "repaired" or self.original is None:
            return None
        repaired = copy.deepcopy(self.original)
        apply_edits(repaired, self.edits)
        return repaired

    def __str__(self) -> str:
        name = self.source or "network"
        if self.status == "valid":
            return f"{name}: already valid over {self.input}: {self.valid_before}; nothing to change"
        if self.status == "repaired":
            lines = [f"{name}: repaired with {len(self.changes)} change{'s' * (len(self.changes) != 1)} "
                     f"(cost {self.cost}, total change {self.shift})"]
            lines += [f"  {change}" for change in self.changes]
            lines.append(f"  valid input sizes over {self.input}: before {self.valid_before}; after {self.valid_after}")
            lines += self._cost_lines()
            return "\n".join(lines)
        lines = [f"{name}: cannot be repaired over {self.input}: {self.reason}"]
        if self.conflict:
            lines.append(f"  smallest set of layers in conflict: {', '.join(self.conflict)} "
                         "(unfreezing one of them, or allowing every kind in it, makes a repair possible)")
        if self.input_fix:
            lines.append(f"  the unchanged network is valid at {self.input_fix}")
        return "\n".join(lines)

    @property
    def macs_ratio(self) -> float | None:
        """The repaired network's MACs over the given one's, at the largest input size (None when either is unknown)."""
        if self.cost_before is None or self.cost_after is None or not self.cost_before.macs:
            return None
        return self.cost_after.macs / self.cost_before.macs

    def _cost_lines(self) -> list[str]:
        after = self.cost_after
        if after is None:
            return []
        at = "x".join(map(str, after.size))
        before = self.cost_before
        if before is None:
            return [f"  compute at {at}: {show_count(after.macs)}MACs, {show_count(after.weights)} weights (the given network "
                    "is invalid there)"]
        ratio = self.macs_ratio
        lines = [f"  compute at {at}: {show_count(before.macs)}MACs -> {show_count(after.macs)}MACs"
                 + (f" (x{ratio:.3g})" if ratio is not None else "")
                 + f"; weights {show_count(before.weights)} -> {show_count(after.weights)}"]
        if ratio is not None and ratio > self.max_macs_ratio:
            lines.append(f"  warning: this repair multiplies the compute by {ratio:.3g}, more than --max-macs-ratio "
                         f"{self.max_macs_ratio:g}; --allow padding (or other kinds), --weights, or the input plan "
                         "(convsolve sizes FILE --nearest SIZE) may cost less")
        return lines

    def to_dict(self) -> dict[str, Any]:
        costs = {
            f"{key}_{when}": getattr(value, key) if value is not None else None
            for when, value in (("before", self.cost_before), ("after", self.cost_after)) for key in ("macs", "weights")
        }
        return {
            "file": self.source, "status": self.status, "input": self.input, "cost": self.cost, "shift": self.shift,
            "changes": [c.to_dict() for c in self.changes], "valid_before": self.valid_before,
            "valid_after": self.valid_after, "conflict": list(self.conflict), "input_fix": self.input_fix,
            "reason": self.reason, **costs, "macs_ratio": self.macs_ratio,
        }


@dataclass(frozen=True)
class _Site:
    """Where a repair parameter lives: layer index and name, field, axis position (None: every axis)."""

    index: int
    node: str
    field: str
    position: int | None
    before: int


def repair(
    data: Any, *, source: str | None = None, options: RepairOptions | None = None,
    input_ranges: Sequence[SizeRange] | None = None, tied: bool = True,
    on_step: Callable[[int, int], None] | None = None,
) -> RepairResult:
    """The cheapest repair of the network config ``data`` (a parsed mapping, or the path of a YAML or JSON config) over
    its input range (or ``input_ranges``).

    ``data`` is left untouched; a repaired result carries an edited copy in ``config``.
    Raises ConfigError when ``data`` is not a valid network config.
    """
    if isinstance(data, (str, PathLike)):
        source = source or str(data)
        data = read_config(Path(data))
    options = options or RepairOptions()
    network = _network(data, source, input_ranges, tied)
    unknown = sorted(options.freeze - set(network.order))
    if unknown:
        raise UsageError(f"--freeze: no layer named {unknown[0]!r} in {source or 'the network'}", field="--freeze")
    inferred = network.infer()  # valid_mask is all False when a layer has a static problem
    before = inferred.valid_sizes()
    described = network.input.describe()
    if inferred.valid_mask().all() and not unmet_targets(data, network):
        return RepairResult(source, "valid", described, valid_before=str(before), valid_after=str(before))
    space, sites = _repair_space(data, source, network, options, relaxed=())
    costs = {
        name: {value: 0 if value == site.before else options.weights[site.field] * SHIFT_SCALE + abs(int(value) - site.before)
               for value in space.params[name].values}  # (a repair's fields are integers)
        for name, site in sites.items()
    }
    found = cheapest(space, costs, on_step)
    if found is None:
        return _unrepairable(data, source, network, options, described, before, on_step)
    changes = tuple(
        Change(site.node, site.field, _axis_name(network.ndim, site.position), site.before, int(found.assignment[name]))
        for name, site in sites.items() if found.assignment[name] != site.before
    )
    edits = _edits(network, data, sites, found.assignment)
    after = network.with_fields_of(_edited_view(data, edits), {path[1] for path, _ in edits}).infer()
    if not after.valid_mask().all():  # the programme and the inference disagree: never hand out a broken file
        raise RuntimeError(f"internal error: the repair of {source or 'the network'} does not check as valid; please report it")
    reference = [r.hi for r in network.input.ranges]  # the largest input size: where compute matters most
    repaired = network.with_fields_of(_edited_view(data, edits), {path[1] for path, _ in edits})
    return RepairResult(
        source, "repaired", described, changes, found.cost // SHIFT_SCALE, found.cost % SHIFT_SCALE,
        str(before), str(after.valid_sizes()), edits, cost_before=network_cost(network, reference),
        cost_after=network_cost(repaired, reference), max_macs_ratio=options.max_macs_ratio, original=data,
    )


def _edited_view(data: Any, edits: Sequence[tuple[tuple[Any, ...], Any]]) -> Any:
    """``data`` with ``edits`` applied, for checking: the edited layers (and their lists) are copies, the rest is shared."""
    layers = list(data["layers"])
    for index in sorted({path[1] for path, _ in edits}):
        layers[index] = {key: list(value) if isinstance(value, list) else value for key, value in layers[index].items()}
    view = {**data, "layers": layers}
    apply_edits(view, edits)
    return view


def _network(data: Any, source: str | None, ranges: Sequence[SizeRange] | None, tied: bool) -> Network:
    network = Network.from_config(data, source=source)
    return network if ranges is None else network.with_input(ranges, tied)


def _axis_name(ndim: int, position: int | None) -> str | None:
    return None if position is None else AXIS_NAMES[ndim][position]


def _current(network: Network, node: str, kind: str, raw: Mapping[str, Any]) -> tuple[int, ...] | None:
    """The field's value per axis, or None when it cannot be repaired (a padding word, uneven pads)."""
    layer = network.layer(node)
    value = getattr(layer, kind, None)
    if value is None:
        return None
    if kind == "padding":
        written = raw.get("padding")
        if isinstance(written, str) and written.lower() != "valid":
            return None
        if value.dynamic or any(b != a for b, a in value.pairs):
            return None
        return tuple(b for b, _ in value.pairs)
    return tuple(value)


def _repair_space(
    data: Any, source: str | None, network: Network, options: RepairOptions, relaxed: Iterable[str],
) -> tuple[Space, dict[str, _Site]]:
    """The search space around the network's current values, and where each of its parameters lives.

    Layers in ``relaxed`` may change every kind, frozen or not (the conflict search uses this).
    Each open value is a ``{choice: ...}`` named ``<layer>.<kind>`` (``<layer>.<kind>.<axis>`` per
    axis), so layers written alike with equal candidates are twins the solver builds once (see
    :func:`~convsolve.solve.plan.make_plan`); a layer whose name an expression cannot spell takes
    ``params:`` symbols instead. Either way the parameters come in the same order — layers in config
    order, kinds in :data:`KINDS` order — so the repair found is the same. The spec is built from
    shallow copies: ``data`` is neither copied whole nor changed.
    """
    relaxed = set(relaxed)
    layers = list(data["layers"])
    spec: dict[str, Any] = {**data, "layers": layers}
    params: dict[str, Any] = {}
    constraints: list[str] = []
    sites: dict[str, _Site] = {}
    for index, raw in enumerate(data["layers"]):
        node = raw["name"]
        layer = network.layer(node)
        if not layer.tunable:
            continue
        kinds = set(KINDS) if node in relaxed else (set() if node in options.freeze else set(options.allow))
        fields = set(layer.tunable) & set(layer.config_fields(layer.type)) - layer.fields_unknown_to(layer.type, network.convention)
        symbols = not _spellable(node)
        written: dict[str, Any] = {}  # the open kinds' markers, added after the other fields in KINDS order
        names: dict[str, list[str]] = {}
        for kind in KINDS:
            current = _current(network, node, kind, raw)
            if current is None or kind not in fields:
                continue
            if kind not in kinds:
                if layer.stride_defaults_to_kernel and kind == "stride" and "stride" not in raw:
                    written[kind] = list(current)  # keep the stride when the kernel changes
                continue
            per_axis = isinstance(raw.get(kind), list) and len(set(current)) > 1
            positions: list[int | None] = list(range(len(current))) if per_axis else [None]
            markers: list[dict[str, Any]] = []
            for position in positions:
                before = current[position or 0]
                values = sorted(set(options.candidates[kind]) | {before})
                if symbols:
                    name = f"p{len(sites)}"
                    params[name] = {"choice": values}
                    markers.append({"param": name})
                else:
                    name = f"{node}.{kind}" + ("" if position is None else f".{AXIS_NAMES[network.ndim][position]}")
                    markers.append({"choice": values})
                sites[name] = _Site(index, node, kind, position, before)
                names.setdefault(kind, []).append(name)
            written[kind] = markers if per_axis else markers[0]
        if written:
            layers[index] = {key: value for key, value in raw.items() if key not in written} | written
        if "padding" in names and layer.candidate_padding_within_half_kernel and options.candidates["padding"] == DEFAULT_CANDIDATES["padding"]:
            for axis, name in enumerate(names["padding"]):
                kernel = names.get("kernel", [])
                bound = f"{kernel[min(axis, len(kernel) - 1)]} // 2" if kernel else str(max(getattr(layer, "kernel")) // 2)
                constraints.append(f"{name} <= {bound} or {name} == {sites[name].before}")
    if params:
        spec["params"] = params
    if constraints:
        spec["constraints"] = constraints
    if options.keep_stride:  # the config's own targets (carried in spec), and every layer's total stride as it is
        spec["targets"] = list(data.get("targets") or []) + stride_targets(network)
    space = Space.from_config(spec, source=source)
    return space.with_input(network.input.ranges, network.input.tied), sites


def _spellable(node: str) -> bool:
    """Whether ``<node>.kernel`` can be written in a constraint (dotted ASCII identifiers, no keywords)."""
    return all(part.isascii() and part.isidentifier() and not keyword.iskeyword(part) for part in node.split("."))


def _edits(network: Network, data: Any, sites: Mapping[str, _Site], assignment: Mapping[str, Any]) -> tuple[tuple[tuple[Any, ...], Any], ...]:
    """The changed values as (path in the config, new value), in config order."""
    edits: list[tuple[tuple[Any, ...], Any]] = []
    for name, site in sites.items():
        value = int(assignment[name])
        if value != site.before:
            edits.append((("layers", site.index, site.field) + (() if site.position is None else (site.position,)), value))
    changed = {path[1] for path, _ in edits}
    for index in sorted(changed):
        raw = data["layers"][index]
        layer = network.layer(raw["name"])
        touched = {path[2] for path, _ in edits if path[1] == index}
        if layer.stride_defaults_to_kernel and "stride" not in raw and "kernel" in touched and "stride" not in touched:
            stride = list(getattr(layer, "stride"))
            edits.append((("layers", index, "stride"), stride[0] if len(set(stride)) == 1 else stride))  # it defaulted to the old kernel
    return tuple(edits)


def _unrepairable(
    data: Any, source: str | None, network: Network, options: RepairOptions, described: str, before: ValidSizes,
    on_step: Callable[[int, int], None] | None,
) -> RepairResult:
    """Why no allowed change works: a smallest conflicting set of restricted layers, and the input that would do."""
    fix = input_fix(network, before)
    layers = [raw["name"] for raw in data["layers"] if network.layer(raw["name"]).tunable]
    unrestricted = set(options.allow) == set(KINDS) and not options.freeze  # then relaxing changes nothing: known infeasible
    if unrestricted:
        return _beyond_repair(source, described, before, fix)
    # One space in which every layer may change every kind serves every question: keeping a set of layers
    # restricted is possible exactly when the cheapest assignment that changes their restricted values
    # at cost 1 each costs 0. The search is built once, and asked for cost 0 only.
    space, sites = _repair_space(data, source, network, options, relaxed=layers)
    search = CheapestSearch(space, on_step)

    def feasible(restricted: Iterable[str]) -> bool:
        kept = set(restricted)
        costs = {
            name: {value: int(value != site.before) for value in space.params[name].values}
            for name, site in sites.items()
            if site.node in kept and (site.node in options.freeze or site.field not in options.allow)
        }
        return search.run(costs, at_most=0) is not None

    if not feasible(()):
        return _beyond_repair(source, described, before, fix)
    restricted = [node for node in layers if node in options.freeze or set(options.allow) != set(KINDS)]
    conflict = list(restricted)
    for node in restricted:  # deletion: keep a layer only if relaxing it makes a repair possible
        trial = [n for n in conflict if n != node]
        if not feasible(trial):
            conflict = trial
    allowed = ", ".join(k for k in KINDS if k in options.allow) or "nothing"
    frozen = sorted(options.freeze)
    reason = f"no change of {allowed}" + (f" outside the frozen layers {', '.join(frozen)}" if frozen else "") + " makes it valid"
    return RepairResult(source, "unrepairable", described, valid_before=str(before), conflict=tuple(conflict), input_fix=fix, reason=reason)


def _beyond_repair(source: str | None, described: str, before: ValidSizes, fix: str) -> RepairResult:
    """Unrepairable even with every kind of every layer free to change."""
    reason = f"no change of {', '.join(KINDS)} in any layer makes it valid"
    return RepairResult(source, "unrepairable", described, valid_before=str(before), input_fix=fix, reason=reason)
