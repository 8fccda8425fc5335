"""Pictures of a network or search space: size plots, drawings of the graph and a one-page HTML report.

Drawing needs matplotlib (``pip install 'convsolve[plot]'``), imported only when a figure is made;
what a picture shows is computed without it (:func:`size_plot`, :func:`drawing`, :func:`build_report`
return printable results whose ``figure()``/``html()`` draw them and ``save()`` writes them).
"""

from .draw import Drawing, drawing
from .figures import FIGURE_FORMATS, require_matplotlib
from .output import Written, check_output, write_output
from .plot import SizePlot, size_plot
from .report import HtmlReport, build_report
from .subject import Subject, subject_of

__all__ = [
    "FIGURE_FORMATS",
    "Drawing",
    "HtmlReport",
    "SizePlot",
    "Subject",
    "Written",
    "build_report",
    "check_output",
    "drawing",
    "require_matplotlib",
    "size_plot",
    "subject_of",
    "write_output",
]
