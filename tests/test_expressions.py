"""The safe expression language: Python's integer semantics on the whitelist, and nothing else ever runs."""

from __future__ import annotations

import ast
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convsolve.errors import ConfigError, ExpressionError
from convsolve.expressions import MAX_DEPTH, Expression, parse_expression

NAMES = ("a", "b", "stem.kernel", "b1.kernel.height")
"""Names the random expressions read: plain and dotted."""


def name_node(name: str) -> ast.expr:
    """``stem.kernel`` as Python parses it: attributes on a name."""
    first, *rest = name.split(".")
    node: ast.expr = ast.Name(first, ast.Load())
    for part in rest:
        node = ast.Attribute(node, part, ast.Load())
    return node


LEAVES = st.one_of(
    st.integers(0, 40).map(ast.Constant),
    st.sampled_from([True, False]).map(ast.Constant),
    st.sampled_from(NAMES).map(name_node),
)
BINARY = [ast.Add(), ast.Sub(), ast.Mult(), ast.FloorDiv(), ast.Mod()]
UNARY = [ast.USub(), ast.UAdd(), ast.Not()]
COMPARE = [ast.Eq(), ast.NotEq(), ast.Lt(), ast.LtE(), ast.Gt(), ast.GtE()]


def compare(children: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
    links = st.lists(st.tuples(st.sampled_from(COMPARE), children), min_size=1, max_size=3)
    return st.builds(lambda left, rest: ast.Compare(left, [op for op, _ in rest], [c for _, c in rest]), children, links)


def extend(children: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
    operands = st.lists(children, min_size=2, max_size=3)
    return st.one_of(
        st.builds(ast.BinOp, children, st.sampled_from(BINARY), children),
        st.builds(ast.UnaryOp, st.sampled_from(UNARY), children),
        compare(children),
        st.builds(ast.BoolOp, st.sampled_from([ast.And(), ast.Or()]), operands),
        st.builds(ast.IfExp, children, children, children),
        st.builds(lambda function, args: ast.Call(ast.Name(function, ast.Load()), args, []), st.sampled_from(["min", "max"]), operands),
    )


TREES = st.recursive(LEAVES, extend, max_leaves=16)
VALUES = st.fixed_dictionaries({name: st.integers(-30, 30) for name in NAMES})


def floor_divide(a: int, b: int) -> tuple[int, int]:
    """Quotient rounded toward minus infinity and the remainder with the divisor's sign, from truncation."""
    if b == 0:
        raise ZeroDivisionError
    quotient = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        quotient = -quotient if quotient * abs(b) == abs(a) else -quotient - 1
    return quotient, a - b * quotient


def reference(node: ast.expr, values: dict[str, int]) -> Any:
    """The value of a generated tree, written out case by case (no eval, no shared code with convsolve)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Name, ast.Attribute)):
        return values[ast.unparse(node)]
    if isinstance(node, ast.UnaryOp):
        operand = reference(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else +operand if isinstance(node.op, ast.UAdd) else not operand
    if isinstance(node, ast.BinOp):
        a, b = reference(node.left, values), reference(node.right, values)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        quotient, remainder = floor_divide(int(a), int(b))
        return quotient if isinstance(node.op, ast.FloorDiv) else remainder
    if isinstance(node, ast.Compare):
        left = reference(node.left, values)
        for op, item in zip(node.ops, node.comparators):
            right = reference(item, values)
            holds = {
                ast.Eq: left == right, ast.NotEq: left != right, ast.Lt: left < right,
                ast.LtE: left <= right, ast.Gt: left > right, ast.GtE: left >= right,
            }[type(op)]
            if not holds:
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        for item in node.values:
            result = reference(item, values)
            if isinstance(node.op, ast.And) and not result or isinstance(node.op, ast.Or) and result:
                return result
        return result
    if isinstance(node, ast.IfExp):
        return reference(node.body, values) if reference(node.test, values) else reference(node.orelse, values)
    if isinstance(node, ast.Call):
        items = [reference(arg, values) for arg in node.args]
        best = items[0]
        for item in items[1:]:
            if (item < best) if node.func.id == "min" else (item > best):  # type: ignore[attr-defined]
                best = item
        return best
    raise AssertionError(f"unexpected node {ast.dump(node)}")


def divides_by_constant_zero(tree: ast.expr) -> bool:
    """Whether some ``//`` or ``%`` of ``tree`` has a right side that reads no names and is 0 (or itself divides so)."""
    divisors = [node.right for node in ast.walk(tree) if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.FloorDiv, ast.Mod))]
    functions = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}  # min, max, abs: not parameters
    constant = [
        right for right in divisors
        if not any(isinstance(part, (ast.Name, ast.Attribute)) and id(part) not in functions for part in ast.walk(right))
    ]
    zero = (("ZeroDivisionError", None), ("int", 0), ("bool", False))
    return any(outcome(lambda right=right: reference(right, {})) in zero for right in constant)


def outcome(function: Any) -> tuple[str, Any]:
    try:
        value = function()
    except ZeroDivisionError:
        return "ZeroDivisionError", None
    return type(value).__name__, value


@settings(max_examples=400, deadline=None)
@given(TREES, VALUES)
def test_random_expressions_evaluate_as_python_does(tree, values):
    text = ast.unparse(tree)
    assert ast.dump(ast.parse(text, mode="eval").body) == ast.dump(tree), "unparse must keep the generated structure"
    if divides_by_constant_zero(tree):
        with pytest.raises(ExpressionError, match="divides by zero for every value"):
            parse_expression(text, NAMES)
        return
    expression = parse_expression(text, NAMES)
    assert outcome(lambda: expression.evaluate(values)) == outcome(lambda: reference(tree, values))
    written = {ast.unparse(node) for node in ast.walk(tree) if isinstance(node, (ast.Name, ast.Attribute))}
    assert expression.names == written & set(NAMES)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7 // 2", 3), ("-7 // 2", -4), ("7 // -2", -4), ("-7 % 3", 2), ("7 % -3", -2),
        ("1 < 2 < 3", True), ("3 > 2 > 2", False), ("0 or 5", 5), ("3 and 0", 0), ("not 0", True),
        ("min(3, -1, 2)", -1), ("max(1, 2) * 2", 4), ("1 if 0 else 2", 2), ("True + 1", 2), ("-(-3)", 3),
        ("  2 + 2", 4), ("(1 +\n 2)", 3),
    ],
)
def test_semantics_are_pythons(text, expected):
    result = parse_expression(text, ()).evaluate({})
    assert result == expected and type(result) is type(expected)


def test_dotted_names_are_read_whole():
    expression = parse_expression("b1.kernel.height <= k and stem.kernel // 2 == b1.padding", {"b1.kernel.height", "k", "stem.kernel", "b1.padding"})
    assert expression.names == {"b1.kernel.height", "k", "stem.kernel", "b1.padding"}
    assert expression.evaluate({"b1.kernel.height": 3, "k": 3, "stem.kernel": 5, "b1.padding": 2}) is True


def test_division_by_zero_raises_zero_division_error():
    expression = parse_expression("a // b + a % b", {"a", "b"})
    with pytest.raises(ZeroDivisionError):
        expression.evaluate({"a": 3, "b": 0})
    # short-circuit guards a division, as in Python
    assert parse_expression("b != 0 and a // b > 1", {"a", "b"}).evaluate({"a": 3, "b": 0}) is False


@pytest.mark.parametrize(
    "text, column, divisor",
    [("1 // 0 >= 0", 3, "'0'"), ("a % (2 - 2) == 1", 3, "'2 - 2'"), ("a // min(0, 1)", 3, "'min(0, 1)'"),
     ("a > 0 or 1 // 0", 12, "'0'"), ("a // -(b - b + 0)", None, None)],
)
def test_division_by_a_constant_zero_is_refused_when_parsed(text, column, divisor):
    """`1 // 0 >= 0` in a constraint made every assignment invalid (count 0) without a word."""
    if column is None:  # zero only for the values it reads: an invalid assignment, per assignment
        with pytest.raises(ZeroDivisionError):
            parse_expression(text, {"a", "b"}).evaluate({"a": 1, "b": 2})
        return
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, {"a", "b"})
    assert info.value.column == column
    assert info.value.problem.endswith(f"divides by zero for every value: its right side {divisor} is always 0")


def test_a_constraint_dividing_by_zero_is_a_config_error_naming_it():
    from convsolve.space import Space

    data = {"name": "t", "input": {"channels": 3, "size": 8},
            "layers": [{"name": "c", "type": "conv2d", "out_channels": 8, "kernel": {"choice": [1, 3]}}],
            "constraints": ["c.kernel >= 1", "1 // 0 >= 0"]}
    with pytest.raises(ExpressionError) as info:
        Space.from_config(data, source="space.yaml")
    assert str(info.value) == ("space.yaml: field 'constraints': expression '1 // 0 >= 0', column 3: "
                               "'//' divides by zero for every value: its right side '0' is always 0")


def test_a_constant_part_is_computed_once_when_parsed():
    expression = parse_expression("a * (2 * 3 + 1) if 1 < 2 else 0", {"a"})
    assert expression.evaluate({"a": 2}) == 14


def test_a_long_expression_is_cut_around_the_column_with_a_caret():
    """Errors quoted the whole expression, up to 10 KB on one line."""
    known = [f"b{i}.kernel" for i in range(50)]
    text = f"max({', '.join(known)}) ** 2"
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, known)
    head, excerpt, caret = info.value.message.split("\n")
    assert head.startswith(f"expression of {len(text)} characters, column {len(text) - 3}: '**' is not allowed")
    assert len(excerpt) <= 2 + 3 + ExpressionError.SHOWN + 3
    assert excerpt.startswith("  ...") and excerpt.endswith("b49.kernel) ** 2")
    assert excerpt[len(caret) - 1 : len(caret) + 1] == "**" and set(caret[:-1]) == {" "}
    assert info.value.facts["expression"].startswith("max(b0.kernel, ")  # --json keeps it whole


@pytest.mark.parametrize(
    "text, problem",
    [
        ("-" * 9999 + "1", f"is nested more than {MAX_DEPTH} levels deep"),
        ("1+" * 4900 + "1", f"is nested more than {MAX_DEPTH} levels deep"),
        ("(1," * 3000, f"is nested more than {MAX_DEPTH} levels deep"),
        ("a." * 4999 + "a", f"is nested more than {MAX_DEPTH} levels deep"),
        ("a + " + "1" * 5000, "an integer has 5,000 digits; at most 4,300 are read"),
        ("a\x00", "contains a null character"),
    ],
    ids=["unary", "sum", "tuples", "dotted", "digits", "null"],
)
def test_parser_failures_name_no_python_internals(text, problem):
    """Parser failures printed `(RecursionError: ...)`, `(MemoryError: )` or `use sys.set_int_max_str_digits()`."""
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, {"a"})
    assert info.value.problem == problem
    message = str(info.value)
    assert not any(word in message for word in ("Error", "sys.", "null bytes"))
    assert max(map(len, message.splitlines())) < 100
    if text.startswith("a + 1"):
        assert info.value.column == 5


def test_expressions_are_frozen_values():
    one, two = parse_expression("a + 1", {"a"}), parse_expression("a + 1", {"a", "b"})
    assert one == two and hash(one) == hash(two) and str(one) == "a + 1"
    with pytest.raises(AttributeError):
        one.text = "a"  # type: ignore[misc]


FORBIDDEN = [
    ("__import__('os')", "a call of '__import__'", 1),
    ("__import__('os').system('touch pwned')", "a call of", 1),
    ("().__class__", "attribute access (.__class__) on a tuple", 1),
    ("().__class__.__bases__[0].__subclasses__()", "a call of", 1),
    ("x[0]", "a subscript", 1),
    ("x[0:1]", "a subscript", 1),
    ("lambda: 1", "a lambda", 1),
    ("open('f')", "a call of 'open'", 1),
    ("x.y()", "a call of 'x.y'", 1),
    ("1/2", "'/' is not allowed", 2),
    ("x  ** 3", "'**' is not allowed", 4),
    ("x << 1", "'<<' is not allowed", 3),
    ("x @ x", "'@' is not allowed", 3),
    ("x & 1", "'&' is not allowed", 3),
    ("~x", "'~' is not allowed", 1),
    ("'a'", "the string 'a'", 1),
    ("b'a'", "the bytes b'a'", 1),
    ("1.5", "the float 1.5", 1),
    ("1j", "the complex number 1j", 1),
    ("None", "None is not allowed", 1),
    ("...", "the ellipsis ... is not allowed", 1),
    ("[x for x in y]", "a comprehension", 1),
    ("{x: 1 for x in y}", "a comprehension", 1),
    ("(x for x in y)", "a generator expression", 1),
    ("f'{x}'", "an f-string", 1),
    ("max(*x)", "a starred argument", 5),
    ("max(x, key=x)", "a keyword argument", 8),
    ("min(x)", "at least two arguments", 1),
    ("(x, 1)", "a tuple", 1),
    ("[x]", "a list", 1),
    ("{x}", "a set", 1),
    ("{x: 1}", "a dict", 1),
    ("(y := 1)", "an assignment expression", 2),
    ("x in y", "the comparison 'in'", 3),
    ("x is not y", "the comparison 'is not'", 3),
    ("await x", "await is not allowed", 1),
    ("x.__class__", "unknown name 'x.__class__'", 1),
    ("z + 1", "unknown name 'z'", 1),
    ("x +", "is not a valid expression", 4),
    ("x = 1", "is not a valid expression", None),
    ("import os", "is not a valid expression", None),
    ("", "is empty", None),
]


@pytest.mark.parametrize("text, problem, column", FORBIDDEN)
def test_forbidden_constructs_are_refused_naming_construct_and_column(text, problem, column):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, {"x", "y"})
    err = info.value
    assert isinstance(err, ConfigError)
    assert problem in err.problem and err.expression == text
    if column is not None:
        assert err.column == column and f"column {column}" in str(err)
    assert "\n" not in err.problem


def test_unknown_name_suggests_a_known_one():
    with pytest.raises(ExpressionError, match=r"unknown name 'stem\.kernal' \(did you mean 'stem\.kernel'\?\)"):
        parse_expression("stem.kernal // 2", {"stem.kernel", "stem.stride"})


def test_deep_nesting_is_refused_not_a_recursion_error():
    with pytest.raises(ExpressionError, match="nested more than"):
        parse_expression(" + ".join(["1"] * (MAX_DEPTH + 5)), ())
    assert parse_expression(" + ".join(["1"] * (MAX_DEPTH - 5)), ()).evaluate({}) == MAX_DEPTH - 5


class Spy:
    """A value that records any attribute access, call or subscript made on it."""

    touched: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        Spy.touched.append(f"getattr {name}")
        return object.__getattribute__(self, name)

    def __call__(self, *args: Any) -> Any:
        Spy.touched.append("call")

    def __getitem__(self, key: Any) -> Any:
        Spy.touched.append("getitem")


class Audit:
    """Records the interpreter's audit events (imports, exec, open, os.system, ...) while active."""

    events: list[str] = []
    active = False
    installed = False

    def __enter__(self) -> list[str]:
        if not Audit.installed:
            sys.addaudithook(lambda event, args: Audit.events.append(event) if Audit.active else None)
            Audit.installed = True
        Audit.events.clear()
        Audit.active = True
        return Audit.events

    def __exit__(self, *exc: Any) -> None:
        Audit.active = False


@pytest.mark.parametrize("text", [text for text, _, _ in FORBIDDEN])
def test_nothing_runs_for_a_forbidden_expression(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Spy.touched.clear()
    with Audit() as events, pytest.raises(ExpressionError):
        parse_expression(text, {"x", "y"})
    assert set(events) <= {"compile"}, events  # ast.parse audits as compile; no exec, import, open, system
    assert Spy.touched == [] and list(tmp_path.iterdir()) == []


def test_evaluation_only_looks_names_up():
    spy = Spy()
    Spy.touched.clear()
    looked_up = []

    class Values(dict):
        def __getitem__(self, key: str) -> Any:
            looked_up.append(key)
            return super().__getitem__(key)

    with Audit() as events:
        expression = parse_expression("x if y else z", {"x", "y", "z"})
        assert expression.evaluate(Values(x=spy, y=1, z=spy)) is spy
    assert Spy.touched == [] and looked_up == ["y", "x"]
    assert set(events) <= {"compile"}, events


def test_the_module_never_calls_eval_exec_or_compile():
    import convsolve.expressions as module

    tree = ast.parse(open(module.__file__, encoding="utf-8").read())
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_expression_error_carries_its_facts():
    with pytest.raises(ExpressionError) as info:
        parse_expression("1/2", ())
    assert info.value.to_dict()["expression"] == "1/2" and info.value.to_dict()["column"] == "2"
    assert isinstance(parse_expression("1", ()), Expression)
