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

from blending.catalogue.spec import Spec, alloy_catalogue, get_alloy
from blending.catalogue.tables import read_package_csv
from blending.errors import InputError, NotFoundError

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
            raise InputError(f"contaminants.csv: {name} has no balance element")
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
        raise NotFoundError(f"unknown grade {grade!r}; known grades: {', '.join(list_grades())}") from None


def _draw_limit(lo, hi, element: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` draws for one limit (see the module notes) [wt%]."""
    if lo is not None and hi is not None:
        if hi == lo:
            return np.full(n, float(lo))
        mid, sd = 0.5 * (lo + hi), 0.25 * (hi - lo)
        out = rng.normal(mid, sd, n)
        bad = (out < lo) | (out > hi)
        while np.any(bad):
            out[bad] = rng.normal(mid, sd, int(bad.sum()))
            bad = (out < lo) | (out > hi)
        return out
    if hi is not None:
        a, b = (2.0, 2.5) if element in IMPURITY_HEAVY else (1.2, 5.0)
        return hi * rng.beta(a, b, n)
    return lo * (1.0 + 0.2 * rng.random(n))


def sample_alloys(spec: Spec, n: int, rng: np.random.Generator) -> tuple[tuple[str, ...], np.ndarray]:
    """``n`` compositions inside ``spec``'s limits (see the module notes).

    Returns
    -------
    elements : tuple of str
        Column symbols (Al not included; it is the balance).
    wt_pct : ndarray, shape (n, k)
    """
    named = spec.named_elements()
    singles = [lim for lim in spec.limits.values() if len(lim.elements) == 1]
    cols = [lim.elements[0] for lim in singles]
    sums = [lim for lim in spec.limits.values() if len(lim.elements) > 1]
    for lim in sums:
        for e in lim.elements:
            if e not in cols:
                cols.append(e)
    each = spec.others_each_max_wt_pct
    traces = [e for e in TRACE_OTHERS if e not in named and each is not None]
    cols += traces
    index = {e: i for i, e in enumerate(cols)}
    out = np.empty((n, len(cols)))
    todo = np.arange(n)
    for _ in range(MAX_TRIES):
        m = todo.size
        block = np.zeros((m, len(cols)))
        for lim in singles:
            block[:, index[lim.elements[0]]] = _draw_limit(lim.min_wt_pct, lim.max_wt_pct, lim.elements[0], rng, m)
        for lim in sums:
            missing = [e for e in lim.elements if not any(s.elements == (e,) for s in singles)]
            if missing:
                share = _draw_limit(lim.min_wt_pct, lim.max_wt_pct, missing[0], rng, m)
                for e in missing:
                    block[:, index[e]] = share / len(missing)
        for e in traces:
            block[:, index[e]] = rng.uniform(0.2, 0.8, m) * min(each, 0.02)
        ok = np.ones(m, dtype=bool)
        for lim in spec.limits.values():
            value = block[:, [index[e] for e in lim.elements]].sum(axis=1)
            if lim.min_wt_pct is not None:
                ok &= value >= lim.min_wt_pct
            if lim.max_wt_pct is not None:
                ok &= value <= lim.max_wt_pct
        other_cols = [index[e] for e in cols if e not in named]
        if other_cols:
            if each is not None:
                ok &= (block[:, other_cols] <= each).all(axis=1)
            if spec.others_total_max_wt_pct is not None:
                ok &= block[:, other_cols].sum(axis=1) <= spec.others_total_max_wt_pct
        if spec.al_min_wt_pct is not None:
            ok &= 100.0 - block.sum(axis=1) >= spec.al_min_wt_pct
        out[todo[ok]] = block[ok]
        todo = todo[~ok]
        if todo.size == 0:
            return tuple(cols), out
    raise ValueError(f"could not sample a composition inside the {spec.name} limits")


def sample_alloy(spec: Spec, rng: np.random.Generator) -> dict[str, float]:
    """One composition [wt%, Al by balance] inside ``spec``'s limits (see the module notes)."""
    cols, values = sample_alloys(spec, 1, rng)
    return {e: float(v) for e, v in zip(cols, values[0], strict=True)}


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
                v = float(_draw_limit(lo if lo > 0 else None, hi, el, rng, 1)[0])
            comp[el] = float(v)
        rest = 100.0 - sum(comp.values())
        if rest >= spec.balance_min_wt_pct:
            comp[spec.balance] = rest
            return comp
    raise ValueError(f"could not sample a composition of {spec.name}")


def sample_compositions(grade: str, n: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """``n`` compositions [wt%] of ``grade`` with Al explicit (vectorised for catalogue alloys)."""
    name = resolve_grade(grade)
    if name in contaminant_catalogue():
        return [sample_contaminant(contaminant_catalogue()[name], rng) for _ in range(n)]
    cols, values = sample_alloys(get_alloy(name), n, rng)
    al = 100.0 - values.sum(axis=1)
    return [dict(zip(cols + ("Al",), map(float, (*row, a)), strict=True)) for row, a in zip(values, al, strict=True)]


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
