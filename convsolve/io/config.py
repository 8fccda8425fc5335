"""Config files: YAML (round-trip, with line numbers for messages) or JSON, into a Network.

Example:
    >>> net = load("configs/resnet18.yaml")        # doctest: +SKIP
    >>> net.valid_sizes().sets[0].min               # doctest: +SKIP
    1
"""

from __future__ import annotations

import contextlib
import copy
import errno
import io
import json
import os
import re
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import ConfigError, OutputError, UsageError
from ..network import Network
from .edit import apply_edits, edit_yaml
from .quickyaml import LineList, LineMap, read_plain

__all__ = [
    "MAX_CONFIG_BYTES", "load", "read_input", "read_config", "file_kind", "format_config", "output_target", "write_config",
    "write_edited", "edited_text", "write_text", "write_bytes", "mode_for",
]

MAX_CONFIG_BYTES = 64 * 2**20
"""The largest config file read, in bytes, unless the caller (``--max-config-bytes``) says otherwise."""


def read_input(path: str | Path, *, max_bytes: int | None = None) -> bytes:
    """The bytes of the config file at ``path``: a regular file (or a symlink to one) of at most ``max_bytes``.

    A device, FIFO, socket or folder is refused by its type before it is opened (``/dev/zero`` or a
    FIFO would never end), and a file over the limit (default :data:`MAX_CONFIG_BYTES`) before it is
    read; the file is then opened without blocking and read up to the limit, so a file that changes
    in between is bounded too.

    Example:
        >>> read_input("configs/resnet18.yaml", max_bytes=100)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        convsolve.errors.ConfigError: configs/resnet18.yaml: is ... bytes, more than the 100 a config may have; ...
    """
    limit = MAX_CONFIG_BYTES if max_bytes is None else max_bytes
    path = Path(path)
    try:
        _check_input_type(os.stat(path), path)
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise ConfigError("no such file", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror or exc}", file=str(path)) from None
    try:
        info = os.fstat(handle)
        _check_input_type(info, path)  # the name changed between the check and the opening
        if info.st_size > limit:
            raise _too_large(path, info.st_size, limit)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(handle, min(limit + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror or exc}", file=str(path)) from None
    finally:
        os.close(handle)
    if size > limit:  # it grew while being read
        raise _too_large(path, size, limit)
    return b"".join(chunks)


def _check_input_type(info: os.stat_result, path: Path) -> None:
    kind = file_kind(info.st_mode)
    if kind == "directory":
        raise ConfigError("is a directory, not a config file", file=str(path))
    if kind != "regular file":
        raise ConfigError(f"is a {kind}, not a regular file; a config is a YAML or JSON text file, and other kinds of "
                          "file are not opened", file=str(path))


def _too_large(path: Path, size: int, limit: int) -> ConfigError:
    return ConfigError(f"is {size:,} bytes, more than the {limit:,} a config may have; pass --max-config-bytes to read "
                       "larger files", file=str(path))


def file_kind(mode: int) -> str:
    """What a file is, from its ``st_mode``: ``regular file``, ``directory``, ``symlink``, ``FIFO``, ``socket``, ``character device``, ...

    Example:
        >>> file_kind(os.stat("configs").st_mode)
        'directory'
    """
    kinds = ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "directory"), (stat.S_ISLNK, "symlink"), (stat.S_ISFIFO, "FIFO"),
             (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"))
    return next((name for test, name in kinds if test(mode)), "special file")


def read_config(path: str | Path, *, round_trip: bool = True, max_bytes: int | None = None) -> Any:
    """The parsed contents of a YAML or JSON config; ConfigError when it cannot be read or parsed.

    The file is read by :func:`read_input`: a regular file of at most ``max_bytes`` (default
    :data:`MAX_CONFIG_BYTES`).

    With ``round_trip=False`` a plain YAML config is read by :func:`~convsolve.io.quickyaml.read_plain`
    (about 20x faster, same values and line numbers, but no comments to write back); anything else
    still goes through ruamel.yaml.

    Also refused: more than :data:`MAX_VALUES` values once YAML aliases are expanded, and nesting
    deeper than :data:`MAX_DEPTH` levels (a config needs a handful).
    """
    path = Path(path)
    text = _decoded(read_input(path, max_bytes=max_bytes), path)
    data = _parse_json(text, path) if path.suffix.lower() == ".json" else _parse_yaml(text, path, round_trip)
    expanded, depth, deepest, bad_text = _measure(data)
    if expanded > MAX_VALUES:
        raise ConfigError(
            f"its aliases expand to more than {MAX_VALUES:,} values (a YAML alias bomb?); write the values out or use fewer aliases",
            file=str(path),
        )
    if bad_text is not None:
        raise ConfigError(f"holds text that is not valid Unicode ({bad_text!r}: a lone surrogate, such as a \\ud800 escape)",
                          file=str(path))
    if depth > MAX_DEPTH:
        line = getattr(getattr(deepest, "lc", None), "line", None)
        raise ConfigError(f"is nested {depth:,} levels deep; a config needs a handful, and at most {MAX_DEPTH} are read",
                          file=str(path), line=None if line is None else line + 1)
    if data is None or (isinstance(data, str) and not data.strip()):
        raise ConfigError("is empty: a config is a mapping with 'input' and 'layers' (see configs/ for examples)", file=str(path))
    problem = _not_plain_data(data)
    if problem is not None:
        raise ConfigError(problem[0], file=str(path), line=problem[1])
    return data


def _not_plain_data(data: Any) -> tuple[str, int | None] | None:
    """The first value YAML reads as something a config cannot hold (a tagged object, a date, bytes, a null or
    composite key), with its line: a config is text, numbers, true/false, lists and mappings of text keys.

    Example:
        >>> _not_plain_data({"name": b"hi"})[0]
        "the value of 'name' is binary data (a !!binary tag); a config holds text, numbers, true/false, lists and mappings"
    """
    seen: set[int] = set()
    stack: list[Any] = [data]
    while stack:
        container = stack.pop()
        if id(container) in seen:
            continue
        seen.add(id(container))
        if not isinstance(container, (dict, list)):
            continue  # a document that is one scalar: the loader says what a config is
        tag = _shown_tag(container)
        if tag:
            return f"a mapping or list carries the YAML tag {tag}, which convsolve does not read: remove it", _line(container, None)
        items = list(container.items()) if isinstance(container, dict) else list(enumerate(container))
        for key, value in items:
            where = f"the value of {key!r}" if isinstance(container, dict) else f"item {key + 1} of a list"
            if isinstance(container, dict) and (key is None or not isinstance(key, (str, int, bool, float))):
                shown = "an empty (null) key" if key is None else f"a key of type {type(key).__name__}"
                return f"has {shown}; write each key as text", _line(container, key)
            problem = _value_kind_problem(value)
            if problem is not None:
                return f"{where} {problem}; a config holds text, numbers, true/false, lists and mappings", _line(container, key)
            if isinstance(value, (dict, list)):
                stack.append(value)
    return None


def _value_kind_problem(value: Any) -> str | None:
    import datetime

    tag = _shown_tag(value)
    if type(value).__name__ == "TaggedScalar" or (tag and not isinstance(value, (dict, list))):
        return f"carries the YAML tag {tag}, which convsolve does not read (remove it)"
    if isinstance(value, (bytes, bytearray)):
        return "is binary data (a !!binary tag)"
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return f"is read as a date or time ({value}); quote it if it is text"
    if value is not None and not isinstance(value, (str, int, float, bool, dict, list)):
        return f"is a {type(value).__name__}"
    return None


def _shown_tag(value: Any) -> str | None:
    """The explicit YAML tag ruamel.yaml kept on ``value`` (``!!python/object:os.system``), if any."""
    tag = getattr(getattr(value, "tag", None), "value", None)
    return None if not tag else str(tag).replace("tag:yaml.org,2002:", "!!")


def _line(container: Any, key: Any) -> int | None:
    lc = getattr(container, "lc", None)
    if lc is None:
        return None
    try:
        if key is None:
            return int(lc.line) + 1
        return int((lc.key(key) if isinstance(container, dict) else lc.item(key))[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _decoded(content: bytes, path: Path) -> str:
    """The text of a config, with line ends made ``\\n`` (as reading in text mode does)."""
    try:
        return content.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                          "a config is a YAML or JSON text file", file=str(path)) from None


class _DuplicateKey(ValueError):
    """A JSON object giving a key twice (json keeps the last silently; the YAML reader refuses it, and so does this)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(f"found duplicate key {key!r} with value {value!r} (original value: {data[key]!r})")
        data[key] = value
    return data


def _parse_json(text: str, path: Path) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise ConfigError(f"is not valid JSON: {exc}", file=str(path)) from None
    except RecursionError:
        raise ConfigError(f"is nested too deeply (more than {MAX_DEPTH} levels)", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"is not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    except ValueError as exc:  # a number of more than 4,300 digits
        raise ConfigError(f"is not valid JSON: {_value_problem(exc)}", file=str(path)) from None


def _parse_yaml(text: str, path: Path, round_trip: bool) -> Any:
    if _flow_depth(text) > 10 * MAX_DEPTH:  # refused before the parser, which takes seconds to overflow its stack on them
        raise ConfigError(f"is nested more than {10 * MAX_DEPTH:,} levels deep; a config needs a handful, and at most {MAX_DEPTH} "
                          "are read", file=str(path))
    plain = None if round_trip else read_plain(text)
    if plain is not None:
        return plain
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        return yaml.load(text)
    except RecursionError:
        raise ConfigError("is nested too deeply for the YAML parser; flatten the structure", file=str(path)) from None
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        problem = exc.problem or str(exc)
        if "base64" in problem:  # ruamel.yaml adds Python's codec or binascii error text
            problem = "a !!binary value is not base64 text (letters, digits, +, / and = padding)"
        raise ConfigError(f"is not valid YAML: {problem}", file=str(path), line=line) from None
    except YAMLError as exc:
        raise ConfigError(f"is not valid YAML: {exc}", file=str(path)) from None
    except ValueError as exc:  # a number of more than 4,300 digits, an impossible date
        raise ConfigError(f"is not valid YAML: {_value_problem(exc)}", file=str(path)) from None
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - ruamel.yaml fails with assorted errors on some malformed scalars (`0b_`, `!!int ''`)
        raise ConfigError("is not valid YAML: a value cannot be read as its type (such as `0b_`, or an empty `!!int`)",
                          file=str(path)) from None


_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


def _flow_depth(text: str) -> int:
    """The deepest nesting of YAML flow brackets (``[`` and ``{``) outside quotes and comments, roughly: an upper bound."""
    depth = deepest = 0
    for bracket in _NOT_A_BRACKET.sub("", _QUOTED.sub("", text)):
        depth = depth + 1 if bracket in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


def _value_problem(exc: ValueError) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    if "integer string conversion" in text:
        return "it holds a number of more than 4,300 digits"
    if text.startswith(("invalid literal", "could not convert")):  # a tag such as !!int or !!float on other text
        return f"the value {text.rsplit(': ', 1)[-1]} does not fit its tag (such as !!int or !!float)"
    return text


MAX_VALUES = 1_000_000
"""The most values (after expanding YAML aliases) a config may hold."""

MAX_DEPTH = 100
"""The deepest nesting of lists and mappings a config may have."""


def _measure(data: Any) -> tuple[int, int, Any, str | None]:
    """How many values ``data`` holds with every alias expanded (capped), how deeply it nests, a container at
    the depth limit, and a string that cannot be written as UTF-8 (a lone surrogate), if any.

    Counted without expanding aliases: each container is visited once.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    bad_text = _bad_text(data)
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        item, children_done = stack.pop()
        if id(item) in sizes:
            continue
        children = _children(item)
        if not children_done and bad_text is None:
            bad_text = next(filter(None, map(_bad_text, children + (list(item) if isinstance(item, dict) else []))), None)
        if children_done or not children:
            sizes[id(item)] = min(1 + sum(sizes.get(id(child), 1) for child in children), MAX_VALUES + 1)
            depths[id(item)] = (1 + max((depths.get(id(child), 0) for child in children), default=0)) if isinstance(item, (dict, list)) else 0
            continue
        stack.append((item, True))
        stack.extend((child, False) for child in children if isinstance(child, (dict, list)) and id(child) not in sizes)
    deepest = data
    for _ in range(MAX_DEPTH):  # follow the deepest branch down to the limit, for the line to show
        children = [child for child in _children(deepest) if isinstance(child, (dict, list))]
        if not children:
            break
        deepest = max(children, key=lambda child: depths[id(child)])
    return sizes[id(data)], depths[id(data)], deepest, bad_text


def _bad_text(value: Any) -> str | None:
    """``value`` when it is a string that cannot be encoded as UTF-8 (it holds a lone surrogate), else None."""
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value[:40]
    return None


def _children(item: Any) -> list[Any]:
    return list(item.values()) if isinstance(item, dict) else item if isinstance(item, list) else []


def load(path: str | Path, *, max_bytes: int | None = None) -> Network:
    """The network described by the config file at ``path`` (of at most ``max_bytes``, see :func:`read_input`), read by
    the fast YAML path (nothing is written back from it)."""
    return Network.from_config(read_config(path, max_bytes=max_bytes, round_trip=False), source=str(path))


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


def write_config(data: Any, path: str | Path, *, overwrite: bool = False, inputs: Sequence[str | Path] = ()) -> None:
    """Write ``data`` as YAML (round-trip: comments and key order kept) or JSON, atomically.

    An existing file is replaced only with ``overwrite``, and never when it is one of ``inputs``;
    the file appears whole or not at all (see :func:`write_bytes`).
    """
    write_text(_dump(data, Path(path)), path, overwrite=overwrite, inputs=inputs)


def _dump(data: Any, path: Path) -> str:
    return format_config(data, as_json=path.suffix.lower() == ".json")


def write_edited(
    source: str | Path, edits: Sequence[tuple[Any, Any]], path: str | Path, *, overwrite: bool = False, backup: bool = False,
    max_bytes: int | None = None,
) -> None:
    """Write the config at ``source`` with ``edits`` (path in the config, new value) applied, to ``path``.

    A YAML file changes only in the edited values (see :mod:`convsolve.io.edit`); JSON is rewritten
    with its key order kept. With ``backup`` (``--in-place``: ``path`` is ``source``), the file
    itself is rewritten, through a symlink to the file it points to, after a copy of it is written
    beside it as ``<file>.bak`` (which must not exist unless ``overwrite``). Without it, ``path``
    must not be ``source``. ``source`` is read as :func:`read_input` reads it, up to ``max_bytes``.
    """
    edited = edited_text(source, edits, max_bytes=max_bytes)
    if not backup:
        write_text(edited, path, overwrite=overwrite, inputs=[source])
        return
    target = output_target(path, overwrite=True, option="--in-place")
    write_bytes(read_input(target, max_bytes=max_bytes), target.with_name(target.name + ".bak"), overwrite=overwrite, option="--in-place")
    write_text(edited, target, overwrite=True, option="--in-place")


def edited_text(source: str | Path, edits: Sequence[tuple[Any, Any]], parsed: Any = None, *, max_bytes: int | None = None) -> str:
    """The text of the config at ``source`` (of at most ``max_bytes``) with ``edits`` applied (see :func:`write_edited`).

    ``parsed``, what :func:`read_config` returned for ``source``, spares parsing it again (it is not changed).
    """
    source = Path(source)
    text = _decoded(read_input(source, max_bytes=max_bytes), source)
    edited = None if source.suffix.lower() == ".json" else edit_yaml(text, edits, parsed)
    if edited is None:  # a round-trip dump, which needs ruamel.yaml's comments
        round_trip = parsed is not None and not isinstance(parsed, (LineMap, LineList))
        data = copy.deepcopy(parsed) if round_trip else read_config(source, max_bytes=max_bytes)
        apply_edits(data, edits)
        edited = _dump(data, source)
    return edited


def output_target(path: str | Path, *, overwrite: bool = False, inputs: Sequence[str | Path] = (), option: str = "-o") -> Path:
    """The file to write for the output ``path`` of option ``option``, once what must not be written is refused.

    A new name is fine. An existing name must be a regular file (a symlink leads to the file it
    points to, which is what gets replaced, as ``--in-place`` edits a linked config), and is
    replaced only with ``overwrite``, and never when it is one of ``inputs`` (the same file,
    under any name). A device, FIFO, socket or folder is refused with or without ``overwrite``:
    ``--force`` replaces a file, never one of those.

    Raises:
        UsageError: any of the above, naming ``path`` and ``option``.

    Example:
        >>> output_target("configs/resnet18.yaml", overwrite=True, inputs=["configs/resnet18.yaml"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        convsolve.errors.UsageError: field '-o': refusing to overwrite the input configs/resnet18.yaml; write elsewhere
    """
    path = Path(path)
    target = Path(os.path.realpath(path))
    try:
        info = os.stat(target)
    except FileNotFoundError:
        if os.path.islink(path):
            raise UsageError(f"{path} is a symlink to {target}, which does not exist; write to {target} itself, or remove the link",
                             field=option) from None
        return target
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", field=option, path=str(path),
                          reason=errno.errorcode.get(exc.errno or 0)) from None
    kind = file_kind(info.st_mode)
    if kind != "regular file":
        raise UsageError(f"{path} is a {kind}, not a regular file; {option} writes regular files only, and --force replaces a "
                         f"file, never a {kind}; choose another output path", field=option)
    for source in inputs:
        if _same_file(info, source):
            raise UsageError(f"refusing to overwrite the input {source}; write elsewhere", field=option)
    if not overwrite:
        raise UsageError(f"{path} exists; choose another output path or pass --force to replace it", field=option)
    return target


def _same_file(info: os.stat_result, other: str | Path) -> bool:
    try:
        theirs = os.stat(other)
    except (OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) == (theirs.st_dev, theirs.st_ino)


def write_text(text: str, path: str | Path, *, overwrite: bool = False, inputs: Sequence[str | Path] = (), option: str = "-o") -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`write_bytes`."""
    write_bytes(text.encode("utf-8"), path, overwrite=overwrite, inputs=inputs, option=option)


def write_bytes(content: bytes, path: str | Path, *, overwrite: bool = False, inputs: Sequence[str | Path] = (), option: str = "-o") -> None:
    """Write ``content`` to ``path`` atomically (a temporary file in the same folder, then a rename).

    What may be written is decided by :func:`output_target`: a new name, or an existing regular
    file (through a symlink, the file it points to) only with ``overwrite`` and when it is none of
    ``inputs``; the replaced file keeps its permissions. The file appears whole or not at all, and
    no temporary file outlives a failed or interrupted write.

    Raises:
        UsageError: ``path`` exists and ``overwrite`` is false, is one of ``inputs``, or is not a regular file.
        OutputError: the file cannot be written (its ``reason`` is the errno name, e.g. ``ENOSPC``).
    """
    path = Path(path)
    target = output_target(path, overwrite=overwrite, inputs=inputs, option=option)
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False) as handle:
            temporary = handle.name
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode_for(target))  # a temporary file is private (0600); the result is not
        if output_target(path, overwrite=overwrite, inputs=inputs, option=option) != target:  # the name changed meanwhile
            raise UsageError(f"{path} changed while it was being written; nothing was written", field=option)
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", field=option, path=str(path),
                          reason=errno.errorcode.get(exc.errno or 0)) from None
    finally:
        if temporary is not None:  # not renamed (a failed write, a timeout, Ctrl-C): leave nothing behind
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def mode_for(path: Path) -> int:
    """The permissions a replaced file keeps, or the usual ones (0666 less the umask) for a new file."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
