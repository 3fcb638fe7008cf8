"""The emission-line windows the classifier integrates, read from ``sorter/data/feature_lines.csv``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from blending.catalogue.tables import DataFileError, Row, read_csv_file, read_package_csv

ROLES = ("reference", "analyte", "indicator")
COLUMNS = ("name", "element", "ion_stage", "first_nm", "last_nm", "role", "source")


@dataclass(frozen=True)
class FeatureLine:
    """One line (or tight group of lines) whose area is a feature.

    ``first_nm`` and ``last_nm`` are the outermost line centres of the group [nm, air];
    the window adds the model's half-width on each side. ``role``: "reference" (a thin Al line
    that normalises), "analyte" (measures its element) or "indicator" (read as a plasma-state
    indicator only: by the classifier and the plasma-state estimate, never by a composition
    regression; e.g. a self-absorbed Al I resonance line, whose ratio to the thin references
    measures the optical depth and so T_e and n_e).
    """

    name: str
    element: str
    ion_stage: int
    first_nm: float
    last_nm: float
    role: str
    source: str = ""

    @property
    def centre_nm(self) -> float:
        return 0.5 * (self.first_nm + self.last_nm)

    @property
    def is_reference(self) -> bool:
        return self.role == "reference"

    @property
    def is_indicator(self) -> bool:
        return self.role == "indicator"


def _from_row(row: Row) -> FeatureLine:
    role = row.text("role")
    if role not in ROLES:
        raise row.error("role", f"{role!r} must be one of {', '.join(ROLES)}")
    first = row.number("first_nm", lo=100.0, hi=2000.0, unit="nm")
    last = row.number("last_nm", lo=100.0, hi=2000.0, unit="nm")
    if last < first:
        raise row.error("last_nm", f"{last:g} nm is below first_nm {first:g} nm")
    stage = row.number("ion_stage", lo=1, hi=3)
    if stage != int(stage):
        raise row.error("ion_stage", f"{stage:g} must be 1, 2 or 3")
    return FeatureLine(row.text("name"), row.text("element"), int(stage), first, last, role,
                       row.text("source", required=False))


def feature_lines(path: str | Path | None = None) -> tuple[FeatureLine, ...]:
    """Feature lines from ``path``, or the packaged ``sorter/data/feature_lines.csv``."""
    rows = (read_package_csv("sorter.data", "feature_lines.csv", required_columns=COLUMNS) if path is None
            else read_csv_file(path, required_columns=COLUMNS))
    return _lines(rows)


def _lines(rows: list[Row]) -> tuple[FeatureLine, ...]:
    lines = tuple(_from_row(r) for r in rows)
    seen: set[str] = set()
    for row, line in zip(rows, lines, strict=True):
        if line.name in seen:
            raise row.error("name", f"{line.name!r} appears twice")
        seen.add(line.name)
    if not any(line.is_reference for line in lines):
        file = rows[0].file if rows else "feature_lines.csv"
        raise DataFileError(file, None, "role", "no reference line; at least one Al reference line is needed")
    return lines
