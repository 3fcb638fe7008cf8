"""How the command line reports a user's mistake: one line on stderr, exit code 2."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

USAGE_ERROR_EXIT_CODE = 2
stderr = Console(stderr=True)

F = TypeVar("F", bound=Callable)


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error and return the Exit to raise."""
    stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(USAGE_ERROR_EXIT_CODE)


def user_errors(func: F) -> F:
    """Turn the domain's ValueError/KeyError/OSError into a clean message and exit code 2.

    Domain code raises these for bad input (a wrong row in a CSV, an unknown alloy);
    anything else is a bug and keeps its traceback.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ValueError, KeyError) as exc:
            raise fail(str(exc).strip("'\"")) from None
        except OSError as exc:
            target = f" {exc.filename}" if getattr(exc, "filename", None) else ""
            raise fail(f"{exc.strerror or exc}{':' if target else ''}{target}") from None

    return wrapper  # type: ignore[return-value]
