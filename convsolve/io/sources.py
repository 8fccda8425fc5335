"""Where a network comes from: a config file, an ONNX model, or a PyTorch model reference.

:func:`load` tells them apart by the reference alone: a path ending in ``.onnx`` is an ONNX model
(read, never run); an existing file is a config (YAML or JSON); ``module:callable``,
``file.py:callable`` (either with literal arguments, ``callable(num_classes=10)``) or ``timm:name``
names something that gives a ``torch.nn.Module`` (see :mod:`convsolve.io.references`) — that module
(or file) is imported and that callable called, the only user code convsolve runs.

Example:
    >>> net = load("configs/unet.yaml")                                 # doctest: +SKIP
    >>> net = load("model.onnx")                                        # doctest: +SKIP
    >>> net = load("torchvision.models:resnet18(num_classes=10)")       # doctest: +SKIP
    >>> net = load("timm:resnet50")                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ModelImportError, UsageError
from ..network import AXIS_NAMES, Network
from ..sizesets import SizeRange
from . import config
from .references import is_model_reference

__all__ = ["DEFAULT_RANGE", "InputSizes", "input_config", "input_ranges", "is_torch_reference", "load"]

DEFAULT_RANGE = SizeRange(1, 512)
"""The input sizes an imported model is examined over when neither it nor the caller fixes them: square 1..512."""

InputSizes = int | range | SizeRange | Sequence[int | range | SizeRange]
"""Input sizes given to an importer: one size, a ``range`` or :class:`SizeRange` for every axis, or a list of them per axis."""


def input_ranges(input: InputSizes | None, ndim: int, default: Sequence[SizeRange] | None = None) -> tuple[list[SizeRange], bool]:
    """Per-axis size ranges and whether they are tied (square inputs), from an importer's ``input`` argument.

    ``default`` (else :data:`DEFAULT_RANGE` on every axis) applies when ``input`` is None.

    Example:
        >>> input_ranges(range(32, 225), 2)
        ([SizeRange(lo=32, hi=224, step=1), SizeRange(lo=32, hi=224, step=1)], True)
        >>> input_ranges([224, SizeRange(100, 200)], 2)[1]
        False
    """

    def one(value: Any) -> SizeRange:
        if isinstance(value, SizeRange):
            return value
        if isinstance(value, range):
            if len(value) == 0 or value.step < 1:
                raise ValueError(f"the input range {value!r} is empty or decreasing")
            return SizeRange(value.start, value[-1], value.step)
        if isinstance(value, int) and not isinstance(value, bool):
            return SizeRange(value, value)
        raise ValueError(f"expected an int, a range or a SizeRange, got {value!r}")

    try:
        if input is None:
            ranges = list(default) if default is not None else [DEFAULT_RANGE] * ndim
            return ranges, len(set(ranges)) == 1
        if isinstance(input, (list, tuple)):
            if len(input) != ndim:
                raise ValueError(f"the model is {ndim}-D: give one size range, or a list of {ndim} (one per axis)")
            return [one(v) for v in input], False
        return [one(input)] * ndim, True
    except ValueError as exc:
        raise UsageError(f"input: {exc}", field="input") from None


def input_config(ranges: Sequence[SizeRange], tied: bool, channels: int) -> dict[str, Any]:
    """The config's ``input`` mapping for these ranges."""

    def size(rng: SizeRange) -> Any:
        return {"range": [rng.lo, rng.hi], **({"step": rng.step} if rng.step != 1 else {})}

    if tied:
        return {"channels": channels, "size": size(ranges[0])}
    return {"channels": channels, **{axis: size(rng) for axis, rng in zip(AXIS_NAMES[len(ranges)], ranges)}}


def is_torch_reference(reference: str | Path) -> bool:
    """Whether ``reference`` names a PyTorch model (``module:callable``, ``file.py:callable(...)``, ``timm:name``) rather than a file.

    Example:
        >>> is_torch_reference("torchvision.models:resnet18(num_classes=10)"), is_torch_reference("configs/unet.yaml")
        (True, False)
    """
    return is_model_reference(reference)


def load(reference: str | Path, *, max_config_bytes: int | None = None, input: InputSizes | None = None) -> Network:
    """The network a config file, an ``.onnx`` file or a ``module:callable`` reference describes.

    Parameters
    ----------
    reference : str or Path
        ``configs/unet.yaml``, ``model.onnx``, ``torchvision.models:resnet50``, ``my_models.py:build_net(32)``
        or ``timm:resnet50``.
    max_config_bytes : int, optional
        The largest config file read (default :data:`~convsolve.io.config.MAX_CONFIG_BYTES`); a config
        must also be a regular file, not a device, FIFO or folder.
    input : int, range, SizeRange, or a list of them per spatial axis, optional
        For a PyTorch model, the input sizes it is imported over (default 1..512): the capture's checks
        cover just these.

    Returns
    -------
    Network
        Over the config's input range; for a model, its fixed input sizes (ONNX) or 1..512.

    Raises
    ------
    ConfigError
        A config that cannot be read or is invalid.
    ModelImportError
        A model that cannot be imported (a subclass of ConfigError).
    MissingExtraError
        When the model needs torch, onnx or timm and it is not installed.
    """
    text = str(reference)
    if text.lower().endswith(".onnx"):
        from .onnx import from_onnx

        return from_onnx(Path(text), source=text)
    if is_torch_reference(text):
        from .references import load_callable
        from .torch import from_torch

        model, name = load_callable(text)
        return from_torch(model, input, name=name, source=text)
    if text.lower().endswith(".py") and Path(text).is_file():
        raise ModelImportError(
            "is a Python file, not a config: name the callable in it that builds the model, as FILE.py:CALLABLE "
            f"(for example {text}:build_model)", file=text,
        )
    return config.load(reference, max_bytes=max_config_bytes)
