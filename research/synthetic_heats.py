"""Random but realistic heats for tests and benchmarks.

Scrap lots are catalogue scrap classes with their chemistry scaled lot by lot; primary
ingot and master alloys come from the catalogue as they are. The target is built
around the chemistry of a random blend of the lots, so most instances are feasible
but bind on several limits.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from blending.catalogue.composition import Composition
from blending.catalogue.materials import material_catalogue
from blending.catalogue.spec import Limit, Spec
from blending.lot import Lot
from blending.melt import Melt

# Elements of the 16-element benchmark heat, majors first.
ELEMENTS_16 = ("Si", "Fe", "Cu", "Mn", "Mg", "Zn", "Cr", "Ni", "Ti", "Pb", "Sn", "Ga", "V", "B", "Zr", "Bi")
MAJORS = ("Si", "Fe", "Cu", "Mn", "Mg", "Zn")
SCRAP_CLASSES = ("UBC", "can plant scrap body", "can plant scrap end", "old mixed sheet", "6063 extrusions",
                 "mixed old extrusions", "new 6xxx extrusion scrap", "painted siding", "litho sheet",
                 "new low-copper clips", "run-around 3104")
ADDITIONS = ("P1020", "P0610", "Mg ingot", "Si metal", "Mn 75 tablets", "Cu cathode", "Zn SHG", "Al-Cr 20")


def random_heat(seed: int, *, n_lots: int = 12, n_elements: int = 8, n_units: int = 0,
                mass_kg: float = 20_000.0, heel: bool = False) -> tuple[list[Lot], Melt, Spec]:
    """``n_lots`` lots (the additions above among them), a melt and a spec over ``n_elements``.

    ``n_units`` scrap lots are sold in whole bales of 250 to 1000 kg.
    """
    rng = np.random.default_rng(seed)
    catalogue = material_catalogue()
    elements = ELEMENTS_16[:n_elements]
    additions = [catalogue[name] for name in ADDITIONS[:max(2, min(len(ADDITIONS), n_lots // 5))]]
    lots: list[Lot] = []
    n_scrap = n_lots - len(additions)
    for k in range(n_scrap):
        base = catalogue[SCRAP_CLASSES[rng.integers(len(SCRAP_CLASSES))]]
        wt, sd = {}, {}
        for e in elements:
            mean = base.composition[e] if base.composition[e] > 0 else rng.uniform(0.001, 0.02)
            mean *= rng.lognormal(0.0, 0.25)
            wt[e] = round(float(mean), 5)
            s = base.sd(e) if base.sd(e) > 0 else 0.2 * mean
            sd[e] = round(float(s * rng.uniform(0.5, 1.5)), 5)
        material = replace(base, name=f"{base.name} lot {k + 1}", composition=Composition(wt), sd_wt_pct=sd,
                           metal_yield=float(np.clip(base.metal_yield + rng.normal(0, 0.02), 0.8, 0.99)),
                           cost_per_kg=float(base.cost_per_kg * rng.uniform(0.9, 1.1)))
        unit = float(rng.choice([250.0, 500.0, 750.0, 1000.0])) if k < n_units else None
        available = float(rng.uniform(0.15, 0.6) * mass_kg)
        if unit is not None:
            available = unit * max(1, int(available // unit))
        lots.append(Lot(material, available_kg=available, unit_kg=unit))
    for material in additions:
        # additions limited to the elements of this heat, so the heat has exactly n_elements
        comp = {e: w for e, w in material.composition.items() if e in elements}
        lots.append(Lot(replace(material, composition=Composition(comp),
                                sd_wt_pct={e: s for e, s in material.sd_wt_pct.items() if e in elements})))
    # target around a random blend of the scrap
    weights = rng.dirichlet(np.ones(n_scrap))
    centre = {e: float(sum(w * lot.material.composition[e] for w, lot in zip(weights, lots, strict=False)))
              for e in elements}
    # windows shifted off the scrap average, so primary dilutes and additions top up
    limits = {}
    for e in elements:
        c = centre[e]
        if e in MAJORS and c > 0.05:
            target = c * rng.uniform(0.8, 1.2)
            half = max(0.2 * target, 0.04)
            limits[e] = Limit((e,), round(max(target - half, 0.0), 4), round(target + half, 4))
        else:
            limits[e] = Limit((e,), None, round(max(c * rng.uniform(0.8, 1.5), 0.02), 4))
    spec = Spec(f"random-{seed}", limits=limits, others_each_max_wt_pct=0.05, others_total_max_wt_pct=0.15,
                family="", source="research.synthetic_heats")
    melt = Melt(mass_kg, recoveries={"Mg": 0.95})
    if heel:
        comp = Composition({e: round(centre[e], 4) for e in elements})
        melt = Melt(mass_kg, heel_kg=0.2 * mass_kg, heel_composition=comp, recoveries={"Mg": 0.95})
    return lots, melt, spec

