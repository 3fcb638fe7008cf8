"""Shadow prices of the binding constraints, in sentences a furnace engineer acts on.

HiGHS gives the dual of every row of the final LP (a chance constraint's dual is that of
add up to its dual). A chemistry limit that binds is also stated as a trade between
two lots along the limit: with g_i the rate at which lot i moves the constrained
quantity (mean plus z times the sd) [wt% per kg], one more tonne of the best diluter
P makes room for -g_P / g_U tonnes of the lot U that the limit holds back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blending.charge_model import ChargeModel
from blending.optimise import Solution

# Duals smaller than this (objective units per wt% or per variable unit) are round-off.
DUAL_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Binding:
    """A constraint that holds the objective back, with its shadow price in words."""

    name: str
    shadow_price: float   # d stage-1 objective / d bound: per wt% (chemistry), per kg (availability)
    sentence: str


def _objective_words(solution: Solution, change: float, model: ChargeModel) -> str:
    """What a change of the stage-1 objective by ``change`` (its units) means."""
    stage = solution.objective.stages[0] if solution.objective else {"recycled": -1.0}
    M = model.melt.mass_kg
    if stage == {"recycled": -1.0}:
        return (f"raise recycled content by {100 * -change:.3g} percentage points "
                f"({-change * M:,.0f} kg more recycled metal)")
    if stage == {"cost": 1.0}:
        return f"cut the charge cost by {-change * M:,.0f} USD"
    if stage == {"co2": 1.0}:
        return f"cut the footprint by {-change * M:,.0f} kg CO2e"
    return f"improve the weighted objective by {-change:.3g}"


def _ratio(value: float) -> str:
    return f"{value:.2g}" if value < 10 else f"{value:,.0f}"


def cone_gradient(model: ChargeModel, k: int, v: np.ndarray) -> np.ndarray:
    """d (mean + z sd of limit k) / d x_i [wt% of melt per kg charged]."""
    cone = model.cones[k]
    s = cone.sd(v)
    g = cone.a + (cone.z * cone.d ** 2 * v / s if s > 0 and cone.z else 0.0)
    return g / model.kg_per_unit


def binding_constraints(solution: Solution) -> list[Binding]:
    """Binding limits and lots, strongest first, each with a sentence."""
    first = solution.first
    model = solution.model
    if first is None or first.cone_marginals is None:
        return []
    v = solution.v
    c1 = solution.objective.vector(model, 0) / model.kg_per_unit if solution.objective else np.zeros(model.n)
    room = v < model.upper - 1e-9
    # duals this much smaller than the largest are round-off of a limit that barely touches
    floor = DUAL_TOLERANCE * max([1.0] + [-d for d in first.cone_marginals])
    out = []
    for k, dual in enumerate(first.cone_marginals):
        if dual > -floor:
            continue
        lim = model.limits[k]
        g = cone_gradient(model, k, v)
        words = f"{lim.label} binds ({lim.bound_wt_pct:g} wt%"
        risk = 1 - model.confidence[k]
        words += f", held at {100 * (1 - risk):.4g}% confidence)" if risk < 0.5 else ")"
        held_back = np.flatnonzero((g > 0) & room & (c1 < 0))
        helpers = np.flatnonzero((g < 0) & room)
        if held_back.size and helpers.size:
            u = held_back[np.argmin(c1[held_back])]
            # a furnace engineer dilutes with primary metal where it helps; additions otherwise
            primary = [i for i in helpers if model.lots[i].material.recycled.value == "primary"]
            pool = np.array(primary) if primary else helpers
            p = pool[np.argmin(g[pool])]
            words += (f": 1 t more {model.lots[p].name} allows {_ratio(-g[p] / g[u])} t more "
                      f"{model.lots[u].name}")
        step = 0.01 if lim.limit != "Al" else 0.001
        # a dual is a rate at the margin: it holds until another limit or lot starts to bind,
        # which may be a small fraction of the step (degenerate optima), so say so
        words += (f"; at the margin, each {step:g} wt% of relaxation would "
                  f"{_objective_words(solution, dual * step, model)}")
        out.append(Binding(lim.label, float(dual), words + "."))
    if first.upper_marginals is not None:
        for i, dual in enumerate(first.upper_marginals):
            if dual > -DUAL_TOLERANCE or model.integrality[i] or room[i]:
                continue
            lot = model.lots[i]
            per_t = dual / model.kg_per_unit[i] * 1000
            out.append(Binding(f"{lot.name} available", float(dual / model.kg_per_unit[i]),
                               f"All {lot.available_kg:,.0f} kg of {lot.name} is used: at the margin, "
                               f"each 1 t more would {_objective_words(solution, per_t, model)}."))
    if first.row_marginals is not None:
        for row, dual in zip(model.rows, first.row_marginals, strict=True):
            if abs(dual) <= DUAL_TOLERANCE or row.name == "mass balance":
                continue
            out.append(Binding(row.name, float(dual), f"{row.name} binds ({row.meaning})."))
    out.sort(key=lambda b: b.shadow_price)
    return out
