"""Targets of a plain network config (``targets:``, as in search spaces): what ``check`` verifies and ``repair`` keeps.

A target names a node and what its output must be: its size at an input size, its total stride, or its
receptive field (see :class:`convsolve.space.Target`). ``--keep-stride`` makes one stride target per
layer from the network as given, so that a repair cannot change how much any layer downsamples.

Example:
    >>> from convsolve import load_config
    >>> data = {"input": {"channels": 3, "size": {"range": [8, 64]}}, "layers": [
    ...     {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 3, "stride": 2}],
    ...     "targets": [{"node": "c", "stride": 4}]}
    >>> unmet_targets(data, load_config(data))
    ['c: total stride 4 (it is 2)']
    >>> stride_targets(load_config(data))
    [{'node': 'c', 'stride': 2}]
"""

from __future__ import annotations

from typing import Any

from ..network import INPUT, Network
from ..solve.problem import reaches, receptive_fields

__all__ = ["unmet_targets", "stride_targets"]


def unmet_targets(data: Any, network: Network) -> list[str]:
    """The targets of the config ``data`` that ``network`` does not meet, each with what the node gives instead."""
    from ..space import Space

    if not isinstance(data, dict) or not data.get("targets"):
        return []
    space = Space.from_config(data, source=network.source)  # validates the targets (their nodes, fields and sizes)
    unmet = []
    for target in space.targets:
        if not reaches(network, target):
            unmet.append(f"{target} ({_actual(network, target)})")
    return unmet


def stride_targets(network: Network) -> list[dict[str, Any]]:
    """A ``{node, stride}`` target for every layer whose total stride is a whole number, alike on every axis."""
    targets = []
    flat: set[str] = set()  # a flattened output (and what reads it) has no stride
    for node in network.order:
        if node == INPUT:
            continue
        if network.layer(node).family == "flatten" or any(source in flat for source in network.inputs_of(node)):
            flat.add(node)
            continue
        jumps = {jump for jump, _ in receptive_fields(network, node)}
        if len(jumps) == 1:
            jump = next(iter(jumps))
            if jump.denominator == 1:
                targets.append({"node": node, "stride": int(jump)})
    return targets


def _actual(network: Network, target: Any) -> str:
    parts = []
    if target.size is not None:
        rows = {row.node: row.shape for row in network.shapes(list(target.at))}
        shape = rows.get(target.node)
        parts.append("invalid there" if shape is None else f"it is {'x'.join(map(str, shape[1:]))}")
    if target.stride is not None or target.receptive_field is not None:
        fields = receptive_fields(network, target.node)
        if target.stride is not None:
            parts.append(f"it is {', '.join(sorted({str(jump) for jump, _ in fields}))}")
        if target.receptive_field is not None:
            parts.append(f"receptive field {', '.join(sorted({str(field) for _, field in fields}))}")
    return "; ".join(parts)
