"""Alloy specifications: composition limits and the verdict on a composition.

Limits follow the Aluminum Association Teal Sheets / EN 573-3 convention: a
maximum unless a range is shown; elements without a limit count as "others",
each and in total; aluminium is the remainder, with a minimum for 1xxx alloys.
A limit may apply to a sum of elements ("Mn+Cr" in 5754, "Si+Fe" in 1100).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from blending.catalogue.composition import Composition, elements
from blending.catalogue.tables import DataFileError, Row, read_csv_file, read_package_csv
from blending.errors import InputError, NotFoundError

# On the limit is in spec: a blended or measured value may pass a bound by float round-off
# (1e-16 wt%) or by the charge solver's cone tolerance (1e-9 wt%); 1e-8 wt% (0.1 ppb) absorbs
# both and is far below any analysis's resolution, so it admits no real excess. Spec verdicts
# (Margin.ok), the Monte Carlo compliance of a recipe and re-grading (trim.regrade_options) all
# use this one rule, so they cannot disagree.
ON_LIMIT_TOLERANCE_WT_PCT = 1e-8


def within_limit(margin_wt_pct: float) -> bool:
    """Whether a margin [wt%] (positive inside the limit) is in spec, the limit itself included."""
    return margin_wt_pct >= -ON_LIMIT_TOLERANCE_WT_PCT


FAMILIES = ("1xxx", "2xxx", "3xxx", "4xxx", "5xxx", "6xxx", "7xxx", "8xxx", "cast")


@dataclass(frozen=True)
class Limit:
    """Bounds on one element, or on the sum of several, in wt%.

    ``elements`` is a tuple of symbols; the limit applies to their sum.
    """

    elements: tuple[str, ...]
    min_wt_pct: float | None = None
    max_wt_pct: float | None = None

    def __post_init__(self):
        if self.min_wt_pct is None and self.max_wt_pct is None:
            raise InputError(f"limit on {self.name} has neither min nor max")
        if self.min_wt_pct is not None and self.max_wt_pct is not None and self.min_wt_pct > self.max_wt_pct:
            raise InputError(f"limit on {self.name}: min {self.min_wt_pct:g} exceeds max {self.max_wt_pct:g} wt%")

    @property
    def name(self) -> str:
        return "+".join(self.elements)

    def value(self, comp: Composition) -> float:
        return sum(comp[e] for e in self.elements)


def parse_limit_name(name: str, where: str) -> tuple[str, ...]:
    """``"Mn+Cr"`` to ``("Mn", "Cr")``, checking each symbol."""
    symbols = tuple(s.strip() for s in name.split("+"))
    for s in symbols:
        if s not in elements():
            raise InputError(f"{where}: {s!r} is not an element symbol")
        if s == "Al":
            raise InputError(f"{where}: Al is the balance; give al_min_wt_pct instead of an Al limit")
    return symbols


@dataclass(frozen=True)
class Margin:
    """Distance of a composition from one bound; positive inside the spec [wt%]."""

    limit: str          # "Mg", "Mn+Cr", "others each (Ga)", "others total", "Al"
    bound: str          # "min" or "max"
    limit_wt_pct: float
    value_wt_pct: float
    margin_wt_pct: float

    @property
    def ok(self) -> bool:
        return within_limit(self.margin_wt_pct)


@dataclass(frozen=True)
class Verdict:
    spec: str
    margins: tuple[Margin, ...]

    @property
    def in_spec(self) -> bool:
        return all(m.ok for m in self.margins)

    @property
    def violations(self) -> tuple[Margin, ...]:
        return tuple(m for m in self.margins if not m.ok)

    def margin(self, limit: str, bound: str) -> Margin:
        for m in self.margins:
            if m.limit == limit and m.bound == bound:
                return m
        raise KeyError(f"{self.spec} has no {bound} limit on {limit}")


@dataclass(frozen=True)
class Spec:
    """Composition limits of one alloy, with optional tighter internal aim limits.

    Examples
    --------
    >>> spec = Spec("demo", limits={"Mg": Limit(("Mg",), 4.0, 5.0)})
    >>> spec.check(Composition({"Mg": 4.2})).in_spec
    True
    >>> round(spec.check(Composition({"Mg": 4.2})).margin("Mg", "min").margin_wt_pct, 6)
    0.2
    """

    name: str
    limits: Mapping[str, Limit]
    others_each_max_wt_pct: float | None = None
    others_total_max_wt_pct: float | None = None
    al_min_wt_pct: float | None = None
    family: str = ""
    source: str = ""
    verification_status: str = ""
    aim: Mapping[str, Limit] | None = field(default=None)

    def named_elements(self) -> set[str]:
        """Elements named in any limit; every other element is an "other"."""
        return {e for lim in self.limits.values() for e in lim.elements}

    def check(self, comp: Composition, *, aim: bool = False) -> Verdict:
        """Margins of ``comp`` to every limit; with ``aim=True`` to the aim limits where set."""
        limits = dict(self.limits)
        if aim and self.aim:
            limits.update(self.aim)
        margins = []
        for lim in limits.values():
            value = lim.value(comp)
            if lim.min_wt_pct is not None:
                margins.append(Margin(lim.name, "min", lim.min_wt_pct, value, value - lim.min_wt_pct))
            if lim.max_wt_pct is not None:
                margins.append(Margin(lim.name, "max", lim.max_wt_pct, value, lim.max_wt_pct - value))
        others = {e: w for e, w in comp.items() if e not in self.named_elements()}
        if self.others_each_max_wt_pct is not None:
            for e, w in others.items():
                margins.append(Margin(f"others each ({e})", "max", self.others_each_max_wt_pct, w,
                                      self.others_each_max_wt_pct - w))
        if self.others_total_max_wt_pct is not None:
            total = sum(others.values())
            margins.append(Margin("others total", "max", self.others_total_max_wt_pct, total,
                                  self.others_total_max_wt_pct - total))
        if self.al_min_wt_pct is not None:
            margins.append(Margin("Al", "min", self.al_min_wt_pct, comp.al_wt_pct, comp.al_wt_pct - self.al_min_wt_pct))
        return Verdict(self.name, tuple(margins))

    def with_aim(self, aim_limits: Mapping[str, tuple[float | None, float | None]]) -> Spec:
        """A copy with internal aim limits, each inside the specification.

        ``aim_limits`` maps an element (or ``"Mn+Cr"``) to ``(min, max)`` [wt%]; a None
        keeps the specification's bound.
        """
        aim = {}
        for name, (lo, hi) in aim_limits.items():
            symbols = parse_limit_name(name, f"{self.name} aim")
            key = "+".join(symbols)
            spec_lim = self.limits.get(key)
            spec_lo = spec_lim.min_wt_pct if spec_lim else None
            spec_hi = spec_lim.max_wt_pct if spec_lim else None
            if lo is not None and spec_lo is not None and lo < spec_lo:
                raise InputError(f"{self.name} aim {key} min {lo:g} wt% lies below the spec min {spec_lo:g}")
            if hi is not None and spec_hi is not None and hi > spec_hi:
                raise InputError(f"{self.name} aim {key} max {hi:g} wt% lies above the spec max {spec_hi:g}")
            aim[key] = Limit(symbols, lo if lo is not None else spec_lo, hi if hi is not None else spec_hi)
        return replace(self, aim=aim)

    def tightened(self, fraction: float) -> Spec:
        """Aim limits moved inwards by ``fraction`` of each range (of the max, for max-only limits).

        This is the usual plant practice of aiming inside the specification to absorb
        scrap variability; 0.1 turns Mg 4.0-5.0 into an aim of 4.1-4.9.
        """
        if not 0 <= fraction < 0.5:
            raise InputError(f"tightening fraction {fraction:g} must be in [0, 0.5)")
        aim = {}
        for key, lim in self.limits.items():
            if lim.min_wt_pct is not None and lim.max_wt_pct is not None:
                step = fraction * (lim.max_wt_pct - lim.min_wt_pct)
                aim[key] = Limit(lim.elements, lim.min_wt_pct + step, lim.max_wt_pct - step)
            elif lim.max_wt_pct is not None:
                aim[key] = Limit(lim.elements, None, lim.max_wt_pct * (1 - fraction))
            else:
                aim[key] = Limit(lim.elements, lim.min_wt_pct * (1 + fraction), None)
        return replace(self, aim=aim)

    def bounds(self, *, aim: bool = False) -> dict[str, tuple[float | None, float | None]]:
        """Limit name to (min, max) [wt%], aim limits taking precedence when asked."""
        limits = dict(self.limits)
        if aim and self.aim:
            limits.update(self.aim)
        return {k: (v.min_wt_pct, v.max_wt_pct) for k, v in limits.items()}

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "family": self.family,
            "limits": {k: {"min": v.min_wt_pct, "max": v.max_wt_pct} for k, v in self.limits.items()},
            "others_each_max": self.others_each_max_wt_pct,
            "others_total_max": self.others_total_max_wt_pct,
            "al_min": self.al_min_wt_pct,
            "aim": ({k: {"min": v.min_wt_pct, "max": v.max_wt_pct} for k, v in self.aim.items()}
                    if self.aim else None),
            "source": self.source,
            "verification_status": self.verification_status,
        }


def _limit_from_row(row: Row, lo_column: str = "min_wt_pct", hi_column: str = "max_wt_pct") -> Limit:
    """A limit from a row; errors name the bound columns as the file writes them (``min`` or ``min_wt_pct``)."""
    try:
        symbols = parse_limit_name(row.text("element"), f"{row.file} row {row.line}, element")
    except ValueError as exc:
        raise DataFileError(row.file, row.line, "element", str(exc).split(": ", 1)[-1]) from None
    lo = row.number_or_none(lo_column, lo=0, hi=100, unit="wt%")
    hi = row.number_or_none(hi_column, lo=0, hi=100, unit="wt%")
    if lo is None and hi is None:
        raise row.error(lo_column, f"both {lo_column} and {hi_column} are blank; give at least one")
    if lo is not None and hi is not None and lo > hi:
        raise row.error(lo_column, f"{lo_column} {lo:g} wt% exceeds {hi_column} {hi:g} wt%")
    return Limit(symbols, lo, hi)


def limits_from_rows(rows: list[Row], spec_name: str) -> dict[str, Limit]:
    """Limits from rows with columns ``element, min_wt_pct, max_wt_pct`` (also ``min``, ``max``)."""
    out: dict[str, Limit] = {}
    for row in rows:
        lo_column = "min_wt_pct" if "min_wt_pct" in row.values or "min" not in row.values else "min"
        hi_column = "max_wt_pct" if "max_wt_pct" in row.values or "max" not in row.values else "max"
        lim = _limit_from_row(row, lo_column, hi_column)
        if lim.name in out:
            raise row.error("element", f"{lim.name} is listed twice for {spec_name}")
        out[lim.name] = lim
    return out


def load_limits_csv(path: str | Path, name: str | None = None) -> Spec:
    """A custom specification from a CSV with columns ``element,min,max`` [wt%], blank for no bound."""
    path = Path(path)
    rows = read_csv_file(path, required_columns=("element",))
    if rows and not ({"min", "min_wt_pct"} & rows[0].values.keys() and {"max", "max_wt_pct"} & rows[0].values.keys()):
        raise DataFileError(path.name, 1, None, "needs columns element, min and max")
    if not rows:
        raise DataFileError(path.name, None, None, "has no limits")
    return Spec(name or path.stem, limits_from_rows(rows, name or path.stem), source=str(path))


@cache
def alloy_catalogue() -> dict[str, Spec]:
    """Every alloy in ``blending/data/alloys.csv`` with its limits, by name."""
    header_rows = read_package_csv("blending.data", "alloys.csv", required_columns=(
        "alloy", "family", "others_each_max_wt_pct", "others_total_max_wt_pct", "al_min_wt_pct",
        "source", "verification_status"))
    limit_rows = read_package_csv("blending.data", "alloy_limits.csv", required_columns=(
        "alloy", "element", "min_wt_pct", "max_wt_pct", "source"))
    by_alloy: dict[str, list[Row]] = {}
    for row in limit_rows:
        by_alloy.setdefault(row.text("alloy"), []).append(row)
    catalogue = {}
    for row in header_rows:
        name = row.text("alloy")
        if name in catalogue:
            raise row.error("alloy", f"{name} is listed twice")
        family = row.text("family")
        if family not in FAMILIES:
            raise row.error("family", f"{family!r} is not one of {', '.join(FAMILIES)}")
        if name not in by_alloy:
            raise row.error("alloy", f"{name} has no rows in alloy_limits.csv")
        catalogue[name] = Spec(
            name=name,
            limits=limits_from_rows(by_alloy.pop(name), name),
            others_each_max_wt_pct=row.number_or_none("others_each_max_wt_pct", lo=0, hi=100, unit="wt%"),
            others_total_max_wt_pct=row.number_or_none("others_total_max_wt_pct", lo=0, hi=100, unit="wt%"),
            al_min_wt_pct=row.number_or_none("al_min_wt_pct", lo=0, hi=100, unit="wt%"),
            family=family,
            source=row.text("source"),
            verification_status=row.text("verification_status", required=False),
        )
    if by_alloy:
        orphan = next(iter(by_alloy.values()))[0]
        raise orphan.error("alloy", f"{orphan.text('alloy')} is not in alloys.csv")
    return catalogue


class UnknownAlloyError(NotFoundError):
    """An alloy the catalogue does not hold."""


def get_alloy(name: str) -> Spec:
    """The catalogue spec named ``name`` (case-insensitive; "AA"/"EN AW-" prefixes allowed)."""
    catalogue = alloy_catalogue()
    key = name.strip().upper().removeprefix("EN AW-").removeprefix("AA").strip()
    for alloy, spec in catalogue.items():
        if alloy.upper() == key or alloy.upper().removesuffix(".0") == key.removesuffix(".0"):
            return spec
    raise UnknownAlloyError(f"unknown alloy {name!r}; known alloys: {', '.join(catalogue)}", field="alloy")
