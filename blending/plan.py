"""The furnace engineer's entry points: one heat's charge, a trim, a Pareto front, a campaign.

Every front end (the ``aluloop`` CLI, the HTTP service, the report builder, the demo) calls
these with a validated request from :mod:`blending.request` and gets the domain result back;
none of them builds a charge model or picks a solver itself.

Examples
--------
>>> from blending.lot import load_inventory
>>> from blending.plan import ChargeRequest, plan_charge
>>> recipe = plan_charge(ChargeRequest("3104", 20_000, load_inventory("examples/ubc_3104_inventory.csv"),
...                                    joint_confidence=0.95))          # doctest: +SKIP
>>> recipe.status, round(recipe.p_joint, 2)                              # doctest: +SKIP
('optimal', 0.96)
"""

from __future__ import annotations

from dataclasses import dataclass

from blending.campaign import RISK_ROUNDS, CampaignPlan, greedy_campaign, joint_campaign
from blending.campaign_bales import baled_campaign, searches_bales
from blending.charge_model import ChargeModel, build_charge_model
from blending.joint import optimise_calibrated
from blending.optimise import optimise
from blending.pareto import ParetoFront, pareto_front
from blending.recipe import Recipe, recipe_from_solution
from blending.request import CampaignRequest, ChargeRequest, ParetoRequest, TrimRequest
from blending.trim import Trim, trim

__all__ = ["CampaignComparison", "CampaignRequest", "ChargeRequest", "ParetoRequest", "TrimRequest", "charge_model",
           "campaign_steps", "plan_campaign", "plan_charge", "plan_pareto", "plan_trim"]


def charge_model(request: ChargeRequest) -> ChargeModel:
    """The chance-constrained model of the requested heat (for those who want to inspect it)."""
    return build_charge_model(request.lots, request.melt(), request.target(),
                              confidence=0.5 if request.confidence is None else request.confidence,
                              joint_confidence=request.joint_confidence,
                              min_recycled_fraction=request.min_recycled_fraction, max_cost=request.max_cost)


def plan_charge(request: ChargeRequest) -> Recipe:
    """The charge of one heat: kg per material, predicted chemistry with its uncertainty, the
    Monte Carlo probability of meeting the spec, recycled content, cost and CO2e; or, when no
    charge meets the spec, a recipe with status ``"infeasible"`` and its diagnosis."""
    model = charge_model(request)
    solve = optimise_calibrated if request.joint_allocation == "calibrated" else optimise
    return recipe_from_solution(solve(model, request.objective), draws=request.draws, seed=request.seed)


def plan_trim(request: TrimRequest) -> Trim:
    """The cheapest additions that bring a measured melt inside its aim limits, or why none can."""
    return trim(request.melt_kg, request.analysis, request.target(), request.additions,  # type: ignore[arg-type]
                request.capacity(), confidence=request.confidence, joint_confidence=request.joint_confidence,
                recoveries=request.recoveries,
                draws=request.draws, seed=request.seed)


def plan_pareto(request: ParetoRequest) -> ParetoFront:
    """Recycled content against charge cost and against CO2e (epsilon-constraint sweep)."""
    model = build_charge_model(request.lots, request.melt(), request.spec,  # type: ignore[arg-type]
                               confidence=0.5 if request.confidence is None else request.confidence,
                               joint_confidence=request.joint_confidence)
    return pareto_front(model, request.points)


@dataclass(frozen=True)
class CampaignComparison:
    """The campaign planned jointly, and (when asked) one heat after another for comparison."""

    joint: CampaignPlan
    greedy: CampaignPlan | None
    note: str = ""                  # why there is no greedy plan, when it was asked for

    @property
    def gain(self) -> dict[str, float] | None:
        """What planning together gains over the greedy plan (None when either is infeasible)."""
        if self.greedy is None or self.joint.status != "optimal" or self.greedy.status != "optimal":
            return None
        return {"recycled_kg": self.joint.recycled_kg - self.greedy.recycled_kg,
                "cost": self.greedy.cost - self.joint.cost,
                "co2e_kg": self.greedy.co2e_kg - self.joint.co2e_kg}

    def to_json(self) -> dict:
        return {"joint": self.joint.to_json(), "greedy": None if self.greedy is None else self.greedy.to_json(),
                "gain": self.gain, "note": self.note}


def plan_campaign(request: CampaignRequest, *, on_stage=None) -> CampaignComparison:
    """Every heat of a schedule charged together from one shared inventory (most recycled, then
    cheapest), and the greedy schedule-order plan beside it. ``on_stage(name)`` is called as
    each step starts (the two joint stages, each heat's recipe, each greedy heat), for a
    progress display; :func:`campaign_steps` counts them."""
    if searches_bales(request.heats, request.lots):
        # too many bale counts for the exact MILP: searched, with the gap stated; the greedy plan
        # would be one such MILP per heat (one heat of 200 baled lots took 9 s to over 5 minutes)
        joint = baled_campaign(request.heats, request.lots, draws=request.draws, seed=request.seed,
                               on_stage=on_stage, time_limit_s=request.time_limit_s)
        note = "no greedy comparison for a bale plan this size (one exact MILP per heat)" \
            if request.compare_greedy else ""
        return CampaignComparison(joint, None, note)
    joint = joint_campaign(request.heats, request.lots, draws=request.draws, seed=request.seed, on_stage=on_stage)
    greedy = None
    if request.compare_greedy:
        greedy = greedy_campaign(request.heats, request.lots, draws=request.draws, seed=request.seed,
                                 on_stage=on_stage)
    return CampaignComparison(joint, greedy)


def campaign_steps(request: CampaignRequest) -> int:
    """How many times :func:`plan_campaign` calls ``on_stage`` at most (a risk round that
    cannot improve the plan is skipped)."""
    heats = len(request.heats)
    if searches_bales(request.heats, request.lots):
        return 1 + RISK_ROUNDS + heats + 3 + heats
    return 1 + RISK_ROUNDS + heats + (heats if request.compare_greedy else 0)
