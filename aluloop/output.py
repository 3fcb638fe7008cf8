"""Where the commands print: rich consoles and tables that never cut a file name, grade or number.

Rich lays tables out for the terminal's width, and for 80 columns when the output is piped (a
CI log, ``| tee``, ``> out.txt``), where it would fold or shorten cells. Piped output has no width
to respect, so :func:`stdout_console` gives it one that fits any table; in a terminal the
terminal's width holds and :func:`table` folds long cells onto a second line rather than cutting
them with an ellipsis.
"""

from __future__ import annotations

import json
import math

from rich.console import Console
from rich.table import Table

PIPED_WIDTH = 10_000   # wide enough for any row; a table is only as wide as its content


def stdout_console() -> Console:
    """A console on stdout: the terminal's width, or no practical limit when piped."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPED_WIDTH)


def table(title: str, columns: list[str]) -> Table:
    """A table whose cells fold onto another line when a terminal is too narrow, never end in "…"."""
    t = Table(title=title)
    for col in columns:
        t.add_column(col, overflow="fold")
    return t


def json_text(obj) -> str:
    """JSON of ``obj`` that is always valid JSON: a non-finite number (NaN, infinity) becomes null,
    whose meaning the surrounding fields state (e.g. a shortfall's sentence)."""
    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value
    return json.dumps(clean(obj), indent=2, allow_nan=False)
