"""matplotlib, imported only when a picture is drawn (the ``plot`` extra), and figures as bytes.

Figures are ``matplotlib.figure.Figure`` objects on the Agg canvas, never made through pyplot, so no
global backend is switched and no window opens. SVG keeps its text as ``<text>`` (``svg.fonttype:
none``: names in a picture can be searched) and its ids and metadata are stable, so the same
network gives the same file. Text is drawn as written (:func:`plain_text`): a layer named ``a$b$c``
is not typeset as math, and one named ``cost$$`` does not fail.

Example:
    >>> figure = new_figure(2, 1)
    >>> figure_bytes(figure, "svg").startswith(b"<?xml")
    True
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from ..errors import MissingExtraError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FIGURE_FORMATS", "figure_bytes", "inline_svg", "new_figure", "plain_text", "require_matplotlib"]

FIGURE_FORMATS = ("png", "svg", "pdf")
"""The picture formats ``plot`` and ``draw`` write, chosen by the output file's suffix."""

DPI = 120

_NO_METADATA = {
    "svg": {"Format": None, "Type": None, "Creator": None, "Date": None},
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


def require_matplotlib() -> None:
    """Fail early, before any work, when matplotlib is missing.

    Raises:
        MissingExtraError: matplotlib is not installed (``pip install 'convsolve[plot]'``).
    """
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise MissingExtraError("matplotlib", "plot") from None


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches on the Agg canvas.

    Raises:
        MissingExtraError: matplotlib is not installed (``pip install 'convsolve[plot]'``).
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def plain_text(figure: Figure) -> Figure:
    """``figure`` with every text in it drawn as written, neither as mathtext nor through TeX.

    Layer and network names may hold ``$`` and ``\\``, which matplotlib would otherwise typeset as
    math (``a$b$c``) or fail on with a parse error (``cost$$``, ``$\\foo$``). Call it once the texts
    are placed.

    Example:
        >>> figure = new_figure(2, 1)
        >>> text = figure.text(0, 0, "cost$$")
        >>> plain_text(figure).texts[0].get_parse_math()
        False
    """
    from matplotlib.text import Text

    for text in figure.findobj(Text):
        text.set_parse_math(False)
        text.set_usetex(False)
    return figure


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure encoded as ``fmt`` (one of :data:`FIGURE_FORMATS`)."""
    import matplotlib

    buffer = io.BytesIO()
    # text stays text in SVG and PDF; SVG ids do not change from run to run
    # tick labels made while drawing are not put through TeX either
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "convsolve", "pdf.fonttype": 42, "text.usetex": False}):
        figure.savefig(buffer, format=fmt, dpi=DPI, metadata=_NO_METADATA[fmt])
    return buffer.getvalue()


def inline_svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element for an HTML page: no XML prolog, no DTD, no namespace URLs.

    HTML parsers put ``<svg>`` and its ``xlink:href`` attributes in the right namespaces themselves,
    so the page refers to no outside address at all.
    """
    text = figure_bytes(figure, "svg").decode("utf-8")
    text = text[text.index("<svg"):]
    return re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text, count=2)
