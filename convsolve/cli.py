"""The ``convsolve`` command line: parsing arguments and printing results, nothing more.

Exit codes: 0 valid, 1 invalid network, 2 bad input or usage.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .errors import ConvsolveError, MissingExtraError, SolverLimit, SolverTimeout, UsageError
from .io.config import MAX_CONFIG_BYTES, output_target, read_config
from .io.references import split_reference
from .io.sources import is_torch_reference, load
from .network import Network
from .sizesets import MAX_SIZE, SizeRange, parse_input

class _App(typer.Typer):
    """The command line; ``--debug`` may also come after the command (``convsolve check FILE --debug``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        sys.argv[1:] = hoisted_debug(sys.argv[1:])
        return super().__call__(*args, **kwargs)


def hoisted_debug(arguments: list[str]) -> list[str]:
    """The arguments with ``--debug`` moved before the command, wherever it was given (not after ``--``).

    Example:
        >>> hoisted_debug(["check", "a.yaml", "--debug"])
        ['--debug', 'check', 'a.yaml']
        >>> hoisted_debug(["check", "--", "--debug"])
        ['check', '--', '--debug']
    """
    end = arguments.index("--") if "--" in arguments else len(arguments)
    if "--debug" not in arguments[:end]:
        return arguments
    return ["--debug"] + [a for k, a in enumerate(arguments) if not (k < end and a == "--debug")]


app = _App(
    help="Which kernel/stride/padding choices keep every layer valid over a range of input sizes.\n\n"
    "Examples:\n\n"
    "  convsolve check configs/seed/kernel_larger_than_input.yaml\n\n"
    "  convsolve shapes configs/resnet18.yaml --input 224\n\n"
    "  convsolve sizes configs/unet.yaml --input 1:512\n\n"
    "  convsolve sizes torchvision.models:resnet50 --input 1:512\n\n"
    "Networks are config files (YAML/JSON), ONNX models (.onnx, read and never run) or PyTorch MODULE:CALLABLE / "
    "FILE.py:CALLABLE / timm:NAME references, optionally with literal arguments (CALLABLE(num_classes=10), parsed, "
    "never evaluated): for those convsolve imports only the named module (or file) and calls only the named callable "
    "(timm.create_model without weights), then traces the nn.Module it returns with torch.fx.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class _Stdout:
    """``sys.stdout``, except that a reader who has gone (``convsolve enumerate ... | head -1``) ends the output quietly.

    The first write that finds the pipe closed points the file descriptor at ``/dev/null`` (so the
    final flush at exit has nowhere to fail) and sets :attr:`reader_gone`; later writes are dropped,
    and a command that streams rows stops at the next one. The command then exits with its own code.
    """

    reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                sys.stdout.write(text)
            except BrokenPipeError:
                self._reader_left()
        return len(text)

    def write_whole(self, text: str) -> None:
        """Write ``text`` (whole lines) with Ctrl-C and the --timeout alarm held until it is all written, so that no
        line is cut."""
        hold = getattr(signal, "pthread_sigmask", None)
        if hold is None:  # no signal masks here (Windows): a plain write
            self.write(text)
            return
        previous = hold(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGALRM})
        try:
            self.write(text)
            self.flush()
        finally:
            hold(signal.SIG_SETMASK, previous)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                self._reader_left()

    def _reader_left(self) -> None:
        self.reader_gone = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
            os.close(null)
        except (OSError, ValueError, AttributeError):  # not a real file (a test's captured output): nothing to flush at exit
            pass

    def isatty(self) -> bool:
        return sys.stdout.isatty()

    def fileno(self) -> int:
        return sys.stdout.fileno()

    @property
    def encoding(self) -> str:
        return getattr(sys.stdout, "encoding", None) or "utf-8"


stdout = _Stdout()
# User text (layer names, paths, model references) is printed as it is: no Rich markup, no :emoji: codes.
out = Console(file=stdout, highlight=False, soft_wrap=True, markup=False, emoji=False)  # type: ignore[arg-type]
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)
state: dict[str, Any] = {"debug": False, "subject": None}

INPUT_HELP = (
    "Input sizes overriding the config: 224, a range 32:224 or every 16th size 64:512:16 (every spatial axis), "
    "or per axis joined by x: 224x320, 32:64x100:200."
)
JSON_HELP = "Print the result as JSON."
MAX_TIMEOUT = 1_000_000.0
"""The longest --timeout, in seconds (11.6 days): past it a timer cannot be set on every platform."""
TIMEOUT_HELP = f"Stop with exit code 124 after this many seconds (more than 0, at most {MAX_TIMEOUT:,.0f})."
MAX_CONFIG_BYTES_OPTION: Any = typer.Option(
    MAX_CONFIG_BYTES, "--max-config-bytes", min=1, max=2**40,
    help="The largest config file read, in bytes; a config must also be a regular file (a device, FIFO or folder is refused).",
)
MAX_SAMPLES = 1_000_000
"""The most assignments ``sample -n`` draws (each is held in memory until printed)."""
MAX_REPORT_SAMPLES = 1_000
"""The most samples ``report -n`` lists on its page."""
MAX_SEED = 2**63 - 1
MAX_WORKERS = 4 * (os.cpu_count() or 1)
"""The most local worker processes of ``batch-repair``: four per CPU core."""
MODEL_HELP = (
    "Network: a config (YAML or JSON), an ONNX model (.onnx), or a PyTorch MODULE:CALLABLE, FILE.py:CALLABLE or timm:NAME, "
    "optionally with literal arguments, CALLABLE(num_classes=10) (convsolve imports only that module or file and calls "
    "only that callable, which must return an nn.Module)."
)


def _print_version(asked: bool) -> None:
    if asked:
        from . import __version__

        out.print(f"convsolve {__version__}", markup=False)
        raise typer.Exit(0)


FLAG = ""
"""The metavar of an on/off option: nothing, so that help shows ``--json`` alone (not ``--json <bool>``)."""


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.", metavar=FLAG),
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_print_version, is_eager=True, metavar=FLAG),
) -> None:
    """convsolve: valid sizes, shapes and diagnostics for CNNs over ranges of input sizes."""
    state["debug"] = debug


def _checked_timeout(seconds: float | None) -> float | None:
    """``--timeout``: a number of seconds above 0 and at most :data:`MAX_TIMEOUT` (not inf, not nan)."""
    if seconds is not None and not (0 < seconds <= MAX_TIMEOUT):  # nan fails both
        shown = f"{seconds:g}" if math.isfinite(seconds) else str(seconds)
        raise typer.BadParameter(f"{shown} is not a number of seconds above 0 and at most {MAX_TIMEOUT:,.0f}")
    return seconds


def _over_input(loaded: Any, input_text: str | None) -> Any:
    """A network or space over the ``--input`` ranges, when given."""
    state["subject"] = loaded.source
    if input_text is None:
        return loaded
    ranges, tied = parse_input(input_text, loaded.ndim)
    parts = input_text.lower().split("x")
    if len(parts) == loaded.ndim + 2:  # N x C x spatial: the channels must be the network's
        channels = parts[1].strip()
        expected = getattr(loaded.input, "channels", None)
        if not channels.isdigit() or (expected is not None and int(channels) != expected):
            raise UsageError(f"--input {input_text!r}: the network takes {expected} input channels, not {channels}; give the "
                             "spatial sizes alone (224x224) or the network's channel count", field="--input")
    return loaded.with_input(ranges, tied)


def _load(path: Path, input_text: str | None, max_config_bytes: int) -> Network:
    import_over = None
    if input_text is not None and "x" not in input_text.lower() and is_torch_reference(path):
        try:  # one range for every axis: a PyTorch model is imported over it (its branches and checks cover just these)
            import_over = SizeRange.parse(input_text.strip())
        except ValueError:
            import_over = None  # parse_input below says what is wrong with it
    return _over_input(load(path, max_config_bytes=max_config_bytes, input=import_over), input_text)  # type: ignore[no-any-return]


def _input_files(reference: Path) -> list[Path]:
    """The files a command reads for ``reference``: the config or model, or a PyTorch reference's ``file.py``."""
    parts = split_reference(str(reference))
    if is_torch_reference(reference) and parts is not None:
        module = parts[0]
        return [Path(module)] if module.endswith(".py") else []
    return [reference]


def _run(action: Callable[[], int]) -> None:
    """Run a command, turning convsolve errors into a one-paragraph message and exit code."""
    state["subject"] = None
    stdout.reader_gone = False
    try:
        code = action()
        stdout.flush()
    except ConvsolveError as exc:
        if state["debug"]:
            raise
        subject = _subject()
        if subject is not None and "file" not in exc.facts and not isinstance(exc, MissingExtraError):
            exc.facts["file"] = subject  # a solver or usage error raised without it: the reader still learns which file
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(exc.exit_code) from None
    except MemoryError:
        if state["debug"]:
            raise
        where = "" if _subject() is None else f"{_subject()}: "
        err.print(f"error: {where}ran out of memory; narrow the input range (--input) or the parameters' domains", markup=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("interrupted; nothing was written", markup=False)
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def _subject() -> str | None:
    """The config file or model the running command has loaded (None before loading, and for batch-repair)."""
    return state.get("subject")


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Stop the block with SolverTimeout (exit code 124) once ``seconds`` have passed.

    A SIGALRM timer, so it bounds everything the block does (importing and tracing a model, reading
    a config, inference, diagnosis), not only the solver's steps. Whatever the block raises once the
    timer has fired is reported as the timeout: user code (a model's factory) may wrap or swallow it.
    Output is printed and files are written outside the block. Without a main thread or SIGALRM
    (Windows), the block runs unbounded.
    """
    if seconds is None or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def on_alarm(signum: int, frame: Any) -> None:
        nonlocal fired
        fired = True
        raise SolverTimeout(seconds)

    def unraisable(info: Any) -> None:  # the alarm landed in a finalizer: nothing to print, the block ends below
        if not isinstance(info.exc_value, SolverTimeout):
            hook(info)

    hook, sys.unraisablehook = sys.unraisablehook, unraisable
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
    try:
        yield
        if fired:  # the alarm landed in a finalizer, which swallows what it raises: the block finished late
            raise SolverTimeout(seconds)
    except SolverTimeout:
        raise
    except Exception as exc:
        if fired:
            raise SolverTimeout(seconds) from exc
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        sys.unraisablehook = hook


def _print_json(data: Any) -> None:
    stdout.write(json.dumps(data, indent=2) + "\n")


def _show(result: Any, as_json: bool) -> None:
    """Print a result for people (its ``str``) or for scripts (its ``to_dict`` as JSON)."""
    if as_json:
        _print_json(result.to_dict())
    else:
        out.print(str(result), markup=False)


def _unmet_targets(config: Path, network: Network, max_config_bytes: int) -> list[str]:
    """The ``targets:`` of a config file that the network does not meet (none for a model)."""
    if is_torch_reference(config) or config.suffix.lower() == ".onnx":
        return []
    from .ops.targets import unmet_targets

    return unmet_targets(read_config(config, max_bytes=max_config_bytes, round_trip=False), network)


@app.command()
def check(
    config: Path = typer.Argument(..., help=MODEL_HELP),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP, metavar=FLAG),
    timeout: float | None = typer.Option(None, "--timeout", help=TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """Is the network valid at every input size of its range? If not, where, why, and what fixes it.

    Example: convsolve check configs/seed/kernel_larger_than_input.yaml
    """

    def action() -> int:
        with _time_limit(timeout):
            network = _load(config, input, max_config_bytes)
            report = network.check()
            unmet = _unmet_targets(config, network, max_config_bytes)
        if as_json:
            _print_json({**report.to_dict(), "targets_unmet": unmet})
        else:
            out.print(str(report), markup=False)
            for target in unmet:
                out.print(f"target not met: {target}", markup=False)
        return 0 if report.ok and not unmet else 1

    _run(action)


@app.command()
def sizes(
    config: Path = typer.Argument(..., help=MODEL_HELP),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    nearest: str | None = typer.Option(
        None, "--nearest", help="One input size (250, or 250x300): the nearest valid sizes above and below it and the pad / "
        "crop that reach them, as PyTorch code. Exit 1 when the size itself is not valid."),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP, metavar=FLAG),
    timeout: float | None = typer.Option(None, "--timeout", help=TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """The input sizes at which every layer is valid, stated compactly; with --nearest, the input plan for one size.

    Example: convsolve sizes configs/unet.yaml --input 1:512
    Example: convsolve sizes configs/unet.yaml --nearest 250
    """

    def action() -> int:
        if nearest is not None:
            return _input_plan(config, input, nearest, max_config_bytes, as_json, timeout)
        with _time_limit(timeout):
            network = _load(config, input, max_config_bytes)
            valid = network.valid_sizes()
        if as_json:
            _print_json({"network": network.name, "input": network.input.describe(), **valid.to_dict()})
        else:
            smallest = "" if valid.min is None else f"; smallest {'x'.join(map(str, valid.min))}"
            count = f" ({len(valid.sets[0])} sizes{smallest})" if valid.tied else ""
            out.print(f"valid input sizes in {network.input.describe()}: {valid}{count}", markup=False)
        return 1 if valid.empty else 0

    _run(action)


def _input_plan(config: Path, input: str | None, nearest: str, max_config_bytes: int, as_json: bool, timeout: float | None) -> int:
    """``sizes --nearest``: see :mod:`convsolve.ops.input_plan`."""
    from .ops.input_plan import input_plan

    with _time_limit(timeout):
        network = _load(config, input, max_config_bytes)
        parts = nearest.lower().split("x")
        if len(parts) == network.ndim + 2:
            parts = parts[2:]  # N x C x H x W
        if not all(part.strip().isdigit() for part in parts):
            raise UsageError(f"--nearest {nearest!r}: give one size (250) or one per axis (250x300)", field="--nearest")
        plan = input_plan(network, [int(part) for part in parts])
    if as_json:
        _print_json(plan.to_dict())
        return 0 if plan.valid else 1
    shown = "x".join(map(str, plan.size))
    if plan.valid:
        out.print(f"{shown} is valid for {network.name}: no change needed", markup=False)
        return 0
    out.print(f"{shown} is not valid for {network.name}; the nearest valid sizes:", markup=False)
    for word, resize in (("pad up to", plan.pad), ("crop down to", plan.crop)):
        if resize is None:
            examined = ", ".join(str(r) for r in plan.window)
            reason = "no smaller size is valid" if word.startswith("crop") and all(r.lo == 1 for r in plan.window) else (
                f"none within the sizes examined ({examined})")
            out.print(f"  {word}: {reason}", markup=False)
            continue
        change = "x".join(f"{b + a:+d}" for b, a in zip(resize.before, resize.after))
        out.print(f"  {word} {'x'.join(map(str, resize.size))} ({change} pixels)", markup=False)
    out.print("", markup=False)
    out.print(plan.snippet().rstrip("\n"), markup=False, highlight=False)
    return 1


@app.command()
def shapes(
    config: Path = typer.Argument(..., help=MODEL_HELP),
    input: str | None = typer.Option(None, "--input", "-i", help="One input size: 224, or 224x320 (also 1x3x224x224)."),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP, metavar=FLAG),
    timeout: float | None = typer.Option(None, "--timeout", help=TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """Per-layer output shapes at one input size, like torchinfo's summary.

    Example: convsolve shapes configs/resnet18.yaml --input 224
    """

    def action() -> int:
        with _time_limit(timeout):
            network = _load(config, input, max_config_bytes)
            ranges = network.input.ranges
            if any(r.lo != r.hi for r in ranges):
                if input is not None:
                    raise UsageError(f"shapes needs one input size, got the range {input!r}", field="--input")
                ranges = tuple(SizeRange(r.lo, r.lo) for r in ranges)
            rows = network.shapes([r.lo for r in ranges])
        if as_json:
            _print_json({"network": network.name, "input": [r.lo for r in ranges], "layers": [row.to_dict() for row in rows]})
        else:
            table = Table(title=f"{network.name} at {'x'.join(str(r.lo) for r in ranges)}")
            for column in ("layer", "type", "output shape", "problem"):
                table.add_column(column)
            for row in rows:
                shape = "-" if row.shape is None else " x ".join(map(str, row.shape))
                table.add_row(row.node, row.layer, shape, row.problem, style="red" if row.problem else None)
            out.print(table)
        return 1 if any(row.problem for row in rows) else 0

    _run(action)


@app.command()
def export(
    model: Path = typer.Argument(..., help=MODEL_HELP),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the config here (.yaml, or .json); without it, print YAML."),
    force: bool = typer.Option(False, "--force", help="Replace the output file if it exists.", metavar=FLAG),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the config as JSON instead of YAML (without -o).", metavar=FLAG),
    timeout: float | None = typer.Option(None, "--timeout", help=TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """Write a network (an imported PyTorch or ONNX model, or a config) as a convsolve config.

    Loading the written config gives the same layers, valid sizes and shapes; edit {choice: [...]} into it
    to make the model a search space.

    Example: convsolve export torchvision.models:resnet18 -o resnet18.yaml
    """
    from .io.export import export_text, write_network

    def action() -> int:
        if output is not None:
            output_target(output, overwrite=force, inputs=_input_files(model))  # refused before the work
        with _time_limit(timeout):
            network = _load(model, input, max_config_bytes)
            text = export_text(network, as_json=as_json) if output is None else None
        if output is None:
            stdout.write(text or "")
            return 0
        write_network(network, output, overwrite=force, inputs=_input_files(model))
        err.print(f"wrote {output} ({len(network.order) - 1} layers)", markup=False)
        return 0

    _run(action)


SPACE_FORMATS = ("configspace",)
"""What ``export-space --to`` writes."""


@app.command("export-space")
def export_space(
    config: Path = typer.Argument(..., help="Search-space config (YAML or JSON)."),
    to: str = typer.Option(..., "--to", help="The format: configspace (ConfigSpace's JSON; the configspace extra)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the JSON here; without it, print it."),
    force: bool = typer.Option(False, "--force", help="Replace the output file if it exists.", metavar=FLAG),
    prune: bool = typer.Option(True, "--prune/--no-prune", help="Drop the values that appear in no valid assignment."),
    forbid: bool = typer.Option(True, "--forbid/--no-forbid", help="Add forbidden clauses for value pairs in no valid assignment."),
    max_forbidden: int | None = typer.Option(None, "--max-forbidden", min=0, help="Write at most this many forbidden clauses (default 1,000)."),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    as_json: bool = typer.Option(False, "--json", help="With -o: print what was written (counts) as JSON.", metavar=FLAG),
    timeout: float | None = typer.Option(None, "--timeout", help=TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """Export a search space to another tool's format: ConfigSpace (SMAC, DEHB, ...).

    One hyperparameter per parameter (integers ordinal), conditions exactly as the space's op and depth
    choices gate parameters, pruned domains, and forbidden clauses for value pairs found in no valid
    assignment (the rest of the invalid configurations need convsolve's sampler:
    convsolve.integrations.configspace.ValidConfigurationSampler).

    Example: convsolve export-space configs/spaces/darts_style.yaml --to configspace -o darts.json
    """
    from io import StringIO

    from .integrations.configspace import export_configspace, import_configspace
    from .io.config import write_text

    def action() -> int:
        if to.lower() not in SPACE_FORMATS:
            raise UsageError(f"{to!r} is not a format export-space writes (formats: {', '.join(SPACE_FORMATS)})", field="--to")
        if output is not None:
            output_target(output, overwrite=force, inputs=[config])  # refused before the work
        import_configspace()  # a missing extra is said before the work
        with _time_limit(timeout):
            space = _load_space(config, input, max_config_bytes)
            result = export_configspace(space, prune=prune, forbid=forbid, max_forbidden=max_forbidden)
            text = StringIO()
            result.configspace.to_json(text, indent=2)
        if output is None:
            stdout.write(text.getvalue() + "\n")
            return 0
        write_text(text.getvalue() + "\n", output, overwrite=force, inputs=[config])
        if as_json:
            _show(result, as_json)
        else:
            err.print(f"wrote {output}: {result}", markup=False)
        return 0

    _run(action)


# --- search spaces -------------------------------------------------------------------------------


def _load_space(path: Path, input_text: str | None, max_config_bytes: int, round_trip: bool = False) -> Any:
    """The search space of a config; read by the fast YAML path unless the command writes the config back
    (``round_trip``: comments and key order kept)."""
    from .space import Space, load_space

    if path.suffix.lower() == ".onnx":
        return load_space(path)  # refused there, with the way to make a space of a model
    data = read_config(path, max_bytes=max_config_bytes, round_trip=round_trip)
    return _over_input(Space.from_config(data, source=str(path)), input_text)


@contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr over the programme's layers, when stderr is a terminal."""
    if not err.is_terminal:
        yield None
        return
    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(what, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@app.command()
def count(
    config: Path = typer.Argument(..., help="Search-space config (YAML or JSON)."),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP, metavar=FLAG),
    timeout: float | None = typer.Option(None, "--timeout", help=TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """Exact number of valid assignments over the whole input range, of how many.

    Example: convsolve count configs/spaces/mobilenetv2_nas.yaml
    """
    from . import ops

    def action() -> int:
        with _time_limit(timeout), _progress("counting") as progress:
            space = _load_space(config, input, max_config_bytes)
            result = ops.count(space, timeout=timeout, progress=progress)
            conflict = None if result.valid else ops.explain_empty(space, on_step=ops.step_callback(timeout, progress))
        if as_json:
            _print_json({**result.to_dict(), **(conflict.to_dict() if conflict else {})})
        else:
            _show(result, False)
            if conflict is not None:
                out.print(str(conflict), markup=False)
        return 0 if result.valid else 1

    _run(action)


PRINTED_BLOCK = 16384
"""Assignments formatted at once when ``enumerate`` prints them (each block's lines are written whole)."""

ROWS_OUTPUT_HELP = ("Write the assignments to this file instead, straight from the solver's columnar blocks: "
                    ".csv, .jsonl (.ndjson) or .parquet (the parquet extra), by the suffix.")


@app.command("enumerate")
def enumerate_command(
    config: Path = typer.Argument(..., help="Search-space config (YAML or JSON)."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=0, help="Stop after this many assignments."),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    jsonl: bool = typer.Option(False, "--jsonl", "--json", help="One JSON object per line (--json is the same: a stream of rows).",
                               metavar=FLAG),
    output: Path | None = typer.Option(None, "-o", "--output", help=ROWS_OUTPUT_HELP),
    force: bool = typer.Option(False, "--force", help="Replace the output file if it exists.", metavar=FLAG),
    timeout: float | None = typer.Option(None, "--timeout", help=TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """Every valid assignment, lazily, in a fixed order (constant memory).

    Example: convsolve enumerate configs/spaces/resnet_space.yaml --limit 100 --jsonl
    Example: convsolve enumerate configs/bench/chain-6.yaml -o rows.parquet
    """
    from . import ops

    def action() -> int:
        if output is not None:
            return _enumerate_to_file(config, output, force, limit, input, max_config_bytes, timeout)
        from .io.tables import arrow_module, block_text

        found, arrow = 0, arrow_module()
        try:
            with _time_limit(timeout):  # the whole command: solving, and streaming the rows
                with _progress("solving") as progress:
                    blocks = ops.enumerate_blocks(_load_space(config, input, max_config_bytes), limit=limit, timeout=timeout,
                                                  progress=progress, block=PRINTED_BLOCK)
                    first = next(blocks, None)
                for block in ([] if first is None else itertools.chain([first], blocks)):
                    stdout.write_whole(block_text(block, "jsonl" if jsonl else "text", arrow).decode())
                    found += len(next(iter(block.values()))) if block else 0
                    if stdout.reader_gone:  # `| head`: the reader has what it wanted
                        break
        except SolverTimeout:
            if not found:
                raise
            stdout.flush()
            err.print(f"stopped after the timeout of {timeout:g} s, after {found:,} assignments (each printed line is whole)")
            return 124
        except KeyboardInterrupt:
            stdout.flush()
            err.print(f"interrupted after {found:,} assignments (each printed line is whole)", markup=False)
            return 130
        if not found:
            err.print("no valid assignment (see `convsolve check` on a fixed network, or `convsolve suggest`)", markup=False)
        return 0 if found else 1

    _run(action)


def _enumerate_to_file(
    config: Path, output: Path, force: bool, limit: int | None, input: str | None, max_config_bytes: int, timeout: float | None,
) -> int:
    """``enumerate -o FILE``: every block as the solver makes it, into the file (see :mod:`convsolve.io.tables`)."""
    from . import ops
    from .io.tables import AssignmentWriter, table_format

    table_format(output)
    target = output_target(output, overwrite=force, inputs=[config])
    stopped = ""
    with AssignmentWriter(target) as writer:
        try:
            with _time_limit(timeout), _progress("enumerating") as progress:
                space = _load_space(config, input, max_config_bytes)
                for block in ops.enumerate_blocks(space, limit=limit, timeout=timeout, progress=progress):
                    writer.write(block)
        except SolverTimeout:
            stopped = f"stopped after the timeout of {timeout:g} s: "
        except KeyboardInterrupt:
            stopped = "interrupted: "
    err.print(f"{stopped}wrote {writer.rows:,} assignments to {output} ({writer.format})", markup=False)
    if stopped:
        return 124 if stopped.startswith("stopped") else 130
    return 0 if writer.rows else 1


@app.command()
def sample(
    config: Path = typer.Argument(..., help="Search-space config (YAML or JSON)."),
    n: int = typer.Option(10, "-n", min=0, max=MAX_SAMPLES, help=f"How many assignments (at most {MAX_SAMPLES:,})."),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED, help="Random seed, 0 to 2**63 - 1 (the same seed gives the same samples)."),
    distinct: bool = typer.Option(False, "--distinct", help="Without replacement.", metavar=FLAG),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    jsonl: bool = typer.Option(False, "--jsonl", "--json", help="One JSON object per line (--json is the same: a stream of rows).",
                               metavar=FLAG),
    output: Path | None = typer.Option(None, "-o", "--output", help=ROWS_OUTPUT_HELP),
    force: bool = typer.Option(False, "--force", help="Replace the output file if it exists.", metavar=FLAG),
    timeout: float | None = typer.Option(None, "--timeout", help=TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """Valid assignments drawn uniformly at random.

    Example: convsolve sample configs/spaces/mobilenetv2_nas.yaml -n 1000 --seed 0 --jsonl
    """
    from . import ops

    def action() -> int:
        target = None
        if output is not None:
            from .io.tables import table_format

            table_format(output)
            target = output_target(output, overwrite=force, inputs=[config])
        with _time_limit(timeout), _progress("sampling") as progress:
            space = _load_space(config, input, max_config_bytes)
            rows = ops.sample(space, n, seed=seed, replace=not distinct, timeout=timeout, progress=progress)
        names = list(space.params)
        if target is not None and rows:
            from .io.tables import AssignmentWriter, columns_of

            with AssignmentWriter(target) as writer:
                writer.write(columns_of(rows, names))
            err.print(f"wrote {writer.rows:,} assignments to {output} ({writer.format})", markup=False)
            return 0 if rows or n == 0 else 1
        from .io.tables import arrow_module, block_text, columns_of

        if not rows and n > 0:
            err.print("no valid assignment to sample (see `convsolve check` on a fixed network, or `convsolve suggest`)", markup=False)
            return 1
        arrow = arrow_module()
        for start in range(0, len(rows), PRINTED_BLOCK):
            stdout.write_whole(block_text(columns_of(rows[start:start + PRINTED_BLOCK], names), "jsonl" if jsonl else "text", arrow).decode())
            if stdout.reader_gone:
                break
        return 0 if rows or n == 0 else 1

    _run(action)


@app.command()
def prune(
    config: Path = typer.Argument(..., help="Search-space config (YAML or JSON)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the pruned config here (comments and order kept)."),
    force: bool = typer.Option(False, "--force", help="Replace the output file if it exists.", metavar=FLAG),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP, metavar=FLAG),
    timeout: float | None = typer.Option(None, "--timeout", help=TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """Drop every value that appears in no valid assignment: the tightest per-parameter domains.

    Example: convsolve prune configs/spaces/resnet_space.yaml -o pruned.yaml
    """
    from . import ops
    from .io.config import write_config

    def action() -> int:
        if output is not None:
            output_target(output, overwrite=force, inputs=[config])  # refused before the work
        with _time_limit(timeout), _progress("pruning") as progress:
            space = _load_space(config, input, max_config_bytes, round_trip=output is not None)
            result = ops.prune(space, timeout=timeout, progress=progress)
            conflict = None if result.valid else ops.explain_empty(space, on_step=ops.step_callback(timeout, progress))
        if conflict is not None and not as_json:
            err.print(str(conflict), markup=False)
        if output is not None:
            if not result.valid:
                raise UsageError("no assignment is valid, so there is no pruned config to write", file=str(config), field="-o")
            write_config(space.to_config(domains=result.domains), output, overwrite=force, inputs=[config])
        _show(result, as_json)
        return 0 if result.valid else 1

    _run(action)


def _parse_setting(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UsageError(f"--set {text!r}: expected NAME=VALUE, e.g. stem.kernel=7", field="--set")
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return name.strip(), lowered == "true"
    try:
        return name.strip(), int(value)
    except ValueError:
        if not value.strip():
            raise UsageError(f"--set {text!r}: the value must be an integer, true/false or a name (an op, an input)", field="--set") from None
        return name.strip(), value.strip()  # an op's or an input's name: the parameter's domain decides


@app.command()
def suggest(
    config: Path = typer.Argument(..., help="Search-space config (YAML or JSON)."),
    settings: list[str] = typer.Option([], "--set", "-s", help="Fix a parameter: NAME=VALUE (repeatable)."),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP, metavar=FLAG),
    timeout: float | None = typer.Option(None, "--timeout", help=TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """With some parameters fixed, the values of the others that still admit a valid completion.

    Example: convsolve suggest configs/spaces/resnet_space.yaml --set conv1.kernel=7 --set conv1.stride=2
    """
    from . import ops

    def action() -> int:
        fixed = dict(_parse_setting(text) for text in settings)
        with _time_limit(timeout), _progress("solving") as progress:
            result = ops.suggest(_load_space(config, input, max_config_bytes), fixed, timeout=timeout, progress=progress)
        _show(result, as_json)
        return 0 if result.valid else 1

    _run(action)


def _repair_options(
    allow: str | None, freeze: str | None, weights: str | None, candidates: list[str], max_macs_ratio: float = 2.0,
    keep_stride: bool = False,
) -> Any:
    from .ops.repair import RepairOptions

    return RepairOptions.parse(allow, freeze, weights, candidates, max_macs_ratio, keep_stride)


ALLOW_HELP = "Kinds that may change, comma-separated: kernel,stride,padding,dilation,output_padding (default: all)."
FREEZE_HELP = "Layers that must not change, comma-separated."
WEIGHTS_HELP = "Cost of changing a value of each kind (default 1 each, at most 1,000,000), e.g. kernel=2,stride=3."
CANDIDATES_HELP = "Values a kind may take instead of the default neighbourhood, e.g. kernel=1,3,5 (repeatable)."


@app.command()
def repair(
    config: Path = typer.Argument(..., help="Network config (YAML or JSON) to repair."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the repaired config here (only changed values differ)."),
    in_place: bool = typer.Option(
        False, "--in-place", help="Rewrite the input file itself (through a symlink, the file it points to), keeping a copy beside it as <file>.bak."
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace the output file (or the .bak copy) if it exists; never an input, a device, FIFO, socket or folder."
    ),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    allow: str | None = typer.Option(None, "--allow", help=ALLOW_HELP),
    freeze: str | None = typer.Option(None, "--freeze", help=FREEZE_HELP),
    weights: str | None = typer.Option(None, "--weights", help=WEIGHTS_HELP),
    candidates: list[str] = typer.Option([], "--candidates", help=CANDIDATES_HELP),
    max_macs_ratio: float = typer.Option(
        2.0, "--max-macs-ratio", help="Warn when the repair multiplies the compute (MACs at the largest input size) by more."),
    keep_stride: bool = typer.Option(False, "--keep-stride", metavar=FLAG,
                                     help="Every layer keeps its total stride (the config's targets: are always kept)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP, metavar=FLAG),
    timeout: float | None = typer.Option(None, "--timeout", help=TIMEOUT_HELP, callback=_checked_timeout),
    settings: list[str] = typer.Option(
        [], "--set", "-s", help="With a search space: a parameter value of the assignment to repair, NAME=VALUE (repeatable)."
    ),
    assignment: Path | None = typer.Option(
        None,
        "--assignment",
        help="With a search space: the assignment to repair, a JSON or YAML mapping of parameter to value "
        "(e.g. a line of `enumerate --jsonl`, a NAS trial's parameters).",
    ),
) -> None:
    """The smallest change (fewest weighted values, then the least numeric change) that makes a network valid over its input range.

    Without -o or --in-place nothing is written. Exit code 0 valid or repaired, 1 unrepairable.
    Given a search space with --set or --assignment, repairs that assignment within the space's own
    choices and constraints instead; -o then writes the repaired assignment as JSON.

    Example: convsolve repair configs/broken/vgg_on_32px.yaml --input 32:224 -o fixed.yaml
    Example: convsolve repair configs/spaces/resnet_space.yaml --set stem.kernel=3 --set stem.stride=4
    """
    if settings or assignment is not None:
        _repair_assignment(config, settings, assignment, output, in_place, force, input, max_config_bytes, weights, as_json, timeout)
        return
    from .io.config import read_input, write_bytes, write_edited
    from .ops import step_callback
    from .ops.repair import repair as repair_network

    def action() -> int:
        if output is not None and in_place:
            raise UsageError("give either -o or --in-place, not both", field="--in-place")
        if output is not None and output.resolve() == config.resolve():
            raise UsageError(f"refusing to overwrite the input {config}; use --in-place to rewrite it with a backup", field="-o")
        if output is not None:  # refused before the work
            output_target(output, overwrite=force, inputs=[config])
        if in_place:
            edited = output_target(config, overwrite=True, option="--in-place")
            output_target(edited.with_name(edited.name + ".bak"), overwrite=force, option="--in-place")
        options = _repair_options(allow, freeze, weights, candidates, max_macs_ratio, keep_stride)
        with _time_limit(timeout), _progress("repairing") as progress:
            data = read_config(config, max_bytes=max_config_bytes)
            state["subject"] = str(config)
            ranges, tied = (None, True) if input is None else parse_input(input, Network.from_config(data, source=str(config)).ndim)
            try:
                result = repair_network(data, source=str(config), options=options, input_ranges=ranges, tied=tied,
                                        on_step=step_callback(timeout, progress))
            except SolverLimit as exc:  # the input plan needs no search: offer it
                network = Network.from_config(data, source=str(config))
                if ranges is not None:
                    network = network.with_input(ranges, tied)
                exc.message += (f"; or keep the layers and change the input: as it is, the network is valid at "
                                f"{network.valid_sizes()} of {network.input.describe()}, and `convsolve sizes {config} --nearest SIZE` "
                                "gives the nearest valid sizes to SIZE and the pad / crop that reaches them")
                raise
        if result.status == "repaired" and (output is not None or in_place):
            write_edited(config, result.edits, output if output is not None and not in_place else config, overwrite=force, backup=in_place,
                         max_bytes=max_config_bytes)
        elif result.status == "valid" and output is not None:
            write_bytes(read_input(config, max_bytes=max_config_bytes), output, overwrite=force, inputs=[config])
        _show(result, as_json)
        return 1 if result.status == "unrepairable" else 0

    _run(action)


def _repair_assignment(
    config: Path, settings: list[str], assignment: Path | None, output: Path | None, in_place: bool, force: bool,
    input: str | None, max_config_bytes: int, weights: str | None, as_json: bool, timeout: float | None,
) -> None:
    """``repair`` of an assignment of a search space (see :mod:`convsolve.ops.nearest`)."""
    from .io.config import write_text
    from .ops import step_callback
    from .ops.nearest import nearest
    from .ops.repair import parse_weights

    def action() -> int:
        if in_place:
            raise UsageError("--in-place rewrites a network config; an assignment is written with -o", field="--in-place")
        inputs = [config] if assignment is None else [config, assignment]
        if output is not None:  # refused before the work
            output_target(output, overwrite=force, inputs=inputs)
        trial: dict[str, Any] = {}
        if assignment is not None:
            data = read_config(assignment, max_bytes=max_config_bytes)
            if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, (int, bool, str)) for k, v in data.items()):
                raise UsageError(f"{assignment}: expected a mapping of parameter name to integer, true/false or a name (an op, an "
                                 "input)", field="--assignment")
            trial.update(data)
        trial.update(_parse_setting(text) for text in settings)
        with _time_limit(timeout), _progress("repairing") as progress:
            space = _load_space(config, input, max_config_bytes)
            state["subject"] = str(config)
            if not space.params:
                option = "--set" if settings else "--assignment"
                raise UsageError(f"this is one network, with no parameter to set (no {{choice: ...}} or {{range: ...}}); {option} "
                                 f"repairs an assignment of a search space: leave {option} out to repair the network itself",
                                 file=str(config), field=option)
            result = nearest(space, trial, parse_weights(weights, kinds_only=False), on_step=step_callback(timeout, progress))
        if output is not None and result.assignment is not None:
            write_text(json.dumps(result.assignment, indent=2) + "\n", output, overwrite=force, inputs=inputs)
        _show(result, as_json)
        return 1 if result.status == "unrepairable" else 0

    _run(action)


@app.command("batch-repair")
def batch_repair(
    inputs: list[str] = typer.Argument(..., help="Config files, folders (searched recursively) or globs such as 'runs/**/arch.yaml'."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder: each result goes to the input's relative path under it."),
    workers: int = typer.Option(
        2, "--workers", "-w", min=1, max=MAX_WORKERS, help=f"Local worker processes (at most 4 per CPU core: {MAX_WORKERS} here)."
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="A Dask scheduler address (tcp://host:port) to run on instead (needs the dask extra)."
    ),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    allow: str | None = typer.Option(None, "--allow", help=ALLOW_HELP),
    freeze: str | None = typer.Option(None, "--freeze", help=FREEZE_HELP),
    weights: str | None = typer.Option(None, "--weights", help=WEIGHTS_HELP),
    candidates: list[str] = typer.Option([], "--candidates", help=CANDIDATES_HELP),
    report: Path | None = typer.Option(
        None,
        "--report",
        help="Also write the JSON-lines report to this file (a new one, or with --force a regular file that is no input or output of the batch).",
    ),
    jsonl: bool = typer.Option(False, "--jsonl", "--json", metavar=FLAG,
                               help="Print one JSON record per file on stdout (the summary goes to stderr); --json is the same."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace output files that no earlier batch wrote, and an existing --report file; never a device, FIFO, socket, folder or symlink.",
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", help="Seconds one file may take; slower files are reported as 'timeout'.", callback=_checked_timeout
    ),
) -> None:
    """Repair many configs: one record per file (valid / repaired / unrepairable / error), results written atomically.

    Inputs are never modified. A rerun skips files whose output is current, so an interrupted batch resumes.
    One batch at a time writes to an output folder (it holds <folder>/.convsolve-batch.lock); the folder must
    be writable and outside the folders the inputs are searched in. Two inputs with the same relative path
    are refused before anything is written; below the output folder no symlink is followed.
    Exit code 0 when every file is valid or repaired, 1 when some are unrepairable, 2 when some could not be read.

    Example: convsolve batch-repair 'runs/**/arch.yaml' -o repaired/ --workers 2
    """
    from .ops.batch import LOCK, MANIFEST, TEMPORARIES, plan_jobs, run_batch
    from .io.config import write_text

    def action() -> int:
        jobs = plan_jobs(inputs, output, _repair_options(allow, freeze, weights, candidates), input, force, timeout, max_config_bytes)
        sources = [job.source for job in jobs]
        if report is not None:  # refused before the work
            written = {Path(job.output).resolve() for job in jobs} | {(output / name).resolve() for name in (LOCK, MANIFEST, TEMPORARIES)}
            if report.resolve() in written:
                raise UsageError(f"{report} is a file this batch writes in {output}; write the report elsewhere", field="--report")
            output_target(report, overwrite=force, inputs=sources, option="--report")
        lines: list[str] = []
        summary_console = err if jsonl else out
        with _progress("repairing files") as progress:
            done = 0
            statuses: dict[str, int] = {}

            def on_record(record: dict[str, Any]) -> None:
                nonlocal done
                done += 1
                statuses[record["status"]] = statuses.get(record["status"], 0) + 1
                line = json.dumps({k: v for k, v in record.items() if k not in ("fingerprint", "output_sha256")})
                lines.append(line)
                if jsonl:
                    stdout.write(line + "\n")
                if progress is not None:
                    progress(done, len(jobs))

            try:
                summary = run_batch(jobs, output, workers=workers, scheduler=scheduler, on_record=on_record)
            except KeyboardInterrupt:
                so_far = ", ".join(f"{number} {status}" for status, number in sorted(statuses.items()))
                err.print(f"interrupted after {done} of {len(jobs)} files ({so_far or 'none finished'}); finished files are whole "
                          "and recorded, nothing partial was left, and a rerun finishes the rest", markup=False)
                raise typer.Exit(130) from None
            finally:
                if report is not None and lines:
                    write_text("\n".join(lines) + "\n", report, overwrite=force, inputs=sources, option="--report")
        table = Table(title=str(summary))
        for column in ("status", "files"):
            table.add_column(column)
        for status, number in sorted(summary.counts.items()):
            table.add_row(status, str(number))
        summary_console.print(table)
        for record in summary.problems[:20]:
            said, name = str(record.get("message") or record.get("reason")), str(record.get("file", "?"))
            summary_console.print(f"{record['status']}: {said}" if said.startswith(name) else f"{name}: {record['status']}: {said}",
                                  markup=False)
        if len(summary.problems) > 20:
            summary_console.print(f"... and {len(summary.problems) - 20} more (see the report)", markup=False)
        return 2 if summary.counts["error"] else 1 if summary.counts["unrepairable"] or summary.counts["timeout"] else 0

    _run(action)


# --- pictures ------------------------------------------------------------------------------------

PICTURED_HELP = "A network or search-space config (YAML or JSON), an ONNX model (.onnx), or a PyTorch MODULE:CALLABLE (as for check)."
PICTURE_HELP = "Write the picture here: .png, .svg or .pdf (by the suffix)."
FORCE_HELP = "Replace the output file if it exists."
RENDER_TIMEOUT_HELP = (
    "Seconds for the whole command: past it, it stops with exit code 124. The solver work on a search space "
    "(finding the pictured assignment, pruning, sampling) gets half of it; what that does not finish is left out "
    "and the output says so."
)


def _load_network_or_space(path: Path, input_text: str | None, max_config_bytes: int) -> Any:
    """A search space when a config leaves a choice open (or has constraints or targets), else a network (config or model)."""
    if is_torch_reference(path) or path.suffix.lower() == ".onnx":
        return _load(path, input_text, max_config_bytes)
    space = _load_space(path, input_text, max_config_bytes)
    if space.params or space.constraints or space.targets:
        return space
    return _load(path, input_text, max_config_bytes)


def _parse_at(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        sizes = [int(part) for part in text.lower().split("x")]
    except ValueError:
        raise UsageError(f"--at {text!r}: expected one input size, e.g. 224 or 224x320", field="--at") from None
    if not all(1 <= size <= MAX_SIZE for size in sizes):
        raise UsageError(f"--at {text!r}: sizes go from 1 to {MAX_SIZE:,}", field="--at")
    return sizes


@app.command()
def plot(
    config: Path = typer.Argument(..., help=PICTURED_HELP),
    output: Path = typer.Option(..., "-o", "--output", help=PICTURE_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP, metavar=FLAG),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP + " A single size is widened to 1..max(64, 4n)."),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP, metavar=FLAG),
    timeout: float = typer.Option(60.0, "--timeout", help=RENDER_TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """Every layer's output size against the input size: the invalid sizes shaded, the layer failing first named.

    A search space is plotted through its first valid assignment. Needs the plot extra (matplotlib).

    Example: convsolve plot configs/vgg16.yaml --input 8:256 -o sizes.png
    """
    from .render import FIGURE_FORMATS, check_output, require_matplotlib, size_plot

    def action() -> int:
        check_output(output, overwrite=force, formats=FIGURE_FORMATS, source=config)  # a wrong output is said before a missing extra
        output_target(output, overwrite=force, inputs=_input_files(config))
        require_matplotlib()
        with _time_limit(timeout):
            figure = size_plot(_load_network_or_space(config, input, max_config_bytes), timeout=timeout / 2)
        written = figure.save(str(output), overwrite=force)
        _show(written, as_json)
        return 0

    _run(action)


@app.command()
def draw(
    config: Path = typer.Argument(..., help=PICTURED_HELP),
    output: Path = typer.Option(..., "-o", "--output", help=PICTURE_HELP),
    at: str | None = typer.Option(
        None, "--at", help="Input size for the output sizes on the nodes: 224 or 224x320 (default: the smallest valid size of the range)."
    ),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP, metavar=FLAG),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP, metavar=FLAG),
    timeout: float = typer.Option(60.0, "--timeout", help=RENDER_TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """The layer graph top to bottom, each node with its kind, hyperparameters and output size; invalid ones in red.

    For a search space every node also lists its parameters with their pruned domains. Needs the plot extra.

    Example: convsolve draw configs/resnet18.yaml --at 224 -o net.svg
    """
    from .render import FIGURE_FORMATS, check_output, drawing, require_matplotlib

    def action() -> int:
        check_output(output, overwrite=force, formats=FIGURE_FORMATS, source=config)  # a wrong output is said before a missing extra
        output_target(output, overwrite=force, inputs=_input_files(config))
        require_matplotlib()
        with _time_limit(timeout):
            picture = drawing(_load_network_or_space(config, input, max_config_bytes), _parse_at(at), timeout=timeout / 2)
        written = picture.save(str(output), overwrite=force)
        _show(written, as_json)
        return 0

    _run(action)


@app.command()
def report(
    config: Path = typer.Argument(..., help=PICTURED_HELP),
    output: Path = typer.Option(..., "-o", "--output", help="Write the HTML page here."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP, metavar=FLAG),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    max_config_bytes: int = MAX_CONFIG_BYTES_OPTION,
    samples: int = typer.Option(5, "-n", "--samples", min=0, max=MAX_REPORT_SAMPLES,
                                help=f"Uniform samples of a search space to list (at most {MAX_REPORT_SAMPLES:,})."),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED, help="Random seed of the samples, 0 to 2**63 - 1."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP, metavar=FLAG),
    timeout: float = typer.Option(60.0, "--timeout", help=RENDER_TIMEOUT_HELP, callback=_checked_timeout),
) -> None:
    """One self-contained HTML page: check, violations, valid sizes, the size plot and the drawing.

    For a search space also the count of valid assignments, the pruned domains and a few uniform
    samples. The page loads nothing from anywhere: open it in any browser. Needs the plot extra.

    Example: convsolve report configs/spaces/unet_space.yaml -o report.html
    """
    from .render import build_report, check_output, require_matplotlib

    def action() -> int:
        check_output(output, overwrite=force, source=config)  # a wrong output is said before a missing extra
        output_target(output, overwrite=force, inputs=_input_files(config))
        require_matplotlib()
        with _time_limit(timeout):
            built = build_report(_load_network_or_space(config, input, max_config_bytes), samples=samples, seed=seed, timeout=timeout / 2)
        written = built.save(str(output), overwrite=force)
        _show(written, as_json)
        return 0

    _run(action)

