"""A one-page, self-contained HTML report: check, valid sizes, the size plot and the drawing.

For a search space it adds the count of valid assignments, the pruned domains and a few uniform
samples, and pictures one network of the space (:mod:`convsolve.render.subject`). The page carries
its figures as inline SVG and its style in a ``<style>`` element: it needs no server, loads nothing
and names no outside address, so it can be mailed or archived as one file.

Example:
    >>> from convsolve import load_config
    >>> net = load_config({"name": "tiny", "input": {"channels": 1, "size": {"range": [1, 32]}},
    ...     "layers": [{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 3}]})
    >>> report = build_report(net)
    >>> print(report)
    tiny: invalid — valid input sizes in 1..32 (every spatial axis): 3..32
    >>> "://" in report.html(figures=False)
    False
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..diagnose import Report, Violation
from ..errors import SolverTimeout
from .draw import Drawing, drawing, values_text
from .figures import inline_svg
from .output import Written, check_output, write_output
from .plot import SizePlot, size_plot
from .subject import Deadline, Pictured, Subject, subject_of

__all__ = ["HtmlReport", "SpaceSummary", "build_report"]

DIGITS = 15
"""Counts with more digits than this are written in scientific notation."""


@dataclass(frozen=True)
class SpaceSummary:
    """A search space's solver results, each None when the time budget ran out before it."""

    total: int
    valid: int | None
    domains: dict[str, tuple[Any, ...]] | None
    samples: list[dict[str, Any]] | None
    seed: int
    stopped: str = ""
    """What the time budget cut short, in words."""

    def __str__(self) -> str:
        if self.valid is None:
            return f"{_count(self.total)} assignments; {self.stopped}"
        text = f"{_count(self.valid)} valid of {_count(self.total)} assignments"
        if self.samples:
            text += f"; {len(self.samples)} uniform samples (seed {self.seed})"
        return text + (f"; {self.stopped}" if self.stopped else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": str(self.total), "valid": None if self.valid is None else str(self.valid),
            "domains": None if self.domains is None else {k: list(v) for k, v in self.domains.items()},
            "samples": self.samples, "seed": self.seed, "stopped": self.stopped or None,
        }


@dataclass(frozen=True)
class HtmlReport:
    """Everything the report shows; :meth:`html` renders the page, :meth:`save` writes it."""

    subject: Subject
    check: Report | None
    """The check of the pictured network; None when a space has no network to picture."""
    sizes: SizePlot | None
    drawing: Drawing
    space: SpaceSummary | None

    def __str__(self) -> str:
        lines = []
        if self.space is not None:
            lines.append(f"search space {self.subject.name!r}: {self.space}")
            lines.append(f"pictured: {self.subject.chosen}")
        if self.check is not None:
            lines.append(str(self.check).splitlines()[0])
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "network": self.subject.name, "file": self.subject.source,
            "space": None if self.space is None else self.space.to_dict(),
            "pictured": None if self.subject.space is None else {"chosen": self.subject.chosen, "assignment": self.subject.assignment_dict()},
            "check": None if self.check is None else self.check.to_dict(),
        }

    def html(self, *, figures: bool = True) -> str:
        """The page; ``figures=False`` leaves the figures out (no matplotlib needed)."""
        return _Page(self, figures).render()

    def save(self, path: str, *, overwrite: bool = False) -> Written:
        """Write the page to ``path``."""
        check_output(path, overwrite=overwrite)
        content = self.html().encode("utf-8")
        write_output(path, content, overwrite=overwrite)
        return Written(str(path), len(content), self)


def build_report(loaded: Pictured, *, samples: int = 5, seed: int = 0, timeout: float | None = None) -> HtmlReport:
    """What the report of a network or search space shows.

    Parameters:
        loaded: a :class:`~convsolve.network.Network` or :class:`~convsolve.space.Space` (or a
            :class:`~convsolve.render.subject.Subject`), over its own input range.
        samples: how many uniform samples of a space to list; ``seed`` makes them reproducible.
        timeout: seconds for all the solver work together (finding the pictured assignment,
            counting and pruning, sampling); what it cuts short is reported as such, not as an error.
    """
    deadline = Deadline(timeout)
    subject = subject_of(loaded, timeout=deadline.left())
    summary = None if subject.space is None else _space_summary(subject, samples, seed, deadline)
    network = subject.network
    check = network.check() if network is not None else None
    sizes = size_plot(subject) if network is not None else None
    if subject.space is not None and summary is not None and summary.domains is None:
        written = {name: param.values for name, param in subject.space.params.items()}
        drawn = dataclasses.replace(drawing(subject, domains=written), domains_note=f"domains as written: {summary.stopped}")
    else:
        drawn = drawing(subject, domains=None if summary is None else summary.domains)
    return HtmlReport(subject, check, sizes, drawn, summary)


def _space_summary(subject: Subject, samples: int, seed: int, deadline: Deadline) -> SpaceSummary:
    from .. import ops

    space = subject.space
    assert space is not None
    try:
        pruned = ops.prune(space, timeout=deadline.left())
    except SolverTimeout:
        return SpaceSummary(space.total, None, None, None, seed, f"counting and pruning stopped after {deadline.seconds:g} s")
    try:
        rows = ops.sample(space, samples, seed=seed, timeout=deadline.left()) if pruned.valid else []
    except SolverTimeout:
        return SpaceSummary(space.total, pruned.valid, dict(pruned.domains), None, seed, f"sampling stopped after {deadline.seconds:g} s")
    return SpaceSummary(space.total, pruned.valid, dict(pruned.domains), rows, seed)


def _count(value: int) -> str:
    """``41,472``, or ``8.11 × 10^1004`` past :data:`DIGITS` digits.

    Example:
        >>> _count(41472), _count(10**20 * 3)
        ('41,472', '3.00 × 10^20')
    """
    digits = str(value)
    if len(digits) <= DIGITS:
        return f"{value:,}"
    return f"{digits[0]}.{digits[1:3]} × 10^{len(digits) - 1}"


STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #212121;
       max-width: 1180px; margin: 24px auto; padding: 0 16px; background: #fafafa; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
.meta { color: #616161; margin: 0 0 12px; }
.verdict { display: inline-block; padding: 6px 14px; border-radius: 6px; font-weight: 600; font-size: 17px; }
.ok { background: #d7f0da; color: #1b5e20; } .bad { background: #f8d0d0; color: #b71c1c; }
.violation { background: white; border-left: 5px solid #c62828; padding: 8px 14px; margin: 10px 0; border-radius: 4px; }
.violation h3 { font-size: 16px; margin: 2px 0 6px; } .violation dt { font-weight: 600; float: left; width: 11em; }
.violation dd { margin: 0 0 3px 11.5em; } .violation dd code { background: #f1f1f1; padding: 0 4px; border-radius: 3px; } \
code { font-family: "DejaVu Sans Mono", monospace; font-size: 13px; }
table { border-collapse: collapse; background: white; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; } th { background: #eeeeee; }
td.removed { color: #9e9e9e; } .note { color: #616161; font-size: 13px; }
figure { margin: 10px 0; background: white; border: 1px solid #ddd; padding: 8px; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; display: block; } figcaption { color: #616161; font-size: 13px; }
"""


class _Page:
    """The report as HTML, section by section; every piece of text is escaped."""

    def __init__(self, report: HtmlReport, figures: bool) -> None:
        self.report = report
        self.figures = figures

    def render(self) -> str:
        report = self.report
        subject = report.subject
        title = f"convsolve report: {subject.name}"
        parts = [
            "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{_e(title)}</title>",
            f"<style>{STYLE}</style>", "</head>", "<body>", f"<h1>{_e(subject.name)}</h1>", self._meta(),
        ]
        parts += self._check()
        if report.sizes is not None:
            parts += ["<h2>Output sizes over the input range</h2>", self._figure(report.sizes)]
        if report.check is not None and report.check.violations:
            parts += ["<h2>Violations</h2>", *(self._violation(v) for v in report.check.violations)]
        if report.space is not None:
            parts += self._space()
        parts += ["<h2>Network</h2>", self._figure(report.drawing)]
        parts += [f'<p class="note">convsolve {_e(__version__)}</p>', "</body>", "</html>"]
        return "\n".join(parts) + "\n"

    def _meta(self) -> str:
        subject = self.report.subject
        described = self.report.drawing.input
        items = [f"file <code>{_e(subject.source)}</code>" if subject.source else "", f"input {_e(described)}"]
        network = subject.network
        if network is not None:
            items.append(f"{network.input.channels} input channels, {_e(network.convention.name)} convention")
        if subject.space is not None:
            count = len(subject.space.params)
            items.append(f"search space of {count} parameter{'s' * (count != 1)}")
        return f'<p class="meta">{" · ".join(i for i in items if i)}</p>'

    def _check(self) -> list[str]:
        check = self.report.check
        parts = ["<h2>Check</h2>"]
        if self.report.subject.space is not None:
            parts.append(f'<p class="note">Of the network pictured: {_e(self.report.subject.chosen)}.</p>')
        if check is None:
            return parts + [f"<p>No network to check: {_e(self.report.subject.chosen)}.</p>"]
        if check.ok:
            parts.append(f'<p><span class="verdict ok">valid at every input size in {_e(check.input)}</span></p>')
        else:
            count = len(check.violations)
            parts.append(f'<p><span class="verdict bad">invalid: {count} violation{"s" * (count != 1)}</span></p>')
        parts.append(f"<p><b>Valid input sizes</b> in {_e(check.input)}: <code>{_e(check.valid_sizes)}</code></p>")
        if check.violations:
            first = ", ".join(repr(v.node) for v in check.violations)
            parts.append(f"<p>First to fail: {_e(first)} (details below the plot).</p>")
        return parts

    def _violation(self, violation: Violation) -> str:
        rows = []
        if violation.at is not None:
            where = "/".join(violation.axes) or "output"
            fails = f" (fails at {violation.sizes})" if violation.sizes is not None else ""
            rows.append(("invalid", f"{where} at input {'x'.join(map(str, violation.at))}{fails}"))
            rows.append(("input reaching it", violation.reaching))
            rows.append(("size rule", violation.formula))
        rows.append(("cause", violation.cause))
        body = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
        fixes = " or ".join(f"<code>{_e(fix)}</code>" for fix in violation.fixes)
        fix_block = f"<dt>fixes</dt><dd>{fixes}</dd>" if fixes else ""
        return f'<div class="violation"><h3>layer {_e(repr(violation.node))} ({_e(violation.layer)})</h3><dl>{body}{fix_block}</dl></div>'

    def _space(self) -> list[str]:
        summary = self.report.space
        subject = self.report.subject
        space = subject.space
        assert summary is not None and space is not None
        parts = ["<h2>Search space</h2>"]
        if summary.valid is None:
            parts.append(f"<p><b>{_e(_count(summary.total))}</b> assignments; {_e(summary.stopped)}.</p>")
        else:
            fraction = summary.valid / summary.total if summary.total else 0.0
            parts.append(
                f"<p><b>{_e(_count(summary.valid))}</b> valid of {_e(_count(summary.total))} assignments "
                f"({fraction:.6g}) over input {_e(space.describe_input())}.</p>"
            )
            if summary.stopped:
                parts.append(f'<p class="note">{_e(summary.stopped)}.</p>')
        samples = summary.samples or []
        head = ["parameter", "domain as written", "pruned domain", "removed", "pictured"]
        head += [f"sample {i + 1}" for i in range(len(samples))]
        rows = []
        for name, param in space.params.items():
            pruned = summary.domains.get(name) if summary.domains is not None else None
            removed = [v for v in param.values if pruned is not None and v not in pruned]
            cells = [
                f"<td><code>{_e(name)}</code></td>", _cell(values_text(param.values)),
                _cell("not computed" if pruned is None else values_text(pruned)),
                _cell(values_text(removed) if removed else "", "removed"),
                _cell(_value(subject.assignment.get(name, "")) if subject.assignment is not None else ""),
                *(_cell(_value(sample.get(name, ""))) for sample in samples),
            ]
            rows.append("<tr>" + "".join(cells) + "</tr>")
        caption = "Pruned domain: the values that appear in at least one valid assignment."
        if samples:
            caption += f" Samples are drawn uniformly from the valid assignments (seed {summary.seed})."
        parts.append(f'<p class="note">{_e(caption)}</p>')
        parts.append("<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>")
        if space.constraints:
            listed = "".join(f"<li><code>{_e(c.text)}</code></li>" for c in space.constraints)
            parts.append(f"<p><b>Constraints</b></p><ul>{listed}</ul>")
        if space.targets:
            listed = "".join(f"<li><code>{_e(t)}</code></li>" for t in space.targets)
            parts.append(f"<p><b>Targets</b></p><ul>{listed}</ul>")
        return parts

    def _figure(self, shown: SizePlot | Drawing) -> str:
        body = inline_svg(shown.figure()) if self.figures else ""
        lines = "<br>".join(_e(line) for line in str(shown).splitlines())
        return f"<figure>{body}<figcaption>{lines}</figcaption></figure>"


def _cell(text: str, css: str = "") -> str:
    return f'<td class="{css}">{_e(text)}</td>' if css else f"<td>{_e(text)}</td>"


def _value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _e(value: Any) -> str:
    return html.escape(str(value))
