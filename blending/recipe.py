"""The recipe of one heat and what it promises: chemistry, compliance, recycled content, cost, CO2e.

Compliance is estimated by Monte Carlo under the model's own assumption (each lot's
element contents independent normal variables): every element's mass in the melt is
then normal with the mean and variance summed over lots, so the draws are of the
melt's element contents, and sums of elements (others total, Mn+Cr, Al by
difference) are formed draw by draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from blending.catalogue.materials import RecycledCategory
from blending.catalogue.spec import within_limit
from blending.charge_model import ChargeModel, ChemistryLimit, chemistry_limits
from blending.diagnosis import Diagnosis, diagnose
from blending.optimise import Solution
from blending.shadow import Binding, binding_constraints

DEFAULT_DRAWS = 100_000
# Below this a lot's mass is round-off, not part of the recipe [kg].
TRACE_KG = 1e-6


@dataclass(frozen=True)
class RecipeLine:
    material: str
    mass_kg: float
    units: int | None
    recycled: RecycledCategory
    cost: float
    co2e_kg: float


@dataclass(frozen=True)
class LimitCompliance:
    limit: ChemistryLimit
    mean_wt_pct: float
    sd_wt_pct: float
    probability: float

    @property
    def margin_wt_pct(self) -> float:
        """Distance of the mean from the bound, positive inside [wt%]."""
        return self.limit.sense * (self.limit.rhs_wt_pct - self.mean_wt_pct) if self.limit.limit != "Al" \
            else self.mean_wt_pct - self.limit.bound_wt_pct



@dataclass(frozen=True)
class Recipe:
    """One heat's charge and what it promises; ``status`` is "optimal" or "infeasible"."""

    status: str
    lines: tuple[RecipeLine, ...] = ()
    liquid_kg: float = 0.0
    composition_wt_pct: dict[str, float] = field(default_factory=dict)
    composition_sd_wt_pct: dict[str, float] = field(default_factory=dict)
    compliance: tuple[LimitCompliance, ...] = ()
    p_joint: float | None = None
    recycled_fraction: float | None = None
    category_fraction: dict[str, float] = field(default_factory=dict)
    cost: float | None = None
    co2e_kg: float | None = None
    binding: tuple[Binding, ...] = ()
    diagnosis: Diagnosis | None = None
    spec_name: str = ""
    confidence: tuple[float, ...] = ()
    joint_confidence: float | None = None
    recoveries: dict[str, float] = field(default_factory=dict)
    draws: int = 0
    seed: int = 0

    @property
    def co2e_kg_per_t(self) -> float | None:
        """Materials' CO2e per tonne of liquid metal [kg/t]."""
        return None if self.co2e_kg is None else 1000 * self.co2e_kg / self.liquid_kg

    @property
    def charged_kg(self) -> float:
        """Solid mass charged [kg]; the liquid is the heel plus its metal yield."""
        return float(sum(ln.mass_kg for ln in self.lines))

    @property
    def p_in_spec(self) -> dict[str, float]:
        return {c.limit.label: c.probability for c in self.compliance}

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "spec": self.spec_name,
            "recipe": [{"material": ln.material, "mass_kg": ln.mass_kg, "units": ln.units,
                        "recycled": ln.recycled.value} for ln in self.lines],
            "charged_kg": self.charged_kg,
            "liquid_kg": self.liquid_kg,
            "element_recoveries": self.recoveries,
            "composition_wt_pct": self.composition_wt_pct,
            "composition_sd_wt_pct": self.composition_sd_wt_pct,
            "p_in_spec": self.p_in_spec,
            "p_joint": self.p_joint,
            "joint_confidence": self.joint_confidence,
            "recycled_fraction": self.recycled_fraction,
            "recycled_by_category": self.category_fraction,
            "cost": self.cost,
            "co2e_kg": self.co2e_kg,
            "co2e_kg_per_t": self.co2e_kg_per_t,
            "binding": [{"limit": b.name, "shadow_price": b.shadow_price, "sentence": b.sentence}
                        for b in self.binding],
            "diagnosis": None if self.diagnosis is None else self.diagnosis.to_json(),
            "monte_carlo": {"draws": self.draws, "seed": self.seed},
        }


def applied_recoveries(model: ChargeModel) -> dict[str, float]:
    """The element recoveries [kg/kg] below 1 that the model applied to the charged materials."""
    return {e: float(r) for e, r in zip(model.elements, model.recovery, strict=True) if r != 1}


def melt_chemistry(model: ChargeModel, x_kg: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Liquid mass [kg] and the melt's mean and sd of each of ``model.elements`` [wt%]."""
    melt = model.melt
    metal = model.metal_yield * x_kg
    L = melt.heel_kg + metal.sum()
    heel = np.array([melt.heel_composition[e] for e in model.elements])
    heel_sd = np.array([float(melt.heel_sd_wt_pct.get(e, 0.0)) for e in model.elements])
    mass = melt.heel_kg * heel + (metal[:, None] * model.recovery * model.mean_wt_pct).sum(axis=0)
    var = (melt.heel_kg * heel_sd) ** 2 + ((metal[:, None] * model.recovery * model.sd_wt_pct) ** 2).sum(axis=0)
    return float(L), mass / L, np.sqrt(var) / L


def simulate_compliance(model: ChargeModel, x_kg: np.ndarray, limits: list[ChemistryLimit], *,
                        draws: int = DEFAULT_DRAWS, seed: int = 0) -> tuple[np.ndarray, float]:
    """Monte Carlo probability that each limit holds, and that all hold together [-]."""
    _, mean, sd = melt_chemistry(model, x_kg)
    rng = np.random.default_rng(seed)
    index = {e: j for j, e in enumerate(model.elements)}
    ok_all = np.ones(draws, dtype=bool)
    probs = np.empty(len(limits))
    sample = rng.standard_normal((draws, len(mean))) * sd + mean
    for k, lim in enumerate(limits):
        total = sample[:, [index[e] for e in lim.elements]].sum(axis=1)
        ok = within_limit(lim.sense * (lim.rhs_wt_pct - total))
        probs[k] = ok.mean()
        ok_all &= ok
    return probs, float(ok_all.mean())


def recipe_from_solution(solution: Solution, *, draws: int = DEFAULT_DRAWS, seed: int = 0) -> Recipe:
    """The recipe, its predicted chemistry, compliance (seeded Monte Carlo against the
    specification itself, not the aim limits), recycled split, cost, CO2e and shadow prices.
    An infeasible solution gives a recipe with status "infeasible" and its diagnosis."""
    model = solution.model
    if solution.status != "optimal":
        return Recipe(status="infeasible", diagnosis=diagnose(model), spec_name=model.spec.name,
                      confidence=model.confidence, joint_confidence=model.joint_confidence)
    x = solution.x_kg
    x = np.where(x < TRACE_KG, 0.0, x)
    lines = []
    for i, lot in enumerate(model.lots):
        if x[i] <= 0:
            continue
        units = int(round(solution.v[i])) if model.integrality[i] else None
        lines.append(RecipeLine(lot.name, float(x[i]), units, lot.material.recycled,
                                float(x[i] * lot.material.cost_per_kg), float(x[i] * lot.material.co2e_kg_per_kg)))
    L, mean, sd = melt_chemistry(model, x)
    spec_limits = chemistry_limits(model.spec, model.elements, aim=False)
    probs, p_joint = simulate_compliance(model, x, spec_limits, draws=draws, seed=seed)
    index = {e: j for j, e in enumerate(model.elements)}
    compliance = []
    for lim, p in zip(spec_limits, probs, strict=True):
        cols = [index[e] for e in lim.elements]
        total = float(mean[cols].sum())
        compliance.append(LimitCompliance(lim, 100 - total if lim.limit == "Al" else total,
                                          float(np.sqrt((sd[cols] ** 2).sum())), float(p)))
    metal = model.metal_yield * x
    category = {c.value: 0.0 for c in RecycledCategory}
    for lot, m in zip(model.lots, metal, strict=True):
        category[lot.material.recycled.value] += m / L
    if model.melt.heel_kg:
        category["heel"] = model.melt.heel_kg / L
    comp = {e: float(w) for e, w in zip(model.elements, mean, strict=True)}
    comp_sd = {e: float(s) for e, s in zip(model.elements, sd, strict=True)}
    comp["Al"] = 100 - float(mean.sum())
    comp_sd["Al"] = float(np.sqrt((sd ** 2).sum()))
    return Recipe(
        status="optimal", lines=tuple(lines), liquid_kg=L,
        composition_wt_pct=comp, composition_sd_wt_pct=comp_sd,
        compliance=tuple(compliance), p_joint=p_joint,
        recycled_fraction=category["post_consumer"] + category["pre_consumer"],
        category_fraction=category,
        cost=float(sum(ln.cost for ln in lines)), co2e_kg=float(sum(ln.co2e_kg for ln in lines)),
        binding=tuple(binding_constraints(solution)), spec_name=model.spec.name,
        confidence=model.confidence, joint_confidence=model.joint_confidence,
        recoveries=applied_recoveries(model), draws=draws, seed=seed)
