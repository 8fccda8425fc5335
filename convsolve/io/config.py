"""Config files: YAML (round-trip, with line numbers for messages) or JSON, into a Network.

Example:
    >>> net = load("configs/resnet18.yaml")        # doctest: +SKIP
    >>> net.valid_sizes().sets[0].min               # doctest: +SKIP
    1
"""

from __future__ import annotations

import copy
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import ConfigError, UsageError
from ..network import Network
from .edit import apply_edits, edit_yaml

__all__ = ["load", "read_config", "format_config", "write_config", "write_edited", "edited_text", "write_text", "write_bytes"]


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
        except RecursionError:
            raise ConfigError("is nested too deeply", file=str(path)) from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"is not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        data = yaml.load(text)
    except RecursionError:
        raise ConfigError("is nested too deeply for the YAML parser; flatten the structure", file=str(path)) from None
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise ConfigError(f"is not valid YAML: {exc.problem or exc}", file=str(path), line=line) from None
    except YAMLError as exc:
        raise ConfigError(f"is not valid YAML: {exc}", file=str(path)) from None
    expanded = _expanded_size(data)
    if expanded > MAX_VALUES:
        raise ConfigError(
            f"its aliases expand to more than {MAX_VALUES:,} values (a YAML alias bomb?); write the values out or use fewer aliases",
            file=str(path),
        )
    return data


MAX_VALUES = 1_000_000
"""The most values (after expanding YAML aliases) a config may hold."""


def _expanded_size(data: Any) -> int:
    """How many values ``data`` holds with every alias expanded, counted without expanding (and capped)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        item, children_done = stack.pop()
        if id(item) in sizes:
            continue
        children = list(item.values()) if isinstance(item, dict) else item if isinstance(item, list) else []
        if children_done or not children:
            total = 1 + sum(sizes.get(id(child), 1) for child in children)
            sizes[id(item)] = min(total, MAX_VALUES + 1)
            continue
        stack.append((item, True))
        stack.extend((child, False) for child in children if isinstance(child, (dict, list)) and id(child) not in sizes)
    return sizes[id(data)]


def load(path: str | Path) -> Network:
    """The network described by the config file at ``path``."""
    return Network.from_config(read_config(path), source=str(path))


def format_config(data: Any, *, as_json: bool = False) -> str:
    """The text :func:`write_config` writes: YAML (round-trip: comments and key order kept) or JSON."""
    if as_json:
        return json.dumps(data, indent=2) + "\n"
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def write_config(data: Any, path: str | Path, *, overwrite: bool = False) -> None:
    """Write ``data`` as YAML (round-trip: comments and key order kept) or JSON, atomically.

    An existing file is replaced only with ``overwrite``; the file appears whole or not at all.
    """
    write_text(_dump(data, Path(path)), path, overwrite=overwrite)


def _dump(data: Any, path: Path) -> str:
    return format_config(data, as_json=path.suffix.lower() == ".json")


def write_edited(source: str | Path, edits: Sequence[tuple[Any, Any]], path: str | Path, *, overwrite: bool = False, backup: bool = False) -> None:
    """Write the config at ``source`` with ``edits`` (path in the config, new value) applied, to ``path``.

    A YAML file changes only in the edited values (see :mod:`convsolve.io.edit`); JSON is rewritten
    with its key order kept. With ``backup``, the file at ``path`` is first copied to ``<path>.bak``
    (which must not exist unless ``overwrite``).
    """
    path = Path(path)
    edited = edited_text(source, edits)
    if backup:
        write_text(path.read_text(encoding="utf-8"), path.with_name(path.name + ".bak"), overwrite=overwrite)
    write_text(edited, path, overwrite=overwrite or backup)


def edited_text(source: str | Path, edits: Sequence[tuple[Any, Any]], parsed: Any = None) -> str:
    """The text of the config at ``source`` with ``edits`` applied (see :func:`write_edited`).

    ``parsed``, what :func:`read_config` returned for ``source``, spares parsing it again (it is not changed).
    """
    source = Path(source)
    text = source.read_text(encoding="utf-8")
    edited = None if source.suffix.lower() == ".json" else edit_yaml(text, edits, parsed)
    if edited is None:
        data = read_config(source) if parsed is None else copy.deepcopy(parsed)
        apply_edits(data, edits)
        edited = _dump(data, source)
    return edited


def write_text(text: str, path: str | Path, *, overwrite: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`write_bytes`."""
    write_bytes(text.encode("utf-8"), path, overwrite=overwrite)


def write_bytes(content: bytes, path: str | Path, *, overwrite: bool = False) -> None:
    """Write ``content`` to ``path`` atomically (a temporary file in the same folder, then a rename).

    An existing file is replaced only with ``overwrite`` (and keeps its permissions); the file
    appears whole or not at all.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists; choose another output path or pass --force to replace it", field="-o")
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as handle:
            temporary = handle.name
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _mode_for(path))  # a temporary file is private (0600); the result is not
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}", field="-o") from None


def _mode_for(path: Path) -> int:
    """The permissions a replaced file keeps, or the usual ones (0666 less the umask) for a new file."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
