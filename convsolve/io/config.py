"""Config files: YAML (round-trip, with line numbers for messages) or JSON, into a Network.

Example:
    >>> net = load("configs/resnet18.yaml")        # doctest: +SKIP
    >>> net.valid_sizes().sets[0].min               # doctest: +SKIP
    1
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import ConfigError, UsageError
from ..network import Network

__all__ = ["load", "read_config", "write_config"]


def read_config(path: str | Path) -> Any:
    """The parsed contents of a YAML or JSON config; ConfigError when it cannot be read or parsed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot be read: {exc}", file=str(path)) from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"is not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise ConfigError(f"is not valid YAML: {exc.problem or exc}", file=str(path), line=line) from None
    except YAMLError as exc:
        raise ConfigError(f"is not valid YAML: {exc}", file=str(path)) from None


def load(path: str | Path) -> Network:
    """The network described by the config file at ``path``."""
    return Network.from_config(read_config(path), source=str(path))


def write_config(data: Any, path: str | Path, *, overwrite: bool = False) -> None:
    """Write ``data`` as YAML (round-trip: comments and key order kept) or JSON, atomically.

    An existing file is replaced only with ``overwrite``; the file appears whole or not at all.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists; choose another output path or pass --force to replace it", field="-o")
    if path.suffix.lower() == ".json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        yaml = YAML(typ="rt")
        yaml.width = 4096
        yaml.indent(mapping=2, sequence=4, offset=2)
        stream = io.StringIO()
        yaml.dump(data, stream)
        text = stream.getvalue()
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False, encoding="utf-8"
        ) as handle:
            temporary = handle.name
            handle.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}", field="-o") from None
