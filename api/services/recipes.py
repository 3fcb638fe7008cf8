"""Recipes over the stored inventory: the options of ``aluloop blend``, the JSON of ``aluloop blend --json``.

The request becomes the library's :class:`ChargeRequest` the way the CLI builds it, over the lots
of :func:`api.services.inventory.lots_on_hand`, so a recipe asked of the service equals the CLI's
on the same inventory. Every recipe asked is stored (infeasible ones too, with their diagnosis).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from api.db.tables import Recipe as RecipeRow
from api.schemas_heats import LimitIn, RecipeIn
from api.services.inventory import lots_on_hand, record
from blending.catalogue.composition import Composition
from blending.catalogue.spec import Spec, get_alloy, limits_from_rows
from blending.catalogue.tables import Row
from blending.errors import InputError, NotFoundError
from blending.plan import ChargeRequest, plan_charge


def finite(value):
    """JSON-safe: a non-finite number becomes null, as ``aluloop blend --json`` writes it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _rows(limits: list[LimitIn], where: str) -> list[Row]:
    return [Row(where, i + 1, {"element": lim.element,
                               "min_wt_pct": "" if lim.min_wt_pct is None else repr(lim.min_wt_pct),
                               "max_wt_pct": "" if lim.max_wt_pct is None else repr(lim.max_wt_pct)})
            for i, lim in enumerate(limits)]


def spec_of(body: RecipeIn) -> Spec:
    if (body.alloy is None) == (body.limits is None):
        raise InputError("give exactly one of alloy and limits", field="alloy")
    if body.alloy is not None:
        return get_alloy(body.alloy)
    return Spec("custom", limits_from_rows(_rows(body.limits, "limits"), "custom"), source="request")


def charge_request(body: RecipeIn, session: Session) -> ChargeRequest:
    lots = lots_on_hand(session)
    if not lots:
        raise InputError("the inventory is empty: register materials (POST /v1/inventory) or close lots first",
                         field="inventory")
    aim = None
    if body.aim_limits is not None:
        aim = {k: (v.min_wt_pct, v.max_wt_pct)
               for k, v in limits_from_rows(_rows(body.aim_limits, "aim_limits"), "aim").items()}
    return ChargeRequest(
        spec=spec_of(body), mass_kg=body.mass_kg, lots=lots, confidence=body.per_limit_confidence,
        joint_confidence=body.confidence, joint_allocation=body.joint_allocation, objective=body.objective,
        heel_kg=body.heel_kg, heel_composition=Composition(body.heel_composition_wt_pct, where="heel_composition"),
        capacity_kg=body.capacity_kg, min_recycled_fraction=body.min_recycled, max_cost=body.max_cost,
        aim_tighten=body.aim_tighten, aim_limits=aim, mass_tolerance_kg=body.mass_tolerance_kg,
        recoveries=body.recoveries, draws=body.draws, seed=body.seed)


def create(session: Session, body: RecipeIn, key_id: int | None) -> tuple[int, dict]:
    """Plan and store a recipe; (id, the JSON of ``aluloop blend --json``)."""
    recipe = plan_charge(charge_request(body, session))
    result = finite(recipe.to_json())
    row = RecipeRow(status=recipe.status, request=body.model_dump_json(), result=json.dumps(result),
                    created_at=datetime.now(UTC), created_by=key_id)
    session.add(row)
    session.flush()
    record(session, key_id, "recipe", row.id, "planned", status=recipe.status)
    session.commit()
    return row.id, result


def get(session: Session, recipe_id: int) -> RecipeRow:
    row = session.get(RecipeRow, recipe_id)
    if row is None:
        raise NotFoundError(f"no recipe {recipe_id}", field="recipe_id")
    return row
