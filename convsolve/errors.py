"""The one exception hierarchy of convsolve; each error carries its facts as fields.

Example:
    >>> err = ConfigError("kernel must be a positive integer", file="net.yaml", node="c1", field="kernel")
    >>> str(err)
    "net.yaml: layer 'c1', field 'kernel': kernel must be a positive integer"
"""

from __future__ import annotations

from typing import Any


class ConvsolveError(Exception):
    """Base of every error convsolve raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, **facts: Any) -> None:
        self.message = message
        self.facts = {key: value for key, value in facts.items() if value is not None}
        super().__init__(str(self))

    def location(self) -> str:
        """Where the problem is: file, line, layer and field, as far as known."""
        parts = []
        node = self.facts.get("node")
        if node is not None:
            parts.append(f"layer {node!r}")
        field = self.facts.get("field")
        if field is not None:
            parts.append(f"field {field!r}")
        file, line = self.facts.get("file"), self.facts.get("line")
        place = ("" if file is None else f"{file}:{line}" if line else str(file))
        return ": ".join(p for p in (place, ", ".join(parts)) if p)

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data, for ``--json``."""
        return {"error": type(self).__name__, "message": self.message, **{k: str(v) for k, v in self.facts.items()}}


class ConfigError(ConvsolveError):
    """The network description itself is malformed: a bad field, name, type or graph."""


class ExpressionError(ConfigError):
    """A constraint or derived value that does not parse, or uses something outside the safe subset.

    Carries the ``expression`` text and, when known, the 1-based ``column`` of the offending construct.
    An expression longer than :attr:`SHOWN` characters is not quoted whole: the message shows the part
    around the column, with a caret under it.

    Example:
        >>> text = "a + " * 20 + "a ** 2" + " + a" * 10
        >>> print(ExpressionError("'**' is not allowed", expression=text, column=83).message)
        expression of 126 characters, column 83: '**' is not allowed
          ...+ a + a + a + a + a + a + a + a + a + a ** 2 + a + a + a + a + a + a + a + a + a...
                                                     ^
    """

    SHOWN = 80

    def __init__(self, problem: str, *, expression: str, column: int | None = None, **facts: Any) -> None:
        self.problem = problem
        self.expression = expression
        self.column = column
        at = f", column {column}" if column is not None else ""
        if len(expression) <= self.SHOWN:
            message = f"expression {expression!r}{at}: {problem}"
        else:
            message = f"expression of {len(expression):,} characters{at}: {problem}\n{_excerpt(expression, column, self.SHOWN)}"
        super().__init__(message, expression=expression, column=column, **facts)


def _excerpt(text: str, column: int | None, width: int) -> str:
    """At most ``width`` characters of ``text`` around ``column`` (1-based) on one line, "..." where cut,
    and a caret under the column on the next line; without a column, the text's start and no caret."""
    index = 0 if column is None else min(max(column - 1, 0), len(text) - 1)
    start = max(0, min(index - width // 2, len(text) - width))
    shown = "".join(char if char.isprintable() else " " for char in text[start : start + width])
    before = "..." if start > 0 else ""
    after = "..." if start + width < len(text) else ""
    line = f"  {before}{shown}{after}"
    if column is None:
        return line
    return f"{line}\n  {' ' * (len(before) + index - start)}^"


class ModelImportError(ConfigError):
    """A model that cannot be imported: a missing file or callable, a failed trace, a module or op without a rule.

    Carries ``file`` (the model reference), ``node`` (the layer being translated) and, for PyTorch,
    ``module`` (the qualified name of the module where it happened) when known.
    """

    def location(self) -> str:
        where = super().location()
        module = self.facts.get("module")
        if module is None:
            return where
        return f"{where}, module {module!r}" if where else f"module {module!r}"


USER_CODE_FAILURES = (Exception, SystemExit)
"""What user code (a model's module, factory, forward or rule) may raise that becomes a ModelImportError: anything
but KeyboardInterrupt; a SystemExit too, which would otherwise end convsolve with the model's exit code and no word."""


def first_line(exc: BaseException) -> str:
    """One line saying what user code raised: the exception's type and the first line of its message.

    Example:
        >>> first_line(ValueError("no weights here\\nmore detail"))
        'ValueError: no weights here'
        >>> first_line(SystemExit(3))
        'it called sys.exit(3)'
    """
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class InvalidAssignment(ConvsolveError):
    """Values of a search space's parameters that do not make a valid layer.

    For example a derived padding of -1, ``padding: same`` with stride 2 in PyTorch, or a division
    by zero in a derived value. A solver treats the combination as excluded, not as an error.
    """

    exit_code = 1


class ChannelMismatch(ConvsolveError, ValueError):
    """The channels reaching a layer do not fit it (groups that do not divide them, an ``in_channels`` that
    differs, an add of unequal channels): carries the layer's ``field`` at fault.

    Example:
        >>> err = ChannelMismatch("groups", "groups (3) must divide the input channels (8)")
        >>> err.field, str(err)
        ('groups', "field 'groups': groups (3) must divide the input channels (8)")
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message, field=field)


class UsageError(ConvsolveError):
    """A command-line argument or API argument is malformed."""


class OutputError(UsageError):
    """An output cannot be written: its folder is read-only or full, or another run is writing there.

    Carries ``path`` and, for a failed system call, ``reason`` (the errno name, e.g. ``ENOSPC``).
    """


class MissingExtraError(ConvsolveError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"this needs {package}; install it with: pip install 'convsolve[{extra}]'")


class SolverTimeout(ConvsolveError):
    """A solver run exceeded its ``--timeout``."""

    exit_code = 124

    def __init__(self, seconds: float) -> None:
        super().__init__(f"stopped after the timeout of {seconds:g} s; narrow the space or the input range, or allow more time", seconds=seconds)


class SolverLimit(ConvsolveError):
    """The solver's state grew past what it may hold: names the layer and what grew."""

    def __init__(self, node: str, what: str, count: int, limit: int) -> None:
        super().__init__(
            f"the solver would hold {count:,} {what} (the limit is {limit:,}); narrow the input "
            "range (--input), the parameters' domains, or the kinds a repair may change (--allow)",
            node=node,
        )
