"""How the command line reports what went wrong.

- A user's mistake (:class:`blending.errors.InputError`, or a file that cannot be opened) is one
  line on stderr and exit code 2. The library names the field it refused (``joint_confidence``);
  when that field is one of the command's options, the line names the option
  (``--joint-confidence``) instead.
- Another :class:`~blending.errors.AluloopError` (a solver that could not certify an answer) is
  one line and exit code 1.
- Anything else is a bug in aluloop, not in the input: a short "internal error" line and exit
  code 1; ``aluloop --debug`` (or ``ALULOOP_DEBUG=1``) prints the traceback as well.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import traceback
from collections.abc import Callable, Mapping
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from blending.errors import AluloopError, InputError

USAGE_ERROR_EXIT_CODE = 2
INTERNAL_ERROR_EXIT_CODE = 1
DEBUG_ENV = "ALULOOP_DEBUG"
stderr = Console(stderr=True)

F = TypeVar("F", bound=Callable)


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error and return the Exit to raise."""
    stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(USAGE_ERROR_EXIT_CODE)


def _option_flags(func: Callable) -> dict[str, str]:
    """Parameter name -> its first long flag, from the typer options of ``func``."""
    flags = {}
    for name, param in inspect.signature(func).parameters.items():
        decls = getattr(param.default, "param_decls", None) or ()
        long = [d for d in decls if isinstance(d, str) and d.startswith("--")]
        if long:
            flags[name] = long[0]
    return flags


def describe(exc: InputError, flags: Mapping[str, str]) -> str:
    """The one line a user reads: the option's flag where the field is one of the command's."""
    message = str(exc)
    if exc.field and exc.field in flags and message == f"{exc.field}: {exc.reason}":
        message = f"{flags[exc.field]} {exc.reason}"
    # other fields the message names, as this command's options (only names with an underscore:
    # plain words such as "alloy" also occur in sentences)
    for name, flag in flags.items():
        if "_" in name:
            message = re.sub(rf"(?<![-\w]){re.escape(name)}\b", flag, message)
    return message


def user_errors(func: F | None = None, *, flags: Mapping[str, str] | None = None):
    """Decorate a command: input errors -> one line and exit 2, bugs -> "internal error" and exit 1.

    ``flags`` maps library field names to this command's options where the names differ
    (``{"min_recycled_fraction": "--min-recycled"}``); options whose parameter name is the field
    name are found by themselves.
    """

    def decorate(f: F) -> F:
        known = {**_option_flags(f), **(flags or {})}

        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            try:
                return f(*args, **kwargs)
            except (typer.Exit, typer.Abort, SystemExit, KeyboardInterrupt):
                raise
            except InputError as exc:
                raise fail(describe(exc, known)) from None
            except AluloopError as exc:  # not the input's fault, but not a crash either (e.g. a solver gave up)
                stderr.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
                raise typer.Exit(INTERNAL_ERROR_EXIT_CODE) from None
            except OSError as exc:
                target = f" {exc.filename}" if getattr(exc, "filename", None) else ""
                raise fail(f"{exc.strerror or exc}{':' if target else ''}{target}") from None
            except Exception as exc:  # a bug: say so, keep the traceback for --debug
                if debug_enabled():
                    stderr.print(escape(traceback.format_exc()), highlight=False, markup=False)
                stderr.print(f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))} "
                             f"(a bug in aluloop, not in your input; run with --debug for the traceback)",
                             highlight=False, markup=True, soft_wrap=True)
                raise typer.Exit(INTERNAL_ERROR_EXIT_CODE) from None

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate
