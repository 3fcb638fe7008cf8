"""Seeded plant-scale campaign cases: a yard of scrap lots and a schedule of heats.

Issue 31's case: ``n_lots`` scrap lots (default 200) of six catalogue scrap classes, each
lot with its own mean and standard deviation per element (the class chemistry scaled lot
by lot) and 3 to 12 t on hand, plus P1020, Mg ingot, Mn 75 tablets, Si metal, Al-Cu 50
and Al-Cr 20 bought to order; 20 t heats cycling 3104, 5182, 6063, 3104, 6061.

Used by bench/campaign_scale.py and tests/blending/test_campaign_scale.py; ``write_csv``
writes the same case as the two files ``aluloop plan`` reads.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np

from blending.campaign import Heat
from blending.catalogue.composition import Composition
from blending.catalogue.materials import get_material
from blending.catalogue.spec import get_alloy
from blending.lot import Lot

SCRAP_CLASSES = ("UBC", "old mixed sheet", "6063 extrusions", "mixed old extrusions", "new 6xxx extrusion scrap",
                 "painted siding")
TO_ORDER = ("P1020", "Mg ingot", "Mn 75 tablets", "Si metal", "Al-Cu 50", "Al-Cr 20")
CYCLE = ("3104", "5182", "6063", "3104", "6061")
HEAT_KG = 20_000.0


def plant_lots(seed: int = 0, n_lots: int = 200, *, bales: bool = False) -> list[Lot]:
    """``n_lots`` scrap lots with their own analysis, then the additions to order; with ``bales``
    every scrap lot is charged in whole bales of its own size (400 to 600 kg, drawn from a
    stream of its own so the lots' chemistry is the same as without bales)."""
    rng = np.random.default_rng(seed)
    lots = []
    for k in range(n_lots):
        base = get_material(SCRAP_CLASSES[k % len(SCRAP_CLASSES)])
        # one factor per element on the mean (lot-to-lot scatter of a class) and on the sd
        wt = {e: round(float(w * rng.lognormal(0.0, 0.2)), 5) for e, w in base.composition.items() if w > 0}
        sd = {e: round(float(s * rng.uniform(0.6, 1.4)), 5) for e, s in base.sd_wt_pct.items() if s > 0}
        material = replace(base, name=f"{base.name} lot {k + 1:03d}", composition=Composition(wt), sd_wt_pct=sd,
                           cost_per_kg=round(float(base.cost_per_kg * rng.uniform(0.93, 1.07)), 4))
        lots.append(Lot(material, available_kg=float(rng.integers(3, 13)) * 1000.0))
    if bales:
        sizes = np.random.default_rng([seed, 31]).integers(40, 61, size=n_lots) * 10.0
        # a lot is whole bales: its mass is its bale count times the bale
        lots = [replace(lot, unit_kg=float(kg), available_kg=max(1.0, round(lot.available_kg / kg)) * float(kg))
                for lot, kg in zip(lots, sizes, strict=True)]
    lots += [Lot(get_material(name)) for name in TO_ORDER]
    return lots


def plant_schedule(n_heats: int, joint_confidence: float | None = 0.95,
                   confidence: float | None = None) -> list[Heat]:
    """``n_heats`` heats of 20 t cycling through 3104, 5182, 6063, 3104, 6061, each in spec as a
    whole with ``joint_confidence`` (or, with ``confidence`` instead, each limit on its own)."""
    joint = None if confidence is not None else joint_confidence
    return [Heat(f"H{h + 1:03d}", get_alloy(CYCLE[h % len(CYCLE)]), HEAT_KG, confidence=confidence,
                 joint_confidence=joint) for h in range(n_heats)]


def plant_case(n_heats: int, seed: int = 0, n_lots: int = 200, *, joint_confidence: float | None = 0.95,
               confidence: float | None = None, bales: bool = False) -> tuple[list[Heat], list[Lot]]:
    """The schedule and the yard of issue 31 (with ``bales``, the scrap lots in whole bales)."""
    return plant_schedule(n_heats, joint_confidence, confidence), plant_lots(seed, n_lots, bales=bales)


def write_csv(heats: list[Heat], lots: list[Lot], directory: Path) -> tuple[Path, Path]:
    """The case as ``schedule.csv`` and ``inventory.csv`` (own chemistry per lot) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    schedule = directory / "schedule.csv"
    with schedule.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["heat", "alloy", "mass_kg", "confidence", "per_limit_confidence"])
        for h in heats:
            w.writerow([h.name, h.spec.name, f"{h.mass_kg:g}", "" if h.joint_confidence is None else
                        repr(h.joint_confidence), "" if h.confidence is None else repr(h.confidence)])
    elements = sorted({e for lot in lots for e in lot.material.composition}
                      | {e for lot in lots for e in lot.material.sd_wt_pct})
    inventory = directory / "inventory.csv"
    with inventory.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["material", "available_kg", "unit_kg", "recycled", "yield", "cost_per_kg", "co2e_kg_per_kg",
                    *elements, *(f"sd_{e}" for e in elements)])
        for lot in lots:
            m = lot.material
            w.writerow([m.name, "" if lot.available_kg is None else repr(lot.available_kg),
                        "" if lot.unit_kg is None else repr(lot.unit_kg), m.recycled.value,
                        repr(m.metal_yield), repr(m.cost_per_kg), repr(m.co2e_kg_per_kg),
                        *(repr(m.composition[e]) if m.composition[e] else "" for e in elements),
                        *(repr(m.sd_wt_pct[e]) if m.sd_wt_pct.get(e) else "" for e in elements)])
    return schedule, inventory
