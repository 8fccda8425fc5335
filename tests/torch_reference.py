"""PyTorch models built from convsolve configs: the oracle for the config tests and the size benchmark.

The translator reads the raw config mapping, not convsolve's parsed layers, and maps each layer
to the ``torch.nn`` module a PyTorch user would write, so a mistake in convsolve's parsing or size
rules cannot hide in the oracle. The forward pass runs the layer graph in topological order; a
layer takes the previous one's output unless it names ``inputs``. Models are built on the ``meta``
device by default: shapes are computed and checked as on the CPU, but no memory is touched. On a
real device the weights are left uninitialised: the models are for shapes, not for outputs.

Example:
    >>> model = ConfigModel({"input": {"channels": 3, "size": 32},
    ...     "layers": [{"name": "c", "type": "conv2d", "out_channels": 8, "kernel": 7}]})
    >>> model.run(6).failed, model.run(7).failed
    ('c', None)
    >>> tuple(model.run(9).outputs["c"].shape)
    (1, 8, 3, 3)
"""

from __future__ import annotations

import functools
import graphlib
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


from extras import require

torch = require("torch")
from torch import nn  # noqa: E402

__all__ = ["ConfigModel", "Run", "build_module"]

ELEMENTWISE = {
    "identity": nn.Identity, "relu": nn.ReLU, "relu6": nn.ReLU6, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU,
    "silu": nn.SiLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid,
}
"""Config types that become a module without arguments."""

MERGES: dict[str, Callable[[Sequence[Any]], Any]] = {
    "add": lambda xs: functools.reduce(operator.add, xs),
    "mul": lambda xs: functools.reduce(operator.mul, xs),
    "concat": lambda xs: torch.cat(list(xs), dim=1),
    "resize_as": lambda xs: nn.functional.interpolate(xs[0], size=tuple(xs[1].shape[2:])),
}
"""Config types that combine several inputs (PyTorch broadcasting included, as a user's code would have it)."""


def _axes(value: Any) -> Any:
    """A per-axis config value as PyTorch takes it: an int stays an int, a list becomes a tuple."""
    return tuple(value) if isinstance(value, list) else value


def _padding(value: Any) -> Any:
    if isinstance(value, list) and any(isinstance(v, list) for v in value):
        raise NotImplementedError(f"asymmetric padding {value!r} has no torch.nn convolution; add a pad layer")
    return _axes(value)


def build_module(spec: Mapping[str, Any], channels: int | None) -> tuple[nn.Module, int | None]:
    """The ``torch.nn`` module for one single-input config layer, and the channels it produces."""
    kind = spec["type"].lower()
    if kind in ("conv2d", "conv_transpose2d"):
        common = dict(
            stride=_axes(spec.get("stride", 1)), padding=_padding(spec.get("padding", 0)),
            dilation=_axes(spec.get("dilation", 1)), groups=spec.get("groups", 1), bias=spec.get("bias", True),
        )
        if kind == "conv2d":
            return nn.Conv2d(channels, spec["out_channels"], _axes(spec["kernel"]), **common), spec["out_channels"]
        module = nn.ConvTranspose2d(
            channels, spec["out_channels"], _axes(spec["kernel"]), output_padding=_axes(spec.get("output_padding", 0)), **common
        )
        return module, spec["out_channels"]
    if kind == "max_pool2d":
        return nn.MaxPool2d(
            _axes(spec["kernel"]), _axes(spec.get("stride", spec["kernel"])), _padding(spec.get("padding", 0)),
            _axes(spec.get("dilation", 1)), ceil_mode=spec.get("ceil_mode", False),
        ), channels
    if kind == "avg_pool2d":
        return nn.AvgPool2d(
            _axes(spec["kernel"]), _axes(spec.get("stride", spec["kernel"])), _padding(spec.get("padding", 0)),
            ceil_mode=spec.get("ceil_mode", False), count_include_pad=spec.get("count_include_pad", True),
        ), channels
    if kind == "adaptive_avg_pool2d":
        return nn.AdaptiveAvgPool2d(_axes(spec["output_size"])), channels
    if kind == "adaptive_max_pool2d":
        return nn.AdaptiveMaxPool2d(_axes(spec["output_size"])), channels
    if kind in ("interpolate", "upsample"):
        return nn.Upsample(size=_axes(spec.get("size")), scale_factor=_axes(spec.get("scale_factor")),
                           mode=spec.get("mode", "nearest")), channels
    if kind == "pad":  # per axis [before, after]; negative values crop, as F.pad does
        pairs = spec["padding"] if isinstance(spec["padding"], list) else [[spec["padding"]] * 2] * 2
        pairs = [pair if isinstance(pair, list) else [pair, pair] for pair in pairs]
        return nn.ZeroPad2d((pairs[1][0], pairs[1][1], pairs[0][0], pairs[0][1])), channels
    if kind == "batch_norm2d":
        return nn.BatchNorm2d(channels), channels
    if kind.startswith("dropout"):
        return nn.Dropout(spec.get("p", 0.5)), channels
    if kind == "flatten":
        return nn.Flatten(), None
    if kind == "linear":
        if "in_features" not in spec:
            raise NotImplementedError(f"layer {spec['name']!r}: the oracle needs linear in_features")
        return nn.Linear(spec["in_features"], spec["out_features"]), channels
    if kind in ELEMENTWISE:
        return ELEMENTWISE[kind](), channels
    raise NotImplementedError(f"layer {spec['name']!r}: no torch translation for type {spec['type']!r}")


@dataclass
class Run:
    """One forward pass: every node's output up to the first layer PyTorch refused (``failed``)."""

    outputs: dict[str, Any]
    failed: str | None = None
    error: str = ""


class ConfigModel(nn.Module):
    """The network of a convsolve config as a ``torch.nn.Module``, in eval mode on ``device`` (weights uninitialised)."""

    def __init__(self, config: Mapping[str, Any], device: str = "meta") -> None:
        super().__init__()
        self.channels: int = config["input"]["channels"]
        self.device = torch.device(device)
        self.inputs: dict[str, tuple[str, ...]] = {}
        self.kinds: dict[str, str] = {}
        self.layers = nn.ModuleList()
        self.module_of: dict[str, nn.Module] = {}
        channels: dict[str, int | None] = {"input": self.channels}
        previous = "input"
        specs = {}
        for spec in config["layers"]:
            self.inputs[spec["name"]] = tuple(spec.get("inputs") or [previous])
            self.kinds[spec["name"]] = spec["type"].lower()
            specs[spec["name"]] = spec
            previous = spec["name"]
        self.order = [name for name in graphlib.TopologicalSorter(self.inputs).static_order() if name != "input"]
        with torch.device("meta"):
            for name in self.order:
                sources = [channels[source] for source in self.inputs[name]]
                if self.kinds[name] in MERGES:
                    concat = self.kinds[name] == "concat" and None not in sources
                    channels[name] = sum(sources) if concat else sources[0]  # type: ignore[arg-type]  # (resize_as: the first's)
                else:
                    self.module_of[name], channels[name] = build_module(specs[name], sources[0])
                    self.layers.append(self.module_of[name])
        if self.device.type != "meta":
            self.to_empty(device=self.device)
        self.eval()

    def input_tensor(self, height: int, width: int | None = None) -> Any:
        """A batch of one image of ``height`` x ``width`` (square when ``width`` is omitted)."""
        return torch.empty(1, self.channels, height, height if width is None else width, device=self.device)

    def run(self, height: int, width: int | None = None) -> Run:
        """Forward one input, keeping every node's output and stopping at the first layer that raises."""
        outputs = {"input": self.input_tensor(height, width)}
        with torch.no_grad():
            for name in self.order:
                try:
                    outputs[name] = self.apply_node(name, outputs)
                except RuntimeError as exc:
                    return Run(outputs, name, str(exc).splitlines()[0])
        return Run(outputs)

    def apply_node(self, name: str, outputs: Mapping[str, Any]) -> Any:
        """Node ``name``'s output from the outputs of the nodes feeding it."""
        args = [outputs[source] for source in self.inputs[name]]
        kind = self.kinds[name]
        return MERGES[kind](args) if kind in MERGES else self.module_of[name](args[0])

    def forward(self, x: Any) -> Any:
        outputs = {"input": x}
        for name in self.order:
            outputs[name] = self.apply_node(name, outputs)
        return outputs[self.order[-1]]
