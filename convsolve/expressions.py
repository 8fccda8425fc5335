"""A safe integer expression language for search-space constraints and derived fields.

The text is parsed with :func:`ast.parse` and accepted only if every node is in a small whitelist:
integer literals (and ``True``/``False``), names and dotted names of known parameters
(``b1.padding``, ``stem.kernel.height``), ``+ - * // %``, unary ``-``/``+``, comparisons (chained as
in Python), ``and``/``or``/``not``, ``a if c else b``, and calls of ``min(...)``/``max(...)``. The
accepted tree is compiled once into nested closures; nothing is ever passed to ``eval``, ``exec`` or
``compile``, and evaluation only looks names up in the mapping it is given and applies the operators
above, with Python's semantics (floor division, ``%`` with the sign of the divisor, short-circuit
``and``/``or`` returning an operand).

Division by zero: a ``//`` or ``%`` whose right side reads no names and is 0 (``1 // 0``,
``a % (2 - 2)``) is refused when parsed, since it would fail for every assignment; one whose right side
is 0 only for some values raises :class:`ZeroDivisionError` for those, and a solver treats them as
invalid assignments (a constraint is then false). Parts that read no names are computed once, when
parsed.

Example:
    >>> padding = parse_expression("stem.kernel // 2", {"stem.kernel", "width"})
    >>> padding.names
    frozenset({'stem.kernel'})
    >>> padding.evaluate({"stem.kernel": 7})
    3
    >>> parse_expression("stem.kernel ** 2", {"stem.kernel"})
    Traceback (most recent call last):
    ...
    convsolve.errors.ExpressionError: expression 'stem.kernel ** 2', column 13: '**' is not allowed (integers only: + - * // %)
"""

from __future__ import annotations

import ast
import difflib
import operator
import re
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ExpressionError

__all__ = ["Expression", "parse_expression", "MAX_DEPTH", "MAX_LENGTH"]

MAX_DEPTH = 100
"""Deepest nesting of operations accepted; deeper trees are refused rather than risk the recursion limit."""

MAX_LENGTH = 10_000
"""Longest expression text accepted, in characters."""

Evaluator = Callable[[Mapping[str, Any]], Any]

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"min": min, "max": max}

_OPERATOR_SPELLING = {
    ast.Div: "/", ast.Pow: "**", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Invert: "~",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}
_CONSTRUCT_NAMES = {
    ast.Subscript: "a subscript (x[...])",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.JoinedStr: "an f-string",
    ast.FormattedValue: "an f-string",
    ast.Starred: "a starred argument (*x)",
    ast.Tuple: "a tuple",
    ast.List: "a list",
    ast.Set: "a set",
    ast.Dict: "a dict",
    ast.NamedExpr: "an assignment expression (:=)",
    ast.Await: "await",
    ast.Slice: "a slice",
}


@dataclass(frozen=True)
class Expression:
    """A parsed, whitelisted expression: its text, the names it reads, and a compiled evaluator."""

    text: str
    names: frozenset[str]
    _evaluator: Evaluator = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, Any]) -> int | bool:
        """The value of the expression with each name taken from ``values``.

        Parameters:
            values: a value for every name in :attr:`names` (other keys are ignored).

        Returns:
            An int, or a bool for comparisons and ``not``; ``and``/``or`` return one of their operands.

        Raises:
            ZeroDivisionError: ``//`` or ``%`` by zero; a solver treats the assignment as invalid.
            KeyError: a name of :attr:`names` is missing from ``values``.
        """
        result: int | bool = self._evaluator(values)
        return result

    def __str__(self) -> str:
        return self.text


def parse_expression(text: str, known_names: Collection[str], text_names: Collection[str] = ()) -> Expression:
    """Parse ``text`` into an :class:`Expression` over ``known_names``, refusing anything outside the whitelist.

    Parameters:
        text: the expression, e.g. ``"stem.stride <= stem.kernel"``.
        known_names: the names it may read; a dotted name is accepted only if the whole path is one of them.
        text_names: those of ``known_names`` whose values are names (an op, an input): they may only be compared
            with ``==`` or ``!=`` to a quoted name or to one another (``e1.op != "skip"``): true or false, 1 or 0 in a sum.

    Returns:
        The expression, compiled once into closures.

    Raises:
        ExpressionError: a syntax error, an unknown name, or a construct outside the whitelist; the
            message names the construct and its 1-based column.

    Example:
        >>> parse_expression("min(a, b) % 2 == 0 and a != b", {"a", "b"}).evaluate({"a": 4, "b": 6})
        True
    """
    text = str(text)
    parsed = None if text_names else _PARSED.get(text)
    if parsed is not None and all(name in known_names for name in parsed.names):
        return parsed
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"is {len(text)} characters long; the limit is {MAX_LENGTH}", expression=text[:40] + "...")
    indent = len(text) - len(text.lstrip())
    source = text[indent:]
    if not source.strip():
        raise ExpressionError("is empty", expression=text)
    source, numbered = _numbered_names(source, known_names)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        if exc.msg.startswith("Exceeds the limit"):  # Python reads at most sys.get_int_max_str_digits() digits
            raise _long_integer_error(text) from None
        if "null bytes" in exc.msg:
            raise ExpressionError("contains a null character", expression=text, column=text.index("\0") + 1) from None
        # offset 0: the text ended too early
        column = None if exc.offset is None or (exc.lineno or 1) > 1 else indent + (exc.offset or len(source) + 1)
        raise ExpressionError(f"is not a valid expression ({exc.msg})", expression=text, column=column) from None
    except (RecursionError, MemoryError):  # the parser's own stack, well past MAX_DEPTH
        raise ExpressionError(f"is nested more than {MAX_DEPTH} levels deep", expression=text) from None
    compiler = _Compiler(text, source, indent, frozenset(known_names), frozenset(text_names), numbered)
    evaluator = compiler.compile(tree.body, 0)
    parsed = Expression(text, frozenset(compiler.names), evaluator)
    if not compiler.names & compiler.text_names:
        if len(_PARSED) >= 10_000:
            _PARSED.clear()
        _PARSED[text] = parsed
    return parsed


_NUMBERED_PART = re.compile(r"\.\d")


def _numbered_names(source: str, known_names: Collection[str]) -> tuple[str, dict[str, str]]:
    """``source`` with every known name that has a numbered part (``stage2.1.conv.kernel``, a repeated block's
    copy), which Python would read as a float, replaced by a stand-in identifier of the same length (so that
    columns in messages stay right), and the stand-ins."""
    if not _NUMBERED_PART.search(source):
        return source, {}
    numbered = sorted((name for name in known_names if _NUMBERED_PART.search(name) and name in source), key=len, reverse=True)
    stand_ins: dict[str, str] = {}
    for name in numbered:
        stand_in = f"_{len(stand_ins)}_".ljust(len(name), "_")
        replaced = re.sub(rf"(?<![\w.]){re.escape(name)}(?![\w.])", stand_in, source)
        if replaced != source:
            source, stand_ins[stand_in] = replaced, name
    return source, stand_ins


def _long_integer_error(text: str) -> ExpressionError:
    """The error for an integer literal with more digits than Python reads, at its column when found."""
    limit = sys.get_int_max_str_digits()
    for match in re.finditer(r"(?<![\w.])\d[\d_]*", text):
        digits = len(match.group().replace("_", ""))
        if digits > limit:
            return ExpressionError(f"an integer has {digits:,} digits; at most {limit:,} are read", expression=text, column=match.start() + 1)
    return ExpressionError(f"an integer has more than {limit:,} digits, the most that are read", expression=text)


_PARSED: dict[str, Expression] = {}
"""Expressions parsed so far, by text: a batch's repair spaces write the same constraints file after file. A
text is compiled the same way whatever the known names, once the names it reads are among them."""


class _Compiler:
    """Checks one parsed tree against the whitelist and turns it into nested closures."""

    def __init__(
        self, text: str, source: str, indent: int, known_names: frozenset[str], text_names: frozenset[str] = frozenset(),
        numbered: Mapping[str, str] | None = None,
    ) -> None:
        self.text = text
        self.numbered = numbered or {}
        """Stand-in identifier -> the name with a numbered part it replaced (see :func:`_numbered_names`)."""
        self.lines = source.splitlines(keepends=True) or [source]
        self.indent = indent
        self.known_names = known_names
        self.text_names = text_names
        self.names: set[str] = set()
        self.name_reads = 0

    def column(self, node: ast.AST) -> int | None:
        """1-based character column of ``node`` in the whole text (ast gives UTF-8 byte offsets per line)."""
        lineno, offset = getattr(node, "lineno", None), getattr(node, "col_offset", None)
        return None if lineno is None or offset is None else self.character_column(lineno, offset)

    def character_column(self, lineno: int, offset: int) -> int | None:
        """1-based column in the whole text of byte ``offset`` on line ``lineno`` of the parsed source."""
        if lineno > len(self.lines):
            return None
        before = sum(len(line) for line in self.lines[: lineno - 1])
        prefix = self.lines[lineno - 1].encode("utf-8")[:offset].decode("utf-8", errors="ignore")
        return self.indent + before + len(prefix) + 1

    def operator_column(self, left: ast.expr, right: ast.expr) -> int | None:
        """1-based column of the operator written between two operands: the first character after
        the left operand that is neither blank nor a closing parenthesis."""
        if left.end_lineno is None or left.end_col_offset is None:
            return self.column(left)
        offset = left.end_col_offset
        if left.end_lineno == right.lineno:
            gap = self.lines[left.end_lineno - 1].encode("utf-8")[offset : right.col_offset]
            offset += len(gap) - len(gap.lstrip(b" \t)"))
        return self.character_column(left.end_lineno, offset)

    def refuse(self, node: ast.AST, problem: str, column: int | None = None) -> ExpressionError:
        """The error for ``node``, at ``column`` or else at the node's own column."""
        return ExpressionError(problem, expression=self.text, column=column or self.column(node))

    def compile(self, node: ast.AST, depth: int) -> Evaluator:
        """The evaluator of ``node``; a :class:`_Constant` when the part reads no names."""
        reads = self.name_reads
        evaluator = self.compile_part(node, depth)
        if self.name_reads == reads and not isinstance(evaluator, _Constant):
            return _Constant(evaluator({}))
        return evaluator

    def compile_part(self, node: ast.AST, depth: int) -> Evaluator:
        if depth > MAX_DEPTH:
            raise self.refuse(node, f"is nested more than {MAX_DEPTH} levels deep")
        depth += 1
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            binary = _BINARY.get(type(node.op))
            if binary is None:
                column = self.operator_column(node.left, node.right)
                raise self.refuse(node, f"{_spell(node.op)} is not allowed{_operator_hint(node.op)}", column)
            left, right = self.compile(node.left, depth), self.compile(node.right, depth)
            if binary in (operator.floordiv, operator.mod) and isinstance(right, _Constant) and right.value == 0:
                column = self.operator_column(node.left, node.right)
                spelling = "//" if binary is operator.floordiv else "%"
                raise self.refuse(
                    node, f"'{spelling}' divides by zero for every value: its right side {ast.unparse(node.right)!r} is always 0", column
                )
            return lambda values: binary(left(values), right(values))
        if isinstance(node, ast.UnaryOp):
            unary = _UNARY.get(type(node.op))
            if unary is None:
                raise self.refuse(node, f"{_spell(node.op)} is not allowed (unary operators: -, +, not)")
            operand = self.compile(node.operand, depth)
            return lambda values: unary(operand(values))
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        if isinstance(node, ast.BoolOp):
            operands = tuple(self.compile(value, depth) for value in node.values)
            return _all_of(operands) if isinstance(node.op, ast.And) else _any_of(operands)
        if isinstance(node, ast.IfExp):
            test, body, orelse = (self.compile(part, depth) for part in (node.test, node.body, node.orelse))
            return lambda values: body(values) if test(values) else orelse(values)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        construct = _CONSTRUCT_NAMES.get(type(node), f"a {type(node).__name__} node")
        raise self.refuse(node, f"{construct} is not allowed{_ALLOWED}")

    def constant(self, node: ast.Constant) -> Evaluator:
        value = node.value
        if isinstance(value, int):  # bool is an int too: True and False are accepted
            return _Constant(value)
        kind = {
            str: "the string ", bytes: "the bytes ", float: "the float ", complex: "the complex number ", type(...): "the ellipsis "
        }.get(type(value), "")
        hint = " (integers only; use // for floor division)" if isinstance(value, (float, complex)) else _ALLOWED
        raise self.refuse(node, f"{kind}{ast.unparse(node)} is not allowed{hint}")

    def name(self, node: ast.Name | ast.Attribute, text: bool = False) -> Evaluator:
        """A parameter's value (``text``: one whose values are names, read where a comparison of names allows it)."""
        parts = []
        current: ast.AST = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            construct = _CONSTRUCT_NAMES.get(type(current), f"a {type(current).__name__} node")
            raise self.refuse(node, f"attribute access (.{parts[0]}) on {construct} is not allowed; only dotted parameter names are")
        dotted = ".".join([current.id, *reversed(parts)])
        dotted = self.numbered.get(dotted, dotted)
        if dotted not in self.known_names:
            close = difflib.get_close_matches(dotted, sorted(self.known_names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.refuse(node, f"unknown name {dotted!r}{hint}")
        if dotted in self.text_names and not text:
            raise self.refuse(node, f"{dotted!r} takes names (an op, an input): compare it with == or != to a name in quotes, "
                                    f'like {dotted} != "skip"')
        self.names.add(dotted)
        self.name_reads += 1
        return lambda values: values[dotted]

    def compare(self, node: ast.Compare, depth: int) -> Evaluator:
        names = self.names_compared(node)
        if names is not None:
            return names
        relations = []
        operands = [node.left, *node.comparators]
        for index, op in enumerate(node.ops):
            relation = _COMPARE.get(type(op))
            if relation is None:
                column = self.operator_column(operands[index], operands[index + 1])
                raise self.refuse(node, f"the comparison {_spell(op)} is not allowed (use == != < <= > >=)", column)
            relations.append(relation)
        first = self.compile(node.left, depth)
        rest = tuple(zip(relations, (self.compile(item, depth) for item in node.comparators)))

        def chained(values: Mapping[str, Any]) -> Any:
            # a < b < c is a < b and b < c, each operand evaluated once, stopping at the first false link
            left = first(values)
            for relation, evaluate in rest:
                right = evaluate(values)
                result = relation(left, right)
                if not result:
                    return result
                left = right
            return result

        return chained

    def names_compared(self, node: ast.Compare) -> Evaluator | None:
        """``a == "x"`` or ``a != b`` over names (see :func:`parse_expression`'s ``text_names``): true or false (1 or 0
        in a sum); None when the comparison holds no name."""
        operands = [node.left, *node.comparators]

        def is_text(operand: ast.expr) -> bool:
            if isinstance(operand, ast.Constant):
                return isinstance(operand.value, str)
            written = ast.unparse(operand) if isinstance(operand, (ast.Name, ast.Attribute)) else ""
            return self.numbered.get(written, written) in self.text_names

        if not any(is_text(operand) for operand in operands):
            return None
        if len(node.ops) != 1 or not isinstance(node.ops[0], (ast.Eq, ast.NotEq)) or not all(is_text(o) for o in operands):
            raise self.refuse(node, "names (an op, an input) are compared with == or != to a name in quotes or to another such parameter")
        if any(isinstance(o, ast.Constant) and len(str(o.value)) > 1000 for o in operands):
            raise self.refuse(node, "a quoted name is at most 1,000 characters long")
        left, right = (_quoted(o.value) if isinstance(o, ast.Constant) else self.name(o, text=True) for o in operands)  # type: ignore[arg-type]
        equal = isinstance(node.ops[0], ast.Eq)
        return lambda values: (left(values) == right(values)) == equal

    def call(self, node: ast.Call, depth: int) -> Evaluator:
        function = node.func.id if isinstance(node.func, ast.Name) else None
        if function not in _FUNCTIONS:
            called = function or ast.unparse(node.func)
            raise self.refuse(node, f"a call of {called!r} is not allowed (only min(...) and max(...))")
        if node.keywords:
            raise self.refuse(node.keywords[0], f"a keyword argument is not allowed in {function}()")
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self.refuse(argument, f"a starred argument (*x) is not allowed in {function}()")
        if len(node.args) < 2:
            raise self.refuse(node, f"{function}() needs at least two arguments")
        arguments = tuple(self.compile(argument, depth) for argument in node.args)
        chosen = _FUNCTIONS[function]
        return lambda values: chosen(*(argument(values) for argument in arguments))


@dataclass(frozen=True)
class _Constant:
    """The evaluator of a part that reads no names: its value, computed once when parsed."""

    value: int | bool

    def __call__(self, values: Mapping[str, Any]) -> int | bool:
        return self.value


def _quoted(name: str) -> Evaluator:
    """The evaluator of a quoted name."""
    return lambda values: name


_ALLOWED = " (allowed: integers, names, + - * // %, comparisons, and/or/not, if/else, min(), max())"


def _spell(op: ast.AST) -> str:
    return repr(_OPERATOR_SPELLING.get(type(op), type(op).__name__))


def _operator_hint(op: ast.AST) -> str:
    if isinstance(op, ast.Div):
        return " (integers only: use // for floor division)"
    return " (integers only: + - * // %)"


def _all_of(operands: tuple[Evaluator, ...]) -> Evaluator:
    def evaluate(values: Mapping[str, Any]) -> Any:
        for operand in operands:
            result = operand(values)
            if not result:
                return result
        return result

    return evaluate


def _any_of(operands: tuple[Evaluator, ...]) -> Evaluator:
    def evaluate(values: Mapping[str, Any]) -> Any:
        for operand in operands:
            result = operand(values)
            if result:
                return result
        return result

    return evaluate
