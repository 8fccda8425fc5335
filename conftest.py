"""The runnable examples in convsolve's docstrings run with the suite (``testpaths`` holds ``convsolve``).

A module whose examples need an optional extra is skipped, naming the extra, when the extra is not
installed; the tests' own fixtures live in ``tests/conftest.py``.
"""

from __future__ import annotations

import pytest
from extras import installed, reason  # tests/extras.py (``pythonpath`` holds ``tests``)

DOCTESTS_NEED = {
    "convsolve/io/torch.py": "torch",
    "convsolve/io/onnx.py": "onnx",
    "convsolve/io/quickyaml.py": "yaml",
    "convsolve/render/figures.py": "matplotlib",
}
"""The modules whose docstring examples import an optional package, and that package."""

def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the docstring examples of a module whose optional package is missing."""
    for item in items:  # only doctests are collected from these paths
        path = item.path.relative_to(item.config.rootpath).as_posix()
        module = DOCTESTS_NEED.get(path)
        if module and not installed(module):
            item.add_marker(pytest.mark.skip(reason=reason(module)))
