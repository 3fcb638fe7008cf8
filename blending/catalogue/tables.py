"""Reading the CSV tables a metallurgist edits: catalogues and inventories.

Every error names the file, the row (as a spreadsheet shows it, header = row 1)
and the field, so the person who typed the value can find and fix it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from blending.errors import InputError, located


class DataFileError(InputError):
    """A value in a data file is missing or wrong.

    The message reads ``"inventory.csv row 7, Mg: -0.2 wt% must be between 0 and 100"``.
    """

    def __init__(self, file: str, row: int | None, field: str | None, reason: str):
        self.file, self.row, self.field, self.reason = file, row, field, reason
        super().__init__(f"{located(file, 'row', row, field)}: {reason}")


@dataclass(frozen=True)
class Row:
    """One data row of a CSV table, with its file name and line number for errors."""

    file: str
    line: int
    values: dict[str, str]

    def error(self, field: str | None, reason: str) -> DataFileError:
        return DataFileError(self.file, self.line, field, reason)

    def text(self, field: str, *, required: bool = True) -> str:
        value = (self.values.get(field) or "").strip()
        if required and not value:
            raise self.error(field, "is empty; a value is required")
        return value

    def number_or_none(self, field: str, *, lo: float | None = None, hi: float | None = None,
                       unit: str = "") -> float | None:
        """The field as a finite float within [lo, hi], or None when blank."""
        raw = (self.values.get(field) or "").strip()
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise self.error(field, f"{raw!r} is not a number") from None
        suffix = f" {unit}" if unit else ""
        if not math.isfinite(value):
            raise self.error(field, f"{raw}{suffix} is not a finite number")
        if lo is not None and value < lo or hi is not None and value > hi:
            bounds = f"between {lo:g} and {hi:g}" if lo is not None and hi is not None else (
                f"at least {lo:g}" if lo is not None else f"at most {hi:g}")
            raise self.error(field, f"{raw}{suffix} must be {bounds}")
        return value

    def number(self, field: str, **kwargs) -> float:
        value = self.number_or_none(field, **kwargs)
        if value is None:
            raise self.error(field, "is empty; a number is required")
        return value

    def flag(self, field: str, *, default: bool) -> bool:
        raw = (self.values.get(field) or "").strip().lower()
        if not raw:
            return default
        if raw in ("true", "yes", "1", "y"):
            return True
        if raw in ("false", "no", "0", "n"):
            return False
        raise self.error(field, f"{raw!r} is not true or false")


def read_rows(text: str, file: str, *, required_columns: tuple[str, ...] = ()) -> Iterator[Row]:
    """Rows of a CSV text with a header line; blank lines and ``#`` comment lines are skipped."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    for line_number, cells in enumerate(reader, start=1):
        if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip() for c in cells]
            duplicated = {c for c in header if header.count(c) > 1 and c}
            if duplicated:
                raise DataFileError(file, line_number, None, f"duplicated columns {sorted(duplicated)}")
            missing = [c for c in required_columns if c not in header]
            if missing:
                raise DataFileError(file, line_number, None,
                                    f"missing column(s) {', '.join(missing)}; the header has {', '.join(header)}")
            continue
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            raise DataFileError(file, line_number, None,
                                f"has {len(cells)} cells but the header names {len(header)} columns")
        yield Row(file, line_number, dict(zip(header, cells, strict=False)))
    if header is None:
        raise DataFileError(file, None, None, "is empty; expected a header line")


def read_csv_file(path: str | Path, *, required_columns: tuple[str, ...] = ()) -> list[Row]:
    """Rows of a CSV file on disk; errors name the file as the user gave it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFileError(str(path), None, None, "no such file") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(str(path), None, None, f"is not UTF-8 text ({exc.reason})") from None
    return list(read_rows(text, path.name, required_columns=required_columns))


def read_package_csv(package: str, name: str, *, required_columns: tuple[str, ...] = ()) -> list[Row]:
    """Rows of a CSV shipped as package data (works from an installed wheel)."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return list(read_rows(text, name, required_columns=required_columns))
