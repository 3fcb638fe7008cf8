"""Cradle-to-gate carbon footprint and recycled content of a heat's metal.

Method (GB/T 44905-2024 for aluminium products, built on ISO 14067:2018):

* **Declared unit:** one tonne of liquid metal tapped from the heat (``product_kg``).
* **System boundary:** cradle to gate. Upstream of the gate: each charged material's own
  cradle-to-gate factor (kg CO2e per kg charged: primary metal from mine to ingot, alloying
  additions from their producers, scrap under the cut-off rule of ISO 14067 with only its
  collection, transport and pre-treatment). At the gate: the energy to melt the charge, times the
  energy carrier's factor. Excluded: the heel of an earlier heat (its burden belongs to that heat),
  casting, rolling, transport to the customer, use and end of life, capital goods.
* **Allocation:** cut-off (recycled content approach) for scrap; no allocation between co-products.
* Melt loss is covered because factors multiply the *charged* mass while the footprint is divided by
  the *tapped* mass.

The EU CBAM declaration (Implementing Regulation (EU) 2023/1773) wants the specific embedded
emissions of the goods, split into **direct** (fuel burnt in the plant's own furnace plus the
embedded emissions of precursors: primary aluminium and hardeners; scrap carries zero) and
**indirect** (purchased electricity). Precursor emissions here are their whole cradle-to-gate
factors (so their own indirect part sits in "direct": an upper bound until suppliers declare the split).

Recycled content follows ISO 14021:2016 clause 7.8: pre- and post-consumer material count;
run-around (home) scrap reclaimed within the same process is excluded from the claim but stays in
the metal it is a percentage of. Shares are of the metal each material delivers (charged kg x metal
yield), as the blender states them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from blending.catalogue.materials import RecycledCategory
from blending.catalogue.tables import read_package_csv
from blending.errors import InputError, NotFoundError

FACTOR_FILE = "emission_factors.csv"
MELTING_FILE = "emission_factors_melting.csv"
CLAIMED = (RecycledCategory.PRE_CONSUMER, RecycledCategory.POST_CONSUMER)
BOUNDARY = ("cradle to gate, declared unit 1 t of liquid metal tapped; charged materials' cradle-to-gate factors "
            "(scrap: cut-off, its collection and pre-treatment only) plus melting energy x its carrier's factor; "
            "heel, casting, downstream processing, transport to customer, use and end of life excluded "
            "(GB/T 44905-2024, ISO 14067:2018)")


@dataclass(frozen=True)
class EmissionFactor:
    """One row of ``blending/data/emission_factors.csv``."""

    factor: str
    kind: str
    region: str
    kg_co2e_per_kg: float | None
    kg_co2e_per_kwh: float | None
    scope: str
    averaging: str
    source: str


@dataclass(frozen=True)
class MeltingEnergy:
    furnace: str
    carrier: str
    energy_kwh_per_t: float
    source: str


@cache
def emission_factors() -> dict[str, EmissionFactor]:
    """The bundled emission factors by name."""
    out = {}
    for row in read_package_csv("blending.data", FACTOR_FILE, required_columns=(
            "factor", "kind", "region", "kg_co2e_per_kg", "kg_co2e_per_kwh", "scope", "averaging", "source")):
        out[row.values["factor"].strip()] = EmissionFactor(
            factor=row.values["factor"].strip(), kind=row.values["kind"].strip(), region=row.values["region"].strip(),
            kg_co2e_per_kg=row.number_or_none("kg_co2e_per_kg", lo=0), kg_co2e_per_kwh=row.number_or_none(
                "kg_co2e_per_kwh", lo=0), scope=row.values["scope"].strip(), averaging=row.values["averaging"].strip(),
            source=row.values["source"].strip())
    return out


@cache
def melting_energies() -> dict[str, MeltingEnergy]:
    return {r.values["furnace"].strip(): MeltingEnergy(r.values["furnace"].strip(), r.values["carrier"].strip(),
                                                      r.number("energy_kwh_per_t", lo=0), r.values["source"].strip())
            for r in read_package_csv("blending.data", MELTING_FILE,
                                      required_columns=("furnace", "carrier", "energy_kwh_per_t", "source"))}


def factor(name: str) -> EmissionFactor:
    try:
        return emission_factors()[name]
    except KeyError:
        raise NotFoundError(f"no emission factor {name!r}; known: {', '.join(sorted(emission_factors()))}",
                            field="emission_factor") from None


@dataclass(frozen=True)
class ChargedMaterial:
    """One charge line: what was charged, how much, its ISO 14021 category and its footprint factor."""

    material: str
    mass_kg: float
    category: RecycledCategory
    kg_co2e_per_kg: float
    factor_source: str
    metal_yield: float = 1.0        # liquid metal per kg charged: recycled shares are of the metal delivered


@dataclass(frozen=True)
class Energy:
    """The melting energy and the factor of its carrier."""

    energy_kwh_per_t: float
    carrier: str
    kg_co2e_per_kwh: float
    scope: str                      # direct (fuel) or indirect (electricity)
    source: str

    @classmethod
    def of_furnace(cls, furnace: str = "gas reverberatory", carrier: str | None = None) -> Energy:
        """The bundled melting energy of ``furnace`` with its carrier (or ``carrier`` instead)."""
        try:
            melt = melting_energies()[furnace]
        except KeyError:
            raise NotFoundError(f"no melting energy for furnace {furnace!r}; known: "
                                f"{', '.join(sorted(melting_energies()))}", field="furnace") from None
        f = factor(carrier or melt.carrier)
        if f.kg_co2e_per_kwh is None:
            raise InputError(f"{f.factor} is not an energy carrier (no kg_co2e_per_kwh)", field="carrier")
        return cls(melt.energy_kwh_per_t, f.factor, f.kg_co2e_per_kwh, f.scope,
                   f"{melt.source}; carrier: {f.source}")


@dataclass(frozen=True)
class Footprint:
    product_kg: float
    charged_kg: float
    materials_kg_co2e: float
    melting_kg_co2e: float
    per_line: tuple[tuple[str, float], ...]
    cbam_direct_kg_co2e: float
    cbam_indirect_kg_co2e: float
    recycled_by_category_fraction: dict[str, float]
    factors: tuple[dict, ...] = field(default=())

    @property
    def total_kg_co2e(self) -> float:
        return self.materials_kg_co2e + self.melting_kg_co2e

    @property
    def kg_co2e_per_t(self) -> float:
        return self.total_kg_co2e / (self.product_kg / 1000)

    @property
    def recycled_content_fraction(self) -> float:
        """ISO 14021 recycled content: pre- plus post-consumer, run-around excluded."""
        return sum(self.recycled_by_category_fraction.get(c.value, 0.0) for c in CLAIMED)

    def to_json(self) -> dict:
        t = self.product_kg / 1000
        return {"boundary": BOUNDARY, "product_kg": self.product_kg, "charged_kg": self.charged_kg,
                "materials_kg_co2e": self.materials_kg_co2e, "melting_kg_co2e": self.melting_kg_co2e,
                "total_kg_co2e": self.total_kg_co2e, "kg_co2e_per_t": self.kg_co2e_per_t,
                "per_line_kg_co2e": dict(self.per_line),
                "cbam": {"direct_kg_co2e_per_t": self.cbam_direct_kg_co2e / t,
                         "indirect_kg_co2e_per_t": self.cbam_indirect_kg_co2e / t,
                         "embedded_kg_co2e_per_t": (self.cbam_direct_kg_co2e + self.cbam_indirect_kg_co2e) / t,
                         "method": "Implementing Regulation (EU) 2023/1773: direct = furnace fuel + precursors "
                                   "(primary aluminium, hardeners) at their cradle-to-gate factors; scrap zero; "
                                   "indirect = purchased electricity"},
                "recycled_content_fraction": self.recycled_content_fraction,
                "recycled_by_category_fraction": self.recycled_by_category_fraction,
                "recycled_claim_note": "ISO 14021:2016 7.8: pre- and post-consumer count; run-around (home) scrap "
                                       "is excluded from the claim",
                "factors": list(self.factors)}


def footprint(charge: Sequence[ChargedMaterial], product_kg: float, energy: Energy) -> Footprint:
    """The cradle-to-gate footprint of ``product_kg`` of tapped metal melted from ``charge`` with ``energy``."""
    if not (math.isfinite(product_kg) and product_kg > 0):
        raise InputError(f"product mass {product_kg} kg must be a positive number", field="product_kg")
    for line in charge:
        if not (math.isfinite(line.mass_kg) and line.mass_kg >= 0):
            raise InputError(f"{line.material}: {line.mass_kg} kg must be at least 0", field="mass_kg")
        if not (0 < line.metal_yield <= 1):
            raise InputError(f"{line.material}: metal yield {line.metal_yield} must be in (0, 1]", field="metal_yield")
        if not (math.isfinite(line.kg_co2e_per_kg) and line.kg_co2e_per_kg >= 0):
            raise InputError(f"{line.material}: factor {line.kg_co2e_per_kg} kg CO2e/kg must be at least 0",
                             field="kg_co2e_per_kg")
    charged = sum(line.mass_kg for line in charge)
    if charged <= 0:
        raise InputError("the charge holds no metal", field="charge")
    per_line = tuple((line.material, line.mass_kg * line.kg_co2e_per_kg) for line in charge)
    materials = sum(v for _, v in per_line)
    melting = energy.energy_kwh_per_t * product_kg / 1000 * energy.kg_co2e_per_kwh
    precursors = sum(v for line, (_, v) in zip(charge, per_line, strict=True)
                     if line.category in (RecycledCategory.PRIMARY, RecycledCategory.ALLOYING))
    direct = precursors + (melting if energy.scope == "direct" else 0.0)
    indirect = melting if energy.scope == "indirect" else 0.0
    metal = sum(line.mass_kg * line.metal_yield for line in charge)
    if not metal > 0:
        raise InputError("the charge yields no metal", field="charge")
    by_category: dict[str, float] = {}
    for line in charge:
        by_category[line.category.value] = (by_category.get(line.category.value, 0.0)
                                            + line.mass_kg * line.metal_yield / metal)
    factors = tuple({"what": line.material, "kg_co2e_per_kg": line.kg_co2e_per_kg, "source": line.factor_source}
                    for line in charge) + ({"what": f"melting: {energy.energy_kwh_per_t:g} kWh/t x {energy.carrier}",
                                            "kg_co2e_per_kwh": energy.kg_co2e_per_kwh, "source": energy.source},)
    return Footprint(product_kg=product_kg, charged_kg=charged, materials_kg_co2e=materials, melting_kg_co2e=melting,
                     per_line=per_line, cbam_direct_kg_co2e=direct, cbam_indirect_kg_co2e=indirect,
                     recycled_by_category_fraction=by_category, factors=factors)


def charged_from_catalogue(lines: Iterable[tuple[str, float]]) -> list[ChargedMaterial]:
    """Charge lines (material, kg) with the catalogue's category and factor; a material the catalogue
    does not know (a lot) must come as a :class:`ChargedMaterial` of its own."""
    from blending.catalogue.materials import get_material

    out = []
    for name, kg in lines:
        m = get_material(name)
        source = f"blending/data/materials.csv, {name}: co2e_kg_per_kg (its source_co2e column)"
        out.append(ChargedMaterial(name, kg, m.recycled, m.co2e_kg_per_kg, source, m.metal_yield))
    return out
