"""Grade to family, from ``sorter/data/grade_families.csv`` (catalogue family, or "non-Al")."""

from __future__ import annotations

from functools import cache

from blending.catalogue.tables import read_package_csv
from blending.errors import NotFoundError

NON_ALUMINIUM = "non-Al"


@cache
def grade_families() -> dict[str, str]:
    """Family of every grade the classifier may be trained on."""
    rows = read_package_csv("sorter.data", "grade_families.csv", required_columns=("grade", "family", "source"))
    out: dict[str, str] = {}
    for row in rows:
        grade = row.text("grade")
        if grade in out:
            raise row.error("grade", f"{grade!r} appears twice")
        out[grade] = row.text("family")
    return out


def family_of(grade: str) -> str:
    """The family of ``grade``; KeyError naming the data file when it is not listed."""
    families = grade_families()
    grade = str(grade)
    if grade not in families:
        raise NotFoundError(f"grade {grade!r} has no family; add a row to sorter/data/grade_families.csv "
                       f"(known: {', '.join(families)})")
    return families[grade]


def is_aluminium(grade: str) -> bool:
    return family_of(grade) != NON_ALUMINIUM
