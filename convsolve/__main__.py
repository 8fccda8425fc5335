"""``python -m convsolve``: the command line, as the ``convsolve`` script runs it."""

from .cli import app

app(prog_name="convsolve")
