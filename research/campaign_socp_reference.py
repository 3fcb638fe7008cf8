"""Independent reference for fronts and campaigns: the chance-constrained heats as one
second-order cone program in cvxpy, solved by Clarabel (interior point), written from
the lots, heats and specs in kg without blending's model matrices, cones or cuts.

Used by tests/blending/test_pareto.py, test_campaign.py and bench/blend_pareto.py;
cvxpy is a test extra, never imported by blending/.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
from scipy.stats import norm

from blending.charge_model import chemistry_limits, present_elements
from blending.melt import Melt
from research.clarabel_status import solve_optimal


def heat_constraints(lots, mass_kg, spec, confidence, t):
    """Constraints of one heat (no heel, exact mass) on charged tonnes ``t`` (cvxpy, one per lot);
    ``confidence`` is one per-limit probability or one per limit (chemistry_limits' order):
    mass balance, and for every limit  s (sum_i y_i x_i mu_i - b L) + z || y_i x_i sigma_i || <= 0
    with mu_i, sigma_i the recovered mean and sd of the limited elements [wt%]."""
    melt = Melt(mass_kg=mass_kg)
    y = np.array([lot.material.metal_yield for lot in lots])
    liquid = y @ t  # [t]
    cons = [liquid == mass_kg / 1000]
    limits = chemistry_limits(spec, present_elements(lots, melt, spec))
    per_limit = np.broadcast_to(np.asarray(confidence, dtype=float), (len(limits),))
    for lim, conf in zip(limits, per_limit, strict=True):
        z = float(norm.ppf(conf))
        mu = np.array([sum(melt.recovery(e) * lot.material.composition[e] for e in lim.elements) for lot in lots])
        sigma = np.array([np.sqrt(sum((melt.recovery(e) * lot.material.sd(e)) ** 2 for e in lim.elements))
                          for lot in lots])
        mean = lim.sense * (cp.multiply(y * mu, t).sum() - lim.rhs_wt_pct * liquid)
        cons.append(mean + z * cp.norm(cp.multiply(y * sigma, t)) <= 0 if z > 0 else mean <= 0)
    return cons


def _vectors(lots):
    y = np.array([lot.material.metal_yield for lot in lots])
    recycled = y * np.array([lot.material.recycled.counts_as_recycled for lot in lots], dtype=float)
    return {"recycled": recycled, "cost": np.array([lot.material.cost_per_kg for lot in lots]),
            "co2": np.array([lot.material.co2e_kg_per_kg for lot in lots])}


def front_point(lots, mass_kg, spec, confidence, term, min_recycled_fraction):
    """Least ``term`` (cost [USD] or co2 [kg]) of one heat with recycled metal at least the
    given fraction of the melt; the charge [kg] too."""
    t = cp.Variable(len(lots), nonneg=True)
    vec = _vectors(lots)
    cons = heat_constraints(lots, mass_kg, spec, confidence, t)
    cons += [t[i] <= lot.available_kg / 1000 for i, lot in enumerate(lots) if lot.available_kg is not None]
    cons.append(vec["recycled"] @ t >= min_recycled_fraction * mass_kg / 1000)
    prob = cp.Problem(cp.Minimize(vec[term] @ t), cons)
    solve_optimal(prob, f"reference front point ({term}, recycled >= {min_recycled_fraction:g})")
    return 1000 * prob.value, 1000 * t.value


def build_campaign(heats, lots, confidences=None):
    """(variables, constraints, recycled kg expression, cost USD expression) of a campaign;
    ``confidences[h]``: heat h's per-limit probabilities (default: each heat's ``confidence``)."""
    H, n = len(heats), len(lots)
    T = cp.Variable((H, n), nonneg=True)
    vec = _vectors(lots)
    cons = []
    for h, heat in enumerate(heats):
        conf = heat.confidence if confidences is None else confidences[h]
        cons += heat_constraints(lots, heat.mass_kg, heat.spec, conf, T[h])
    for i, lot in enumerate(lots):
        if lot.available_kg is not None:
            cons.append(cp.sum(T[:, i]) <= lot.available_kg / 1000)
    recycled = 1000 * cp.sum(T @ vec["recycled"])
    cost = 1000 * cp.sum(T @ vec["cost"])
    return T, cons, recycled, cost


def campaign(heats, lots, hold_tolerance=1e-7, confidences=None):
    """Most recycled metal [kg] of the campaign, then the least cost [USD] that keeps it
    (to ``hold_tolerance`` of the recycled fraction of the campaign, as the core holds it)."""
    T, cons, recycled, cost = build_campaign(heats, lots, confidences)
    total = sum(h.mass_kg for h in heats)
    first = cp.Problem(cp.Maximize(recycled / total), cons)
    solve_optimal(first, "reference campaign, most recycled")
    best = first.value
    second = cp.Problem(cp.Minimize(cost), cons + [recycled / total >= best - hold_tolerance * max(1.0, best)])
    solve_optimal(second, "reference campaign, least cost")
    return best * total, second.value, 1000 * T.value


def most_recycled(heats, lots, confidences=None):
    """Most recycled metal [kg] of a campaign (the first stage alone: the second, held within
    1e-7 of it, is a sliver on which Clarabel can stall at 'optimal_inaccurate')."""
    T, cons, recycled, cost = build_campaign(heats, lots, confidences)
    problem = cp.Problem(cp.Maximize(recycled / sum(h.mass_kg for h in heats)), cons)
    solve_optimal(problem, "reference campaign, most recycled")
    return problem.value * sum(h.mass_kg for h in heats)


def cost_at(heats, lots, recycled_kg, confidences=None):
    """Least cost [USD] of a campaign with at least ``recycled_kg`` of recycled metal.

    The well-posed check of a lexicographic plan's cost: near the first stage's optimum the
    least cost falls steeply as the recycled floor drops (the cones are curved there), so two
    solvers whose first stages differ by 1e-9 can differ by 1e-6 in the second; at the same
    floor they must agree."""
    T, cons, recycled, cost = build_campaign(heats, lots, confidences)
    problem = cp.Problem(cp.Minimize(cost), cons + [recycled >= recycled_kg])
    solve_optimal(problem, f"reference campaign, least cost at recycled >= {recycled_kg:g} kg")
    return problem.value
