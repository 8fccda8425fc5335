"""Writing a network back out as a convsolve config: an imported model, or any Network.

The layers are listed in the network's topological order; a layer names its ``inputs`` only when it
does not simply read the layer listed before it, and a field is written only when it differs from
what the config loader assumes when it is left out. Loading the written config gives equal layers
(``==``), hence the same valid sizes and shapes. Turning a real model into a search space is then a
matter of editing ``{choice: [...]}`` into the written file.

Example:
    >>> from convsolve import load_config
    >>> net = load_config({"input": {"channels": 3, "size": {"range": [1, 64]}}, "layers": [
    ...     {"name": "c", "type": "conv2d", "out_channels": 8, "kernel": 3, "padding": 1},
    ...     {"name": "p", "type": "max_pool2d", "kernel": 2}]})
    >>> network_to_config(net)["layers"]
    [{'name': 'c', 'type': 'conv2d', 'out_channels': 8, 'kernel': 3, 'padding': 1}, {'name': 'p', 'type': 'max_pool2d', 'kernel': 2}]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..conventions import TENSORFLOW, Convention, Padding
from ..layers import Layer
from ..network import AXIS_NAMES, INPUT, Network
from ..sizesets import SizeRange
from .config import format_config, write_config

__all__ = ["export_text", "layer_to_config", "network_to_config", "write_network"]


def layer_to_config(layer: Layer, convention: Convention | None = None) -> dict[str, Any]:
    """A layer's config fields (``type`` first), leaving out every field at the loader's default.

    Per-axis values equal on every axis are written once (``kernel: 3``); padding in the config
    spelling of ``convention`` (``1``, ``[1, 2]``, ``[[0, 1], [0, 1]]``, ``same_upper`` in ONNX,
    ``same`` in TensorFlow). Fields the loader derives from the convention (ONNX's ``output_shape``
    pads, PyTorch's ``avg_pool3d`` kernel cover) are not written: loading under the same convention
    derives them again.
    """
    out: dict[str, Any] = {"type": layer.type}
    specs = {spec.name: spec for spec in fields(layer)}
    for name in layer.config_fields(layer.type):
        spec = specs[name]
        kind = spec.metadata.get("kind")
        value = getattr(layer, spec.name)
        if value is None or _is_default(layer, spec.name, kind, spec.default, value):
            continue
        if isinstance(value, Padding):
            written = value.to_config()
            # TensorFlow's 'same' is kept as ONNX's same_upper (ceil(n / stride)); write it as TensorFlow spells it
            out[spec.name] = "same" if convention is TENSORFLOW and written == "same_upper" else written
        elif isinstance(value, tuple):
            out[spec.name] = _axes(value)
        else:
            out[spec.name] = value
    return out


def _is_default(layer: Layer, name: str, kind: Any, default: Any, value: Any) -> bool:
    if layer.stride_defaults_to_kernel and name == "stride":
        return bool(value == getattr(layer, "kernel"))
    if kind == "padding":
        return not value.dynamic and all(pair == (0, 0) for pair in value.pairs)
    if kind == "axes" and isinstance(default, int):
        return bool(value == (default,) * layer.ndim)
    return bool(value == default)


def _axes(values: Sequence[Any]) -> Any:
    """One value when every axis has it, else the list."""
    return values[0] if len(set(values)) == 1 else list(values)


def _size(rng: SizeRange) -> Any:
    if rng.lo == rng.hi:
        return rng.lo
    bounds: dict[str, Any] = {"range": [rng.lo, rng.hi]}
    if rng.step != 1:
        bounds["step"] = rng.step
    return bounds


def network_to_config(network: Network) -> dict[str, Any]:
    """The config mapping that :func:`convsolve.load_config` turns back into an equal network.

    Parameters
    ----------
    network : Network
        Any network: loaded from a config, imported from PyTorch or ONNX, or fixed from a space.

    Returns
    -------
    dict
        ``name``, ``convention``, ``input`` and ``layers`` (plain dicts and lists, ready for YAML or JSON).
    """
    spec = network.input
    if spec.tied:
        size: dict[str, Any] = {"channels": spec.channels, "size": _size(spec.ranges[0])}
    else:
        size = {"channels": spec.channels, **{axis: _size(rng) for axis, rng in zip(AXIS_NAMES[spec.ndim], spec.ranges)}}
    layers = []
    previous = INPUT
    for name in network.order[1:]:
        entry: dict[str, Any] = {"name": name}
        fields_ = layer_to_config(network.layer(name), network.convention)
        entry["type"] = fields_.pop("type")
        inputs = list(network.inputs_of(name))
        if inputs != [previous]:
            entry["inputs"] = inputs
        entry.update(fields_)
        layers.append(entry)
        previous = name
    return {"name": network.name, "convention": network.convention.name, "input": size, "layers": layers}


def _commented(config: dict[str, Any], header: str | None) -> CommentedMap:
    """The config as ruamel objects: one flow-style line per layer, as the shipped configs are written."""
    top = CommentedMap()
    for key, value in config.items():
        if key == "layers":
            seq = CommentedSeq()
            for layer in value:
                line = CommentedMap(layer)
                line.fa.set_flow_style()
                seq.append(line)
            top[key] = seq
        elif isinstance(value, dict):
            inner = CommentedMap(value)
            inner.fa.set_flow_style()
            top[key] = inner
        else:
            top[key] = value
    if header:
        top.yaml_set_start_comment(header)
    return top


def _header(network: Network) -> str:
    source = f" from {network.source}" if network.source else ""
    return (
        f"{network.name}: exported by convsolve{source} ({len(network.order) - 1} layers, {network.convention.name} convention).\n"
        "Load it with convsolve.load; make it a search space by replacing values with {choice: [...]}."
    )


def export_text(network: Network, *, as_json: bool = False) -> str:
    """The exported config as YAML (one line per layer, a header comment) or JSON."""
    config = network_to_config(network)
    return format_config(config if as_json else _commented(config, _header(network)), as_json=as_json)


def write_network(network: Network, path: str | Path, *, overwrite: bool = False, inputs: Sequence[str | Path] = ()) -> None:
    """Write ``network`` as a config file (YAML, or JSON for a ``.json`` path), atomically.

    Raises
    ------
    UsageError
        When ``path`` exists and ``overwrite`` is false, it is one of ``inputs`` or not a regular
        file, or it cannot be written (see :func:`~convsolve.io.config.write_bytes`).
    """
    config = network_to_config(network)
    as_json = Path(path).suffix.lower() == ".json"
    write_config(config if as_json else _commented(config, _header(network)), path, overwrite=overwrite, inputs=inputs)
