"""The elimination plan: the order in which a space's layers and parameters are decided.

Layers are taken in topological order. A parameter is decided at the first layer that uses it; a
constraint is checked at the step where its last parameter is decided. Between two steps only what
later steps still read is remembered — the *frontier*: the outputs of layers not yet consumed by all
their readers, and the parameters that later layers or constraints still read. A frontier state is
all that flows downstream, so counting, sampling and enumerating are one dynamic programme over it.
A later layer that acts alike for every value of a parameter (a conv padded by ``kernel // 2``
reusing a shared kernel) does not count as a reader: it builds its layer with any value, and the
parameter is not remembered for it (a UNet's five level kernels multiplied its states by 32).

Each remembered output is tracked at the input sizes that matter, as the layers declare (the layer
contract, :class:`~convsolve.layers.Layer`). When every layer from the network input up to a layer is
:meth:`~convsolve.layers.Layer.non_decreasing` in the input size and the layer's validity is
:meth:`~convsolve.layers.Layer.upward_closed`, a layer valid at the smallest input of the range is valid
at all of them: its output is *probed*, kept only at the smallest size (and at target sizes). Anything
else is checked at *every* size of the range: exact equalities (merges, ``in_features``, divisibility, a
transposed conv's ``output_size``), any layer that does not declare its validity upward-closed, and every
layer downstream of one that does not declare its output non-decreasing, up to a constant-output layer.
Outputs feeding such a check, through any layer that passes sizes on, are tracked at every size too.

Example:
    >>> plan = make_plan(space)          # doctest: +SKIP
    >>> [step.node for step in plan.steps][:2]   # doctest: +SKIP
    ['stem', 'pool']
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx
import numpy as np

from ..errors import ConfigError, InvalidAssignment, SolverLimit
from ..inference import Sweep
from ..layers import Layer, Merge
from ..network import INPUT
from ..space import INACTIVE, local_name

__all__ = ["Step", "Plan", "make_plan", "local_name"]


@dataclass(frozen=True)
class Step:
    """Deciding one layer: the parameters first chosen here and what is remembered afterwards."""

    index: int
    node: str
    inputs: tuple[str, ...]
    new_params: tuple[str, ...]
    old_params: tuple[str, ...]
    """Parameters this step reads that earlier steps decided (layer fields and constraints)."""
    layer_params: tuple[str, ...]
    constraints: tuple[int, ...]
    targets: tuple[Any, ...]
    live_tensors: tuple[str, ...]
    """Outputs remembered after this step, in topological order."""
    live_params: tuple[str, ...]
    """Parameters remembered after this step, in decision order."""
    combos: np.ndarray
    """Every combination of the new parameters, as value indices (rows), in domain order."""
    plain_merge: bool
    """An add/mul/concat without broadcasting: its output agrees with its inputs exactly when their sizes are equal."""
    twin: str
    """The first layer written the same way as this one (itself if none): see :func:`_twins`."""
    assumed: tuple[tuple[str, int], ...] = ()
    """Parameters decided before whose value this layer does not notice (see :func:`_unnoticed`), each with
    the value index its layer is built with: they are not remembered for it."""


@dataclass(frozen=True)
class Plan:
    """The steps, the sweep of input sizes, and where each remembered output is tracked."""

    steps: tuple[Step, ...]
    params: tuple[str, ...]
    """All parameters in decision order."""
    domains: dict[str, tuple[Any, ...]]
    sweep: Sweep
    full: frozenset[str]
    """Outputs tracked at every input size of the range; the others only at ``probes``."""
    flat: frozenset[str]
    """Outputs that are flattened feature vectors (after a ``flatten``)."""
    receptive: frozenset[str]
    """Outputs that also carry their jump and receptive field (upstream of a stride or receptive_field target)."""
    probes: tuple[np.ndarray, ...]
    """Per axis, the indices into the sweep kept for probed outputs (the smallest size, target sizes)."""
    initial_live: tuple[str, ...]
    written_as: dict[str, tuple[Any, ...]]
    """Per layer, how it is written apart from its parameters' names (rank, convention, type, fields, slots,
    domains): layers written alike, in any space, build equal layers from the same parameter values."""

    def points(self, node: str) -> tuple[np.ndarray, ...]:
        """Per axis, the sweep indices at which ``node``'s output is tracked."""
        return self.every_point if node in self.full else self.probes

    @cached_property
    def every_point(self) -> tuple[np.ndarray, ...]:
        """Per axis, every sweep index: where an output tracked at every size is tracked."""
        return tuple(np.arange(len(a)) for a in self.sweep.axes)


def make_plan(space: Any, narrowed: dict[str, Sequence[Any]] | None = None) -> Plan:
    """The plan for ``space`` (optionally with ``narrowed`` domains for some parameters)."""
    domains: dict[str, tuple[Any, ...]] = {
        name: tuple(narrowed[name]) if narrowed and name in narrowed else param.domain for name, param in space.params.items()
    }
    graph = space.graph
    written = {node: i for i, node in enumerate(graph.nodes)}
    # the config's own order where the graph allows: a merge then follows its branches directly
    if all(written[source] < written[node] for source, node in graph.edges):  # already topological: that order
        order = [n for n in graph.nodes if n != INPUT]
    else:
        order = [n for n in nx.lexicographical_topological_sort(graph, key=written.__getitem__) if n != INPUT]
    sampled: dict[str, list[Layer]] = {}  # each node's kinds of layer, built once for every use below

    def sample(node: str) -> list[Layer]:
        if node not in sampled:
            sampled[node] = _sample_layers(space, node, domains)
        return sampled[node]

    channels = _Channels(space, domains)
    passed = _passed_on(space, order, sample, channels)
    if all(node in passed for node in order) and any(space.layer_params(node) for node in order):
        # no step would be left to decide the ops: the last layer reading one stays a step
        passed = _passed_on(space, order, sample, channels, keep=[node for node in order if space.layer_params(node)][-1])
    inputs_of = {node: tuple(passed.get(name, name) for name in space.graph.nodes[node]["inputs"]) for node in order}
    written_order = order
    order = [node for node in order if node not in passed]
    position = {node: i + 1 for i, node in enumerate(order)}
    uses = {node: tuple(space.layer_params(node)) for node in order}
    intro: dict[str, int] = {}
    for node in order:
        for name in uses[node]:
            intro.setdefault(name, position[node])
    following = len(order)  # a parameter only layers passed on read (an op every option of which keeps the shape)
    for node in reversed(written_order):  # is decided at the next step, where nothing remembers it
        if node in position:
            following = position[node]
        else:
            for name in space.layer_params(node):
                intro.setdefault(name, max(following, 1))
    for name in space.params:
        intro.setdefault(name, 1)
    declared = {name: i for i, name in enumerate(space.params)}
    params = tuple(sorted(space.params, key=lambda name: (intro[name], declared[name])))
    completes = [max((intro[n] for n in c.expression.names), default=1) for c in space.constraints]
    checked_names: dict[int, set[str]] = {}
    for constraint, step in zip(space.constraints, completes):
        checked_names.setdefault(step, set()).update(constraint.expression.names)
    kept = [INPUT] + order
    consumers: dict[str, list[str]] = {node: [] for node in kept}
    for node in order:
        for source in inputs_of[node]:
            consumers[source].append(node)
    last_consumed = {node: max((position[c] for c in consumers[node]), default=0) for node in kept}
    twins, written_as = _twins(space, order, domains)
    samples: dict[str, list[Layer]] = {}
    for node in order:
        samples[node] = samples[twins[node]] if twins[node] != node else sample(node)
    full = _full_nodes(order, inputs_of, consumers, samples)
    flat: set[str] = set()
    for node in order:
        if any(layer.family == "flatten" for layer in samples[node]) or inputs_of[node][0] in flat:
            flat.add(node)
    receptive: set[str] = set()
    for target in space.targets:
        if target.stride is not None or target.receptive_field is not None:
            if target.node in flat:
                raise ConfigError("stride and receptive_field targets need a spatial output, not a flattened one",
                                  file=space.source, node=target.node, field="targets")
            receptive |= nx.ancestors(space.graph, target.node) | {target.node}
    targeted = {target.node for target in space.targets}
    unnoticed = {
        (node, name) for node in order if node not in receptive and node not in targeted
        for name in uses[node] if intro[name] < position[node] and name not in checked_names.get(position[node], ())
        and _unnoticed(space, node, name, domains, channels)
    }
    last_read = dict(intro)
    for node in order:
        for name in uses[node]:
            if (node, name) not in unnoticed:
                last_read[name] = max(last_read[name], position[node])
    for step_index, names in checked_names.items():
        for name in names:
            last_read[name] = max(last_read[name], step_index)
    sweep = Sweep.over(space.input.ranges, space.input.tied)
    probes = _probe_points(space, sweep)
    # what each step adds, reads and lets go of, grouped by step so that the plan is linear in the layers
    rank = {name: i for i, name in enumerate(params)}
    new_at: dict[int, list[str]] = {}
    for name in params:
        new_at.setdefault(intro[name], []).append(name)
    completing: dict[int, list[int]] = {}
    for index, step_index in enumerate(completes):
        completing.setdefault(step_index, []).append(index)
    targets_of: dict[str, list[Any]] = {}
    for target in space.targets:
        targets_of.setdefault(target.node, []).append(target)
    tensors_done: dict[int, list[str]] = {}
    for node in kept:
        tensors_done.setdefault(last_consumed[node], []).append(node)
    params_done: dict[int, list[str]] = {}
    for name in params:
        params_done.setdefault(last_read[name], []).append(name)
    live_tensors: dict[str, None] = {INPUT: None} if last_consumed[INPUT] > 0 else {}
    live_params: dict[str, None] = {}
    steps = []
    combos_of: dict[tuple[int, ...], np.ndarray] = {}
    for node in order:
        j = position[node]
        new = tuple(new_at.get(j, ()))
        checked = completing.get(j, [])
        reads = {n for n in uses[node] if (node, n) not in unnoticed} | checked_names.get(j, set())
        old = tuple(sorted((p for p in reads if intro[p] < j), key=rank.__getitem__))
        live_tensors[node] = None
        live_params.update(dict.fromkeys(new))
        for name in tensors_done.get(j, []) + ([node] if last_consumed[node] <= j else []):
            live_tensors.pop(name, None)
        for name in params_done.get(j, []):
            live_params.pop(name, None)
        sizes = tuple(len(domains[p]) for p in new)
        if math.prod(sizes) * max(1, len(new)) > MOST_COMBO_VALUES:  # refused before the list is made
            raise SolverLimit(node, f"value indices for the {math.prod(sizes):,} combinations of {', '.join(new)}",
                              math.prod(sizes) * len(new), MOST_COMBO_VALUES)
        combos = combos_of.get(sizes)
        if combos is None:  # one read-only array per domain sizes: a deep chain has a handful
            product = list(itertools.product(*[range(s) for s in sizes]))
            combos = combos_of[sizes] = np.array(product, dtype=np.int64).reshape(len(product), len(new))
            combos.setflags(write=False)
        plain = bool(samples[node]) and all(isinstance(layer, Merge) and layer.requires_equal_sizes() for layer in samples[node])
        steps.append(Step(
            j, node, inputs_of[node], new, old, uses[node], tuple(checked),
            tuple(targets_of.get(node, ())), tuple(live_tensors), tuple(live_params), combos,
            # fused: the inputs' interned sizes compared as ids, which holds only where none carries a jump and field
            plain and not ({node, *inputs_of[node]} & receptive),
            twins[node], tuple((n, 0) for n in uses[node] if (node, n) in unnoticed),
        ))
    initial_live = (INPUT,) if last_consumed[INPUT] > 0 else ()
    return Plan(tuple(steps), params, domains, sweep, frozenset(full | flat), frozenset(flat), frozenset(receptive), probes, initial_live,
                {node: (space.ndim, space.convention.name, key) for node, key in written_as.items()})


MOST_COMBO_VALUES = 20_000_000
"""The most value indices the combinations of one layer's new parameters may take (160 MB): past it, SolverLimit."""

MOST_UNNOTICED_CHECKS = 1024
"""The most layers :func:`_unnoticed` builds for one (layer, parameter): past it the parameter is noticed."""


def _unnoticed(space: Any, node: str, name: str, domains: dict[str, tuple[Any, ...]], channels: _Channels) -> bool:
    """Whether layer ``node`` builds, for every value of the earlier-decided parameter ``name``, layers that act
    alike: for every combination of its other parameters, none valid, or layers of one
    :meth:`~convsolve.layers.Layer.rule_key` (plain convolutions with the same channels, strides and
    ``pb + pe - E`` on every axis: the conv rule reads nothing else), or layers that each keep their input's size
    and make the same channels of every channel count that can reach the node (an op choice whose options all
    keep the size, gated by an op decided far earlier). A UNet's level kernel, padded by ``kernel // 2`` in the
    encoder and again in the decoder, is such a parameter: it need not be remembered from one to the other; so is
    the op of a cell that every later cell shares, where every op keeps the size.
    """
    others = [n for n in space.layer_params(node) if n != name]
    if len(domains[name]) < 2 or len(domains[name]) * math.prod(len(domains[n]) for n in others) > MOST_UNNOTICED_CHECKS:
        return False
    for values in itertools.product(*[domains[n] for n in others]):
        chosen = dict(zip(others, values))
        layers = []
        for value in domains[name]:
            try:
                layer = space.build_layer(node, {**chosen, name: value})
            except InvalidAssignment:
                layer = None
            if layer is not None and layer.static_problems(space.convention):
                return False
            layers.append(layer)
        built = [layer for layer in layers if layer is not None]
        if not built:
            continue
        if len(built) < len(layers):
            return False
        keys = {layer.rule_key() for layer in built}
        if None not in keys and len(keys) == 1:
            continue
        if not all(layer.keeps_size() for layer in built) or not _same_channels(built, channels.possible(node)):
            return False
    return True


def _same_channels(layers: list[Layer], possible: frozenset[int] | None) -> bool:
    """Whether ``layers`` make the same channels (or all refuse) from every channel count in ``possible``."""
    if possible is None:
        return False
    for count in possible:
        made: set[int | None] = set()
        for layer in layers:
            try:
                made.add(layer.out_channels_for(count))
            except ValueError:
                made.add(None)
        if len(made) > 1:
            return False
    return True


class _Channels:
    """The channel counts that can reach each layer, found when first asked (None: too many to list, or flattened)."""

    MOST = 64

    def __init__(self, space: Any, domains: dict[str, tuple[Any, ...]]) -> None:
        self.space, self.domains = space, domains
        self.made: dict[str, frozenset[int] | None] = {INPUT: frozenset({space.input.channels})}
        self.pending = iter(space.order[1:])

    def possible(self, node: str) -> frozenset[int] | None:
        """The channel counts reaching ``node``'s first input."""
        source = self.space.inputs_of(node)[0]
        while source not in self.made:  # the space's order is topological: what feeds a layer comes first
            later = next(self.pending)
            self.made[later] = self._made_by(later)
        return self.made[source]

    def _made_by(self, node: str) -> frozenset[int] | None:
        sources = [found for source in self.space.inputs_of(node) if (found := self.made[source]) is not None]
        if len(sources) < len(self.space.inputs_of(node)):
            return None
        names = self.space.layer_params(node)
        combos = list(itertools.islice(itertools.product(*[self.domains[n] for n in names]), MOST_UNNOTICED_CHECKS + 1))
        if len(combos) > MOST_UNNOTICED_CHECKS or math.prod(len(s) for s in sources) > MOST_UNNOTICED_CHECKS:
            return None
        made: set[int] = set()
        for values in combos:
            try:
                layer = self.space.build_layer(node, dict(zip(names, values)))
            except InvalidAssignment:
                continue
            if layer.family in ("flatten", "linear"):
                return None
            for counts in itertools.product(*sources):
                try:
                    made.add(int(layer.merged_channels(list(counts))) if isinstance(layer, Merge) else layer.out_channels_for(counts[0]))
                except ValueError:
                    continue
            if len(made) > self.MOST:
                return None
        return frozenset(made)


def _passed_on(
    space: Any, order: list[str], sample: Callable[[str], list[Layer]], channels: _Channels, keep: str | None = None,
) -> dict[str, str]:
    """Layers that pass their input on unchanged -> the step whose output they pass on.

    An activation, a normalisation without groups or a dropout (a shape-preserving layer with no
    parameters and no target) never fails and leaves channels and sizes as they are: it is no step of
    the programme, and its readers read its input. Of a generated ResNet-style config's 17 steps, 5 are
    activations. So is a layer of an op choice or of a gated copy, with no parameter of its own, whose
    every layer keeps the size and the channels that reach it (a cell's stride-1 separable conv, a pool
    padded to keep the size, and the input passed on when another op is chosen): most of a DARTS cell.
    """
    targeted = {target.node for target in space.targets}
    receptive = set()  # nodes whose jump and field a target reads: a conv widens the field where it keeps the size
    for target in space.targets:
        if target.stride is not None or target.receptive_field is not None:
            receptive |= nx.ancestors(space.graph, target.node) | {target.node}
    passed: dict[str, str] = {}
    for node in order:
        template = space.template(node)
        structure = {gate.param for gate in template.gates} | ({template.switch} if template.switch else set())
        if (node in targeted or node == keep or template.own or template.through or (template.pick is not None and template.pick.names)
                or not set(space.layer_params(node)) <= structure):
            continue  # (a layer read only by its gates and op: sample builds it for each of their values)
        layers = sample(node)
        chosen = bool(structure) and node not in receptive
        if layers and (all(layer.passes_input_on() for layer in layers)
                       or (chosen and _acts_as_identity(layers, channels.possible(node), space.convention))):
            source = space.graph.nodes[node]["inputs"][0]
            passed[node] = passed.get(source, source)
    return passed


def _acts_as_identity(layers: list[Layer], possible: frozenset[int] | None, convention: Any) -> bool:
    """Whether each of ``layers`` keeps the size, valid at every size, and gives back every channel count in ``possible``."""
    if possible is None:
        return False
    for layer in layers:
        if not layer.keeps_size() or layer.static_problems(convention):
            return False
        for count in possible:
            try:
                if layer.out_channels_for(count) != count:
                    return False
            except ValueError:
                return False
    return True


def _full_nodes(
    order: list[str], inputs_of: dict[str, tuple[str, ...]], consumers: dict[str, list[str]], samples: dict[str, list[Layer]],
) -> set[str]:
    """Outputs that some check downstream reads at every input size (see the module docstring).

    A layer is checked at every size (its inputs tracked at every size) when it needs an exact check (a
    merge, a flatten, a layer of no buildable kind), when its validity is not upward-closed, or when an
    input's size is not non-decreasing in the network input's. An output feeding a layer whose output is
    tracked at every size is tracked at every size too, unless that layer's output is constant. A node
    that may be built as layers of several kinds (an op choice) declares a fact only when all of them do.
    """
    monotone: dict[str, bool] = {INPUT: True}
    checked_everywhere: set[str] = set()
    for node in order:
        layers = samples[node]
        inputs_monotone = all(monotone[source] for source in inputs_of[node])
        if (not layers or any(layer.family in ("merge", "flatten") or not layer.upward_closed() for layer in layers)
                or not inputs_monotone):
            checked_everywhere.add(node)
        monotone[node] = bool(layers) and all(layer.constant_output() or (inputs_monotone and layer.non_decreasing()) for layer in layers)
    full: set[str] = set()
    for node in reversed([INPUT] + order):
        for consumer in consumers[node]:
            constant = bool(samples[consumer]) and all(layer.constant_output() for layer in samples[consumer])
            if consumer in checked_everywhere or (consumer in full and not constant):
                full.add(node)
                break
    return full


MOST_SAMPLED = 1000
"""The most combinations :func:`_sample_layers` builds for one node."""


def _sample_layers(space: Any, node: str, domains: dict[str, tuple[Any, ...]]) -> list[Layer]:
    """A buildable layer of each kind ``node`` may be (one for most nodes: their kind and which fields are set do
    not depend on the choices; each option of an op choice, and a copy beyond the chosen depth, has its own)."""
    template = space.template(node)
    names = space.layer_params(node)
    structural = [n for n in names if n == template.switch or any(gate.param == n for gate in template.gates)]
    others = [n for n in names if n not in structural]
    found: dict[Layer, Layer] = {}
    for shape in itertools.product(*[domains[n] for n in structural]):
        chosen = dict(zip(structural, shape))
        # a parameter written here has a value exactly when it is in the network: try those first
        tried = [[v for v in domains[n] if (v is INACTIVE) != _active(space, n, chosen)] or list(domains[n]) for n in others]
        for values in itertools.islice(itertools.product(*tried), MOST_SAMPLED):
            try:
                layer: Layer = space.build_layer(node, {**chosen, **dict(zip(others, values))})
            except InvalidAssignment:
                continue
            found.setdefault(layer, layer)
            break
    return list(found.values())


def _active(space: Any, name: str, chosen: dict[str, Any]) -> bool:
    """Whether parameter ``name`` is in the network under the structural values ``chosen`` (True when they do not tell)."""
    gates = space.params[name].active_when
    return all(gate.holds(chosen) for gate in gates) if all(gate.param in chosen for gate in gates) else True


def _twins(space: Any, order: list[str], domains: dict[str, tuple[Any, ...]]) -> tuple[dict[str, str], dict[str, tuple[Any, ...]]]:
    """Each layer -> the first layer of ``order`` written the same way (:meth:`~convsolve.space.LayerTemplate.written_as`:
    same type and fields, the same parameters apart from the layer's own name in theirs, over the same domains);
    and each layer's key of that comparison.

    Twins build equal layers from corresponding values, so the Table builds each combination once for
    all of them: a deep chain repeats a handful of layer templates hundreds of times.
    """
    first: dict[tuple[Any, ...], str] = {}
    twins: dict[str, str] = {}
    keys: dict[str, tuple[Any, ...]] = {}
    for node in order:
        key = space.template(node).written_as(node, domains)
        twins[node] = first.setdefault(key, node)
        keys[node] = key
    return twins, keys


def _probe_points(space: Any, sweep: Sweep) -> tuple[np.ndarray, ...]:
    points: list[set[int]] = [{0} for _ in sweep.axes]
    for target in space.targets:
        if target.at is None:
            continue
        for axis, size in enumerate(target.at):
            values = sweep.axes[axis]
            index = int(np.searchsorted(values, size))
            if index == len(values) or values[index] != size:
                raise ConfigError(
                    f"the size target of {target.node!r} is at input size {size}, which the input range "
                    f"{values[0]}..{values[-1]}{'' if len(values) < 2 else f' (step {values[1] - values[0]})'} does not contain: "
                    "widen the range (--input) or move the target", file=space.source, node=target.node, field="targets")
            points[axis].add(index)
    return tuple(np.array(sorted(p), dtype=np.int64) for p in points)
