"""Compositions to simulate: aluminium grades sampled within their catalogue limits, and non-aluminium
contaminants (copper, brass, zinc die-cast, steel, stainless steel, lead).

Sampling aims at what producers cast, not at the corners of the specification:
* a range ``min-max`` draws a normal centred in the range (sd a quarter of the width),
  truncated to the range;
* a maximum-only limit on Fe or Si (ever-present impurities) draws ``max x Beta(2, 2.5)``;
  on any other element ``max x Beta(1.2, 5)``: mostly low, with a long tail up to the limit;
* Ga and V, present in all smelter metal, are added as "others" (0.005-0.02 wt%) where the
  grade does not name them;
* a draw that breaks any limit (a sum such as Mn+Cr, others total, Al minimum) is redrawn,
  so every composition is inside the specification.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from blending.composition import Composition
from blending.spec import Spec, alloy_catalogue, get_alloy
from blending.tables import read_package_csv

IMPURITY_HEAVY = ("Fe", "Si")
TRACE_OTHERS = ("Ga", "V")
MAX_TRIES = 2000


@dataclass(frozen=True)
class ContaminantSpec:
    """A non-aluminium scrap metal: element ranges [wt%] and the balance element."""

    name: str
    ranges: dict[str, tuple[float, float, float | None]]  # element -> (min, max, typical)
    balance: str
    balance_min_wt_pct: float
    source: str


@cache
def contaminant_catalogue() -> dict[str, ContaminantSpec]:
    """The contaminants of ``sorter/data/contaminants.csv`` by name."""
    rows = read_package_csv("sorter.data", "contaminants.csv", required_columns=(
        "material", "element", "min_wt_pct", "max_wt_pct", "typical_wt_pct", "balance", "source"))
    parts: dict[str, dict] = {}
    for row in rows:
        name = row.text("material")
        entry = parts.setdefault(name, {"ranges": {}, "balance": None, "bmin": 0.0, "source": []})
        el = row.text("element")
        if row.flag("balance", default=False):
            if entry["balance"] is not None:
                raise row.error("balance", f"{name} has two balance elements")
            entry["balance"] = el
            entry["bmin"] = row.number_or_none("min_wt_pct", lo=0, hi=100, unit="wt%") or 0.0
        else:
            lo = row.number("min_wt_pct", lo=0, hi=100, unit="wt%")
            hi = row.number("max_wt_pct", lo=0, hi=100, unit="wt%")
            if lo > hi:
                raise row.error("min_wt_pct", f"min {lo:g} wt% exceeds max {hi:g} wt%")
            entry["ranges"][el] = (lo, hi, row.number_or_none("typical_wt_pct", lo=lo, hi=hi, unit="wt%"))
        entry["source"].append(row.text("source"))
    out = {}
    for name, e in parts.items():
        if e["balance"] is None:
            raise ValueError(f"contaminants.csv: {name} has no balance element")
        out[name] = ContaminantSpec(name, e["ranges"], e["balance"], e["bmin"], "; ".join(dict.fromkeys(e["source"])))
    return out


def list_grades() -> list[str]:
    """Every name :func:`sample_composition` accepts: catalogue alloys, then contaminants."""
    return list(alloy_catalogue()) + list(contaminant_catalogue())


def is_aluminium(grade: str) -> bool:
    return grade not in contaminant_catalogue()


def resolve_grade(grade: str) -> str:
    """The canonical name of a grade or contaminant; raises KeyError naming the known ones."""
    if grade in contaminant_catalogue():
        return grade
    try:
        return get_alloy(grade).name
    except KeyError:
        raise KeyError(f"unknown grade {grade!r}; known grades: {', '.join(list_grades())}") from None


def _draw_limit(lo, hi, element: str, rng: np.random.Generator) -> float:
    if lo is not None and hi is not None:
        if hi == lo:
            return lo
        mid, sd = 0.5 * (lo + hi), 0.25 * (hi - lo)
        while True:
            v = rng.normal(mid, sd)
            if lo <= v <= hi:
                return float(v)
    if hi is not None:
        a, b = (2.0, 2.5) if element in IMPURITY_HEAVY else (1.2, 5.0)
        return float(hi * rng.beta(a, b))
    return float(lo * (1.0 + 0.2 * rng.random()))


def sample_alloy(spec: Spec, rng: np.random.Generator) -> dict[str, float]:
    """One composition [wt%, Al by balance] inside ``spec``'s limits (see the module notes)."""
    named = spec.named_elements()
    for _ in range(MAX_TRIES):
        comp: dict[str, float] = {}
        for lim in spec.limits.values():
            if len(lim.elements) == 1:
                comp[lim.elements[0]] = _draw_limit(lim.min_wt_pct, lim.max_wt_pct, lim.elements[0], rng)
        for lim in spec.limits.values():  # sum limits on elements without their own limit
            missing = [e for e in lim.elements if e not in comp]
            if missing:
                share = _draw_limit(lim.min_wt_pct, lim.max_wt_pct, missing[0], rng)
                for e in missing:
                    comp[e] = share / len(missing)
        each = spec.others_each_max_wt_pct
        for e in TRACE_OTHERS:
            if e not in named and each is not None:
                comp[e] = float(rng.uniform(0.2, 0.8) * min(each, 0.02 if each >= 0.02 else each))
        if spec.check(Composition(comp)).in_spec:
            return comp
    raise ValueError(f"could not sample a composition inside the {spec.name} limits")


def sample_contaminant(spec: ContaminantSpec, rng: np.random.Generator) -> dict[str, float]:
    """One composition [wt%] of a contaminant metal; the balance element is explicit."""
    for _ in range(MAX_TRIES):
        comp = {}
        for el, (lo, hi, typ) in spec.ranges.items():
            if typ is not None and hi > lo:
                sd = 0.25 * (hi - lo)
                v = rng.normal(typ, sd)
                v = min(max(v, lo), hi)
            else:
                v = _draw_limit(lo if lo > 0 else None, hi, el, rng)
            comp[el] = float(v)
        rest = 100.0 - sum(comp.values())
        if rest >= spec.balance_min_wt_pct:
            comp[spec.balance] = rest
            return comp
    raise ValueError(f"could not sample a composition of {spec.name}")


def sample_composition(grade: str, rng: np.random.Generator) -> dict[str, float]:
    """A composition [wt%] of ``grade``: a catalogue alloy (Al by balance, added explicitly) or a contaminant.

    Examples
    --------
    >>> comp = sample_composition("5182", np.random.default_rng(0))
    >>> 4.0 <= comp["Mg"] <= 5.0
    True
    """
    name = resolve_grade(grade)
    if name in contaminant_catalogue():
        return sample_contaminant(contaminant_catalogue()[name], rng)
    comp = sample_alloy(get_alloy(name), rng)
    comp["Al"] = 100.0 - sum(comp.values())
    return comp
