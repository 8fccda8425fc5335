"""What a network costs at one input size: multiply-accumulates (MACs) and weights, summed over its layers.

Each layer kind declares its own cost next to its size rule (:meth:`convsolve.layers.Layer.cost`):
convolutions ``out_channels * in_channels / groups * prod(kernel)`` per output value (a transposed
convolution per input value), linear layers ``in_features * out_features`` per vector; pools, norms,
activations and merges count as 0. Biases are not counted (a config need not say whether a layer has one).
The shapes are convsolve's own at that size, so a network invalid there has no cost.

Example:
    >>> from convsolve import load
    >>> cost = network_cost(load("configs/resnet18.yaml"), (224, 224))
    >>> round(cost.macs / 1e9, 2), round(cost.weights / 1e6, 2)   # torchvision's resnet18: 1.81 GMACs, 11.68M weights
    (1.81, 11.68)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..network import INPUT, Network

__all__ = ["Cost", "network_cost", "show_count"]


@dataclass(frozen=True)
class Cost:
    """MACs and weights of a network at ``size``."""

    size: tuple[int, ...]
    macs: int
    weights: int


def network_cost(network: Network, size: Sequence[int]) -> Cost | None:
    """The network's cost at one input size (one per spatial axis); None where a layer is invalid there."""
    sizes = tuple(int(s) for s in size) * (network.ndim if len(size) == 1 else 1)
    rows = {row.node: row for row in network.shapes(list(sizes))}
    if any(row.problem or row.shape is None for row in rows.values()):
        return None
    macs = weights = 0
    for node in network.order:
        if node == INPUT:
            continue
        shape, source = rows[node].shape, rows[network.inputs_of(node)[0]].shape
        assert shape is not None and source is not None  # checked above: every row has its shape
        layer_macs, layer_weights = network.layer(node).cost(source, shape)
        macs, weights = macs + layer_macs, weights + layer_weights
    return Cost(sizes, macs, weights)


def show_count(value: float) -> str:
    """A count of operations or weights, short: ``1.81 G``, ``11.7 M``, ``512 k``, ``96``.

    Example:
        >>> show_count(1_814_073_344), show_count(11_689_512), show_count(96)
        ('1.81 G', '11.7 M', '96')
    """
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g} {suffix}"
    return f"{value:.3g}"
