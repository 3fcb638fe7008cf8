"""One error model for the whole library: what went wrong, and whose mistake it was.

`AluloopError` is the base of every error the library raises on purpose. `InputError` is the
user's mistake: bad input that a person can fix, named by its ``field`` (a request field,
a file column, a CSV row) and the ``reason``. Front ends turn it into their own words: the
CLI prints one line and exits with code 2, the HTTP service answers 4xx with a problem body.
Anything that is not an `AluloopError` is a bug in aluloop, not in the input.

`InputError` is also a ``ValueError`` so that code written against the standard exception
keeps working. This module imports nothing of ours, so every layer (``sorter`` included) may use it.
"""

from __future__ import annotations

import re


class AluloopError(Exception):
    """Base of the errors aluloop raises on purpose."""


class InputError(AluloopError, ValueError):
    """Bad input, named by its field and the reason.

    Parameters
    ----------
    message : str
        The whole sentence the user reads, e.g. ``"inventory.csv row 7, Mg: -0.2 wt% must be
        between 0 and 100"``; when ``field`` is given and the message does not start with it,
        the message does not name it, it is prefixed as ``"field: message"``.
    field : str, optional
        What was wrong, as the library calls it (``"confidence"``, ``"mass_kg"``,
        ``"wavelength_nm"``); front ends may map it to their own names (a CLI flag).
    """

    def __init__(self, message: str, *, field: str | None = None):
        # a subclass that names its field its own way (file, row, field) may have set these already
        self.field = field if field is not None else getattr(self, "field", None)
        self.reason = getattr(self, "reason", None) or message
        if field and not re.search(rf"\b{re.escape(field)}\b", message, flags=re.IGNORECASE):
            message = f"{field}: {message}"
        super().__init__(message)

    def __str__(self) -> str:
        # KeyError subclasses would quote the message; an input error never does
        return str(self.args[0]) if self.args else ""


def located(file: str, unit: str, number: int | None, field: str | None) -> str:
    """Where in a file a bad value sits, as a person reads it: ``"p3.csv line 12, intensity"``
    (``unit`` is ``"line"`` for a text file, ``"row"`` for a table whose header is row 1)."""
    where = file if number is None else f"{file} {unit} {number}"
    return f"{where}, {field}" if field else where


class NotFoundError(InputError, KeyError):
    """A name that is not in a catalogue (an alloy, a material, a model)."""


class SolverError(AluloopError):
    """The optimiser could not certify an answer for numerical reasons (not the input's fault)."""


class InfeasibleError(AluloopError, ValueError):
    """No charge meets the request; ``diagnosis`` (a :class:`blending.diagnosis.Diagnosis`) says what binds.

    Not the user's typing mistake, nor a bug: the request as asked has no answer. Front ends
    report it as they report an infeasible recipe (the CLI: the diagnosis and exit code 1).
    """

    def __init__(self, message: str, diagnosis=None):
        self.diagnosis = diagnosis
        super().__init__(message)
