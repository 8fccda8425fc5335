"""Tests that need an optional extra: skipped on a core install, with the extra to install named in the reason.

The suite runs on a core install (``pip install -e . pytest hypothesis``); a test that needs a package
of an extra says so with :func:`needs` (a marker) or :func:`require` (inside the test or at module level),
never with a bare ``import`` that would abort the collection.

Example:
    >>> reason("torch")
    "needs torch: pip install -e '.[torch]'"
    >>> reason("dask.distributed")
    "needs dask.distributed: pip install -e '.[dask]'"
    >>> reason("yaml")
    "needs PyYAML: pip install -e '.[test]'"
"""

from __future__ import annotations

from importlib.util import find_spec
from types import ModuleType

import pytest

EXTRA_OF = {
    "torch": "torch",
    "torchvision": "test",
    "onnx": "onnx",
    "matplotlib": "plot",
    "optuna": "optuna",
    "dask": "dask",
    "timm": "timm",
    "yaml": "test",  # PyYAML: the fast path of convsolve.io.quickyaml (optional at run time)
    "pyarrow": "parquet",
}
"""The extra of pyproject.toml that installs each optional top-level module."""

PACKAGE_OF = {"yaml": "PyYAML"}
"""The distribution of a module whose import name differs from it."""


def reason(module: str) -> str:
    """Why a test needing ``module`` is skipped: the module and the extra that installs it."""
    top = module.partition(".")[0]
    return f"needs {PACKAGE_OF.get(top, module)}: pip install -e '.[{EXTRA_OF[top]}]'"


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (its parent packages are imported to find it)."""
    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def needs(module: str) -> pytest.MarkDecorator:
    """A marker skipping the test unless ``module`` is installed."""
    return pytest.mark.skipif(not installed(module), reason=reason(module))


def require(module: str) -> ModuleType:
    """``module``, imported, or skip the test (or, at module level, the whole module) without it."""
    return pytest.importorskip(module, reason=reason(module))
