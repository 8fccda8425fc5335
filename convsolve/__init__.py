"""convsolve: which kernel, stride and padding choices keep every layer valid over a range of input sizes.

Example:
    >>> import convsolve
    >>> net = convsolve.load_config({"input": {"channels": 3, "size": {"range": [1, 64]}},
    ...     "layers": [{"name": "c", "type": "conv2d", "out_channels": 8, "kernel": 7}]})
    >>> str(net.valid_sizes())
    '7..64'
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError, ConvsolveError, MissingExtraError, ModelImportError, UsageError
from .io.onnx import from_onnx
from .io.sources import load
from .io.torch import from_torch, register_module
from .network import Network
from .sizesets import SizeRange, SizeSet
from .space import Space, load_space

__all__ = [
    "load", "load_config", "load_space", "from_torch", "from_onnx", "register_module", "Network", "Space", "SizeRange", "SizeSet",
    "ConvsolveError", "ConfigError", "UsageError", "MissingExtraError", "ModelImportError",
]
__version__ = "0.1.0"


_SUBMODULES = ("ops", "render", "solve", "io", "integrations", "loaders")
"""Subpackages reachable as ``convsolve.<name>`` after ``import convsolve``, imported on first use (start-up stays fast)."""


def __getattr__(name: str) -> Any:
    """``convsolve.ops``, ``convsolve.render``, ...: the subpackage, imported when first asked for.

    Example:
        >>> import convsolve
        >>> convsolve.ops.count.__name__
        'count'
    """
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_config(data: Any, source: str | None = None) -> Network:
    """The network described by an already-parsed config mapping."""
    return Network.from_config(data, source=source)
