"""Model references: the ``torch.nn.Module`` a text such as ``timm:resnet50`` or ``my_models.py:build_net(32)`` names.

The forms, told apart by the text alone:

- ``MODULE:CALLABLE`` (``torchvision.models:resnet18``): MODULE is imported and CALLABLE, a dotted
  name in it, is used: a module instance as is, anything else called without arguments.
- ``FILE.py:CALLABLE`` (``my_models.py:build_net``): the same for a Python file (a text ending in
  ``.py`` or holding a ``/``); the file may import its neighbours.
- ``...:CALLABLE(ARGS)`` (``torchvision.models:resnet18(num_classes=10)``): CALLABLE called with
  these positional and keyword arguments.
- ``timm:NAME`` and ``timm:NAME(KEY=VALUE, ...)``: ``timm.create_model(NAME, pretrained=False, ...)``,
  for any name ``timm.list_models()`` knows (a ``.tag`` suffix is allowed).

ARGS are Python literals only: numbers, strings, ``True``/``False``/``None``, and tuples, lists and
dicts of them, with a leading minus on a number. They are parsed with :mod:`ast` and never evaluated:
a name, call, attribute or operator is refused before anything is imported. Nothing is downloaded:
timm models are built with ``pretrained=False``, and asking timm or torchvision for weights
(``pretrained=True``, ``weights=...``) is refused, as weights never change a size.

Example:
    >>> ref = parse_reference("torchvision.models:resnet18(num_classes=10)")
    >>> ref.module, ref.attribute, ref.args, ref.kwargs, ref.kind
    ('torchvision.models', 'resnet18', (), {'num_classes': 10}, 'module')
    >>> parse_reference("timm:vit_tiny_patch16_224(dynamic_img_size=True)").kind
    'timm'
    >>> parse_reference("x:y(a=b)")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convsolve.errors.ModelImportError: x:y(a=b): argument 'a' is a name (b): only literals are allowed ...
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import USER_CODE_FAILURES, MissingExtraError, ModelImportError, first_line

__all__ = ["ModelReference", "is_model_reference", "load_callable", "parse_reference", "split_reference"]

TIMM = "timm"
"""The MODULE part that names a timm model: ``timm:NAME`` builds it with ``timm.create_model``."""

MAX_ARGUMENTS_CHARS = 10_000
"""The longest argument list read; a reference is a command-line word, not a data file."""

_REFERENCE = re.compile(r"(?P<module>.+?):(?P<attribute>[^:(/]+)(?P<arguments>\(.*)?", re.DOTALL)
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_TIMM_NAME = re.compile(r"[A-Za-z0-9_][\w.\-]*")
_LITERALS = "only literals are allowed (numbers, strings, True, False, None, and tuples, lists and dicts of them); nothing is evaluated"
_DOWNLOADERS = ("timm", "torchvision")


@dataclass(frozen=True)
class ModelReference:
    """A parsed model reference: where the callable lives, its name, and the literal arguments it is called with."""

    text: str
    module: str
    """A module name (``torchvision.models``), a file path (``my_models.py``), or ``timm``."""
    attribute: str
    """The dotted callable name in the module, or the timm model name."""
    arguments: str = ""
    """The argument list as written, ``(...)``, or ``''`` when the reference gives none."""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``timm``, ``file`` or ``module``."""
        if self.module == TIMM:
            return "timm"
        return "file" if self.module.endswith(".py") or "/" in self.module else "module"

    @property
    def called(self) -> bool:
        """Whether the reference gives an argument list, even an empty one: ``net()`` calls what ``net`` names."""
        return bool(self.arguments)

    @property
    def name(self) -> str:
        """The network's default name: the callable's last part, or the timm model's name."""
        return self.attribute.split(".")[-1] if self.kind != "timm" else self.attribute


def split_reference(text: str) -> tuple[str, str, str] | None:
    """``(MODULE, CALLABLE, ARGUMENTS)`` of a text shaped like a reference (ARGUMENTS ``''`` or starting with ``(``), else None.

    Only the shape is looked at: the arguments are not parsed and nothing is imported. A colon inside
    the arguments belongs to them; the CALLABLE holds no ``/``, so ``configs/a:b/c.yaml`` is not a reference.

    Example:
        >>> split_reference('timm:vit(img_size=(224, 224), note="a:b")')
        ('timm', 'vit', '(img_size=(224, 224), note="a:b")')
        >>> split_reference("configs/unet.yaml") is None
        True
    """
    match = _REFERENCE.fullmatch(text)
    if match is None:
        return None
    return match["module"], match["attribute"], match["arguments"] or ""


def is_model_reference(text: str | Path) -> bool:
    """Whether ``text`` names a model by reference rather than a file: it has a reference's shape and is no existing path.

    Example:
        >>> is_model_reference("timm:resnet50"), is_model_reference("configs/unet.yaml")
        (True, False)
    """
    text = str(text)
    return split_reference(text) is not None and not Path(text).exists()


def parse_reference(text: str) -> ModelReference:
    """The :class:`ModelReference` ``text`` gives, its arguments parsed as literals; nothing is imported.

    Raises
    ------
    ModelImportError
        A text that is no reference, a CALLABLE that is not a dotted name (a timm NAME that is not a
        model name), arguments that do not parse or are not literals, positional arguments to a timm
        model, or a request for weights from timm or torchvision.
    """
    parts = split_reference(text)
    if parts is None:
        raise ModelImportError(
            "expected MODULE:CALLABLE (e.g. torchvision.models:resnet50), FILE.py:CALLABLE or timm:NAME, "
            "optionally with literal arguments: CALLABLE(num_classes=10)", file=text,
        )
    module, attribute, arguments = parts
    pattern = _TIMM_NAME if module == TIMM else _DOTTED_NAME
    if not pattern.fullmatch(attribute):
        what = "a timm model name" if module == TIMM else "a dotted Python name"
        unbalanced = " (unbalanced parentheses?)" if ")" in attribute else ""
        raise ModelImportError(f"{attribute!r} is not {what}{unbalanced}", file=text)
    args, kwargs = _parse_arguments(arguments, text) if arguments else ((), {})
    reference = ModelReference(text, module, attribute, arguments, args, kwargs)
    if reference.kind == "timm" and args:
        raise ModelImportError(
            f"timm models take keyword arguments only (timm:{attribute}(key=value, ...)); "
            f"{len(args)} positional argument{'s' if len(args) > 1 else ''} given", file=text,
        )
    if module.partition(".")[0] in _DOWNLOADERS:
        for key, value in kwargs.items():
            if (key == "pretrained" and value) or ("weights" in key and value is not None):
                raise ModelImportError(
                    f"{key}={value!r} asks for weights, which convsolve never downloads (weights do not change a size); "
                    f"drop the argument: {module} builds the model without them", file=text,
                )
    return reference


def _parse_arguments(arguments: str, reference: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword literals of ``(…)``, parsed by :mod:`ast` as the argument list of a call."""
    if len(arguments) > MAX_ARGUMENTS_CHARS:
        raise ModelImportError(f"the arguments are {len(arguments):,} characters long (at most {MAX_ARGUMENTS_CHARS:,})", file=reference)
    try:
        tree = ast.parse("_" + arguments, mode="eval")
    except SyntaxError as exc:
        raise ModelImportError(f"the arguments {_shown(arguments)!r} are not a Python argument list: {exc.msg}", file=reference) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # a NUL byte; nesting deeper than the parser takes
        raise ModelImportError(f"the arguments {_shown(arguments)!r} are not a Python argument list: {first_line(exc)}",
                               file=reference) from None
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "_"):
        raise ModelImportError(f"expected one argument list in parentheses after the callable, got {_shown(arguments)!r}", file=reference)
    args = []
    for position, node in enumerate(call.args, start=1):
        args.append(_literal(node, f"argument {position}", reference))
    kwargs = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise ModelImportError(f"**-unpacking ({_shown(ast.unparse(keyword.value))}) is not allowed: {_LITERALS}", file=reference)
        if keyword.arg in kwargs:
            raise ModelImportError(f"keyword argument {keyword.arg!r} is given twice", file=reference)
        kwargs[keyword.arg] = _literal(keyword.value, f"argument {keyword.arg!r}", reference)
    return tuple(args), kwargs


_NODE_KINDS = {
    ast.Name: "a name", ast.Call: "a call", ast.Attribute: "an attribute", ast.BinOp: "an operator", ast.BoolOp: "an operator",
    ast.Compare: "a comparison", ast.UnaryOp: "an operator", ast.Starred: "*-unpacking", ast.Lambda: "a lambda",
    ast.Subscript: "a subscript", ast.JoinedStr: "an f-string", ast.Set: "a set", ast.IfExp: "a conditional expression",
}


def _literal(node: ast.expr, where: str, reference: str) -> Any:
    """The value of a literal node; anything else is refused, naming the argument and what it is."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (bool, int, float, str))):
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool)):
        return -node.operand.value
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_literal(item, where, reference) for item in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Dict):
        result = {}
        for key, value in zip(node.keys, node.values):
            if key is None:
                raise ModelImportError(f"{where} uses **-unpacking in a dict: {_LITERALS}", file=reference)
            result[_literal(key, where, reference)] = _literal(value, where, reference)
        return result
    kind = "a constant of another type" if isinstance(node, ast.Constant) else _NODE_KINDS.get(type(node), "an expression")
    raise ModelImportError(f"{where} is {kind} ({_shown(ast.unparse(node))}): {_LITERALS}", file=reference)


def _shown(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- loading ----------------------------------------------------------------------------------------


def load_callable(reference: str) -> tuple[Any, str]:
    """The ``torch.nn.Module`` a reference gives (see the module's forms), and the network's default name.

    The arguments are parsed before anything is imported. Only the named module (or file) is
    imported and only the named attribute is used; importing runs the module's top-level code, as
    ``python -c "import module"`` would. A timm model is built with ``pretrained=False``.

    Raises
    ------
    ModelImportError
        A malformed reference or argument list, a missing file or module, a missing attribute or
        timm model (with close matches), a callable that fails or returns something other than a
        ``torch.nn.Module``.
    MissingExtraError
        When torch (or, for ``timm:NAME``, timm) is not installed.
    """
    parsed = parse_reference(reference)
    file = Path(parsed.module)
    if parsed.kind == "file" and not file.is_file():  # a missing file says so, extra or not
        raise ModelImportError("no such file" if not file.exists() else "is not a file", file=parsed.module)
    torch = _import_torch()
    if parsed.kind == "timm":
        return _timm_model(parsed), parsed.name
    module = _import_file(parsed.module, reference) if parsed.kind == "file" else _import_module(parsed.module, reference)
    target: Any = module
    for index, part in enumerate(parsed.attribute.split(".")):
        if not hasattr(target, part):
            owner = file.name if parsed.kind == "file" else parsed.module
            where = ".".join([owner] + parsed.attribute.split(".")[:index])
            names = [n for n in dir(target) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ModelImportError(f"{where} has no attribute {part!r}{hint}", file=reference)
        target = getattr(target, part)
    if isinstance(target, torch.nn.Module):
        if parsed.called:
            raise ModelImportError(f"{parsed.attribute} is a torch.nn.Module instance, not a factory; "
                                   f"write {parsed.module}:{parsed.attribute} without arguments", file=reference)
        return target, parsed.name
    if not callable(target):
        raise ModelImportError(f"{parsed.attribute} is a {type(target).__name__}, neither a torch.nn.Module nor callable", file=reference)
    try:
        model = target(*parsed.args, **parsed.kwargs)
    except USER_CODE_FAILURES as exc:
        hint = ("it must return a torch.nn.Module" if isinstance(exc, SystemExit)
                else "convsolve calls it without arguments; pass them as literals, CALLABLE(key=value), or wrap it in a function"
                if not parsed.called else "check the arguments")
        call = f"{parsed.attribute}{_shown(parsed.arguments or '()')}"
        raise ModelImportError(f"calling {call} failed: {first_line(exc)} ({hint})", file=reference) from None
    if not isinstance(model, torch.nn.Module):
        raise ModelImportError(f"{parsed.attribute}() returned a {type(model).__name__}, not a torch.nn.Module", file=reference)
    return model, parsed.name


def _import_torch() -> ModuleType:
    try:
        import torch
    except ImportError:
        raise MissingExtraError("torch", "torch") from None
    return torch


def _timm_model(reference: ModelReference) -> Any:
    """``timm.create_model(NAME, pretrained=False, **kwargs)``; an unknown name says so with close matches."""
    try:
        import timm
    except ImportError:
        raise MissingExtraError("timm", "timm") from None
    name = reference.attribute
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
        hint = f"close matches: {', '.join(close)}" if close else "timm.list_models() lists them"
        raise ModelImportError(f"timm {timm.__version__} has no model {name!r} ({hint})", file=reference.text)
    kwargs = {key: value for key, value in reference.kwargs.items() if key != "pretrained"}
    try:
        return timm.create_model(name, pretrained=False, **kwargs)
    except USER_CODE_FAILURES as exc:
        raise ModelImportError(f"timm.create_model({name!r}, pretrained=False"
                               f"{''.join(f', {k}={v!r}' for k, v in kwargs.items())}) failed: {first_line(exc)}",
                               file=reference.text) from None


def _import_module(name: str, reference: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise ModelImportError(
                f"no module named {exc.name!r} (is it installed, or is it a file? write FILE.py:CALLABLE)", file=reference
            ) from None
        raise ModelImportError(f"importing {name} failed: {first_line(exc)}", file=reference) from None
    except USER_CODE_FAILURES as exc:
        raise ModelImportError(f"importing {name} failed: {first_line(exc)}", file=reference) from None


def _import_file(path_text: str, reference: str) -> ModuleType:
    path = Path(path_text)
    if not path.is_file():
        raise ModelImportError("no such file" if not path.exists() else "is not a file", file=path_text)
    module_name = f"convsolve_model_{abs(hash(str(path.resolve()))):x}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelImportError("cannot be imported as a Python file", file=path_text)
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # so the file can import its neighbours
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except USER_CODE_FAILURES as exc:
        sys.modules.pop(module_name, None)
        raise ModelImportError(f"importing {path_text} failed: {first_line(exc)}", file=reference) from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module
