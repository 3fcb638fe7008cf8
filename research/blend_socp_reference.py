"""An independent reference for the charge optimiser: the same chance-constrained heat as a
second-order cone program in cvxpy, solved by Clarabel (interior point), written directly
from the lots, melt and spec in kg, without any of blending's model matrices.

Used by the tests and by bench/blend_heat.py; cvxpy is a test extra, never imported by blending/.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
from scipy.stats import norm

from blending.charge_model import chemistry_limits, present_elements
from blending.optimise import LEXICOGRAPHIC_TOLERANCE
from research.clarabel_status import solve_optimal

STAGES = {"recycled": ("recycled", "cost"), "cost": ("cost", "recycled"), "co2": ("co2", "cost")}


def reference_solve(lots, melt, spec, confidence, objective="recycled", *, fixed_units=None,
                    min_recycled=None, max_cost=None, hold_at=None):
    """Stage values (recycled fraction, cost [USD/kg melt] ...) and x [kg], or None if infeasible.

    ``confidence``: a float, or a dict from limit label to confidence.
    ``fixed_units``: {lot index: count} for lots charged in whole units.
    ``hold_at``: the earlier stages' optima to hold later stages at (default: this solve's
    own). A later stage is ill-conditioned in the earlier one's level (cost can change
    steeply with the last 1e-8 of recycled content), so comparisons of later stages
    hold both solvers at the same level.
    """
    M, H = melt.mass_kg, melt.heel_kg
    elements = present_elements(lots, melt, spec)
    n = len(lots)
    # solved in tonnes for Clarabel's conditioning; everything below reads in kg
    t = cp.Variable(n, nonneg=True)
    x = 1000 * t
    y = np.array([lot.material.metal_yield for lot in lots])
    liquid = H + y @ x
    cons = [liquid >= M - melt.mass_tolerance_kg, liquid <= M + melt.mass_tolerance_kg]
    for i, lot in enumerate(lots):
        if lot.available_kg is not None:
            cons.append(x[i] <= lot.available_kg)
        if lot.max_fraction is not None:
            cons.append(x[i] <= lot.max_fraction * cp.sum(x))
        if fixed_units is not None and i in fixed_units:
            cons.append(x[i] == fixed_units[i] * lot.unit_kg)
    if melt.capacity_kg is not None:
        cons.append(H + cp.sum(x) <= melt.capacity_kg)
    for lim in chemistry_limits(spec, elements):
        conf = confidence if isinstance(confidence, float | int) else confidence.get(lim.label, 0.5)
        z = float(norm.ppf(conf))
        mean_coef = np.array([y[i] * sum(melt.recovery(e) * lot.material.composition[e] for e in lim.elements)
                              for i, lot in enumerate(lots)]) / 100
        sd_coef = np.array([y[i] * np.sqrt(sum((melt.recovery(e) * lot.material.sd(e)) ** 2
                                               for e in lim.elements)) for i, lot in enumerate(lots)]) / 100
        heel_mass = H * sum(melt.heel_composition[e] for e in lim.elements) / 100
        heel_sd = H * np.sqrt(sum(float(melt.heel_sd_wt_pct.get(e, 0.0)) ** 2 for e in lim.elements)) / 100
        mass = heel_mass + mean_coef @ x
        spread = cp.norm(cp.hstack([cp.multiply(sd_coef, x), np.array([heel_sd])]), 2)
        if lim.sense > 0:
            cons.append(mass + z * spread <= lim.rhs_wt_pct / 100 * liquid)
        else:
            cons.append(mass - z * spread >= lim.rhs_wt_pct / 100 * liquid)
    terms = {
        "recycled": -np.array([y[i] * lot.material.recycled.counts_as_recycled for i, lot in enumerate(lots)]) / M,
        "cost": np.array([lot.material.cost_per_kg for lot in lots]) / M,
        "co2": np.array([lot.material.co2e_kg_per_kg for lot in lots]) / M,
    }
    if min_recycled is not None:
        cons.append(-terms["recycled"] @ x >= min_recycled)
    if max_cost is not None:
        cons.append(terms["cost"] @ x * M <= max_cost)
    values = []
    for stage in STAGES[objective]:
        problem = cp.Problem(cp.Minimize(terms[stage] @ x), cons)
        if not solve_optimal(problem, f"reference {stage} stage", infeasible_ok=True):
            return None
        values.append(float(problem.value))
        level = problem.value if hold_at is None else hold_at[len(values) - 1]
        cons = cons + [terms[stage] @ x <= level + LEXICOGRAPHIC_TOLERANCE * max(1.0, abs(level))]
    return values, 1000 * np.asarray(t.value)
