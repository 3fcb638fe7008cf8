"""Heats: charged from a stored recipe (taking the charge off the stock), analysed, trimmed, closed.

A trim is advice until it is applied (``POST /v1/heats/{id}/trims/{trim_id}/apply``): then its
additions come off the stock by the same conditional UPDATE as a charge, once, and only while the
heat is open. A recipe charges one heat at most (a unique key on ``heats.recipe_id``): sending the same
``POST /v1/heats`` again is answered 409 and takes nothing twice. A closed heat takes no more
analyses or trims, and a second close is answered 409. Each change is an audit event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db.tables import Analysis as AnalysisRow
from api.db.tables import Event, Heat
from api.db.tables import Trim as TrimRow
from api.schemas_heats import AnalysisIn, HeatIn, RecipeIn, TrimIn
from api.services import recipes
from api.services.inventory import conflict, iso, lots_on_hand, record, withdraw
from blending.errors import InputError, NotFoundError
from blending.footprint import melting_energies
from blending.plan import TrimRequest, plan_trim
from blending.trim import analysis_from_mapping

APPLIED = "trim_applied"   # the audit action that records a trim taken off the stock


def heat_json(session: Session, heat: Heat) -> dict:
    analyses = session.scalars(select(AnalysisRow).where(AnalysisRow.heat_id == heat.id).order_by(AnalysisRow.id))
    trims = session.scalars(select(TrimRow).where(TrimRow.heat_id == heat.id).order_by(TrimRow.id))
    applied = _applied(session, heat.id)
    return {"id": str(heat.id), "recipe_id": str(heat.recipe_id), "name": heat.name, "status": heat.status,
            "furnace": heat.furnace, "charge": json.loads(heat.charge), "created_at": iso(heat.created_at),
            "closed_at": iso(heat.closed_at),
            "analyses": [_analysis_json(a) for a in analyses],
            "trims": [{"id": str(t.id), "analysis_id": str(t.analysis_id), "result": json.loads(t.result),
                       "created_at": iso(t.created_at), "applied_at": iso(applied.get(t.id))} for t in trims],
            "events": [{"at": iso(e.at), "key_id": None if e.key_id is None else str(e.key_id), "action": e.action,
                        "detail": json.loads(e.detail)} for e in session.scalars(
                select(Event).where(Event.subject == "heat", Event.subject_id == heat.id).order_by(Event.id))]}


def _applied(session: Session, heat_id: int) -> dict[int, datetime]:
    """trim id -> when it was applied, from the heat's audit events (the record of an application)."""
    events = session.scalars(select(Event).where(Event.subject == "heat", Event.subject_id == heat_id,
                                                 Event.action == APPLIED).order_by(Event.id))
    return {int(json.loads(e.detail)["trim_id"]): e.at for e in events}


def _melt_kg(session: Session, heat_id: int, recipe: dict) -> float:
    """The melt now [kg]: the liquid metal of the last applied trim, else of the recipe."""
    applied = _applied(session, heat_id)
    if not applied:
        return recipe["liquid_kg"]
    last = max(applied, key=lambda trim_id: applied[trim_id])
    return json.loads(session.get(TrimRow, last).result)["additions"]["liquid_kg"]


def _analysis_json(a: AnalysisRow) -> dict:
    return {"id": str(a.id), "composition_wt_pct": json.loads(a.composition), "sd_wt_pct": json.loads(a.sd),
            "created_at": iso(a.created_at)}


def _heat(session: Session, heat_id: int) -> Heat:
    heat = session.get(Heat, heat_id)
    if heat is None:
        raise NotFoundError(f"no heat {heat_id}", field="path.heat_id")
    return heat


def _open(session: Session, heat_id: int) -> Heat:
    heat = _heat(session, heat_id)
    if heat.status == "closed":
        raise conflict(f"heat {heat_id} is closed")
    return heat


def create(session: Session, body: HeatIn, key_id: int | None) -> dict:
    """Charge a heat from an optimal recipe; 409 when the recipe is infeasible, charged already, or
    the stock no longer holds its charge (then nothing is taken)."""
    if body.furnace is not None and body.furnace not in melting_energies():
        raise InputError(f"no melting energy for furnace {body.furnace!r}; known: "
                         f"{', '.join(sorted(melting_energies()))}", field="furnace")
    recipe = recipes.get(session, int(body.recipe_id))
    result = json.loads(recipe.result)
    if recipe.status != "optimal":
        raise conflict(f"recipe {recipe.id} is {recipe.status}; only an optimal recipe can be charged")
    if session.scalar(select(Heat.id).where(Heat.recipe_id == recipe.id)) is not None:
        raise conflict(f"recipe {recipe.id} has charged a heat already")
    charge = [{"material": line["material"], "mass_kg": line["mass_kg"]} for line in result["recipe"]]
    heat = Heat(recipe_id=recipe.id, name=body.name or f"heat of recipe {recipe.id}", status="charged",
                charge=json.dumps(charge), furnace=body.furnace, created_at=datetime.now(UTC))
    session.add(heat)
    try:
        session.flush()
    except IntegrityError:   # another request charged this recipe meanwhile
        session.rollback()
        raise conflict(f"recipe {recipe.id} has charged a heat already") from None
    try:
        withdraw(session, [(c["material"], c["mass_kg"]) for c in charge], key_id, heat.id)
    except Exception:
        session.rollback()
        raise
    record(session, key_id, "heat", heat.id, "charged", recipe_id=recipe.id)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise conflict(f"recipe {recipe.id} has charged a heat already") from None
    return heat_json(session, heat)


def get(session: Session, heat_id: int) -> dict:
    return heat_json(session, _heat(session, heat_id))


def list_heats(session: Session, status: str | None, limit: int) -> list[dict]:
    query = select(Heat).order_by(Heat.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Heat.status == status)
    return [heat_json(session, h) for h in session.scalars(query)]


def add_analysis(session: Session, heat_id: int, body: AnalysisIn, key_id: int | None) -> dict:
    _open(session, heat_id)
    analysis = analysis_from_mapping(body.composition_wt_pct, sd_wt_pct=body.sd_wt_pct, where="composition_wt_pct")
    row = AnalysisRow(heat_id=heat_id, composition=json.dumps(analysis.composition.as_dict()),
                      sd=json.dumps(dict(analysis.sd_wt_pct)), created_at=datetime.now(UTC))
    session.add(row)
    session.flush()
    record(session, key_id, "heat", heat_id, "analysed", analysis_id=row.id)
    session.commit()
    return _analysis_json(row)


def add_trim(session: Session, heat_id: int, body: TrimIn, key_id: int | None) -> dict:
    """The trim of the heat's melt on one analysis, with the inventory on hand as additions."""
    heat = _open(session, heat_id)
    query = select(AnalysisRow).where(AnalysisRow.heat_id == heat_id)
    if body.analysis_id is not None:
        query = query.where(AnalysisRow.id == int(body.analysis_id))
    row = session.scalars(query.order_by(AnalysisRow.id.desc()).limit(1)).first()
    if row is None:
        if body.analysis_id is not None:
            raise NotFoundError(f"heat {heat_id} has no analysis {body.analysis_id}", field="analysis_id")
        raise conflict(f"heat {heat_id} has no analysis yet; POST /v1/heats/{heat_id}/analyses first")
    analysis = analysis_from_mapping(json.loads(row.composition), sd_wt_pct=json.loads(row.sd),
                                     where=f"analysis {row.id}")
    recipe = recipes.get(session, heat.recipe_id)
    asked = RecipeIn.model_validate_json(recipe.request)
    result = json.loads(recipe.result)
    request = TrimRequest(spec=recipes.spec_of(asked), melt_kg=body.melt_kg or _melt_kg(session, heat_id, result),
                          analysis=analysis, additions=lots_on_hand(session),
                          capacity_kg=body.capacity_kg or asked.capacity_kg, confidence=None,
                          joint_confidence=body.confidence, aim_tighten=body.aim_tighten,
                          recoveries=asked.recoveries, draws=body.draws, seed=body.seed)
    trim = recipes.finite(plan_trim(request).to_json())
    saved = TrimRow(heat_id=heat_id, analysis_id=row.id, request=body.model_dump_json(), result=json.dumps(trim),
                    created_at=datetime.now(UTC))
    session.add(saved)
    session.flush()
    record(session, key_id, "heat", heat_id, "trimmed", trim_id=saved.id, status=trim.get("status"))
    session.commit()
    return {"id": str(saved.id), "analysis_id": str(row.id), "result": trim, "created_at": iso(saved.created_at),
            "applied_at": None}


def close(session: Session, heat_id: int, key_id: int | None) -> dict:
    _open(session, heat_id)
    table = Heat.__table__
    done = session.execute(update(table).where(table.c.id == heat_id, table.c.status == "charged")
                           .values(status="closed", closed_at=datetime.now(UTC)))
    if done.rowcount != 1:
        session.rollback()
        raise conflict(f"heat {heat_id} is closed")
    record(session, key_id, "heat", heat_id, "closed")
    session.commit()
    return heat_json(session, session.get(Heat, heat_id, populate_existing=True))


def apply_trim(session: Session, heat_id: int, trim_id: int, key_id: int | None) -> dict:
    """Take a trim's additions off the stock; 409 when it is applied already, the heat is closed, the trim
    has no additions, or the stock no longer holds them (then nothing is taken).

    The heat's row is locked first by the conditional UPDATE that closing uses (``status = 'charged'``):
    two applications of the same trim, or an application and a close, are taken one after the other,
    and the second sees the first's event.
    """
    heat = _heat(session, heat_id)
    trim = session.get(TrimRow, trim_id)
    if trim is None or trim.heat_id != heat.id:
        raise NotFoundError(f"heat {heat_id} has no trim {trim_id}", field="path.trim_id")
    result = json.loads(trim.result)
    additions = [(line["material"], float(line["mass_kg"])) for line in (result.get("additions") or {}).get(
        "recipe", []) if float(line["mass_kg"]) > 0]
    if not additions:
        raise conflict(f"trim {trim_id} is {result.get('status')} and adds nothing; there is nothing to apply")
    table = Heat.__table__
    locked = session.execute(update(table).where(table.c.id == heat_id, table.c.status == "charged")
                             .values(status="charged"))
    if locked.rowcount != 1:
        session.rollback()
        raise conflict(f"heat {heat_id} is closed")
    if trim_id in _applied(session, heat_id):
        session.rollback()
        raise conflict(f"trim {trim_id} of heat {heat_id} is applied already")
    try:
        withdraw(session, additions, key_id, heat_id)
    except Exception:
        session.rollback()
        raise
    record(session, key_id, "heat", heat_id, APPLIED, trim_id=trim_id,
           additions=[{"material": m, "mass_kg": kg} for m, kg in additions])
    session.commit()
    return heat_json(session, session.get(Heat, heat_id, populate_existing=True))
